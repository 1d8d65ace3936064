"""The loaders of docs/loaders.md, each fed by the tap over the fake API: exact IDs, values."""

from __future__ import annotations

import csv
import datetime as dt
import json
import typing as t

from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms
from tests.support.loaders import (
    STREAMS,
    Piped,
    duckdb_rows,
    duckdb_version,
    pipe,
    run_pipe,
    sent,
    venv_python,
)

if t.TYPE_CHECKING:
    from pathlib import Path

    from tests.support.meltano_project import Meltano
    from tests.support.postgres import Postgres

#: The fixtures `meltano`, `postgres` and `database`.
pytest_plugins = ["tests.support.pipeline_fixtures"]

Row: t.TypeAlias = dict[str, t.Any]

#: Rows a batch of target-duckdb holds before it loads them: 250 bot rows are 3 batches.
DUCKDB_BATCH = 100


def ms(text: str | None) -> int | None:
    """An RFC 3339 date-time as epoch milliseconds."""
    return None if text is None else to_epoch_ms(parse_timestamp(text))


def wall_clock_ms(text: str | None) -> int | None:
    """The date-time's local time, its offset dropped, as if it were UTC, in milliseconds."""
    if text is None:
        return None
    utc = to_epoch_ms(parse_timestamp(text))
    if text.endswith("Z"):
        return utc
    sign = 1 if text[-6] == "+" else -1
    return utc + sign * (int(text[-5:-3]) * 60 + int(text[-2:])) * 60_000


def into_duckdb(meltano: Meltano, folder: Path, loader: str) -> tuple[Piped, Path]:
    """The tap into the loader, batches of `DUCKDB_BATCH` rows; the records and the file."""
    data = sent(250, 120, seed=71)
    database = folder / "loaded.duckdb"
    config = {
        "path": str(database),
        "default_target_schema": "crescendo",
        "batch_size_rows": DUCKDB_BATCH,
    }
    with data.fake().serve() as url:
        piped = pipe(meltano, folder, url, loader, "target-duckdb", config)
    assert {stream: set(piped.by_id(stream)) for stream in piped.records} == data.ids
    # Some VOC date-times have an offset: a loader that drops it is seen.
    voc = piped.records["voc_conversations"]
    assert any(wall_clock_ms(row["Datetime"]) != ms(row["Datetime"]) for row in voc)
    return piped, database


def duckdb_loaded(loader: str, database: Path) -> dict[str, dict[str, tuple[t.Any, ...]]]:
    """Names with a space, date-times and arrays of each table, by ID."""
    bot = duckdb_rows(
        loader,
        database,
        'SELECT id, "contact name", "handoff reason", epoch_ms(datetimeutc), '
        "CAST(media AS VARCHAR) FROM crescendo.bot_conversations",
    )
    voc = duckdb_rows(
        loader,
        database,
        "SELECT id, epoch_ms(datetime), epoch_ms(datetimeutc), CAST(groups AS VARCHAR), "
        "CAST(problems AS VARCHAR) FROM crescendo.voc_conversations",
    )
    loaded = {
        "bot_conversations": {row[0]: tuple(row[1:]) for row in bot},
        "voc_conversations": {row[0]: tuple(row[1:]) for row in voc},
    }
    assert [len(bot), len(voc)] == [len(rows) for rows in loaded.values()]  # no duplicate
    return loaded


def duckdb_expected(
    piped: Piped, datetime: t.Callable[[str | None], int | None] = ms
) -> dict[str, dict[str, tuple[t.Any, ...]]]:
    """The values of `duckdb_loaded`, from the records; `datetime` reads VOC's Datetime."""

    def as_json(value: t.Any) -> str | None:
        return None if value is None else json.dumps(value)

    return {
        "bot_conversations": {
            row["ID"]: (
                row["Contact Name"],
                row["Handoff Reason"],
                ms(row["DatetimeUTC"]),
                as_json(row["Media"]),
            )
            for row in piped.records["bot_conversations"]
        },
        "voc_conversations": {
            row["ID"]: (
                datetime(row["Datetime"]),
                ms(row["DatetimeUTC"]),
                as_json(row["Groups"]),
                as_json(row["Problems"]),
            )
            for row in piped.records["voc_conversations"]
        },
    }


def test_target_duckdb_with_the_pinned_duckdb_loads_every_row(
    meltano: Meltano, tmp_path: Path
) -> None:
    piped, database = into_duckdb(meltano, tmp_path, "target-duckdb")

    assert duckdb_version("target-duckdb") == "1.2.2"
    loaded = duckdb_loaded("target-duckdb", database)
    expected = duckdb_expected(piped)
    for stream in expected:
        assert sorted(loaded[stream]) == sorted(expected[stream])
        assert loaded[stream] == expected[stream]


