"""A fuzz of what a server sends for the pages of one window, over real HTTP on 127.0.0.1.

Three daily windows are read two at a time; the middle one's pages are random bytes, random
JSON, random envelopes and random error answers (`tests/support/fuzzed_window.py`).

What a STATE claims: the next run resumes at its bookmark (minus the lookback) and never
reads what lies before it again. So a STATE whose bookmark is at or past a window's start
claims that the API ended that window and that every row it sent there was written before
the STATE; a bookmark at or past the end of the span claims windows never read; and the
bookmark must be no later than the newest start written before it.

The key may be in any text of an answer but a row's (a record holding it is the data).
"""

from __future__ import annotations

import json
import logging
import re
import typing as t
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tap_crescendo.api.retries import RetryPolicy
from tap_crescendo.fake_api.rows import utc_text
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms
from tests.support.echo_server import echo_api
from tests.support.fuzzed_window import (
    BASE_ROWS,
    FUTURE,
    FUZZED,
    NEIGHBOURS,
    RAW_PLACEHOLDERS,
    SPAN_END_MS,
    WINDOWS,
    Answer,
    FuzzedApi,
    dump,
    page_of,
    scripts,
)
from tests.support.tap_runs import API_KEY, TENANT, run_command, strict_problems, sync
from tests.support.tap_runs import tap_config as base_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tests.support.echo_server import Asked, Reply
    from tests.support.tap_runs import Sync


def tap_config(api_url: str, max_retries: int) -> dict[str, t.Any]:
    """Settings for the three windows, two read at once."""
    return base_config(
        api_url,
        end_date=utc_text(SPAN_END_MS),
        window_size_hours=24,
        max_parallel_windows=2,
        max_retries=max_retries,
        request_timeout=10,
    )


def start_of(value: str) -> int:
    """Epoch ms of a replication key value."""
    return to_epoch_ms(parse_timestamp(value))


def claim_problems(result: Sync, api: FuzzedApi) -> list[str]:
    """Each STATE that claims a row not written before it, or a start no record holds."""
    problems = []
    records: list[dict[str, t.Any]] = []
    for message in result.messages:
        if message["type"] == "RECORD" and message["stream"] == "bot_conversations":
            records.append(message["record"])
        if message["type"] != "STATE":
            continue
        bookmark = message["value"]["bookmarks"].get("bot_conversations", {})
        value = bookmark.get("replication_key_value")
        if value is None:
            continue
        starts = [start_of(r["DatetimeUTC"]) for r in records if r.get("DatetimeUTC")]
        if start_of(value) > max(starts, default=-1):
            problems.append(f"bookmark {value} is later than every record written before it")
        if start_of(value) >= SPAN_END_MS:
            problems.append(f"bookmark {value} passes the end of the span read")
        ids = {record.get("ID") for record in records}
        problems += [
            f"bookmark {value} passes window {window} before all its rows were written"
            for window, (start, _) in enumerate(WINDOWS)
            if start <= start_of(value) and not api.window_rows_written(window, ids)
        ]
    return problems


@dataclass(repr=False)
class Serving:
    """One server for every example: it passes each request to the example's `FuzzedApi`."""

    api: FuzzedApi = field(default_factory=lambda: FuzzedApi([]))
    url: str = ""

    def _repr_pretty_(self, printer: t.Any, _cycle: bool) -> None:
        """Show the server by its URL in a failing example."""
        printer.text(f"Serving({self.url!r})")

    def __call__(self, asked: Asked) -> Reply:
        """Answer one request as the current example's API."""
        return self.api(asked)


@pytest.fixture(scope="module")
def serving() -> t.Iterator[Serving]:
    """The server, with retries at once so that a retried answer costs no time."""
    serving = Serving()
    with pytest.MonkeyPatch.context() as patch, echo_api(serving) as serving.url:
        patch.setattr(RetryPolicy, "backoff_base_seconds", 0.0)
        yield serving


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=scripts(), max_retries=st.sampled_from([0, 1]))
# What this fuzz found (issue #21), pinned: a row that starts past the span; an error body
# nested 100,000 deep.
@example(
    script=[[page_of([{**BASE_ROWS[0], "Datetime": FUTURE, "DatetimeUTC": utc_text(FUTURE)}])]],
    max_retries=0,
)
@example(
    script=[[Answer(400, dump({"": RAW_PLACEHOLDERS[-1]}), "application/json", None)]],
    max_retries=0,
)
def test_whatever_a_window_is_sent_the_tap_writes_valid_records_or_one_line(
    script: list[list[Answer]],
    max_retries: int,
    serving: Serving,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    api = serving.api = FuzzedApi(script)

    result = sync(tap_config(serving.url, max_retries))

    logs = caplog.text
    # How the outcomes spread, for `pytest --hypothesis-show-statistics`.
    event(re.sub(r"[0-9a-f]{6,}|\d+", "N", (result.error or "ok")[:70]))
    assert strict_problems(result.messages) == []
    assert claim_problems(result, api) == []
    assert "Traceback" not in logs + result.stderr
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    for output in (json.dumps(result.messages), logs, result.stderr, result.error or ""):
        assert API_KEY not in output
    if result.error is None:
        assert api.window_rows_written(FUZZED, set(result.ids))
        assert {row["ID"] for rows in NEIGHBOURS.values() for row in rows} <= set(result.ids)
    else:
        assert result.error == result.error.strip()
        assert "\n" not in result.error
        assert "\r" not in result.error


FUZZED_QUERY = f"from={WINDOWS[FUZZED][0]}&to={WINDOWS[FUZZED][1]}&limit=40"
FIRST = f"GET /api/v1/reporting/tenants/{TENANT}/botconv?{FUZZED_QUERY}"
#: A line of the tap's log: time, level, logger, message.
LOG_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \| (?P<level>[A-Z]+) +\| (?P<logger>\S+) +\| "
    r"(?P<message>.*)"
)
NASTY = [
    pytest.param(
        Answer(200, b"not gzip at all", "application/json", "gzip-lie"),
        "Could not get an answer from http://127.0.0.1:",
        id="gzip-lie",
    ),
    pytest.param(
        Answer(
            200,
            dump({"total": 1, "cursor": {}, "data": [{"x": RAW_PLACEHOLDERS[-1]}]}),
            "application/json",
            None,
        ),
        f"The API answered {FIRST} with HTTP 200 but a body out of contract (application/json): ",
        id="nested-100000-deep",
    ),
    pytest.param(
        Answer(500, b"\xff\x00 " + API_KEY.encode(), "text/html", None),
        f"HTTP 500 Internal Server Error (body: \xff\\x00 ***) ({FIRST}); gave up after 1 tries",
        id="bytes-500",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("answer", "start"), NASTY)
def test_the_command_ends_a_nasty_window_with_one_line(
    answer: Answer, start: str, tmp_path: Path
) -> None:
    with echo_api(FuzzedApi([[answer]])) as url:
        command = run_command([], tmp_path, tap_config(url, max_retries=0))

    lines = [LOG_LINE.fullmatch(line) for line in command.stderr.splitlines()]
    assert command.returncode == 1
    assert None not in lines  # no traceback, no line a message broke off
    last = t.cast("re.Match[str]", lines[-1])
    assert last["level"] == "ERROR"
    assert last["logger"] == "tap-crescendo"
    assert last["message"].startswith(start)
    assert API_KEY not in command.stderr + command.stdout
    assert strict_problems(command.messages) == []
