"""The record contract: what a row may hold, what it becomes, and the line when it cannot."""

from __future__ import annotations

import json
import typing as t

import msgspec
import pytest

from tap_crescendo.fake_api import generate_bot_rows
from tap_crescendo.records.contract import QUOTE_LIMIT, FieldMismatch, RecordContract, kind_of
from tap_crescendo.streams import BotConversationsStream, VocConversationsStream
from tests.support.scripted_server import page_body


def bot() -> RecordContract:
    """The bot stream's contract, built by the test (a module-level one escapes mutation tests)."""
    return RecordContract(BotConversationsStream.schema, BotConversationsStream.documented_unions)


def voc() -> RecordContract:
    """The VOC stream's contract, built by the test."""
    return RecordContract(VocConversationsStream.schema, VocConversationsStream.documented_unions)


Row: t.TypeAlias = dict[str, t.Any]
ROW: Row = {
    "ID": "c-1",
    "TenantID": "tenant-alpha",
    "BotID": "bot-1",
    "BotName": "Helper",
    "Datetime": 1_790_000_000_000,
    "EndDatetime": 1_790_000_080_000,
    "DatetimeUTC": "2026-09-21T13:33:20Z",
    "EndDatetimeUTC": "2026-09-21T13:34:40.5+02:00",
    "Duration": 80,
    "Escalated": False,
    "CSat": 4.5,
    "AgentId": "agent-7",
    "Media": ["chat"],
    "Contact Name": "Zoë",
}


def decode(row: dict[str, t.Any], contract: RecordContract | None = None) -> dict[str, t.Any]:
    """The record a row becomes (failing the test if any field was left out or made null)."""
    record, left_out, nulled = (contract or bot()).decode(json.dumps(row).encode())
    assert (left_out, nulled) == ({}, [])
    return as_dict(record)


def as_dict(record: msgspec.Struct) -> dict[str, t.Any]:
    """The record as its RECORD line holds it."""
    value: dict[str, t.Any] = msgspec.json.decode(msgspec.json.encode(record))
    assert msgspec.to_builtins(record) == value
    return value


def refusal(row: dict[str, t.Any], contract: RecordContract | None = None) -> str:
    """The message refusing a row."""
    with pytest.raises(FieldMismatch) as caught:
        (contract or bot()).decode(json.dumps(row).encode())
    return str(caught.value)


def test_a_row_in_contract_is_the_record_unchanged() -> None:
    record = decode(ROW)

    assert record == ROW
    assert (type(record["CSat"]), type(record["Datetime"])) == (float, int)


def test_a_field_left_out_by_the_api_stays_out_and_null_stays_null() -> None:
    assert "Summary" not in decode(ROW)
    assert decode({**ROW, "Summary": None})["Summary"] is None


@pytest.mark.parametrize(
    ("field", "sent", "delivered"),
    [
        pytest.param("AgentId", 17, "17", id="documented-integer-id"),
        pytest.param("ticketId", 90210, "90210", id="documented-integer-ticket"),
        pytest.param("Media", "chat", ["chat"], id="documented-single-media"),
        pytest.param("CSat", 4, 4.0, id="integer-number"),
        pytest.param("BotName", 5, "5", id="integer-in-any-string-field"),
        pytest.param("Contact Phone", -12, "-12", id="negative-integer-string"),
        pytest.param("AgentId", None, None, id="null-id"),
    ],
)
def test_lossless_conversions(field: str, sent: t.Any, delivered: t.Any) -> None:
    value = decode({**ROW, field: sent})[field]

    assert (value, type(value)) == (delivered, type(delivered))


