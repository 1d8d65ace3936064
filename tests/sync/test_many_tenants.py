"""`tenant_ids`: one run reads many tenants, each with its own state, rows and failures."""

from __future__ import annotations

import json
import signal
import typing as t

import pytest

from tap_crescendo.cli.connection_check import check_connection
from tap_crescendo.errors import ConfigError, StateError
from tap_crescendo.fake_api import FakeCrescendo
from tap_crescendo.fake_api.rows import generate_bot_rows
from tap_crescendo.tap import TapCrescendo
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms
from tests.support.batch_output import announced_runs, batch_config, file_rows, uris
from tests.support.scripted_server import http_answer, page_body, scripted_api
from tests.support.tap_process import run_tap, tap_argv, tap_environment
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END,
    SPAN_END_MS,
    SPAN_START,
    SPAN_START_MS,
    kill_after_states,
    strict_problems,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_crescendo.sync.export import IncrementalExport
    from tests.support.tap_runs import Sync

Row = dict[str, t.Any]
BOT = "bot_conversations"
TENANTS = ["tenant-1", "tenant-2", "tenant-3", "tenant-4", "tenant-5"]
HOUR_MS = 3_600_000
LACKS = "rows with fields the schema lacks"


def tenant_rows(tenants: list[str], count: int = 40) -> dict[str, list[Row]]:
    """Bot rows over the test span for each tenant, each tenant's own IDs and `TenantID`."""
    return {
        tenant: generate_bot_rows(
            count, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=index, tenant_id=tenant
        )
        for index, tenant in enumerate(tenants)
    }


def many(url: str, tenants: list[str], **settings: t.Any) -> dict[str, t.Any]:
    """A config reading `tenants` with `tenant_ids`, one window a tenant unless `settings` say."""
    return tap_config(
        url, tenant_ids=tenants, **{"tenant_id": None, "window_size_hours": 240, **settings}
    )


def bot_records(result: Sync) -> list[Row]:
    """The bot records a run wrote, in order."""
    return [m["record"] for m in result.messages if m["type"] == "RECORD" and m["stream"] == BOT]


def ids_by_tenant(result: Sync) -> dict[str, set[str]]:
    """The IDs of the bot records a run wrote, by their `TenantID`."""
    found: dict[str, set[str]] = {}
    for record in bot_records(result):
        found.setdefault(record["TenantID"], set()).add(record["ID"])
    return found


def newest(rows: list[Row]) -> str:
    """The newest conversation start of some bot rows, as the API wrote it."""
    return str(max(rows, key=lambda row: row["Datetime"])["DatetimeUTC"])


def partition(tenant: str, bookmark: str, **more: t.Any) -> dict[str, t.Any]:
    """A tenant's partition of the bot stream's state."""
    return {
        "context": {"tenant_id": tenant},
        "replication_key": "DatetimeUTC",
        "replication_key_value": bookmark,
        **more,
    }


def first_froms(fake: FakeCrescendo) -> list[tuple[str, int]]:
    """Each bot window's first request: its tenant and its `from`, in the order sent."""
    return [
        (r.path.split("/")[5], int(r.query["from"]))
        for r in fake.requests
        if r.path.endswith("/botconv") and "from" in r.query
    ]


def ms(value: str) -> int:
    """A date-time's epoch ms."""
    return to_epoch_ms(parse_timestamp(value))


def test_each_tenant_is_read_in_the_order_given_with_exactly_its_rows() -> None:
    tenants = ["tenant-b", "tenant-a", "tenant-c"]
    rows = tenant_rows(tenants)
    fake = FakeCrescendo(api_keys={API_KEY: set(tenants)}, rows=rows)
    with fake.serve() as url:
        result = sync(many(url, tenants, page_size=15))

    assert result.error is None
    assert ids_by_tenant(result) == {tenant: {row["ID"] for row in rows[tenant]} for tenant in rows}
    order = [record["TenantID"] for record in bot_records(result)]
    assert order == sorted(order, key=tenants.index)
    assert [tenant for tenant, _ in first_froms(fake)] == tenants
    assert strict_problems(result.messages) == []


