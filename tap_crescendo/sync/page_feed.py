"""Reading windows on worker threads while the caller writes what has arrived.

The feed's events, in the order a window sees them: `PageArrived` (many), `WindowRestarted`
(after an expired cursor; the pages start over), `WindowDone`. A worker's error is raised
to the caller instead.
"""

from __future__ import annotations

import threading
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tap_crescendo.stopping import POLL_SECONDS, STOP, StopRequested
from tap_crescendo.sync.windows import CompletedPrefix

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import TracebackType

    import requests

    from tap_crescendo.api.pagination import Page
    from tap_crescendo.sync.windows import Window

T = t.TypeVar("T")


@dataclass(frozen=True)
class PageArrived:
    """A page of window `window` arrived."""

    window: int
    page: Page[t.Any]
    response: requests.Response


@dataclass(frozen=True)
class WindowRestarted:
    """Window `window` is read again from its first page: its pages start over."""

    window: int


@dataclass(frozen=True)
class WindowDone:
    """Window `window` was read to its last page."""

    window: int
    #: The windows complete from the first one on now, and not before this one was done.
    completes: range


@dataclass(frozen=True)
class _WindowRead:
    """A worker handed over every page of window `window`."""

    window: int


@dataclass(frozen=True)
class _WindowFailed:
    """A worker's reading of window `window` failed with `error`."""

    window: int
    error: BaseException


FeedEvent: t.TypeAlias = "PageArrived | WindowRestarted | WindowDone"
WindowEvent: t.TypeAlias = "PageArrived | WindowRestarted"


class Handoff(t.Generic[T]):
    """Passes items one at a time to the caller; a giver waits while the last one is untaken."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._item: T | None = None
        self._full = self._stopped = False

    def give(self, item: T) -> bool:
        """Hand `item` over once the last one is taken; False once the hand-off is stopped.

        The giver goes on at once: its next request is sent while the caller writes `item`.
        """
        with self._changed:
            while self._full and not self._stopped:
                self._changed.wait()
            if self._stopped:
                return False
            self._item, self._full = item, True
            self._changed.notify_all()
            return True

    def take(self) -> T:
        """Wait for an item and take it; raise `StopRequested` instead once the tap stops."""
        with self._changed:
            STOP.check()
            while not self._full:
                self._changed.wait(POLL_SECONDS)
                STOP.check()
            item, self._item, self._full = self._item, None, False
            self._changed.notify_all()
        return t.cast("T", item)

    def stop(self) -> None:
        """Release every giver: nothing more is taken."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()


class PageFeed:
    """Runs `read(index, window)` for up to `workers` windows at once, in window order.

    The first window runs alone, so a refused key or a wrong URL costs one request.
    No window starts `workers` or more past the first incomplete one, so a crash
    re-reads at most `workers` windows.

    Iterating yields each window's events as they arrive, then its `WindowDone`. A worker
    hands a page over and reads its next one while the caller writes, but waits with it
    while a page is still untaken, so at most `workers + 2` pages exist at once. The first
    error of a worker is raised to the caller.
    """

    def __init__(
        self,
        read: Callable[[int, Window], Iterator[WindowEvent]],
        windows: Sequence[Window],
        *,
        workers: int,
    ) -> None:
        self._read = read
        self._windows = windows
        self._handoff: Handoff[WindowEvent | _WindowRead | _WindowFailed] = Handoff()
        self._workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="crescendo-window")
        self._completed = CompletedPrefix(len(windows))
        self._started = 0

    def __enter__(self) -> PageFeed:
        """Start reading the first window; the others start once it is done."""
        if self._windows:
            self._pool.submit(self._run, 0, self._windows[0])
            self._started = 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the workers (each finishes at most the request it is in) and wait for them.

        A stopping tap does not wait: it exits without the requests in flight.
        """
        self._handoff.stop()
        self._pool.shutdown(wait=not isinstance(exc, StopRequested), cancel_futures=True)

    def __iter__(self) -> Iterator[FeedEvent]:
        """Yield events as they arrive, until every window is done."""
        remaining = len(self._windows)
        while remaining:
            event = self._handoff.take()
            if isinstance(event, _WindowFailed):
                raise event.error
            if isinstance(event, _WindowRead):
                remaining -= 1
                completes = self._completed.complete(event.window)
                self._start_more()
                yield WindowDone(event.window, completes)
            else:
                yield event
            del event  # the page is not kept while the next one is awaited

    def _start_more(self) -> None:
        """Start windows up to `workers` past the completed prefix."""
        limit = min(len(self._windows), self._completed.length + self._workers)
        while self._started < limit:
            self._pool.submit(self._run, self._started, self._windows[self._started])
            self._started += 1

    def _run(self, index: int, window: Window) -> None:
        """Hand over one window's events, then its end; hand over an error if one occurs."""
        try:
            for event in self._read(index, window):
                if not self._handoff.give(event):
                    return
            self._handoff.give(_WindowRead(index))
        except BaseException as error:  # handed to the caller, who raises it
            self._handoff.give(_WindowFailed(index, error))
