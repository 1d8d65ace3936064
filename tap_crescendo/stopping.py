"""Stopping early: on SIGTERM or SIGINT, or when the target stops reading.

A signal handler runs between any two bytecodes of the main thread, maybe in the middle of a
line of output, so it only asks for the stop. The main thread acts on it where the output is
whole (before it takes the next page, and while it waits for one), each worker checks it
before every request, and `__main__` ends the output at its last STATE, then exits without
waiting for the requests in flight.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import typing as t
from contextlib import contextmanager

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

#: How often a main thread waiting for a page looks whether a stop was asked for.
POLL_SECONDS = 0.1
#: The signals that ask the tap to stop: what schedulers and a person at a terminal send.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(BaseException):
    """Stops the tap. Not an `Exception`, so no layer on the way logs it as a failure."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.exit_code = exit_code


class SingerOutput(t.Protocol):
    """The tap's Singer output, which can end at its last STATE."""

    def end_at_last_state(self) -> None:
        """Send nothing more, but the last STATE again if records went out after it."""


class StopSwitch:
    """Set once, by a signal handler or the writer; checked by the main thread and workers."""

    def __init__(self) -> None:
        self._asked = threading.Event()
        self._reason = ""
        self._exit_code = 0
        #: The output to end at its last STATE when the tap stops (the tap sets it).
        self.output: SingerOutput | None = None

    @property
    def asked(self) -> bool:
        """Whether a stop was asked for."""
        return self._asked.is_set()

    def ask(self, reason: str, exit_code: int) -> None:
        """Ask every thread to stop; the first reason given is the one reported."""
        if not self._asked.is_set():
            self._reason, self._exit_code = reason, exit_code
            self._asked.set()

    def check(self) -> None:
        """Raise `StopRequested` once a stop was asked for."""
        if self._asked.is_set():
            raise StopRequested(self._reason, self._exit_code)

    def end_output(self) -> None:
        """End the output at its last STATE, if the tap said where its output is."""
        if self.output is not None:
            with contextlib.suppress(StopRequested):  # the target is gone too: nothing to end
                self.output.end_at_last_state()

    def stop_on_signals(self) -> None:
        """Make SIGTERM and SIGINT ask for a stop, exiting with 128 + the signal's number."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Ask for a stop (and only that: the main thread may be half-way through a line)."""
        name = signal.Signals(signum).name
        self.ask(f"Stopped by {name}; the next run resumes from the last STATE", 128 + signum)


#: The process's switch: signals, like standard output, belong to the whole process.
STOP = StopSwitch()


def exit_without_waiting(code: int) -> t.NoReturn:
    """Flush the logs and the output, then exit at once: requests in flight are dropped.

    A normal exit would join the workers, each waiting for its answer or its timeout.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


@contextmanager
def signal_handlers_kept() -> Iterator[None]:
    """Undo, on leaving, any change to the SIGTERM and SIGINT handlers (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            if handler is not None:  # None: set outside Python, so not changed by Python
                signal.signal(signum, handler)