def test_each_tenant_keeps_its_own_bookmark_and_the_next_run_resumes_each_from_it() -> None:
    tenants = TENANTS[:3]
    rows = tenant_rows(tenants)
    fake = FakeCrescendo(api_keys={API_KEY: set(tenants)}, rows=rows)
    with fake.serve() as url:
        config = many(url, tenants)
        first = sync(config)
        fake.reset_requests()
        second = sync(config, first.states[-1])

    assert first.states[-1]["bookmarks"][BOT] == {
        "partitions": [partition(tenant, newest(rows[tenant])) for tenant in tenants]
    }
    assert first_froms(fake) == [(tenant, ms(newest(rows[tenant])) - HOUR_MS) for tenant in tenants]
    assert second.states[-1]["bookmarks"][BOT] == first.states[-1]["bookmarks"][BOT]


def test_progress_and_summary_lines_name_the_tenant(logs: pytest.LogCaptureFixture) -> None:
    tenants = TENANTS[:2]
    rows = tenant_rows(tenants, count=10)
    rows["tenant-1"][3] = {**rows["tenant-1"][3], "Sentiment": 0.4}  # a field the schema lacks
    fake = FakeCrescendo(api_keys={API_KEY: set(tenants)}, rows=rows)
    with fake.serve() as url:
        sync(many(url, tenants, schema_evolution="discard"))

    summaries = [r.getMessage() for r in logs.records if " records from " in r.getMessage()]
    assert [(line.split(" windows in ")[0], line.split("; ")[-2]) for line in summaries] == [
        (f"Stream '{BOT}', tenant 'tenant-1': 10 records from 1", f"1 {LACKS}"),
        (f"Stream '{BOT}', tenant 'tenant-2': 10 records from 1", f"0 {LACKS}"),
        ("Stream 'voc_conversations', tenant 'tenant-1': 0 records from 1", f"0 {LACKS}"),
        ("Stream 'voc_conversations', tenant 'tenant-2': 0 records from 1", f"0 {LACKS}"),
    ]


@pytest.mark.parametrize(
    "tenants",
    [pytest.param(["tenant-2", "tenant-1"], id="tenant_ids"), pytest.param(None, id="tenant_id")],
)
def test_the_connection_check_asks_each_tenant_once(tenants: list[str] | None) -> None:
    fake = FakeCrescendo(api_keys={API_KEY: set(TENANTS)}, rows=tenant_rows(TENANTS[:2]))
    with fake.serve() as url:
        config = many(url, tenants) if tenants else tap_config(url, tenant_id="tenant-1")
        stream = t.cast("IncrementalExport", TapCrescendo(config=config).streams[BOT])
        lines = list(check_connection(stream))

    asked = [r.path.split("/")[5] for r in fake.requests]
    assert asked == (tenants or ["tenant-1"])
    assert [line.split(":")[0] for line in lines] == [
        f"Stream '{BOT}', tenant '{tenant}'" for tenant in asked
    ]


def test_a_tenant_the_key_may_not_read_stops_the_run_after_the_state_of_those_before() -> None:
    rows = tenant_rows(TENANTS)
    allowed = set(TENANTS) - {"tenant-3"}
    fake = FakeCrescendo(api_keys={API_KEY: allowed}, rows=rows)
    with fake.serve() as url:
        stopped = sync(many(url, TENANTS))
        requested = [tenant for tenant, _ in first_froms(fake)]

    assert stopped.error == (
        "HTTP 403 PermissionDenied: API key does not allow this operation. The API key may not "
        "read tenant 'tenant-3': check `tenant_ids` and the key's permissions"
    )
    assert requested == ["tenant-1", "tenant-2", "tenant-3"]
    assert ids_by_tenant(stopped) == {
        tenant: {row["ID"] for row in rows[tenant]} for tenant in ["tenant-1", "tenant-2"]
    }
    last = stopped.states[-1]["bookmarks"][BOT]["partitions"]
    assert [p for p in last if "replication_key_value" in p] == [
        partition(tenant, newest(rows[tenant])) for tenant in ["tenant-1", "tenant-2"]
    ]

    # Once the key may read it, the next run resumes the first two and reads the rest whole.
    fake = FakeCrescendo(api_keys={API_KEY: set(TENANTS)}, rows=rows)
    with fake.serve() as url:
        resumed = sync(many(url, TENANTS), stopped.states[-1])

    assert resumed.error is None
    assert first_froms(fake) == [
        ("tenant-1", ms(newest(rows["tenant-1"])) - HOUR_MS),
        ("tenant-2", ms(newest(rows["tenant-2"])) - HOUR_MS),
        *((tenant, SPAN_START_MS) for tenant in TENANTS[2:]),
    ]
    assert ids_by_tenant(resumed) | ids_by_tenant(stopped) == {
        tenant: {row["ID"] for row in rows[tenant]} for tenant in TENANTS
    }


