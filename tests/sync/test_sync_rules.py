"""The documented rules of a sync, each by a test that fails when the rule breaks.

Each rule has a small test of the piece that keeps it and, where a person would notice the
rule breaking, a test of a whole sync against the fake API.
"""

from __future__ import annotations

import io
import threading
import typing as t
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timezone

import pytest

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.stopping import StopRequested
from tap_crescendo.sync.bookmarks import later, moved_bookmark
from tap_crescendo.sync.page_feed import PageArrived, PageFeed, WindowDone
from tap_crescendo.sync.windows import Window, WindowProgress
from tap_crescendo.tap import TapCrescendo
from tap_crescendo.timestamps import format_epoch_ms, parse_timestamp, to_epoch_ms
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START,
    SPAN_START_MS,
    TENANT,
    parse_messages,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import requests

    from tap_crescendo.api.pagination import Page
    from tap_crescendo.fake_api import RecordedRequest
    from tap_crescendo.sync.export import IncrementalExport
    from tap_crescendo.sync.page_feed import WindowEvent

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MINUTE_MS = 60_000
#: How long a feed test may take before it counts as deadlocked.
DEADLINE_SECONDS = 5.0


def now_ms() -> int:
    """This machine's clock in epoch ms."""
    return to_epoch_ms(datetime.now(timezone.utc))


def bot_stream(**settings: t.Any) -> IncrementalExport:
    """The bot stream of a tap configured with `settings` (no request is sent)."""
    config = tap_config("https://platform.crescendo.ai", **settings)
    stream = TapCrescendo(config=config).streams["bot_conversations"]
    return t.cast("IncrementalExport", stream)


def first_pages(fake: FakeCrescendo, export: str = "botconv") -> list[RecordedRequest]:
    """The first request of every window of an export, in the order received."""
    return [r for r in fake.requests if "from" in r.query and r.path.endswith(f"/{export}")]


def bookmark_state(value: str, stream: str = "bot_conversations") -> dict[str, t.Any]:
    """A STATE whose only bookmark is `value`."""
    key = "DatetimeUTC" if stream == "bot_conversations" else "Datetime"
    return {"bookmarks": {stream: {"replication_key": key, "replication_key_value": value}}}


def bookmarks(messages: list[dict[str, t.Any]], stream: str = "bot_conversations") -> list[str]:
    """The bookmark of `stream` in every STATE that holds one, in order."""
    values = [
        m["value"]["bookmarks"].get(stream, {}).get("replication_key_value")
        for m in messages
        if m["type"] == "STATE"
    ]
    return [value for value in values if value is not None]


def rows_between(rows: list[dict[str, t.Any]], start_ms: int, end_ms: int) -> int:
    """How many bot rows started in `[start_ms, end_ms)`."""
    return sum(1 for row in rows if start_ms <= row["Datetime"] < end_ms)


# --- The span: start_date is a floor, end_date is clamped to now -------------------------


@pytest.mark.parametrize(
    ("bookmark_after_start", "lookback_minutes", "expected_start_ms"),
    [
        pytest.param(10 * MINUTE_MS, 60, SPAN_START_MS, id="lookback-reaching-before-start"),
        pytest.param(60 * MINUTE_MS, 60, SPAN_START_MS, id="lookback-reaching-exactly-start"),
        pytest.param(
            DAY_MS, 60, SPAN_START_MS + DAY_MS - 60 * MINUTE_MS, id="lookback-after-start"
        ),
        pytest.param(DAY_MS, 0, SPAN_START_MS + DAY_MS, id="no-lookback"),
    ],
)
def test_the_span_starts_at_bookmark_minus_lookback_but_never_before_start_date(
    bookmark_after_start: int, lookback_minutes: int, expected_start_ms: int
) -> None:
    stream = bot_stream(lookback_window_minutes=lookback_minutes)
    bookmark = parse_timestamp(format_epoch_ms(SPAN_START_MS + bookmark_after_start))

    assert stream.sync_span(bookmark) == (expected_start_ms, SPAN_END_MS)


