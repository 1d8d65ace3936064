"""Fault hooks (`faults.py`): transient faults, scripted failures, malformed pages, totals."""

from __future__ import annotations

import contextlib
import typing as t

import pytest
import requests

from tap_crescendo.fake_api import MALFORMED_KINDS, TRANSIENT_FAULTS, FakeCrescendo
from tests.fake_api.client import END_MS, KEY, START_MS, TENANT, ascending

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Api, Row

# One page holding every row of `api`, so the body is the same each time (no cursor token in it).
WHOLE = {"from": str(START_MS), "to": str(END_MS), "limit": "100"}
JSON = "application/json"
HTML = "text/html"
SIGN_IN_PAGE = (
    b"<html><head><title>Sign in</title></head><body><p>Please sign in.</p></body></html>"
)


@pytest.fixture
def few_rows(bot_sample: list[Row]) -> list[Row]:
    """The first 30 sample rows: few enough for one page."""
    return bot_sample[:30]


@pytest.fixture
def api(start_api: Callable[..., Api], few_rows: list[Row]) -> Api:
    """A fake serving `few_rows`, and a client for it."""
    return start_api(rows={TENANT: few_rows})


def oldest_first(rows: list[Row]) -> list[str]:
    return [row["ID"] for row in ascending(rows)]


def ids(response: requests.Response) -> list[str]:
    return [row["ID"] for row in response.json()["data"]]


# Transient faults


TRANSIENT = [
    pytest.param(
        "429",
        429,
        JSON,
        b'{"code":"ResourceExhausted","message":"Rate limit exceeded"}',
        "1",
        id="429",
    ),
    pytest.param(
        "500", 500, JSON, b'{"code":"Internal","message":"Internal error"}', None, id="500"
    ),
    pytest.param(
        "502", 502, HTML, b"<html><body><h1>502 Bad Gateway</h1></body></html>", None, id="502"
    ),
    pytest.param(
        "503",
        503,
        JSON,
        b'{"code":"Unavailable","message":"Elastic search failed"}',
        "1",
        id="503",
    ),
    pytest.param(
        "504", 504, HTML, b"<html><body><h1>504 Gateway Timeout</h1></body></html>", None, id="504"
    ),
]


@pytest.mark.parametrize(("kind", "status", "content_type", "body", "retry_after"), TRANSIENT)
def test_each_transient_fault_answers_its_status_body_and_headers(
    api: Api, kind: str, status: int, content_type: str, body: bytes, retry_after: str | None
) -> None:
    api.fake.inject_faults(1.0, kinds=[kind])

    response = api.get(WHOLE)

    assert response.status_code == status
    assert response.headers["Content-Type"] == content_type
    assert response.content == body
    assert int(response.headers["Content-Length"]) == len(body)
    assert response.headers.get("Retry-After") == retry_after
    assert [r.status for r in api.fake.requests] == [status]


@pytest.mark.parametrize("kind", ["429", "503"])
@pytest.mark.parametrize(
    ("seconds", "header"),
    [
        pytest.param(2.0, "2", id="whole"),
        pytest.param(0, "0", id="zero"),
        pytest.param(2.5, "2.5", id="fraction"),
        pytest.param(0.25, "0.25", id="below-one"),
    ],
)
def test_retry_after_is_an_integer_when_whole_else_a_decimal(
    api: Api, kind: str, seconds: float, header: str
) -> None:
    api.fake.inject_faults(1.0, kinds=[kind], retry_after=seconds)

    assert api.get(WHOLE).headers["Retry-After"] == header


def test_rate_1_with_one_kind_fails_every_export_request(api: Api) -> None:
    api.fake.inject_faults(1.0, kinds=["503"])

    assert api.statuses(8, WHOLE) == [503] * 8
    assert [r.status for r in api.fake.requests] == [503] * 8


def test_the_transient_faults_cover_the_documented_kinds() -> None:
    assert TRANSIENT_FAULTS == ("429", "500", "502", "503", "504", "drop", "slow")
    assert [param.id for param in TRANSIENT] == ["429", "500", "502", "503", "504"]


def test_a_seed_gives_the_same_fault_sequence_twice(api: Api) -> None:
    kinds = ["429", "500", "503"]
    api.fake.inject_faults(0.5, kinds=kinds, seed=7)
    first = api.statuses(40, WHOLE)
    api.fake.inject_faults(0.5, kinds=kinds, seed=7)
    again = api.statuses(40, WHOLE)
    api.fake.inject_faults(0.5, kinds=kinds, seed=8)
    other_seed = api.statuses(40, WHOLE)

    assert again == first
    assert set(first) == {200, 429, 500, 503}
    assert other_seed != first


