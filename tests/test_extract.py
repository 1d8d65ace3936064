"""Extracting bot conversations end to end, over real HTTP against the fake API."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone

import jsonschema
import pytest

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows
from tap_crescendo.timestamps import to_epoch_ms
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    catalog_without,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from tap_crescendo.fake_api import RecordedRequest

NORMALIZED = {"AgentId", "ticketId", "Media", "CSat"}


def export_requests(fake: FakeCrescendo) -> list[RecordedRequest]:
    """The requests the fake answered on the bot export."""
    return [r for r in fake.requests if r.path.endswith("/botconv")]


def test_every_conversation_of_the_span_arrives_once(
    api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    result = sync(tap_config(api_url, window_size_hours=72))

    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert len(result.ids) == len(set(result.ids))


def test_records_equal_the_api_rows_but_for_the_normalized_fields(
    api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    records = {record["ID"]: record for record in sync(tap_config(api_url)).records}

    for row in bot_rows:
        record = records[row["ID"]]
        assert record.keys() == row.keys()
        assert {k: v for k, v in record.items() if k not in NORMALIZED} == {
            k: v for k, v in row.items() if k not in NORMALIZED
        }


@pytest.mark.parametrize(
    ("field", "sent", "delivered"),
    [
        pytest.param("AgentId", 17, "17", id="integer-agent-id-as-string"),
        pytest.param("AgentId", "agent-17", "agent-17", id="string-agent-id-kept"),
        pytest.param("ticketId", 90210, "90210", id="integer-ticket-id-as-string"),
        pytest.param("Media", "chat", ["chat"], id="single-media-as-list"),
        pytest.param("Media", ["chat", "email"], ["chat", "email"], id="media-list-kept"),
        pytest.param("Media", [], [], id="empty-media-list-kept"),
        pytest.param("CSat", 4, 4.0, id="integer-csat-as-float"),
        pytest.param("CSat", 4.5, 4.5, id="float-csat-kept"),
        pytest.param("CSat", None, None, id="null-kept"),
    ],
)
def test_a_field_sent_in_two_types_arrives_in_one(
    fake: FakeCrescendo,
    api_url: str,
    bot_rows: list[dict[str, t.Any]],
    field: str,
    sent: t.Any,
    delivered: t.Any,
) -> None:
    row = {**bot_rows[0], field: sent}
    fake.replace_row(TENANT, row)

    records = {record["ID"]: record for record in sync(tap_config(api_url)).records}

    value = records[row["ID"]][field]
    assert (value, type(value)) == (delivered, type(delivered))


def test_every_record_is_valid_against_the_announced_schema(api_url: str) -> None:
    result = sync(tap_config(api_url))
    validator = jsonschema.Draft7Validator(
        result.schema(), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )

    problems = [
        f"{record['ID']}: {error.message}"
        for record in result.records
        for error in validator.iter_errors(record)
    ]

    assert len(result.records) == 250
    assert problems == []


def test_first_request_carries_the_window_and_later_ones_only_cursor_and_limit(
    fake: FakeCrescendo, api_url: str
) -> None:
    sync(tap_config(api_url, window_size_hours=240, page_size=40))

    requests = export_requests(fake)
    assert len(requests) == 7  # 250 rows, 40 a page, one window
    assert requests[0].query == {
        "from": str(SPAN_START_MS),
        "to": str(SPAN_END_MS),
        "limit": "40",
    }
    for request in requests[1:]:
        assert request.query.keys() == {"cursor", "limit"}
        assert request.query["limit"] == "40"
    assert all(r.headers.get("Authorization") == f"Bearer {API_KEY}" for r in requests)


def test_tenant_id_is_one_percent_encoded_path_segment(tmp_path: t.Any) -> None:
    tenant = "acme/eu é"
    rows = generate_bot_rows(5, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, tenant_id=tenant)
    fake = FakeCrescendo(api_keys={API_KEY: {tenant}}, rows={tenant: rows})

    with fake.serve() as url:
        result = sync(tap_config(url, tenant_id=tenant))

    assert sorted(result.ids) == sorted(row["ID"] for row in rows)
    assert fake.requests[0].path == "/api/v1/reporting/tenants/acme%2Feu%20%C3%A9/botconv"


def test_first_sync_without_start_date_reads_the_last_day(
    fake: FakeCrescendo, api_url: str
) -> None:
    now = to_epoch_ms(datetime.now(timezone.utc))
    last_day = generate_bot_rows(6, start_ms=now - 23 * 3_600_000, end_ms=now - 60_000, seed=51)
    older = generate_bot_rows(3, start_ms=now - 30 * 3_600_000, end_ms=now - 25 * 3_600_000)
    fake.add_rows(TENANT, last_day + older)

    before = to_epoch_ms(datetime.now(timezone.utc))
    result = sync(tap_config(api_url, start_date=None, end_date=None))
    after = to_epoch_ms(datetime.now(timezone.utc))

    first = export_requests(fake)[0].query
    assert before <= int(first["to"]) <= after
    assert int(first["to"]) - int(first["from"]) == 24 * 3_600_000
    assert sorted(result.ids) == sorted(row["ID"] for row in last_day)


@pytest.mark.parametrize(
    ("range_setting", "days"),
    [
        pytest.param("last_week", 7, id="last-week"),
        pytest.param("last_month", 30, id="last-month"),
    ],
)
def test_range_setting_sets_the_first_sync_span(
    fake: FakeCrescendo, api_url: str, range_setting: str, days: int
) -> None:
    sync(tap_config(api_url, start_date=None, range=range_setting, window_size_hours=24 * 31))

    first = export_requests(fake)[0].query
    assert int(first["to"]) - int(first["from"]) == days * 24 * 3_600_000


@pytest.mark.parametrize("style", ["null", "empty", "absent"])
def test_query_ends_when_cursor_next_is_null_empty_or_absent(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]], style: str
) -> None:
    fake.set_last_cursor_style(style)

    result = sync(tap_config(api_url, window_size_hours=240))

    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert len(export_requests(fake)) == 7


def test_a_cursor_returned_twice_stops_the_sync(fake: FakeCrescendo, api_url: str) -> None:
    fake.repeat_cursor_once()

    result = sync(tap_config(api_url, window_size_hours=240))

    assert result.error is not None
    assert "a second time" in result.error
    assert len(export_requests(fake)) <= 3


def test_state_after_the_sync_holds_the_newest_conversation_start_and_its_tenant(
    api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    result = sync(tap_config(api_url))

    newest = max(bot_rows, key=lambda row: row["Datetime"])
    assert result.states[-1]["bookmarks"]["bot_conversations"] == {
        "replication_key": "DatetimeUTC",
        "replication_key_value": newest["DatetimeUTC"],
        "tenant_id": TENANT,
    }
    assert result.messages[-1]["type"] == "STATE"


def test_an_error_answer_stops_with_status_code_and_message(
    fake: FakeCrescendo, api_url: str
) -> None:
    result = sync(tap_config(api_url, tenant_id="tenant-beta"))

    assert result.error is not None
    assert result.error.startswith(
        "HTTP 403 PermissionDenied: API key does not allow this operation"
    )
    assert "tenant-beta" in result.error
    assert result.records == []


def test_a_deselected_property_is_left_out_of_every_record(api_url: str) -> None:
    config = tap_config(api_url)

    result = sync(config, catalog=catalog_without(config, "Contact Phone"))

    assert len(result.records) == 250
    assert all("Contact Phone" not in record for record in result.records)
    assert all("Contact Email" in record for record in result.records)
