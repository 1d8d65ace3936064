"""Stopping early: SIGTERM or SIGINT mid-request, and a target that stops reading.

The tap runs as a command against a fake API that holds back the answers the test chooses,
so "mid-request" is a fact, not a race.
"""

from __future__ import annotations

import io
import json
import signal
import threading
import time
import typing as t
from contextlib import redirect_stdout
from datetime import datetime, timezone

import pytest
from singer_sdk.singerlib import StateMessage

from tap_crescendo.fake_api import FakeCrescendo
from tap_crescendo.output import writer
from tap_crescendo.output.writer import TARGET_GONE, StateFlushingWriter
from tap_crescendo.stopping import StopRequested, StopSwitch, signal_handlers_kept
from tests.support.tap_process import error_lines, start_tap, tap_argv
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    parse_messages,
    tap_config,
)

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_crescendo.fake_api.exchange import Answer, ApiRequest

DAY_MS = 86_400_000


class GatedFake(FakeCrescendo):
    """A fake that answers the requests for windows starting before a moment; others wait."""

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._gate = threading.Condition()
        self._arrived = 0
        self._open_until_ms = 0

    def open_until(self, moment_ms: int) -> None:
        """Answer the requests (waiting, and to come) of windows starting before `moment_ms`."""
        with self._gate:
            self._open_until_ms = moment_ms
            self._gate.notify_all()

    def wait_for_requests(self, count: int) -> None:
        """Wait until `count` requests have arrived."""
        with self._gate:
            assert self._gate.wait_for(lambda: self._arrived >= count, timeout=30)

    def handle(self, request: ApiRequest) -> Answer:
        """Record the request, then answer once its window is open."""
        answer = super().handle(request)
        window_start = int(request.query["from"])  # one page a window: no cursor requests
        with self._gate:
            self._arrived += 1
            self._gate.notify_all()
            self._gate.wait_for(lambda: window_start < self._open_until_ms, timeout=60)
        return answer


@pytest.fixture
def gated(bot_rows: list[dict[str, t.Any]]) -> GatedFake:
    """The test rows (25 a day: one page a day at page_size 40) behind a gate."""
    return GatedFake(api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows})


def read_until_state(stdout: t.IO[bytes]) -> list[dict[str, t.Any]]:
    """Read Singer messages from a running tap up to and including its first STATE."""
    messages: list[dict[str, t.Any]] = []
    while not messages or messages[-1]["type"] != "STATE":
        line = stdout.readline()
        assert line, "the tap ended before writing a STATE"
        messages.append(json.loads(line))
    return messages


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum",
    [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")],
)
def test_a_signal_stops_at_once_with_parallel_windows_mid_request(
    gated: GatedFake, tmp_path: Path, signum: signal.Signals
) -> None:
    gated.open_until(SPAN_START_MS + DAY_MS)  # the first window; the next four wait
    with gated.serve() as url:
        process = start_tap(tap_argv(tmp_path, tap_config(url, max_parallel_windows=4)))
        try:
            assert process.stdout is not None
            first = read_until_state(process.stdout)
            gated.wait_for_requests(5)
            signalled_at = time.monotonic()
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            process.kill()
            gated.open_until(SPAN_END_MS)

    assert process.returncode == 128 + signum
    assert b"Traceback" not in stderr
    assert error_lines(stderr.decode()) == [
        f"Stopped by {signum.name}; the next run resumes from the last STATE"
    ]
    rest = parse_messages(stdout.decode())
    assert [m["type"] for m in rest] == []  # nothing after the last complete STATE
    assert first[-1]["value"]["bookmarks"]["bot_conversations"]["replication_key_value"]
    assert len(gated.requests) == 5
    assert max(request.received_at for request in gated.requests) < signalled_at


@pytest.mark.slow
def test_a_target_that_stops_reading_stops_the_tap_at_once(
    gated: GatedFake, tmp_path: Path
) -> None:
    gated.open_until(SPAN_START_MS + DAY_MS)  # the first window; the next four wait
    with gated.serve() as url:
        process = start_tap(tap_argv(tmp_path, tap_config(url, max_parallel_windows=4)))
        try:
            assert process.stdout is not None
            read_until_state(process.stdout)
            gated.wait_for_requests(5)
            process.stdout.close()  # the target is gone
            gated.open_until(SPAN_START_MS + 2 * DAY_MS)  # the second window's STATE meets it
            _, stderr = process.communicate(timeout=30)
        finally:
            process.kill()
            gated.open_until(SPAN_END_MS)

    assert process.returncode == 1
    assert b"Traceback" not in stderr
    assert b"Exception ignored" not in stderr
    assert error_lines(stderr.decode()) == [TARGET_GONE]
    # Windows 2 to 4 were held mid-request; only window 5, started as window 1 completed,
    # may have been asked for too: no request after the broken pipe.
    windows = {str(SPAN_START_MS + day * DAY_MS) for day in range(6)}
    assert 5 <= len(gated.requests) <= 6
    assert {request.query.get("from") for request in gated.requests} <= windows


def write_records(output: StateFlushingWriter, count: int) -> None:
    """Write `count` RECORD lines."""
    extracted_at = datetime.now(timezone.utc)
    for number in range(count):
        output.write_record("bot_conversations", {"ID": f"conv-{number}"}, None, extracted_at)


@pytest.mark.parametrize(
    ("records_after_state", "expected_types"),
    [
        pytest.param(3, ["STATE", "RECORD", "RECORD", "STATE"], id="records-sent-after-state"),
        pytest.param(1, ["STATE"], id="records-only-gathered"),
    ],
)
def test_a_stopped_output_ends_at_its_last_state(
    monkeypatch: pytest.MonkeyPatch, records_after_state: int, expected_types: list[str]
) -> None:
    monkeypatch.setattr(writer, "CHUNK_BYTES", 200)  # two RECORD lines fill a chunk
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    state = {"bookmarks": {"bot_conversations": {"replication_key_value": "2026-10-01"}}}
    with redirect_stdout(stdout):
        output = StateFlushingWriter()
        output.write_message(StateMessage(value=state))
        write_records(output, records_after_state)
        output.end_at_last_state()
        stdout.flush()

    messages = parse_messages(stdout.buffer.getvalue().decode())
    assert [m["type"] for m in messages] == expected_types
    assert messages[-1]["value"] == state


def test_the_first_reason_to_stop_is_the_one_reported() -> None:
    switch = StopSwitch()
    switch.check()  # nothing asked yet

    switch.ask("the target stopped reading", 1)
    switch.ask("Stopped by SIGTERM", 143)

    with pytest.raises(StopRequested, match="the target stopped reading") as raised:
        switch.check()
    assert raised.value.exit_code == 1


@pytest.mark.parametrize(
    "signum",
    [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")],
)
def test_a_signal_only_asks_for_the_stop_and_handlers_are_put_back(
    signum: signal.Signals,
) -> None:
    before = signal.getsignal(signum)
    switch = StopSwitch()
    with signal_handlers_kept():
        switch.stop_on_signals()
        signal.raise_signal(signum)
        assert switch.asked

    assert signal.getsignal(signum) is before
    with pytest.raises(StopRequested) as raised:
        switch.check()
    assert (
        str(raised.value) == f"Stopped by {signum.name}; the next run resumes from the last STATE"
    )
    assert raised.value.exit_code == 128 + signum