def test_a_rate_of_0_turns_the_faults_off(api: Api) -> None:
    api.fake.inject_faults(1.0, kinds=["500"])
    api.fake.inject_faults(0)

    assert api.statuses(5, WHOLE) == [200] * 5


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504", "drop", "slow"])
def test_a_faulted_request_leaves_its_cursor_for_the_retry(
    api: Api, few_rows: list[Row], kind: str
) -> None:
    first = api.get({**WHOLE, "limit": "10"})
    retry = {"cursor": first.json()["cursor"]["next"], "limit": "10"}
    api.fake.inject_faults(1.0, kinds=[kind], slow_seconds=0.5)

    with contextlib.suppress(requests.ConnectionError, requests.Timeout):
        api.get(retry, timeout=0.1 if kind == "slow" else 10)
    api.fake.inject_faults(0)
    retried = api.get(retry)

    assert retried.status_code == 200
    assert ids(retried) == oldest_first(few_rows)[10:20]
    assert retried.json()["total"] == 30


def test_a_slow_answer_is_the_normal_page(api: Api) -> None:
    normal = api.get(WHOLE).content
    api.fake.inject_faults(1.0, kinds=["slow"], slow_seconds=0.2)

    slow = api.get(WHOLE)

    assert slow.status_code == 200
    assert slow.content == normal


# Scripted failures


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        pytest.param(429, "ResourceExhausted", "Rate limit exceeded", id="429"),
        pytest.param(500, "Internal", "Internal error", id="500"),
        pytest.param(503, "Unavailable", "Elastic search failed", id="503"),
        pytest.param(400, "BadRequest", "Invalid request parameters", id="400"),
        pytest.param(404, "NotFound", "Not found", id="404"),
        pytest.param(502, "Unknown", "Unknown error", id="502-unknown"),
        pytest.param(418, "Unknown", "Unknown error", id="418-unknown"),
    ],
)
def test_fail_next_answers_the_status_with_its_envelope(
    api: Api, status: int, code: str, message: str
) -> None:
    api.fake.fail_next(status)

    response = api.get(WHOLE)

    assert response.status_code == status
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {"code": code, "message": message}
    assert "Retry-After" not in response.headers


def test_fail_next_fails_count_requests_then_answers_normally(api: Api) -> None:
    api.fake.fail_next(503, count=2, retry_after="2")

    responses = [api.get(WHOLE) for _ in range(3)]

    assert [r.status_code for r in responses] == [503, 503, 200]
    assert [r.headers.get("Retry-After") for r in responses] == ["2", "2", None]
    assert [r.status for r in api.fake.requests] == [503, 503, 200]


def test_fail_next_queues_after_earlier_failures(api: Api) -> None:
    api.fake.fail_next(500)
    api.fake.fail_next(429, count=2)

    assert api.statuses(4, WHOLE) == [500, 429, 429, 200]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2", id="seconds"),
        pytest.param("0", id="zero"),
        pytest.param("Wed, 21 Oct 2026 07:28:00 GMT", id="http-date"),
    ],
)
def test_fail_next_sends_retry_after_verbatim(api: Api, value: str) -> None:
    api.fake.fail_next(429, retry_after=value)

    assert api.get(WHOLE).headers["Retry-After"] == value


def test_fail_next_comes_before_injected_faults(api: Api) -> None:
    api.fake.inject_faults(1.0, kinds=["500"])
    api.fake.fail_next(429)

    assert api.statuses(2, WHOLE) == [429, 500]


# Malformed pages


