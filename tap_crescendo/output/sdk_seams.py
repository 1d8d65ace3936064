"""The one place the tap overrides private methods of the Singer SDK.

Checked against singer-sdk 0.54.x (see `pyproject.toml`); `tests/output/test_sdk_seams.py`
fails when the SDK changes the methods this relies on, so an upgrade is reviewed.
"""

from __future__ import annotations

import sys
import typing as t
from functools import cached_property

import msgspec
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.streams.core import Stream

from tap_crescendo.output.writer import StateFlushingWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from singer_sdk.helpers import types

    from tap_crescendo.output.batch_files import BatchDelivery

NO_CONFORMANCE = TypeConformanceLevel.NONE


class LeanRecordStream(Stream):
    """A stream that writes its records a page at a time, with no per-record state.

    The SDK's loop (`_sync_records`) takes records one at a time, each through a chain of
    calls, and would track unsorted records in `progress_markers` to promote them only at
    the end of the run; here the bookmark moves when a window completes (`incremental.py`).
    """

    #: When the page being written was received: its records' `time_extracted`.
    extracted_at: datetime
    #: In BATCH mode, where the partition's records go instead of RECORD lines.
    batches: BatchDelivery | None = None

    def record_pages(self, context: types.Context | None) -> Iterator[list[msgspec.Struct]]:
        """Yield the stream's records a page at a time, each a Struct that encodes as one."""
        raise NotImplementedError

    @cached_property
    def _writes_records_directly(self) -> bool:
        """Tell whether RECORD lines can skip the SDK's per-record pruning and conformance.

        True when the catalog selects every property (the usual case), records
        match the schema when decoded (`TYPE_CONFORMANCE_LEVEL` NONE) and our writer is in use.
        """
        every_property = all(
            self.mask.get(("properties", name), True) for name in self.schema["properties"]
        )
        return (
            every_property
            and self.TYPE_CONFORMANCE_LEVEL == NO_CONFORMANCE
            and isinstance(self._tap.message_writer, StateFlushingWriter)
        )

    @cached_property
    def _writes_records_as_decoded(self) -> bool:
        """Tell whether records go out as they were decoded, no stream map changing them.

        True when they go out directly and the only stream map is the SDK's identity.
        """
        maps = self.stream_maps
        return (
            self._writes_records_directly
            and len(maps) == 1
            and isinstance(maps[0], SameRecordTransform)
            and not maps[0].flattening_enabled
        )

    @override
    def get_replication_key_signpost(self, context: types.Context | None = None) -> None:
        """No signpost in the state: the bookmark moves only over windows read whole."""

    @override
    def _sync_records(
        self,
        context: types.Context | None = None,
        *,
        write_messages: bool = True,
    ) -> t.Generator[dict[str, t.Any], t.Any, t.Any]:
        """Write each page's records at once, with the SDK's record count and sync timer.

        Taken over from the SDK, whose loop costs several calls per record: these streams
        have no child streams and always write their messages, and the bookmark moves by
        window (no STATE every `STATE_MSG_FREQUENCY` records). Partitions are read in order,
        each after the STATE of those before it. Yields nothing.
        """
        del write_messages  # False only for the SDK's own BATCH mode, which is not used
        counter = self.get_record_counter()
        timer = self.get_sync_timer()
        with counter, timer:
            for index, current in enumerate([context] if context else self.partitions or [{}]):
                if index:
                    self._write_state_message()
                counter.with_context(current)
                timer.with_context(current)
                for page in self.record_pages(current or None):
                    self._write_page(page)
                    counter.increment(len(page))
                self._finalize_state(self.get_context_state(current or None))
        yield from ()  # the closing STATE follows (`Tap.sync_all`)

    def _write_page(self, page: list[msgspec.Struct]) -> None:
        """Write a page's records: as RECORD lines straight from the Structs, else as dicts.

        In BATCH mode the Structs go into the files at once when no map changes them.
        """
        if not self._writes_records_as_decoded:
            for record in msgspec.to_builtins(page):
                self._write_record_message(record)
            return
        batches = self.batches
        if batches is None:
            writer = t.cast("StateFlushingWriter", self._tap.message_writer)
            writer.write_records(self.name, page, self._stream_version, self.extracted_at)
        else:
            batches.add(self.name, page)

    @override
    def _write_record_message(self, record: types.Record) -> None:
        """Apply the stream maps; write each record as a RECORD line, or into a BATCH file.

        The lean way when every property is selected; else the SDK's messages, whose
        records go to the files in BATCH mode.
        """
        batches = self.batches
        if not self._writes_records_directly:
            if batches is None:
                super()._write_record_message(record)
            else:
                for message in self._generate_record_messages(record):
                    batches.add(message.stream, [message.record])
            return
        writer = t.cast("StateFlushingWriter", self._tap.message_writer)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is None:
                continue
            if batches is None:
                writer.write_record(
                    stream_map.stream_alias, mapped, self._stream_version, self.extracted_at
                )
            else:
                batches.add(stream_map.stream_alias, [mapped])
