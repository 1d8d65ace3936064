"""Reading and checking the bookmark a stream resumes from."""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

from tap_crescendo.errors import StateError
from tap_crescendo.timestamps import parse_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Mapping

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
