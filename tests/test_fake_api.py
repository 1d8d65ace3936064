"""The fake Crescendo API, over real HTTP on 127.0.0.1: rows, paths, auth, parameters, cursors."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
import requests

from tap_crescendo.fake_api import FakeCrescendo, RecordedRequest, generate_bot_rows
from tap_crescendo.fake_api.cursors import CursorStore, Position, Snapshot
from tap_crescendo.fake_api.routes import Route
from tap_crescendo.fake_api.rows import NULLABLE_TEXT, utc_text
from tests.local_servers import REPO, free_port, wait_until_answering

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

KEY = "fake-api-key"
OTHER_KEY = "beta-only-key"
TENANT = "tenant-alpha"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
START_MS = 1_790_812_800_000  # 2026-10-01T00:00:00Z
END_MS = START_MS + 10 * DAY_MS
ROWS = generate_bot_rows(250, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)
ROW_KEYS = [
    "ID",
    "TenantID",
    "BotID",
    "BotName",
    "Datetime",
    "EndDatetime",
    "DatetimeUTC",
    "EndDatetimeUTC",
    "Duration",
    "Escalated",
    "escalatedAt",
    "CSat",
    "AgentName",
    "AgentId",
    "AgentEmail",
    "Category",
    "Subcategory",
    "Tertiary",
    "RemoteIp",
    "userAgent",
    "Referrer",
    "Media",
    "Summary",
    "Handoff Reason",
    "ticketId",
    "ticketUrl",
    "ticketKind",
    "Input",
    "Contact Name",
    "Contact Email",
    "Contact Phone",
]
BOT_EXPORTS = [
    pytest.param("botconv", id="botconv"),
    pytest.param("assistant/conversations", id="assistant-conversations"),
]
UNAUTHENTICATED = {
    "code": "Unauthenticated",
    "message": "Authorization header with Bearer token is required",
}
PERMISSION_DENIED = {"code": "PermissionDenied", "message": "API key does not allow this operation"}


@dataclass
class Api:
    """A running fake and a session to call it with."""

    fake: FakeCrescendo
    url: str
    session: requests.Session

    def path(self, tenant: str = TENANT, export: str = "botconv") -> str:
        """The raw path of an export, the tenant percent-encoded as one segment."""
        return f"/api/v1/reporting/tenants/{quote(tenant, safe='')}/{export}"

    def get(
        self,
        params: dict[str, t.Any] | None = None,
        *,
        tenant: str = TENANT,
        export: str = "botconv",
        key: str | None = KEY,
    ) -> requests.Response:
        """GET an export with `params`, authenticated with `key` unless it is None."""
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return self.session.get(
            self.url + self.path(tenant, export), params=params, headers=headers, timeout=10
        )

    def pages(self, params: dict[str, t.Any], *, export: str = "botconv") -> list[dict[str, t.Any]]:
        """Every page of a query, following cursor.next with the first request's limit."""
        limit = {"limit": params["limit"]} if "limit" in params else {}
        bodies = [self.ok(params, export=export)]
        while bodies[-1]["cursor"].get("next"):
            bodies.append(self.ok({"cursor": bodies[-1]["cursor"]["next"], **limit}, export=export))
        return bodies

    def ok(self, params: dict[str, t.Any], *, export: str = "botconv") -> dict[str, t.Any]:
        """The body of a request that must succeed."""
        response = self.get(params, export=export)
        assert response.status_code == 200, response.text
        body: dict[str, t.Any] = response.json()
        return body


def ids(bodies: list[dict[str, t.Any]]) -> list[str]:
    return [row["ID"] for body in bodies for row in body["data"]]


def ids_between(rows: list[dict[str, t.Any]], from_ms: int, to_ms: int) -> set[str]:
    return {row["ID"] for row in rows if from_ms <= row["Datetime"] < to_ms}


def span(from_ms: int, to_ms: int, **extra: t.Any) -> dict[str, t.Any]:
    return {"from": str(from_ms), "to": str(to_ms), **extra}


