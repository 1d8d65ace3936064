"""The query parameters (`query.py`): limit, spans from `range`, `from` and `to`, refusals."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone

import pytest

from tap_crescendo.fake_api import generate_bot_rows
from tests.fake_api.client import DAY_MS, END_MS, START_MS, TENANT, ids_between, span

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Api, Row


def test_limit_defaults_to_1000_and_allows_1_to_5000(start_api: Callable[..., Api]) -> None:
    rows = generate_bot_rows(5001, start_ms=START_MS, end_ms=END_MS, seed=2)
    api = start_api(rows={TENANT: rows})

    assert [len(body["data"]) for body in api.pages(span(START_MS, END_MS))] == [1000] * 5 + [1]
    assert len(api.ok(span(START_MS, END_MS, limit=5000))["data"]) == 5000
    assert len(api.ok(span(START_MS, END_MS, limit=1))["data"]) == 1


@pytest.mark.parametrize(
    ("params", "from_back", "to_back"),
    [
        pytest.param({}, DAY_MS, 0, id="default-is-last-day"),
        pytest.param({"range": "last_day"}, DAY_MS, 0, id="last-day"),
        pytest.param({"range": "last_week"}, 7 * DAY_MS, 0, id="last-week"),
        pytest.param({"range": "last_month"}, 30 * DAY_MS, 0, id="last-month"),
        pytest.param({"from": "NOW-2d"}, 2 * DAY_MS, 0, id="from-only-ends-now"),
        pytest.param({"to": "NOW-3d"}, 4 * DAY_MS, 3 * DAY_MS, id="to-only-is-the-day-before"),
        pytest.param({"to": "NOW-0d", "range": ""}, DAY_MS, 0, id="empty-range-is-absent"),
    ],
)
def test_a_span_is_taken_back_from_now_or_from_to(
    start_api: Callable[..., Api], params: dict[str, str], from_back: int, to_back: int
) -> None:
    now = START_MS + 40 * DAY_MS + 777
    rows = generate_bot_rows(600, start_ms=START_MS, end_ms=now + DAY_MS, seed=4)
    api = start_api(rows={TENANT: rows}, clock=lambda: now)
    resolved = {
        name: str(now - int(value[4:-1]) * DAY_MS) if value.startswith("NOW-") else value
        for name, value in params.items()
    }

    served = api.ids(resolved)

    assert set(served) == ids_between(rows, now - from_back, now - to_back)
    assert len(served) > 10


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2026-10-03T00:00:00Z", id="zulu"),
        pytest.param("2026-10-03T00:00:00.000z", id="zero-fraction-lowercase-z"),
        pytest.param("2026-10-03T02:00:00+02:00", id="positive-offset"),
        pytest.param("2026-10-02T19:30:00-04:30", id="negative-offset"),
        pytest.param("2026-10-03 00:00:00Z", id="space-separator"),
    ],
)
def test_iso_and_epoch_bounds_select_the_same_rows(
    api: Api, bot_sample: list[Row], text: str
) -> None:
    epoch = START_MS + 2 * DAY_MS  # 2026-10-03T00:00:00Z
    expected = api.ids(span(epoch, epoch + DAY_MS))

    as_from = api.ids({"from": text, "to": str(epoch + DAY_MS)})
    as_to = api.ids({"from": str(epoch - DAY_MS), "to": text})

    assert as_from == expected
    assert set(as_to) == ids_between(bot_sample, epoch - DAY_MS, epoch)


def iso(epoch_ms: int, fraction: str) -> str:
    """Format `epoch_ms` in ISO 8601 with its milliseconds, then `fraction`, then Z."""
    whole = datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{epoch_ms % 1000:03d}{fraction}Z"


@pytest.mark.parametrize(
    ("params", "included"),
    [
        pytest.param(lambda ms: span(ms, ms + 1), True, id="from-is-inclusive"),
        pytest.param(lambda ms: span(ms - 5, ms), False, id="to-is-exclusive"),
        pytest.param(lambda ms: {"from": iso(ms, "000"), "to": str(ms + 1)}, True, id="iso-exact"),
        pytest.param(
            lambda ms: {"from": iso(ms, "0001"), "to": str(ms + 1)}, False, id="iso-later"
        ),
        pytest.param(
            lambda ms: {"from": str(ms - 1), "to": iso(ms, "0001")}, True, id="iso-to-later"
        ),
    ],
)
def test_the_span_is_half_open_on_datetime(
    api: Api, bot_sample: list[Row], params: Callable[[int], dict[str, str]], included: bool
) -> None:
    row = bot_sample[42]

    served = api.ids(params(row["Datetime"]))

    assert (row["ID"] in served) is included


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        pytest.param({"limit": "0"}, "limit must be an integer between 1 and 5000", id="limit-0"),
        pytest.param(
            {"limit": "5001"}, "limit must be an integer between 1 and 5000", id="limit-5001"
        ),
        pytest.param(
            {"limit": "-1"}, "limit must be an integer between 1 and 5000", id="limit-negative"
        ),
        pytest.param(
            {"limit": "1.5"}, "limit must be an integer between 1 and 5000", id="limit-fraction"
        ),
        pytest.param(
            {"limit": "ten"}, "limit must be an integer between 1 and 5000", id="limit-word"
        ),
        pytest.param(
            {"cursor": "abc", "range": "last_day"},
            "cursor cannot be combined with range, from or to",
            id="cursor-and-range",
        ),
        pytest.param(
            {"cursor": "abc", "from": "0"},
            "cursor cannot be combined with range, from or to",
            id="cursor-and-from",
        ),
        pytest.param(
            {"cursor": "abc", "to": "0"},
            "cursor cannot be combined with range, from or to",
            id="cursor-and-to",
        ),
        pytest.param({"range": "last_year"}, "unknown range 'last_year'", id="unknown-range"),
        pytest.param(
            {"range": "last_day", "from": "0"},
            "range cannot be combined with from or to",
            id="range-and-from",
        ),
        pytest.param(
            {"range": "last_week", "to": "0"},
            "range cannot be combined with from or to",
            id="range-and-to",
        ),
        pytest.param(
            {"from": "yesterday"},
            "from is not an ISO 8601 timestamp or epoch milliseconds",
            id="from-word",
        ),
        pytest.param(
            {"from": "2026-10-01T00:00:00"},
            "from is not an ISO 8601 timestamp or epoch milliseconds",
            id="from-without-offset",
        ),
        pytest.param(
            {"from": "2026-02-30T00:00:00Z"},
            "from is not an ISO 8601 timestamp or epoch milliseconds",
            id="from-impossible-date",
        ),
        pytest.param(
            {"to": "-5"},
            "to is not an ISO 8601 timestamp or epoch milliseconds",
            id="to-negative",
        ),
        pytest.param(
            {"to": "2026-10-01T00:00:00+01:60"},
            "to is not an ISO 8601 timestamp or epoch milliseconds",
            id="to-bad-offset",
        ),
        pytest.param({"from": "2", "to": "1"}, "from must not be after to", id="from-after-to"),
        pytest.param({"cursor": "not-a-cursor"}, "cursor expired or invalid", id="unknown-cursor"),
    ],
)
def test_bad_parameters_answer_400_saying_what(
    api: Api, params: dict[str, str], problem: str
) -> None:
    response = api.get(params)

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "BadRequest",
        "message": f"Invalid request parameters: {problem}",
    }
