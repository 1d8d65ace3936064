"""BATCH files: exact rows, files bounded by batch_size, announced only once complete."""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
import typing as t
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fsspec.registry import _registry as fsspec_protocols

from tap_crescendo.errors import ConfigError
from tap_crescendo.fake_api import generate_bot_rows
from tap_crescendo.output import parquet_rows
from tap_crescendo.output.batch_writer import (
    CHUNK_BYTES,
    BatchFile,
    BatchFileWriter,
    BatchSettings,
    run_files,
)
from tap_crescendo.streams import BotConversationsStream, VocConversationsStream
from tests.support.batch_output import local_path, read_parquet, sdk_batch_config
from tests.support.s3_server import objects
from tests.support.tap_runs import SPAN_END_MS, SPAN_START_MS, TENANT

Row = dict[str, t.Any]
BOT_SCHEMA: dict[str, t.Any] = BotConversationsStream.schema
VOC_SCHEMA: dict[str, t.Any] = VocConversationsStream.schema
#: Every kind of value a file must carry unchanged: non-ASCII text, nulls, lists, objects.
AWKWARD_ROW: Row = {
    "ID": "conv-ünïcødé-1",
    "Summary": 'Grüße aus Köln, 東京から, emoji ✅, a quote " and a \\ backslash',
    "Contact Name": None,
    "CSat": None,
    "Duration": 0,
    "Media": ["chat", "voz"],
    "Problems": [{"name": "ñ", "score": None}],
}


def seven_rows() -> list[Row]:
    """Six generated conversations and the awkward one: files of 3, 3 and 1 rows."""
    rows = generate_bot_rows(
        6, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=3, tenant_id=TENANT
    )
    return [*rows, AWKWARD_ROW]


def write_all(settings: BatchSettings, rows: list[Row]) -> list[BatchFile]:
    """Write `rows` as one stream's files, in one page, closing at the end; the files announced."""
    files: list[BatchFile] = []
    writer = BatchFileWriter(
        settings, "bot_conversations", schema=BOT_SCHEMA, on_complete=files.append
    )
    writer.add(rows)
    writer.close()
    return files


def parse_lines(content: bytes) -> list[Row]:
    """The records of a JSON Lines file."""
    return [json.loads(line) for line in content.decode("utf-8").splitlines()]


def read_local(uri: str) -> list[Row]:
    """The records of a local batch file, gunzipped if its name says so."""
    path = local_path(uri)
    content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return parse_lines(content)


@pytest.mark.parametrize(
    ("compression", "extension"),
    [pytest.param("gzip", ".jsonl.gz", id="gzip"), pytest.param("none", ".jsonl", id="plain")],
)
def test_local_files_hold_exactly_the_rows_in_files_of_at_most_batch_size(
    tmp_path: Path, compression: str, extension: str
) -> None:
    rows = seven_rows()
    settings = sdk_batch_config(tmp_path.as_uri(), compression=compression, prefix="crescendo/")

    files = write_all(settings, rows)

    assert [f.rows for f in files] == [3, 3, 1]
    assert [read_local(f.uri) for f in files] == [rows[0:3], rows[3:6], rows[6:7]]
    assert [local_path(f.uri).parent for f in files] == [tmp_path / "crescendo"] * 3
    assert all(f.uri.endswith(extension) for f in files)
    assert sorted(p.name for p in (tmp_path / "crescendo").iterdir()) == sorted(
        local_path(f.uri).name for f in files
    )


def test_the_awkward_row_is_written_as_utf8_json_byte_for_byte(tmp_path: Path) -> None:
    files = write_all(sdk_batch_config(str(tmp_path), compression="none"), [AWKWARD_ROW])

    content = local_path(files[0].uri).read_text(encoding="utf-8")
    assert content == json.dumps(AWKWARD_ROW, ensure_ascii=False, separators=(",", ":")) + "\n"


def test_a_gzip_file_is_a_standard_gzip_stream(tmp_path: Path) -> None:
    files = write_all(sdk_batch_config(str(tmp_path), batch_size=10), seven_rows())

    with gzip.open(local_path(files[0].uri), "rt", encoding="utf-8") as lines:
        assert [json.loads(line) for line in lines] == seven_rows()


