"""A local S3 server for the tests: moto's server mode on 127.0.0.1, in its own process."""

from __future__ import annotations

import subprocess
import sys
import typing as t
from contextlib import contextmanager

from tests.local_servers import free_port, wait_until_answering

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: Credentials the server accepts (any will do); the standard AWS variables carry them.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def running_s3_server() -> Iterator[str]:
    """Start `moto_server` on a free port of 127.0.0.1, yield its endpoint URL, then stop it."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    ) as server:
        try:
            wait_until_answering(server, endpoint)
            yield endpoint
        finally:
            server.terminate()
