"""Incremental sync: windows, checkpoints, lookback, resume after a crash, bad state."""

from __future__ import annotations

import itertools
import json
import signal
import sys
import typing as t

import pytest

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows
from tap_crescendo.timestamps import format_epoch_ms, parse_timestamp, to_epoch_ms
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    kill_after_states,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from pathlib import Path

HOUR_MS = 3_600_000


def start_ms(record: dict[str, t.Any]) -> int:
    """A record's conversation start in epoch ms."""
    return to_epoch_ms(parse_timestamp(record["DatetimeUTC"]))


def bookmark_ms(state: dict[str, t.Any]) -> int:
    """The bot stream's bookmark of a STATE, in epoch ms."""
    return to_epoch_ms(
        parse_timestamp(state["bookmarks"]["bot_conversations"]["replication_key_value"])
    )


def first_requests(fake: FakeCrescendo) -> list[dict[str, str]]:
    """The query of every first page (one per window), in order."""
    return [r.query for r in fake.requests if "from" in r.query and r.path.endswith("/botconv")]


@pytest.mark.parametrize("order", ["asc", "desc", "shuffled"])
def test_any_row_order_gives_the_same_records_and_final_state(
    bot_rows: list[dict[str, t.Any]], order: str
) -> None:
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows}, order=order)

    with fake.serve() as url:
        result = sync(tap_config(url, window_size_hours=24, page_size=7))

    newest = max(bot_rows, key=lambda row: row["Datetime"])
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert len(first_requests(fake)) == 10
    assert result.bookmark() == newest["DatetimeUTC"]


@pytest.mark.parametrize("parallel", [1, 4])
def test_each_state_claims_only_records_already_written(
    api_url: str, bot_rows: list[dict[str, t.Any]], parallel: int
) -> None:
    result = sync(
        tap_config(api_url, window_size_hours=24, page_size=7, max_parallel_windows=parallel)
    )

    checkpoints = previous = 0
    written: set[str] = set()
    newest_written = 0
    for message in result.messages:
        if message["type"] == "RECORD":
            written.add(message["record"]["ID"])
            newest_written = max(newest_written, start_ms(message["record"]))
        elif message["type"] == "STATE" and message["value"].get("bookmarks"):
            bookmark = bookmark_ms(message["value"])
            checkpoints += bookmark != previous
            previous = bookmark
            assert {row["ID"] for row in bot_rows if row["Datetime"] <= bookmark} <= written
            if parallel == 1:
                assert bookmark == newest_written
    assert 1 <= checkpoints <= 10  # at most one per window


def test_windows_are_half_open_and_cover_the_span(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    # 240 h in windows of 36 h: six whole windows and a last one of 24 h.
    edges = [SPAN_START_MS + n * 36 * HOUR_MS for n in range(7)] + [SPAN_END_MS - 1]
    on_edges = [
        {
            **bot_rows[0],
            "ID": f"conv-edge-{n}",
            "Datetime": edge,
            "DatetimeUTC": format_epoch_ms(edge),
        }
        for n, edge in enumerate(edges)
    ]
    fake.add_rows(TENANT, on_edges)

    result = sync(tap_config(api_url, window_size_hours=36))

    windows = sorted((int(q["from"]), int(q["to"])) for q in first_requests(fake))
    assert windows[0][0] == SPAN_START_MS
    assert windows[-1][1] == SPAN_END_MS
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert [end - start for start, end in windows] == [36 * HOUR_MS] * 6 + [24 * HOUR_MS]
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows + on_edges)


