"""The lean record path: RECORD lines as the SDK would write them, stream maps, output order."""

from __future__ import annotations

import json
import logging
import typing as t
from datetime import datetime, timezone

import msgspec
import pytest
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.output.writer import StateFlushingWriter
from tap_crescendo.records.contract import RecordContract
from tap_crescendo.streams import BotConversationsStream
from tap_crescendo.sync.run import TenantRun
from tap_crescendo.sync.windows import DeliveredIds, Window, WindowProgress
from tap_crescendo.tap import TapCrescendo
from tap_crescendo.timestamps import format_epoch_ms, parse_timestamp, to_epoch_ms
from tests.support.scripted_server import page_body
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    strict_problems,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    import requests

    from tap_crescendo.sync.export import IncrementalExport

RECORD = {
    "ID": "c-1",
    "AgentName": "Zoë Lindqvist",
    "CSat": 4.0,
    "Duration": 80,
    "Escalated": False,
    "Media": ["chat", "voice"],
    "Problems": [{"name": "late", "score": 0.5}],
    "Summary": None,
}
EXTRACTED = datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.mark.parametrize("version", [None, 1764230400])
def test_a_record_line_is_byte_for_byte_what_the_sdk_writes(
    capsysbinary: pytest.CaptureFixture[bytes], version: int | None
) -> None:
    state = StateMessage(value={"bookmarks": {}})
    sdk_record = RecordMessage(
        stream="bot_conversations", record=dict(RECORD), version=version, time_extracted=EXTRACTED
    )
    expected = bytes(MsgSpecWriter().format_message(sdk_record))
    expected += bytes(MsgSpecWriter().format_message(state))

    writer = StateFlushingWriter()
    writer.write_record("bot_conversations", dict(RECORD), version, EXTRACTED)
    writer.write_message(state)

    assert capsysbinary.readouterr().out == expected


