"""The deadlines thread: a callback runs once its deadline passes, unless its block ended;
and the bodies of answers read by their deadlines, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
import time
import typing as t

import pytest
import requests

from tap_crescendo.api.deadlines import Deadlines
from tap_crescendo.api.responses import read_body
from tests.support.scripted_server import Trickle, http_answer, scripted_api

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


def test_a_near_deadline_is_kept_while_the_thread_waits_for_a_farther_one() -> None:
    # As parallel windows do: two bodies read at once, the first due in 30 s, then one due
    # in 0.5 s. The first is whole after 1 s; the second would be after 5 s.
    far = Trickle.of(http_answer(200, b"f" * 10), pieces=10, every=0.1)
    near = Trickle.of(http_answer(200, b"n" * 50), hold=0.2, pieces=50, every=0.1)
    far_errors: list[Exception] = []

    def read_far(answer: requests.Response) -> None:
        try:
            read_body(answer, limit=1_000, deadline=time.monotonic() + 30)
        except Exception as error:
            far_errors.append(error)

    with scripted_api(far, near) as api:
        far_answer = requests.get(f"{api.url}/far", stream=True, timeout=5)
        far_read = threading.Thread(target=read_far, args=(far_answer,))
        far_read.start()  # its deadline is in before the near answer's headers come
        sent = time.monotonic()
        with (
            requests.get(f"{api.url}/near", stream=True, timeout=5) as near_answer,
            pytest.raises(requests.exceptions.ReadTimeout) as late,
        ):
            read_body(near_answer, limit=1_000, deadline=sent + 0.5)
        failed_after = time.monotonic() - sent
        far_read.join(timeout=10)
    far_answer.close()

    assert str(late.value) == (
        "the answer to GET /near was not complete by the end of `request_timeout`"
    )
    assert 0.5 <= failed_after < 4  # at its own deadline, not at the far one (or never)
    assert not far_read.is_alive()
    assert far_errors == []
    assert far_answer.content == b"f" * 10


def test_a_body_already_there_when_its_deadline_has_passed_is_late() -> None:
    # As when the headers come only after `request_timeout`: the body follows at once. Each
    # try races the deadlines thread, so the test makes many.
    tries = 50
    outcomes = []

    with scripted_api(http_answer(200, b"x" * 100)) as api:
        for _ in range(tries):
            deadline = time.monotonic()  # passed before the headers come
            with requests.get(f"{api.url}/late", stream=True, timeout=5) as answer:
                try:
                    read_body(answer, limit=1_000, deadline=deadline)
                    outcomes.append("read whole")
                except requests.exceptions.ReadTimeout as error:
                    outcomes.append(str(error))

    late = "the answer to GET /late was not complete by the end of `request_timeout`"
    assert outcomes == [late] * tries
