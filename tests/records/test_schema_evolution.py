"""New API fields over the fake API: added with a SCHEMA first (evolve), left out, or a stop."""

from __future__ import annotations

import json
import logging
import typing as t

import msgspec
import pytest

from tap_crescendo.api.pagination import Cursor, Page
from tap_crescendo.errors import APIError
from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.streams import BotConversationsStream
from tap_crescendo.tap import TapCrescendo
from tests.support.batch_output import batch_config, file_rows, read_parquet
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    catalog_without,
    run_command,
    strict_problems,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from pathlib import Path

    import requests

    from tap_crescendo.sync.export import IncrementalExport
    from tests.support.tap_runs import Sync

Row: t.TypeAlias = dict[str, t.Any]
BOT, VOC = "bot_conversations", "voc_conversations"
DECLARED = list(BotConversationsStream.schema["properties"])
#: Each new field: the row it first appears in, and its values (by row index).
NEW_FIELDS: dict[str, tuple[int, t.Callable[[int], t.Any]]] = {
    "Region": (50, lambda i: "eu" if i % 2 else "us"),
    "Score": (100, lambda i: i if i % 2 else i + 0.5),
    "Urgent": (150, lambda i: i % 3 == 0),
    "Meta": (200, lambda i: {"turns": i, "tags": ["a", None]}),
    "Labels": (220, lambda i: [i, "x", {"y": None}]),
}
KINDS = {"Region": "string", "Score": "number", "Urgent": "boolean", "Meta": "object"}
ADDED = "which the schema lacks, as a nullable"


def bot_rows(count: int = 250, seed: int = 3) -> list[Row]:
    """Bot rows over the test span, in the order of their start."""
    rows = generate_bot_rows(count, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=seed)
    return sorted(rows, key=lambda row: row["Datetime"])


def with_new_fields(rows: list[Row]) -> list[Row]:
    """The rows, each carrying the new fields from the row each first appears in."""
    return [
        {**row, **{name: value(i) for name, (first, value) in NEW_FIELDS.items() if i >= first}}
        for i, row in enumerate(rows)
    ]


def serve(rows: list[Row], voc: list[Row] | None = None) -> FakeCrescendo:
    """The fake API with these rows for the test tenant."""
    return FakeCrescendo(
        api_keys={API_KEY: {TENANT}}, rows={TENANT: rows}, voc_rows={TENANT: voc or []}
    )


def as_json(value: t.Any) -> str:
    """A value as JSON text: 7 and 7.0 differ."""
    return json.dumps(value, sort_keys=True)


def flow(result: Sync, stream: str = BOT) -> list[tuple[str, t.Any]]:
    """A stream's SCHEMA (its properties) and RECORD (its ID) messages, in order."""
    return [
        ("SCHEMA", list(m["schema"]["properties"]))
        if m["type"] == "SCHEMA"
        else ("RECORD", m["record"]["ID"])
        for m in result.messages
        if m["type"] in {"SCHEMA", "RECORD"} and m["stream"] == stream
    ]


def schemas(result: Sync, stream: str = BOT) -> list[dict[str, t.Any]]:
    """Each SCHEMA message's schema for `stream`, in order."""
    return [m["schema"] for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == stream]


def said(caplog: pytest.LogCaptureFixture, level: str, part: str) -> list[str]:
    """The messages of `level` holding `part`."""
    return [
        r.getMessage() for r in caplog.records if r.levelname == level and part in r.getMessage()
    ]


