"""What the base stream asks for, and what each kind of answer means."""

from __future__ import annotations

import json
import typing as t

import pytest
import requests
import trustme
from singer_sdk.exceptions import RetriableAPIError

from tap_crescendo.api.network import TRUST_ADVICE
from tap_crescendo.errors import APIError, CursorRejected, PathNotFound, TenantRefused
from tap_crescendo.fake_api import FakeCrescendo
from tap_crescendo.tap import TapCrescendo
from tests.support.forward_proxy import forward_proxy
from tests.support.local_servers import free_port
from tests.support.scripted_server import Trickle, http_answer, page_body, scripted_api
from tests.support.tap_runs import API_KEY, SPAN_END_MS, SPAN_START_MS, TENANT, sync, tap_config
from tests.support.tls_fake import serve_tls

if t.TYPE_CHECKING:
    from tap_crescendo.fake_api.exchange import Answer, ApiRequest
    from tap_crescendo.sync.export import IncrementalExport

BASE = "https://platform.crescendo.ai"
EXPORT = f"{BASE}/api/v1/reporting/tenants/tenant-alpha/botconv"


def bot_stream(**settings: t.Any) -> IncrementalExport:
    """The bot stream of a tap configured with `settings` (no request is sent)."""
    tap = TapCrescendo(config=tap_config(BASE, **settings))
    return t.cast("IncrementalExport", tap.streams["bot_conversations"])


def answer(status: int, body: bytes, query: str = "from=1&to=2&limit=40") -> requests.Response:
    """An answer of `status` with `body` to a GET of the bot export with `query`."""
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.request = requests.Request("GET", f"{EXPORT}?{query}").prepare()
    return response


def envelope(code: str, message: str) -> bytes:
    """The API's error body."""
    return f'{{"code": "{code}", "message": "{message}"}}'.encode()


@pytest.mark.parametrize("status", [200, 204, 302, 399])
def test_an_answer_below_400_passes(status: int) -> None:
    bot_stream().validate_response(answer(status, b""))


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 599])
def test_429_and_5xx_are_retried_naming_status_and_request(status: int) -> None:
    response = answer(status, envelope("Unavailable", "busy"))

    with pytest.raises(RetriableAPIError) as retried:
        bot_stream().validate_response(response)

    assert str(retried.value) == (
        f"HTTP {status} Unavailable: busy "
        "(GET /api/v1/reporting/tenants/tenant-alpha/botconv?from=1&to=2&limit=40)"
    )
    assert retried.value.response is response


@pytest.mark.parametrize(
    ("status", "code", "kind", "message"),
    [
        pytest.param(
            401,
            "Unauthenticated",
            APIError,
            "HTTP 401 Unauthenticated: no. The API key was refused: check the `api_key` setting",
            id="401",
        ),
        pytest.param(
            403,
            "PermissionDenied",
            TenantRefused,
            "HTTP 403 PermissionDenied: no",  # the request's tenant is named by `fetch_page`
            id="403",
        ),
        pytest.param(
            404,
            "NotFound",
            PathNotFound,
            "HTTP 404 NotFound: no. Nothing answers at "
            "/api/v1/reporting/tenants/tenant-alpha/botconv",
            id="404",
        ),
        pytest.param(
            400,
            "BadRequest",
            APIError,
            "HTTP 400 BadRequest: no (request: GET "
            "/api/v1/reporting/tenants/tenant-alpha/botconv?from=1&to=2&limit=40)",
            id="400-first-page",
        ),
        pytest.param(
            418,
            "Teapot",
            APIError,
            "HTTP 418 Teapot: no (request: GET "
            "/api/v1/reporting/tenants/tenant-alpha/botconv?from=1&to=2&limit=40)",
            id="other-4xx",
        ),
    ],
)
def test_a_refusal_is_one_line_naming_what_to_check(
    status: int, code: str, kind: type[Exception], message: str
) -> None:
    with pytest.raises(APIError) as refused:
        bot_stream().validate_response(answer(status, envelope(code, "no")))

    assert type(refused.value) is kind
    assert str(refused.value) == message


