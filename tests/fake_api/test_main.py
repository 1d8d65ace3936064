"""The command line (`python -m tap_crescendo.fake_api`): serving, flags, refusals."""

from __future__ import annotations

import signal
import subprocess
import sys
import typing as t

import pytest
import requests

from tap_crescendo.fake_api.__main__ import main
from tests.fake_api.client import TENANT, VOC_KEYS
from tests.support.local_servers import REPO, free_port, wait_until_answering

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Api

PATH = f"/api/v1/reporting/tenants/{TENANT}/botconv"


@pytest.mark.parametrize(
    "stop", [pytest.param(signal.SIGTERM, id="sigterm"), pytest.param(signal.SIGINT, id="ctrl-c")]
)
def test_the_command_line_serves_until_stopped(stop: signal.Signals) -> None:
    port = free_port()
    command = [sys.executable, "-m", "tap_crescendo.fake_api", "--port", str(port), "--rows", "40"]
    command += ["--days", "2", "--tenant", "acme/eu", "--tenant", "globex"]
    command += ["--api-key", "cli-key", "--order", "desc"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/reporting/tenants/acme%2Feu/botconv?range=last_week"
        response = wait_until_answering(process, url)
        other = requests.get(
            url.replace("acme%2Feu", "globex"),
            headers={"Authorization": "Bearer cli-key"},
            timeout=10,
        )
    finally:
        process.send_signal(stop)
        stdout, stderr = process.communicate(timeout=30)

    assert response.status_code == 200
    assert response.json()["total"] == 40
    starts = [row["Datetime"] for row in response.json()["data"]]
    assert starts == sorted(starts, reverse=True)
    assert {row["TenantID"] for row in response.json()["data"]} == {"acme/eu"}
    assert other.json()["total"] == 40
    assert {row["TenantID"] for row in other.json()["data"]} == {"globex"}
    assert {row["ID"] for row in other.json()["data"]}.isdisjoint(
        row["ID"] for row in response.json()["data"]
    )
    assert process.returncode == 0
    assert stderr == ""
    assert stdout == (
        f"Fake Crescendo API on http://127.0.0.1:{port} (tenant acme/eu, globex: 40 bot and 20 "
        "VOC conversations each over 2 days, key cli-key)\n"
    )


def test_the_command_line_refuses_a_non_loopback_host() -> None:
    command = [sys.executable, "-m", "tap_crescendo.fake_api", "--host", "0.0.0.0"]

    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "error: --host must be 127.0.0.1: the fake API listens on loopback only\n"


@pytest.mark.parametrize(
    ("flags", "voc_total", "served", "missing"),
    [
        pytest.param(
            ["--voc-rows", "12", "--path-style", "doc"],
            12,
            "vocconv",
            "voc/conversations",
            id="doc",
        ),
        pytest.param(
            ["--path-style", "openapi"],
            15,
            "voc/conversations",
            "vocconv",
            id="openapi-default-voc-rows",
        ),
    ],
)
def test_the_command_line_serves_voc_rows_on_the_chosen_paths(
    flags: list[str], voc_total: int, served: str, missing: str
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "tap_crescendo.fake_api", "--port", str(port), "--rows", "30"]
    command += ["--days", "2", "--api-key", "cli-key", *flags]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}/api/v1/reporting/tenants/{TENANT}/"
    try:
        response = wait_until_answering(process, f"{base}{served}?range=last_week")
        absent = requests.get(
            f"{base}{missing}", headers={"Authorization": "Bearer cli-key"}, timeout=10
        )
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)

    assert response.status_code == 200
    assert response.json()["total"] == voc_total
    assert all(list(row) == VOC_KEYS for row in response.json()["data"])
    assert absent.status_code == 404
    assert stderr == ""
    assert stdout == (
        f"Fake Crescendo API on http://127.0.0.1:{port} "
        f"(tenant {TENANT}: 30 bot and {voc_total} VOC conversations each over 2 days, key "
        "cli-key)\n"
    )


def test_the_command_line_injects_seeded_faults_and_page_delays(
    start_api: Callable[..., Api],
) -> None:
    reference = start_api(api_keys={"cli-key": {TENANT}})
    reference.fake.inject_faults(1.0, seed=4)
    seeded = [reference.get(key="cli-key") for _ in range(3)]
    port = free_port()
    command = [sys.executable, "-m", "tap_crescendo.fake_api", "--port", str(port), "--rows", "5"]
    command += ["--api-key", "cli-key", "--fault-rate", "1.0", "--seed", "4"]
    command += ["--page-delay-ms", "20"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}{PATH}"
        headers = {"Authorization": "Bearer cli-key"}
        served = [wait_until_answering(process, url)]
        served += [requests.get(url, headers=headers, timeout=10) for _ in range(2)]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)

    assert [r.status_code for r in seeded] == [429, 503, 429]
    assert [(r.status_code, r.content) for r in served] == [
        (r.status_code, r.content) for r in seeded
    ]
    assert served[0].headers["Retry-After"] == "1"
    assert process.returncode == 0
    assert stderr == ""


@pytest.mark.parametrize(
    "flag",
    [
        pytest.param(["--fault-rate", "1.5"], id="rate-above-1"),
        pytest.param(["--fault-rate", "-0.1"], id="rate-negative"),
        pytest.param(["--page-delay-ms", "-1"], id="delay-negative"),
    ],
)
def test_the_command_line_refuses_bad_fault_flags(flag: list[str]) -> None:
    command = [sys.executable, "-m", "tap_crescendo.fake_api", *flag]

    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2
    assert done.stderr.endswith(
        "error: --fault-rate must be within 0..1, --page-delay-ms 0 or more\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--voc-rows", "-1"], "--rows and --voc-rows must be 0 or more", id="negative"
        ),
        pytest.param(["--path-style", "swagger"], "invalid choice: 'swagger'", id="unknown-style"),
    ],
)
def test_the_command_line_refuses_bad_voc_flags(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