def test_each_kind_of_new_field_is_added_with_its_schema_before_its_first_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    rows = with_new_fields(bot_rows())
    rows[40] = {**rows[40], "Region": None}  # met as null first: typed by its first value

    with serve(rows).serve() as url:
        result = sync(tap_config(url))

    assert result.error is None
    assert strict_problems(result.messages) == []  # each RECORD fits the SCHEMA before it
    # Strict: a RECORD with a field its latest SCHEMA lacks would be a problem above.
    assert [list(schema["properties"]) for schema in schemas(result)] == [
        DECLARED + list(NEW_FIELDS)[:count] for count in range(len(NEW_FIELDS) + 1)
    ]
    grown_messages = [m for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == BOT]
    assert {
        (tuple(m["key_properties"]), tuple(m["bookmark_properties"])) for m in grown_messages
    } == {(("ID",), ("DatetimeUTC",))}
    grown = schemas(result)[-1]["properties"]
    assert {name: grown[name] for name in NEW_FIELDS} == {
        "Region": {"type": ["string", "null"]},
        "Score": {"type": ["number", "null"]},
        "Urgent": {"type": ["boolean", "null"]},
        "Meta": {"type": ["object", "null"]},
        "Labels": {"type": ["array", "null"]},
    }
    records = {record["ID"]: record for record in result.records}
    assert records[rows[40]["ID"]].get("Region") is None  # left out, or null once added
    for row in rows[:40] + rows[41:]:
        record = records[row["ID"]]
        assert as_json({name: record[name] for name in NEW_FIELDS if name in record}) == as_json(
            {name: row[name] for name in NEW_FIELDS if name in row}
        )
    assert said(caplog, "INFO", ADDED) == [
        f"Stream '{BOT}': added field '{name}', {ADDED} {kind}"
        for name, kind in {**KINDS, "Labels": "array"}.items()
    ]


def test_freeze_stops_before_the_first_row_with_a_new_field_and_no_state_claims_it(
    tmp_path: Path,
) -> None:
    rows = bot_rows()
    refused = rows[120]
    rows[120] = {**refused, "Region": "eu"}
    rows[130] = {**rows[130], "Other": 1}

    with serve(rows).serve() as url:
        command = run_command([], tmp_path, tap_config(url, schema_evolution="freeze"))

    errors = [line for line in command.stderr.splitlines() if "| ERROR" in line]
    assert command.returncode == 1
    assert "Traceback" not in command.stderr
    assert errors[-1].endswith(
        f"Stream '{BOT}', tenant '{TENANT}', record {refused['ID']!r}: the API sent field "
        "'Region', which the schema lacks; `schema_evolution` is freeze, so the sync stops "
        "before this record (set it to evolve or discard to go on)"
    )
    records = [m["record"] for m in command.messages if m["type"] == "RECORD"]
    assert refused["ID"] not in {record["ID"] for record in records}
    assert {row["ID"] for row in rows[:120] if row["Datetime"] < _day_start(refused)} <= {
        record["ID"] for record in records
    }
    assert [m["schema"] for m in command.messages if m["type"] == "SCHEMA"][:1] == [
        BotConversationsStream.schema
    ]
    states = [m["value"] for m in command.messages if m["type"] == "STATE"]
    bookmark = states[-1]["bookmarks"][BOT]["replication_key_value"]
    assert bookmark < refused["DatetimeUTC"]


def test_freeze_names_a_voc_record_without_an_id() -> None:
    config = tap_config("https://platform.crescendo.ai", schema_evolution="freeze")
    voc = t.cast("IncrementalExport", TapCrescendo(config=config).streams[VOC])
    rows = [{"ID": "v-1", "Datetime": "2026-10-01T11:00:00Z"}, {"Lang": "de"}]
    page = Page(total=2, cursor=Cursor(next=None), data=msgspec.Raw(json.dumps(rows).encode()))

    with pytest.raises(APIError) as stopped:
        voc.page_records(TENANT).of(page, t.cast("requests.Response", None))

    assert str(stopped.value) == (
        f"Stream '{VOC}', tenant '{TENANT}', record None: the API sent field 'Lang', which the "
        "schema lacks; `schema_evolution` is freeze, so the sync stops before this record (set "
        "it to evolve or discard to go on)"
    )


def _day_start(row: Row) -> int:
    """The start of the day (a window) a row starts in, in epoch ms."""
    start: int = row["Datetime"]
    return start - (start - SPAN_START_MS) % 86_400_000


