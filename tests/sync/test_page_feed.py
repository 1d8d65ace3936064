"""Reading ahead on worker threads: how far ahead, in what order, and which events."""

from __future__ import annotations

import sys
import threading
import typing as t

import pytest

from tap_crescendo.stopping import StopRequested, StopSwitch
from tap_crescendo.sync import page_feed
from tap_crescendo.sync.page_feed import (
    Handoff,
    PageArrived,
    PageFeed,
    WindowDone,
    WindowRestarted,
)
from tap_crescendo.sync.windows import Window

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests

    from tap_crescendo.api.pagination import Page
    from tap_crescendo.sync.page_feed import FeedEvent, WindowEvent

DAYS = [Window(day * 10, day * 10 + 10) for day in range(4)]


def arrived(index: int, label: str) -> PageArrived:
    """A page event whose page is a label (the feed never looks inside pages)."""
    return PageArrived(index, t.cast("Page[t.Any]", label), t.cast("requests.Response", None))


def labels(events: list[FeedEvent], index: int) -> list[t.Any]:
    """What window `index` saw, in order: page labels, "restart" and ("done", completes)."""
    seen: list[t.Any] = []
    for event in events:
        if event.window != index:
            continue
        if isinstance(event, PageArrived):
            seen.append(event.page)
        elif isinstance(event, WindowRestarted):
            seen.append("restart")
        else:
            seen.append(("done", event.completes))
    return seen


def test_one_worker_reads_two_pages_ahead_of_the_writer_never_more() -> None:
    fetched: list[int] = []
    changed = threading.Condition()

    def pages(index: int, window: Window) -> Iterator[WindowEvent]:
        for page in range(1, 6):
            with changed:
                fetched.append(page)
                changed.notify_all()
            yield arrived(index, str(page))

    with PageFeed(pages, DAYS[:1], workers=1) as feed:
        for event in feed:
            if isinstance(event, PageArrived) and (written := int(str(event.page))) <= 3:
                # The next page waits to be taken, the one after it to be handed over.
                with changed:
                    assert changed.wait_for(lambda: len(fetched) >= written + 2, timeout=10)
                wait_until_waiting_in_give(reading_thread())
                assert fetched == list(range(1, written + 3))

    assert fetched == [1, 2, 3, 4, 5]


def reading_thread() -> threading.Thread:
    """The feed's one worker thread."""
    (worker,) = (t for t in threading.enumerate() if t.name.startswith("crescendo-window"))
    return worker


@pytest.mark.parametrize("workers", [1, 3])
def test_events_of_each_window_arrive_in_order_and_every_window_ends(workers: int) -> None:
    def pages(index: int, window: Window) -> Iterator[WindowEvent]:
        yield arrived(index, f"{window.start_ms}/0")
        if index == 1:
            yield WindowRestarted(index)
        yield from (arrived(index, f"{window.start_ms}/{page}") for page in (1, 2))

    with PageFeed(pages, DAYS, workers=workers) as feed:
        events = list(feed)

    for index, window in enumerate(DAYS):
        restart = ["restart"] if index == 1 else []
        pages_seen = [label for label in labels(events, index) if isinstance(label, str)]
        assert pages_seen == [
            f"{window.start_ms}/0",
            *restart,
            *(f"{window.start_ms}/{p}" for p in (1, 2)),
        ]
        assert labels(events, index)[-1][0] == "done"
    done = [event for event in events if isinstance(event, WindowDone)]
    covered = [index for event in done for index in event.completes]
    assert covered == [0, 1, 2, 3]


def test_a_window_done_before_an_earlier_one_completes_nothing_until_that_one_is_done() -> None:
    release = threading.Event()

    def pages(index: int, window: Window) -> Iterator[WindowEvent]:
        if index == 1:
            assert release.wait(timeout=30)
        yield arrived(index, "only")

    done: list[WindowDone] = []
    with PageFeed(pages, DAYS, workers=3) as feed:
        for event in feed:
            if isinstance(event, WindowDone):
                done.append(event)
                if {d.window for d in done} == {0, 2, 3}:
                    release.set()

    assert done[0] == WindowDone(0, range(1))
    assert sorted(done[1:3], key=lambda d: d.window) == [
        WindowDone(2, range(1, 1)),
        WindowDone(3, range(1, 1)),
    ]
    assert done[3] == WindowDone(1, range(1, 4))


