"""`--test` and `meltano config test`: one request per stream, one line each, no file."""

from __future__ import annotations

import json
import subprocess
import typing as t

import pytest

from tap_crescendo.fake_api import FakeCrescendo
from tap_crescendo.fake_api.rows import generate_bot_rows
from tap_crescendo.timestamps import format_epoch_ms
from tests.support.tap_process import error_lines, run_tap, tap_argv, tap_environment
from tests.support.tap_runs import API_KEY, SPAN_END_MS, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

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
        f"Stream 'bot_conversations', tenant 'tenant-alpha': the API key was accepted and "
        f"/api/v1/reporting/tenants/tenant-alpha/botconv answered: {in_newest_day} "
        f"conversations in {window}",
        f"Stream 'voc_conversations', tenant 'tenant-alpha': the API key was accepted and "
        f"/api/v1/reporting/tenants/tenant-alpha/vocconv answered: 0 conversations in {window}",
    ]
    assert [(r.path.rsplit("/", 1)[-1], r.query["from"]) for r in fake.requests] == [
        ("botconv", str(newest[0])),
        ("vocconv", str(newest[0])),
    ]


def test_each_listed_tenant_is_checked_with_one_request_and_one_line_a_stream(
    tmp_path: Path,
) -> None:
    tenants = ["tenant-alpha", "tenant-beta", "tenant-gamma"]
    newest = (SPAN_END_MS - DAY_MS, SPAN_END_MS)
    rows = {
        tenant: generate_bot_rows(
            5 * (index + 1), start_ms=newest[0], end_ms=newest[1], seed=index, tenant_id=tenant
        )
        for index, tenant in enumerate(tenants)
    }
    fake = FakeCrescendo(api_keys={API_KEY: set(tenants)}, rows=rows)
    with fake.serve() as url:
        config = tap_config(url, tenant_id=None, tenant_ids=tenants)
        command = run_tap(tap_argv(tmp_path, config, "--test"))

    window = f"[{format_epoch_ms(newest[0])}, {format_epoch_ms(newest[1])})"
    assert command.returncode == 0
    assert error_lines(command.stderr) == []
    assert [line for line in info_lines(command.stderr) if "was accepted" in line] == [
        f"Stream '{stream}', tenant '{tenant}': the API key was accepted and "
        f"/api/v1/reporting/tenants/{tenant}/{path} answered: {count} conversations in {window}"
        for stream, path in [("bot_conversations", "botconv"), ("voc_conversations", "vocconv")]
        for tenant, count in zip(
            tenants, [5, 10, 15] if path == "botconv" else [0] * 3, strict=True
        )
    ]
    assert len(fake.requests) == 6


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


def batch_settings(folder: Path) -> dict[str, t.Any]:
    """The shipped `prod` BATCH setup, with files under `folder`."""
    return {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": folder.as_uri()},
        "batch_size": 10000,
    }


def test_under_meltano_config_test_one_request_a_stream_and_a_batch_naming_no_file(
    fake: FakeCrescendo, api_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "batches"
    argv = tap_argv(tmp_path, tap_config(api_url, batch_config=batch_settings(folder)))
    # What `meltano config test` does: stderr into the stdout pipe, stopped at the first BATCH.
    environment = tap_environment(MELTANO_EXTRACTOR_NAME="tap-crescendo")
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment, text=True
    ) as tap:
        assert tap.stdout is not None
        said = []
        for line in tap.stdout:
            said.append(line)
            if line.startswith("{"):
                break
        waiting = tap.poll() is None
        tap.terminate()
        said += tap.stdout.readlines()
        returncode = tap.wait(timeout=30)

    assert waiting  # Meltano signals a running tap: one that exited would break its test
    assert returncode == 0
    messages = [json.loads(line) for line in said if line.startswith("{")]
    assert messages == [
        {
            "type": "BATCH",
            "stream": "bot_conversations",
            "encoding": {"format": "jsonl", "compression": "none"},
            "manifest": [],
        }
    ]
    assert len([line for line in info_lines("".join(said)) if "was accepted" in line]) == 2
    assert error_lines("".join(said)) == []
    newest = str(SPAN_END_MS - DAY_MS)
    assert [(r.path.rsplit("/", 1)[-1], r.query["from"]) for r in fake.requests] == [
        ("botconv", newest),
        ("vocconv", newest),
    ]
    assert not folder.exists()


@pytest.mark.parametrize(
    ("environment", "stderr"),
    [
        pytest.param({}, subprocess.STDOUT, id="output-and-log-one-pipe-without-meltano"),
        pytest.param(
            {"MELTANO_EXTRACTOR_NAME": "tap-crescendo"}, subprocess.PIPE, id="meltano-run"
        ),
    ],
)
def test_any_other_run_is_a_sync(
    bot_rows: list[dict[str, t.Any]],
    api_url: str,
    tmp_path: Path,
    environment: dict[str, str],
    stderr: int,
) -> None:
    folder = tmp_path / "batches"
    argv = tap_argv(tmp_path, tap_config(api_url, batch_config=batch_settings(folder)))

    done = subprocess.run(
        argv,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=tap_environment(**environment),
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0
    (bot_file,) = folder.glob("bot_conversations-*.jsonl")
    assert len(bot_file.read_text().splitlines()) == len(bot_rows)
