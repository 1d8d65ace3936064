"""The key never shown, and no line forged, whatever a hostile server echoes or sends."""

from __future__ import annotations

import logging
import typing as t

import pytest

from tap_crescendo.api.retries import RetryPolicy
from tests.support.echo_server import Asked, Reply, echo_api, envelope, page
from tests.support.scripted_server import scripted_api
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    run_command,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from pathlib import Path

    from tests.support.echo_server import Answer

BOT = "/api/v1/reporting/tenants/tenant-alpha/botconv"
FIRST = f"GET {BOT}?from={SPAN_START_MS}&to={SPAN_END_MS}&limit=40"
#: A key whose percent-encodings differ from it, as a URL holding it shows it.
ODD_KEY = "k3y/with+special=chars"
ODD_FORMS = [ODD_KEY, "k3y%2Fwith%2Bspecial%3Dchars"]
FORGED = "oops\n2026-12-02 ERROR fake line\r\x1b[31mred"
LOOKS_FORGED = "oops\\n2026-12-02 ERROR fake line\\r\\x1b[31mred"


def json_error(status: int, code: str) -> Answer:
    """An answer of `status` whose message echoes the Authorization header."""
    return lambda asked: Reply(status, envelope(code, f"bad header: {asked.auth}"))


def cursor_then(reply: Reply) -> Answer:
    """A first page whose cursor is the Authorization header, then `reply` to the cursor."""
    return lambda asked: reply if "cursor=" in asked.path else Reply(200, page(asked.auth))


HTML = "<html><body><h1>Bad gateway</h1><pre>Authorization: {}</pre></body></html>"