def test_without_start_date_the_lookback_has_no_floor() -> None:
    stream = bot_stream(start_date=None, lookback_window_minutes=90)

    start_ms, _ = stream.sync_span(parse_timestamp(SPAN_START))

    assert start_ms == SPAN_START_MS - 90 * MINUTE_MS


def test_a_first_sync_starts_at_start_date() -> None:
    assert bot_stream().sync_span(None) == (SPAN_START_MS, SPAN_END_MS)


@pytest.mark.parametrize(
    ("range_setting", "days"),
    [
        pytest.param(None, 1, id="default-last-day"),
        pytest.param("last_week", 7, id="last-week"),
        pytest.param("last_month", 30, id="last-month"),
    ],
)
def test_without_start_date_a_first_sync_reads_the_range_before_end_date(
    range_setting: str | None, days: int
) -> None:
    stream = bot_stream(start_date=None, range=range_setting)

    assert stream.sync_span(None) == (SPAN_END_MS - days * DAY_MS, SPAN_END_MS)


@pytest.mark.parametrize(
    "end_date",
    [
        pytest.param(None, id="unset"),
        pytest.param("2999-01-01T00:00:00Z", id="far-future"),
        pytest.param(format_epoch_ms(now_ms() + HOUR_MS), id="an-hour-ahead"),
    ],
)
def test_a_span_ends_now_when_end_date_is_unset_or_in_the_future(end_date: str | None) -> None:
    stream = bot_stream(end_date=end_date, start_date=None)

    before = now_ms()
    start_ms, end_ms = stream.sync_span(None)
    after = now_ms()

    assert before <= end_ms <= after
    assert start_ms == end_ms - DAY_MS


def test_a_future_end_date_reads_up_to_now_only_and_the_bookmark_stays_in_the_past(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    now = now_ms()
    recent = generate_bot_rows(4, start_ms=now - 3 * HOUR_MS, end_ms=now - HOUR_MS, seed=31)
    future = generate_bot_rows(3, start_ms=now + HOUR_MS, end_ms=now + 2 * HOUR_MS, seed=32)
    fake.add_rows(TENANT, recent + future)
    config = tap_config(api_url, end_date="2999-01-01T00:00:00Z", window_size_hours=24 * 40)

    before = now_ms()
    result = sync(config)
    after = now_ms()

    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows + recent)
    assert before <= int(first_pages(fake)[-1].query["to"]) <= after
    assert result.bookmark() == max(recent, key=lambda row: row["Datetime"])["DatetimeUTC"]
    assert sync(config, result.states[-1]).error is None  # the state it wrote is usable


def test_the_lookback_never_reaches_before_start_date(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    before_start = generate_bot_rows(
        3, start_ms=SPAN_START_MS - 90 * MINUTE_MS, end_ms=SPAN_START_MS, seed=33
    )
    fake.add_rows(TENANT, before_start)
    state = bookmark_state(format_epoch_ms(SPAN_START_MS + 30 * MINUTE_MS))

    result = sync(tap_config(api_url, lookback_window_minutes=120), state)

    assert int(first_pages(fake)[0].query["from"]) == SPAN_START_MS
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)


# --- The bookmark never moves backwards ---------------------------------------------------


