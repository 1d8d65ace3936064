"""BATCH mode end to end: the files hold the rows, and no STATE runs ahead of its files."""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import sys
import typing as t
from pathlib import Path

import pytest

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms
from tests.support.batch_output import announced_runs, batch_config, file_rows, read_parquet, uris
from tests.support.s3_server import objects
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    Sync,
    catalog_without,
    kill_after_states,
    strict_problems,
    sync,
    tap_config,
)

Row: t.TypeAlias = dict[str, t.Any]
DAY_MS = 86_400_000


def check_message_order(messages: list[dict[str, t.Any]], rows: dict[str, list[Row]]) -> None:
    """Each STATE claims only rows already in files announced before it."""
    announced: dict[str, set[str]] = {stream: set() for stream in rows}
    for message in messages:
        if message["type"] == "BATCH":
            announced[message["stream"]] |= {r["ID"] for r in file_rows(message["manifest"][0])}
        elif message["type"] == "STATE":
            for stream, bookmark in message["value"].get("bookmarks", {}).items():
                value = bookmark.get("replication_key_value")
                if value is None:
                    continue
                claimed = to_epoch_ms(parse_timestamp(value))
                covered = {
                    row["ID"]
                    for row in rows[stream]
                    if to_epoch_ms(parse_timestamp(row["DatetimeUTC"])) <= claimed
                }
                assert covered <= announced[stream], f"STATE claims {value} of {stream} early"


def test_files_hold_every_row_once_and_no_state_claims_a_row_before_its_file(
    tmp_path: Path,
) -> None:
    bots = generate_bot_rows(250, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=31)
    vocs = generate_voc_rows(90, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=31)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots}, voc_rows={TENANT: vocs})
    with fake.serve() as url:
        result = sync(tap_config(url, batch_config=batch_config(tmp_path, size=37)))

    assert result.error is None
    assert result.records == []
    batches = [m for m in result.messages if m["type"] == "BATCH"]
    assert all(m["encoding"] == {"format": "jsonl", "compression": "gzip"} for m in batches)
    assert all(len(m["manifest"]) == 1 for m in batches)
    files = {
        stream: [file_rows(m["manifest"][0]) for m in batches if m["stream"] == stream]
        for stream in ("bot_conversations", "voc_conversations")
    }
    for stream, served in (("bot_conversations", bots), ("voc_conversations", vocs)):
        in_files = [row["ID"] for rows in files[stream] for row in rows]
        assert sorted(in_files) == sorted(row["ID"] for row in served)
        assert [len(rows) for rows in files[stream][:-1]] == [37] * (len(files[stream]) - 1)
        assert 0 < len(files[stream][-1]) <= 37
    schemas = [m for m in result.messages if m["type"] == "SCHEMA"]
    as_records = [
        {"type": "RECORD", "stream": stream, "record": row}
        for stream, streamed in files.items()
        for rows in streamed
        for row in rows
    ]
    assert strict_problems(schemas + as_records) == []
    check_message_order(result.messages, {"bot_conversations": bots, "voc_conversations": vocs})
    assert result.messages[-1]["type"] == "STATE"
    assert result.bookmark() == max(bots, key=lambda row: row["Datetime"])["DatetimeUTC"]


