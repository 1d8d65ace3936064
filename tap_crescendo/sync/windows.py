"""Half-open time windows `[from, to)` in epoch milliseconds."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

import msgspec

from tap_crescendo.timestamps import format_epoch_ms

if t.TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True)
class Window:
    """One query of the API: every conversation that started in `[start_ms, end_ms)`."""

    start_ms: int
    end_ms: int

    def __str__(self) -> str:
        """Return the window as a person reads it."""
        return f"[{format_epoch_ms(self.start_ms)}, {format_epoch_ms(self.end_ms)})"

    def holds(self, millis: int | None) -> bool:
        """Tell whether a start (epoch ms; None for none) is in the window."""
        return millis is not None and self.start_ms <= millis < self.end_ms


def split_span(start_ms: int, end_ms: int, size_ms: int) -> Iterator[Window]:
    """Cut `[start_ms, end_ms)` into consecutive windows of at most `size_ms`."""
    while start_ms < end_ms:
        window_end = min(start_ms + size_ms, end_ms)
        yield Window(start_ms, window_end)
        start_ms = window_end


@dataclass
class DeliveredIds:
    """The IDs a window has delivered, so that a window read again skips them.

    Kept as one JSON array per page: a set of thousands of small strings would pin the
    memory of every page they were decoded with. The set is built only on a restart.
    """

    pages: list[bytes] = field(default_factory=list)
    #: After a restart, the IDs delivered so far; None before.
    seen: set[t.Any] | None = None

    def add_page(self, ids: list[t.Any]) -> None:
        """Remember the IDs of one page's delivered records."""
        if self.seen is None:
            self.pages.append(msgspec.json.encode(ids))
        else:
            self.seen.update(ids)

    def restart(self) -> None:
        """The window starts over: from now on, `seen` holds every ID delivered."""
        if self.seen is None:
            self.seen = {
                record_id for page in self.pages for record_id in msgspec.json.decode(page)
            }
            self.pages.clear()


@dataclass
class WindowProgress:
    """One window's reading so far: what the API reported, what arrived, what was delivered."""

    window: Window
    #: The API's `total` for the window's query, once its first page arrived.
    total: int | None = None
    received: int = 0
    delivered: int = 0
    #: The newest start delivered, as (epoch ms, replication key value).
    newest: tuple[int, str] | None = None
    #: Rows received whose start is outside the window (or none): the bookmark ignores them.
    outside: int = 0
    ids: DeliveredIds = field(default_factory=DeliveredIds)

    @property
    def total_differs(self) -> bool:
        """Whether the API's `total` differs from the rows received."""
        return self.total != self.received

    def restart(self) -> None:
        """The window is read again from its first page; what it delivered stays delivered."""
        self.total, self.received, self.outside = None, 0, 0
        self.ids.restart()

    def forget_ids(self) -> None:
        """The window is read: the IDs it delivered are no longer needed."""
        self.ids = DeliveredIds()


class CompletedPrefix:
    """Which windows are complete from the first one on: all that a bookmark may cover."""

    def __init__(self, count: int) -> None:
        self._done = [False] * count
        #: How many windows, from the first, are complete.
        self.length = 0

    def complete(self, index: int) -> range:
        """Mark window `index` complete; return the windows the prefix grew over (maybe none)."""
        self._done[index] = True
        start = self.length
        while self.length < len(self._done) and self._done[self.length]:
            self.length += 1
        return range(start, self.length)