def test_a_value_of_another_kind_in_an_added_field_loads_as_null_told_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    rows = [
        {**row, "Region": "eu", "Score": 1.5} if i >= 50 else row
        for i, row in enumerate(bot_rows())
    ]
    rows[80] = {**rows[80], "Region": 5}
    rows[90] = {**rows[90], "Region": {"x": 1}}
    rows[120] = {**rows[120], "Score": "high"}

    with serve(rows).serve() as url:
        result = sync(tap_config(url))

    assert result.error is None
    assert strict_problems(result.messages) == []
    records = {record["ID"]: record for record in result.records}
    assert sorted(records) == sorted(row["ID"] for row in rows)
    assert [records[rows[i]["ID"]]["Region"] for i in (79, 80, 90)] == ["eu", None, None]
    assert records[rows[120]["ID"]]["Score"] is None
    assert said(caplog, "WARNING", "such values are extracted as null") == [
        f"Stream '{BOT}': added field 'Region' holds string values, but record "
        f"{rows[80]['ID']!r} sent a number; such values are extracted as null",
        f"Stream '{BOT}': added field 'Score' holds number values, but record "
        f"{rows[120]['ID']!r} sent a string; such values are extracted as null",
    ]
    assert said(caplog, "INFO", " records from ")[0].endswith(
        "; 0 rows with fields the schema lacks; 3 values of added fields made null"
    )


def test_a_catalog_that_deselects_a_property_gets_no_new_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [{**row, "Region": "eu"} if i >= 50 else row for i, row in enumerate(bot_rows())]

    with serve(rows).serve() as url:
        config = tap_config(url)
        result = sync(config, catalog=catalog_without(config, "Summary"))

    assert result.error is None
    assert len(schemas(result)) == 1
    assert not any("Region" in record for record in result.records)
    assert said(caplog, "WARNING", "the schema lacks") == [
        f"Stream '{BOT}': the API sent fields that the schema lacks; not extracted, as the "
        "catalog deselects properties of the stream: 'Region'"
    ]


def test_500_random_keys_and_names_with_line_breaks_forge_no_log_line(tmp_path: Path) -> None:
    rows = bot_rows()
    junk = {f"junk_{index:03d}_{(index * 7919) % 1000:03d}": index for index in range(500)}
    hostile = {"x\n2026-12-07 | CRITICAL | forged": 1, "\x1b[2J\x1b[31mred": 2}
    rows[60] = {**rows[60], **junk, **hostile}

    with serve(rows).serve() as url:
        command = run_command([], tmp_path, tap_config(url))

    assert command.returncode == 0
    messages = command.messages
    grown = [m["schema"] for m in messages if m["type"] == "SCHEMA" and m["stream"] == BOT][-1]
    assert list(grown["properties"]) == DECLARED + list(junk)[:100]
    assert strict_problems(messages) == []
    assert "\x1b" not in command.stderr
    assert not [line for line in command.stderr.splitlines() if "CRITICAL" in line.split("|")[1:2]]
    told = [line for line in command.stderr.splitlines() if "the schema lacks; not" in line]
    assert len(told) == 2
    assert told[1].endswith(
        "as the name holds control characters: 'x\\n2026-12-07 | CRITICAL | forged', "
        "'\\x1b[2J\\x1b[31mred'"
    )
    assert told[0].endswith(
        "the most it takes: "
        + ", ".join(f"'{name}'" for name in list(junk)[100:110])
        + " and 390 more"
    )
    added = [line for line in command.stderr.splitlines() if ADDED in line]
    assert len(added) == 100


def test_both_streams_grow_and_a_tenant_without_the_field_loads_beside_one_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    acme = [{**row, "Region": "eu"} if i >= 5 else row for i, row in enumerate(bot_rows(20, 1))]
    globex = bot_rows(20, 2)
    globex = [{**row, "TenantID": "globex"} for row in globex]
    voc = generate_voc_rows(30, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=3)
    voc = [{**row, "Language": "de"} for row in voc]
    fake = FakeCrescendo(
        api_keys={API_KEY: {TENANT, "globex"}},
        rows={TENANT: acme, "globex": globex},
        voc_rows={TENANT: voc},
    )

    with fake.serve() as url:
        result = sync(tap_config(url, tenant_id=None, tenant_ids=[TENANT, "globex"]))

    assert result.error is None
    assert strict_problems(result.messages) == []
    assert [list(schema["properties"])[-1] for schema in schemas(result)] == [
        "Contact Phone",
        "Region",
    ]
    assert [list(schema["properties"])[-1] for schema in schemas(result, VOC)][-1] == "Language"
    records = {r["ID"]: r for m in result.messages if m["type"] == "RECORD" for r in [m["record"]]}
    assert [records[row["ID"]].get("Region") for row in acme] == [None] * 5 + ["eu"] * 15
    assert not any("Region" in records[row["ID"]] for row in globex)
    assert {records[row["ID"]]["Language"] for row in voc} == {"de"}
    assert said(caplog, "INFO", ADDED) == [
        f"Stream '{BOT}': added field 'Region', {ADDED} string",
        f"Stream '{VOC}': added field 'Language', {ADDED} string",
    ]


