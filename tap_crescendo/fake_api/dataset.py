"""One tenant's rows of one export, serialized once and ordered by conversation start."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_crescendo.fake_api.exchange import encode_json

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


@dataclass(frozen=True)
class StoredRow:
    """A row's ID, its start (epoch ms) and its JSON, encoded once at storage time."""

    id: str
    start_ms: int
    json: bytes


def store(row: Mapping[str, Any]) -> StoredRow:
    """Encode a row; it needs a string `ID` and an integer `Datetime` to be found and ordered."""
    row_id, start = row.get("ID"), row.get("Datetime")
    if not isinstance(row_id, str) or not isinstance(start, int) or isinstance(start, bool):
        msg = f"a row needs a string ID and an integer Datetime, got {row_id!r} and {start!r}"
        raise ValueError(msg)
    return StoredRow(row_id, start, encode_json(row))


class TenantRows:
    """A tenant's rows by ID, with a view ordered by (start, ID) rebuilt after each change."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredRow] = {}
        self._ordered: list[StoredRow] = []
        self._starts: list[int] = []

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add rows whose IDs are new; raise `ValueError` (adding none) on a repeated ID."""
        added = {}
        for row in map(store, rows):
            if row.id in self._by_id or row.id in added:
                msg = f"row ID {row.id!r} is already stored; use replace_row to change a row"
                raise ValueError(msg)
            added[row.id] = row
        self._by_id.update(added)
        self._reorder()

    def replace(self, row: Mapping[str, Any]) -> None:
        """Replace the row with the same ID; raise `KeyError` when there is none."""
        stored = store(row)
        if stored.id not in self._by_id:
            raise KeyError(stored.id)
        self._by_id[stored.id] = stored
        self._reorder()

    def between(self, from_ms: int, to_ms: int) -> list[StoredRow]:
        """Return a new list of the rows with `from_ms <= start < to_ms`, oldest first."""
        return self._ordered[bisect_left(self._starts, from_ms) : bisect_left(self._starts, to_ms)]

    def _reorder(self) -> None:
        """Rebuild the ordered view and its start index."""
        self._ordered = sorted(self._by_id.values(), key=lambda row: (row.start_ms, row.id))
        self._starts = [row.start_ms for row in self._ordered]
