"""The exports' rows by tenant, serialized once and ordered by conversation start.

Each export reads a row's start its own way: the bot export's `Datetime` is epoch milliseconds,
the VOC export's an ISO 8601 timestamp with an offset.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_crescendo.fake_api.exchange import encode_json
from tap_crescendo.fake_api.query import parse_instant

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    StartOf = Callable[[Mapping[str, Any]], int]


@dataclass(frozen=True)
class StoredRow:
    """A row's ID, its start (epoch ms) and its JSON, encoded once at storage time."""

    id: str
    start_ms: int
    json: bytes


def bot_start(row: Mapping[str, Any]) -> int:
    """Return a bot row's start: its `Datetime`, an integer of epoch milliseconds."""
    row_id, start = row.get("ID"), row.get("Datetime")
    if not isinstance(row_id, str) or not isinstance(start, int) or isinstance(start, bool):
        msg = f"a row needs a string ID and an integer Datetime, got {row_id!r} and {start!r}"
        raise ValueError(msg)
    return start


def voc_start(row: Mapping[str, Any]) -> int:
    """Return a VOC row's start: its `Datetime`, an ISO 8601 timestamp, in epoch milliseconds."""
    row_id, text = row.get("ID"), row.get("Datetime")
    start = parse_instant(text) if isinstance(text, str) and not text.isdigit() else None
    if not isinstance(row_id, str) or start is None:
        msg = (
            "a VOC row needs a string ID and an ISO 8601 Datetime with Z or an offset,"
            f" got {row_id!r} and {text!r}"
        )
        raise ValueError(msg)
    return start


# Each dataset and how its rows' starts are read.
STARTS: dict[str, StartOf] = {"bot": bot_start, "voc": voc_start}


def store(row: Mapping[str, Any], start_of: StartOf = bot_start) -> StoredRow:
    """Encode a row with its start, read by `start_of` (which also checks its string ID)."""
    start = start_of(row)
    return StoredRow(row["ID"], start, encode_json(row))


class TenantRows:
    """A tenant's rows by ID, with a view ordered by (start, ID) rebuilt after each change."""

    def __init__(self, start_of: StartOf = bot_start) -> None:
        self._start_of = start_of
        self._by_id: dict[str, StoredRow] = {}
        self._ordered: list[StoredRow] = []
        self._starts: list[int] = []

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add rows whose IDs are new; raise `ValueError` (adding none) on a repeated ID."""
        added = {}
        for row in rows:
            stored = store(row, self._start_of)
            if stored.id in self._by_id or stored.id in added:
                msg = f"row ID {stored.id!r} is already stored; use replace_row to change a row"
                raise ValueError(msg)
            added[stored.id] = stored
        self._by_id.update(added)
        self._reorder()

    def replace(self, row: Mapping[str, Any]) -> None:
        """Replace the row with the same ID; raise `KeyError` when there is none."""
        stored = store(row, self._start_of)
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


class Datasets:
    """Every dataset's rows by tenant. Not thread-safe: the fake calls it under its own lock."""

    def __init__(self) -> None:
        self._tenants: dict[str, dict[str, TenantRows]] = {name: {} for name in STARTS}

    def add(self, dataset: str, tenant: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add rows of `dataset` for `tenant`; raise `ValueError` (adding none) on a repeated ID."""
        tenants = self._dataset(dataset)
        tenant_rows = tenants.get(tenant) or TenantRows(STARTS[dataset])
        tenant_rows.add(rows)
        tenants[tenant] = tenant_rows

    def replace(self, dataset: str, tenant: str, row: Mapping[str, Any]) -> None:
        """Replace the row of `tenant` with the same ID; raise `KeyError` when there is none."""
        tenant_rows = self._dataset(dataset).get(tenant)
        if tenant_rows is None:
            raise KeyError(tenant)
        tenant_rows.replace(row)

    def between(self, dataset: str, tenant: str, from_ms: int, to_ms: int) -> list[StoredRow]:
        """Return a new list of the tenant's rows with `from_ms <= start < to_ms`, oldest first."""
        tenant_rows = self._dataset(dataset).get(tenant)
        return [] if tenant_rows is None else tenant_rows.between(from_ms, to_ms)

    def _dataset(self, name: str) -> dict[str, TenantRows]:
        """Return the tenants of dataset `name`; raise `ValueError` if there is no such dataset."""
        if name not in self._tenants:
            msg = f"export must be one of {', '.join(self._tenants)}, got {name!r}"
            raise ValueError(msg)
        return self._tenants[name]
