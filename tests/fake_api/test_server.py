"""`FakeCrescendo` (`server.py`): pages of a query, order, keys and tenants, the request log."""

from __future__ import annotations

import typing as t

import pytest

from tap_crescendo.fake_api import FakeCrescendo, RecordedRequest
from tests.fake_api.client import (
    DAY_MS,
    END_MS,
    HOUR_MS,
    KEY,
    OTHER_KEY,
    START_MS,
    TENANT,
    VOC_KEYS,
    ascending,
    ids,
    ids_between,
    instant_ms,
    span,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Api, Row

BOT_EXPORTS = [
    pytest.param("botconv", id="botconv"),
    pytest.param("assistant/conversations", id="assistant-conversations"),
]
VOC_EXPORTS = [
    pytest.param("vocconv", id="vocconv"),
    pytest.param("voc/conversations", id="voc-conversations"),
]
UNAUTHENTICATED = {
    "code": "Unauthenticated",
    "message": "Authorization header with Bearer token is required",
}
PERMISSION_DENIED = {"code": "PermissionDenied", "message": "API key does not allow this operation"}


# Pages


@pytest.mark.parametrize("export", BOT_EXPORTS)
def test_pages_hold_exactly_the_rows_of_a_span(
    api: Api, bot_sample: list[Row], export: str
) -> None:
    from_ms, to_ms = START_MS + 2 * DAY_MS + 123, START_MS + 6 * DAY_MS
    expected = ids_between(bot_sample, from_ms, to_ms)

    bodies = api.pages(span(from_ms, to_ms, limit=17), export=export)

    assert len(bodies) == -(-len(expected) // 17)
    assert all(len(body["data"]) == 17 for body in bodies[:-1])
    assert len(ids(bodies)) == len(expected)
    assert set(ids(bodies)) == expected
    assert {body["total"] for body in bodies} == {len(expected)}


@pytest.mark.parametrize("export", VOC_EXPORTS)
def test_pages_hold_exactly_the_voc_rows_of_a_span(
    api: Api, voc_sample: list[Row], export: str
) -> None:
    from_ms, to_ms = START_MS + 2 * DAY_MS + 5 * HOUR_MS, START_MS + 7 * DAY_MS
    expected = {
        row["ID"] for row in voc_sample if from_ms <= instant_ms(row["DatetimeUTC"]) < to_ms
    }

    bodies = api.pages(span(from_ms, to_ms, limit=7), export=export)

    got = ids(bodies)
    assert sorted(got) == sorted(expected)
    assert len(bodies) == -(-len(expected) // 7) > 1
    assert {body["total"] for body in bodies} == {len(expected)}
    assert all(list(row) == VOC_KEYS for body in bodies for row in body["data"])


def test_total_counts_the_whole_query_not_the_page(api: Api) -> None:
    body = api.ok(span(START_MS, END_MS, limit=10))

    assert body["total"] == 250
    assert len(body["data"]) == 10


def test_an_empty_result_has_total_0_no_data_and_no_next(api: Api) -> None:
    response = api.get(span(END_MS, END_MS + DAY_MS))

    assert response.json() == {"total": 0, "cursor": {"next": None}, "data": []}


# Order


@pytest.mark.parametrize(
    ("order", "reverse"),
    [pytest.param("asc", False, id="asc"), pytest.param("desc", True, id="desc")],
)
def test_rows_come_in_the_configured_order(
    start_api: Callable[..., Api], bot_sample: list[Row], order: str, reverse: bool
) -> None:
    api = start_api(order=order)

    served = api.ids(span(START_MS, END_MS, limit=60))

    expected = [row["ID"] for row in ascending(bot_sample)]
    assert served == (expected[::-1] if reverse else expected)


def test_shuffled_order_is_deterministic_and_unsorted(
    start_api: Callable[..., Api], bot_sample: list[Row]
) -> None:
    first = start_api(order="shuffled").ids(span(START_MS, END_MS, limit=60))
    again = start_api(order="shuffled").ids(span(START_MS, END_MS, limit=60))
    other_seed = start_api(order="shuffled", shuffle_seed=1).ids(span(START_MS, END_MS))
    oldest_first = [row["ID"] for row in ascending(bot_sample)]

    assert first == again
    assert sorted(first) == sorted(oldest_first)
    assert first not in (oldest_first, oldest_first[::-1], other_seed)


def test_unknown_order_is_refused() -> None:
    with pytest.raises(ValueError, match="order must be one of asc, desc, shuffled"):
        FakeCrescendo(api_keys={}, order="newest")


# Keys and tenants


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


@pytest.mark.parametrize("export", VOC_EXPORTS)
def test_voc_paths_check_keys_tenants_and_parameters(api: Api, export: str) -> None:
    no_key = api.get(export=export, key=None)
    other_tenant = api.get(export=export, tenant="tenant-gamma")
    bad_limit = api.get({"limit": "0"}, export=export)

    assert (no_key.status_code, no_key.json()["code"]) == (401, "Unauthenticated")
    assert (other_tenant.status_code, other_tenant.json()["code"]) == (403, "PermissionDenied")
    assert (bad_limit.status_code, bad_limit.json()["code"]) == (400, "BadRequest")


# The request log


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
        ("GET", api.path("nothing"), {}, 404),
    ]
    assert all(isinstance(r, RecordedRequest) and type(r.status) is int for r in log)
    assert [r.headers.get("Authorization") for r in log] == [f"Bearer {KEY}"] * 2 + [None] + [
        f"Bearer {KEY}"
    ]
    assert [r.received_at for r in log] == sorted(r.received_at for r in log)


def test_resetting_the_request_log_empties_it(api: Api) -> None:
    api.get()
    api.fake.reset_requests()
    api.get(key=None)

    assert [r.status for r in api.fake.requests] == [401]
