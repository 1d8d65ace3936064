"""Singer output: lines gathered into chunks, sent at each STATE, and a target that goes away."""

from __future__ import annotations

import io
import os
import typing as t
from datetime import datetime, timezone

import pytest
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage

from tap_crescendo.output import writer as writer_module
from tap_crescendo.output.writer import CHUNK_BYTES, TARGET_GONE, StateFlushingWriter
from tap_crescendo.stopping import StopRequested, StopSwitch

if t.TYPE_CHECKING:
    from pathlib import Path

EXTRACTED = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)
STREAM = "bot_conversations"


def record(record_id: str, summary_length: int = 900) -> dict[str, t.Any]:
    """A small record whose line length grows one byte a character of summary."""
    return {"ID": record_id, "Summary": "x" * summary_length}


def line_of(message: RecordMessage | SchemaMessage | StateMessage) -> bytes:
    """A message's line, as the SDK's own writer formats it."""
    return bytes(MsgSpecWriter().format_message(message))


def record_line(values: dict[str, t.Any]) -> bytes:
    """The RECORD line of `values`."""
    return line_of(RecordMessage(stream=STREAM, record=values, time_extracted=EXTRACTED))


def test_record_lines_are_sent_once_they_fill_a_chunk_exactly(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    records = [record(f"c-{n:04d}") for n in range(400)]
    lines = [record_line(values) for values in records]
    count = next(n for n in range(len(lines)) if len(b"".join(lines[: n + 1])) >= CHUNK_BYTES)
    short = CHUNK_BYTES - len(b"".join(lines[:count]))  # the last line makes it exactly a chunk
    last = record(f"c-{count:04d}", 900 + short - len(lines[count]))
    writer = StateFlushingWriter()

    for values in records[:count]:
        writer.write_record(STREAM, values, None, EXTRACTED)
    held = capsysbinary.readouterr().out
    writer.write_record(STREAM, last, None, EXTRACTED)

    assert held == b""
    sent = capsysbinary.readouterr().out
    assert len(sent) == CHUNK_BYTES
    assert sent == b"".join(lines[:count]) + record_line(last)


def test_any_message_that_fills_a_chunk_sends_it(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = StateFlushingWriter()
    half = SchemaMessage(
        stream=STREAM, schema={"type": "object", "description": ""}, key_properties=["ID"]
    )
    padding = CHUNK_BYTES // 2 - len(line_of(half))
    half = SchemaMessage(
        stream=STREAM,
        schema={"type": "object", "description": "x" * padding},
        key_properties=["ID"],
    )

    writer.write_message(half)
    held = capsysbinary.readouterr().out
    writer.write_message(half)

    assert len(line_of(half)) == CHUNK_BYTES // 2
    assert held == b""
    assert capsysbinary.readouterr().out == 2 * line_of(half)


def test_a_state_sends_everything_before_it_at_once(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = StateFlushingWriter()
    state = StateMessage(value={"bookmarks": {}})

    writer.write_record(STREAM, record("c-1", 10), None, EXTRACTED)
    held = capsysbinary.readouterr().out
    writer.write_message(state)

    assert held == b""
    assert capsysbinary.readouterr().out == record_line(record("c-1", 10)) + line_of(state)


def test_a_stream_end_sends_the_lines_after_the_last_state(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = StateFlushingWriter()
    state = StateMessage(value={"bookmarks": {}})
    writer.write_message(state)
    writer.write_record(STREAM, record("c-1", 10), None, EXTRACTED)
    held = capsysbinary.readouterr().out

    writer.send_held_lines()

    assert held == line_of(state)
    assert capsysbinary.readouterr().out == record_line(record("c-1", 10))


def test_a_stream_end_with_nothing_held_sends_nothing_and_no_state_again(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = StateFlushingWriter()
    writer.write_message(StateMessage(value={"bookmarks": {}}))
    capsysbinary.readouterr()

    writer.send_held_lines()
    writer.end_at_last_state()  # a stop now: the STATE last sent is still the last line

    assert capsysbinary.readouterr().out == b""


def test_a_stop_before_any_state_adds_nothing_to_what_was_sent(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = StateFlushingWriter()
    for n in range(300):  # a chunk of records goes out before the first STATE
        writer.write_record(STREAM, record(f"c-{n:03d}"), None, EXTRACTED)
    sent = capsysbinary.readouterr().out

    writer.end_at_last_state()

    assert len(sent) >= CHUNK_BYTES
    assert capsysbinary.readouterr().out == b""


class ClosedPipe(io.RawIOBase):
    """Standard output whose reader goes away: once `broken`, every write is a broken pipe."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.descriptor = os.open(path, os.O_WRONLY | os.O_CREAT)
        self.buffer = self
        self.broken = True
        self.written = 0

    def fileno(self) -> int:
        return self.descriptor

    def write(self, data: t.Any) -> int:
        if not self.broken:
            self.written += len(data)
            return len(data)
        msg = f"nobody reads the {len(data)} bytes"
        raise BrokenPipeError(msg)

    def flush(self) -> None:
        """Nothing is ever buffered."""


def test_a_target_gone_stops_the_tap_and_points_the_output_at_dev_null(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = StopSwitch()
    monkeypatch.setattr(writer_module, "STOP", stop)
    output = ClosedPipe(tmp_path / "stdout")
    monkeypatch.setattr("sys.stdout", output)
    writer = StateFlushingWriter()

    with pytest.raises(StopRequested) as stopped:
        writer.write_message(StateMessage(value={"bookmarks": {}}))

    assert (str(stopped.value), stopped.value.exit_code) == (TARGET_GONE, 1)
    assert stop.asked
    assert os.path.samestat(os.fstat(output.descriptor), os.stat(os.devnull))
    os.close(output.descriptor)


class UnknownPipe(ClosedPipe):
    """A broken standard output that cannot even say which descriptor it is."""

    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(path)
        self.error = error

    def fileno(self) -> int:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ValueError("I/O operation on closed file"), id="closed"),
        pytest.param(OSError("no descriptor"), id="no-descriptor"),
    ],
)
def test_a_target_gone_stops_the_tap_even_when_the_output_cannot_be_redirected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    monkeypatch.setattr(writer_module, "STOP", StopSwitch())
    output = UnknownPipe(tmp_path / "stdout", error)
    monkeypatch.setattr("sys.stdout", output)

    with pytest.raises(StopRequested, match="The target stopped reading"):
        StateFlushingWriter().write_message(StateMessage(value={"bookmarks": {}}))
    os.close(output.descriptor)


def test_after_the_target_is_gone_nothing_more_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "STOP", StopSwitch())
    output = ClosedPipe(tmp_path / "stdout")
    output.broken = False
    monkeypatch.setattr("sys.stdout", output)
    writer = StateFlushingWriter()
    writer.write_message(StateMessage(value={"bookmarks": {}}))
    for n in range(300):  # a chunk of records goes out after the STATE
        writer.write_record(STREAM, record(f"c-{n:03d}"), None, EXTRACTED)
    assert output.written >= CHUNK_BYTES

    output.broken = True
    with pytest.raises(StopRequested):
        writer.write_message(StateMessage(value={"bookmarks": {STREAM: {}}}))
    writer.end_at_last_state()  # would raise, were anything more written to the closed pipe
    os.close(output.descriptor)


def test_a_page_short_of_a_chunk_is_held_and_one_that_fills_it_sends_the_lot(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    short = [record(f"c-{n:04d}") for n in range(10)]
    full = [record(f"d-{n:04d}") for n in range(CHUNK_BYTES // 900)]
    writer = StateFlushingWriter()

    writer.write_records(STREAM, short, None, EXTRACTED)
    held = capsysbinary.readouterr().out
    writer.write_records(STREAM, full, None, EXTRACTED)

    assert held == b""
    sent = capsysbinary.readouterr().out
    assert len(sent) >= CHUNK_BYTES
    assert sent == b"".join(record_line(values) for values in short + full)
