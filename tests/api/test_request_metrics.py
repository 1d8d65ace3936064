"""The SDK's `http_request_duration` METRIC lines: one per answer, with its status."""

from __future__ import annotations

import json
import typing as t

import pytest

from tests.support.tap_runs import API_KEY, TENANT, run_command, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_crescendo.fake_api import FakeCrescendo


def request_metrics(stderr: str) -> list[dict[str, t.Any]]:
    """The `http_request_duration` points a run logged."""
    points = [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in stderr.splitlines()
        if "METRIC: " in line
    ]
    return [point for point in points if point["metric"] == "http_request_duration"]


@pytest.mark.slow
def test_each_answer_gets_a_duration_metric_with_its_status(
    fake: FakeCrescendo, api_url: str, tmp_path: Path
) -> None:
    fake.fail_next(503, count=1, retry_after="0")

    command = run_command([], tmp_path, tap_config(api_url, max_parallel_windows=3))

    assert command.returncode == 0
    points = request_metrics(command.stderr)
    answered = [(r.path.rsplit("/", 1)[-1], r.status) for r in fake.requests]
    assert sorted(
        (point["tags"]["endpoint"].rsplit("/", 1)[-1], point["tags"]["http_status_code"])
        for point in points
    ) == sorted(answered)
    assert (503, "failed") in {
        (point["tags"]["http_status_code"], point["tags"]["status"]) for point in points
    }
    first = points[0]
    assert first["type"] == "timer"
    assert first["tags"]["stream"] == "bot_conversations"
    assert first["tags"]["endpoint"] == "/api/v1/reporting/tenants/{tenantId}/botconv"
    assert isinstance(first["value"], float)
    assert first["value"] >= 0
    assert API_KEY not in command.stderr
    assert TENANT in fake.requests[0].path