def test_a_400_to_a_cursor_is_an_expired_cursor() -> None:
    response = answer(400, envelope("BadRequest", "cursor expired"), query="cursor=c2&limit=40")

    with pytest.raises(CursorRejected) as refused:
        bot_stream().validate_response(response)

    assert str(refused.value) == "HTTP 400 BadRequest: cursor expired"


def test_the_first_page_asks_for_the_window_and_later_ones_for_the_cursor() -> None:
    stream = bot_stream(page_size=250)
    window = {"from": 1_000, "to": 2_000}

    assert stream.get_url_params(window, None) == {"from": 1_000, "to": 2_000, "limit": 250}
    assert stream.get_url_params(window, "c-2") == {"cursor": "c-2", "limit": 250}


def test_the_url_is_the_base_without_its_slash_and_the_tenant_as_one_segment() -> None:
    stream = bot_stream(api_url=f"{BASE}/")

    assert stream.url_base == BASE
    assert (
        stream.get_url({"tenant_id": "acme/eu é"})
        == f"{BASE}/api/v1/reporting/tenants/acme%2Feu%20%C3%A9/botconv"
    )


@pytest.mark.parametrize(
    ("api_url", "base"),
    [
        pytest.param(
            "https://example.com/crescendoX/", "https://example.com/crescendoX", id="slash"
        ),
        pytest.param("https://example.com//", "https://example.com", id="slashes"),
        pytest.param("https://example.com/api", "https://example.com/api", id="none"),
    ],
)
def test_the_url_base_is_api_url_without_trailing_slashes(api_url: str, base: str) -> None:
    assert bot_stream(api_url=api_url).url_base == base


def test_the_key_is_a_bearer_token_and_the_timeout_the_setting() -> None:
    stream = bot_stream(request_timeout=7)

    request = stream.authenticator(requests.Request("GET", EXPORT).prepare())

    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert stream.timeout == 7


# --- Whole requests against the fake API -----------------------------------------------


def said(logs: pytest.LogCaptureFixture, part: str) -> list[str]:
    """The messages logged that hold `part`."""
    return [r.getMessage() for r in logs.records if part in r.getMessage()]


def test_requests_carry_the_key_and_say_who_sends_them(fake: FakeCrescendo, api_url: str) -> None:
    sync(tap_config(api_url, window_size_hours=240))

    headers = fake.requests[0].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["User-Agent"].startswith("singer-sdk/")


def test_a_first_404_moves_to_the_other_documented_path_and_says_so(
    fake: FakeCrescendo,
    api_url: str,
    bot_rows: list[dict[str, t.Any]],
    logs: pytest.LogCaptureFixture,
) -> None:
    fake.serve_only("openapi")

    result = sync(tap_config(api_url, window_size_hours=240, page_size=100))

    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert said(logs, "'bot_conversations': /botconv answered 404") == [
        "Stream 'bot_conversations': /botconv answered 404; trying the other documented path, "
        "/assistant/conversations"
    ]
    assert said(logs, "'bot_conversations': served by") == [
        "Stream 'bot_conversations': served by /assistant/conversations; using it for this run"
    ]


def test_a_404_on_both_paths_is_one_line_naming_url_and_tenant(
    fake: FakeCrescendo, api_url: str
) -> None:
    result = sync(tap_config(f"{api_url}/v2"))

    path = "/v2/api/v1/reporting/tenants/tenant-alpha/assistant/conversations"
    assert result.error == (
        f"HTTP 404 NotFound: No route for GET {path}. Nothing answers at {path}: check `api_url` "
        f"({api_url}/v2) and `tenant_id` ('tenant-alpha') (the other documented path, "
        "/botconv, answered 404 too)"
    )
    assert len(fake.requests) == 2


