"""What the base stream asks for, and what each kind of answer means."""

from __future__ import annotations

import typing as t

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_crescendo.errors import APIError, CursorRejected, PathNotFound
from tap_crescendo.tap import TapCrescendo
from tests.tap_runs import API_KEY, tap_config

if t.TYPE_CHECKING:
    from tap_crescendo.incremental import IncrementalExport

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
            APIError,
            "HTTP 403 PermissionDenied: no. The API key may not read tenant 'tenant-alpha': "
            "check `tenant_id` and the key's permissions",
            id="403",
        ),
        pytest.param(
            404,
            "NotFound",
            PathNotFound,
            "HTTP 404 NotFound: no. Nothing answers at "
            "/api/v1/reporting/tenants/tenant-alpha/botconv: check `api_url` "
            f"({BASE}) and `tenant_id` ('tenant-alpha')",
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
    stream = bot_stream(api_url=f"{BASE}/", tenant_id="acme/eu é")

    assert stream.url_base == BASE
    assert stream.get_url(None) == f"{BASE}/api/v1/reporting/tenants/acme%2Feu%20%C3%A9/botconv"


def test_the_key_is_a_bearer_token_and_the_timeout_the_setting() -> None:
    stream = bot_stream(request_timeout=7)

    request = stream.authenticator(requests.Request("GET", EXPORT).prepare())

    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert stream.timeout == 7
