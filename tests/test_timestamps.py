"""The API's two time formats (`timestamps.py`): ISO 8601 text and epoch milliseconds."""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

import pytest

from tap_crescendo.timestamps import format_epoch_ms, parse_timestamp, to_epoch_ms

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        pytest.param("2026-10-01T00:00:00Z", datetime(2026, 10, 1, tzinfo=UTC), id="zulu"),
        pytest.param("2026-10-01T00:00:00z", datetime(2026, 10, 1, tzinfo=UTC), id="lowercase-z"),
        pytest.param(
            "2026-10-01T00:00:00+00:00", datetime(2026, 10, 1, tzinfo=UTC), id="zero-offset"
        ),
        pytest.param(
            "2026-10-01T02:30:00+02:00", datetime(2026, 10, 1, 0, 30, tzinfo=UTC), id="offset"
        ),
        pytest.param(
            "2026-09-30T19:30:00-04:30", datetime(2026, 10, 1, tzinfo=UTC), id="negative-offset"
        ),
        pytest.param(
            "2026-10-01T00:00:00", datetime(2026, 10, 1, tzinfo=UTC), id="no-offset-is-utc"
        ),
        pytest.param("2026-10-01", datetime(2026, 10, 1, tzinfo=UTC), id="date-only"),
        pytest.param(
            "2026-10-01T00:00:00.1Z",
            datetime(2026, 10, 1, 0, 0, 0, 100_000, tzinfo=UTC),
            id="one-digit-fraction",
        ),
        pytest.param(
            "2026-10-01T00:00:00.12Z",
            datetime(2026, 10, 1, 0, 0, 0, 120_000, tzinfo=UTC),
            id="two-digit-fraction",
        ),
        pytest.param(
            "2026-10-01T00:00:00.123456789Z",
            datetime(2026, 10, 1, 0, 0, 0, 123_456, tzinfo=UTC),
            id="nanoseconds-cut-to-microseconds",
        ),
        pytest.param(
            " 2026-10-01T00:00:00Z\n", datetime(2026, 10, 1, tzinfo=UTC), id="surrounding-space"
        ),
    ],
)
def test_parse_timestamp_returns_an_aware_utc_datetime(text: str, moment: datetime) -> None:
    parsed = parse_timestamp(text)

    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("yesterday", None, id="word"),
        pytest.param("", None, id="empty"),
        pytest.param("2026-02-30T00:00:00Z", None, id="impossible-date"),
        pytest.param("2026-10-01T00:00:00+25:00", None, id="impossible-offset"),
        pytest.param(1_790_812_800_000, "expected an ISO 8601 string, got int", id="integer"),
        pytest.param(None, "expected an ISO 8601 string, got NoneType", id="none"),
    ],
)
def test_parse_timestamp_refuses_anything_else_with_value_error(
    value: t.Any, problem: str | None
) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_timestamp(value)


@pytest.mark.parametrize(
    ("moment", "millis"),
    [
        pytest.param(datetime(1970, 1, 1, tzinfo=UTC), 0, id="epoch"),
        pytest.param(datetime(2026, 10, 1, tzinfo=UTC), 1_790_812_800_000, id="2026"),
        pytest.param(
            datetime(2026, 10, 1, 0, 0, 0, 7_999, tzinfo=UTC), 1_790_812_800_007, id="floored"
        ),
        pytest.param(
            datetime(2026, 10, 1, 2, tzinfo=timezone(timedelta(hours=2))),
            1_790_812_800_000,
            id="offset",
        ),
        pytest.param(
            datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC), -1, id="before-epoch-floored"
        ),
    ],
)
def test_to_epoch_ms_floors_to_whole_milliseconds(moment: datetime, millis: int) -> None:
    assert to_epoch_ms(moment) == millis


@pytest.mark.parametrize(
    ("millis", "text"),
    [
        pytest.param(0, "1970-01-01T00:00:00.000Z", id="epoch"),
        pytest.param(1_790_812_800_000, "2026-10-01T00:00:00.000Z", id="whole-second"),
        pytest.param(1_790_812_800_007, "2026-10-01T00:00:00.007Z", id="milliseconds"),
        pytest.param(1_790_899_199_999, "2026-10-01T23:59:59.999Z", id="last-of-a-day"),
    ],
)
def test_format_epoch_ms_writes_utc_with_milliseconds(millis: int, text: str) -> None:
    assert format_epoch_ms(millis) == text
    assert to_epoch_ms(parse_timestamp(text)) == millis
