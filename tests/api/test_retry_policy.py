"""The retry policy's pieces: backoff waits, jitter, the shared Retry-After pause, the log line."""

from __future__ import annotations

import logging
import random
import typing as t

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_crescendo.api import retries
from tap_crescendo.api.retries import MAX_WAIT_SECONDS, SharedPause
from tap_crescendo.tap import TapCrescendo
from tests.support.tap_runs import tap_config

if t.TYPE_CHECKING:
    from tap_crescendo.sync.export import IncrementalExport


class Clock:
    """A monotonic clock that moves only when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock the retry policy reads and sleeps on."""
    fake = Clock()
    monkeypatch.setattr(retries, "time", fake)
    return fake


@pytest.fixture
def stream() -> IncrementalExport:
    """The bot stream, with `max_retries` 5 (no request is sent)."""
    tap = TapCrescendo(config=tap_config("https://platform.crescendo.ai", max_retries=5))
    return t.cast("IncrementalExport", tap.streams["bot_conversations"])


def failure(retry_after: str | None = None) -> RetriableAPIError:
    """A retriable failure whose answer carries `Retry-After`, if given."""
    response = requests.Response()
    response.status_code = 429
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return RetriableAPIError("HTTP 429 TooManyRequests", response)


def waits(stream: IncrementalExport, failures: list[Exception]) -> list[float]:
    """The waits the backoff generator yields after each of `failures`, in order."""
    generator = stream.backoff_wait_generator()
    next(generator)  # primed, as the backoff library does
    return [generator.send(error) for error in failures]


@pytest.mark.parametrize(
    ("wait", "most"),
    [
        pytest.param(0.5, 0.55, id="half-second"),
        pytest.param(2.0, 2.2, id="ten-percent"),
        pytest.param(10.0, 11.0, id="ten-percent-is-one-second"),
        pytest.param(300.0, 301.0, id="at-most-one-second"),
    ],
)
def test_jitter_adds_up_to_ten_percent_of_the_wait_and_at_most_one_second(
    stream: IncrementalExport, monkeypatch: pytest.MonkeyPatch, wait: float, most: float
) -> None:
    monkeypatch.setattr(random, "random", lambda: 0.0)
    assert stream.backoff_jitter(wait) == wait
    monkeypatch.setattr(random, "random", lambda: 0.5)
    assert stream.backoff_jitter(wait) == pytest.approx((wait + most) / 2)
    monkeypatch.setattr(random, "random", lambda: 1.0)
    assert stream.backoff_jitter(wait) == pytest.approx(most)


def test_jitter_never_makes_a_wait_shorter_than_its_base(
    stream: IncrementalExport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "random", random.Random(20261127).random)
    bases = [0.01, 0.5, 1.0, 2.0, 4.0, 9.99, 10.0, 64.0, 300.0]

    for base in bases * 200:
        jittered = stream.backoff_jitter(base)
        assert base <= jittered <= base + min(base / 10, 1.0)


def test_waits_double_from_the_base_up_to_the_cap(stream: IncrementalExport) -> None:
    assert waits(stream, [failure()] * 11) == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        64.0,
        128.0,
        256.0,
        MAX_WAIT_SECONDS,
        MAX_WAIT_SECONDS,
    ]


@pytest.mark.usefixtures("clock")
def test_a_retry_after_longer_than_the_backoff_sets_the_wait(stream: IncrementalExport) -> None:
    assert waits(stream, [failure("5"), failure("1.5"), failure(), failure("3")]) == [
        5.0,
        2.0,
        4.0,
        8.0,
    ]


@pytest.mark.usefixtures("clock")
def test_a_retry_after_beyond_the_cap_waits_the_cap(stream: IncrementalExport) -> None:
    assert waits(stream, [failure("3600")]) == [MAX_WAIT_SECONDS]


def test_a_retry_after_holds_back_every_request_of_the_stream(
    stream: IncrementalExport, clock: Clock
) -> None:
    waits(stream, [failure("7")])

    stream.pause.wait()
    stream.pause.wait()

    assert clock.slept == [7.0]


def test_a_retry_after_beyond_the_cap_holds_requests_back_for_the_cap(
    stream: IncrementalExport, clock: Clock
) -> None:
    waits(stream, [failure("3600")])

    stream.pause.wait()

    assert clock.slept == [MAX_WAIT_SECONDS]


def test_a_failure_without_retry_after_holds_nothing_back(
    stream: IncrementalExport, clock: Clock
) -> None:
    waits(stream, [failure(), RetriableAPIError("HTTP 503 Unavailable")])

    stream.pause.wait()

    assert clock.slept == []


@pytest.mark.usefixtures("clock")
def test_a_failure_that_carries_no_answer_waits_the_backoff(stream: IncrementalExport) -> None:
    assert waits(stream, [ConnectionResetError(), ConnectionResetError()]) == [1.0, 2.0]


@pytest.mark.parametrize("now", [0.0, 0.5, -3.0])
def test_a_pause_never_extended_holds_nothing_back_whatever_the_clock_reads(
    clock: Clock, now: float
) -> None:
    clock.now = now  # a monotonic clock's starting point is undefined

    SharedPause().wait()

    assert clock.slept == []


def test_a_pause_shorter_than_a_second_is_waited(clock: Clock) -> None:
    pause = SharedPause()
    pause.extend(0.5)

    pause.wait()

    assert clock.slept == [0.5]


def test_the_pause_keeps_the_latest_end_and_ends(clock: Clock) -> None:
    pause = SharedPause()
    pause.wait()
    pause.extend(5.0)
    pause.extend(2.0)  # ends sooner: the longer pause stands
    clock.now += 1.0

    pause.wait()
    pause.wait()

    assert clock.slept == [4.0]


def test_tries_are_the_first_and_max_retries_more(stream: IncrementalExport) -> None:
    assert stream.backoff_max_tries() == 6


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(
            RetriableAPIError("HTTP 503 Unavailable: busy (GET /api/v1/x)"),
            "HTTP 503 Unavailable: busy (GET /api/v1/x)",
            id="api-answer",
        ),
        pytest.param(
            RetriableAPIError("HTTP 503 Unavailable: oops\n2026-12-02 ERROR fake\x1b[31m"),
            "HTTP 503 Unavailable: oops\\n2026-12-02 ERROR fake\\x1b[31m",
            id="api-answer-cannot-start-a-line",
        ),
        pytest.param(
            requests.ConnectionError("connection refused"),
            "ConnectionError('connection refused')",
            id="network",
        ),
    ],
)
def test_each_retry_is_one_warning_naming_the_failure_the_try_and_the_wait(
    stream: IncrementalExport,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    reason: str,
) -> None:
    details: t.Any = {"exception": error, "tries": 2, "wait": 4.26}

    with caplog.at_level(logging.WARNING):
        stream.backoff_handler(details)

    assert [r.getMessage() for r in caplog.records] == [
        f"Retrying after {reason} (try 2 of 6 failed; waiting 4.3 s)"
    ]
    assert caplog.records[0].levelno == logging.WARNING


def test_a_retry_without_a_known_wait_says_zero_seconds(
    stream: IncrementalExport, caplog: pytest.LogCaptureFixture
) -> None:
    details: t.Any = {"exception": RetriableAPIError("HTTP 502 Bad Gateway"), "tries": 1}

    with caplog.at_level(logging.WARNING):
        stream.backoff_handler(details)

    assert [r.getMessage() for r in caplog.records] == [
        "Retrying after HTTP 502 Bad Gateway (try 1 of 6 failed; waiting 0.0 s)"
    ]