def test_an_error_while_reading_reaches_the_writer() -> None:
    def pages(index: int, window: Window) -> Iterator[WindowEvent]:
        yield arrived(index, "first")
        message = f"{window} failed"
        raise RuntimeError(message)

    feed = PageFeed(pages, DAYS[:2], workers=2)
    with feed:
        events = iter(feed)
        assert next(events) == arrived(0, "first")
        with pytest.raises(RuntimeError, match=r"failed"):
            next(events)


# Handing items over one at a time


def give_in_thread(handoff: Handoff[str], item: str) -> tuple[threading.Thread, list[bool]]:
    """Start a thread that gives `item`; the list gets what `give` returned."""
    returned: list[bool] = []
    thread = threading.Thread(target=lambda: returned.append(handoff.give(item)), daemon=True)
    thread.start()
    return thread, returned


def wait_until_waiting_in_give(thread: threading.Thread) -> None:
    """Return once `thread` waits inside `Handoff.give`; fail if it ends or takes 10 s."""
    for _ in range(1000):
        frame = sys._current_frames().get(t.cast("int", thread.ident))
        caller = frame.f_back if frame is not None else None
        # By name: `make mutation` runs a renamed copy of `give` (xǁHandoffǁgive__mutmut_orig).
        waiting = frame is not None and frame.f_code.co_name == "wait"
        if waiting and caller is not None and "give" in caller.f_code.co_name:
            return
        thread.join(timeout=0.01)
        assert thread.is_alive(), "the giver returned instead of waiting"
    pytest.fail("the giver never waited in give()")


def test_a_giver_goes_on_once_its_item_is_handed_over() -> None:
    handoff: Handoff[str] = Handoff()
    giver, returned = give_in_thread(handoff, "page")
    giver.join(timeout=10)

    assert returned == [True]
    assert handoff.take() == "page"


def test_a_giver_waits_while_the_last_item_is_untaken() -> None:
    handoff: Handoff[str] = Handoff()
    assert handoff.give("first")
    second, second_returned = give_in_thread(handoff, "second")
    wait_until_waiting_in_give(second)

    assert handoff.take() == "first"
    second.join(timeout=10)
    assert second_returned == [True]
    assert handoff.take() == "second"


def test_stop_releases_a_giver_waiting_for_its_turn() -> None:
    handoff: Handoff[str] = Handoff()
    assert handoff.give("first")
    second, second_returned = give_in_thread(handoff, "second")
    wait_until_waiting_in_give(second)

    handoff.stop()
    second.join(timeout=10)

    assert not second.is_alive()
    assert second_returned == [False]


def test_after_stop_give_returns_false_at_once() -> None:
    handoff: Handoff[str] = Handoff()
    handoff.stop()

    giver, returned = give_in_thread(handoff, "late")
    giver.join(timeout=10)

    assert not giver.is_alive()
    assert returned == [False]


def test_a_stop_asked_while_the_writer_waits_for_a_page_reaches_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = StopSwitch()
    monkeypatch.setattr(page_feed, "STOP", stop)
    handoff: Handoff[str] = Handoff()
    raised: list[BaseException] = []

    def take() -> None:
        try:
            handoff.take()
        except StopRequested as error:
            raised.append(error)

    writer = threading.Thread(target=take, daemon=True)
    writer.start()
    for _ in range(1000):  # until the writer waits inside take()
        frame = sys._current_frames().get(t.cast("int", writer.ident))
        caller = frame.f_back if frame is not None else None
        if caller is not None and "take" in caller.f_code.co_name:
            break
        writer.join(timeout=0.01)
    stop.ask("stopping", 143)
    writer.join(timeout=10)

    assert not writer.is_alive()
    assert [str(error) for error in raised] == ["stopping"]
