"""Reading windows on worker threads while the caller writes what has arrived."""

from __future__ import annotations

import queue
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


class PageFeed(t.Generic[W, T]):
    """Runs `produce(window)` for up to `workers` windows at once, in window order.

    The first window runs alone, so a refused key or a wrong URL costs one request.
    No window starts `workers` or more past the first incomplete one, so a crash
    re-reads at most `workers` windows.

    Iterating yields `(window index, item)` as items arrive, then `(index, WINDOW_DONE)`
    once a window is exhausted. A hand-off of one item keeps memory to about
    `workers + 2` items; with one worker the next item is fetched while the caller
    writes the current one. The first error of a worker is raised to the caller.
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
        self._handoff: queue.Queue[tuple[int, T | WindowDone | BaseException]] = queue.Queue(1)
        self._stop = threading.Event()
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
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __iter__(self) -> Iterator[tuple[int, T | WindowDone]]:
        """Yield items as they arrive, until every window is done."""
        remaining = len(self._windows)
        while remaining:
            index, item = self._handoff.get()
            if isinstance(item, BaseException):
                raise item
            if item is WINDOW_DONE:
                remaining -= 1
                self._start_more(index)
            yield index, item

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
                if not self._feed(index, item):
                    return
            self._feed(index, WINDOW_DONE)
        except BaseException as error:  # handed to the caller, who raises it
            self._feed(index, error)

    def _feed(self, index: int, item: T | WindowDone | BaseException) -> bool:
        """Hand an item over, waiting for room; False once the feed is stopped."""
        while not self._stop.is_set():
            try:
                self._handoff.put((index, item), timeout=0.1)
            except queue.Full:
                continue
            return True
        return False