@pytest.mark.parametrize("parallel", [1, 3])
@pytest.mark.parametrize(
    "end_after_bookmark",
    [pytest.param(0, id="nothing-newer"), pytest.param(DAY_MS, id="a-day-newer")],
)
def test_the_bookmark_never_moves_back_when_the_lookback_spans_several_windows(
    fake: FakeCrescendo,
    api_url: str,
    bot_rows: list[dict[str, t.Any]],
    parallel: int,
    end_after_bookmark: int,
) -> None:
    bookmark_ms = SPAN_START_MS + 6 * DAY_MS
    bookmark = format_epoch_ms(bookmark_ms)
    end_ms = bookmark_ms + end_after_bookmark
    config = tap_config(
        api_url,
        end_date=format_epoch_ms(end_ms),
        lookback_window_minutes=3 * 24 * 60,
        window_size_hours=24,
        max_parallel_windows=parallel,
        page_size=10,
    )

    result = sync(config, bookmark_state(bookmark))

    newer = [row for row in bot_rows if bookmark_ms < row["Datetime"] < end_ms]
    expected = max(newer, key=lambda row: row["Datetime"])["DatetimeUTC"] if newer else bookmark
    assert len(first_pages(fake)) == 3 + end_after_bookmark // DAY_MS
    assert all(
        parse_timestamp(value) >= parse_timestamp(bookmark) for value in bookmarks(result.messages)
    )
    assert result.bookmark() == expected


def progress(newest: tuple[int, str] | None) -> WindowProgress:
    """A window's progress that delivered `newest` as its newest start."""
    return WindowProgress(Window(0, 1), newest=newest)


def test_the_newest_start_of_completed_windows_skips_those_without_records() -> None:
    windows = [progress((5, "b")), progress(None), progress((3, "a")), progress(None)]

    assert moved_bookmark(None, windows) == "b"
    assert moved_bookmark(None, [progress(None)]) is None


def test_the_bookmark_moves_only_past_the_one_the_run_resumed_from() -> None:
    windows = [progress((3, "a")), progress((5, "b"))]

    assert moved_bookmark(4, windows) == "b"
    assert moved_bookmark(5, windows) is None
    assert moved_bookmark(6, windows) is None


def test_of_two_starts_at_one_instant_the_first_delivered_stays() -> None:
    written_first, written_later = (7, "2026-10-05T12:00:00Z"), (7, "2026-10-05T14:00:00+02:00")

    assert later(written_first, written_later) == written_first
    assert later(None, written_later) == written_later
    assert later(written_first, None) == written_first


# --- Parallel windows: the first alone, none `workers` or more past the oldest unfinished ---


class StartedWindows(Sequence[Window]):
    """One-hour windows that note the index of each one the feed takes to start it."""

    def __init__(self, count: int) -> None:
        self.windows = [Window(i * HOUR_MS, (i + 1) * HOUR_MS) for i in range(count)]
        self.started: list[int] = []

    def __len__(self) -> int:
        return len(self.windows)

    @t.overload
    def __getitem__(self, index: int) -> Window: ...

    @t.overload
    def __getitem__(self, index: slice) -> Sequence[Window]: ...

    def __getitem__(self, index: int | slice) -> Window | Sequence[Window]:
        assert isinstance(index, int), "the feed takes windows one at a time"
        window = self.windows[index]
        self.started.append(index)
        return window


def page(window: int, which: str) -> PageArrived:
    """A stand-in page event: only its window and its name matter to the feed."""
    return PageArrived(window, t.cast("Page[t.Any]", which), t.cast("requests.Response", None))


def gated_pages(gates: list[threading.Event]) -> Callable[[int, Window], Iterator[WindowEvent]]:
    """Pages of a window: its first at once, its last once the test opens its gate."""

    def pages(index: int, window: Window) -> Iterator[WindowEvent]:
        yield page(index, "first")
        if not gates[index].wait(DEADLINE_SECONDS):
            msg = f"window {index} was never let finish"
            raise AssertionError(msg)
        yield page(index, "last")

    return pages