MALFORMED = [
    pytest.param("html", HTML, lambda _: SIGN_IN_PAGE, id="html"),
    pytest.param("truncated", JSON, lambda normal: normal[: len(normal) // 2], id="truncated"),
    pytest.param(
        "data_missing", JSON, lambda _: b'{"total":30,"cursor":{"next":null}}', id="data_missing"
    ),
    pytest.param(
        "data_not_list",
        JSON,
        lambda _: b'{"total":30,"cursor":{"next":null},"data":{"a":1}}',
        id="data_not_list",
    ),
    pytest.param(
        "cursor_malformed",
        JSON,
        lambda normal: normal.replace(b'"cursor":{"next":null}', b'"cursor":"abc"'),
        id="cursor_malformed",
    ),
    pytest.param("not_json_object", JSON, lambda _: b"[1,2]", id="not_json_object"),
]


@pytest.mark.parametrize(("kind", "content_type", "expected"), MALFORMED)
def test_a_malformed_page_is_a_200_out_of_contract_once(
    api: Api, kind: str, content_type: str, expected: Callable[[bytes], bytes]
) -> None:
    normal = api.get(WHOLE).content
    api.fake.malform_next_page(kind)

    malformed = api.get(WHOLE)
    after = api.get(WHOLE)

    assert malformed.status_code == 200
    assert malformed.headers["Content-Type"] == content_type
    assert malformed.content == expected(normal)
    assert malformed.content != normal
    assert int(malformed.headers["Content-Length"]) == len(malformed.content)
    assert after.content == normal


def test_the_malformed_pages_cover_the_documented_kinds() -> None:
    assert MALFORMED_KINDS == (
        "html",
        "truncated",
        "data_missing",
        "data_not_list",
        "cursor_malformed",
        "not_json_object",
    )
    assert [param.id for param in MALFORMED] == list(MALFORMED_KINDS)


def test_a_malformed_page_waits_for_an_answer_that_would_be_200(api: Api) -> None:
    api.fake.malform_next_page("not_json_object")

    refused = api.get({"limit": "0"})
    malformed = api.get(WHOLE)

    assert refused.status_code == 400
    assert refused.json()["code"] == "BadRequest"
    assert malformed.content == b"[1,2]"


def test_a_malformed_page_leaves_its_cursor_for_the_retry(api: Api, few_rows: list[Row]) -> None:
    first = api.get({**WHOLE, "limit": "10"})
    retry = {"cursor": first.json()["cursor"]["next"], "limit": "10"}
    api.fake.malform_next_page("html")

    malformed = api.get(retry)
    retried = api.get(retry)

    assert malformed.headers["Content-Type"] == HTML
    assert ids(retried) == oldest_first(few_rows)[10:20]


# Delays and totals


def test_a_page_delay_of_0_turns_it_off(api: Api) -> None:
    api.fake.set_page_delay(5)
    api.fake.set_page_delay(0)

    assert api.get(WHOLE, timeout=2).status_code == 200


@pytest.mark.parametrize("delta", [pytest.param(5, id="more"), pytest.param(-7, id="fewer")])
def test_misreported_totals_are_off_by_delta_on_every_page(api: Api, delta: int) -> None:
    api.fake.misreport_total(delta)
    first = api.get({**WHOLE, "limit": "20"}).json()
    second = api.get({"cursor": first["cursor"]["next"], "limit": "20"}).json()
    api.fake.misreport_total(0)
    restored = api.get(WHOLE).json()

    assert [first["total"], second["total"]] == [30 + delta] * 2
    assert len(first["data"]) + len(second["data"]) == 30
    assert restored["total"] == 30


# Scope and validation


def test_only_export_paths_are_affected(api: Api) -> None:
    api.fake.inject_faults(1.0, kinds=["drop"])
    api.fake.fail_next(500)
    api.fake.set_page_delay(5)

    outside = api.session.get(
        api.url + "/api/v1/other", headers={"Authorization": f"Bearer {KEY}"}, timeout=2
    )
    api.fake.set_page_delay(0)
    export = api.get(WHOLE)

    assert outside.status_code == 404
    assert outside.json() == {"code": "NotFound", "message": "No route for GET /api/v1/other"}
    assert export.status_code == 500
    assert [r.status for r in api.fake.requests] == [404, 500]


@pytest.mark.parametrize(
    ("hook", "problem"),
    [
        pytest.param(lambda f: f.inject_faults(1.5), "rate must be between 0 and 1", id="rate"),
        pytest.param(
            lambda f: f.inject_faults(0.5, kinds=["418"]), "kinds must be some of", id="kind"
        ),
        pytest.param(lambda f: f.inject_faults(0.5, kinds=[]), "kinds must be some of", id="none"),
        pytest.param(
            lambda f: f.inject_faults(0.5, retry_after=-1), "retry_after must be", id="retry-after"
        ),
        pytest.param(
            lambda f: f.inject_faults(0.5, slow_seconds=float("nan")), "slow_seconds", id="slow"
        ),
        pytest.param(lambda f: f.fail_next(200), "status must be within 400..599", id="status"),
        pytest.param(lambda f: f.fail_next(500, count=-1), "count 0 or more", id="count"),
        pytest.param(lambda f: f.malform_next_page("xml"), "kind must be one of", id="malformed"),
        pytest.param(lambda f: f.set_page_delay(-0.1), "seconds must be", id="delay"),
    ],
)
def test_bad_hook_arguments_are_refused(
    hook: Callable[[FakeCrescendo], None], problem: str
) -> None:
    fake = FakeCrescendo(api_keys={})

    with pytest.raises(ValueError, match=problem):
        hook(fake)
