"""The VOC conversations stream, both documented path styles, and stream selection."""

from __future__ import annotations

import typing as t

import jsonschema
import pytest

from tap_crescendo.fake_api import FakeCrescendo, generate_voc_rows
from tap_crescendo.tap import TapCrescendo
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms
from tests.support.tap_runs import API_KEY, SPAN_END_MS, SPAN_START_MS, TENANT, sync, tap_config

if t.TYPE_CHECKING:
    from collections.abc import Iterator

STREAM = "voc_conversations"


@pytest.fixture
def voc_rows() -> list[dict[str, t.Any]]:
    """120 VOC conversations over the ten days of the test span."""
    return generate_voc_rows(120, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=9)


@pytest.fixture
def both(
    bot_rows: list[dict[str, t.Any]], voc_rows: list[dict[str, t.Any]]
) -> Iterator[tuple[FakeCrescendo, str]]:
    """A fake serving both exports, and its URL."""
    fake = FakeCrescendo(
        api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows}, voc_rows={TENANT: voc_rows}
    )
    with fake.serve() as url:
        yield fake, url


def voc_records(result: t.Any) -> list[dict[str, t.Any]]:
    """The VOC stream's records of a run."""
    return [m["record"] for m in result.messages if m["type"] == "RECORD" and m["stream"] == STREAM]


def test_every_voc_conversation_arrives_once_across_windows_and_pages(
    both: tuple[FakeCrescendo, str], voc_rows: list[dict[str, t.Any]]
) -> None:
    fake, url = both

    result = sync(tap_config(url, window_size_hours=24, page_size=7))

    ids = [record["ID"] for record in voc_records(result)]
    assert result.error is None
    assert sorted(ids) == sorted(row["ID"] for row in voc_rows)
    assert (
        len([r for r in fake.requests if r.path.endswith("/vocconv") and "from" in r.query]) == 10
    )


def test_voc_records_are_valid_with_every_type_variant_made_one(
    both: tuple[FakeCrescendo, str], voc_rows: list[dict[str, t.Any]]
) -> None:
    _, url = both

    result = sync(tap_config(url))

    validator = jsonschema.Draft7Validator(
        result.schema(STREAM), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    records = {record["ID"]: record for record in voc_records(result)}
    assert [e.message for r in records.values() for e in validator.iter_errors(r)] == []
    for row in voc_rows:
        record = records[row["ID"]]
        for field in ("AgentId", "CustomerId", "TicketId"):
            assert record[field] == (None if row[field] is None else str(row[field]))
        for field in ("Groups", "Tags"):
            assert record[field] == ([row[field]] if isinstance(row[field], str) else row[field])
        for field in ("CSat", "Sentiment"):
            assert record[field] == row[field]
            assert row[field] is None or isinstance(record[field], float)
        assert (record["Problems"], record["KPIs"], record["Datetime"]) == (
            row["Problems"],
            row["KPIs"],
            row["Datetime"],
        )


def test_voc_bookmark_is_the_newest_conversation_time_as_the_api_wrote_it(
    both: tuple[FakeCrescendo, str], voc_rows: list[dict[str, t.Any]]
) -> None:
    fake, url = both
    config = tap_config(url, end_date=None, lookback_window_minutes=30)

    first = sync(config)
    newest = max(voc_rows, key=lambda row: parse_timestamp(row["Datetime"]))
    bookmark = first.states[-1]["bookmarks"][STREAM]
    fake.reset_requests()
    sync(config, first.states[-1])

    assert bookmark == {
        "replication_key": "Datetime",
        "replication_key_value": newest["Datetime"],
        "tenant_id": TENANT,
    }
    resumed = next(r for r in fake.requests if r.path.endswith("/vocconv"))
    assert (
        int(resumed.query["from"]) == to_epoch_ms(parse_timestamp(newest["Datetime"])) - 1_800_000
    )


@pytest.mark.parametrize(
    ("styles", "served_by"),
    [
        pytest.param(("doc",), ("/botconv", "/vocconv"), id="doc-paths-only"),
        pytest.param(
            ("openapi",), ("/assistant/conversations", "/voc/conversations"), id="openapi-only"
        ),
    ],
)
def test_each_stream_settles_on_the_path_style_that_answers(
    bot_rows: list[dict[str, t.Any]],
    voc_rows: list[dict[str, t.Any]],
    styles: tuple[str, ...],
    served_by: tuple[str, str],
) -> None:
    fake = FakeCrescendo(
        api_keys={API_KEY: {TENANT}},
        rows={TENANT: bot_rows},
        voc_rows={TENANT: voc_rows},
        path_styles=styles,
    )
    with fake.serve() as url:
        result = sync(tap_config(url, window_size_hours=48, page_size=30))

    answered = [r.path.split(TENANT)[-1] for r in fake.requests if r.status == 200]
    refused = [r.path.split(TENANT)[-1] for r in fake.requests if r.status == 404]
    assert result.error is None
    assert len(result.records) == len(bot_rows) + len(voc_rows)
    assert set(answered) == set(served_by)
    assert refused == ([] if styles == ("doc",) else ["/botconv", "/vocconv"])


@pytest.mark.parametrize(
    ("deselected", "kept_path"),
    [
        pytest.param("voc_conversations", "/botconv", id="voc-deselected"),
        pytest.param("bot_conversations", "/vocconv", id="bot-deselected"),
    ],
)
def test_a_deselected_stream_makes_no_request(
    both: tuple[FakeCrescendo, str], deselected: str, kept_path: str
) -> None:
    fake, url = both
    config = tap_config(url)
    catalog = TapCrescendo(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if entry["tap_stream_id"] == deselected and metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = False

    result = sync(config, catalog=catalog)

    assert result.error is None
    assert {r.path.split(TENANT)[-1] for r in fake.requests} == {kept_path}
    assert {m["stream"] for m in result.messages if m["type"] == "RECORD"} == (
        {"bot_conversations", "voc_conversations"} - {deselected}
    )