def test_rerun_resumes_at_bookmark_minus_lookback_and_gets_new_and_changed_rows(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    config = tap_config(api_url, end_date=None, lookback_window_minutes=90)
    first = sync(config)
    state = first.states[-1]
    bookmark = bookmark_ms(state)
    late_in_lookback = generate_bot_rows(
        3, start_ms=bookmark - 80 * 60_000, end_ms=bookmark, seed=11
    )
    newer = generate_bot_rows(4, start_ms=bookmark + 1, end_ms=bookmark + HOUR_MS, seed=12)
    too_late = generate_bot_rows(
        2, start_ms=bookmark - 5 * HOUR_MS, end_ms=bookmark - 4 * HOUR_MS, seed=13
    )
    changed = {**max(bot_rows, key=lambda row: row["Datetime"]), "CSat": 1.5}
    fake.add_rows(TENANT, late_in_lookback + newer + too_late)
    fake.replace_row(TENANT, changed)
    fake.reset_requests()

    second = sync(config, state)

    ids = set(second.ids)
    assert {row["ID"] for row in late_in_lookback + newer} <= ids
    assert not {row["ID"] for row in too_late} & ids  # older than the lookback: documented loss
    assert {r["ID"]: r for r in second.records}[changed["ID"]]["CSat"] == 1.5
    assert int(first_requests(fake)[0]["from"]) == bookmark - 90 * 60_000
    assert all(start_ms(record) >= bookmark - 90 * 60_000 for record in second.records)
    assert second.bookmark() == max(newer, key=lambda row: row["Datetime"])["DatetimeUTC"]


def test_end_date_is_exclusive_and_bounds_the_bookmark(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    end_ms = SPAN_START_MS + 5 * 24 * HOUR_MS + 7
    on_the_end = {
        **bot_rows[0],
        "ID": "conv-at-end",
        "Datetime": end_ms,
        "DatetimeUTC": format_epoch_ms(end_ms),
    }
    fake.add_rows(TENANT, [on_the_end])

    result = sync(tap_config(api_url, end_date=format_epoch_ms(end_ms)))

    expected = {row["ID"] for row in bot_rows if row["Datetime"] < end_ms}
    assert set(result.ids) == expected
    assert bookmark_ms(result.states[-1]) < end_ms
    assert all(int(q["to"]) <= end_ms for q in first_requests(fake))


def test_an_expired_cursor_restarts_its_window_once_without_duplicates(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    fake.expire_cursors(count=1)

    result = sync(tap_config(api_url, window_size_hours=240, page_size=40))

    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert len(first_requests(fake)) == 2  # the window's first page, twice


def test_a_cursor_refused_again_after_the_restart_stops_the_sync(
    fake: FakeCrescendo, api_url: str
) -> None:
    fake.expire_cursors(count=2)

    result = sync(tap_config(api_url, window_size_hours=240, page_size=40))

    assert result.error is not None
    assert "again after restarting window" in result.error
    assert "HTTP 400 BadRequest" in result.error
    assert all(
        state["bookmarks"].get("bot_conversations", {}).get("replication_key_value") is None
        for state in result.states
    )


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        pytest.param({"bookmarks": []}, "'bookmarks' must be an object", id="bookmarks-not-object"),
        pytest.param(
            {"bookmarks": {"bot_conversations": "2026-10-02"}},
            "'bot_conversations' must be an object",
            id="stream-state-not-object",
        ),
        pytest.param(
            {
                "bookmarks": {
                    "bot_conversations": {
                        "replication_key": "DatetimeUTC",
                        "replication_key_value": "yesterday",
                    }
                }
            },
            "'yesterday' is not an ISO 8601 date-time",
            id="not-a-date",
        ),
        pytest.param(
            {
                "bookmarks": {
                    "bot_conversations": {
                        "replication_key": "DatetimeUTC",
                        "replication_key_value": "2999-01-01T00:00:00Z",
                    }
                }
            },
            "is in the future",
            id="future",
        ),
        pytest.param(
            {
                "bookmarks": {
                    "bot_conversations": {
                        "replication_key": "Datetime",
                        "replication_key_value": "2026-10-02T00:00:00Z",
                    }
                }
            },
            "replication_key is 'Datetime', expected 'DatetimeUTC'",
            id="other-key",
        ),
    ],
)
def test_an_unusable_state_is_refused_before_any_request(
    fake: FakeCrescendo, api_url: str, state: dict[str, t.Any], problem: str
) -> None:
    result = sync(tap_config(api_url), state)

    assert result.error is not None
    assert problem in result.error
    assert fake.requests == []


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [1, 4])
def test_a_run_killed_mid_window_resumes_from_its_last_state_without_a_gap(
    tmp_path: Path, parallel: int
) -> None:
    rows = generate_bot_rows(3000, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=21)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: rows}, order="shuffled")
    with fake.serve() as url:
        config_file = tmp_path / "config.json"
        config = tap_config(
            url, page_size=50, lookback_window_minutes=0, max_parallel_windows=parallel
        )
        config_file.write_text(json.dumps(config))
        argv = [sys.executable, "-m", "tap_crescendo", "--config", str(config_file)]
        returncode, killed = kill_after_states(argv, 4)
        last_state = [m["value"] for m in killed if m["type"] == "STATE"][-1]
        resumed = sync(json.loads(config_file.read_text()), last_state)

    first_ids = {m["record"]["ID"] for m in killed if m["type"] == "RECORD"}
    assert returncode == -signal.SIGKILL
    assert resumed.records
    assert first_ids | set(resumed.ids) == {row["ID"] for row in rows}
    per_window = max(
        sum(1 for row in rows if day <= row["Datetime"] < day + 24 * HOUR_MS)
        for day in range(SPAN_START_MS, SPAN_END_MS, 24 * HOUR_MS)
    )
    assert len(first_ids & set(resumed.ids)) <= parallel * per_window
    assert all(start_ms(r) >= bookmark_ms(last_state) for r in resumed.records)