@pytest.fixture
def start_api() -> Iterator[Callable[..., Api]]:
    """Start fakes (the test rows by default) that live until the test ends."""
    with contextlib.ExitStack() as stack:

        def start(rows: list[dict[str, t.Any]] | None = None, **options: t.Any) -> Api:
            options.setdefault("api_keys", {KEY: {TENANT}, OTHER_KEY: {"tenant-beta"}})
            fake = FakeCrescendo(rows={TENANT: ROWS if rows is None else rows}, **options)
            url = stack.enter_context(fake.serve())
            session = stack.enter_context(requests.Session())
            session.trust_env = False
            return Api(fake, url, session)

        yield start


@pytest.fixture
def api(start_api: Callable[..., Api]) -> Api:
    return start_api()


# Rows


def test_rows_have_exactly_the_api_keys_in_the_api_order() -> None:
    assert all(list(row) == ROW_KEYS for row in ROWS)


def test_rows_depend_only_on_the_seed() -> None:
    again = generate_bot_rows(250, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)
    other = generate_bot_rows(250, start_ms=START_MS, end_ms=END_MS, seed=12, tenant_id=TENANT)

    assert again == ROWS
    assert {row["ID"] for row in other}.isdisjoint(row["ID"] for row in ROWS)


def test_row_ids_are_unique() -> None:
    rows = generate_bot_rows(20_000, start_ms=START_MS, end_ms=START_MS + 1000, seed=3)

    assert len({row["ID"] for row in rows}) == 20_000


def test_row_times_lie_in_the_span_and_agree_with_each_other() -> None:
    for row in ROWS:
        assert START_MS <= row["Datetime"] < END_MS
        assert 0 <= row["EndDatetime"] - row["Datetime"] - row["Duration"] * 1000 < 1000
        assert row["DatetimeUTC"] == utc_text(row["Datetime"])
        assert row["EndDatetimeUTC"] == utc_text(row["EndDatetime"])
        assert row["TenantID"] == TENANT
        if row["Escalated"] is True:
            assert row["Datetime"] <= row["escalatedAt"] <= row["EndDatetime"]
            assert row["Handoff Reason"] is not None
        else:
            assert row["escalatedAt"] is None
            assert row["Handoff Reason"] is None


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        pytest.param(START_MS, "2026-10-01T00:00:00Z", id="whole-second"),
        pytest.param(START_MS + 120, "2026-10-01T00:00:00.12Z", id="trailing-zero-trimmed"),
        pytest.param(START_MS + 100, "2026-10-01T00:00:00.1Z", id="two-zeros-trimmed"),
        pytest.param(START_MS + 123, "2026-10-01T00:00:00.123Z", id="milliseconds"),
        pytest.param(START_MS + 7, "2026-10-01T00:00:00.007Z", id="leading-zeros-kept"),
    ],
)
def test_utc_text_is_rfc3339_with_trailing_zeros_trimmed(epoch_ms: int, text: str) -> None:
    assert utc_text(epoch_ms) == text


@pytest.mark.parametrize(
    ("field", "is_variant"),
    [
        pytest.param("AgentId", lambda v: isinstance(v, str), id="agent-id-string"),
        pytest.param("AgentId", lambda v: type(v) is int, id="agent-id-integer"),
        pytest.param("AgentId", lambda v: v is None, id="agent-id-null"),
        pytest.param("ticketId", lambda v: isinstance(v, str), id="ticket-id-string"),
        pytest.param("ticketId", lambda v: type(v) is int, id="ticket-id-integer"),
        pytest.param("ticketId", lambda v: v is None, id="ticket-id-null"),
        pytest.param("Media", lambda v: isinstance(v, str), id="media-string"),
        pytest.param("Media", lambda v: isinstance(v, list) and len(v) > 1, id="media-list"),
        pytest.param("Media", lambda v: v == [], id="media-empty-list"),
        pytest.param("Media", lambda v: v is None, id="media-null"),
        pytest.param("CSat", lambda v: type(v) is int, id="csat-integer"),
        pytest.param("CSat", lambda v: type(v) is float, id="csat-float"),
        pytest.param("CSat", lambda v: v is None, id="csat-null"),
        pytest.param("Escalated", lambda v: v is True, id="escalated-true"),
        pytest.param("Escalated", lambda v: v is False, id="escalated-false"),
        pytest.param("Escalated", lambda v: v is None, id="escalated-null"),
        pytest.param("escalatedAt", lambda v: type(v) is int, id="escalated-at-integer"),
        pytest.param("escalatedAt", lambda v: v is None, id="escalated-at-null"),
    ],
)
def test_every_type_variant_appears_in_200_rows(
    field: str, is_variant: Callable[[t.Any], bool]
) -> None:
    rows = generate_bot_rows(200, start_ms=START_MS, end_ms=END_MS, seed=5)

    assert any(is_variant(row[field]) for row in rows)


