"""BATCH files: one stream's records written to files of at most `batch_size` rows.

JSON Lines files, or Parquet files with the `parquet` extra (see `parquet_rows.py`).

The settings are the SDK's `batch_config` (`Stream.get_batch_config` reads them); files go
under `storage.root` + `storage.prefix` through fsspec: a local folder, or `s3://bucket/prefix`
with the `s3` extra (credentials and endpoint the standard AWS way, or `storage.params`).
A file is announced to the caller only once it is complete, so a BATCH message naming it,
and a STATE after that, never run ahead of the data. A writer's files share a stem and are
numbered from 1, so "its first N files" names them all in constant space (`run_files`).
"""

from __future__ import annotations

import gzip
import os
import re
import typing as t
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import msgspec
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from singer_sdk.contrib.msgspec import encoder

from tap_crescendo.errors import ConfigError

if t.TYPE_CHECKING:
    import io
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from tap_crescendo.output.parquet_rows import ParquetRows

#: Encoded lines are gathered into writes of about this many bytes.
CHUNK_BYTES = 256 * 1024
#: zlib's fastest level: on conversation rows it compresses 2.4x faster than the default
#: level 6, for files 1.4x larger; the tap's time goes to rows, not to bytes on disk.
GZIP_LEVEL = 1
#: What a local file is called while it is being written; the rename to its name completes it.
PARTIAL_SUFFIX = ".partial"
#: What follows a writer's stem in the name of a complete file: its sequence and extension.
COMPLETE_NAME_END = r"-(\d+)\.(?:jsonl|jsonl\.gz|parquet)"


class BatchEncoding(t.Protocol):
    """The `encoding` of the SDK's batch settings."""

    @property
    def format(self) -> str:
        """The file format: `jsonl` or `parquet`."""

    @property
    def compression(self) -> str | None:
        """`gzip`, or `none`/None for plain files."""


class BatchStorage(t.Protocol):
    """The `storage` of the SDK's batch settings."""

    @property
    def root(self) -> str:
        """A folder or fsspec URL (`file://...`, `s3://bucket/path`)."""

    @property
    def prefix(self) -> str | None:
        """Put before every file name (a trailing `/` makes it a folder)."""

    @property
    def params(self) -> Mapping[str, t.Any]:
        """Options for the fsspec file system, such as `endpoint_url`."""


class BatchSettings(t.Protocol):
    """The SDK's `BatchConfig`, as `Stream.get_batch_config` returns it."""

    @property
    def encoding(self) -> BatchEncoding:
        """How files are encoded."""

    @property
    def storage(self) -> BatchStorage:
        """Where files go."""

    @property
    def batch_size(self) -> int:
        """The most rows a file holds."""


@dataclass(frozen=True)
class BatchFile:
    """A completed file of one stream: where it is, how it is encoded, how many rows.

    `stem` is the URI of its writer's files without `-{sequence}{extension}`; `sequence`
    is its number among them, from 1.
    """

    stream: str
    uri: str
    format: str
    compression: str
    rows: int
    stem: str
    sequence: int

    @property
    def message(self) -> dict[str, t.Any]:
        """The Singer BATCH message that hands this file to the loader."""
        encoding = {"format": self.format, "compression": self.compression}
        return {
            "type": "BATCH",
            "stream": self.stream,
            "encoding": encoding,
            "manifest": [self.uri],
        }


