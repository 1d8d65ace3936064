"""One thread, shared by every request, that runs what must happen once a deadline passes."""

from __future__ import annotations

import math
import threading
import time
import typing as t
from contextlib import contextmanager

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class Deadlines:
    """Runs a callback at its deadline (monotonic seconds) unless its block ended first.

    A thread per deadline would cost a thread start per request, each a wait for the
    interpreter lock; here one daemon thread serves them all, started on first use.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: dict[object, tuple[float, Callable[[], None]]] = {}
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, deadline: float, callback: Callable[[], None]) -> Iterator[None]:
        """Run `callback` at `deadline` if the block is still running then."""
        key = object()
        with self._changed:
            nearest = min((due for due, _ in self._due.values()), default=math.inf)
            self._due[key] = (deadline, callback)
            if self._thread is None or not self._thread.is_alive():  # none yet, or forked
                self._thread = threading.Thread(
                    target=self._run, name="crescendo-deadlines", daemon=True
                )
                self._thread.start()
            if deadline < nearest:  # else the thread wakes in time as it is
                self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._due.pop(key, None)  # gone already if it ran

    def _run(self) -> None:
        """Wait for the nearest deadline; run the callbacks of those that passed, once."""
        while True:
            with self._changed:
                now = time.monotonic()
                passed = [key for key, (deadline, _) in self._due.items() if deadline <= now]
                if not passed:
                    nearest = min((deadline for deadline, _ in self._due.values()), default=None)
                    self._changed.wait(None if nearest is None else nearest - now)
                    continue
                callbacks = [self._due.pop(key)[1] for key in passed]
            for callback in callbacks:
                callback()


#: The deadlines of the tap's requests.
DEADLINES = Deadlines()