@pytest.mark.parametrize(
    ("field", "sent", "expected", "got"),
    [
        pytest.param("CSat", True, "a number or null", "true", id="boolean-is-not-a-number"),
        pytest.param("Duration", "80", "an integer", '"80"', id="string-in-integer"),
        pytest.param("Duration", None, "an integer", "null", id="null-in-non-nullable"),
        pytest.param("Datetime", 1.5, "an integer or null", "1.5", id="float-in-integer"),
        pytest.param("BotName", {"a": 1}, "a string or null", '{"a":1}', id="object-in-string"),
        pytest.param("BotName", True, "a string or null", "true", id="boolean-in-string"),
        pytest.param(
            "DatetimeUTC",
            "yesterday",
            "a date-time string or null",
            '"yesterday"',
            id="malformed-date-time",
        ),
        pytest.param(
            "DatetimeUTC",
            "2026-13-01T00:00:00Z",
            "a date-time string or null",
            '"2026-13-01T00:00:00Z"',
            id="month-13",
        ),
        pytest.param(
            "EndDatetimeUTC",
            "\u0662\u0660\u0662\u0666-10-01T00:00:00Z",
            "a date-time string or null",
            '"\u0662\u0660\u0662\u0666-10-01T00:00:00Z"',
            id="digits-not-ascii",
        ),
        pytest.param(
            "DatetimeUTC",
            "2026-10-01T00:00:00Z\n",
            "a date-time string or null",
            '"2026-10-01T00:00:00Z\\n"',
            id="a-line-break-after-it",
        ),
        pytest.param(
            "DatetimeUTC",
            1_790_000_000_000,
            "a date-time string or null",
            "1790000000000",
            id="integer-is-not-a-date-time",
        ),
        pytest.param(
            "Media", ["chat", 3], "an array of strings or null", '["chat",3]', id="list-item"
        ),
        pytest.param("Escalated", "yes", "a boolean or null", '"yes"', id="string-in-boolean"),
    ],
)
def test_a_value_no_conversion_fits_names_field_expected_and_got(
    field: str, sent: t.Any, expected: str, got: str
) -> None:
    assert refusal({**ROW, field: sent}) == f"field {field!r}: expected {expected}, got {got}"


def test_a_required_field_missing_is_refused() -> None:
    row = {name: value for name, value in ROW.items() if name != "BotName"}

    assert refusal(row) == "field 'BotName': expected a string or null, got no such field"


@pytest.mark.parametrize("missing", ["ID", "BotName", "Duration"])
def test_a_required_field_missing_is_refused_when_every_other_field_is_there(
    missing: str,
) -> None:
    row = generate_bot_rows(1, start_ms=0, end_ms=86_400_000, seed=3)[0]
    assert row.keys() == BotConversationsStream.schema["properties"].keys()
    del row[missing]

    assert refusal(row).startswith(f"field {missing!r}: expected ")
    assert refusal(row).endswith(", got no such field")


def test_a_long_value_is_quoted_cut_short() -> None:
    message = refusal({**ROW, "Duration": "x" * 500})

    assert message == f"field 'Duration': expected an integer, got \"{'x' * 76}..."


def test_a_value_of_exactly_the_quote_limit_is_quoted_whole() -> None:
    message = refusal({**ROW, "Duration": "x" * (QUOTE_LIMIT - 2)})

    assert message == f"field 'Duration': expected an integer, got \"{'x' * (QUOTE_LIMIT - 2)}\""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"Duration": "x"}, "Duration", id="wrong-type"),
        pytest.param({"BotName": None}, "BotName", id="required-missing"),
    ],
)
def test_the_refusal_carries_the_record_id(change: dict[str, t.Any], field: str) -> None:
    row = {
        name: value for name, value in {**ROW, "ID": "c-42", **change}.items() if value is not None
    }

    with pytest.raises(FieldMismatch) as caught:
        bot().decode(json.dumps(row).encode())

    assert (caught.value.record_id, caught.value.field) == ("c-42", field)


def test_a_row_read_the_slow_way_is_converted_the_same() -> None:
    row = {**ROW, "NewField": 1, "Media": "chat", "AgentId": 17, "CSat": 4}

    record, left_out, _ = bot().decode(json.dumps(row).encode())

    assert left_out == {"NewField": 1}
    assert as_dict(record) == {**ROW, "Media": ["chat"], "AgentId": "17", "CSat": 4.0}