@pytest.mark.parametrize("field", [*NULLABLE_TEXT, "Handoff Reason"])
def test_nullable_text_is_null_in_some_of_50_rows_and_text_in_others(field: str) -> None:
    values = [row[field] for row in ROWS[:50]]

    assert None in values
    assert any(isinstance(value, str) and value for value in values)


def test_duration_is_always_an_integer() -> None:
    assert all(type(row["Duration"]) is int for row in ROWS)


@pytest.mark.parametrize("field", ["Summary", "Input"])
def test_free_text_holds_non_ascii_quotes_and_commas(field: str) -> None:
    texts = [row[field] for row in ROWS[:50] if row[field] is not None]

    assert any(not text.isascii() for text in texts)
    assert any('"' in text for text in texts)
    assert any("," in text for text in texts)


def test_generating_rows_refuses_an_empty_span() -> None:
    with pytest.raises(ValueError, match="start_ms < end_ms"):
        generate_bot_rows(1, start_ms=START_MS, end_ms=START_MS)


# Pages and cursors


@pytest.mark.parametrize("export", BOT_EXPORTS)
def test_pages_hold_exactly_the_rows_of_a_span(api: Api, export: str) -> None:
    from_ms, to_ms = START_MS + 2 * DAY_MS + 123, START_MS + 6 * DAY_MS
    expected = ids_between(ROWS, from_ms, to_ms)

    bodies = api.pages(span(from_ms, to_ms, limit=17), export=export)

    assert len(bodies) == -(-len(expected) // 17)
    assert all(len(body["data"]) == 17 for body in bodies[:-1])
    assert len(ids(bodies)) == len(expected)
    assert set(ids(bodies)) == expected
    assert {body["total"] for body in bodies} == {len(expected)}


def test_total_counts_the_whole_query_not_the_page(api: Api) -> None:
    body = api.ok(span(START_MS, END_MS, limit=10))

    assert body["total"] == 250
    assert len(body["data"]) == 10


def test_rows_come_back_exactly_as_stored(api: Api) -> None:
    served = {row["ID"]: row for body in api.pages(span(START_MS, END_MS)) for row in body["data"]}

    assert served == {row["ID"]: row for row in ROWS}
    assert all(list(row) == ROW_KEYS for row in served.values())


def test_body_is_compact_utf8_json_with_content_type_and_length(api: Api) -> None:
    response = api.get(span(START_MS, END_MS, limit=5))

    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content.startswith(b'{"total":250,"cursor":{"next":"')
    assert b'"data":[{"ID":"' in response.content
    assert response.raw.version == 11


def test_non_ascii_text_is_sent_unescaped(start_api: Callable[..., Api]) -> None:
    api = start_api([{**ROWS[0], "Summary": 'Café \u2013 naïve ✓, "quoted"'}])

    content = api.get(span(START_MS, END_MS)).content

    assert '"Summary":"Café \u2013 naïve ✓, \\"quoted\\""'.encode() in content


def ascending(rows: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return sorted(rows, key=lambda row: (row["Datetime"], row["ID"]))


@pytest.mark.parametrize(
    ("order", "reverse"),
    [pytest.param("asc", False, id="asc"), pytest.param("desc", True, id="desc")],
)
def test_rows_come_in_the_configured_order(
    start_api: Callable[..., Api], order: str, reverse: bool
) -> None:
    api = start_api(order=order)

    served = ids(api.pages(span(START_MS, END_MS, limit=60)))

    expected = [row["ID"] for row in ascending(ROWS)]
    assert served == (expected[::-1] if reverse else expected)


def test_shuffled_order_is_deterministic_and_unsorted(start_api: Callable[..., Api]) -> None:
    first = ids(start_api(order="shuffled").pages(span(START_MS, END_MS, limit=60)))
    again = ids(start_api(order="shuffled").pages(span(START_MS, END_MS, limit=60)))
    other_seed = ids(start_api(order="shuffled", shuffle_seed=1).pages(span(START_MS, END_MS)))
    oldest_first = [row["ID"] for row in ascending(ROWS)]

    assert first == again
    assert sorted(first) == sorted(oldest_first)
    assert first not in (oldest_first, oldest_first[::-1], other_seed)


def test_unknown_order_is_refused() -> None:
    with pytest.raises(ValueError, match="order must be one of asc, desc, shuffled"):
        FakeCrescendo(api_keys={}, order="newest")


def test_limit_defaults_to_1000_and_allows_1_to_5000(start_api: Callable[..., Api]) -> None:
    rows = generate_bot_rows(5001, start_ms=START_MS, end_ms=END_MS, seed=2)
    api = start_api(rows)

    assert [len(body["data"]) for body in api.pages(span(START_MS, END_MS))] == [1000] * 5 + [1]
    assert len(api.ok(span(START_MS, END_MS, limit=5000))["data"]) == 5000
    assert len(api.ok(span(START_MS, END_MS, limit=1))["data"]) == 1


def test_a_cursor_request_may_change_the_limit(api: Api) -> None:
    first = api.ok(span(START_MS, END_MS, limit=10))

    second = api.ok({"cursor": first["cursor"]["next"], "limit": 25})
    third = api.ok({"cursor": second["cursor"]["next"]})

    assert ids([first, second, third]) == [row["ID"] for row in ascending(ROWS)]
    assert [len(body["data"]) for body in (first, second, third)] == [10, 25, 215]
    assert third["cursor"] == {"next": None}


def test_a_cursor_names_the_same_page_each_time_it_is_used(api: Api) -> None:
    cursor = api.ok(span(START_MS, END_MS, limit=30))["cursor"]["next"]

    first, again = api.ok({"cursor": cursor, "limit": 30}), api.ok({"cursor": cursor, "limit": 30})

    assert first["data"] == again["data"]
    assert first["cursor"]["next"] != again["cursor"]["next"]


def test_an_empty_result_has_total_0_no_data_and_no_next(api: Api) -> None:
    response = api.get(span(END_MS, END_MS + DAY_MS))

    assert response.json() == {"total": 0, "cursor": {"next": None}, "data": []}


def test_cursor_pages_are_a_snapshot_of_the_first_request(api: Api) -> None:
    oldest_first = ascending(ROWS)
    first = api.ok(span(START_MS, END_MS, limit=100))
    late = generate_bot_rows(30, start_ms=START_MS, end_ms=END_MS, seed=99, tenant_id=TENANT)
    changed = {**oldest_first[-1], "CSat": 1.5}
    api.fake.add_rows(TENANT, late)
    api.fake.replace_row(TENANT, changed)

    rest = api.pages({"cursor": first["cursor"]["next"], "limit": 100})

    assert ids([first, *rest]) == [row["ID"] for row in oldest_first]
    assert {body["total"] for body in rest} == {250}
    assert rest[-1]["data"][-1] == oldest_first[-1]


def test_added_and_replaced_rows_show_in_a_new_query(api: Api) -> None:
    late = generate_bot_rows(30, start_ms=START_MS, end_ms=END_MS, seed=99, tenant_id=TENANT)
    changed = {**ROWS[7], "CSat": 1.5, "ticketId": 90210}
    api.fake.add_rows(TENANT, late)
    api.fake.replace_row(TENANT, changed)

    served = {row["ID"]: row for body in api.pages(span(START_MS, END_MS)) for row in body["data"]}

    assert served.keys() == {row["ID"] for row in [*ROWS, *late]}
    assert served[changed["ID"]] == changed


def test_adding_a_known_id_is_refused(api: Api) -> None:
    with pytest.raises(ValueError, match="already stored"):
        api.fake.add_rows(TENANT, [ROWS[3]])


def test_replacing_an_unknown_id_is_refused(api: Api) -> None:
    with pytest.raises(KeyError):
        api.fake.replace_row(TENANT, {**ROWS[3], "ID": "no-such-row"})


def test_expired_cursors_fail_until_a_fresh_query(api: Api) -> None:
    api.fake.expire_cursors(2)
    first = api.ok(span(START_MS, END_MS, limit=100))
    failures = [api.get({"cursor": first["cursor"]["next"]}) for _ in range(2)]

    fresh = api.pages(span(START_MS, END_MS, limit=100))

    assert [(r.status_code, r.json()) for r in failures] == [
        (
            400,
            {
                "code": "BadRequest",
                "message": "Invalid request parameters: cursor expired or invalid",
            },
        )
    ] * 2
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
    assert response.json()["message"] == "Invalid request parameters: cursor expired or invalid"


def test_only_the_newest_cursors_are_kept() -> None:
    store = CursorStore(capacity=2)
    positions = [Position(Snapshot(Route("bot", TENANT), []), offset) for offset in range(3)]

    tokens = [store.issue(position) for position in positions]

    assert [store.find(token) for token in tokens] == [None, *positions[1:]]


@pytest.mark.parametrize(
    ("style", "end"),
    [
        pytest.param("null", {"next": None}, id="null"),
        pytest.param("empty", {"next": ""}, id="empty"),
        pytest.param("absent", {}, id="absent"),
    ],
)
def test_the_last_page_ends_the_query_in_the_chosen_style(
    api: Api, style: str, end: dict[str, t.Any]
) -> None:
    api.fake.set_last_cursor_style(style)

    bodies = api.pages(span(START_MS, END_MS, limit=100))
    empty = api.ok(span(END_MS, END_MS + DAY_MS))

    assert [len(body["data"]) for body in bodies] == [100, 100, 50]
    assert all(isinstance(body["cursor"]["next"], str) for body in bodies[:-1])
    assert bodies[-1]["cursor"] == end
    assert empty["cursor"] == end


def test_an_unknown_last_cursor_style_is_refused(api: Api) -> None:
    with pytest.raises(ValueError, match="style must be one of null, empty, absent"):
        api.fake.set_last_cursor_style("missing")


# Time spans


@pytest.mark.parametrize(
    ("params", "from_back", "to_back"),
    [
        pytest.param({}, DAY_MS, 0, id="default-is-last-day"),
        pytest.param({"range": "last_day"}, DAY_MS, 0, id="last-day"),
        pytest.param({"range": "last_week"}, 7 * DAY_MS, 0, id="last-week"),
        pytest.param({"range": "last_month"}, 30 * DAY_MS, 0, id="last-month"),
        pytest.param({"from": "NOW-2d"}, 2 * DAY_MS, 0, id="from-only-ends-now"),
        pytest.param({"to": "NOW-3d"}, 4 * DAY_MS, 3 * DAY_MS, id="to-only-is-the-day-before"),
        pytest.param({"to": "NOW-0d", "range": ""}, DAY_MS, 0, id="empty-range-is-absent"),
    ],
)
def test_a_span_is_taken_back_from_now_or_from_to(
    start_api: Callable[..., Api], params: dict[str, str], from_back: int, to_back: int
) -> None:
    now = START_MS + 40 * DAY_MS + 777
    rows = generate_bot_rows(600, start_ms=START_MS, end_ms=now + DAY_MS, seed=4)
    api = start_api(rows, clock=lambda: now)
    resolved = {
        name: str(now - int(value[4:-1]) * DAY_MS) if value.startswith("NOW-") else value
        for name, value in params.items()
    }

    served = ids(api.pages(resolved))

    assert set(served) == ids_between(rows, now - from_back, now - to_back)
    assert len(served) > 10


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2026-10-03T00:00:00Z", id="zulu"),
        pytest.param("2026-10-03T00:00:00.000z", id="zero-fraction-lowercase-z"),
        pytest.param("2026-10-03T02:00:00+02:00", id="positive-offset"),
        pytest.param("2026-10-02T19:30:00-04:30", id="negative-offset"),
        pytest.param("2026-10-03 00:00:00Z", id="space-separator"),
    ],
)
def test_iso_and_epoch_bounds_select_the_same_rows(api: Api, text: str) -> None:
    epoch = START_MS + 2 * DAY_MS  # 2026-10-03T00:00:00Z
    expected = ids(api.pages(span(epoch, epoch + DAY_MS)))

    as_from = ids(api.pages({"from": text, "to": str(epoch + DAY_MS)}))
    as_to = ids(api.pages({"from": str(epoch - DAY_MS), "to": text}))

    assert as_from == expected
    assert set(as_to) == ids_between(ROWS, epoch - DAY_MS, epoch)