@pytest.mark.parametrize("encoding_format", ["jsonl", "parquet"])
def test_batch_files_end_before_a_grown_schema_and_the_next_files_carry_the_field(
    tmp_path: Path, encoding_format: str
) -> None:
    rows = [{**row, "Region": f"r{i}"} if i >= 55 else row for i, row in enumerate(bot_rows())]
    config = tap_config(
        "", batch_config=batch_config(tmp_path, size=20, encoding_format=encoding_format)
    )

    with serve(rows).serve() as url:
        result = sync({**config, "api_url": url})

    assert result.error is None
    read = read_parquet if encoding_format == "parquet" else file_rows
    flow_of: list[tuple[str, t.Any]] = []
    announced: set[str] = set()
    for message in result.messages:
        if message.get("stream", BOT) != BOT:
            continue
        if message["type"] == "SCHEMA":
            flow_of.append(("SCHEMA", "Region" in message["schema"]["properties"]))
        elif message["type"] == "BATCH":
            file = read(message["manifest"][0])
            announced |= {row["ID"] for row in file}
            flow_of.append(("BATCH", {row.get("Region") is not None for row in file}))
            if encoding_format == "parquet":
                assert ("Region" in file[0]) == (flow_of.count(("SCHEMA", True)) == 1)
        elif message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"][BOT]["replication_key_value"]
            assert {row["ID"] for row in rows if row["DatetimeUTC"] <= bookmark} <= announced
    grown_at = flow_of.index(("SCHEMA", True))
    assert flow_of[0] == ("SCHEMA", False)
    assert all(carried == {False} for kind, carried in flow_of[1:grown_at])
    assert [carried for _, carried in flow_of[grown_at + 1 :]] == [{True}] * (
        len(flow_of) - grown_at - 1
    )
    assert announced == {row["ID"] for row in rows}
    by_id: dict[str, Row] = {}
    for message in result.messages:
        if message["type"] == "BATCH" and message["stream"] == BOT:
            by_id |= {row["ID"]: row for row in read(message["manifest"][0])}
    assert [by_id[row["ID"]].get("Region") for row in rows] == [row.get("Region") for row in rows]


def test_stream_maps_see_the_grown_schema_else_null_drops_and_flattening_writes_json() -> None:
    rows = [
        {**row, "Meta": {"turns": i}, "Region": "eu"} if i >= 10 else row
        for i, row in enumerate(bot_rows(30))
    ]
    only_id = {"stream_maps": {BOT: {"ID": "ID", "__else__": None}}}
    flat = {"flattening_enabled": True, "flattening_max_depth": 1}

    with serve(rows).serve() as url:
        dropped = sync(tap_config(url, **only_id))
        flattened = sync(tap_config(url, **flat))

    assert dropped.error is None
    assert [list(schema["properties"]) for schema in schemas(dropped)] == [["ID"]]
    assert {tuple(record) for record in dropped.records} == {("ID",)}
    assert strict_problems(flattened.messages) == []
    assert schemas(flattened)[-1]["properties"]["Meta"] == {"type": ["string", "null"]}
    assert [record.get("Meta") for record in flattened.records][9:11] == [None, '{"turns":10}']


def test_each_run_starts_from_the_declared_schema_and_adds_the_field_again() -> None:
    rows = [{**row, "Region": "eu"} for row in bot_rows()]

    with serve(rows).serve() as url:
        first = sync(tap_config(url))
        second = sync(tap_config(url), first.states[-1])

    for result in (first, second):
        assert [list(schema["properties"]) for schema in schemas(result)] == [
            DECLARED,
            [*DECLARED, "Region"],
        ]
        assert strict_problems(result.messages) == []
    assert second.records
