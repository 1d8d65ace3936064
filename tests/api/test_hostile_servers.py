"""What a broken or hostile server may send, over real HTTP on 127.0.0.1: each one line or a
documented outcome, never a traceback, a hang or the key sent elsewhere."""

from __future__ import annotations

import gzip
import logging
import random
import time
import tracemalloc
import typing as t
import zlib

import msgspec
import pytest
import requests

from tap_crescendo.api.client import CrescendoStream
from tap_crescendo.api.pagination import Cursor, Page
from tap_crescendo.api.retries import MAX_WAIT_SECONDS, RetryPolicy
from tap_crescendo.errors import APIError
from tap_crescendo.fake_api import generate_bot_rows
from tap_crescendo.tap import TapCrescendo
from tests.support.scripted_server import SILENT, Trickle, http_answer, page_body, scripted_api
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    run_command,
    strict_problems,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_crescendo.sync.export import IncrementalExport

BOT = "/api/v1/reporting/tenants/tenant-alpha/botconv"
FIRST = f"GET {BOT}?from={SPAN_START_MS}&to={SPAN_END_MS}&limit=40"
ROWS = generate_bot_rows(3, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=7, tenant_id=TENANT)
PAGE = http_answer(200, page_body(ROWS))


def one_window(api_url: str, **settings: t.Any) -> dict[str, t.Any]:
    """Settings for one window of the bot stream, with no retry unless `settings` say."""
    return tap_config(api_url, window_size_hours=240, **{"max_retries": 0, **settings})