@pytest.mark.parametrize(
    ("params", "included"),
    [
        pytest.param(lambda ms: span(ms, ms + 1), True, id="from-is-inclusive"),
        pytest.param(lambda ms: span(ms - 5, ms), False, id="to-is-exclusive"),
        pytest.param(lambda ms: {"from": iso(ms, "000"), "to": str(ms + 1)}, True, id="iso-exact"),
        pytest.param(
            lambda ms: {"from": iso(ms, "0001"), "to": str(ms + 1)}, False, id="iso-later"
        ),
        pytest.param(
            lambda ms: {"from": str(ms - 1), "to": iso(ms, "0001")}, True, id="iso-to-later"
        ),
    ],
)
def test_the_span_is_half_open_on_datetime(
    api: Api, params: Callable[[int], dict[str, str]], included: bool
) -> None:
    row = ROWS[42]

    served = ids(api.pages(params(row["Datetime"])))

    assert (row["ID"] in served) is included


def iso(epoch_ms: int, fraction: str) -> str:
    """Format `epoch_ms` in ISO 8601 with its milliseconds, then `fraction`, then Z."""
    whole = datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{epoch_ms % 1000:03d}{fraction}Z"


# Errors


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        pytest.param({"limit": "0"}, "limit must be an integer between 1 and 5000", id="limit-0"),
        pytest.param(
            {"limit": "5001"}, "limit must be an integer between 1 and 5000", id="limit-5001"
        ),
        pytest.param(
            {"limit": "-1"}, "limit must be an integer between 1 and 5000", id="limit-negative"
        ),
        pytest.param(
            {"limit": "1.5"}, "limit must be an integer between 1 and 5000", id="limit-fraction"
        ),
        pytest.param(
            {"limit": "ten"}, "limit must be an integer between 1 and 5000", id="limit-word"
        ),
        pytest.param(
            {"cursor": "abc", "range": "last_day"},
            "cursor cannot be combined with range, from or to",
            id="cursor-and-range",
        ),
        pytest.param(
            {"cursor": "abc", "from": "0"},
            "cursor cannot be combined with range, from or to",
            id="cursor-and-from",
        ),
        pytest.param(
            {"cursor": "abc", "to": "0"},
            "cursor cannot be combined with range, from or to",
            id="cursor-and-to",
        ),
        pytest.param({"range": "last_year"}, "unknown range 'last_year'", id="unknown-range"),
        pytest.param(
            {"range": "last_day", "from": "0"},
            "range cannot be combined with from or to",
            id="range-and-from",
        ),
        pytest.param(
            {"range": "last_week", "to": "0"},
            "range cannot be combined with from or to",
            id="range-and-to",
        ),
        pytest.param(
            {"from": "yesterday"},
            "from is not an ISO 8601 timestamp or epoch milliseconds",
            id="from-word",
        ),
        pytest.param(
            {"from": "2026-10-01T00:00:00"},
            "from is not an ISO 8601 timestamp or epoch milliseconds",
            id="from-without-offset",
        ),
        pytest.param(
            {"from": "2026-02-30T00:00:00Z"},
            "from is not an ISO 8601 timestamp or epoch milliseconds",
            id="from-impossible-date",
        ),
        pytest.param(
            {"to": "-5"},
            "to is not an ISO 8601 timestamp or epoch milliseconds",
            id="to-negative",
        ),
        pytest.param(
            {"to": "2026-10-01T00:00:00+01:60"},
            "to is not an ISO 8601 timestamp or epoch milliseconds",
            id="to-bad-offset",
        ),
        pytest.param({"from": "2", "to": "1"}, "from must not be after to", id="from-after-to"),
        pytest.param({"cursor": "not-a-cursor"}, "cursor expired or invalid", id="unknown-cursor"),
    ],
)
def test_bad_parameters_answer_400_saying_what(
    api: Api, params: dict[str, str], problem: str
) -> None:
    response = api.get(params)

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "BadRequest",
        "message": f"Invalid request parameters: {problem}",
    }


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        pytest.param({}, {}, id="no-header"),
        pytest.param({"Authorization": "Bearer wrong-key"}, {}, id="unknown-key"),
        pytest.param({"Authorization": f"Basic {KEY}"}, {}, id="not-bearer"),
        pytest.param({"Authorization": "Bearer "}, {}, id="empty-token"),
        pytest.param({"Authorization": "Bearer wrong"}, {"bearer_token": KEY}, id="header-wins"),
        pytest.param({}, {"bearer_token": "wrong-key"}, id="unknown-query-token"),
    ],
)
def test_missing_or_unknown_credentials_answer_401(
    api: Api, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = api.session.get(api.url + api.path(), headers=headers, params=params, timeout=10)

    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == UNAUTHENTICATED


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        pytest.param({"Authorization": f"Bearer {KEY}"}, {}, id="header"),
        pytest.param({"authorization": f"bearer {KEY}"}, {}, id="lowercase-header"),
        pytest.param({}, {"bearer_token": KEY}, id="bearer-token-query-parameter"),
    ],
)
def test_a_known_key_authenticates(
    api: Api, headers: dict[str, str], token: dict[str, str]
) -> None:
    params = span(START_MS, END_MS, **token)

    response = api.session.get(api.url + api.path(), headers=headers, params=params, timeout=10)

    assert response.status_code == 200
    assert response.json()["total"] == 250


