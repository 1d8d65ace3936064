"""The one place the tap overrides private methods of the Singer SDK, or reads its internals.

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

from tap_crescendo.output.base import StateLine
from tap_crescendo.output.batch_files import BatchFiles
from tap_crescendo.output.record_lines import RecordLines

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from singer_sdk.helpers import types
    from singer_sdk.singerlib import SchemaMessage

    from tap_crescendo.output.base import Output, Record, Routes
    from tap_crescendo.output.writer import StateFlushingWriter

NO_CONFORMANCE = TypeConformanceLevel.NONE


class LeanRecordStream(Stream):
    """A stream whose tenants' runs write their records a page at a time, to an `Output`.

    The SDK's loop (`_sync_records`) takes records one at a time, each through a chain of
    calls, and would track unsorted records in `progress_markers` to promote them only at
    the end of the run; here the bookmark moves when a window completes (`sync/export.py`).
    """

    def record_pages(self, context: types.Context | None) -> Iterator[int]:
        """Write a tenant's records a page at a time to `open_output`'s; yield each count."""
        raise NotImplementedError

    @override
    def get_batch_config(self, config: Mapping[str, t.Any]) -> None:
        """Return None, so the SDK syncs records (`open_output` writes BATCH files).

        The SDK's own batching would write files after the checkpoints claiming them, and
        without the stream maps.
        """

    def open_output(
        self, state: dict[str, t.Any], *, tenant: str | None, subject: str, where: str
    ) -> Output:
        """Return a tenant's output: BATCH files when `batch_config` is set, else RECORD lines.

        `state` is the tenant's; with `tenant_id`, `tenant` is the tenant its STATE names.
        """
        state_line = StateLine(
            state, str(self.replication_key), tenant, self.finalize_state_progress_markers
        )
        writer = t.cast("StateFlushingWriter", self._tap.message_writer)
        settings = super().get_batch_config(self.config)
        if settings is None:
            return RecordLines(
                writer,
                routes=self._routes,
                schema_growth=self.grow_schema,
                version=self._stream_version,
                state_line=state_line,
            )
        schemas = {
            stream_map.stream_alias: stream_map.transformed_schema
            for stream_map in self.stream_maps
        }
        return BatchFiles(
            settings,
            schemas=schemas,
            routes=self._routes,
            schema_growth=self.grow_schema,
            writer=writer,
            state_line=state_line,
            subject=subject,
            where=where,
            logger=self.logger,
        )

    def grow_schema(self, properties: Mapping[str, Mapping[str, t.Any]]) -> list[SchemaMessage]:
        """Add `properties` to the schema and remake the stream maps for it.

        Returns the new SCHEMA of each output stream whose schema changed (a map may leave
        the new properties out). The class's schema, the declared one, stays as it is.
        """
        before = {message.stream: message.schema for message in self._generate_schema_messages()}
        grown = {**self.schema, "properties": {**self.schema["properties"], **properties}}
        vars(self)["schema"] = grown  # this run's schema, over the class's
        self._tap.mapper.register_raw_stream_schema(self.name, grown, self.primary_keys)
        self._stream_maps = self._tap.mapper.stream_maps[self.name]
        return [
            message
            for message in self._generate_schema_messages()
            if before.get(message.stream) != message.schema
        ]

    @cached_property
    def selects_every_property(self) -> bool:
        """Tell whether the catalog selects every property of the stream (the default)."""
        return all(self.mask.get(("properties", name), True) for name in self.schema["properties"])

    @cached_property
    def _writes_records_directly(self) -> bool:
        """Tell whether records can skip the SDK's per-record pruning and conformance.

        True when the catalog selects every property (the usual case) and records match
        the schema when decoded (`TYPE_CONFORMANCE_LEVEL` NONE).
        """
        return self.selects_every_property and self.TYPE_CONFORMANCE_LEVEL == NO_CONFORMANCE

    @cached_property
    def _routes(self) -> Routes:
        """Where a page's records go: as decoded when no stream map changes them, else mapped.

        Mapped, each record goes through the stream maps, after the SDK's pruning and
        conformance unless it goes out directly.
        """
        maps = self.stream_maps
        if (
            self._writes_records_directly
            and len(maps) == 1
            and isinstance(maps[0], SameRecordTransform)
            and not maps[0].flattening_enabled
        ):
            name = self.name
            return lambda page: ((name, page),)
        return self._mapped

    def _mapped(self, page: list[msgspec.Struct]) -> Iterable[tuple[str, Sequence[Record]]]:
        """Each record of a page as each stream map makes it, with its output stream."""
        for record in msgspec.to_builtins(page):
            if not self._writes_records_directly:
                for message in self._generate_record_messages(record):
                    yield message.stream, [message.record]
                continue
            for stream_map in self.stream_maps:
                mapped = stream_map.transform(record)
                if mapped is not None:
                    yield stream_map.stream_alias, [mapped]

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
                for count in self.record_pages(current or None):
                    counter.increment(count)
                self._finalize_state(self.get_context_state(current or None))
        yield from ()  # the closing STATE follows (`Tap.sync_all`)