def out_of_contract(problem: str) -> str:
    """The line for a first page whose body breaks the contract as `problem` says."""
    return (
        f"The API answered {FIRST} with HTTP 200 but a body out of contract "
        f"(application/json): {problem}"
    )


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exponential waits from 10 ms instead of 1 s."""
    monkeypatch.setattr(RetryPolicy, "backoff_base_seconds", 0.01)


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
def test_a_compressed_body_decodes(encoding: str, compress: t.Callable[[bytes], bytes]) -> None:
    body = compress(page_body(ROWS))

    with scripted_api(http_answer(200, body, headers={"Content-Encoding": encoding})) as api:
        result = sync(one_window(api.url))

    assert result.error is None
    assert result.ids == [row["ID"] for row in ROWS]
    assert api.seen[0][1]["accept-encoding"] == "gzip, deflate"


@pytest.mark.usefixtures("quick_backoff")
@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        pytest.param(
            http_answer(200, page_body(ROWS), headers={"Content-Encoding": "gzip"}),
            f"the body of the answer to {FIRST} is not gzip "
            "(Error -3 while decompressing data: incorrect header check)",
            id="claims-gzip",
        ),
        pytest.param(
            http_answer(200, page_body(ROWS)[:20], headers={"Content-Length": "500"}),
            f"the answer to {FIRST} ended before its body did "
            "(IncompleteRead(20 bytes read, 480 more expected))",
            id="cut-short",
        ),
    ],
)
def test_a_body_that_cannot_be_read_is_retried_then_one_line(answer: bytes, problem: str) -> None:
    with scripted_api(answer) as api:
        result = sync(one_window(api.url, max_retries=1))

    assert (
        result.error == f"Could not get an answer from {api.url} ({problem}); gave up after 2 tries"
    )
    assert len(api.seen) == 2
    assert result.records == []


def redirect_line(status: int, location: str) -> str:
    """The line for a first page answered with a redirect to `location`."""
    return (
        f"The API answered {FIRST} with HTTP {status}, a redirect to {location}; the API "
        "documents no redirect and the tap follows none: if the API moved, set `api_url` "
        "to its new address"
    )


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("host", ["127.0.0.2", "127.0.0.1"], ids=["other-host", "other-port"])
def test_a_redirect_elsewhere_is_one_line_and_nothing_is_sent_there(status: int, host: str) -> None:
    with scripted_api(PAGE, host=host) as elsewhere:
        location = f"{elsewhere.url}{BOT}"
        with scripted_api(http_answer(status, headers={"Location": location})) as api:
            result = sync(one_window(api.url, max_retries=1))

    assert result.error == redirect_line(status, location)
    assert len(api.seen) == 1  # not retried
    assert elsewhere.seen == []  # neither the key nor any request went there
    assert result.records == []


@pytest.mark.parametrize(
    "location",
    [
        pytest.param("http://192.0.2.1/api", id="plain-http-off-loopback"),
        pytest.param("https://platform.crescendo.ai/api", id="https-elsewhere"),
        pytest.param("/api/v1/reporting/tenants/tenant-alpha/botconv/", id="same-origin"),
        pytest.param("http://127.0.0.1:1/\x1b[31mred", id="escape-sequence"),
    ],
)
def test_every_redirect_is_refused_before_any_request_follows_it(location: str) -> None:
    with scripted_api(http_answer(302, headers={"Location": location})) as api:
        result = sync(one_window(api.url))

    shown = location.replace("\x1b", "\\x1b")
    assert result.error == redirect_line(302, shown)
    assert len(api.seen) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("max_retries", "tries"), [(0, 1), (1, 2)])
@pytest.mark.usefixtures("quick_backoff")
def test_a_body_that_trickles_gives_up_after_request_timeout_per_try(
    max_retries: int, tries: int
) -> None:
    head = http_answer(200, headers={"Content-Length": "100"})
    started = time.monotonic()

    with scripted_api(Trickle(head, b"x" * 100, 0.25)) as api:
        result = sync(one_window(api.url, request_timeout=1, max_retries=max_retries))

    assert time.monotonic() - started < 30  # a byte every 0.25 s would take 25 s a try
    assert result.error == (
        f"Could not get an answer from {api.url} (the answer to {FIRST} was not complete by "
        f"the end of `request_timeout`); gave up after {tries} tries"
    )
    assert len(api.seen) == tries


@pytest.mark.slow
def test_a_body_without_a_length_that_trickles_is_late_not_short() -> None:
    head = http_answer(200, headers={"Content-Length": ""})  # the body ends when it closes

    with scripted_api(Trickle(head, page_body(ROWS), 0.25)) as api:
        result = sync(one_window(api.url, request_timeout=1))

    assert result.error == (
        f"Could not get an answer from {api.url} (the answer to {FIRST} was not complete by "
        "the end of `request_timeout`); gave up after 1 tries"
    )


@pytest.mark.slow
def test_a_try_ends_at_request_timeout_even_while_a_byte_is_awaited() -> None:
    head = http_answer(200, headers={"Content-Length": "3"})

    # A byte after 1.2 s, then the next 1.2 s later: past the 2 s, the tap waits no more.
    with scripted_api(Trickle(head, b"xyz", 1.2)) as api:
        result = sync(one_window(api.url, request_timeout=2))

    assert result.error is not None
    assert "was not complete by the end of `request_timeout`" in result.error
    assert api.hung_up_after == [1]


@pytest.mark.slow
@pytest.mark.usefixtures("quick_backoff")
def test_a_server_that_never_answers_gives_up_after_request_timeout_per_try() -> None:
    with scripted_api(SILENT) as api:
        result = sync(one_window(api.url, request_timeout=1, max_retries=1))

    port = api.url.rsplit(":", 1)[1]
    assert result.error == (
        f"Could not get an answer from {api.url} (HTTPConnectionPool(host='127.0.0.1', "
        f"port={port}): Read timed out. (read timeout=1)); gave up after 2 tries"
    )
    assert len(api.seen) == 2


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    """The most bytes an answer's body may hold, lowered to one page of `ROWS`."""
    cap = len(page_body(ROWS))
    monkeypatch.setattr(CrescendoStream, "max_body_bytes", cap)
    return cap


def too_large(problem: str, cap: int) -> str:
    """The line for a first page whose body is over `cap` bytes."""
    return (
        f"The answer to {FIRST} {problem} than the {cap:,} bytes the tap takes in one "
        "answer; lower `page_size`"
    )


def chunked(body: bytes) -> bytes:
    """A 200 whose body is sent in chunks of 100 bytes, its length announced nowhere."""
    pieces = [body[i : i + 100] for i in range(0, len(body), 100)]
    coded = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in [*pieces, b""])
    return http_answer(200, coded, headers={"Transfer-Encoding": "chunked", "Content-Length": ""})


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(PAGE, id="length-announced"),
        pytest.param(chunked(page_body(ROWS)), id="chunked"),
    ],
)
def test_a_body_of_the_cap_is_read(small_cap: int, answer: bytes) -> None:
    with scripted_api(answer) as api:
        result = sync(one_window(api.url))

    assert len(page_body(ROWS)) == small_cap
    assert result.error is None
    assert result.ids == [row["ID"] for row in ROWS]