def test_parquet_files_hold_the_rows_of_json_lines_files_under_the_mapped_schema(
    tmp_path: Path,
) -> None:
    bots = generate_bot_rows(120, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=36)
    vocs = generate_voc_rows(90, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=36)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots}, voc_rows={TENANT: vocs})
    maps = {
        "bot_conversations": {
            "__alias__": "bots",
            "email_hash": "md5(record['Contact Email']) if record['Contact Email'] else None",
            "RemoteIp": "__NULL__",
        }
    }
    runs: dict[str, Sync] = {}
    with fake.serve() as url:
        for encoding_format in ("jsonl", "parquet"):
            settings = batch_config(
                tmp_path / encoding_format, size=25, encoding_format=encoding_format
            )
            runs[encoding_format] = sync(tap_config(url, stream_maps=maps, batch_config=settings))

    parquet = runs["parquet"]
    assert parquet.error is None
    assert parquet.records == []
    batches = [m for m in parquet.messages if m["type"] == "BATCH"]
    assert {m["stream"] for m in batches} == {"bots", "voc_conversations"}
    assert all(m["encoding"] == {"format": "parquet", "compression": "gzip"} for m in batches)
    assert all(m["manifest"][0].endswith(".parquet") for m in batches)
    schemas = {m["stream"]: m["schema"] for m in parquet.messages if m["type"] == "SCHEMA"}
    for stream, served in (("bots", bots), ("voc_conversations", vocs)):
        files = [read_parquet(m["manifest"][0]) for m in batches if m["stream"] == stream]
        assert [len(rows) for rows in files[:-1]] == [25] * (len(files) - 1)
        assert 0 < len(files[-1]) <= 25
        columns = list(schemas[stream]["properties"])
        as_jsonl = {
            row["ID"]: {name: row.get(name) for name in columns}
            for m in runs["jsonl"].messages
            if m["type"] == "BATCH" and m["stream"] == stream
            for row in file_rows(m["manifest"][0])
        }
        in_parquet = {row["ID"]: row for rows in files for row in rows}
        assert len(as_jsonl) == len(served)
        assert in_parquet == as_jsonl
        assert all(list(row) == columns for row in in_parquet.values())
    assert "email_hash" in schemas["bots"]["properties"]
    assert "RemoteIp" not in schemas["bots"]["properties"]
    assert any(row["Problems"] for row in in_parquet.values())


def test_a_window_whose_rows_wait_in_the_open_file_waits_for_it(tmp_path: Path) -> None:
    bots = generate_bot_rows(40, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=32)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    with fake.serve() as url:
        result = sync(tap_config(url, batch_config=batch_config(tmp_path, size=1000)))

    kinds = [(m["type"], m.get("stream")) for m in result.messages if m["type"] != "SCHEMA"]
    bot_batches = kinds.index(("BATCH", "bot_conversations"))
    states_before = [m for m in result.messages[: bot_batches + 1] if m["type"] == "STATE"]
    assert all(
        "bot_conversations" not in m["value"].get("bookmarks", {})
        or m["value"]["bookmarks"]["bot_conversations"].get("replication_key_value") is None
        for m in states_before
    )
    assert kinds.count(("BATCH", "bot_conversations")) == 1


def test_stream_maps_apply_to_the_files(tmp_path: Path) -> None:
    bots = generate_bot_rows(60, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=33)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    maps = {
        "bot_conversations": {
            "Contact Email": "sha256(record['Contact Email']) if record['Contact Email'] else None",
            "RemoteIp": "__NULL__",
        }
    }
    with fake.serve() as url:
        result = sync(
            tap_config(url, stream_maps=maps, batch_config=batch_config(tmp_path, size=25))
        )

    written = {
        row["ID"]: row
        for m in result.messages
        if m["type"] == "BATCH" and m["stream"] == "bot_conversations"
        for row in file_rows(m["manifest"][0])
    }
    assert sorted(written) == sorted(row["ID"] for row in bots)
    for row in bots:
        assert "RemoteIp" not in written[row["ID"]]
        email = row["Contact Email"]
        assert written[row["ID"]]["Contact Email"] == (
            None if email is None else hashlib.sha256(email.encode()).hexdigest()
        )


@pytest.mark.parametrize("encoding_format", ["jsonl", "parquet"])
def test_a_deselected_property_is_left_out_of_the_files(
    tmp_path: Path, encoding_format: str
) -> None:
    bots = generate_bot_rows(30, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=34)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    settings = batch_config(tmp_path, size=10, compression="none", encoding_format=encoding_format)
    with fake.serve() as url:
        config = tap_config(url, batch_config=settings)
        result = sync(config, catalog=catalog_without(config, "Contact Phone"))

    read = read_parquet if encoding_format == "parquet" else file_rows
    written = [
        row
        for m in result.messages
        if m["type"] == "BATCH" and m["stream"] == "bot_conversations"
        for row in read(m["manifest"][0])
    ]
    assert sorted(row["ID"] for row in written) == sorted(row["ID"] for row in bots)
    assert all("Contact Phone" not in row and "Contact Email" in row for row in written)