def test_fields_the_schema_lacks_are_dropped_and_named_with_their_values() -> None:
    row = {**ROW, "NewField": {"a": 1}, "Sentiment": 0.4, "BotName": 5}

    record, left_out, nulled = bot().decode(json.dumps(row).encode())

    assert left_out == {"NewField": {"a": 1}, "Sentiment": 0.4}
    assert nulled == []
    assert as_dict(record) == {**ROW, "BotName": "5"}


ADDED = {
    "Region": "string",
    "Score": "number",
    "Urgent": "boolean",
    "Meta": "object",
    "Tags": "array",
}
ADDED_VALUES = {"Region": "eu", "Score": 5, "Urgent": True, "Meta": {"a": [1]}, "Tags": [1, "x"]}


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(ADDED_VALUES, id="as-first-seen"),
        pytest.param({**ADDED_VALUES, "Score": 5.25, "Tags": []}, id="a-float-and-an-empty-list"),
        pytest.param(dict.fromkeys(ADDED), id="all-null"),
    ],
)
def test_an_added_field_holds_its_values_exactly_as_sent(values: Row) -> None:
    grown = bot().grown(ADDED)
    row = {**ROW, **values}

    assert decode(row, grown) == row
    page = grown.convert_page(grown.decode_page(page_body([row])).data)
    assert [as_dict(record) for record in page] == [row]
    assert as_dict(grown.decode(json.dumps(row).encode()).record)["Score"] == values["Score"]


def test_a_value_of_another_kind_in_an_added_field_is_null_and_named() -> None:
    grown = bot().grown({"Region": "string"}).grown({"Score": "number"})
    row = {**ROW, "Region": 17, "Score": "high", "AgentId": 17, "Later": 1}

    record, left_out, nulled = grown.decode(json.dumps(row).encode())

    assert as_dict(record) == {**ROW, "Region": None, "Score": None, "AgentId": "17"}
    assert nulled == [("Region", "number"), ("Score", "string")]
    assert left_out == {"Later": 1}
    assert grown.added == {"Region": "string", "Score": "number"}


def test_an_added_field_keeps_its_value_in_a_row_read_the_slow_way() -> None:
    grown = bot().grown({"Region": "string", "Meta": "object"})
    row = {**ROW, "Region": "eu", "Meta": None, "AgentId": 17, "Later": 1}

    record, left_out, nulled = grown.decode(json.dumps(row).encode())

    assert as_dict(record) == {**ROW, "Region": "eu", "Meta": None, "AgentId": "17"}
    assert (left_out, nulled) == ({"Later": 1}, [])


def test_a_documented_field_keeps_its_rules_beside_added_ones() -> None:
    grown = bot().grown({"Region": "string"})

    assert refusal({**ROW, "Region": "eu", "Duration": "x"}, grown) == (
        "field 'Duration': expected an integer, got \"x\""
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("x", "string"),
        (1, "number"),
        (1.5, "number"),
        (False, "boolean"),
        ({}, "object"),
        ([], "array"),
        (None, None),
    ],
)
def test_the_kind_of_a_value(value: t.Any, kind: str | None) -> None:
    assert kind_of(value) == kind


@pytest.mark.parametrize(
    ("field", "sent", "delivered"),
    [
        pytest.param("CustomerId", 9, "9", id="integer-customer-id"),
        pytest.param("Groups", "vip", ["vip"], id="single-group"),
        pytest.param("Sentiment", -1, -1.0, id="integer-sentiment"),
        pytest.param("Datetime", "2026-10-01T12:00:00+02:00", "2026-10-01T12:00:00+02:00", id="tz"),
        pytest.param("Problems", [{"x": [1, None]}], [{"x": [1, None]}], id="free-objects"),
    ],
)
def test_voc_fields(field: str, sent: t.Any, delivered: t.Any) -> None:
    record = decode({"ID": "v-1", field: sent}, voc())

    assert record == {"ID": "v-1", field: delivered}


