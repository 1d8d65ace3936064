"""Singer output: the SDK's msgspec writer, written in chunks and flushed at each STATE."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import StateMessage

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from datetime import datetime

    from singer_sdk.singerlib.encoding.simple import Message


#: Lines are gathered into writes of about this many bytes.
CHUNK_BYTES = 256 * 1024


class StateFlushingWriter(MsgSpecWriter):
    """Gathers lines into large writes; a STATE sends everything before it, then itself."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()

    @override
    def write_message(self, message: Message) -> None:
        """Add one message; send the lot after a STATE or once a chunk is full."""
        self._pending += self.format_message(message)
        if isinstance(message, StateMessage) or len(self._pending) >= CHUNK_BYTES:
            self._send()

    def write_record(
        self,
        stream: str,
        record: dict[str, t.Any],
        version: int | None,
        time_extracted: datetime,
    ) -> None:
        """Add one RECORD line, byte for byte as a `RecordMessage`, without building one."""
        message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        message["time_extracted"] = time_extracted
        encoder.encode_into(message, self._pending, -1)
        self._pending += b"\n"
        if len(self._pending) >= CHUNK_BYTES:
            self._send()

    def _send(self) -> None:
        """Write and flush everything gathered."""
        sys.stdout.buffer.write(self._pending)
        sys.stdout.flush()
        self._pending.clear()