def test_target_duckdb_with_the_newest_duckdb_loses_the_first_row_of_batches(
    meltano: Meltano, tmp_path: Path
) -> None:
    """duckdb 1.3 on (2.0.1; 1.5.6 on Python 3.10): target-duckdb writes each batch to a CSV
    file without a header and COPYs it into the table; duckdb's sniffer takes the first line
    of a batch for a header, and skips it. Exit 0, no warning. Here: the first row of each of
    the 3 bot batches and of the second VOC batch (not the first: the sniffer judges by the
    values). Every other row loads, but a date-time with an offset keeps its local time and
    loses the offset (duckdb 1.5 on; 1.2.2 converts it to UTC)."""
    loader = "target-duckdb--newest-duckdb"
    piped, database = into_duckdb(meltano, tmp_path, loader)

    # What `pip install target-duckdb` picks: duckdb 2 needs Python 3.11.
    version = duckdb_version(loader)
    assert version == ("2.0.1" if venv_python(loader) >= (3, 11) else "1.5.6")
    loaded = duckdb_loaded(loader, database)
    expected = duckdb_expected(piped, wall_clock_ms)
    lost_at = {"bot_conversations": [0, 100, 200], "voc_conversations": [100]}
    for stream, records in piped.records.items():
        lost = {records[at]["ID"] for at in lost_at[stream]}
        assert set(expected[stream]) - set(loaded[stream]) == lost, version
        assert loaded[stream] == {
            row_id: values for row_id, values in expected[stream].items() if row_id not in lost
        }


def test_target_jsonl_writes_each_record_as_the_tap_sent_it_and_a_rerun_appends(
    meltano: Meltano, tmp_path: Path
) -> None:
    data = sent(250, 120, seed=72)
    out = tmp_path / "out"
    config = {"destination_path": str(out), "do_timestamp_file": False}
    with data.fake().serve() as url:
        piped = pipe(meltano, tmp_path, url, "target-jsonl", "target-jsonl", config)
        written = {stream: jsonl(out / f"{stream}.jsonl") for stream in STREAMS}
        pipe(meltano, tmp_path, url, "target-jsonl", "target-jsonl", config)

    assert sorted(path.name for path in out.iterdir()) == [f"{s}.jsonl" for s in STREAMS]
    for stream in STREAMS:
        assert {row["ID"] for row in written[stream]} == data.ids[stream]
        assert written[stream] == piped.records[stream]
        assert jsonl(out / f"{stream}.jsonl") == written[stream] * 2
    # Names with a space, date-times (offsets kept) and arrays, as the tap sent them.
    bot = {row["ID"]: row for row in written["bot_conversations"]}
    assert "Contact Name" in bot[data.bot[0]["ID"]]
    assert {row_id: row["Contact Name"] for row_id, row in bot.items()} == {
        row["ID"]: row["Contact Name"] for row in data.bot
    }
    voc = {row["ID"]: row for row in written["voc_conversations"]}
    assert {row_id: (row["Datetime"], row["Problems"]) for row_id, row in voc.items()} == {
        row["ID"]: (row["Datetime"], row["Problems"]) for row in data.voc
    }
    assert any(not row["Datetime"].endswith("Z") for row in data.voc)