def test_each_file_is_announced_complete_inside_the_add_that_filled_it(tmp_path: Path) -> None:
    events: list[tuple[str, t.Any]] = []

    def announced(file: BatchFile) -> None:
        events.append(("file", [row["ID"] for row in read_local(file.uri)]))
        assert not list(tmp_path.glob("*.partial"))

    writer = BatchFileWriter(
        sdk_batch_config(str(tmp_path)), "bots", schema=BOT_SCHEMA, on_complete=announced
    )
    rows = seven_rows()
    for row in rows:
        events.append(("add", row["ID"]))
        writer.add([row])
    events.append(("close", None))
    writer.close()
    writer.close()

    ids = [row["ID"] for row in rows]
    expected: list[tuple[str, t.Any]] = []
    for position, row_id in enumerate(ids, start=1):
        expected.append(("add", row_id))
        if position % 3 == 0:
            expected.append(("file", ids[position - 3 : position]))
    expected += [("close", None), ("file", ids[6:])]
    assert events == expected


def test_a_stream_without_rows_writes_no_file(tmp_path: Path) -> None:
    assert write_all(sdk_batch_config(str(tmp_path)), []) == []
    assert list(tmp_path.iterdir()) == []


def test_two_runs_into_one_folder_never_share_a_file_name(tmp_path: Path) -> None:
    settings = sdk_batch_config(str(tmp_path), prefix="tenant-alpha-")
    first, second = write_all(settings, seven_rows()), write_all(settings, seven_rows())

    names = [local_path(f.uri).name for f in first + second]
    assert len(set(names)) == 6
    assert all(name.startswith("tenant-alpha-bot_conversations-") for name in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert [read_local(f.uri) for f in first] == [read_local(f.uri) for f in second]


def test_the_batch_message_names_the_stream_encoding_and_file(tmp_path: Path) -> None:
    (file,) = write_all(sdk_batch_config(str(tmp_path), batch_size=10), [AWKWARD_ROW])

    assert file.message == {
        "type": "BATCH",
        "stream": "bot_conversations",
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": [file.uri],
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"batch_size": 0},
            "Setting `batch_config.batch_size` must be a positive integer, not 0",
            id="batch-size",
        ),
        pytest.param(
            {"batch_size": True},
            "Setting `batch_config.batch_size` must be a positive integer, not True",
            id="batch-size-boolean",
        ),
        pytest.param(
            {"batch_size": 2.5},
            "Setting `batch_config.batch_size` must be a positive integer, not 2.5",
            id="batch-size-fraction",
        ),
        pytest.param(
            {"encoding_format": "csv"},
            "Setting `batch_config.encoding.format` is 'csv': tap-crescendo writes `jsonl` or "
            "`parquet` batch files (gzip or none)",
            id="format",
        ),
        pytest.param(
            {"compression": "zstd"},
            "Setting `batch_config.encoding.compression` must be gzip or none, not 'zstd'",
            id="compression",
        ),
        pytest.param(
            {"root": "nosuchfs://bucket/batches"},
            "Setting `batch_config.storage` cannot open 'nosuchfs://bucket/batches': "
            "Protocol not known: nosuchfs",
            id="protocol",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, changes: dict[str, t.Any], message: str
) -> None:
    changes = dict(changes)  # a copy: pytest hands the same dict to every run of the test
    settings = sdk_batch_config(changes.pop("root", str(tmp_path)), **changes)

    with pytest.raises(ConfigError) as error:
        BatchFileWriter(settings, "bots", schema=BOT_SCHEMA, on_complete=print)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("root", "remedy"),
    [
        pytest.param(
            "s3://bucket/batches", "install the s3 extra: pip install 'tap-crescendo[s3]'", id="s3"
        ),
        pytest.param(
            "gcs://bucket/batches", "Please install gcsfs to access Google Storage", id="gcs"
        ),
    ],
)
def test_a_storage_without_its_package_is_refused_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, root: str, remedy: str
) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # the s3 extra not installed
    monkeypatch.delitem(fsspec_protocols, "s3", raising=False)  # fsspec's cache
    settings = sdk_batch_config(root)

    with pytest.raises(ConfigError) as error:
        BatchFileWriter(settings, "bots", schema=BOT_SCHEMA, on_complete=print)
    assert str(error.value) == (
        f"Setting `batch_config.storage.root` ({root!r}) cannot be used: {remedy}"
    )


