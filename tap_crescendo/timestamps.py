"""ISO 8601 timestamps and epoch milliseconds, the two time formats of the API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC datetime.

    Accepts `Z` and fractions of any length on every supported Python; a value
    without an offset is taken as UTC. Raises `ValueError` for anything else.
    """
    if not isinstance(text, str):
        msg = f"expected an ISO 8601 string, got {type(text).__name__}"
        raise ValueError(msg)
    normal = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    normal = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), normal, 1)
    parsed = datetime.fromisoformat(normal)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def to_epoch_ms(moment: datetime) -> int:
    """Return whole epoch milliseconds (floored) of an aware datetime."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_epoch_ms(millis: int) -> datetime:
    """Return the aware UTC datetime of epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=millis)


def format_epoch_ms(millis: int) -> str:
    """Return epoch milliseconds as an ISO 8601 UTC string, for messages."""
    return from_epoch_ms(millis).isoformat(timespec="milliseconds").replace("+00:00", "Z")
