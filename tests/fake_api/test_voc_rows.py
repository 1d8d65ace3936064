"""Generated VOC conversation rows (`voc_rows.py`): keys, types, offsets, determinism."""

from __future__ import annotations

import typing as t

import pytest

from tap_crescendo.fake_api import generate_bot_rows, generate_voc_rows
from tests.fake_api.client import END_MS, START_MS, TENANT, VOC_KEYS, instant_ms

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Row


def test_voc_rows_have_exactly_the_openapi_keys_in_its_order(voc_sample: list[Row]) -> None:
    assert all(list(row) == VOC_KEYS for row in voc_sample)


def test_voc_rows_depend_only_on_the_seed(voc_sample: list[Row]) -> None:
    again = generate_voc_rows(120, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)
    other = generate_voc_rows(120, start_ms=START_MS, end_ms=END_MS, seed=12, tenant_id=TENANT)

    assert again == voc_sample
    assert [row["ID"] for row in other] != [row["ID"] for row in voc_sample]


@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed-{seed}") for seed in (0, 1, 11)])
def test_voc_ids_are_unique_and_never_bot_ids(seed: int) -> None:
    voc = generate_voc_rows(500, start_ms=START_MS, end_ms=END_MS, seed=seed)
    bot = generate_bot_rows(500, start_ms=START_MS, end_ms=END_MS, seed=seed)

    voc_ids = {row["ID"] for row in voc}
    assert len(voc_ids) == 500
    assert voc_ids.isdisjoint(row["ID"] for row in bot)


def test_generating_voc_rows_refuses_an_empty_span() -> None:
    with pytest.raises(ValueError, match="start_ms < end_ms"):
        generate_voc_rows(1, start_ms=START_MS, end_ms=START_MS)


def is_int(value: t.Any) -> bool:
    return type(value) is int


def is_objects(value: t.Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def is_strings(value: t.Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


@pytest.mark.parametrize(
    ("field", "is_variant"),
    [
        pytest.param("Datetime", lambda v: v.endswith("Z"), id="Datetime-utc"),
        pytest.param("Datetime", lambda v: v.endswith("+02:00"), id="Datetime-offset"),
        pytest.param("Duration", is_int, id="Duration-int"),
        pytest.param("Duration", lambda v: v is None, id="Duration-null"),
        pytest.param("Direction", lambda v: v == "inbound", id="Direction-inbound"),
        pytest.param("Direction", lambda v: v == "outbound", id="Direction-outbound"),
        pytest.param("Direction", lambda v: v is None, id="Direction-null"),
        pytest.param("Media", lambda v: isinstance(v, str), id="Media-str"),
        pytest.param("Media", lambda v: v is None, id="Media-null"),
        *(
            pytest.param(field, check, id=f"{field}-{kind}")
            for field in ("AgentId", "CustomerId", "TicketId")
            for kind, check in (
                ("str", lambda v: isinstance(v, str)),
                ("int", is_int),
                ("null", lambda v: v is None),
            )
        ),
        *(
            pytest.param(field, check, id=f"{field}-{kind}")
            for field in ("Groups", "Tags")
            for kind, check in (
                ("str", lambda v: isinstance(v, str)),
                ("list", is_strings),
                ("empty", lambda v: v == []),
                ("null", lambda v: v is None),
            )
        ),
        *(
            pytest.param(field, check, id=f"{field}-{kind}")
            for field in ("CSat", "Sentiment")
            for kind, check in (
                ("int", is_int),
                ("float", lambda v: type(v) is float),
                ("null", lambda v: v is None),
            )
        ),
        pytest.param("Sentiment", lambda v: v is not None and v < 0, id="Sentiment-negative"),
        *(
            pytest.param(field, check, id=f"{field}-{kind}")
            for field in ("Problems", "KPIs")
            for kind, check in (
                ("objects", is_objects),
                ("empty", lambda v: v == []),
                ("null", lambda v: v is None),
            )
        ),
    ],
)
def test_every_type_variant_appears_in_60_rows(
    field: str, is_variant: Callable[[t.Any], bool]
) -> None:
    rows = generate_voc_rows(60, start_ms=START_MS, end_ms=END_MS, seed=5)

    assert any(is_variant(row[field]) for row in rows)


@pytest.mark.parametrize(
    "field",
    [
        "AgentName",
        "AgentEmail",
        "CustomerName",
        "CustomerEmail",
        "Category",
        "Subcategory",
        "Tertiary",
        "CategoryExplanation",
        "CategoriesId",
        "Summary",
        "CSatExplanation",
        "SentimentExplanation",
        "SourceSystem",
        "TicketUrl",
    ],
)
def test_nullable_text_is_null_in_some_of_50_rows_and_text_in_others(
    voc_sample: list[Row], field: str
) -> None:
    values = [row[field] for row in voc_sample[:50]]

    assert None in values
    assert any(isinstance(value, str) and value for value in values)


def test_datetime_is_the_same_instant_as_datetime_utc_within_the_span(
    voc_sample: list[Row],
) -> None:
    for row in voc_sample:
        assert row["Datetime"][-1] == "Z" or row["Datetime"][-6:] == "+02:00"
        assert row["DatetimeUTC"][-1] == "Z"
        assert instant_ms(row["Datetime"]) == instant_ms(row["DatetimeUTC"])
        assert START_MS <= instant_ms(row["DatetimeUTC"]) < END_MS
    assert {row["Datetime"][-1] for row in voc_sample} == {"Z", "0"}
