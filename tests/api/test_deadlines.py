"""The deadlines thread: a callback runs once its deadline passes, unless its block ended."""

from __future__ import annotations

import threading
import time
import typing as t

from tap_crescendo.api.deadlines import Deadlines

if t.TYPE_CHECKING:
    from collections.abc import Callable


def noting(order: list[str], name: str, ran: threading.Event | None = None) -> Callable[[], None]:
    """A callback that adds `name` to `order`, then sets `ran`."""

    def note() -> None:
        order.append(name)
        if ran is not None:
            ran.set()

    return note


def test_a_callback_runs_once_its_deadline_passes_while_its_block_runs() -> None:
    deadlines = Deadlines()
    ran = threading.Event()

    with deadlines.watch(time.monotonic() + 0.05, ran.set):
        assert ran.wait(timeout=10)


def test_a_block_that_ends_before_its_deadline_runs_nothing() -> None:
    deadlines = Deadlines()
    order: list[str] = []
    later = threading.Event()

    with deadlines.watch(time.monotonic() + 0.1, noting(order, "ended")):
        pass
    with deadlines.watch(time.monotonic() + 0.2, noting(order, "running", later)):
        assert later.wait(timeout=10)

    # Deadlines pass in order: the first one would have run before the second.
    assert order == ["running"]


def test_deadlines_run_nearest_first_whatever_the_order_they_came_in() -> None:
    deadlines = Deadlines()
    order: list[str] = []
    far_ran = threading.Event()
    start = time.monotonic()

    with (
        deadlines.watch(start + 0.3, noting(order, "far", far_ran)),
        deadlines.watch(start + 0.1, noting(order, "near")),
    ):
        assert far_ran.wait(timeout=10)

    assert order == ["near", "far"]
