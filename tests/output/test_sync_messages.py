"""The lines a sync says, word for word, and the rows it must not lose when pages shift."""

from __future__ import annotations

import dataclasses
import typing as t

from tap_crescendo.fake_api import FakeCrescendo
from tap_crescendo.sync.progress import SyncProgress
from tap_crescendo.tap import TapCrescendo
from tap_crescendo.timestamps import format_epoch_ms
from tests.support.tap_runs import API_KEY, SPAN_START_MS, TENANT, sync, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from tap_crescendo.fake_api.exchange import Answer, ApiRequest

BOT = "bot_conversations"
SPAN = "[2026-10-01T00:00:00.000Z, 2026-10-11T00:00:00.000Z)"


def said(logs: pytest.LogCaptureFixture, start: str) -> list[str]:
    """The messages logged that start with `start`."""
    return [r.getMessage() for r in logs.records if r.getMessage().startswith(start)]


def test_a_sync_says_what_it_reads_and_what_it_read(
    api_url: str, logs: pytest.LogCaptureFixture
) -> None:
    sync(tap_config(api_url, window_size_hours=120, max_parallel_windows=2))

    assert said(logs, f"Stream '{BOT}', tenant '{TENANT}': ") == [
        f"Stream '{BOT}', tenant '{TENANT}': reading {SPAN} in 2 windows of 120 h, 2 at a time "
        "(bookmark: none)",
        f"Stream '{BOT}', tenant '{TENANT}': 250 records from 2 windows in {SPAN}; 0 windows "
        "where `total` "
        "differed from the rows received; 0 rows with fields the schema lacks; 0 values of "
        "added fields made null",
    ]


def test_a_resumed_sync_names_its_bookmark(api_url: str, logs: pytest.LogCaptureFixture) -> None:
    bookmark = "2026-10-10T00:00:00Z"
    state = {
        "bookmarks": {BOT: {"replication_key": "DatetimeUTC", "replication_key_value": bookmark}}
    }

    sync(tap_config(api_url, lookback_window_minutes=0), state)

    assert said(logs, f"Stream '{BOT}', tenant '{TENANT}': reading") == [
        f"Stream '{BOT}', tenant '{TENANT}': reading [2026-10-10T00:00:00.000Z, "
        "2026-10-11T00:00:00.000Z) in 1 "
        f"windows of 24 h, 1 at a time (bookmark: {bookmark})"
    ]


class RowNotAnObject(FakeCrescendo):
    """A fake whose first pages start with a number where a row (an object) belongs."""

    def handle(self, request: ApiRequest) -> Answer:
        answer = super().handle(request)
        if "from" in request.query and answer.status == 200:
            return dataclasses.replace(
                answer, body=answer.body.replace(b'"data":[{', b'"data":[7,{')
            )
        return answer


def test_a_row_that_is_not_an_object_is_out_of_contract(
    bot_rows: list[dict[str, t.Any]],
) -> None:
    fake = RowNotAnObject(api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows})

    with fake.serve() as url:
        result = sync(tap_config(url, window_size_hours=240, page_size=1000))

    assert result.error is not None
    assert result.error.startswith(
        f"The API answered GET /api/v1/reporting/tenants/{TENANT}/botconv?from="
    )
    assert result.error.endswith(
        "with HTTP 200 but a body out of contract (application/json): Expected `object`, got "
        "`int` - at `$.data[0]`"
    )
    assert result.records == []


class GrowingFake(FakeCrescendo):
    """A fake where a conversation earlier than all others appears once a cursor is asked for."""

    def __init__(self, early: dict[str, t.Any], **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self.early: dict[str, t.Any] | None = early

    def handle(self, request: ApiRequest) -> Answer:
        if "cursor" in request.query and self.early is not None:
            self.add_rows(TENANT, [self.early])
            self.early = None
        return super().handle(request)


def test_a_window_restarted_after_rows_shifted_between_pages_loses_and_repeats_none(
    bot_rows: list[dict[str, t.Any]], logs: pytest.LogCaptureFixture
) -> None:
    early = {
        **bot_rows[0],
        "ID": "conv-early",
        "Datetime": SPAN_START_MS,
        "DatetimeUTC": format_epoch_ms(SPAN_START_MS),
    }
    fake = GrowingFake(early, api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows})
    fake.expire_cursors(count=1)

    with fake.serve() as url:
        result = sync(tap_config(url, window_size_hours=240, page_size=40))

    assert result.error is None
    assert said(logs, "HTTP 400 BadRequest")  # the restart happened
    assert sorted(result.ids) == sorted([*(row["ID"] for row in bot_rows), "conv-early"])


def batch_state(files: list[str]) -> dict[str, t.Any]:
    """A STATE of a BATCH run that lists `files` as announced to the target."""
    stream = {
        "replication_key": "DatetimeUTC",
        "replication_key_value": "2026-10-10T12:00:00Z",
        "batch_files": files,
    }
    return {"bookmarks": {BOT: stream}}