def within_deadline(scenario: Callable[[], None]) -> None:
    """Run `scenario` on a thread; fail when it raises, or when it deadlocks."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            scenario()
        except BaseException as error:  # raised again on the test's thread
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE_SECONDS)
    assert not thread.is_alive(), "the feed deadlocked"
    if errors:
        raise errors[0]


def test_the_first_window_runs_alone_and_none_starts_workers_past_the_oldest_unfinished() -> None:
    windows = StartedWindows(6)
    gates = [threading.Event() for _ in range(6)]

    feed = PageFeed(gated_pages(gates), windows, workers=3)

    def scenario() -> None:
        with feed:
            events = iter(feed)
            assert next(events) == page(0, "first")
            gates[0].set()
            assert next(events) == page(0, "last")
            assert windows.started == [0]  # alone: a wrong key costs one request
            assert next(events) == WindowDone(0, range(1))
            firsts = [next(events) for _ in range(3)]
            assert sorted(firsts, key=str) == [page(1, "first"), page(2, "first"), page(3, "first")]
            gates[2].set()
            gates[3].set()
            ends = [next(events) for _ in range(4)]
            assert [e for e in ends if e.window == 2] == [
                page(2, "last"),
                WindowDone(2, range(1, 1)),
            ]
            assert [e for e in ends if e.window == 3] == [
                page(3, "last"),
                WindowDone(3, range(1, 1)),
            ]
            assert windows.started == [0, 1, 2, 3]
            gates[1].set()
            assert next(events) == page(1, "last")
            assert windows.started == [0, 1, 2, 3]  # window 4 would be 3 past window 1
            assert next(events) == WindowDone(1, range(1, 4))
            gates[4].set()
            gates[5].set()
            rest = list(events)
        assert windows.started == [0, 1, 2, 3, 4, 5]
        done = [event for event in rest if isinstance(event, WindowDone)]
        assert sorted((e for e in rest if isinstance(e, PageArrived)), key=str) == [
            page(4, "first"),
            page(4, "last"),
            page(5, "first"),
            page(5, "last"),
        ]
        assert sorted(event.window for event in done) == [4, 5]
        assert [index for event in done for index in event.completes] == [4, 5]

    try:
        within_deadline(scenario)
    finally:  # should the feed deadlock, let its workers end so that the tests can
        for gate in gates:
            gate.set()
        feed.__exit__(None, None, None)


def test_a_stopping_tap_leaves_the_feed_without_waiting_for_requests_in_flight() -> None:
    entered, answered, left = threading.Event(), threading.Event(), threading.Event()

    def pages(index: int, window: Window) -> Iterator[WindowEvent]:
        yield page(index, "first")
        entered.set()
        try:
            answered.wait(DEADLINE_SECONDS)  # a request that takes its time
        finally:
            left.set()
        yield page(index, "last")

    feed = PageFeed(pages, StartedWindows(2), workers=1)

    def read_then_stop() -> None:
        with feed:
            assert next(iter(feed)) == page(0, "first")
            assert entered.wait(DEADLINE_SECONDS)  # the next page's request is in flight
            raise StopRequested("stopping", 143)

    def scenario() -> None:
        with pytest.raises(StopRequested):
            read_then_stop()
        assert not left.is_set()

    try:
        within_deadline(scenario)
    finally:
        answered.set()
        feed.__exit__(None, None, None)


def test_a_refused_key_costs_one_request_whatever_the_parallel_windows(
    fake: FakeCrescendo, api_url: str
) -> None:
    result = sync(tap_config(api_url, api_key="wrong-key", max_parallel_windows=4))

    assert result.error is not None
    assert result.error.startswith("HTTP 401 Unauthenticated")
    assert len(fake.requests) == 1


# --- The API's `total`: a warning in both directions, none after a restart ------------------


def total_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The bot stream's warnings that a window's `total` differed."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith(
            "Stream 'bot_conversations', tenant 'tenant-alpha', window ["
        )
    ]


def summary(caplog: pytest.LogCaptureFixture) -> str:
    """The bot stream's closing summary line."""
    return next(
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("Stream 'bot_conversations', tenant 'tenant-alpha': ")
        and " records from " in record.getMessage()
    )


