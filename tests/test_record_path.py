"""The lean record path: RECORD lines as the SDK would write them, stream maps, output order."""

from __future__ import annotations

import json
import typing as t
from datetime import datetime, timezone

import pytest
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_crescendo.windows import DeliveredIds
from tap_crescendo.writer import StateFlushingWriter
from tests.tap_runs import sync, tap_config

if t.TYPE_CHECKING:
    from tap_crescendo.fake_api import FakeCrescendo

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