def test_a_refused_key_stops_the_run_at_its_first_request() -> None:
    fake = FakeCrescendo(api_keys={API_KEY: set(TENANTS)}, rows=tenant_rows(TENANTS))
    with fake.serve() as url:
        result = sync(many(url, TENANTS, api_key="another-key-0000"))

    assert result.error == (
        "HTTP 401 Unauthenticated: Authorization header with Bearer token is required. The API "
        "key was refused: check the `api_key` setting"
    )
    assert len(fake.requests) == 1


def test_a_404_for_one_tenant_names_it_and_the_setting() -> None:
    rows = tenant_rows(["tenant-1"], count=3)["tenant-1"]
    missing = b'{"code": "NotFound", "message": "no such tenant"}'
    with scripted_api(http_answer(200, page_body(rows)), http_answer(404, missing)) as api:
        result = sync(many(api.url, ["tenant-1", "tenant-2"], max_retries=0))

    assert result.error == (
        "HTTP 404 NotFound: no such tenant. Nothing answers at "
        "/api/v1/reporting/tenants/tenant-2/botconv: check `api_url` "
        f"({api.url}) and `tenant_ids` ('tenant-2')"
    )
    assert sorted(result.ids) == sorted(row["ID"] for row in rows)


@pytest.mark.parametrize("setting", ["tenant_id", "tenant_ids"])
def test_a_row_of_another_tenant_stops_the_run_and_nothing_of_its_page_is_extracted(
    setting: str,
) -> None:
    rows = tenant_rows(["tenant-1", "tenant-2"], count=6)
    leaked = {**rows["tenant-1"][0], "ID": "leaked-1", "TenantID": "tenant-2"}
    page = sorted([*rows["tenant-1"], leaked], key=lambda row: row["Datetime"])
    fake = FakeCrescendo(api_keys={API_KEY: {"tenant-1"}}, rows={"tenant-1": page})
    with fake.serve() as url:
        config = many(url, ["tenant-1"])
        if setting == "tenant_id":
            config = {**tap_config(url, window_size_hours=240), "tenant_id": "tenant-1"}
        result = sync(config)

    assert result.error == (
        f"Stream '{BOT}', tenant 'tenant-1': record 'leaked-1' (from "
        f"/api/v1/reporting/tenants/tenant-1/botconv?from={SPAN_START_MS}&to={SPAN_END_MS}"
        "&limit=40) is of tenant 'tenant-2': the API sent another tenant's rows; none of this "
        "page is extracted"
    )
    assert result.records == []
    assert result.states == []


def test_rows_that_name_no_tenant_are_extracted() -> None:
    rows = tenant_rows(["tenant-1"], count=4)["tenant-1"]
    rows[1] = {**rows[1], "TenantID": None}
    voc: list[Row] = [  # VOC rows may lack TenantID
        {"ID": "v-1", "Datetime": "2026-10-02T10:00:00Z"},
        {"ID": "v-2", "TenantID": None, "Datetime": "2026-10-02T11:00:00Z"},
        {"ID": "v-3", "TenantID": "tenant-1", "Datetime": "2026-10-02T12:00:00Z"},
    ]
    fake = FakeCrescendo(
        api_keys={API_KEY: {"tenant-1"}}, rows={"tenant-1": rows}, voc_rows={"tenant-1": voc}
    )
    with fake.serve() as url:
        result = sync(many(url, ["tenant-1"]))

    assert result.error is None
    assert sorted(r["ID"] for r in bot_records(result)) == sorted(row["ID"] for row in rows)
    voc_records = [m for m in result.messages if m["type"] == "RECORD" and m["stream"] != BOT]
    assert [m["record"]["ID"] for m in voc_records] == ["v-1", "v-2", "v-3"]