@pytest.mark.parametrize("delta", [3, -3])
def test_a_total_that_differs_either_way_warns_for_each_window(
    fake: FakeCrescendo,
    api_url: str,
    bot_rows: list[dict[str, t.Any]],
    logs: pytest.LogCaptureFixture,
    delta: int,
) -> None:
    fake.misreport_total(delta)

    result = sync(tap_config(api_url, window_size_hours=120))

    middle = SPAN_START_MS + 5 * DAY_MS
    first, second = (
        rows_between(bot_rows, SPAN_START_MS, middle),
        rows_between(bot_rows, middle, SPAN_END_MS),
    )
    assert result.error is None
    assert total_warnings(logs) == [
        "Stream 'bot_conversations', tenant 'tenant-alpha', window [2026-10-01T00:00:00.000Z, "
        "2026-10-06T00:00:00.000Z):"
        f" the API reported total={first + delta} but {first} rows were "
        "received",
        "Stream 'bot_conversations', tenant 'tenant-alpha', window [2026-10-06T00:00:00.000Z, "
        "2026-10-11T00:00:00.000Z):"
        f" the API reported total={second + delta} but {second} rows were received",
    ]
    assert "from 2 windows in [" in summary(logs)
    assert "; 2 windows where `total` differed" in summary(logs)


def test_a_total_that_matches_gives_no_warning(
    api_url: str, logs: pytest.LogCaptureFixture
) -> None:
    sync(tap_config(api_url, window_size_hours=120))

    assert total_warnings(logs) == []
    assert "; 0 windows where `total` differed" in summary(logs)


@pytest.mark.parametrize("delta", [0, 2])
def test_a_window_restarted_after_an_expired_cursor_counts_its_rows_once(
    fake: FakeCrescendo,
    api_url: str,
    bot_rows: list[dict[str, t.Any]],
    logs: pytest.LogCaptureFixture,
    delta: int,
) -> None:
    fake.misreport_total(delta)
    fake.expire_cursors(count=1)

    result = sync(tap_config(api_url, window_size_hours=240, page_size=40))

    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert any("restarting window" in record.getMessage() for record in logs.records)
    assert total_warnings(logs) == (
        [
            "Stream 'bot_conversations', tenant 'tenant-alpha', window [2026-10-01T00:00:00.000Z, "
            f"2026-10-11T00:00:00.000Z): the API reported total={250 + delta} but 250 rows "
            "were received"
        ]
        if delta
        else []
    )
    assert summary(logs).startswith(
        "Stream 'bot_conversations', tenant 'tenant-alpha': 250 records from 1 windows"
    )


# --- A boolean is not a number -------------------------------------------------------------


def test_a_boolean_csat_stops_the_sync_naming_the_record_and_the_field(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    row = {**bot_rows[0], "CSat": True}
    fake.replace_row(TENANT, row)

    result = sync(tap_config(api_url, window_size_hours=240, page_size=1000))

    assert result.error is not None
    assert result.error.startswith(
        f"Stream 'bot_conversations', tenant 'tenant-alpha', record {row['ID']!r} (from /api/"
    )
    assert result.error.endswith("field 'CSat': expected a number or null, got true")
    assert row["ID"] not in result.ids
    assert bookmarks(result.messages) == []


# --- The VOC bookmark is the newest instant, whatever the offsets -------------------------


def voc_fake(bot_rows: list[dict[str, t.Any]], written: dict[str, str]) -> FakeCrescendo:
    """A fake whose VOC conversations start at `written`'s instants: `Datetime` -> UTC."""
    rows = generate_voc_rows(len(written), start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=5)
    voc = [
        {**row, "Datetime": local, "DatetimeUTC": utc}
        for row, (local, utc) in zip(rows, written.items(), strict=True)
    ]
    return FakeCrescendo(
        api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows}, voc_rows={TENANT: voc}
    )


