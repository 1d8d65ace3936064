"""How far a stream's sync is, told at most every 30 seconds: windows, rows, rate, time left."""

from __future__ import annotations

import time
import typing as t

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable


class SyncProgress:
    """Counts a stream's completed windows and logs how far it is, now and then.

    At most one INFO line every `interval_seconds`, the first one only after that long (a
    short run says nothing), and none once the last window is done: the summary follows.
    """

    #: Seconds before the first line, and between two lines.
    interval_seconds: t.ClassVar[float] = 30.0

    def __init__(
        self,
        stream: str,
        windows: int,
        logger: logging.Logger,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._windows = windows
        self._logger = logger
        self._clock = clock
        self._started = clock()
        self._next_line = self._started + self.interval_seconds
        self._done = 0

    def window_done(self, rows: int) -> None:
        """Count one more window done; `rows` is every row delivered so far."""
        self._done += 1
        now = self._clock()
        if now < self._next_line or self._done >= self._windows:
            return
        self._next_line = now + self.interval_seconds
        self._logger.info(
            "%s", describe(self._stream, self._done, self._windows, rows, now - self._started)
        )


def describe(stream: str, done: int, windows: int, rows: int, elapsed: float) -> str:
    """Say e.g. `bot_conversations: 143/365 windows (39%), 1,204,311 rows, 48,200 rows/s, ...`.

    `done` and `elapsed` are above 0; the time left assumes the windows to come take as
    long as those done, on average.
    """
    rate = f"{float(f'{rows / elapsed:.3g}'):,.0f}"
    left = elapsed * (windows - done) / done
    return (
        f"{stream}: {done}/{windows} windows ({done * 100 // windows}%), {rows:,} rows, "
        f"{rate} rows/s, about {_duration(left)} left"
    )


def _duration(seconds: float) -> str:
    """Say a duration the way a person rounds it: `40 s`, `3 min`, `2 h 10 min`."""
    if seconds < 59.5:
        return f"{max(round(seconds), 1)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