def test_the_files_a_state_lists_are_removed_and_those_that_cannot_be_are_named(
    api_url: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    loaded = tmp_path / "crescendo" / "loaded.jsonl.gz"
    loaded.parent.mkdir()
    loaded.write_bytes(b"")
    stuck = "nosuchfs://bucket/stuck.jsonl.gz"
    listed = [loaded.as_uri(), (tmp_path / "crescendo" / "gone.jsonl.gz").as_uri(), stuck]
    config = tap_config(
        api_url,
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": tmp_path.as_uri(), "prefix": "crescendo/"},
            "batch_size": 1000,
        },
    )

    result = sync(config, batch_state(listed))

    assert result.error is None
    assert not loaded.exists()
    assert said(logs, f"Stream '{BOT}', tenant '{TENANT}': removed") == [
        f"Stream '{BOT}', tenant '{TENANT}': removed 2 batch files the target loaded in the last "
        "run"
    ]
    assert said(logs, f"Stream '{BOT}', tenant '{TENANT}': could not") == [
        f"Stream '{BOT}', tenant '{TENANT}': could not remove 1 loaded batch files, e.g. {stuck}"
    ]


def test_a_file_announced_after_the_last_checkpoint_is_listed_by_the_closing_state(
    api_url: str, tmp_path: Path
) -> None:
    bookmark = "2026-10-10T12:00:00Z"
    state = {
        "bookmarks": {BOT: {"replication_key": "DatetimeUTC", "replication_key_value": bookmark}}
    }
    config = tap_config(
        api_url,
        end_date=bookmark,  # every row read is in the lookback: the bookmark does not move
        lookback_window_minutes=24 * 60,
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": tmp_path.as_uri(), "prefix": "crescendo/"},
            "batch_size": 1000,
        },
    )

    result = sync(config, state)

    announced = [m["manifest"][0] for m in result.messages if m["type"] == "BATCH"]
    closing = result.states[-1]["bookmarks"][BOT]
    assert result.error is None
    assert len(announced) == 1
    assert closing == {**state["bookmarks"][BOT], "batch_runs": {announced[0].rsplit("-", 1)[0]: 1}}


def test_an_expired_cursor_is_one_warning_naming_the_window(
    fake: FakeCrescendo, api_url: str, logs: pytest.LogCaptureFixture
) -> None:
    fake.expire_cursors(count=1)

    sync(tap_config(api_url, window_size_hours=240, page_size=40))

    assert said(logs, "HTTP 400") == [
        "HTTP 400 BadRequest: Invalid request parameters: cursor expired or invalid; "
        "restarting window "
        f"{SPAN} from its first page (records already sent are not sent again)"
    ]


def test_a_long_sync_tells_how_far_it_is_after_each_window_but_the_last(
    api_url: str,
    bot_rows: list[dict[str, t.Any]],
    logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SyncProgress, "interval_seconds", 0.0)

    sync(tap_config(api_url, window_size_hours=80))

    rows = [
        sum(1 for row in bot_rows if row["Datetime"] < SPAN_START_MS + n * 80 * 3_600_000)
        for n in (1, 2)
    ]
    lines = said(logs, f"Stream '{BOT}', tenant '{TENANT}': ")
    lines = [line for line in lines if " windows (" in line]
    assert [line.split(" rows, ")[0] for line in lines] == [
        f"Stream '{BOT}', tenant '{TENANT}': 1/3 windows (33%), {rows[0]:,}",
        f"Stream '{BOT}', tenant '{TENANT}': 2/3 windows (66%), {rows[1]:,}",
    ]
    assert all(" rows/s, about " in line and line.endswith(" left") for line in lines)


def test_a_run_that_finds_nothing_newer_writes_no_checkpoint(
    api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    newest = max(bot_rows, key=lambda row: row["Datetime"])["DatetimeUTC"]
    state = {
        "bookmarks": {BOT: {"replication_key": "DatetimeUTC", "replication_key_value": newest}}
    }

    result = sync(tap_config(api_url, lookback_window_minutes=24 * 60), state)

    assert [state["bookmarks"][BOT] for state in result.states] == [  # as each stream ends
        {"replication_key": "DatetimeUTC", "replication_key_value": newest}
    ] * 2


def test_a_full_table_catalog_gets_records_of_the_version_it_activates(api_url: str) -> None:
    config = tap_config(api_url, emit_activate_version_messages=True)
    catalog = TapCrescendo(config=config).catalog_dict
    for entry in catalog["streams"]:
        entry["replication_method"] = "FULL_TABLE"

    result = sync(config, catalog=catalog)

    activated = next(m for m in result.messages if m["type"] == "ACTIVATE_VERSION")
    assert activated["stream"] == BOT
    assert len(result.records) == 250
    assert {m.get("version") for m in result.messages if m["type"] == "RECORD"} == {
        activated["version"]
    }
