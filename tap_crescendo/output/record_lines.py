"""RECORD mode: a page's records are RECORD lines, and a STATE follows them at once."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    import msgspec

    from tap_crescendo.output.base import Routes, SchemaGrowth, StateLine
    from tap_crescendo.output.writer import StateFlushingWriter


class RecordLines:
    """A tenant's records as RECORD lines; the writer sends them before any STATE after them."""

    def __init__(
        self,
        writer: StateFlushingWriter,
        *,
        routes: Routes,
        schema_growth: SchemaGrowth,
        version: int | None,
        state_line: StateLine,
    ) -> None:
        self._writer = writer
        self._routes = routes
        self._schema_growth = schema_growth
        self._version = version
        self._state_line = state_line

    def add(self, page: list[msgspec.Struct], extracted_at: datetime) -> None:
        """Write a RECORD line per record of each output stream."""
        for stream, records in self._routes(page):
            self._writer.write_records(stream, records, self._version, extracted_at)

    def offer_checkpoint(self, bookmark: str) -> None:
        """Write the STATE now: the lines before it are sent first."""
        self._state_line.write(bookmark)

    def grow_schema(self, properties: Mapping[str, Mapping[str, t.Any]]) -> None:
        """Write the SCHEMA of each output stream that changed, after the lines before it."""
        for message in self._schema_growth(properties):
            self._writer.write_message(message)

    def close(self) -> None:
        """Send the lines after the last STATE (rows read again in the lookback)."""
        self._writer.send_held_lines()