def test_records_are_held_back_until_a_state_then_written_before_it(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = StateFlushingWriter()
    writer.write_record("bot_conversations", dict(RECORD), None, EXTRACTED)
    writer.write_record("bot_conversations", {**RECORD, "ID": "c-2"}, None, EXTRACTED)

    assert capsysbinary.readouterr().out == b""

    writer.write_message(StateMessage(value={"bookmarks": {"bot_conversations": {}}}))
    messages = [json.loads(line) for line in capsysbinary.readouterr().out.splitlines()]

    assert [(m["type"], m.get("record", {}).get("ID")) for m in messages] == [
        ("RECORD", "c-1"),
        ("RECORD", "c-2"),
        ("STATE", None),
    ]


def test_stream_maps_rename_drop_and_filter_every_record(
    api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    maps = {
        "bot_conversations": {
            "__alias__": "conversations",
            "Contact Email": None,
            "__filter__": "Escalated == True",
        }
    }

    result = sync(tap_config(api_url, stream_maps=maps))

    records = [m for m in result.messages if m["type"] == "RECORD"]
    escalated = {row["ID"] for row in bot_rows if row["Escalated"] is True}
    assert escalated
    assert {m["stream"] for m in records} == {"conversations"}
    assert sorted(m["record"]["ID"] for m in records) == sorted(escalated)
    assert all("Contact Email" not in m["record"] for m in records)
    assert all("Contact Phone" in m["record"] for m in records)


def test_time_extracted_is_when_the_records_page_arrived(fake: FakeCrescendo, api_url: str) -> None:
    before = datetime.now(timezone.utc)
    result = sync(tap_config(api_url))
    after = datetime.now(timezone.utc)

    stamps = [m["time_extracted"] for m in result.messages if m["type"] == "RECORD"]
    assert len(stamps) == 250
    assert all(stamp.endswith("Z") for stamp in stamps)
    moments = {datetime.fromisoformat(stamp.replace("Z", "+00:00")) for stamp in stamps}
    assert all(before <= moment <= after for moment in moments)
    pages = [r for r in fake.requests if r.path.endswith("/botconv") and r.status == 200]
    assert 1 < len(moments) <= len(pages)  # one moment per page, not one per record


def test_every_page_of_a_stream_is_read_over_one_kept_alive_connection(
    fake: FakeCrescendo, api_url: str
) -> None:
    sync(tap_config(api_url, page_size=10, max_parallel_windows=1))

    ports: dict[str, set[int]] = {}
    for request in fake.requests:
        ports.setdefault(request.path.rsplit("/", 1)[-1], set()).add(request.client_port)
    assert len(fake.requests) > 25
    assert {export: len(used) for export, used in ports.items()} == {"botconv": 1, "vocconv": 1}


def test_a_restarted_window_knows_every_id_it_delivered() -> None:
    delivered = DeliveredIds()
    delivered.add_page(["c-1", "c-2", None])
    delivered.add_page(["c-3"])

    delivered.restart()
    delivered.add_page(["c-4"])

    assert delivered.seen == {"c-1", "c-2", "c-3", "c-4", None}


@pytest.mark.parametrize("version", [None, 1764230400])
def test_a_page_of_records_is_written_byte_for_byte_as_the_sdk_writes_each(
    capsysbinary: pytest.CaptureFixture[bytes], version: int | None
) -> None:
    rows = generate_bot_rows(30, start_ms=0, end_ms=86_400_000, seed=3)
    contract = RecordContract(
        BotConversationsStream.schema, BotConversationsStream.documented_unions
    )
    records = contract.convert_page(contract.decode_page(page_body(rows)).data)
    expected = b"".join(
        bytes(
            MsgSpecWriter().format_message(
                RecordMessage(
                    stream="bot_conversations",
                    record=msgspec.to_builtins(record),
                    version=version,
                    time_extracted=EXTRACTED,
                )
            )
        )
        for record in records
    )

    writer = StateFlushingWriter()
    writer.write_records("bot_conversations", records, version, EXTRACTED)
    writer.send_held_lines()

    assert capsysbinary.readouterr().out == expected


def bot_and_voc() -> tuple[IncrementalExport, IncrementalExport]:
    """The two streams of a tap (no request is sent)."""
    streams = TapCrescendo(config=tap_config("https://platform.crescendo.ai")).streams
    return (
        t.cast("IncrementalExport", streams["bot_conversations"]),
        t.cast("IncrementalExport", streams["voc_conversations"]),
    )


def bot_row(start_ms: int | None, start: str | None) -> dict[str, t.Any]:
    """A generated bot row starting at `start_ms` (`Datetime`) and `start` (`DatetimeUTC`)."""
    row = generate_bot_rows(1, start_ms=0, end_ms=86_400_000, seed=3)[0]
    return {**row, "Datetime": start_ms, "DatetimeUTC": start}


#: The window the pages below answer: 1970-01-01, in epoch ms.
DAY_ONE = Window(0, 86_400_000)


def at(seconds: float) -> str:
    """The date-time `seconds` into 1970-01-01."""
    return format_epoch_ms(int(seconds * 1000))


@pytest.mark.parametrize(
    ("starts", "newest", "outside"),
    [
        pytest.param(
            [(2000, at(2)), (5000, at(5)), (3000, at(3))], (5000, at(5)), 0, id="the-latest"
        ),
        pytest.param(
            [(5000, at(5)), (4000, at(4)), (5000, "1970-01-01T00:00:05Z")],
            (5000, at(5)),
            0,
            id="of-two-at-one-instant-the-first",
        ),
        pytest.param(
            [(5000, at(5)), (5000, "1970-01-01T00:00:05Z"), (-1, at(-0.001))],
            (5000, at(5)),
            1,
            id="of-two-at-one-instant-the-first-when-each-record-is-looked-at",
        ),
        pytest.param(
            [(1000, at(1)), (None, "1970-01-01T00:00:09.5Z")],
            (9500, "1970-01-01T00:00:09.5Z"),
            0,
            id="no-epoch-ms-then-the-date-time",
        ),
        pytest.param([(9000, None), (1000, at(1))], (1000, at(1)), 0, id="no-start-is-skipped"),
        pytest.param([(9000, None)], None, 0, id="none-at-all"),
        pytest.param(
            [(2000, at(2)), (86_400_000, at(86_400)), (-1, at(-0.001))],
            (2000, at(2)),
            2,
            id="a-start-outside-the-window-is-not-bookmarked",
        ),
        pytest.param([(0, at(0))], (0, at(0)), 0, id="the-window-start-is-inside"),
        pytest.param(
            [(2000, at(2)), (-1, at(-0.001))],
            (2000, at(2)),
            1,
            id="a-start-before-the-window-is-counted",
        ),
        pytest.param(
            [(2000, at(2)), (5000, "2099-12-31T23:58:20Z")],
            (2000, at(2)),
            0,
            id="a-date-time-outside-the-window-is-not-bookmarked",
        ),
        pytest.param(
            [(2000, at(2)), (None, "1970-02-31T00:00:00Z")],
            (2000, at(2)),
            1,
            id="a-date-the-calendar-lacks-is-not-bookmarked",
        ),
    ],
)
def test_the_newest_start_of_a_bot_page_inside_its_window(
    starts: list[tuple[int | None, str | None]], newest: tuple[int, str] | None, outside: int
) -> None:
    bot, _ = bot_and_voc()
    rows = [bot_row(millis, text) for millis, text in starts]
    window = WindowProgress(DAY_ONE)

    records = bot.contract.convert_page(bot.contract.decode_page(page_body(rows)).data)

    assert bot.record_starts.newest(records, window) == newest
    assert window.outside == outside


def test_the_newest_start_of_a_voc_page_is_the_latest_instant_whatever_the_offset() -> None:
    _, voc = bot_and_voc()
    rows: list[dict[str, t.Any]] = [
        {"ID": "v-1", "Datetime": "2026-10-01T12:00:00+02:00"},
        {"ID": "v-2", "Datetime": "2026-10-01T11:00:00Z"},
        {"ID": "v-3"},
        {"ID": "v-4", "Datetime": None},
        {"ID": "v-5", "Datetime": "2026-10-02T00:00:00Z"},
    ]
    window = WindowProgress(Window(SPAN_START_MS, SPAN_START_MS + 86_400_000))

    records = voc.contract.convert_page(voc.contract.decode_page(page_body(rows)).data)

    assert voc.record_starts.newest(records, window) == (
        to_epoch_ms(parse_timestamp("2026-10-01T11:00:00Z")),
        "2026-10-01T11:00:00Z",
    )
    assert window.outside == 1


def test_the_record_count_metric_counts_every_record_written(
    api_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")

    result = sync(tap_config(api_url))

    counts: dict[str, int] = {}
    contexts = []
    for record in caplog.records:
        if "METRIC" in record.getMessage():
            point = json.loads(record.getMessage().split("METRIC: ", 1)[1])
            if point["metric"] in {"record_count", "sync_duration"}:
                contexts.append(point["tags"]["context"])  # as the SDK's loop tags them
            if point["metric"] == "record_count":
                stream = point["tags"]["stream"]
                counts[stream] = counts.get(stream, 0) + point["value"]
    assert counts == {"bot_conversations": 250, "voc_conversations": 0}
    assert contexts == [{}] * 4
    assert len(result.records) == 250


def test_flattening_turns_lists_of_objects_into_json_text_as_its_schema_says() -> None:
    voc_rows = generate_voc_rows(30, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=1)
    fake = FakeCrescendo(
        api_keys={API_KEY: {TENANT}}, rows={TENANT: []}, voc_rows={TENANT: voc_rows}
    )
    with fake.serve() as url:
        result = sync(tap_config(url, flattening_enabled=True, flattening_max_depth=1))

    problems = {row["ID"]: row["Problems"] for row in voc_rows}
    assert result.schema("voc_conversations")["properties"]["Problems"]["type"][0] == "string"
    assert len(result.records) == 30
    assert all(
        record["Problems"] is None or json.loads(record["Problems"]) == problems[record["ID"]]
        for record in result.records
    )
    assert any(isinstance(record["Problems"], str) for record in result.records)
    assert strict_problems(result.messages) == []


class KeptPages:
    """An output that keeps the pages added to it, as dicts."""

    def __init__(self) -> None:
        self.pages: list[list[dict[str, t.Any]]] = []

    def add(self, page: list[msgspec.Struct], extracted_at: datetime) -> None:
        del extracted_at
        self.pages.append(msgspec.to_builtins(page))

    def offer_checkpoint(self, bookmark: str) -> None:
        raise AssertionError(bookmark)

    def grow_schema(self, properties: Mapping[str, Mapping[str, t.Any]]) -> None:
        raise AssertionError(properties)

    def close(self) -> None:
        pass


def test_a_row_without_an_id_is_delivered_again_when_its_window_is_read_again() -> None:
    _, voc = bot_and_voc()
    rows: list[dict[str, t.Any]] = [
        {"ID": "v-1", "Datetime": "2026-10-01T11:00:00Z"},
        {"Datetime": "2026-10-01T12:00:00Z"},
    ]
    no_response = t.cast("requests.Response", None)  # read only for a page off the fast path
    output = KeptPages()
    run = TenantRun(
        voc.subject(TENANT),
        [Window(SPAN_START_MS, SPAN_START_MS + 86_400_000)],
        resume_ms=None,
        records=voc.page_records(TENANT),
        starts=voc.record_starts,
        id_attribute=voc.contract.attribute("ID"),
        output=output,
        logger=voc.logger,
    )

    counts = [run.records_out(0, voc.contract.decode_page(page_body(rows)), no_response)]
    run.restart(0)
    counts += [run.records_out(0, voc.contract.decode_page(page_body(rows)), no_response)]
    counts += [run.records_out(0, voc.contract.decode_page(page_body(rows)), no_response)]

    assert output.pages == [rows, [rows[1]], [rows[1]]]
    assert counts == [2, 1, 1]
