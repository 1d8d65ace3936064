"""Cursors (`cursors.py`): each names one page of a snapshot, for its own query only."""

from __future__ import annotations

import typing as t

from tap_crescendo.fake_api import generate_bot_rows
from tap_crescendo.fake_api.cursors import CursorStore, Position, Snapshot
from tap_crescendo.fake_api.routes import Route
from tests.fake_api.client import END_MS, KEY, START_MS, TENANT, ascending, by_instant, ids, span

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Api, Row

CURSOR_REFUSED = {
    "code": "BadRequest",
    "message": "Invalid request parameters: cursor expired or invalid",
}


def test_a_cursor_request_may_change_the_limit(api: Api, bot_sample: list[Row]) -> None:
    first = api.ok(span(START_MS, END_MS, limit=10))

    second = api.ok({"cursor": first["cursor"]["next"], "limit": 25})
    third = api.ok({"cursor": second["cursor"]["next"]})

    assert ids([first, second, third]) == [row["ID"] for row in ascending(bot_sample)]
    assert [len(body["data"]) for body in (first, second, third)] == [10, 25, 215]
    assert third["cursor"] == {"next": None}


def test_a_cursor_names_the_same_page_each_time_it_is_used(api: Api) -> None:
    cursor = api.ok(span(START_MS, END_MS, limit=30))["cursor"]["next"]

    first, again = api.ok({"cursor": cursor, "limit": 30}), api.ok({"cursor": cursor, "limit": 30})

    assert first["data"] == again["data"]
    assert first["cursor"]["next"] != again["cursor"]["next"]


def test_cursor_pages_are_a_snapshot_of_the_first_request(api: Api, bot_sample: list[Row]) -> None:
    oldest_first = ascending(bot_sample)
    first = api.ok(span(START_MS, END_MS, limit=100))
    late = generate_bot_rows(30, start_ms=START_MS, end_ms=END_MS, seed=99, tenant_id=TENANT)
    changed = {**oldest_first[-1], "CSat": 1.5}
    api.fake.add_rows(TENANT, late)
    api.fake.replace_row(TENANT, changed)

    rest = api.pages({"cursor": first["cursor"]["next"], "limit": 100})

    assert ids([first, *rest]) == [row["ID"] for row in oldest_first]
    assert {body["total"] for body in rest} == {250}
    assert rest[-1]["data"][-1] == oldest_first[-1]


def test_expired_cursors_fail_until_a_fresh_query(api: Api) -> None:
    api.fake.expire_cursors(2)
    first = api.ok(span(START_MS, END_MS, limit=100))
    failures = [api.get({"cursor": first["cursor"]["next"]}) for _ in range(2)]

    fresh = api.pages(span(START_MS, END_MS, limit=100))

    assert [(r.status_code, r.json()) for r in failures] == [(400, CURSOR_REFUSED)] * 2
    assert len(ids(fresh)) == 250


def test_a_repeated_cursor_is_served_once_when_asked(api: Api) -> None:
    api.fake.repeat_cursor_once()
    cursor = api.ok(span(START_MS, END_MS, limit=100))["cursor"]["next"]

    repeated = api.ok({"cursor": cursor, "limit": 100})
    again = api.ok({"cursor": cursor, "limit": 100})

    assert repeated["cursor"]["next"] == cursor
    assert again["cursor"]["next"] not in (None, cursor)
    assert repeated["data"] == again["data"]


def test_a_cursor_is_valid_only_for_its_tenant(start_api: Callable[..., Api]) -> None:
    api = start_api(api_keys={KEY: {TENANT, "tenant-beta"}})
    api.fake.add_rows("tenant-beta", generate_bot_rows(5, start_ms=START_MS, end_ms=END_MS))
    cursor = api.ok(span(START_MS, END_MS, limit=100))["cursor"]["next"]

    response = api.get({"cursor": cursor}, tenant="tenant-beta")

    assert response.status_code == 400
    assert response.json()["message"] == CURSOR_REFUSED["message"]


def test_a_voc_cursor_serves_both_voc_paths_but_no_bot_path(
    api: Api, voc_sample: list[Row]
) -> None:
    first = api.ok(span(START_MS, END_MS, limit=10), export="vocconv")
    cursor = {"cursor": first["cursor"]["next"], "limit": 10}

    same = [api.ok(cursor, export=export)["data"] for export in ("vocconv", "voc/conversations")]
    on_bot = api.get(cursor, export="botconv")

    assert same[0] == same[1] == sorted(voc_sample, key=by_instant)[10:20]
    assert on_bot.status_code == 400
    assert on_bot.json() == CURSOR_REFUSED


def test_only_the_newest_cursors_are_kept() -> None:
    store = CursorStore(capacity=2)
    positions = [Position(Snapshot(Route("bot", TENANT), []), offset) for offset in range(3)]

    tokens = [store.issue(position) for position in positions]

    assert [store.find(token) for token in tokens] == [None, *positions[1:]]