class BatchFileWriter:
    """Writes one stream's records to files and announces each file once it is complete.

    Complete means closed, and on a local disk flushed, fsynced and renamed to its final name
    (an object store shows an object only once its upload ends). `on_complete` runs inside
    the `add` or `close` that completed the file. Names are
    `{prefix}{stream}-{start}-{run}-{sequence}.jsonl[.gz]` (or `.parquet`), unique to this
    writer, so a resumed run never replaces a file a loader may still read. `schema` is the
    stream's JSON schema, which Parquet files follow. One thread calls it.
    """

    def __init__(
        self,
        settings: BatchSettings,
        stream: str,
        *,
        schema: Mapping[str, t.Any],
        on_complete: Callable[[BatchFile], None],
    ) -> None:
        self._stream = stream
        self._on_complete = on_complete
        self._format, self._compression = _encoding(settings.encoding)
        self._parquet = (
            _parquet_rows(schema, self._compression) if self._format == "parquet" else None
        )
        self._batch_size = _batch_size(settings.batch_size)
        self._fs, root = _file_system(settings.storage)
        run = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        self._stem = (
            f"{root}/{settings.storage.prefix or ''}{stream}-{run}"  # url_to_fs drops a trailing /
        )
        self._stem_uri: str = self._fs.unstrip_protocol(self._stem)
        self._sequence = 0
        self._rows = 0
        self._pending = bytearray()
        self._file: _OpenFile | None = None

    def add(self, records: Sequence[Mapping[str, t.Any] | msgspec.Struct]) -> None:
        """Add records (dicts, or Structs encoding as them); a file completes at `batch_size` rows.

        A page's records are encoded at once, as many as fit in the open file.
        """
        done = 0
        while done < len(records):
            some = records[done : done + self._batch_size - self._rows]
            if self._parquet is None:
                self._gather(encoder.encode_lines(some))
            else:
                self._parquet.add(msgspec.to_builtins(some))
            self._rows += len(some)
            done += len(some)
            if self._rows == self._batch_size:
                self._complete()

    def _gather(self, lines: bytes) -> None:
        """Add encoded lines; write what is gathered once it makes a chunk.

        Lines that make a chunk alone (a page's, often) are written without a copy.
        """
        if self._pending or len(lines) < CHUNK_BYTES:
            self._pending += lines
            if len(self._pending) >= CHUNK_BYTES:
                self._opened().write(self._pending)
                self._pending.clear()
        else:
            self._opened().write(lines)

    def close(self) -> None:
        """Complete the open file, if it holds any row (the end of the stream)."""
        if self._rows:
            self._complete()

    def _opened(self) -> _OpenFile:
        """The file being written, opened on first use."""
        if self._file is None:
            self._sequence += 1
            gzipped = self._format == "jsonl" and self._compression == "gzip"
            extension = (
                ".parquet" if self._parquet is not None else ".jsonl.gz" if gzipped else ".jsonl"
            )
            path = f"{self._stem}-{self._sequence:05d}{extension}"
            self._file = _OpenFile(self._fs, path, gzipped=gzipped)
        return self._file

    def _complete(self) -> None:
        """Write what is gathered, close the file, then announce it."""
        if self._parquet is not None:
            self._pending += self._parquet.take_file()
        done = self._opened()
        done.write(self._pending)
        done.close()
        completed = BatchFile(
            self._stream,
            done.uri,
            self._format,
            self._compression,
            self._rows,
            stem=self._stem_uri,
            sequence=self._sequence,
        )
        self._file, self._rows = None, 0
        self._pending.clear()
        self._on_complete(completed)


class _OpenFile:
    """One file being written: local files under a temporary name, objects as an upload."""

    def __init__(self, fs: t.Any, path: str, *, gzipped: bool) -> None:
        self._path = path
        self._local = isinstance(fs, LocalFileSystem)
        self._errors = _storage_errors(fs)
        self.uri: str = fs.unstrip_protocol(path)
        with self._reported():
            if self._local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                self._raw: io.BufferedIOBase = open(path + PARTIAL_SUFFIX, "xb")  # noqa: SIM115
            else:
                self._raw = fs.open(path, "wb")
        self._out: io.BufferedIOBase = self._raw
        if gzipped:  # the header names the file inside (GzipFile keeps the base name)
            self._out = gzip.GzipFile(path, "wb", GZIP_LEVEL, self._raw, mtime=0)

    def write(self, data: bytes | bytearray) -> None:
        """Append bytes (compressed if the file is gzipped)."""
        with self._reported():
            self._out.write(data)

    def close(self) -> None:
        """Close the file; on a local disk also fsync it, rename it, and fsync its folder."""
        with self._reported():
            if self._out is not self._raw:
                self._out.close()
            if self._local:
                self._raw.flush()
                os.fsync(self._raw.fileno())
            self._raw.close()
            if self._local:
                os.replace(self._path + PARTIAL_SUFFIX, self._path)
                _fsync_folder(os.path.dirname(self._path))

    @contextmanager
    def _reported(self) -> Iterator[None]:
        """Turn a storage failure into the one-line error naming the file."""
        try:
            yield
        except self._errors as error:
            reason = str(error) or type(error).__name__
            msg = f"Setting `batch_config.storage.root`: cannot write {self.uri}: {reason}"
            raise ConfigError(msg) from None