def jsonl(path: Path) -> list[Row]:
    """The objects of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_pipelinewise_target_postgres_loads_every_row_with_lower_case_columns(
    meltano: Meltano, postgres: Postgres, database: str, tmp_path: Path
) -> None:
    """Version 2.1.2, with psycopg2-binary 2.9.10 (loaders/): column names lower-cased,
    spaces kept ("contact name"); arrays as jsonb; date-times as `timestamp without time
    zone`, where a VOC `Datetime` with an offset keeps its local time and loses the offset
    (DatetimeUTC is right)."""
    data = sent(250, 120, seed=73)
    config = {
        "host": postgres.host,
        "port": postgres.port,
        "user": postgres.user,
        "password": postgres.password,
        "dbname": database,
        "default_target_schema": "crescendo",
    }
    with data.fake().serve() as url:
        piped = pipe(
            meltano, tmp_path, url, "pipelinewise-target-postgres", "target-postgres", config
        )

    bot = postgres.query(
        database,
        'SELECT id, "contact name", "handoff reason", datetimeutc, media '
        "FROM crescendo.bot_conversations",
    )
    voc = postgres.query(
        database,
        "SELECT id, datetime, datetimeutc, groups, problems FROM crescendo.voc_conversations",
    )
    loaded = {
        "bot_conversations": {row[0]: (*row[1:3], naive_ms(row[3]), row[4]) for row in bot},
        "voc_conversations": {
            row[0]: (naive_ms(row[1]), naive_ms(row[2]), *row[3:]) for row in voc
        },
    }
    assert {stream: set(rows) for stream, rows in loaded.items()} == data.ids
    assert sum(len(rows) for rows in loaded.values()) == len(bot) + len(voc)  # no duplicate
    offsets = [row["Datetime"] for row in piped.records["voc_conversations"]]
    assert any(wall_clock_ms(text) != ms(text) for text in offsets)
    assert loaded == {
        "bot_conversations": {
            row["ID"]: (
                row["Contact Name"],
                row["Handoff Reason"],
                ms(row["DatetimeUTC"]),
                row["Media"],
            )
            for row in piped.records["bot_conversations"]
        },
        "voc_conversations": {
            row["ID"]: (
                wall_clock_ms(row["Datetime"]),
                ms(row["DatetimeUTC"]),
                row["Groups"],
                row["Problems"],
            )
            for row in piped.records["voc_conversations"]
        },
    }


def naive_ms(value: dt.datetime | None) -> int | None:
    """A `timestamp without time zone` read as UTC, in epoch milliseconds."""
    return None if value is None else to_epoch_ms(value.replace(tzinfo=dt.timezone.utc))


def test_meltanolabs_target_postgres_and_target_csv_with_voc_offsets_and_arrays(
    meltano: Meltano, postgres: Postgres, database: str, tmp_path: Path
) -> None:
    """The VOC stream, which tests/test_pipelines.py checks less: MeltanoLabs' target-postgres
    converts a `Datetime` with an offset to UTC; target-csv writes it as Python prints it,
    offset kept, and arrays as Python lists."""
    data = sent(60, 120, seed=74)
    config = {
        "host": postgres.host,
        "port": postgres.port,
        "user": postgres.user,
        "password": postgres.password,
        "database": database,
        "default_target_schema": "crescendo",
    }
    (tmp_path / "csv").mkdir()
    out = tmp_path / "csv/out"
    with data.fake().serve() as url:
        piped = pipe(meltano, tmp_path, url, "target-postgres", "target-postgres", config)
        as_csv = pipe(
            meltano, tmp_path / "csv", url, "target-csv", "target-csv", {"output_path": str(out)}
        )

    voc = piped.records["voc_conversations"]
    assert any(not row["Datetime"].endswith("Z") for row in voc)
    found = postgres.query(
        database,
        'SELECT "ID", "Datetime", "DatetimeUTC", "Groups", "Problems" '
        "FROM crescendo.voc_conversations",
    )
    assert {
        row_id: (naive_ms(start), naive_ms(utc), *rest) for row_id, start, utc, *rest in found
    } == {
        row["ID"]: (ms(row["Datetime"]), ms(row["DatetimeUTC"]), row["Groups"], row["Problems"])
        for row in voc
    }
    assert {row["ID"] for row in voc} == data.ids["voc_conversations"]
    with (out / "voc_conversations.csv").open(newline="", encoding="utf-8") as file:
        lines = {line["ID"]: line for line in csv.DictReader(file)}
    assert {
        row_id: (line["Datetime"], line["Groups"], line["Problems"])
        for row_id, line in lines.items()
    } == {
        row["ID"]: (python_str(row["Datetime"]), text(row["Groups"]), text(row["Problems"]))
        for row in as_csv.records["voc_conversations"]
    }
    assert set(lines) == data.ids["voc_conversations"]


def python_str(text: str) -> str:
    """An RFC 3339 date-time as Python prints it, in its own offset."""
    minutes = 0
    if not text.endswith("Z"):
        sign = 1 if text[-6] == "+" else -1
        minutes = sign * (int(text[-5:-3]) * 60 + int(text[-2:]))
    zone = dt.timezone(dt.timedelta(minutes=minutes))
    return str(parse_timestamp(text).astimezone(zone))


def text(value: t.Any) -> str:
    """A value as target-csv writes it: as Python prints it, null as nothing."""
    return "" if value is None else str(value)


def batch_files(folder: Path) -> Row:
    """The tap's `batch_config`, as the `prod` environment sets it, into `folder`."""
    return {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": folder.as_uri()},
    }


def test_loaders_that_are_not_singer_sdk_targets_stop_at_a_batch_message(
    meltano: Meltano, postgres: Postgres, database: str, tmp_path: Path
) -> None:
    """With `batch_config` (the `prod` environment) the tap sends BATCH messages, which only
    Singer SDK targets read: target-jsonl, target-duckdb and PipelineWise's target-postgres
    stop at the first one, exit 1. Run them with RECORD lines (no `batch_config`)."""
    data = sent(30, 20, seed=76)
    said = {
        "target-jsonl": "AttributeError: 'NoneType' object has no attribute 'asdict'",
        "target-duckdb": "Exception: Unknown message type BATCH in message",
        "pipelinewise-target-postgres": "Exception: Unknown message type BATCH in message",
    }
    loaders: dict[str, tuple[str, Row]] = {
        "target-jsonl": ("target-jsonl", {"destination_path": str(tmp_path / "out")}),
        "target-duckdb": (
            "target-duckdb",
            {"path": str(tmp_path / "loaded.duckdb"), "default_target_schema": "crescendo"},
        ),
        "pipelinewise-target-postgres": (
            "target-postgres",
            {
                "host": postgres.host,
                "port": postgres.port,
                "user": postgres.user,
                "password": postgres.password,
                "dbname": database,
                "default_target_schema": "crescendo",
            },
        ),
    }
    with data.fake().serve() as url:
        for loader, (executable, config) in loaders.items():
            folder = tmp_path / loader
            folder.mkdir()
            settings = {"batch_config": batch_files(folder / "batches")}
            done = run_pipe(meltano, folder, url, loader, executable, config, settings)

            assert done.returncode == 1, loader
            assert said[loader] in done.stderr, loader
            assert list((folder / "batches").iterdir())  # the tap wrote a file, never read
    assert not (tmp_path / "out").exists()
