"""The one rule of what goes out: a STATE claims only what is already out.

`RecordLines` writes a STATE at once, after the lines before it; `BatchFiles` holds it until
every row it claims is in a file a BATCH message announced.
"""

from __future__ import annotations

import json
import logging
import typing as t
from datetime import datetime, timezone

import pytest
from singer_sdk.singerlib import SchemaMessage, StateMessage

from tap_crescendo.errors import StateError
from tap_crescendo.output.base import StateLine
from tap_crescendo.output.batch_files import BatchFiles
from tap_crescendo.output.record_lines import RecordLines
from tap_crescendo.output.writer import StateFlushingWriter
from tests.support.batch_output import file_rows, sdk_batch_config

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    import msgspec

    from tap_crescendo.output.base import Record

EXTRACTED = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
LOGGER = logging.getLogger("tests.outputs")


def as_is(page: list[msgspec.Struct]) -> Iterable[tuple[str, Sequence[Record]]]:
    """Every record to the stream `bots`, as added."""
    return (("bots", page),)


BOTS_SCHEMA = {"properties": {"ID": {"type": ["string"]}}}


def grown_bots(properties: Mapping[str, Mapping[str, t.Any]]) -> list[SchemaMessage]:
    """The SCHEMA of `bots` grown by `properties`; none when they are left out (`Hidden`)."""
    if "Hidden" in properties:
        return []
    grown = {"properties": {**BOTS_SCHEMA["properties"], **properties}}
    return [SchemaMessage("bots", grown, ["ID"], ["DatetimeUTC"])]


def state_line(writer: StateFlushingWriter, state: dict[str, t.Any]) -> StateLine:
    """A tenant's state whose STATE goes out through `writer`, as the SDK writes it."""

    def emit(tenant_state: dict[str, t.Any]) -> None:
        writer.write_message(StateMessage(value={"bookmarks": {"bots": dict(tenant_state)}}))

    return StateLine(state, "DatetimeUTC", "acme", emit)


def record_lines(writer: StateFlushingWriter, state: dict[str, t.Any]) -> RecordLines:
    """A tenant's RECORD lines, for the stream `bots`, through `writer`."""
    return RecordLines(
        writer,
        routes=as_is,
        schema_growth=grown_bots,
        version=None,
        state_line=state_line(writer, state),
    )


def batch_files(
    root: Path, state: dict[str, t.Any], *, batch_size: int = 3
) -> tuple[BatchFiles, StateFlushingWriter]:
    """A tenant's BATCH files under `root`, for the stream `bots`, and the writer they use."""
    writer = StateFlushingWriter()
    output = BatchFiles(
        sdk_batch_config(root.as_uri(), batch_size=batch_size),
        schemas={"bots": BOTS_SCHEMA},
        routes=as_is,
        schema_growth=grown_bots,
        writer=writer,
        state_line=state_line(writer, state),
        subject="Stream 'bots', tenant 'acme'",
        where="STATE for stream 'bots'",
        logger=LOGGER,
    )
    return output, writer


def rows(*ids: str, **fields: t.Any) -> list[t.Any]:
    """Records of these IDs, each with `fields`."""
    return [{"ID": row_id, **fields} for row_id in ids]


def lines(output: bytes) -> list[tuple[str, t.Any]]:
    """Each line as (type, what it carries): IDs, a file's URI, or the bookmark."""
    kept: list[tuple[str, t.Any]] = []
    for line in output.decode().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            kept.append(("RECORD", message["record"]["ID"]))
        elif message["type"] == "BATCH":
            kept.append(("BATCH", file_rows(message["manifest"][0])))
        elif message["type"] == "SCHEMA":
            kept.append(("SCHEMA", list(message["schema"]["properties"])))
        else:
            kept.append(("STATE", message["value"]["bookmarks"]["bots"]["replication_key_value"]))
    return kept


