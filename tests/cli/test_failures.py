"""Failing clearly: fatal answers, bad settings, bad state; and the key never shows."""

from __future__ import annotations

import typing as t

import pytest

from tests.support.tap_runs import API_KEY, run_command, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_crescendo.fake_api import FakeCrescendo
    from tests.support.tap_runs import Command

#: Each test runs the tap as a command.
pytestmark = pytest.mark.slow


def error_lines(command: Command) -> list[str]:
    """The ERROR log lines a run printed on stderr."""
    return [line for line in command.stderr.splitlines() if "| ERROR" in line]


def assert_fails_with_one_line(command: Command, *fragments: str) -> None:
    """Non-zero exit, no traceback, and a last error line holding every fragment."""
    assert command.returncode == 1
    assert "Traceback" not in command.stderr
    last = error_lines(command)[-1]
    for fragment in fragments:
        assert fragment in last
    assert API_KEY not in command.stderr + command.stdout


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        pytest.param(
            {"api_key": "wrong-key"},
            ["HTTP 401 Unauthenticated", "check the `api_key` setting"],
            id="401-wrong-key",
        ),
        pytest.param(
            {"tenant_id": "tenant-beta"},
            [
                "HTTP 403 PermissionDenied: API key does not allow this operation",
                "may not read tenant 'tenant-beta'",
            ],
            id="403-other-tenant",
        ),
    ],
)
def test_a_refused_key_stops_after_one_request_with_one_line(
    fake: FakeCrescendo,
    api_url: str,
    tmp_path: Path,
    overrides: dict[str, str],
    fragments: list[str],
) -> None:
    command = run_command([], tmp_path, tap_config(api_url, **overrides))

    assert_fails_with_one_line(command, *fragments)
    assert len(fake.requests) == 1
    assert not [m for m in command.messages if m["type"] == "RECORD"]


def test_a_wrong_api_url_path_is_a_404_naming_url_and_tenant(
    fake: FakeCrescendo, api_url: str, tmp_path: Path
) -> None:
    command = run_command([], tmp_path, tap_config(f"{api_url}/v2"))

    assert_fails_with_one_line(
        command,
        "HTTP 404 NotFound",
        f"check `api_url` ({api_url}/v2)",
        "`tenant_id` ('tenant-alpha')",
        "the other documented path, /botconv, answered 404 too",
    )
    assert [r.path.rsplit("alpha/", 1)[-1] for r in fake.requests] == [
        "botconv",
        "assistant/conversations",
    ]


def test_an_unreachable_api_names_the_url_and_the_tries(tmp_path: Path) -> None:
    command = run_command([], tmp_path, tap_config("http://127.0.0.1:9", max_retries=0))

    assert_fails_with_one_line(
        command, "Could not get an answer from http://127.0.0.1:9", "gave up after 1 tries"
    )


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        pytest.param({"api_key": None}, ["'api_key' is a required property"], id="no-api-key"),
        pytest.param(
            {"tenant_id": None},
            ["Set `tenant_id` (one tenant) or `tenant_ids` (a list of tenants): neither is set"],
            id="no-tenant",
        ),
        pytest.param(
            {"tenant_ids": ["tenant-alpha"]},
            ["Set `tenant_id` (one tenant) or `tenant_ids` (a list of tenants): not both"],
            id="both-tenant-settings",
        ),
        pytest.param(
            {"tenant_id": None, "tenant_ids": "tenant-alpha"},
            ["config['tenant_ids']", "is not of type 'array'"],
            id="tenant-ids-not-a-list",
        ),
        pytest.param(
            {"api_key": ""}, ["config['api_key'] must be a non-empty string"], id="empty-key"
        ),
        pytest.param(
            {"api_key": 12345},
            ["config['api_key'] must be a non-empty string"],
            id="key-not-string",
        ),
        pytest.param(
            {"page_size": 0},
            ["0 is less than the minimum of 1 in config['page_size']"],
            id="page-size-0",
        ),
        pytest.param(
            {"page_size": 5001},
            ["5001 is greater than the maximum of 5000 in config['page_size']"],
            id="page-size-5001",
        ),
        pytest.param(
            {"start_date": "last tuesday"},
            ["Setting `start_date` is not an ISO 8601 date-time: 'last tuesday'"],
            id="start-not-iso",
        ),
        pytest.param(
            {"end_date": "2026-13-01"},
            ["Setting `end_date` is not an ISO 8601 date-time: '2026-13-01'"],
            id="end-not-iso",
        ),
        pytest.param(
            {"start_date": "2026-10-05T00:00:00Z", "end_date": "2026-10-01T00:00:00Z"},
            ["Setting `start_date` (2026-10-05T00:00:00Z) must be before `end_date`"],
            id="start-after-end",
        ),
        pytest.param(
            {"range": "last_year"},
            [
                "'last_year' is not one of ['last_day', 'last_week', 'last_month']",
                "in config['range']",
            ],
            id="unknown-range",
        ),
        pytest.param(
            {"api_url": "ftp://files.example.com"},
            ["Setting `api_url` must be an http(s) URL"],
            id="not-http",
        ),
        pytest.param(
            {"api_url": "http://platform.crescendo.ai"},
            ["Setting `api_url` uses plain http to platform.crescendo.ai"],
            id="plain-http-off-machine",
        ),
        pytest.param(
            {"lookback_window_minutes": -5},
            ["-5 is less than the minimum of 0 in config['lookback_window_minutes']"],
            id="negative-lookback",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_before_any_request(
    fake: FakeCrescendo,
    api_url: str,
    tmp_path: Path,
    overrides: dict[str, t.Any],
    fragments: list[str],
) -> None:
    command = run_command([], tmp_path, tap_config(api_url, **overrides))

    assert_fails_with_one_line(command, *fragments)
    assert fake.requests == []


def test_an_unusable_state_file_is_one_line_before_any_request(
    fake: FakeCrescendo, api_url: str, tmp_path: Path
) -> None:
    state = {
        "bookmarks": {
            "bot_conversations": {
                "replication_key": "DatetimeUTC",
                "replication_key_value": 1700000000,
            }
        }
    }

    command = run_command([], tmp_path, tap_config(api_url), state)

    assert_fails_with_one_line(command, "replication_key_value 1700000000 is not an ISO 8601")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("args", "overrides"),
    [
        pytest.param([], {}, id="sync"),
        pytest.param([], {"tenant_id": "tenant-beta"}, id="sync-refused"),
        pytest.param(["--discover"], {}, id="discover"),
        pytest.param(["--test"], {}, id="connection-test"),
        pytest.param(["--about", "--format", "json"], {}, id="about"),
        pytest.param([], {"api_url": "http://127.0.0.1:9", "max_retries": 1}, id="unreachable"),
    ],
)
def test_the_key_never_appears_in_output_at_debug_level(
    api_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    overrides: dict[str, t.Any],
) -> None:
    monkeypatch.setenv("LOGLEVEL", "DEBUG")

    command = run_command(args, tmp_path, tap_config(api_url, **overrides))

    assert "DEBUG" in command.stderr or args[:1] == ["--about"]
    assert API_KEY not in command.stdout
    assert API_KEY not in command.stderr