def test_a_voc_media_list_is_refused_its_schema_is_a_string() -> None:
    assert refusal({"ID": "v-1", "Media": ["voice"]}, voc()) == (
        "field 'Media': expected a string or null, got [\"voice\"]"
    )


def test_null_in_a_nullable_date_time_stays_null() -> None:
    assert decode({**ROW, "EndDatetimeUTC": None})["EndDatetimeUTC"] is None


def test_an_array_of_objects_is_named_so() -> None:
    assert refusal({"ID": "v-1", "Problems": "late"}, voc()) == (
        "field 'Problems': expected an array of objects or null, got \"late\""
    )


def expected_bot_record(row: dict[str, t.Any]) -> dict[str, t.Any]:
    """The record a generated bot row becomes: its documented unions in the schema's type."""
    record = dict(row)
    for name in ("AgentId", "ticketId"):
        if type(record[name]) is int:
            record[name] = str(record[name])
    if type(record["Media"]) is str:
        record["Media"] = [record["Media"]]
    if type(record["CSat"]) is int:
        record["CSat"] = float(record["CSat"])
    return record


def page_records(contract: RecordContract, rows: list[Row]) -> list[msgspec.Struct]:
    """The records of a page of `rows`, decoded at once and finished."""
    return contract.convert_page(contract.decode_page(page_body(rows)).data)


def test_a_page_decodes_at_once_into_the_records_of_its_rows() -> None:
    rows = generate_bot_rows(60, start_ms=0, end_ms=86_400_000, seed=3)
    assert {type(row["AgentId"]) for row in rows} == {str, int, type(None)}

    records = page_records(bot(), rows)

    assert [as_dict(record) for record in records] == [expected_bot_record(row) for row in rows]
    assert [as_dict(record) for record in records] == [decode(row) for row in rows]


def test_a_voc_page_decodes_at_once_with_its_unions_converted() -> None:
    rows = [
        {"ID": "v-1", "CustomerId": 9, "TicketId": 12, "Groups": "vip", "Tags": ["a"]},
        {"ID": "v-2", "AgentId": 4, "Groups": None, "Tags": "b", "Sentiment": -1},
    ]

    records = page_records(voc(), rows)

    assert [as_dict(record) for record in records] == [
        {"ID": "v-1", "CustomerId": "9", "TicketId": "12", "Groups": ["vip"], "Tags": ["a"]},
        {"ID": "v-2", "AgentId": "4", "Groups": None, "Tags": ["b"], "Sentiment": -1.0},
    ]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"NewField": 1}, id="field-the-schema-lacks"),
        pytest.param({"BotName": 5}, id="integer-in-a-string-field"),
        pytest.param({"DatetimeUTC": "yesterday"}, id="malformed-date-time"),
        pytest.param({"EndDatetimeUTC": ""}, id="empty-date-time"),
        pytest.param({"EndDatetimeUTC": "2026-10-01T00:00:00Z\n"}, id="line-break-after-one"),
        pytest.param(
            {"DatetimeUTC": "2026-10-01T00:00:00Z\n2026-10-01T00:00:00Z"}, id="two-as-lines"
        ),
        pytest.param(
            {"DatetimeUTC": "\u0662\u0660\u0662\u0666-10-01T00:00:00Z"}, id="non-ascii-digits"
        ),
        pytest.param({"Duration": None}, id="null-in-non-nullable"),
    ],
)
def test_a_page_with_a_row_off_the_fast_path_is_left_to_row_by_row(change: Row) -> None:
    rows = generate_bot_rows(5, start_ms=0, end_ms=86_400_000, seed=3)
    rows[3].update(change)

    with pytest.raises(msgspec.ValidationError):
        page_records(bot(), rows)
