"""`--test` (what an operator runs to check a config): one request and one line per stream."""

from __future__ import annotations

import typing as t

import pytest

from tap_crescendo.timestamps import format_epoch_ms
from tests.tap_process import error_lines, run_tap, tap_argv
from tests.tap_runs import SPAN_END_MS, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_crescendo.fake_api import FakeCrescendo

pytestmark = pytest.mark.slow

DAY_MS = 86_400_000


def info_lines(stderr: str) -> list[str]:
    """The INFO log lines of a run, without their timestamp and logger columns."""
    return [line.split(" | ", 3)[-1] for line in stderr.splitlines() if "| INFO" in line]


def test_a_passing_test_says_so_per_stream_and_logs_no_error(
    fake: FakeCrescendo, bot_rows: list[dict[str, t.Any]], api_url: str, tmp_path: Path
) -> None:
    command = run_tap(tap_argv(tmp_path, tap_config(api_url), "--test"))

    assert command.returncode == 0
    assert error_lines(command.stderr) == []
    assert command.stdout == ""
    newest = (SPAN_END_MS - DAY_MS, SPAN_END_MS)
    in_newest_day = sum(newest[0] <= row["Datetime"] < newest[1] for row in bot_rows)
    window = f"[{format_epoch_ms(newest[0])}, {format_epoch_ms(newest[1])})"
    assert [line for line in info_lines(command.stderr) if "was accepted" in line] == [
        f"Stream 'bot_conversations': the API key was accepted and "
        f"/api/v1/reporting/tenants/tenant-alpha/botconv answered: {in_newest_day} "
        f"conversations in {window}",
        f"Stream 'voc_conversations': the API key was accepted and "
        f"/api/v1/reporting/tenants/tenant-alpha/vocconv answered: 0 conversations in {window}",
    ]
    assert [(r.path.rsplit("/", 1)[-1], r.query["from"]) for r in fake.requests] == [
        ("botconv", str(newest[0])),
        ("vocconv", str(newest[0])),
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"api_key": "wrong-key"},
            "HTTP 401 Unauthenticated: Authorization header with Bearer token is required. "
            "The API key was refused: check the `api_key` setting",
            id="401",
        ),
        pytest.param(
            {"tenant_id": "tenant-beta"},
            "HTTP 403 PermissionDenied: API key does not allow this operation. The API key may "
            "not read tenant 'tenant-beta': check `tenant_id` and the key's permissions",
            id="403",
        ),
    ],
)
def test_a_refused_key_or_tenant_gives_the_same_one_line_as_a_sync(
    fake: FakeCrescendo, api_url: str, tmp_path: Path, overrides: dict[str, str], expected: str
) -> None:
    test = run_tap(tap_argv(tmp_path, tap_config(api_url, **overrides), "--test"))
    sync = run_tap(tap_argv(tmp_path, tap_config(api_url, **overrides)))

    assert test.returncode == 1
    assert "Traceback" not in test.stderr
    assert error_lines(test.stderr) == [expected]
    assert error_lines(sync.stderr)[-1] == expected
    assert len(fake.requests) == 2  # one for the test, one for the sync