def run_files(stem: str, count: int, params: Mapping[str, t.Any]) -> list[str]:
    """The URIs of the complete files numbered 1 to `count` of the writer of `stem`, as stored.

    `params` are the storage's. Raises `OSError` (`FileNotFoundError` for a folder that is
    gone) or `ValueError` (a protocol fsspec does not know) when the folder cannot be listed.
    """
    fs, path = url_to_fs(stem, **params)
    folder, _, name = path.rpartition("/")
    complete = re.compile(re.escape(name) + COMPLETE_NAME_END)
    return [
        fs.unstrip_protocol(found)
        for found in sorted(fs.ls(folder, detail=False))
        if (match := complete.fullmatch(found.rpartition("/")[2])) and int(match[1]) <= count
    ]


def _encoding(encoding: BatchEncoding) -> tuple[str, str]:
    """The file format and compression (`gzip` or `none`); `ConfigError` for others."""
    if encoding.format not in {"jsonl", "parquet"}:
        msg = (
            f"Setting `batch_config.encoding.format` is {encoding.format!r}: tap-crescendo "
            "writes `jsonl` or `parquet` batch files (gzip or none)"
        )
        raise ConfigError(msg)
    compression = encoding.compression or "none"
    if compression not in {"gzip", "none"}:
        msg = (
            f"Setting `batch_config.encoding.compression` must be gzip or none, not {compression!r}"
        )
        raise ConfigError(msg)
    return encoding.format, compression


def _parquet_rows(schema: Mapping[str, t.Any], compression: str) -> ParquetRows:
    """The Parquet encoder of a stream; `ConfigError` when pyarrow is not installed."""
    try:
        from tap_crescendo.output.parquet_rows import ParquetRows  # noqa: PLC0415 (the parquet extra's)
    except ImportError:
        msg = (
            "Setting `batch_config.encoding.format` is 'parquet': install the parquet extra: "
            "pip install 'tap-crescendo[parquet]'"
        )
        raise ConfigError(msg) from None
    return ParquetRows(schema, compression=compression)


def _batch_size(value: t.Any) -> int:
    """The rows per file; `ConfigError` unless a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"Setting `batch_config.batch_size` must be a positive integer, not {value!r}"
        raise ConfigError(msg)
    return value


def _file_system(storage: BatchStorage) -> tuple[t.Any, str]:
    """The fsspec file system and the root path in it; `ConfigError` if it cannot be had."""
    try:
        fs, root = url_to_fs(storage.root, **storage.params)
    except ImportError as error:
        s3_extra = "install the s3 extra: pip install 'tap-crescendo[s3]'"
        remedy = s3_extra if storage.root.startswith("s3:") else str(error)
        msg = f"Setting `batch_config.storage.root` ({storage.root!r}) cannot be used: {remedy}"
        raise ConfigError(msg) from None
    except (TypeError, ValueError) as error:
        msg = f"Setting `batch_config.storage` cannot open {storage.root!r}: {error}"
        raise ConfigError(msg) from None
    return fs, root


def _storage_errors(fs: t.Any) -> tuple[type[Exception], ...]:
    """What a failed write raises: OSError, and on S3 also botocore's (credentials, network)."""
    if isinstance(fs, LocalFileSystem):
        return (OSError,)
    try:
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415 (the s3 extra's)
    except ImportError:
        return (OSError,)
    return (OSError, BotoCoreError)


def _fsync_folder(folder: str) -> None:
    """Make a rename in `folder` durable."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
