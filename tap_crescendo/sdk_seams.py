"""The one place the tap overrides private methods of the Singer SDK.

Checked against singer-sdk 0.54.x (see `pyproject.toml`); `tests/test_sdk_seams.py`
fails when the SDK changes the methods this relies on, so an upgrade is reviewed.
"""

from __future__ import annotations

import sys
import typing as t
from functools import cached_property

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.core import Stream

from tap_crescendo.writer import StateFlushingWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from datetime import datetime

    from singer_sdk.helpers import types

    from tap_crescendo.batch_delivery import BatchDelivery

NO_CONFORMANCE = TypeConformanceLevel.NONE


class LeanRecordStream(Stream):
    """A stream that writes RECORD lines straight from each record, with no per-record state.

    The SDK would track unsorted records in `progress_markers` and promote them only at the
    end of the run; the bookmark moves when a window completes instead (see `incremental.py`).
    """

    #: When the page being written was received: its records' `time_extracted`.
    extracted_at: datetime

    @property
    def batches(self) -> BatchDelivery | None:
        """In BATCH mode, where records go instead of RECORD lines; here, RECORD lines."""
        return None

    @cached_property
    def _writes_records_directly(self) -> bool:
        """Tell whether RECORD lines can skip the SDK's per-record pruning and conformance.

        True when the catalog selects every property (the usual case), records are
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
                    batches.add(message.stream, message.record)
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
                batches.add(stream_map.stream_alias, mapped)
        self.state_manager.is_flushed = False

    @override
    def _process_record(
        self,
        record: types.Record,
        child_context: types.Context | None = None,
        partition_context: types.Context | None = None,
    ) -> None:
        """Do nothing per record when, as here, there are no partitions or child streams."""
        if partition_context or self.child_streams:
            super()._process_record(record, child_context, partition_context)

    @override
    def _increment_stream_state(
        self,
        latest_record: types.Record,
        *,
        context: types.Context | None = None,
    ) -> None:
        """Leave the bookmark alone: a window moves it when it is complete."""