def test_an_expired_cursor_restart_writes_no_row_twice(tmp_path: Path) -> None:
    bots = generate_bot_rows(120, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=35)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    fake.expire_cursors(1)
    with fake.serve() as url:
        config = tap_config(
            url, page_size=5, window_size_hours=240, batch_config=batch_config(tmp_path, size=50)
        )
        result = sync(config)

    written = [
        row["ID"]
        for m in result.messages
        if m["type"] == "BATCH" and m["stream"] == "bot_conversations"
        for row in file_rows(m["manifest"][0])
    ]
    assert result.error is None
    assert sorted(written) == sorted(row["ID"] for row in bots)


def announced(messages: list[dict[str, t.Any]]) -> set[str]:
    """The IDs in the bot files the messages announce."""
    return {
        row["ID"]
        for m in messages
        if m["type"] == "BATCH" and m["stream"] == "bot_conversations"
        for row in file_rows(m["manifest"][0])
    }


@pytest.mark.slow
def test_a_run_killed_after_its_first_files_resumes_without_a_gap(tmp_path: Path) -> None:
    bots = generate_bot_rows(3000, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=36)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots}, order="shuffled")
    fake.set_page_delay(0.02)
    config = tap_config(
        "", page_size=50, lookback_window_minutes=0, batch_config=batch_config(tmp_path, size=130)
    )
    with fake.serve() as url:
        config["api_url"] = url
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        argv = [sys.executable, "-m", "tap_crescendo", "--config", str(config_file)]
        returncode, killed = kill_after_states(argv, 3)
        check_message_order(killed, {"bot_conversations": bots, "voc_conversations": []})
        last_state = [m["value"] for m in killed if m["type"] == "STATE"][-1]
        first_files = announced(killed)  # the next run removes the files its STATE lists
        fake.set_page_delay(0)
        resumed = sync(config, last_state)

    assert returncode == -signal.SIGKILL
    assert first_files
    assert first_files | announced(resumed.messages) == {row["ID"] for row in bots}


def test_the_next_run_removes_the_files_its_state_says_were_loaded(tmp_path: Path) -> None:
    first = generate_bot_rows(80, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS - DAY_MS, seed=37)
    late = generate_bot_rows(20, start_ms=SPAN_END_MS - DAY_MS, end_ms=SPAN_END_MS, seed=38)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: first})
    folder = tmp_path / "crescendo"
    with fake.serve() as url:
        config = tap_config(url, batch_config=batch_config(tmp_path, size=30))
        one = sync(config)
        fake.add_rows(TENANT, late)
        two = sync(config, one.states[-1])

    bookmarks = one.states[-1]["bookmarks"]
    assert bookmarks["bot_conversations"]["batch_runs"] == announced_runs(one.messages)
    assert bookmarks["voc_conversations"].get("batch_runs", {}) == announced_runs(
        one.messages, "voc_conversations"
    )
    assert sum(announced_runs(one.messages).values()) == 3  # files of 30, 30 and 20 rows
    assert {path.as_uri() for path in folder.iterdir()} == uris(two)
    assert two.states[-1]["bookmarks"]["bot_conversations"]["batch_runs"] == announced_runs(
        two.messages
    )
    assert uris(one).isdisjoint(uris(two))


def test_a_file_of_rows_read_again_in_the_lookback_is_listed_in_the_last_state(
    tmp_path: Path,
) -> None:
    bots = generate_bot_rows(5, start_ms=SPAN_START_MS, end_ms=SPAN_START_MS + DAY_MS, seed=40)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    newest = max(row["DatetimeUTC"] for row in bots)
    bookmark = {"replication_key": "DatetimeUTC", "replication_key_value": newest}
    lookback = {"lookback_window_minutes": 24 * 60}

    with fake.serve() as url:
        config = tap_config(url, batch_config=batch_config(tmp_path, size=100), **lookback)
        catalog = catalog_without(config, "Summary")  # records through the SDK's messages
        result = sync(config, {"bookmarks": {"bot_conversations": bookmark}}, catalog)

    kinds = [m["type"] for m in result.messages]
    after_file = result.messages[kinds.index("BATCH") + 1]
    (uri,) = [m["manifest"][0] for m in result.messages if m["type"] == "BATCH"]
    assert sorted(r["ID"] for r in file_rows(uri)) == sorted(row["ID"] for row in bots)
    assert after_file["type"] == "STATE"  # before the next stream starts
    assert after_file["value"]["bookmarks"]["bot_conversations"] == {
        **bookmark,
        "batch_runs": {uri.rsplit("-", 1)[0]: 1},
    }