@pytest.mark.parametrize(
    ("key", "tenant"),
    [
        pytest.param(OTHER_KEY, TENANT, id="key-of-another-tenant"),
        pytest.param(KEY, "tenant-beta", id="tenant-of-another-key"),
        pytest.param(KEY, "tenant-nobody", id="unknown-tenant"),
    ],
)
def test_a_key_reads_only_its_tenants(api: Api, key: str, tenant: str) -> None:
    response = api.get(span(START_MS, END_MS), key=key, tenant=tenant)

    assert response.status_code == 403
    assert response.json() == PERMISSION_DENIED


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/", id="root"),
        pytest.param("GET", f"/api/v1/reporting/tenants/{TENANT}/other", id="unknown-export"),
        pytest.param("GET", f"/api/v1/reporting/tenants/{TENANT}/botconv/", id="trailing-slash"),
        pytest.param("GET", "/api/v1/reporting/tenants//botconv", id="empty-tenant"),
        pytest.param("GET", "/api/v1/reporting/tenants/acme/eu/botconv", id="unencoded-slash"),
        pytest.param("POST", f"/api/v1/reporting/tenants/{TENANT}/botconv", id="post"),
        pytest.param("DELETE", f"/api/v1/reporting/tenants/{TENANT}/botconv", id="delete"),
    ],
)
def test_other_paths_and_methods_answer_404(api: Api, method: str, path: str) -> None:
    response = api.session.request(
        method, api.url + path, headers={"Authorization": f"Bearer {KEY}"}, data=b"{}", timeout=10
    )

    assert response.status_code == 404
    assert response.json() == {"code": "NotFound", "message": f"No route for {method} {path}"}


