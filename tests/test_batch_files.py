"""BATCH files: exact rows, files bounded by batch_size, announced only once complete."""

from __future__ import annotations

import gzip
import json
import typing as t
from pathlib import Path

import pytest
from singer_sdk import Stream

from tap_crescendo.batch_files import BatchFile, BatchFileWriter, BatchSettings
from tap_crescendo.errors import ConfigError
from tap_crescendo.fake_api import generate_bot_rows
from tap_crescendo.tap import TapCrescendo
from tests.s3_server import objects
from tests.tap_runs import SPAN_END_MS, SPAN_START_MS, TENANT, tap_config

Row = dict[str, t.Any]
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


def sdk_batch_config(
    root: str,
    *,
    encoding_format: str = "jsonl",
    compression: str = "gzip",
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


def seven_rows() -> list[Row]:
    """Six generated conversations and the awkward one: files of 3, 3 and 1 rows."""
    rows = generate_bot_rows(
        6, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=3, tenant_id=TENANT
    )
    return [*rows, AWKWARD_ROW]


def write_all(settings: BatchSettings, rows: list[Row]) -> list[BatchFile]:
    """Write `rows` as one stream's files, closing at the end; return the announced files."""
    files: list[BatchFile] = []
    writer = BatchFileWriter(settings, "bot_conversations", on_complete=files.append)
    for row in rows:
        writer.add(row)
    writer.close()
    return files


def local_path(uri: str) -> Path:
    """The path of a file:// URI."""
    assert uri.startswith("file:///"), uri
    return Path(uri.removeprefix("file://"))


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

    writer = BatchFileWriter(sdk_batch_config(str(tmp_path)), "bots", on_complete=announced)
    rows = seven_rows()
    for row in rows:
        events.append(("add", row["ID"]))
        writer.add(row)
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
        BatchFileWriter(settings, "bots", on_complete=print)
    assert str(error.value) == message


def test_parquet_is_refused_with_one_line(tmp_path: Path) -> None:
    settings = sdk_batch_config(str(tmp_path), encoding_format="parquet")

    with pytest.raises(ConfigError) as error:
        BatchFileWriter(settings, "bots", on_complete=print)
    assert str(error.value) == (
        "Setting `batch_config.encoding.format` is 'parquet': tap-crescendo writes `jsonl` "
        "batch files (gzip or none)"
    )


def test_an_unwritable_folder_is_one_line_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    writer = BatchFileWriter(sdk_batch_config(str(tmp_path / "taken")), "bots", on_complete=print)
    writer.add(AWKWARD_ROW)

    with pytest.raises(ConfigError) as error:
        writer.close()
    assert str(error.value).startswith(
        f"Setting `batch_config.storage.root`: cannot write file://{tmp_path}/taken/bots-"
    )


@pytest.mark.slow
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


@pytest.mark.slow
def test_s3_endpoint_can_come_from_the_standard_aws_variable(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)

    files = write_all(sdk_batch_config(f"s3://{bucket}", batch_size=10), [AWKWARD_ROW])

    assert objects(s3_endpoint, bucket) == {files[0].uri: [AWKWARD_ROW]}


@pytest.mark.slow
def test_a_missing_bucket_is_one_line_naming_the_file(s3_endpoint: str, bucket: str) -> None:
    settings = sdk_batch_config(
        f"s3://{bucket}-missing", params={"endpoint_url": s3_endpoint}, batch_size=1
    )
    writer = BatchFileWriter(settings, "bots", on_complete=print)

    with pytest.raises(ConfigError) as error:
        writer.add(AWKWARD_ROW)
    assert str(error.value).startswith(
        f"Setting `batch_config.storage.root`: cannot write s3://{bucket}-missing/bots-"
    )
    assert str(error.value).endswith(".jsonl.gz: The specified bucket does not exist")
