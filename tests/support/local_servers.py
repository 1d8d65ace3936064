"""Helpers for servers the tests start on 127.0.0.1: free ports, waiting for an answer."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import requests

#: The repository root, where commands under test run.
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(process: subprocess.Popen[str], url: str) -> requests.Response:
    """Ask `url` until the server answers, giving up after 30 s or when the process exits."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return requests.get(url, headers={"Authorization": "Bearer cli-key"}, timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
        assert process.returncode is None, "the command exited before answering"
