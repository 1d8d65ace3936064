"""Generated bot conversation rows (`rows.py`): keys, types, times, determinism."""

from __future__ import annotations

import typing as t

import pytest

from tap_crescendo.fake_api import generate_bot_rows
from tap_crescendo.fake_api.rows import NULLABLE_TEXT, utc_text
from tests.fake_api.client import BOT_KEYS, END_MS, START_MS, TENANT

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Row


def test_rows_have_exactly_the_api_keys_in_the_api_order(bot_sample: list[Row]) -> None:
    assert all(list(row) == BOT_KEYS for row in bot_sample)


def test_rows_depend_only_on_the_seed(bot_sample: list[Row]) -> None:
    again = generate_bot_rows(250, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)
    other = generate_bot_rows(250, start_ms=START_MS, end_ms=END_MS, seed=12, tenant_id=TENANT)

    assert again == bot_sample
    assert {row["ID"] for row in other}.isdisjoint(row["ID"] for row in bot_sample)


def test_row_ids_are_unique() -> None:
    rows = generate_bot_rows(20_000, start_ms=START_MS, end_ms=START_MS + 1000, seed=3)

    assert len({row["ID"] for row in rows}) == 20_000


def test_row_times_lie_in_the_span_and_agree_with_each_other(bot_sample: list[Row]) -> None:
    for row in bot_sample:
        assert START_MS <= row["Datetime"] < END_MS
        assert 0 <= row["EndDatetime"] - row["Datetime"] - row["Duration"] * 1000 < 1000
        assert row["DatetimeUTC"] == utc_text(row["Datetime"])
        assert row["EndDatetimeUTC"] == utc_text(row["EndDatetime"])
        assert row["TenantID"] == TENANT
        if row["Escalated"] is True:
            assert row["Datetime"] <= row["escalatedAt"] <= row["EndDatetime"]
            assert row["Handoff Reason"] is not None
        else:
            assert row["escalatedAt"] is None
            assert row["Handoff Reason"] is None


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        pytest.param(START_MS, "2026-10-01T00:00:00Z", id="whole-second"),
        pytest.param(START_MS + 120, "2026-10-01T00:00:00.12Z", id="trailing-zero-trimmed"),
        pytest.param(START_MS + 100, "2026-10-01T00:00:00.1Z", id="two-zeros-trimmed"),
        pytest.param(START_MS + 123, "2026-10-01T00:00:00.123Z", id="milliseconds"),
        pytest.param(START_MS + 7, "2026-10-01T00:00:00.007Z", id="leading-zeros-kept"),
    ],
)
def test_utc_text_is_rfc3339_with_trailing_zeros_trimmed(epoch_ms: int, text: str) -> None:
    assert utc_text(epoch_ms) == text


@pytest.mark.parametrize(
    ("field", "is_variant"),
    [
        pytest.param("AgentId", lambda v: isinstance(v, str), id="agent-id-string"),
        pytest.param("AgentId", lambda v: type(v) is int, id="agent-id-integer"),
        pytest.param("AgentId", lambda v: v is None, id="agent-id-null"),
        pytest.param("ticketId", lambda v: isinstance(v, str), id="ticket-id-string"),
        pytest.param("ticketId", lambda v: type(v) is int, id="ticket-id-integer"),
        pytest.param("ticketId", lambda v: v is None, id="ticket-id-null"),
        pytest.param("Media", lambda v: isinstance(v, str), id="media-string"),
        pytest.param("Media", lambda v: isinstance(v, list) and len(v) > 1, id="media-list"),
        pytest.param("Media", lambda v: v == [], id="media-empty-list"),
        pytest.param("Media", lambda v: v is None, id="media-null"),
        pytest.param("CSat", lambda v: type(v) is int, id="csat-integer"),
        pytest.param("CSat", lambda v: type(v) is float, id="csat-float"),
        pytest.param("CSat", lambda v: v is None, id="csat-null"),
        pytest.param("Escalated", lambda v: v is True, id="escalated-true"),
        pytest.param("Escalated", lambda v: v is False, id="escalated-false"),
        pytest.param("Escalated", lambda v: v is None, id="escalated-null"),
        pytest.param("escalatedAt", lambda v: type(v) is int, id="escalated-at-integer"),
        pytest.param("escalatedAt", lambda v: v is None, id="escalated-at-null"),
    ],
)
def test_every_type_variant_appears_in_200_rows(
    field: str, is_variant: Callable[[t.Any], bool]
) -> None:
    rows = generate_bot_rows(200, start_ms=START_MS, end_ms=END_MS, seed=5)

    assert any(is_variant(row[field]) for row in rows)


@pytest.mark.parametrize("field", [*NULLABLE_TEXT, "Handoff Reason"])
def test_nullable_text_is_null_in_some_of_50_rows_and_text_in_others(
    bot_sample: list[Row], field: str
) -> None:
    values = [row[field] for row in bot_sample[:50]]

    assert None in values
    assert any(isinstance(value, str) and value for value in values)


def test_duration_is_always_an_integer(bot_sample: list[Row]) -> None:
    assert all(type(row["Duration"]) is int for row in bot_sample)


@pytest.mark.parametrize("field", ["Summary", "Input"])
def test_free_text_holds_non_ascii_quotes_and_commas(bot_sample: list[Row], field: str) -> None:
    texts = [row[field] for row in bot_sample[:50] if row[field] is not None]

    assert any(not text.isascii() for text in texts)
    assert any('"' in text for text in texts)
    assert any("," in text for text in texts)


def test_generating_rows_refuses_an_empty_span() -> None:
    with pytest.raises(ValueError, match="start_ms < end_ms"):
        generate_bot_rows(1, start_ms=START_MS, end_ms=START_MS)