def test_one_row_a_file_is_a_batch_size_of_one(tmp_path: Path) -> None:
    rows = seven_rows()[:2]

    files = write_all(sdk_batch_config(str(tmp_path), batch_size=1), rows)

    assert [read_local(f.uri) for f in files] == [[row] for row in rows]


def test_no_compression_given_is_plain_files_announced_as_none(tmp_path: Path) -> None:
    (file,) = write_all(sdk_batch_config(str(tmp_path), compression=None), [AWKWARD_ROW])

    assert file.uri.endswith(".jsonl")
    assert file.message["encoding"] == {"format": "jsonl", "compression": "none"}
    assert read_local(file.uri) == [AWKWARD_ROW]


def test_file_names_carry_prefix_stream_utc_start_run_and_sequence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")  # local time 4 or 5 hours behind UTC
    time.tzset()
    try:
        before = datetime.now(timezone.utc).replace(microsecond=0)
        files = write_all(sdk_batch_config(f"{tmp_path}/", prefix="x-"), seven_rows())
        after = datetime.now(timezone.utc)
    finally:
        monkeypatch.undo()
        time.tzset()

    names = [local_path(f.uri).name for f in files]
    pattern = r"x-bot_conversations-(\d{8}T\d{6}Z)-([0-9a-f]{8})-0000([123])\.jsonl\.gz"
    matches = [re.fullmatch(pattern, name) for name in names]
    assert all(matches), names
    starts = {
        datetime.strptime(m[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc) for m in matches if m
    }
    assert len(starts) == 1
    assert before <= starts.pop() <= after
    assert len({m[2] for m in matches if m}) == 1
    assert [m[3] for m in matches if m] == ["1", "2", "3"]
    assert [local_path(f.uri).parent for f in files] == [tmp_path] * 3
    assert [(f.stem, f.sequence) for f in files] == [
        (files[0].uri[: -len("-00001.jsonl.gz")], n) for n in (1, 2, 3)
    ]


def test_a_large_file_goes_to_disk_in_chunks_while_it_fills(tmp_path: Path) -> None:
    settings = sdk_batch_config(str(tmp_path), compression="none", batch_size=10_000)
    writer = BatchFileWriter(settings, "bots", schema=BOT_SCHEMA, on_complete=print)
    row = {**AWKWARD_ROW, "Summary": "x" * 1000}
    line = len(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()) + 1
    count = CHUNK_BYTES // line - 1
    last = {**row, "Summary": "x" * (1000 + CHUNK_BYTES - (count + 1) * line)}

    for _ in range(count):
        writer.add([row])
    held = [p.stat().st_size for p in tmp_path.glob("*.partial")]
    writer.add([last])  # the lines now make exactly one chunk

    assert held == []
    (partial,) = tmp_path.glob("*.partial")
    assert partial.stat().st_size == CHUNK_BYTES
    assert parse_lines(partial.read_bytes()) == [row] * count + [last]


def test_a_page_of_more_than_a_chunk_goes_to_disk_as_it_is_added(tmp_path: Path) -> None:
    settings = sdk_batch_config(str(tmp_path), compression="none", batch_size=10_000)
    writer = BatchFileWriter(settings, "bots", schema=BOT_SCHEMA, on_complete=print)
    page = [{**AWKWARD_ROW, "ID": f"c-{index}", "Summary": "x" * 1000} for index in range(300)]

    writer.add(page)

    (partial,) = tmp_path.glob("*.partial")
    assert partial.stat().st_size > CHUNK_BYTES
    assert parse_lines(partial.read_bytes()) == page


def test_a_gzip_header_names_the_file_inside_and_carries_no_time(tmp_path: Path) -> None:
    (file,) = write_all(sdk_batch_config(str(tmp_path), batch_size=10), [AWKWARD_ROW])
    header = local_path(file.uri).read_bytes()

    flags, mtime = header[3], int.from_bytes(header[4:8], "little")
    name_end = header.index(b"\0", 10)
    assert flags & 0x08  # FNAME: the original name follows
    assert header[10:name_end].decode() == local_path(file.uri).name.removesuffix(".gz")
    assert mtime == 0  # the same rows give the same bytes, whenever written
    assert header[8] == 4  # XFL 4: compressed at zlib's fastest level


def test_parquet_without_pyarrow_is_refused_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` fails
    monkeypatch.delitem(sys.modules, "tap_crescendo.output.parquet_rows", raising=False)
    settings = sdk_batch_config(str(tmp_path), encoding_format="parquet")

    with pytest.raises(ConfigError) as error:
        BatchFileWriter(settings, "bots", schema=BOT_SCHEMA, on_complete=print)
    assert str(error.value) == (
        "Setting `batch_config.encoding.format` is 'parquet': install the parquet extra: "
        "pip install 'tap-crescendo[parquet]'"
    )
    assert list(tmp_path.iterdir()) == []


def write_parquet_and_jsonl(
    tmp_path: Path, stream: str, schema: dict[str, t.Any], rows: list[Row], compression: str
) -> tuple[list[BatchFile], list[BatchFile]]:
    """Write `rows` as Parquet files and as JSON Lines files of 3 rows; return both."""
    written: dict[str, list[BatchFile]] = {"parquet": [], "jsonl": []}
    for encoding_format, files in written.items():
        root = tmp_path / encoding_format
        settings = sdk_batch_config(
            str(root), encoding_format=encoding_format, compression=compression
        )
        writer = BatchFileWriter(settings, stream, schema=schema, on_complete=files.append)
        for row in rows:
            writer.add([row])
        writer.close()
    return written["parquet"], written["jsonl"]


def with_every_property(schema: dict[str, t.Any], row: Row) -> Row:
    """`row` as a table holds it: every property of `schema`, null where absent."""
    return {name: row.get(name) for name in schema["properties"]}


#: Bot rows as the tap emits them: every schema type, nulls, empty and non-ASCII lists.
BOT_ROWS: list[Row] = [
    {
        "ID": f"bot-{index}",
        "TenantID": "tenant-alpha",
        "BotID": "bot-1",
        "BotName": "Ünïcødé bot ✅",
        "Datetime": 1_735_689_600_000 + index,
        "EndDatetime": None if index % 2 else 1_735_689_660_000,
        "DatetimeUTC": f"2025-01-01T00:00:0{index}.123Z",
        "EndDatetimeUTC": None,
        "Duration": index * 60,
        "Escalated": [True, False, None][index % 3],
        "CSat": [4.0, 3.5, None][index % 3],
        "AgentId": None if index % 2 else "17",
        "Media": [["chat", "voz"], [], None, ["東京"]][index % 4],
        "Summary": 'a quote " and a \\ backslash',
        "Contact Name": None,
    }
    for index in range(7)
]
#: VOC rows: lists of strings and the free-form objects of `Problems` and `KPIs`.
VOC_ROWS: list[Row] = [
    {
        "ID": f"voc-{index}",
        "Datetime": f"2025-01-01T00:00:0{index}Z",
        "Duration": None if index % 3 == 0 else index,
        "Groups": [["billing"], [], None][index % 3],
        "Tags": ["vip", "ñ"],
        "CSat": None,
        "Sentiment": [0.25, -1.0, None][index % 3],
        "Problems": [
            [{"name": "ñ", "score": None, "nested": {"list": [1, 2.5, "x", True]}}],
            [],
            None,
            [{"name": "refund"}, {"other": [{}]}],
        ][index % 4],
        "KPIs": None if index % 2 else [{"kpi": "FCR", "value": 1}],
    }
    for index in range(7)
]


@pytest.mark.parametrize("compression", ["gzip", "none"])
@pytest.mark.parametrize(
    ("stream", "schema", "rows"),
    [
        pytest.param("bot_conversations", BOT_SCHEMA, BOT_ROWS, id="bot"),
        pytest.param("voc_conversations", VOC_SCHEMA, VOC_ROWS, id="voc"),
    ],
)
def test_parquet_files_hold_exactly_the_rows_of_the_json_lines_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stream: str,
    schema: dict[str, t.Any],
    rows: list[Row],
    compression: str,
) -> None:
    monkeypatch.setattr(parquet_rows, "ROW_GROUP_ROWS", 2)
    parquet, jsonl = write_parquet_and_jsonl(tmp_path, stream, schema, rows, compression)

    assert [file.rows for file in parquet] == [3, 3, 1]
    row_groups = [pq.ParquetFile(local_path(file.uri)).metadata.num_row_groups for file in parquet]
    assert row_groups == [2, 2, 1]
    assert [read_parquet(file.uri) for file in parquet] == [
        [with_every_property(schema, row) for row in read_local(file.uri)] for file in jsonl
    ]
    assert [read_parquet(file.uri) for file in parquet] == [
        [with_every_property(schema, row) for row in rows[start : start + 3]] for start in (0, 3, 6)
    ]


@pytest.mark.parametrize(("compression", "codec"), [("gzip", "GZIP"), ("none", "UNCOMPRESSED")])
def test_a_parquet_file_is_announced_with_its_encoding_and_codec(
    tmp_path: Path, compression: str, codec: str
) -> None:
    (file, *_), _ = write_parquet_and_jsonl(
        tmp_path, "voc_conversations", VOC_SCHEMA, VOC_ROWS, compression
    )

    assert file.message == {
        "type": "BATCH",
        "stream": "voc_conversations",
        "encoding": {"format": "parquet", "compression": compression},
        "manifest": [file.uri],
    }
    assert local_path(file.uri).name.endswith("-00001.parquet")
    metadata = pq.ParquetFile(local_path(file.uri)).metadata
    assert {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)} == {
        codec
    }
    assert not list(tmp_path.glob("**/*.partial"))


def test_every_parquet_file_has_the_schemas_types_even_for_a_column_of_nulls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet_rows, "ROW_GROUP_ROWS", 1)  # the file ends on a full group
    rows = [{"ID": "voc-1", "Problems": None, "Groups": None, "Duration": None, "CSat": None}]
    (voc,), _ = write_parquet_and_jsonl(tmp_path, "voc_conversations", VOC_SCHEMA, rows, "none")
    (bot,), _ = write_parquet_and_jsonl(
        tmp_path / "bot", "bot_conversations", BOT_SCHEMA, [{"ID": "bot-1"}], "none"
    )

    voc_types = {field.name: field.type for field in pq.read_schema(local_path(voc.uri))}
    bot_types = {field.name: field.type for field in pq.read_schema(local_path(bot.uri))}
    assert list(voc_types) == list(VOC_SCHEMA["properties"])
    assert list(bot_types) == list(BOT_SCHEMA["properties"])
    assert {name: str(voc_types[name]) for name in VOC_TYPES} == VOC_TYPES
    assert {name: str(bot_types[name]) for name in BOT_TYPES} == BOT_TYPES
    assert read_parquet(voc.uri) == [with_every_property(VOC_SCHEMA, rows[0])]


def test_a_value_not_of_its_schema_type_is_one_line_naming_the_property(tmp_path: Path) -> None:
    schema = {"properties": {"ID": {"type": ["string"]}, "length": {"type": ["string", "null"]}}}
    settings = sdk_batch_config(str(tmp_path), encoding_format="parquet", batch_size=2)
    writer = BatchFileWriter(settings, "bots", schema=schema, on_complete=print)
    writer.add([{"ID": "bot-1", "length": "12"}])

    with pytest.raises(ConfigError) as error:
        writer.add([{"ID": "bot-2", "length": 12}])
    assert str(error.value) == (
        "Setting `batch_config.encoding.format` is 'parquet': property 'length' holds a value "
        "that does not fit its schema type string (Expected bytes, got a 'int' object); a "
        "`stream_maps` expression may need int(...), float(...) or str(...)"
    )
    assert list(tmp_path.iterdir()) == []


#: The Arrow types of a stream's kinds of property, whatever the rows hold.
VOC_TYPES = {
    "ID": "string",
    "Datetime": "string",
    "Duration": "int64",
    "CSat": "double",
    "Groups": "list<element: string>",
    "Problems": "extension<arrow.json>",
    "KPIs": "extension<arrow.json>",
}
BOT_TYPES = {
    "Datetime": "int64",
    "DatetimeUTC": "string",
    "Escalated": "bool",
    "CSat": "double",
    "Media": "list<element: string>",
}


def test_an_unwritable_folder_is_one_line_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    writer = BatchFileWriter(
        sdk_batch_config(str(tmp_path / "taken")), "bots", schema=BOT_SCHEMA, on_complete=print
    )
    writer.add([AWKWARD_ROW])

    with pytest.raises(ConfigError) as error:
        writer.close()
    assert str(error.value).startswith(
        f"Setting `batch_config.storage.root`: cannot write file://{tmp_path}/taken/bots-"
    )


def test_s3_objects_are_the_announced_uris_with_exactly_the_rows(
    s3_endpoint: str, bucket: str
) -> None:
    rows = seven_rows()
    settings = sdk_batch_config(
        f"s3://{bucket}/exports", prefix="crescendo/", params={"endpoint_url": s3_endpoint}
    )

    files = write_all(settings, rows)

    assert [f.uri.startswith(f"s3://{bucket}/exports/crescendo/") for f in files] == [True] * 3
    assert objects(s3_endpoint, bucket) == {
        files[0].uri: rows[0:3],
        files[1].uri: rows[3:6],
        files[2].uri: rows[6:7],
    }


def test_s3_endpoint_can_come_from_the_standard_aws_variable(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)

    files = write_all(sdk_batch_config(f"s3://{bucket}", batch_size=10), [AWKWARD_ROW])

    assert objects(s3_endpoint, bucket) == {files[0].uri: [AWKWARD_ROW]}


def test_a_missing_bucket_is_one_line_naming_the_file(s3_endpoint: str, bucket: str) -> None:
    settings = sdk_batch_config(
        f"s3://{bucket}-missing", params={"endpoint_url": s3_endpoint}, batch_size=1
    )
    writer = BatchFileWriter(settings, "bots", schema=BOT_SCHEMA, on_complete=print)

    with pytest.raises(ConfigError) as error:
        writer.add([AWKWARD_ROW])
    assert str(error.value).startswith(
        f"Setting `batch_config.storage.root`: cannot write s3://{bucket}-missing/bots-"
    )
    assert str(error.value).endswith(".jsonl.gz: The specified bucket does not exist")


def test_the_files_of_a_stem_are_its_complete_files_numbered_up_to_the_count(
    tmp_path: Path,
) -> None:
    stem = tmp_path / "a.b+c-bot_conversations-20261001T000000Z-0123abcd"
    named = ["-00001.jsonl", "-00002.jsonl.gz", "-00003.parquet", "-4.jsonl"]
    not_named = [
        *("-00005.jsonl", "-00002.jsonl.partial", "-00001.jsonl.bak", "-00001.csv"),
        *("-x.jsonl", "-00001", "9-00001.jsonl"),
    ]
    for end in named + not_named:
        Path(f"{stem}{end}").write_bytes(b"")
    other = "aXbbc-bot_conversations-20261001T000000Z-0123abcd-00001.jsonl"  # if not escaped
    (tmp_path / other).write_bytes(b"")

    uri = f"file://{stem}"  # as fsspec names it: not percent-encoded
    assert run_files(uri, 4, {}) == [f"{uri}{end}" for end in named]
    assert run_files(uri, 0, {}) == []
    with pytest.raises(FileNotFoundError):
        run_files(f"file://{tmp_path}/gone/{stem.name}", 4, {})


def test_the_files_of_a_stem_on_s3_are_listed_with_the_storage_params(
    s3_endpoint: str, bucket: str
) -> None:
    params = {"endpoint_url": s3_endpoint}
    settings = sdk_batch_config(f"s3://{bucket}/exports", prefix="crescendo/", params=params)
    files = write_all(settings, seven_rows())

    assert run_files(files[0].stem, 2, params) == [files[0].uri, files[1].uri]
