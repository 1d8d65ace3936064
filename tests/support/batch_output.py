"""Reading what BATCH mode wrote: its settings, its files and the messages announcing them."""

from __future__ import annotations

import gzip
import json
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from singer_sdk import Stream

from tap_crescendo.tap import TapCrescendo
from tests.support.tap_runs import tap_config

if t.TYPE_CHECKING:
    from tap_crescendo.output.batch_writer import BatchSettings
    from tests.support.tap_runs import Sync

Row: t.TypeAlias = dict[str, t.Any]


def local_path(uri: str) -> Path:
    """The path of a file:// URI."""
    assert uri.startswith("file:///"), uri
    return Path(uri.removeprefix("file://"))


def read_parquet(uri: str) -> list[Row]:
    """The rows a loader gets from a Parquet file, its JSON columns decoded."""
    table = pq.read_table(local_path(uri))
    json_columns = [field.name for field in table.schema if field.type == pa.json_()]
    rows: list[Row] = table.to_pylist()
    for row in rows:
        for name in json_columns:
            row[name] = None if row[name] is None else json.loads(row[name])
    return rows


def batch_config(
    root: Path, *, size: int, compression: str = "gzip", encoding_format: str = "jsonl"
) -> dict[str, t.Any]:
    """A `batch_config` writing files of `size` rows under `root`."""
    return {
        "encoding": {"format": encoding_format, "compression": compression},
        "storage": {"root": root.as_uri(), "prefix": "crescendo/"},
        "batch_size": size,
    }


def file_rows(uri: str) -> list[Row]:
    """The records of one announced local file."""
    path = urlsplit(uri).path
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def announced_runs(
    messages: list[dict[str, t.Any]], stream: str = "bot_conversations"
) -> dict[str, int]:
    """Each stem of the stream's announced files, and how many there are (numbered from 1)."""
    numbers: dict[str, list[int]] = {}
    for m in messages:
        if m["type"] == "BATCH" and m["stream"] == stream:
            stem, _, last = m["manifest"][0].rpartition("-")
            numbers.setdefault(stem, []).append(int(last.split(".")[0]))
    assert all(sequence == list(range(1, len(sequence) + 1)) for sequence in numbers.values())
    return {stem: len(sequence) for stem, sequence in numbers.items()}


def uris(result: Sync, stream: str | None = None) -> set[str]:
    """The files a run announced (of one stream, if given)."""
    return {
        m["manifest"][0]
        for m in result.messages
        if m["type"] == "BATCH" and stream in {None, m["stream"]}
    }


def sdk_batch_config(
    root: str,
    *,
    encoding_format: str = "jsonl",
    compression: str | None = "gzip",
    batch_size: t.Any = 3,
    **storage: t.Any,
) -> BatchSettings:
    """The SDK's own `BatchConfig` for these settings, read by the SDK's `get_batch_config`."""
    stream = TapCrescendo(config=tap_config("http://127.0.0.1:9")).streams["bot_conversations"]
    raw = {
        "encoding": {"format": encoding_format, "compression": compression},
        "storage": {"root": root, **storage},
        "batch_size": batch_size,
    }
    settings = Stream.get_batch_config(stream, {"batch_config": raw})
    assert settings is not None
    return settings
