"""The bookmark: read and checked where a tenant resumes, moved by the starts delivered.

A bookmark is the newest start of the records delivered in the windows complete from the
first one on; a start outside its window's query never counts, so the bookmark never passes
rows not read yet, and it never moves backwards.
"""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone
from operator import attrgetter, itemgetter

from tap_crescendo.errors import StateError
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import msgspec

    from tap_crescendo.records.contract import RecordContract
    from tap_crescendo.sync.windows import WindowProgress

#: A record's start: (epoch ms, the replication key's value).
Start: t.TypeAlias = "tuple[int, str]"

#: A bookmark may run ahead of this machine's clock by this much (clock skew).
CLOCK_SKEW = timedelta(minutes=5)


def read_bookmark(
    stream_state: Mapping[str, t.Any],
    where: str,
    replication_key: str,
    *,
    now: datetime | None = None,
) -> datetime | None:
    """Return the bookmark of a stream's (or a partition's) state, or None when it has none.

    Raises `StateError`, naming the state `where`, for one that cannot be resumed from: a
    bookmark on another key, one that is not a date-time, or one in the future.
    """
    value = stream_state.get("replication_key_value")
    if value is None:
        return None
    if stream_state.get("replication_key") != replication_key:
        msg = (
            f"{where}: replication_key is {stream_state.get('replication_key')!r}, "
            f"expected {replication_key!r}; fix or remove the state to resync"
        )
        raise StateError(msg)
    try:
        bookmark = parse_timestamp(value)
    except ValueError:
        msg = f"{where}: replication_key_value {value!r} is not an ISO 8601 date-time"
        raise StateError(msg) from None
    now = now or datetime.now(timezone.utc)
    if bookmark > now + CLOCK_SKEW:
        msg = (
            f"{where}: replication_key_value {value} is in the future "
            f"(now is {now:%Y-%m-%dT%H:%M:%SZ})"
        )
        raise StateError(msg)
    return bookmark


def check_state_shape(tap_state: t.Any) -> None:
    """Raise `StateError` unless STATE is an object whose bookmarks are objects."""
    if not isinstance(tap_state, dict):
        msg = f"STATE must be an object, got {type(tap_state).__name__}"
        raise StateError(msg)
    bookmarks = _mapping(tap_state, "bookmarks", "STATE")
    for stream_name in bookmarks:
        where = f"STATE for stream '{stream_name}'"
        partitions = _mapping(bookmarks, stream_name, where).get("partitions", [])
        if not isinstance(partitions, list) or not all(
            isinstance(partition, dict) and isinstance(partition.get("context"), dict)
            for partition in partitions
        ):
            msg = f"{where}: 'partitions' must be a list of objects, each with a 'context' object"
            raise StateError(msg)


def _mapping(parent: Mapping[str, t.Any], key: str, where: str) -> Mapping[str, t.Any]:
    """Return `parent[key]` when it is an object, empty when absent; else raise."""
    value = parent.get(key, {})
    if not isinstance(value, dict):
        msg = f"{where}: '{key}' must be an object, got {type(value).__name__}"
        raise StateError(msg)
    return value


class RecordStarts:
    """Finds the newest start of a page's records inside their window."""

    def __init__(
        self, contract: RecordContract, replication_key: str, start_ms_field: str | None
    ) -> None:
        """`start_ms_field`, if any, is an integer epoch-ms twin of the key, cheaper to compare."""
        self._value_attribute = contract.attribute(replication_key)
        self._millis_attribute = contract.attribute(start_ms_field) if start_ms_field else None

    def newest(self, records: list[msgspec.Struct], window: WindowProgress) -> Start | None:
        """Return the newest start of the records inside the window, as (epoch ms, value).

        A start outside the window's query does not count, so the bookmark never passes
        rows not read yet; such rows are counted in `window.outside`.
        """
        if self._millis_attribute is not None and (newest := self._newest_at_once(records, window)):
            return newest
        value_of = attrgetter(self._value_attribute)
        millis_of = attrgetter(self._millis_attribute) if self._millis_attribute else None
        starts = []
        for record in records:
            value = value_of(record)
            if not value:
                continue
            sent_ms = millis_of(record) if millis_of else None
            start_ms = sent_ms if type(sent_ms) is int else _epoch_ms(value)
            if start_ms is not None and window.window.holds(start_ms):
                starts.append((start_ms, value))
            else:
                window.outside += 1
        starts.sort(key=itemgetter(0), reverse=True)
        # The value, not only its epoch-ms twin, becomes the bookmark: it must be inside too.
        return next((start for start in starts if window.window.holds(_epoch_ms(start[1]))), None)

    def _newest_at_once(
        self, records: list[msgspec.Struct], window: WindowProgress
    ) -> Start | None:
        """The newest start of a page whose epoch-ms starts are all inside the window, or None.

        None, too, when the newest one's date-time is not inside: then `newest` looks at
        each record.
        """
        assert self._millis_attribute is not None
        millis = list(map(attrgetter(self._millis_attribute), records))
        try:
            low, high = min(millis), max(millis)
        except (TypeError, ValueError):  # a start that is null, or no records
            return None
        if not (window.window.holds(low) and window.window.holds(high)):
            return None
        value = getattr(records[millis.index(high)], self._value_attribute)
        return (high, value) if window.window.holds(_epoch_ms(value)) else None


def later(current: Start | None, candidate: Start | None) -> Start | None:
    """Return the later of two starts, either possibly None."""
    if candidate is None or (current is not None and current[0] >= candidate[0]):
        return current
    return candidate


def moved_bookmark(resume_ms: int | None, windows: Iterable[WindowProgress]) -> str | None:
    """The newest start the windows delivered, if past the bookmark the run resumed from.

    Windows complete in order, so each newest start is past the one before it.
    """
    newest = None
    for window in windows:
        newest = later(newest, window.newest)
    if newest and (resume_ms is None or newest[0] > resume_ms):
        return newest[1]
    return None


def _epoch_ms(value: str) -> int | None:
    """Return a date-time's epoch ms, or None for one the calendar lacks (February 31)."""
    try:
        return to_epoch_ms(parse_timestamp(value))
    except ValueError:
        return None