def test_a_bookmark_of_tenant_id_moves_to_its_tenant_under_tenant_ids_and_back() -> None:
    rows = tenant_rows(["tenant-1", "tenant-2"])
    fake = FakeCrescendo(api_keys={API_KEY: set(rows)}, rows=rows)
    with fake.serve() as url:
        single = sync(tap_config(url, tenant_id="tenant-1", window_size_hours=240))
        fake.reset_requests()
        moved = sync(many(url, ["tenant-2", "tenant-1"]), single.states[-1])
        froms_moved = first_froms(fake)
        fake.reset_requests()
        back = sync(tap_config(url, tenant_id="tenant-2", window_size_hours=240), moved.states[-1])

    assert single.states[-1]["bookmarks"][BOT] == {
        "replication_key": "DatetimeUTC",
        "replication_key_value": newest(rows["tenant-1"]),
        "tenant_id": "tenant-1",
    }
    assert froms_moved == [
        ("tenant-2", SPAN_START_MS),
        ("tenant-1", ms(newest(rows["tenant-1"])) - HOUR_MS),
    ]
    assert moved.states[-1]["bookmarks"][BOT] == {
        "partitions": [
            partition("tenant-2", newest(rows["tenant-2"])),
            partition("tenant-1", newest(rows["tenant-1"])),
        ]
    }
    assert first_froms(fake) == [("tenant-2", ms(newest(rows["tenant-2"])) - HOUR_MS)]
    assert back.states[-1]["bookmarks"][BOT] == {
        "replication_key": "DatetimeUTC",
        "replication_key_value": newest(rows["tenant-2"]),
        "tenant_id": "tenant-2",
        "partitions": [partition("tenant-1", newest(rows["tenant-1"]))],
    }


def test_back_to_tenant_id_the_last_partition_moves_up_and_no_partition_list_is_left() -> None:
    rows = tenant_rows(["tenant-1"])
    state = {"bookmarks": {BOT: {"partitions": [partition("tenant-1", newest(rows["tenant-1"]))]}}}
    fake = FakeCrescendo(api_keys={API_KEY: set(rows)}, rows=rows)
    with fake.serve() as url:
        result = sync(tap_config(url, tenant_id="tenant-1", window_size_hours=240), state)

    assert first_froms(fake) == [("tenant-1", ms(newest(rows["tenant-1"])) - HOUR_MS)]
    assert result.states[-1]["bookmarks"][BOT] == {
        "replication_key": "DatetimeUTC",
        "replication_key_value": newest(rows["tenant-1"]),
        "tenant_id": "tenant-1",
    }


@pytest.mark.parametrize("setting", ["tenant_id", "tenant_ids"])
def test_a_tenant_s_own_bookmark_wins_over_the_one_the_other_setting_left(setting: str) -> None:
    own, other = "2026-10-08T00:00:00Z", "2026-10-04T00:00:00Z"
    if setting == "tenant_id":
        stream_state = {
            **partition("tenant-1", own),
            "tenant_id": "tenant-1",
            "partitions": [partition("tenant-1", other)],
        }
        del stream_state["context"]
    else:  # a bookmark of `tenant_id` that names no tenant is not looked at either
        stream_state = {**partition("tenant-1", other), "partitions": [partition("tenant-1", own)]}
        del stream_state["context"]
    fake = FakeCrescendo(api_keys={API_KEY: {"tenant-1"}}, rows={})
    with fake.serve() as url:
        config = many(url, ["tenant-1"])
        if setting == "tenant_id":
            config = tap_config(url, tenant_id="tenant-1", window_size_hours=240)
        result = sync(config, {"bookmarks": {BOT: stream_state}})

    assert result.error is None
    assert first_froms(fake) == [("tenant-1", ms(own) - HOUR_MS)]


def test_a_partition_s_loaded_files_that_cannot_be_read_name_its_tenant(tmp_path: Path) -> None:
    stream_state = {"partitions": [{"context": {"tenant_id": "tenant-2"}, "batch_runs": [1]}]}
    fake = FakeCrescendo(api_keys={API_KEY: {"tenant-2"}}, rows={})
    with fake.serve() as url:
        config = many(url, ["tenant-2"], batch_config=batch_config(tmp_path, size=20))
        result = sync(config, {"bookmarks": {BOT: stream_state}})

    assert result.error == (
        f"STATE for stream '{BOT}', tenant 'tenant-2': batch_runs must map file stems to counts "
        "of files, got [1]"
    )