def test_a_tenant_is_one_percent_encoded_path_segment(start_api: Callable[..., Api]) -> None:
    tenant = "acme/eu é"
    rows = generate_bot_rows(12, start_ms=START_MS, end_ms=END_MS, tenant_id=tenant)
    api = start_api(api_keys={KEY: {tenant}})
    api.fake.add_rows(tenant, rows)

    response = api.get(span(START_MS, END_MS), tenant=tenant)

    assert response.status_code == 200
    assert {row["ID"] for row in response.json()["data"]} == {row["ID"] for row in rows}
    assert api.fake.requests[0].path == "/api/v1/reporting/tenants/acme%2Feu%20%C3%A9/botconv"


# Request log


def test_the_request_log_holds_each_exchange_in_order(api: Api) -> None:
    api.get(span(START_MS, END_MS, limit=5))
    api.get({"limit": "0"})
    api.get(key=None)
    api.get(export="nothing")

    log = api.fake.requests

    assert [(r.method, r.path, r.query, r.status) for r in log] == [
        ("GET", api.path(), {"from": str(START_MS), "to": str(END_MS), "limit": "5"}, 200),
        ("GET", api.path(), {"limit": "0"}, 400),
        ("GET", api.path(), {}, 401),
        ("GET", api.path(export="nothing"), {}, 404),
    ]
    assert all(isinstance(r, RecordedRequest) and type(r.status) is int for r in log)
    assert [r.headers.get("Authorization") for r in log] == [f"Bearer {KEY}"] * 2 + [None] + [
        f"Bearer {KEY}"
    ]
    assert [r.received_at for r in log] == sorted(r.received_at for r in log)