def test_a_content_length_over_the_cap_is_refused_before_reading(small_cap: int) -> None:
    head = http_answer(200, headers={"Content-Length": str(small_cap + 1)})

    with scripted_api(Trickle(head, b"", 0.0)) as api:  # the body never comes
        result = sync(one_window(api.url, request_timeout=30, max_retries=1))

    assert result.error == too_large(f"announces {small_cap + 1:,} bytes, more", small_cap)
    assert len(api.seen) == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(chunked(page_body(ROWS) + b" "), id="chunked"),
        pytest.param(
            http_answer(
                200, gzip.compress(page_body(ROWS) + b" "), headers={"Content-Encoding": "gzip"}
            ),
            id="gzip-decoded",
        ),
    ],
)
def test_a_body_that_grows_over_the_cap_is_refused(small_cap: int, answer: bytes) -> None:
    with scripted_api(answer) as api:
        result = sync(one_window(api.url, max_retries=1))

    assert result.error == too_large("holds more", small_cap)
    assert len(api.seen) == 1


@pytest.mark.slow
def test_a_50_mb_field_is_extracted_in_memory_bounded_by_its_page() -> None:
    huge = {**ROWS[0], "BotName": "x" * 50_000_000}
    body = page_body([huge, ROWS[1]])

    with scripted_api(http_answer(200, body)) as api:
        tracemalloc.start()
        try:
            result = sync(one_window(api.url))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert result.error is None
    assert result.records[0]["BotName"] == huge["BotName"]
    assert result.ids == [ROWS[0]["ID"], ROWS[1]["ID"]]
    assert peak < 8 * len(body)  # the body, its record, its line and the captured output


def envelope(**members: t.Any) -> bytes:
    """A 200 page of `ROWS` with the envelope's `members` replaced (`...` removes one)."""
    return http_answer(200, page_body(ROWS, **members))


def with_first_row(text: bytes) -> bytes:
    """A 200 page of `ROWS` whose first row starts with the JSON members in `text`."""
    body = page_body(ROWS)
    return http_answer(200, body.replace(b'{"ID": ', b"{" + text + b', "ID": ', 1))


#: A first row with a field nested 100,000 deep, and what decoding it says.
NESTED_DEEP = with_first_row(b'"Undocumented": ' + b"[" * 100_000 + b"]" * 100_000)
TOO_DEEP = "maximum recursion depth exceeded while deserializing an object"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        pytest.param(
            with_first_row(b'"BotName": "\xff\xfe"'),
            "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte "
            "- at `$.data[0]`",
            id="invalid-utf-8",
        ),
        pytest.param(
            http_answer(200, page_body(ROWS).replace(b'"total": 3', b'"total": NaN')),
            "JSON is malformed: invalid character (byte 10)",
            id="NaN",
        ),
        pytest.param(
            with_first_row(b'"Datetime": Infinity'),
            "JSON is malformed: invalid character (byte 61)",
            id="Infinity",
        ),
        pytest.param(
            with_first_row(b'"Datetime": 1e400'),
            "Number out of range - at `$.data[0][...]`",
            id="1e400",
        ),
        pytest.param(NESTED_DEEP, TOO_DEEP, id="nested-100000-deep"),
        pytest.param(envelope(total=...), "Object missing required field `total`", id="no-total"),
        pytest.param(
            envelope(total="3"), "Expected `int`, got `str` - at `$.total`", id="total-str"
        ),
        pytest.param(
            envelope(cursor=...), "Object missing required field `cursor`", id="no-cursor"
        ),
        pytest.param(envelope(cursor=5), "Expected `object`, got `int` - at `$.cursor`", id="int"),
        pytest.param(
            envelope(cursor="abc"), "Expected `object`, got `str` - at `$.cursor`", id="str"
        ),
        pytest.param(
            envelope(cursor=["abc"]), "Expected `object`, got `array` - at `$.cursor`", id="list"
        ),
        pytest.param(
            envelope(next_cursor=7),
            "Expected `str | null`, got `int` - at `$.cursor.next`",
            id="next-int",
        ),
        pytest.param(
            envelope(next_cursor={"page": 2}),
            "Expected `str | null`, got `object` - at `$.cursor.next`",
            id="next-object",
        ),
        pytest.param(
            envelope(next_cursor=["abc"]),
            "Expected `str | null`, got `array` - at `$.cursor.next`",
            id="next-list",
        ),
    ],
)
def test_a_body_out_of_contract_is_one_line_naming_the_page(answer: bytes, problem: str) -> None:
    with scripted_api(answer) as api:
        result = sync(one_window(api.url))

    assert result.error == out_of_contract(problem)
    assert result.records == []