def test_record_lines_write_the_state_at_once_after_the_lines_before_it(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = StateFlushingWriter()
    state: dict[str, t.Any] = {}
    output = record_lines(writer, state)

    output.add(rows("a", "b"), EXTRACTED)
    output.offer_checkpoint("2026-12-01T00:00:00Z")
    output.add(rows("c"), EXTRACTED)
    before_close = capsysbinary.readouterr().out
    output.close()

    assert lines(before_close) == [
        ("RECORD", "a"),
        ("RECORD", "b"),
        ("STATE", "2026-12-01T00:00:00Z"),
    ]
    assert lines(capsysbinary.readouterr().out) == [("RECORD", "c")]
    assert state == {
        "replication_key": "DatetimeUTC",
        "replication_key_value": "2026-12-01T00:00:00Z",
        "tenant_id": "acme",
    }


def test_batch_files_hold_a_state_until_the_file_of_its_last_row_is_announced(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    state: dict[str, t.Any] = {}
    output, _ = batch_files(tmp_path, state)

    output.add(rows("a", "b"), EXTRACTED)
    output.offer_checkpoint("2026-12-01T00:00:00Z")
    held = capsysbinary.readouterr().out
    output.add(rows("c", "d"), EXTRACTED)  # a file of a, b, c: the first STATE's rows are out
    output.offer_checkpoint("2026-12-02T00:00:00Z")
    output.offer_checkpoint("2026-12-03T00:00:00Z")
    second_held = capsysbinary.readouterr().out
    output.close()

    assert held == b""
    assert lines(second_held) == [("BATCH", rows("a", "b", "c")), ("STATE", "2026-12-01T00:00:00Z")]
    # Of two checkpoints the same file covers, only the newer is written.
    assert lines(capsysbinary.readouterr().out) == [
        ("BATCH", rows("d")),
        ("STATE", "2026-12-03T00:00:00Z"),
    ]
    [(stem, count)] = state["batch_runs"].items()
    assert stem.startswith(tmp_path.as_uri())
    assert count == 2


def test_record_lines_write_a_grown_schema_after_the_lines_before_it(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = StateFlushingWriter()
    output = record_lines(writer, {})

    output.add(rows("a"), EXTRACTED)
    output.grow_schema({"Region": {"type": ["string", "null"]}})
    output.add(rows("b", Region="eu"), EXTRACTED)
    output.grow_schema({"Hidden": {"type": ["string", "null"]}})  # a map leaves it out
    output.offer_checkpoint("2026-12-01T00:00:00Z")

    assert lines(capsysbinary.readouterr().out) == [
        ("RECORD", "a"),
        ("SCHEMA", ["ID", "Region"]),
        ("RECORD", "b"),
        ("STATE", "2026-12-01T00:00:00Z"),
    ]


def test_batch_files_announce_the_open_file_before_a_grown_schema_and_its_rows_after(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    output, _ = batch_files(tmp_path, {}, batch_size=3)

    output.grow_schema({"Early": {"type": ["string", "null"]}})  # before any file
    output.add(rows("a", "b"), EXTRACTED)
    output.offer_checkpoint("2026-12-01T00:00:00Z")
    output.grow_schema({"Region": {"type": ["string", "null"]}})
    output.add(rows("c", Region="eu"), EXTRACTED)
    output.offer_checkpoint("2026-12-02T00:00:00Z")  # c is in no announced file yet
    output.grow_schema({"Hidden": {"type": ["string", "null"]}})  # no new SCHEMA: file stays
    output.add(rows("d", "e"), EXTRACTED)
    output.close()

    assert lines(capsysbinary.readouterr().out) == [
        ("SCHEMA", ["ID", "Early"]),
        ("BATCH", rows("a", "b")),
        ("STATE", "2026-12-01T00:00:00Z"),
        ("SCHEMA", ["ID", "Region"]),
        ("BATCH", [{"ID": "c", "Region": "eu"}, {"ID": "d"}, {"ID": "e"}]),
        ("STATE", "2026-12-02T00:00:00Z"),
    ]


def test_batch_files_remove_the_files_the_incoming_state_counts_before_any_is_written(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    first: dict[str, t.Any] = {}
    output, _ = batch_files(tmp_path, first, batch_size=1)
    output.add(rows("a", "b"), EXTRACTED)
    output.close()
    capsysbinary.readouterr()
    written = sorted(path.name for path in tmp_path.rglob("*.gz"))
    caplog.set_level(logging.INFO, logger=LOGGER.name)

    batch_files(tmp_path, dict(first), batch_size=1)

    assert len(written) == 2
    assert list(tmp_path.rglob("*.gz")) == []
    assert caplog.messages == [
        "Stream 'bots', tenant 'acme': removed 2 batch files the target loaded in the last run"
    ]


def test_batch_files_refuse_a_state_whose_file_counts_are_not_counts(tmp_path: Path) -> None:
    state: dict[str, t.Any] = {"batch_runs": {"file:///batches/bots-x": "3"}}

    with pytest.raises(StateError) as refused:
        batch_files(tmp_path, state)

    assert str(refused.value) == (
        "STATE for stream 'bots': batch_runs must map file stems to counts of files, "
        "got {'file:///batches/bots-x': '3'}"
    )