def test_http_proxy_from_the_environment_carries_every_request(
    fake: FakeCrescendo,
    api_url: str,
    bot_rows: list[dict[str, t.Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)

    with forward_proxy() as (proxy_url, proxy):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        result = sync(tap_config(api_url, window_size_hours=240, max_retries=0))

    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert [p.target.partition("?")[0] for p in proxy.seen] == [
        f"{api_url}{r.path}" for r in fake.requests
    ]
    assert fake.requests


class MissingAfterFirstPage(FakeCrescendo):
    """A fake that answers 404 to the first request carrying a cursor."""

    def handle(self, request: ApiRequest) -> Answer:
        if "cursor" in request.query and not self.requests[1:]:
            self.fail_next(404)
        return super().handle(request)


def test_a_404_once_a_request_succeeded_is_an_error_not_a_path_change(
    bot_rows: list[dict[str, t.Any]],
) -> None:
    fake = MissingAfterFirstPage(api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows})

    with fake.serve() as url:
        result = sync(tap_config(url, window_size_hours=240, page_size=100))

    assert result.error is not None
    assert result.error.startswith("HTTP 404 NotFound: Not found. Nothing answers at ")
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests] == ["botconv", "botconv"]


def test_an_api_that_does_not_answer_is_one_line_naming_url_and_tries() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = sync(tap_config(url, max_retries=0))

    assert result.error is not None
    assert result.error.startswith(f"Could not get an answer from {url} (")
    assert result.error.endswith("); gave up after 1 tries")


def test_an_answer_slower_than_request_timeout_counts_as_failed(
    fake: FakeCrescendo, api_url: str
) -> None:
    fake.set_page_delay(2.0)

    result = sync(tap_config(api_url, request_timeout=1, max_retries=0))

    assert result.error is not None
    assert result.error.startswith(f"Could not get an answer from {api_url} (")
    assert "Read timed out. (read timeout=1)" in result.error


def test_the_whole_body_is_due_request_timeout_after_the_request_not_after_its_headers(
    bot_rows: list[dict[str, t.Any]],
) -> None:
    # Headers after 0.5 s, then the body over 0.75 s more: each within the 1 s, not the sum.
    late = Trickle.of(http_answer(200, page_body(bot_rows[:3])), hold=0.5, pieces=5, every=0.15)

    with scripted_api(late) as api:
        result = sync(tap_config(api.url, window_size_hours=240, request_timeout=1, max_retries=0))

    first = f"GET /api/v1/reporting/tenants/{TENANT}/botconv?from={SPAN_START_MS}&to={SPAN_END_MS}"
    assert result.error == (
        f"Could not get an answer from {api.url} (the answer to {first}&limit=40 was not "
        "complete by the end of `request_timeout`); gave up after 1 tries"
    )
    assert result.records == []
    assert len(api.seen) == 1


def test_an_untrusted_certificate_is_one_line_naming_host_and_cas(
    fake: FakeCrescendo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(variable, raising=False)

    with serve_tls(fake.handle, trustme.CA()) as (url, _):
        result = sync(tap_config(url, max_retries=3))

    assert result.error == (
        "TLS with 127.0.0.1 failed (certificate verify failed: unable to get local issuer "
        f"certificate; CAs from certifi's bundle): {TRUST_ADVICE}"
    )
    assert len(fake.requests) == 0


def duration_points(logs: pytest.LogCaptureFixture) -> list[dict[str, t.Any]]:
    """The `http_request_duration` METRIC points logged, in order."""
    points = [
        json.loads(r.getMessage().removeprefix("METRIC: "))
        for r in logs.records
        if r.getMessage().startswith("METRIC: ")
    ]
    return [point for point in points if point["metric"] == "http_request_duration"]


def test_each_answer_gets_a_duration_metric_saying_whether_it_failed(
    fake: FakeCrescendo, api_url: str, logs: pytest.LogCaptureFixture
) -> None:
    fake.expire_cursors(count=1)  # one 400

    sync(tap_config(api_url, window_size_hours=240, page_size=100))

    points = duration_points(logs)
    bot = [point for point in points if point["tags"]["stream"] == "bot_conversations"]
    assert [(p["tags"]["http_status_code"], p["tags"]["status"]) for p in bot] == [
        (r.status, "succeeded" if r.status == 200 else "failed")
        for r in fake.requests
        if r.path.endswith("/botconv")
    ]
    assert 400 in {p["tags"]["http_status_code"] for p in bot}
    assert {p["type"] for p in points} == {"timer"}
    assert {p["tags"]["endpoint"] for p in bot} == {"/api/v1/reporting/tenants/{tenantId}/botconv"}
    assert all(isinstance(p["value"], float) and p["value"] >= 0 for p in points)
