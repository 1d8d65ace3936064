"""Running `python -m tap_crescendo` with a chosen environment, to the end or while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

from tests.support.tap_runs import Command

if t.TYPE_CHECKING:
    from pathlib import Path

#: Variables the machine may set that would change how the tap reaches the fake API.
NETWORK_VARIABLES = {
    *("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"),
    *("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"),
}


def tap_environment(**variables: str) -> dict[str, str]:
    """This process's environment without network or `TAP_CRESCENDO_*` variables, plus these."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in NETWORK_VARIABLES and not name.startswith("TAP_CRESCENDO_")
    }
    return environment | variables


def tap_argv(tmp_path: Path, config: dict[str, t.Any] | None, *args: str) -> list[str]:
    """The command line of the tap, its config (if any) written to `tmp_path/config.json`."""
    argv = [sys.executable, "-m", "tap_crescendo", *args]
    if config is not None:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        argv += ["--config", str(config_file)]
    return argv


def run_tap(argv: list[str], environment: dict[str, str] | None = None) -> Command:
    """Run the tap to its end and return what it wrote."""
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=tap_environment() if environment is None else environment,
    )
    return Command(done.returncode, done.stdout, done.stderr)


def start_tap(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start the tap with its stdout and stderr piped to this process."""
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tap_environment()
    )


def error_lines(stderr: str) -> list[str]:
    """The ERROR log lines of a run, without their timestamp and logger columns."""
    return [line.split(" | ", 3)[-1] for line in stderr.splitlines() if "| ERROR" in line]