def test_the_bookmark_of_another_tenant_is_not_taken_for_this_one(
    logs: pytest.LogCaptureFixture,
) -> None:
    rows = tenant_rows(["tenant-1", "tenant-2"])
    bookmark = newest(rows["tenant-1"])
    state = {"bookmarks": {BOT: {**partition("tenant-1", bookmark), "tenant_id": "tenant-1"}}}
    del state["bookmarks"][BOT]["context"]
    fake = FakeCrescendo(api_keys={API_KEY: set(rows)}, rows=rows)
    with fake.serve() as url:
        result = sync(tap_config(url, tenant_id="tenant-2", window_size_hours=240), state)

    assert [r.getMessage() for r in logs.records if "is tenant" in r.getMessage()] == [
        f"STATE for stream '{BOT}': the bookmark ({bookmark}) is tenant 'tenant-1''s, not "
        "'tenant-2''s: reading from `start_date` or `range`, as on a first sync"
    ]
    assert first_froms(fake) == [("tenant-2", SPAN_START_MS)]
    assert ids_by_tenant(result) == {"tenant-2": {row["ID"] for row in rows["tenant-2"]}}


def test_a_bookmark_that_names_no_tenant_stops_tenant_ids_before_any_request() -> None:
    state = {"bookmarks": {BOT: partition("tenant-1", "2026-10-05T00:00:00Z")}}
    del state["bookmarks"][BOT]["context"]
    fake = FakeCrescendo(api_keys={API_KEY: {"tenant-1"}}, rows={})
    with fake.serve() as url:
        result = sync(many(url, ["tenant-1"]), state)
        unchanged = sync(tap_config(url, tenant_id="tenant-1"), state)

    assert result.error == (
        f"STATE for stream '{BOT}', tenant 'tenant-1': the STATE holds a bookmark of "
        "`tenant_id` (2026-10-05T00:00:00Z) that does not name its tenant; run once with "
        "`tenant_id` set to that tenant, which names it, then move to `tenant_ids`"
    )
    assert unchanged.error is None  # `tenant_id` resumes from it as before
    assert next(m for m in fake.requests if "from" in m.query).query["from"] == str(
        ms("2026-10-05T00:00:00Z") - HOUR_MS
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param(
            {"tenant_id": "a", "tenant_ids": ["a"]},
            "Set `tenant_id` (one tenant) or `tenant_ids` (a list of tenants): not both",
            id="both",
        ),
        pytest.param(
            {"tenant_id": None},
            "Set `tenant_id` (one tenant) or `tenant_ids` (a list of tenants): neither is set",
            id="neither",
        ),
        pytest.param(
            {"tenant_id": None, "tenant_ids": []},
            "Setting `tenant_ids` must list at least one tenant",
            id="empty",
        ),
        pytest.param(
            {"tenant_id": None, "tenant_ids": ["a", "b", "a"]},
            "Setting `tenant_ids` lists tenant 'a' twice",
            id="twice",
        ),
    ],
)
def test_tenant_settings_that_cannot_work_are_one_line_naming_them(
    settings: dict[str, t.Any], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        TapCrescendo(config=tap_config("http://127.0.0.1:9", **settings))

    assert str(refused.value) == message


def test_a_tenant_list_item_that_is_not_a_tenant_id_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"tenant_ids"):
        TapCrescendo(config=tap_config("http://127.0.0.1:9", tenant_id=None, tenant_ids=[""]))


def test_a_partition_bookmark_that_cannot_be_resumed_names_its_tenant() -> None:
    state = {"bookmarks": {BOT: {"partitions": [partition("tenant-2", "yesterday")]}}}

    with pytest.raises(StateError) as refused:
        TapCrescendo(config=many("http://127.0.0.1:9", ["tenant-1", "tenant-2"]), state=state)

    assert str(refused.value) == (
        f"STATE for stream '{BOT}', tenant 'tenant-2': replication_key_value 'yesterday' is "
        "not an ISO 8601 date-time"
    )


def test_batch_files_of_two_tenants_hold_their_rows_and_each_state_its_files(
    tmp_path: Path,
) -> None:
    tenants = ["tenant-1", "tenant-2"]
    rows = tenant_rows(tenants, count=50)
    fake = FakeCrescendo(api_keys={API_KEY: set(tenants)}, rows=rows)
    with fake.serve() as url:
        config = many(url, tenants, batch_config=batch_config(tmp_path, size=20))
        one = sync(config)
        filed: dict[str, set[str]] = {}
        for uri in uris(one, BOT):
            for row in file_rows(uri):
                filed.setdefault(row["TenantID"], set()).add(row["ID"])
        two = sync(config, one.states[-1])

    assert filed == {tenant: {row["ID"] for row in rows[tenant]} for tenant in tenants}
    parts = one.states[-1]["bookmarks"][BOT]["partitions"]
    runs = announced_runs(one.messages)
    assert [p["context"]["tenant_id"] for p in parts] == tenants
    assert {stem: count for p in parts for stem, count in p["batch_runs"].items()} == runs
    assert sorted(count for p in parts for count in p["batch_runs"].values()) == [3, 3]
    assert all(p["replication_key_value"] == newest(rows[p["context"]["tenant_id"]]) for p in parts)
    # The next run removed every file the first run's STATE names: the target loaded them.
    assert {path.as_uri() for path in (tmp_path / "crescendo").iterdir()} == uris(two)


