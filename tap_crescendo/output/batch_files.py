"""BATCH mode: a stream's records go to files, and a checkpoint waits for the files it claims.

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

from tap_crescendo.output.batch_writer import BatchFileWriter, run_files

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import msgspec

    from tap_crescendo.output.batch_writer import BatchFile, BatchSettings


class BatchDelivery:
    """One source stream's files, one writer per output stream (stream maps may add some).

    `schemas` holds each output stream's JSON schema, as its SCHEMA message carries it.
    """

    def __init__(
        self,
        settings: BatchSettings,
        *,
        schemas: Mapping[str, Mapping[str, t.Any]],
        announce: Callable[[BatchFile], None],
        release: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._schemas = schemas
        self._announce = announce
        self._release = release
        self._writers: dict[str, BatchFileWriter] = {}
        self._added: dict[str, int] = {}
        self._announced: dict[str, int] = {}
        #: Checkpoints not yet written: rows added per output stream then, and the bookmark.
        self._held: list[tuple[dict[str, int], str]] = []

    def add(self, stream: str, records: Sequence[Mapping[str, t.Any] | msgspec.Struct]) -> None:
        """Add records of output stream `stream` to its open file."""
        writer = self._writers.get(stream)
        if writer is None:
            writer = BatchFileWriter(
                self._settings, stream, schema=self._schemas[stream], on_complete=self._completed
            )
            self._writers[stream] = writer
            self._added[stream] = self._announced[stream] = 0
        self._added[stream] += len(records)
        writer.add(records)

    def checkpoint(self, bookmark: str) -> None:
        """Write the bookmark's STATE once every row added so far is in an announced file."""
        self._held.append((dict(self._added), bookmark))
        self._write_covered()

    def close(self) -> None:
        """Complete and announce every open file (the end of the stream); held STATEs follow."""
        for writer in self._writers.values():
            writer.close()

    def remove_loaded(self, uris: list[str], runs: Mapping[str, int]) -> tuple[int, list[str]]:
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

    def _completed(self, file: BatchFile) -> None:
        """Announce a completed file, then write the checkpoints it was the last wait of."""
        self._announce(file)
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
            self._release(covered)