def test_loaded_files_on_s3_are_removed_with_the_storage_params(
    s3_endpoint: str, bucket: str
) -> None:
    settings = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"s3://{bucket}/exports", "params": {"endpoint_url": s3_endpoint}},
        "batch_size": 25,
    }
    bots = generate_bot_rows(30, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=41)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    with fake.serve() as url:
        config = tap_config(url, batch_config=settings)
        first = sync(config)
        fake.add_rows(TENANT, [])
        second = sync(config, first.states[-1])

    first_files = {m["manifest"][0] for m in first.messages if m["type"] == "BATCH"}
    second_files = {m["manifest"][0] for m in second.messages if m["type"] == "BATCH"}
    assert len(first_files) == 2
    assert set(objects(s3_endpoint, bucket)) == second_files
    assert first_files.isdisjoint(second_files)


@pytest.mark.slow
def test_files_on_s3_are_the_announced_objects_with_exactly_the_rows(
    s3_endpoint: str, bucket: str
) -> None:
    bots = generate_bot_rows(70, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=39)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    settings = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {
            "root": f"s3://{bucket}/exports",
            "prefix": "crescendo/",
            "params": {"endpoint_url": s3_endpoint},
        },
        "batch_size": 25,
    }
    with fake.serve() as url:
        result = sync(tap_config(url, batch_config=settings))

    announced = [m["manifest"][0] for m in result.messages if m["type"] == "BATCH"]
    stored = objects(s3_endpoint, bucket)
    assert result.error is None
    assert sorted(stored) == sorted(announced)
    assert all(uri.startswith(f"s3://{bucket}/exports/crescendo/") for uri in announced)
    in_objects = [row["ID"] for rows in stored.values() for row in rows]
    assert sorted(in_objects) == sorted(row["ID"] for row in bots)
    assert max(len(rows) for rows in stored.values()) == 25


def test_each_state_names_the_files_announced_before_it_in_constant_space(tmp_path: Path) -> None:
    bots = generate_bot_rows(120, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=42)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    with fake.serve() as url:
        result = sync(tap_config(url, batch_config=batch_config(tmp_path, size=1)))

    ((stem, files),) = announced_runs(result.messages).items()
    assert files == 120
    named, announced_so_far = [], 0
    for message in result.messages:
        announced_so_far += message["type"] == "BATCH"
        if message["type"] == "STATE":
            runs = message["value"]["bookmarks"]["bot_conversations"].get("batch_runs")
            named.append(runs)
            assert runs == ({stem: announced_so_far} if announced_so_far else None)
    assert len(named) >= 10  # a STATE a window, each the same size
    assert max(len(json.dumps(state)) for state in result.states) < 400