def test_the_voc_bookmark_is_the_newest_instant_whatever_the_offsets(
    bot_rows: list[dict[str, t.Any]],
) -> None:
    written = {
        # As strings the last sorts first, yet it is the newest instant (12:15Z).
        "2026-10-05T12:00:00Z": "2026-10-05T12:00:00Z",
        "2026-10-05T13:30:00+02:00": "2026-10-05T11:30:00Z",
        "2026-10-06T01:45:00+14:00": "2026-10-05T11:45:00Z",
        "2026-10-05T10:15:00-02:00": "2026-10-05T12:15:00Z",
    }
    fake = voc_fake(bot_rows, written)

    with fake.serve() as url:
        result = sync(tap_config(url, window_size_hours=240))

    assert len(bookmarks(result.messages, "voc_conversations")) >= 1
    assert result.bookmark("voc_conversations") == "2026-10-05T10:15:00-02:00"


def test_a_voc_bookmark_is_kept_as_written_when_nothing_newer_arrives(
    bot_rows: list[dict[str, t.Any]],
) -> None:
    fake = voc_fake(bot_rows, {"2026-10-05T14:00:00+02:00": "2026-10-05T12:00:00Z"})
    state = bookmark_state("2026-10-05T12:00:00Z", "voc_conversations")  # the same instant

    with fake.serve() as url:
        result = sync(tap_config(url, lookback_window_minutes=60), state)

    first = next(r for r in fake.requests if r.path.endswith("/vocconv"))
    assert first.query["from"] == str(SPAN_START_MS + 4 * DAY_MS + 11 * HOUR_MS)  # the lookback
    assert result.bookmark("voc_conversations") == "2026-10-05T12:00:00Z"


def test_rows_read_again_in_the_lookback_reach_the_target_when_the_bookmark_stays(
    bot_rows: list[dict[str, t.Any]],
) -> None:
    fake = voc_fake(bot_rows, {"2026-10-05T12:00:00Z": "2026-10-05T12:00:00Z"})
    state = bookmark_state("2026-10-05T12:30:00Z", "voc_conversations")

    with fake.serve() as url:
        result = sync(tap_config(url, lookback_window_minutes=60), state)

    voc_ids = [
        m["record"]["ID"]
        for m in result.messages
        if m["type"] == "RECORD" and m["stream"] == "voc_conversations"
    ]
    (row,) = generate_voc_rows(1, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=5)
    assert voc_ids == [row["ID"]]  # the last stream's last row, with no STATE after it
    assert result.messages[-1]["type"] == "RECORD"
    assert result.bookmark("voc_conversations") == "2026-10-05T12:30:00Z"


# --- RECORD lines reach the target in chunks during a long window ------------------------


class WatchedStdout(io.BytesIO):
    """Standard output that notes, for each write, how many requests the API had answered."""

    def __init__(self, fake: FakeCrescendo) -> None:
        super().__init__()
        self.fake = fake
        self.answered_at_write: list[int] = []

    def write(self, data: t.Any) -> int:
        self.answered_at_write.append(len(self.fake.requests))
        return super().write(data)


def test_records_reach_the_target_in_chunks_while_a_long_window_is_read() -> None:
    rows = generate_bot_rows(1200, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=41)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: rows})
    stdout = WatchedStdout(fake)
    with fake.serve() as url:
        config = tap_config(url, window_size_hours=240, page_size=50)
        text = io.TextIOWrapper(stdout, encoding="utf-8")
        with redirect_stdout(text), redirect_stderr(io.StringIO()):
            TapCrescendo(config=config).sync_all()
            text.flush()

    pages = len(first_pages(fake)) + sum(1 for r in fake.requests if "cursor" in r.query)
    messages = parse_messages(stdout.getvalue().decode())
    first_state = next(i for i, m in enumerate(messages) if m["type"] == "STATE")
    assert pages >= 24  # one window of 1200 rows, 50 a page
    assert len([m for m in messages[:first_state] if m["type"] == "RECORD"]) == 1200
    assert stdout.answered_at_write[0] < pages // 2  # written while the window is read
    assert len(stdout.answered_at_write) >= 4