def test_the_request_log_keeps_the_last_of_repeated_parameters(api: Api) -> None:
    api.session.get(api.url + api.path() + "?limit=3&limit=4&range=", timeout=10)

    assert api.fake.requests[0].query == {"limit": "4", "range": ""}


def test_resetting_the_request_log_empties_it(api: Api) -> None:
    api.get()
    api.fake.reset_requests()
    api.get(key=None)

    assert [r.status for r in api.fake.requests] == [401]


# Command line


@pytest.mark.parametrize(
    "stop", [pytest.param(signal.SIGTERM, id="sigterm"), pytest.param(signal.SIGINT, id="ctrl-c")]
)
def test_the_command_line_serves_until_stopped(stop: signal.Signals) -> None:
    port = free_port()
    command = [sys.executable, "-m", "tap_crescendo.fake_api", "--port", str(port), "--rows", "40"]
    command += ["--days", "2", "--tenant", "acme/eu", "--api-key", "cli-key", "--order", "desc"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/reporting/tenants/acme%2Feu/botconv?range=last_week"
        response = wait_until_answering(process, url)
    finally:
        process.send_signal(stop)
        stdout, stderr = process.communicate(timeout=30)

    assert response.status_code == 200
    assert response.json()["total"] == 40
    starts = [row["Datetime"] for row in response.json()["data"]]
    assert starts == sorted(starts, reverse=True)
    assert process.returncode == 0
    assert stderr == ""
    assert stdout == (
        f"Fake Crescendo API on http://127.0.0.1:{port} "
        "(tenant acme/eu, 40 bot and 20 VOC conversations over 2 days, key cli-key)\n"
    )


def test_the_command_line_refuses_a_non_loopback_host() -> None:
    command = [sys.executable, "-m", "tap_crescendo.fake_api", "--host", "0.0.0.0"]

    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "error: --host must be 127.0.0.1: the fake API listens on loopback only\n"
