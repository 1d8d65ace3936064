"""BATCH mode: a tenant's records go to files, and a STATE waits for the files it claims.

A checkpoint offered when a window completes is held until every row added before it is in
a file already announced by a BATCH message; then its STATE is written. So a STATE never
claims a row that no announced file holds, whatever the files' size and the windows' size.

Files do not pile up: each STATE names the files announced so far by each writer's stem and
their count (`batch_runs`, see `BatchFile`), and the next run removes the files its incoming
STATE names, which the target has loaded. A STATE of an earlier release lists them instead.
"""

from __future__ import annotations

import typing as t

from fsspec.core import url_to_fs

from tap_crescendo.errors import StateError
from tap_crescendo.output.batch_writer import BatchFileWriter, run_files

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Mapping
    from datetime import datetime

    import msgspec

    from tap_crescendo.output.base import Routes, SchemaGrowth, StateLine
    from tap_crescendo.output.batch_writer import BatchFile, BatchSettings
    from tap_crescendo.output.writer import StateFlushingWriter


class BatchFiles:
    """A tenant's files, one writer per output stream (stream maps may add some).

    `schemas` holds each output stream's JSON schema, as its SCHEMA message carries it.
    Made at the start of the tenant's run, it first removes the files the incoming STATE
    names: the target loaded them.
    """

    def __init__(
        self,
        settings: BatchSettings,
        *,
        schemas: Mapping[str, Mapping[str, t.Any]],
        routes: Routes,
        schema_growth: SchemaGrowth,
        writer: StateFlushingWriter,
        state_line: StateLine,
        subject: str,
        where: str,
        logger: logging.Logger,
    ) -> None:
        self._settings = settings
        self._schemas = dict(schemas)
        self._routes = routes
        self._schema_growth = schema_growth
        self._writer = writer
        self._state_line = state_line
        self._writers: dict[str, BatchFileWriter] = {}
        self._added: dict[str, int] = {}
        self._announced: dict[str, int] = {}
        #: Checkpoints not yet written: rows added per output stream then, and the bookmark.
        self._held: list[tuple[dict[str, int], str]] = []
        self._remove_loaded_files(state_line.state, subject, where, logger)

    def add(self, page: list[msgspec.Struct], extracted_at: datetime) -> None:
        """Add a page's records of each output stream to its open file."""
        del extracted_at  # files carry no extraction time
        for stream, records in self._routes(page):
            writer = self._writers.get(stream)
            if writer is None:
                writer = BatchFileWriter(
                    self._settings,
                    stream,
                    schema=self._schemas[stream],
                    on_complete=self._announce,
                )
                self._writers[stream] = writer
                self._added.setdefault(stream, 0)
                self._announced.setdefault(stream, 0)
            self._added[stream] += len(records)
            writer.add(records)

    def offer_checkpoint(self, bookmark: str) -> None:
        """Write the bookmark's STATE once every row added so far is in an announced file."""
        self._held.append((dict(self._added), bookmark))
        self._write_covered()

    def grow_schema(self, properties: Mapping[str, Mapping[str, t.Any]]) -> None:
        """Announce the open file of each output stream the growth changes, then its SCHEMA.

        The stream's next rows go to files of the new schema, announced after it.
        """
        messages = self._schema_growth(properties)
        for message in messages:
            writer = self._writers.pop(message.stream, None)
            if writer is not None:
                writer.close()
            self._schemas[message.stream] = message.schema
        for message in messages:
            self._writer.write_message(message)

    def close(self) -> None:
        """Complete and announce every open file; held STATEs follow their files."""
        for writer in self._writers.values():
            writer.close()
        self._writer.send_held_lines()

    def _announce(self, file: BatchFile) -> None:
        """Write a completed file's BATCH message; the next STATEs count it among its stem's."""
        self._writer.write_batch(file)
        self._state_line.state.setdefault("batch_runs", {})[file.stem] = file.sequence
        self._announced[file.stream] += file.rows
        self._write_covered()

    def _write_covered(self) -> None:
        """Write the newest held checkpoint whose rows are all announced, dropping older ones."""
        covered = None
        while self._held and all(
            self._announced[stream] >= rows for stream, rows in self._held[0][0].items()
        ):
            covered = self._held.pop(0)[1]
        if covered is not None:
            self._state_line.write(covered)

    def _remove_loaded_files(
        self, state: dict[str, t.Any], subject: str, where: str, logger: logging.Logger
    ) -> None:
        """Remove the files the incoming STATE names: the target loaded them last run.

        A STATE of an earlier release lists them as `batch_files`.
        """
        listed = state.pop("batch_files", [])
        runs = state.pop("batch_runs", {})
        if not isinstance(runs, dict) or not all(type(count) is int for count in runs.values()):
            msg = f"{where}: batch_runs must map file stems to counts of files, got {runs!r}"
            raise StateError(msg)
        if not listed and not runs:
            return
        removed, remaining = self._remove(listed, runs)
        logger.info(
            "%s: removed %d batch files the target loaded in the last run", subject, removed
        )
        if remaining:
            logger.warning(
                "%s: could not remove %d loaded batch files, e.g. %s",
                subject,
                len(remaining),
                remaining[0],
            )

    def _remove(self, uris: list[str], runs: Mapping[str, int]) -> tuple[int, list[str]]:
        """Remove the files at `uris` and the first `count` files of each `stem` of `runs`.

        Return how many are gone and which remain (`{stem}-*` for a folder that cannot be
        listed). Meant for the files an earlier run's STATE names: that STATE came back
        through the target, which wrote it only after loading every file announced before it.
        """
        uris, unlisted = list(uris), []
        for stem, count in runs.items():
            try:
                uris += run_files(stem, count, self._settings.storage.params)
            except FileNotFoundError:  # the folder is gone, and the files with it
                continue
            except (OSError, ValueError):
                unlisted.append(f"{stem}-*")
        stuck = []
        for uri in uris:
            try:
                fs, path = url_to_fs(uri, **self._settings.storage.params)
                fs.rm_file(path)
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                stuck.append(uri)
        return len(uris) - len(stuck), stuck + unlisted
