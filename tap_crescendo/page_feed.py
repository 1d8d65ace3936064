"""Reading windows on worker threads while the caller writes what has arrived."""

from __future__ import annotations

import threading
import typing as t
from concurrent.futures import ThreadPoolExecutor

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import TracebackType

T = t.TypeVar("T")
W = t.TypeVar("W")


class WindowDone:
    """Marks that every item of a window has been fed."""


WINDOW_DONE = WindowDone()


class Handoff(t.Generic[T]):
    """Passes one item at a time to the caller; the giver waits until it is taken."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._item: T | None = None
        self._given = self._taken = 0
        self._stopped = False

    def give(self, item: T) -> bool:
        """Hand `item` over and wait until it is taken; False once the hand-off is stopped."""
        with self._changed:
            while self._given > self._taken and not self._stopped:
                self._changed.wait()
            if self._stopped:
                return False
            self._item, self._given = item, self._given + 1
            ticket = self._given
            self._changed.notify_all()
            while self._taken < ticket and not self._stopped:
                self._changed.wait()
            return not self._stopped

    def take(self) -> T:
        """Wait for an item and take it."""
        with self._changed:
            while self._given == self._taken:
                self._changed.wait()
            item, self._item = self._item, None
            self._taken += 1
            self._changed.notify_all()
        return t.cast("T", item)

    def stop(self) -> None:
        """Release every giver: nothing more is taken."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()


class PageFeed(t.Generic[W, T]):
    """Runs `produce(window)` for up to `workers` windows at once, in window order.

    The first window runs alone, so a refused key or a wrong URL costs one request.
    No window starts `workers` or more past the first incomplete one, so a crash
    re-reads at most `workers` windows.

    Iterating yields `(window index, item)` as items arrive, then `(index, WINDOW_DONE)`
    once a window is exhausted. A worker fetches its next item only once the caller has
    taken the last one, so at most `workers + 1` items exist at once; with one worker
    the next item is fetched while the caller writes the current one. The first error
    of a worker is raised to the caller.
    """

    def __init__(
        self,
        produce: Callable[[W], Iterator[T]],
        windows: Sequence[W],
        *,
        workers: int,
    ) -> None:
        self._produce = produce
        self._windows = windows
        self._handoff: Handoff[tuple[int, T | WindowDone | BaseException]] = Handoff()
        self._workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="crescendo-window")
        self._done = [False] * len(windows)
        self._prefix = self._started = 0

    def __enter__(self) -> PageFeed[W, T]:
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
        """Stop the workers (each finishes at most the request it is in) and wait for them."""
        self._handoff.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __iter__(self) -> Iterator[tuple[int, T | WindowDone]]:
        """Yield items as they arrive, until every window is done."""
        remaining = len(self._windows)
        while remaining:
            index, item = self._handoff.take()
            if isinstance(item, BaseException):
                raise item
            if item is WINDOW_DONE:
                remaining -= 1
                self._start_more(index)
            yield index, item
            del item  # the page is not kept while the next one is awaited

    def _start_more(self, done: int) -> None:
        """Note a window done; start windows up to `workers` past the completed prefix."""
        self._done[done] = True
        while self._prefix < len(self._windows) and self._done[self._prefix]:
            self._prefix += 1
        limit = min(len(self._windows), self._prefix + self._workers)
        while self._started < limit:
            self._pool.submit(self._run, self._started, self._windows[self._started])
            self._started += 1

    def _run(self, index: int, window: W) -> None:
        """Feed one window's items, then its end; feed an error instead if one occurs."""
        try:
            for item in self._produce(window):
                if not self._handoff.give((index, item)):
                    return
            self._handoff.give((index, WINDOW_DONE))
        except BaseException as error:  # handed to the caller, who raises it
            self._handoff.give((index, error))
