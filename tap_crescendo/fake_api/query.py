"""The reporting query parameters: parsing, defaults and validation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

DAY_MS = 24 * 3_600_000
RANGES = {"last_day": DAY_MS, "last_week": 7 * DAY_MS, "last_month": 30 * DAY_MS}
DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DIGITS = re.compile(r"[0-9]+")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)


class BadRequest(ValueError):
    """A query parameter is malformed, out of range, or contradicts another one."""


@dataclass(frozen=True)
class FirstPage:
    """A new query over the half-open span `from_ms <= Datetime < to_ms`."""

    from_ms: int
    to_ms: int
    limit: int


@dataclass(frozen=True)
class NextPage:
    """A request for the page a cursor names."""

    cursor: str
    limit: int


def parse_query(params: Mapping[str, str], *, now_ms: int) -> FirstPage | NextPage:
    """Read limit, cursor, range, from and to; raise `BadRequest` naming the first problem.

    An empty parameter counts as absent (as Go's `url.Values.Get` reads it). Without range and
    from, the span is the day before `to` (which defaults to now): `range=last_day` when `to` is
    absent too, and `[to - 24h, to)` when only `to` is given.
    """
    given = {name: value for name, value in params.items() if value}
    limit = _limit(given.get("limit"))
    cursor = given.get("cursor")
    if cursor is not None:
        if given.keys() & {"range", "from", "to"}:
            msg = "cursor cannot be combined with range, from or to"
            raise BadRequest(msg)
        return NextPage(cursor, limit)
    from_ms, to_ms = _span(given, now_ms)
    return FirstPage(from_ms, to_ms, limit)


def parse_instant(text: str) -> int | None:
    """Return epoch milliseconds of epoch-millis digits or an ISO 8601 timestamp, else None.

    The timestamp needs `Z` or an offset; a fraction finer than a millisecond rounds up, so
    comparing whole-millisecond starts against the result is exact.
    """
    if _DIGITS.fullmatch(text):
        return int(text)
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, hours, minutes = match.groups()
    if minutes is not None and int(minutes) > 59:
        return None
    offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    try:
        zone = timezone(-offset if sign == "-" else offset)
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError:  # a day, hour or offset out of range
        return None
    fraction = fraction or ""
    millis = int(fraction[:3].ljust(3, "0")) + (1 if fraction[3:].strip("0") else 0)
    return (moment - EPOCH) // timedelta(milliseconds=1) + millis


def _limit(text: str | None) -> int:
    """Return the page size: `DEFAULT_LIMIT` when absent, else an integer in 1..MAX_LIMIT."""
    if text is None:
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        msg = f"limit must be an integer between 1 and {MAX_LIMIT}"
        raise BadRequest(msg)
    return int(text)


def _span(given: Mapping[str, str], now_ms: int) -> tuple[int, int]:
    """Return the half-open span [from, to) of a first request."""
    name = given.get("range")
    if name is not None:
        if "from" in given or "to" in given:
            msg = "range cannot be combined with from or to"
            raise BadRequest(msg)
        if name not in RANGES:
            msg = f"unknown range {name!r}"
            raise BadRequest(msg)
        return now_ms - RANGES[name], now_ms
    to_ms = _bound(given, "to", default=now_ms)
    from_ms = _bound(given, "from", default=to_ms - DAY_MS)
    if from_ms > to_ms:
        msg = "from must not be after to"
        raise BadRequest(msg)
    return from_ms, to_ms


def _bound(given: Mapping[str, str], name: str, *, default: int) -> int:
    """Return the instant of parameter `name`, or `default` when it is absent."""
    text = given.get(name)
    if text is None:
        return default
    instant = parse_instant(text)
    if instant is None:
        msg = f"{name} is not an ISO 8601 timestamp or epoch milliseconds"
        raise BadRequest(msg)
    return instant
