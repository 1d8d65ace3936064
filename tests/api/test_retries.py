"""Riding out transient failures, and stopping clearly on answers out of contract."""

from __future__ import annotations

import email.utils
import math
import time
import typing as t

import pytest

from tap_crescendo.api.retries import RetryPolicy
from tap_crescendo.fake_api import MALFORMED_KINDS, TRANSIENT_FAULTS
from tests.support.tap_runs import API_KEY, run_command, sync, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_crescendo.fake_api import FakeCrescendo

STATE = {
    "bookmarks": {
        "bot_conversations": {
            "replication_key": "DatetimeUTC",
            "replication_key_value": "2026-10-03T00:00:00Z",
        }
    }
}


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exponential waits from 10 ms instead of 1 s (Retry-After still rules)."""
    monkeypatch.setattr(RetryPolicy, "backoff_base_seconds", 0.01)


@pytest.mark.slow
@pytest.mark.usefixtures("quick_backoff")
@pytest.mark.parametrize("kind", TRANSIENT_FAULTS)
def test_every_row_arrives_through_twenty_percent_faults_of_each_kind(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]], kind: str
) -> None:
    fake.inject_faults(0.2, kinds=[kind], seed=5, retry_after=0.1, slow_seconds=1.2)

    result = sync(tap_config(api_url, page_size=10, request_timeout=1, max_retries=8))

    queries = [tuple(sorted(r.query.items())) for r in fake.requests]
    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert len(queries) - len(set(queries)) >= 3  # each fault made the tap send a query again
    assert len(result.ids) == len(set(result.ids))


@pytest.mark.slow
@pytest.mark.usefixtures("quick_backoff")
def test_every_row_arrives_through_twenty_percent_mixed_faults(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    fake.inject_faults(0.2, seed=5, retry_after=0.1, slow_seconds=1.2)

    result = sync(tap_config(api_url, page_size=5, request_timeout=1, max_retries=8))

    faulted = {r.status for r in fake.requests if r.status != 200}
    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert len(faulted) >= 4


@pytest.mark.slow
def test_a_whole_run_under_faults_exits_zero(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]], tmp_path: Path
) -> None:
    fake.inject_faults(0.2, kinds=[k for k in TRANSIENT_FAULTS if k != "slow"], seed=2)

    command = run_command([], tmp_path, tap_config(api_url, page_size=50))

    records = [m["record"]["ID"] for m in command.messages if m["type"] == "RECORD"]
    assert command.returncode == 0
    assert set(records) == {row["ID"] for row in bot_rows}
    assert "Retrying after HTTP" in command.stderr
    assert API_KEY not in command.stderr


@pytest.mark.slow
@pytest.mark.parametrize("status", [429, 503])
def test_the_wait_after_retry_after_seconds_is_at_least_that_long(
    fake: FakeCrescendo, api_url: str, status: int
) -> None:
    fake.fail_next(status, retry_after="2")

    result = sync(tap_config(api_url, window_size_hours=240))

    first, second = fake.requests[:2]
    assert result.error is None
    assert first.status == status
    assert second.received_at - first.received_at >= 2.0


@pytest.mark.slow
def test_the_wait_after_a_retry_after_http_date_reaches_that_date(
    fake: FakeCrescendo, api_url: str
) -> None:
    retry_at = math.ceil(time.time()) + 2
    fake.fail_next(429, retry_after=email.utils.formatdate(retry_at, usegmt=True))

    sync(tap_config(api_url, window_size_hours=240))

    wall_offset = time.time() - time.monotonic()
    second = fake.requests[1]
    assert second.received_at + wall_offset >= retry_at - 0.05


@pytest.mark.usefixtures("quick_backoff")
def test_retries_that_run_out_name_status_message_and_tries(
    fake: FakeCrescendo, api_url: str
) -> None:
    fake.fail_next(503, count=10)

    result = sync(tap_config(api_url, max_retries=2), STATE)

    assert result.error is not None
    assert result.error.startswith("HTTP 503 Unavailable: Elastic search failed (GET /api/v1/")
    assert result.error.endswith("gave up after 3 tries")
    assert len(fake.requests) == 3
    assert result.records == []


def test_a_bad_request_is_not_retried_and_quotes_the_api(fake: FakeCrescendo, api_url: str) -> None:
    fake.fail_next(400)

    result = sync(tap_config(api_url))

    assert result.error is not None
    assert result.error.startswith("HTTP 400 BadRequest: Invalid request parameters")
    assert "from=" in result.error
    assert len(fake.requests) == 1


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_a_body_out_of_contract_stops_without_moving_the_bookmark(
    fake: FakeCrescendo, api_url: str, kind: str
) -> None:
    fake.malform_next_page(kind)

    result = sync(tap_config(api_url), STATE)

    assert result.error is not None
    assert "with HTTP 200 but a body out of contract" in result.error
    assert "GET /api/v1/reporting/tenants/tenant-alpha/botconv?from=" in result.error
    assert len(fake.requests) == 1
    assert all(state == STATE for state in result.states)


@pytest.mark.slow
def test_a_total_that_disagrees_with_the_rows_is_a_warning_per_window(
    fake: FakeCrescendo, api_url: str, tmp_path: Path
) -> None:
    fake.misreport_total(2)

    command = run_command([], tmp_path, tap_config(api_url, window_size_hours=48))

    warnings = [
        line.split(" | ")[-1]
        for line in command.stderr.splitlines()
        if "'bot_conversations', tenant 'tenant-alpha', window" in line
    ]
    assert command.returncode == 0
    assert len(warnings) == 5
    assert (
        "Stream 'bot_conversations', tenant 'tenant-alpha', window [2026-10-01T00:00:00.000Z, "
        "2026-10-03T00:00:00.000Z):"
        " the API reported total=" in warnings[0]
    )
    assert (
        "Stream 'bot_conversations', tenant 'tenant-alpha': 250 records from 5 windows in "
        "[2026-10-01T00:00:00.000Z, "
        "2026-10-11T00:00:00.000Z); 5 windows where `total` differed" in command.stderr
    )


@pytest.mark.slow
def test_a_retry_after_holds_back_every_parallel_window(
    fake: FakeCrescendo, api_url: str, bot_rows: list[dict[str, t.Any]]
) -> None:
    fake.set_page_delay(0.1)  # answers take a while, so other windows are mid-chain
    fake.inject_faults(0.1, kinds=["429"], seed=3, retry_after=1.0)

    result = sync(tap_config(api_url, page_size=10, max_parallel_windows=4, max_retries=8))

    requests = fake.requests
    limited = [r.received_at for r in requests if r.status == 429]
    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    assert limited
    for moment in limited:
        # The 429 reaches the tap 0.1 s after the request (the delay); requests sent
        # before then may land late on a busy machine; none may start in the second half
        # of the 1 s it asked for (four free windows would send about ten there).
        assert not [r for r in requests if moment + 0.5 < r.received_at < moment + 1.0]