def file_number(uri: str) -> int:
    """The sequence number in the name of a BATCH file."""
    return int(uri.rpartition("-")[2].split(".")[0])


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_files_announced_after_the_last_state_of_a_failed_run_are_never_removed(
    tmp_path: Path, request: pytest.FixtureRequest, storage: str
) -> None:
    bots = generate_bot_rows(90, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=43)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    if storage == "s3":
        endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("bucket")
        root = {"root": f"s3://{bucket}/exports", "params": {"endpoint_url": endpoint}}
        settings = {**batch_config(tmp_path, size=10), "storage": root}
    else:
        settings = batch_config(tmp_path, size=10)

    with fake.serve() as url:
        config = tap_config(url, batch_config=settings)
        one = sync(config)
        # The target received this STATE last: the run failed after it, or was killed.
        last_received = one.states[len(one.states) // 2]
        two = sync(config, last_received)

    ((stem, count),) = last_received["bookmarks"]["bot_conversations"]["batch_runs"].items()
    loaded = {uri for uri in uris(one) if file_number(uri) <= count}
    assert 0 < len(loaded) < len(uris(one))
    assert all(uri.startswith(stem) for uri in uris(one))
    if storage == "s3":
        stored = set(objects(endpoint, bucket))
    else:
        stored = {path.as_uri() for path in (tmp_path / "crescendo").iterdir()}
    assert stored == (uris(one) - loaded) | uris(two)


def test_a_state_of_the_previous_release_has_the_files_it_lists_removed(tmp_path: Path) -> None:
    bots = generate_bot_rows(70, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=44)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    with fake.serve() as url:
        config = tap_config(url, batch_config=batch_config(tmp_path, size=20))
        one = sync(config)
        bookmark = dict(one.states[-1]["bookmarks"]["bot_conversations"])
        del bookmark["batch_runs"]  # 0.1.0 listed every file instead
        bookmark["batch_files"] = sorted(uris(one))
        two = sync(config, {"bookmarks": {"bot_conversations": bookmark}})

    assert len(uris(one)) == 4
    assert {path.as_uri() for path in (tmp_path / "crescendo").iterdir()} == uris(two)
    assert two.states[0]["bookmarks"]["bot_conversations"] == bookmark  # the SDK's echo
    assert all(
        "batch_files" not in state["bookmarks"]["bot_conversations"] for state in two.states[1:]
    )
    assert two.states[-1]["bookmarks"]["bot_conversations"]["batch_runs"] == announced_runs(
        two.messages
    )


def test_a_state_with_a_file_list_and_run_counts_has_the_files_of_both_removed(
    tmp_path: Path,
) -> None:
    bots = generate_bot_rows(70, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=44)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots})
    with fake.serve() as url:
        config = tap_config(url, batch_config=batch_config(tmp_path, size=20))
        one = sync(config)
        first, _, third, fourth = sorted(uris(one))
        bookmark = dict(one.states[-1]["bookmarks"]["bot_conversations"])
        bookmark["batch_runs"] = {first.rsplit("-", 1)[0]: 2}
        bookmark["batch_files"] = [fourth]
        two = sync(config, {"bookmarks": {"bot_conversations": bookmark}})

    stored = {path.as_uri() for path in (tmp_path / "crescendo").iterdir()}
    assert stored == {third} | uris(two)


def test_what_cannot_be_listed_or_is_gone_is_said_and_the_rest_removed(
    api_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "crescendo"
    folder.mkdir()
    stem = folder / "bot_conversations-20261001T000000Z-0123abcd"
    names = ["-00001.jsonl.gz", "-00002.jsonl.gz", "-00003.jsonl.gz", "-00003.jsonl.gz.partial"]
    for name in names:
        Path(f"{stem}{name}").write_bytes(b"")
    runs = {
        (tmp_path / "gone" / "bot_conversations-x").as_uri(): 5,
        "nosuchfs://bucket/bot_conversations-y": 1,
        stem.as_uri(): 2,
    }
    caplog.set_level(logging.INFO)

    result = sync(
        tap_config(api_url, batch_config=batch_config(tmp_path, size=1000)),
        {"bookmarks": {"bot_conversations": {"batch_runs": runs}}},
    )

    assert result.error is None
    said = [r.getMessage() for r in caplog.records if "batch files" in r.getMessage()]
    assert said == [
        "Stream 'bot_conversations', tenant 'tenant-alpha': removed 2 batch files the target "
        "loaded in the last run",
        "Stream 'bot_conversations', tenant 'tenant-alpha': could not remove 1 loaded batch "
        "files, e.g. "
        "nosuchfs://bucket/bot_conversations-y-*",
    ]
    assert sorted(path.name for path in folder.iterdir() if path.name.startswith(stem.name)) == [
        f"{stem.name}{name}" for name in names[2:]
    ]


@pytest.mark.parametrize(
    "runs",
    [
        pytest.param(["file:///batches/bot_conversations-x-00001.jsonl"], id="a-list"),
        pytest.param({"file:///batches/bot_conversations-x": "3"}, id="a-count-as-text"),
        pytest.param({"file:///batches/bot_conversations-x": True}, id="a-boolean"),
    ],
)
def test_a_state_whose_batch_runs_are_not_stems_and_counts_is_one_line(
    fake: FakeCrescendo, api_url: str, tmp_path: Path, runs: t.Any
) -> None:
    result = sync(
        tap_config(api_url, batch_config=batch_config(tmp_path, size=10)),
        {"bookmarks": {"bot_conversations": {"batch_runs": runs}}},
    )

    assert result.error == (
        "STATE for stream 'bot_conversations': batch_runs must map file stems to counts of "
        f"files, got {runs!r}"
    )
    assert fake.requests == []
