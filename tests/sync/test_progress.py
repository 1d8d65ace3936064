"""Progress lines: at most one per stream every 30 seconds, none in a short run."""

from __future__ import annotations

import logging
import re
import time
import typing as t

import pytest

from tap_crescendo.sync.progress import SyncProgress, describe
from tests.support.tap_runs import sync, tap_config

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_crescendo.fake_api import FakeCrescendo

LINE = re.compile(
    r"(?P<subject>.+?): (?P<done>\d+)/(?P<windows>\d+) windows \(\d+%\), [\d,]+ rows, "
    r"[\d,]+ rows/s, about (\d+ s|\d+ min|\d+ h( \d+ min)?) left"
)


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def progress_lines() -> Iterator[list[str]]:
    """The INFO lines logged under `tap-crescendo` that are progress lines, as they come."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if LINE.fullmatch(message):
                lines.append(message)

    handler = Collect(logging.INFO)
    logger = logging.getLogger("tap-crescendo")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def run_windows(windows: int, seconds_each: float, rows_each: int = 1000) -> None:
    """Complete `windows` windows, one every `seconds_each` seconds of a fake clock."""
    clock = FakeClock()
    progress = SyncProgress(
        "bot_conversations", windows, logging.getLogger("tap-crescendo.test"), clock=clock
    )
    for done in range(1, windows + 1):
        clock.now += seconds_each
        progress.window_done(done * rows_each)


def test_one_line_every_30_seconds_at_most(progress_lines: list[str]) -> None:
    run_windows(windows=10, seconds_each=10)

    assert progress_lines == [
        "bot_conversations: 3/10 windows (30%), 3,000 rows, 100 rows/s, about 1 min left",
        "bot_conversations: 6/10 windows (60%), 6,000 rows, 100 rows/s, about 40 s left",
        "bot_conversations: 9/10 windows (90%), 9,000 rows, 100 rows/s, about 10 s left",
    ]


def test_a_run_shorter_than_30_seconds_says_nothing(progress_lines: list[str]) -> None:
    run_windows(windows=365, seconds_each=0.08)  # 29.2 s in all

    assert progress_lines == []


def test_no_line_for_the_last_window_the_summary_follows(progress_lines: list[str]) -> None:
    run_windows(windows=2, seconds_each=40)

    assert progress_lines == [
        "bot_conversations: 1/2 windows (50%), 1,000 rows, 25 rows/s, about 40 s left"
    ]


def test_windows_done_in_a_burst_give_one_line(progress_lines: list[str]) -> None:
    clock = FakeClock()
    progress = SyncProgress(
        "voc_conversations", 100, logging.getLogger("tap-crescendo.test"), clock=clock
    )
    clock.now += 45
    for done in range(1, 31):
        progress.window_done(done * 10)
        clock.now += 0.5

    assert progress_lines == [
        "voc_conversations: 1/100 windows (1%), 10 rows, 0 rows/s, about 1 h 14 min left"
    ]


@pytest.mark.parametrize(
    ("done", "windows", "rows", "elapsed", "expected"),
    [
        pytest.param(
            143,
            365,
            1_204_311,
            25.0,
            "bot_conversations: 143/365 windows (39%), 1,204,311 rows, 48,200 rows/s, "
            "about 39 s left",
            id="the-issues-example-rates",
        ),
        pytest.param(
            1,
            365,
            7,
            60.0,
            "bot_conversations: 1/365 windows (0%), 7 rows, 0 rows/s, about 6 h 4 min left",
            id="slow-start",
        ),
        pytest.param(
            100,
            200,
            3_000_000,
            170.0,
            "bot_conversations: 100/200 windows (50%), 3,000,000 rows, 17,600 rows/s, "
            "about 3 min left",
            id="minutes",
        ),
        pytest.param(
            2,
            242,
            12,
            60.0,
            "bot_conversations: 2/242 windows (0%), 12 rows, 0 rows/s, about 2 h left",
            id="whole-hours",
        ),
        pytest.param(
            364,
            365,
            10,
            364.0,
            "bot_conversations: 364/365 windows (99%), 10 rows, 0 rows/s, about 1 s left",
            id="last-second",
        ),
    ],
)
def test_a_progress_line_reads_as_a_person_would_say_it(
    done: int, windows: int, rows: int, elapsed: float, expected: str
) -> None:
    assert describe("bot_conversations", done, windows, rows, elapsed) == expected


@pytest.mark.slow
def test_a_slow_api_gets_progress_lines_at_the_promised_rate(
    fake: FakeCrescendo,
    api_url: str,
    progress_lines: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    interval = 0.2
    monkeypatch.setattr(SyncProgress, "interval_seconds", interval)
    fake.set_page_delay(0.05)  # ten daily windows of one page: at least 0.5 s a stream

    started = time.monotonic()
    result = sync(tap_config(api_url, page_size=1000))
    elapsed = time.monotonic() - started

    assert result.error is None
    bot = [
        line
        for line in progress_lines
        if line.startswith("Stream 'bot_conversations', tenant 'tenant-alpha': ")
    ]
    assert bot, "a stream that ran longer than the interval said how far it was"
    done = [int(t.cast("re.Match[str]", LINE.fullmatch(line))["done"]) for line in bot]
    assert done == sorted(set(done))
    assert done[-1] < 10
    assert len(progress_lines) <= elapsed / interval