def test_a_file_a_tenant_wrote_after_its_last_checkpoint_is_in_the_state_before_the_next(
    tmp_path: Path,
) -> None:
    rows = tenant_rows(["tenant-1"])
    # Resumed at its newest row: the lookback is read again and moves no bookmark.
    state = {"bookmarks": {BOT: {"partitions": [partition("tenant-1", newest(rows["tenant-1"]))]}}}
    fake = FakeCrescendo(api_keys={API_KEY: {"tenant-1"}}, rows=rows)
    with fake.serve() as url:
        config = many(url, ["tenant-1", "tenant-2"], batch_config=batch_config(tmp_path, size=20))
        result = sync(config, state)

    assert result.error is not None
    assert "may not read tenant 'tenant-2'" in result.error
    assert announced_runs(result.messages)
    (first, _) = result.states[-1]["bookmarks"][BOT]["partitions"]
    assert first["batch_runs"] == announced_runs(result.messages)


@pytest.mark.slow
def test_a_run_killed_in_the_second_tenant_resumes_without_reading_the_first_again(
    tmp_path: Path,
) -> None:
    tenants = ["tenant-1", "tenant-2"]
    rows = tenant_rows(tenants, count=1500)
    fake = FakeCrescendo(api_keys={API_KEY: set(tenants)}, rows=rows, order="shuffled")
    config = many("", tenants, page_size=50, window_size_hours=24, lookback_window_minutes=0)
    with fake.serve() as url:
        config["api_url"] = url
        # Ten windows of the first tenant, then three of the second.
        returncode, killed = kill_after_states(tap_argv(tmp_path, config), 13)
        last_state = [m["value"] for m in killed if m["type"] == "STATE"][-1]
        fake.reset_requests()
        resumed = sync(config, last_state)

    first, second = last_state["bookmarks"][BOT]["partitions"]
    assert returncode == -signal.SIGKILL
    assert first["replication_key_value"] == newest(rows["tenant-1"])
    assert "replication_key_value" in second
    killed_ids = {m["record"]["ID"] for m in killed if m["type"] == "RECORD"}
    again = ids_by_tenant(resumed)
    # Of the first tenant only the conversation at its bookmark is read again (from is inclusive).
    at_bookmark = {
        r["ID"] for r in rows["tenant-1"] if r["DatetimeUTC"] == newest(rows["tenant-1"])
    }
    assert again.get("tenant-1", set()) == at_bookmark
    assert [f for t, f in first_froms(fake) if t == "tenant-1"] == [
        ms(first["replication_key_value"])
    ]
    assert killed_ids | set(resumed.ids) == {r["ID"] for t in tenants for r in rows[t]}
    per_window = max(
        sum(1 for row in rows["tenant-2"] if day <= row["Datetime"] < day + 24 * HOUR_MS)
        for day in range(SPAN_START_MS, SPAN_END_MS, 24 * HOUR_MS)
    )
    assert len(killed_ids & again["tenant-2"]) <= per_window


@pytest.mark.slow
def test_tenant_ids_from_the_environment_are_a_json_list(tmp_path: Path) -> None:
    tenants = ["tenant-1", "tenant-2"]
    rows = tenant_rows(tenants, count=5)
    fake = FakeCrescendo(api_keys={API_KEY: set(tenants)}, rows=rows)
    with fake.serve() as url:
        environment = tap_environment(
            TAP_CRESCENDO_API_KEY=API_KEY,
            TAP_CRESCENDO_API_URL=url,
            TAP_CRESCENDO_TENANT_IDS=json.dumps(tenants),
            TAP_CRESCENDO_START_DATE=SPAN_START,
            TAP_CRESCENDO_END_DATE=SPAN_END,
        )
        command = run_tap(tap_argv(tmp_path, None, "--config", "ENV"), environment)

    assert command.returncode == 0, command.stderr[-3000:]
    found = {m["record"]["ID"] for m in command.messages if m["type"] == "RECORD"}
    assert found == {row["ID"] for tenant in tenants for row in rows[tenant]}
