"""Server-side cursors: opaque tokens naming a query's snapshot and an offset into it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tap_crescendo.fake_api.dataset import StoredRow
    from tap_crescendo.fake_api.routes import Route


@dataclass(frozen=True)
class Snapshot:
    """The rows a query matched when it started, in answer order, and the route it came on."""

    route: Route
    rows: Sequence[StoredRow]


@dataclass(frozen=True)
class Position:
    """Where the next page of a query starts."""

    snapshot: Snapshot
    offset: int


class CursorStore:
    """Issued tokens and their positions; a token names the same page each time it is used.

    Only the newest `capacity` tokens are kept (older ones expire), which bounds the memory held
    by snapshots during long benchmarks. Not thread-safe: the fake calls it under its own lock.
    """

    def __init__(self, *, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._positions: dict[str, Position] = {}
        self._expiring = 0

    def issue(self, position: Position) -> str:
        """Return a new URL-safe token for `position`, forgetting the oldest token when full."""
        if len(self._positions) >= self._capacity:
            del self._positions[next(iter(self._positions))]
        token = secrets.token_urlsafe(18)
        self._positions[token] = position
        return token

    def find(self, token: str) -> Position | None:
        """Return the position of `token`, or None when it is unknown or made to expire."""
        if self._expiring:
            self._expiring -= 1
            return None
        return self._positions.get(token)

    def expire_next(self, count: int) -> None:
        """Make the next `count` lookups fail, as if their cursors had expired."""
        self._expiring += count
