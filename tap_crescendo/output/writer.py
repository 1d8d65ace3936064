"""Singer output: the SDK's msgspec writer, written in chunks and flushed at each STATE."""

from __future__ import annotations

import contextlib
import os
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import StateMessage

from tap_crescendo.stopping import STOP

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    import msgspec
    from singer_sdk.singerlib.encoding.simple import Message

    from tap_crescendo.output.batch_writer import BatchFile


#: Lines are gathered into writes of about this many bytes.
CHUNK_BYTES = 256 * 1024
#: Said when the target closes its end of the pipe.
TARGET_GONE = (
    "The target stopped reading the tap's output (broken pipe); "
    "the next run resumes from the last STATE it received"
)


class StateFlushingWriter(MsgSpecWriter):
    """Gathers lines into large writes; a STATE sends everything before it, then itself."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        #: The last STATE line sent, and whether lines were sent after it.
        self._last_state = b""
        self._sent_after_state = False

    @override
    def write_message(self, message: Message) -> None:
        """Add one message; send the lot after a STATE or once a chunk is full."""
        line = self.format_message(message)
        self._pending += line
        if isinstance(message, StateMessage):
            self._send()
            self._last_state, self._sent_after_state = bytes(line), False
        elif len(self._pending) >= CHUNK_BYTES:
            self._send()

    def write_record(
        self,
        stream: str,
        record: Mapping[str, t.Any],
        version: int | None,
        time_extracted: datetime,
    ) -> None:
        """Add one RECORD line, byte for byte as a `RecordMessage`, without building one."""
        self.write_records(stream, (record,), version, time_extracted)

    def write_records(
        self,
        stream: str,
        records: Iterable[Mapping[str, t.Any] | msgspec.Struct],
        version: int | None,
        time_extracted: datetime,
    ) -> None:
        """Add a RECORD line per record (a dict, or a Struct that encodes as one), as one write.

        Each line is byte for byte a `RecordMessage`'s: the envelope around the record is
        encoded once for them all.
        """
        head = b'{"type":"RECORD","stream":' + encoder.encode(stream) + b',"record":'
        tail = b',"time_extracted":' + encoder.encode(time_extracted) + b"}\n"
        if version is not None:
            tail = b',"version":' + encoder.encode(version) + tail
        pending = self._pending
        pending += head
        between = tail + head  # a line's end and the next one's start, added at once
        for record in records:
            encoder.encode_into(record, pending, -1)
            pending += between
        del pending[-len(head) :]  # the start of a line that does not follow
        if len(pending) >= CHUNK_BYTES:
            self._send()

    def write_batch(self, file: BatchFile) -> None:
        """Add the BATCH message of a completed file and send it, so the loader starts on it."""
        encoder.encode_into(file.message, self._pending, -1)
        self._pending += b"\n"
        self._send()

    def send_held_lines(self) -> None:
        """Send the lines gathered since the last write: a stream's end, with no STATE after."""
        if self._pending:
            self._send()

    def end_at_last_state(self) -> None:
        """Send nothing more, but the last STATE again if records went out after it."""
        self._pending.clear()
        if self._sent_after_state and self._last_state:
            self._pending += self._last_state
            self._send()

    def _send(self) -> None:
        """Write and flush everything gathered; a closed output stops the tap."""
        try:
            sys.stdout.buffer.write(self._pending)
            sys.stdout.flush()
        except BrokenPipeError:
            self._last_state = b""  # nothing more can reach the target
            _discard_standard_output()
            STOP.ask(TARGET_GONE, 1)
            STOP.check()
        self._pending.clear()
        self._sent_after_state = True


def _discard_standard_output() -> None:
    """Point file descriptor 1 at /dev/null, so nothing fails writing to the closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