def test_a_row_nested_too_deep_to_decode_is_one_line_naming_the_page() -> None:
    tap = TapCrescendo(config=one_window("https://platform.crescendo.ai"))
    stream = t.cast("IncrementalExport", tap.streams["bot_conversations"])
    deep = b'[{"ID": "a", "Undocumented": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]"
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    response.request = requests.Request("GET", f"https://platform.crescendo.ai{BOT}").prepare()

    with pytest.raises(APIError) as refused:
        stream.page_records(TENANT).of(
            Page(total=1, cursor=Cursor(), data=msgspec.Raw(deep)), response
        )

    assert str(refused.value) == (
        f"The API answered GET {BOT} with HTTP 200 but a body out of contract "
        f"(application/json): {TOO_DEEP} - at `$.data`"
    )


@pytest.mark.parametrize("status", [400, 503])
def test_an_error_body_nested_too_deep_is_quoted_as_a_body(status: int) -> None:
    deep = b'{"code": "Bad", "message": "m", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    with scripted_api(http_answer(status, deep)) as api:
        result = sync(one_window(api.url))

    assert result.error is not None
    assert result.error.startswith(f"HTTP {status} Scripted (body: {deep.decode()[:200]})")


def test_a_repeated_key_keeps_its_last_value() -> None:
    with scripted_api(with_first_row(b'"ID": "first", "BotName": "first"')) as api:
        result = sync(one_window(api.url))

    assert result.error is None
    assert result.ids == [row["ID"] for row in ROWS]
    assert result.records[0]["BotName"] == ROWS[0]["BotName"]
    assert strict_problems(result.messages) == []


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(envelope(cursor={}), id="no-next"),
        pytest.param(envelope(next_cursor=""), id="empty-next"),
        pytest.param(envelope(cursor={"next": None, "prev": "abc"}), id="other-members"),
        pytest.param(envelope(total=0), id="total-zero"),
    ],
)
def test_a_last_page_the_contract_allows_ends_the_window(answer: bytes) -> None:
    with scripted_api(answer) as api:
        result = sync(one_window(api.url))

    assert result.error is None
    assert result.ids == [row["ID"] for row in ROWS]
    assert len(api.seen) == 1


def test_a_negative_total_is_a_count_that_differs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), scripted_api(envelope(total=-1)) as api:
        result = sync(one_window(api.url))

    assert result.error is None
    assert result.ids == [row["ID"] for row in ROWS]
    assert [r.getMessage() for r in caplog.records if "total=" in r.getMessage()] == [
        "Stream 'bot_conversations', tenant 'tenant-alpha', window [2026-10-01T00:00:00.000Z, "
        "2026-10-11T00:00:00.000Z):"
        " the API reported total=-1 but 3 rows were received"
    ]


def test_a_row_outside_its_window_is_extracted_but_not_bookmarked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    late = {**ROWS[0], "ID": "from-2099", "Datetime": 4102444700000}
    late["DatetimeUTC"] = "2099-12-31T23:58:20Z"

    with (
        caplog.at_level(logging.WARNING),
        scripted_api(http_answer(200, page_body([*ROWS, late]))) as api,
    ):
        result = sync(one_window(api.url))

    assert result.error is None
    assert result.ids == [*(row["ID"] for row in ROWS), "from-2099"]
    assert result.bookmark() == max(row["DatetimeUTC"] for row in ROWS)
    assert [r.getMessage() for r in caplog.records if "outside" in r.getMessage()] == [
        "Stream 'bot_conversations', tenant 'tenant-alpha', window [2026-10-01T00:00:00.000Z, "
        "2026-10-11T00:00:00.000Z):"
        " 1 rows start outside the window; they are extracted, but the bookmark does not move"
        " to them"
    ]


def test_a_100_kb_cursor_is_sent_back_whole() -> None:
    cursor = "c" * 100_000
    first = http_answer(200, page_body(ROWS[:2], next_cursor=cursor))
    last = http_answer(200, page_body(ROWS[2:]))

    with scripted_api(first, last) as api:
        result = sync(one_window(api.url))

    assert result.error is None
    assert result.ids == [row["ID"] for row in ROWS]
    assert api.seen[1][0] == f"{BOT}?cursor={cursor}&limit=40"


