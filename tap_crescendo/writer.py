"""Singer output: the SDK's msgspec writer, flushed at each STATE instead of each line."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import StateMessage

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message


class StateFlushingWriter(MsgSpecWriter):
    """Writes lines through stdout's buffer; a STATE flushes them, so it never outruns them."""

    @override
    def write_message(self, message: Message) -> None:
        """Write one message; flush stdout after a STATE."""
        sys.stdout.buffer.write(self.format_message(message))
        if isinstance(message, StateMessage):
            sys.stdout.flush()