ECHOES = [
    pytest.param(
        json_error(400, "BadRequest"),
        f"HTTP 400 BadRequest: bad header: Bearer *** (request: {FIRST})",
        id="400-message",
    ),
    pytest.param(
        json_error(401, "Unauthenticated"),
        "HTTP 401 Unauthenticated: bad header: Bearer ***. The API key was refused: "
        "check the `api_key` setting",
        id="401-message",
    ),
    pytest.param(
        json_error(403, "PermissionDenied"),
        "HTTP 403 PermissionDenied: bad header: Bearer ***. The API key may not read tenant "
        "'tenant-alpha': check `tenant_id` and the key's permissions",
        id="403-message",
    ),
    pytest.param(
        json_error(404, "NotFound"),
        "HTTP 404 NotFound: bad header: Bearer ***. Nothing answers at "
        "/api/v1/reporting/tenants/tenant-alpha/assistant/conversations: check `api_url` "
        "(http://127.0.0.1:PORT) and `tenant_id` ('tenant-alpha') (the other documented "
        "path, /botconv, answered 404 too)",
        id="404-message",
    ),
    *[
        pytest.param(
            json_error(status, code),
            f"HTTP {status} {code}: bad header: Bearer *** ({FIRST}); gave up after 2 tries",
            id=f"{status}-message",
        )
        for status, code in [(429, "TooManyRequests"), (500, "Internal"), (503, "Unavailable")]
    ],
    pytest.param(
        lambda asked: Reply(400, f"you sent Authorization: {asked.auth}".encode(), "text/plain"),
        f"HTTP 400 Bad Request (body: you sent Authorization: Bearer ***) (request: {FIRST})",
        id="400-text-body",
    ),
    pytest.param(
        lambda asked: Reply(502, HTML.format(asked.auth).encode(), "text/html"),
        f"HTTP 502 Bad Gateway (body: {HTML.format('Bearer ***')}) ({FIRST}); "
        "gave up after 2 tries",
        id="502-html-body",
    ),
    pytest.param(
        lambda asked: Reply(400, ("x" * 185 + " " + asked.auth[7:]).encode(), "text/plain"),
        f"HTTP 400 Bad Request (body: {'x' * 185} ***) (request: {FIRST})",
        id="key-across-the-quote-limit",
    ),
    pytest.param(
        lambda asked: Reply(400, reason=f"Refused {asked.auth}"),
        f"HTTP 400 Refused Bearer *** (request: {FIRST})",
        id="reason-phrase",
    ),
    pytest.param(
        lambda asked: Reply(200, b'{"total": "many"}', f"application/json; echo={asked.auth}"),
        f"The API answered {FIRST} with HTTP 200 but a body out of contract "
        "(application/json; echo=Bearer ***): Expected `int`, got `str` - at `$.total`",
        id="200-content-type",
    ),
    pytest.param(
        cursor_then(Reply(500, envelope("Unavailable", "busy"))),
        f"HTTP 500 Unavailable: busy (GET {BOT}?cursor=Bearer+***&limit=40); gave up after 2 tries",
        id="500-to-an-echoed-cursor",
    ),
    pytest.param(
        lambda asked: Reply(200, page(asked.auth)),
        "The API returned the cursor 'Bearer ***' a second time after 2 pages of one query; "
        "stopping instead of looping",
        id="repeated-echoed-cursor",
    ),
]


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exponential waits from 10 ms instead of 1 s."""
    monkeypatch.setattr(RetryPolicy, "backoff_base_seconds", 0.01)


def one_window(api_url: str, **settings: t.Any) -> dict[str, t.Any]:
    """Settings for the bot stream only, over one window, with one retry."""
    return tap_config(api_url, window_size_hours=240, max_retries=1, **settings)


@pytest.mark.parametrize("api_key", [API_KEY, ODD_KEY])
@pytest.mark.parametrize(("answer", "line"), ECHOES)
def test_a_key_the_server_echoes_is_shown_as_stars(
    caplog: pytest.LogCaptureFixture,
    answer: Answer,
    line: str,
    api_key: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    with echo_api(answer) as url:
        result = sync(one_window(url, api_key=api_key))

    assert result.error == line.replace("http://127.0.0.1:PORT", url)
    logs = caplog.text + result.stderr
    for form in [API_KEY, *ODD_FORMS]:
        assert form not in logs
        assert form not in result.error


@pytest.mark.parametrize(
    ("answer", "retrying"),
    [
        pytest.param(
            json_error(429, "TooManyRequests"),
            f"Retrying after HTTP 429 TooManyRequests: bad header: Bearer *** ({FIRST}) "
            "(try 1 of 2 failed; waiting",
            id="429",
        ),
        pytest.param(
            Reply(503, envelope("Unavailable", FORGED)),
            f"Retrying after HTTP 503 Unavailable: {LOOKS_FORGED} ({FIRST}) "
            "(try 1 of 2 failed; waiting",
            id="503-forged-line",
        ),
    ],
)
def test_a_retry_warning_quotes_the_server_on_one_line(
    caplog: pytest.LogCaptureFixture, answer: Answer, retrying: str
) -> None:
    with echo_api(answer) as url:
        sync(one_window(url))

    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Retrying")]
    assert len(warnings) == 1
    assert warnings[0].startswith(retrying)
    assert API_KEY not in warnings[0]


def test_a_request_the_server_answers_with_garbage_is_quoted_on_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with scripted_api(f"BOGUS Bearer {API_KEY}\x1b[31m\nX\r\n\r\n".encode()) as api:
        result = sync(one_window(api.url))

    said = r"('Connection aborted.', BadStatusLine('BOGUS Bearer ***\x1b[31m\n'))"
    assert result.error == f"Could not get an answer from {api.url} ({said}); gave up after 2 tries"
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("Retrying")] == [
        f"Retrying after ConnectionError(ProtocolError{said[:-1]})) "
        "(try 1 of 2 failed; waiting 0.0 s)"
    ]


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        pytest.param(
            Reply(400, envelope("BadRequest", FORGED)),
            f"HTTP 400 BadRequest: {LOOKS_FORGED} (request: {FIRST})",
            id="message",
        ),
        pytest.param(
            Reply(400, envelope("Bad\nRequest", "no")),
            f"HTTP 400 Bad\\nRequest: no (request: {FIRST})",
            id="code",
        ),
        pytest.param(
            Reply(400, b"\x1b[2J\x1b[Hcleared", "text/plain"),
            f"HTTP 400 Bad Request (body: \\x1b[2J\\x1b[Hcleared) (request: {FIRST})",
            id="body",
        ),
        pytest.param(
            Reply(400, reason="Bad\x1b[31m"),
            f"HTTP 400 Bad\\x1b[31m (request: {FIRST})",
            id="reason-phrase",
        ),
        pytest.param(
            Reply(200, b"[]", "text/plain\x1b[31m"),
            f"The API answered {FIRST} with HTTP 200 but a body out of contract "
            "(text/plain\\x1b[31m): Expected `object`, got `array`",
            id="content-type",
        ),
    ],
)
def test_what_the_server_says_cannot_start_a_line(answer: Answer, line: str) -> None:
    with echo_api(answer) as url:
        result = sync(one_window(url))

    assert result.error == line


@pytest.mark.parametrize(
    ("status", "line"),
    [
        pytest.param(
            403,
            "HTTP 403 Nope: no. The API key may not read tenant "
            "'acme\\n\\x1b[1mx': check `tenant_id` and the key's permissions",
            id="403",
        ),
        pytest.param(
            404,
            "HTTP 404 Nope: no. Nothing answers at "
            "/api/v1/reporting/tenants/acme%0A%1B%5B1mx/assistant/conversations: "
            "check `api_url` (URL) and `tenant_id` ('acme\\n\\x1b[1mx') "
            "(the other documented path, /botconv, answered 404 too)",
            id="404",
        ),
    ],
)
def test_a_tenant_id_cannot_start_a_line(status: int, line: str) -> None:
    with echo_api(Reply(status, envelope("Nope", "no"))) as url:
        result = sync(one_window(url, tenant_id="acme\n\x1b[1mx"))

    assert result.error == line.replace("(URL)", f"({url})")


@pytest.mark.slow
def test_the_command_at_debug_never_shows_the_key_nor_a_forged_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAP_CRESCENDO_LOGLEVEL", "DEBUG")

    def answer(asked: Asked) -> Reply:
        if "cursor=" in asked.path:
            return Reply(403, envelope("PermissionDenied", f"{FORGED} {asked.auth}"))
        return Reply(200, page(asked.auth))

    with echo_api(answer) as url:
        command = run_command([], tmp_path, one_window(url, api_key=ODD_KEY))

    lines = command.stderr.splitlines()
    assert command.returncode == 1
    for form in ODD_FORMS:
        assert form not in command.stdout + command.stderr
    assert "\x1b" not in command.stderr
    assert [line for line in lines if "fake line" in line] == [lines[-1]]
    assert lines[-1].endswith(
        f"HTTP 403 PermissionDenied: {LOOKS_FORGED} Bearer ***. The API key may not read "
        "tenant 'tenant-alpha': check `tenant_id` and the key's permissions"
    )
    assert any(f'"GET {BOT}?cursor=Bearer+***&limit=40 HTTP/1.1" 403' in line for line in lines)
    metrics = [line for line in lines if "METRIC" in line]
    assert any("http_request_duration" in line for line in metrics)
    assert not [line for line in metrics if "***" in line or "fake" in line]