def test_a_cursor_too_long_for_the_server_is_its_refusal_in_one_line() -> None:
    cursor = "c" * 100_000
    first = http_answer(200, page_body(ROWS[:2], next_cursor=cursor))

    with scripted_api(first, http_answer(414)) as api:
        result = sync(one_window(api.url, max_retries=1))

    assert result.error == f"HTTP 414 Scripted (request: GET {BOT}?cursor={cursor}&limit=40)"
    assert len(api.seen) == 2


def test_a_cursor_that_repeats_stops_with_one_line() -> None:
    first = http_answer(200, page_body(ROWS[:2], next_cursor="again"))
    again = http_answer(200, page_body(ROWS[2:], next_cursor="again"))

    with scripted_api(first, again) as api:
        result = sync(one_window(api.url))

    assert result.error == (
        "The API returned the cursor 'again' a second time after 2 pages of one query; "
        "stopping instead of looping"
    )
    assert len(api.seen) == 2


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the tap asks for, recorded instead of waited; jitter at its largest."""
    asked: list[float] = []
    monkeypatch.setattr(time, "sleep", asked.append)
    monkeypatch.setattr(random, "random", lambda: 1.0)
    return asked


def test_a_retry_after_of_a_year_waits_the_cap(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    busy = http_answer(
        429,
        b'{"code": "TooManyRequests", "message": "slow down"}',
        headers={"Retry-After": "31536000"},
    )

    with caplog.at_level(logging.WARNING), scripted_api(busy) as api:
        result = sync(one_window(api.url, max_retries=2))

    assert result.error == (f"HTTP 429 TooManyRequests: slow down ({FIRST}); gave up after 3 tries")
    backoff = [wait for wait in sleeps if wait > MAX_WAIT_SECONDS]
    assert backoff == [MAX_WAIT_SECONDS + 1.0] * 2
    assert all(wait <= MAX_WAIT_SECONDS for wait in sleeps if wait not in backoff)
    assert [
        r.getMessage().rsplit("; ", 1)[1] for r in caplog.records if "Retrying" in r.getMessage()
    ] == ["waiting 301.0 s)"] * 2


def test_429s_without_retry_after_wait_the_backoff_and_give_up(sleeps: list[float]) -> None:
    busy = http_answer(429, b'{"code": "TooManyRequests", "message": "slow down"}')

    with scripted_api(busy) as api:
        result = sync(one_window(api.url, max_retries=5))

    assert result.error == f"HTTP 429 TooManyRequests: slow down ({FIRST}); gave up after 6 tries"
    assert sleeps == [1.1, 2.2, 4.4, 8.8, 17.0]
    assert len(api.seen) == 6


def test_a_tenant_id_stays_one_percent_encoded_path_segment() -> None:
    tenant = "a\nb?c#d%2Fe/f"
    rows = [{**row, "TenantID": tenant} for row in ROWS]
    with scripted_api(http_answer(200, page_body(rows))) as api:
        result = sync(one_window(api.url, tenant_id=tenant))

    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in ROWS)
    assert api.seen[0][0].startswith("/api/v1/reporting/tenants/a%0Ab%3Fc%23d%252Fe%2Ff/botconv?")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "line"),
    [
        pytest.param(
            http_answer(200, page_body(ROWS), headers={"Content-Encoding": "gzip"}),
            "is not gzip (Error -3 while decompressing data: incorrect header check)); "
            "gave up after 1 tries",
            id="claims-gzip",
        ),
        pytest.param(
            http_answer(200, headers={"Content-Length": str(2**40)}),
            "announces 1,099,511,627,776 bytes, more than the 268,435,456 bytes the tap takes "
            "in one answer; lower `page_size`",
            id="over-the-cap",
        ),
        pytest.param(NESTED_DEEP, TOO_DEEP, id="nested-100000-deep"),
        pytest.param(
            http_answer(302, headers={"Location": "http://192.0.2.1/api"}),
            "if the API moved, set `api_url` to its new address",
            id="redirect",
        ),
    ],
)
def test_the_command_ends_with_one_line_and_no_traceback(
    tmp_path: Path, answer: bytes, line: str
) -> None:
    with scripted_api(answer) as api:
        command = run_command([], tmp_path, one_window(api.url))

    assert command.returncode == 1
    assert "Traceback" not in command.stderr
    assert command.stderr.rstrip().splitlines()[-1].endswith(line)
    assert API_KEY not in command.stderr
