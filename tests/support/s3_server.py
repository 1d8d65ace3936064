"""A local S3 server for the tests: moto's server mode on 127.0.0.1, in its own process.

Test modules import the fixtures `s3_endpoint` (one server a session) and `bucket` (a new
bucket a test, credentials in the standard AWS variables).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import typing as t
from contextlib import contextmanager

import boto3
import fsspec
import pytest

from tests.support.local_servers import free_port, wait_until_answering

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


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3 server for the whole session."""
    with running_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    """A new bucket named after the test; the standard AWS variables hold the credentials.

    S3 file systems made earlier are forgotten: after a fork (as `make mutation` runs tests)
    a cached one would wait forever on its parent's event loop.
    """
    fsspec.get_filesystem_class("s3").clear_instance_cache()
    for variable, value in CREDENTIALS.items():
        monkeypatch.setenv(variable, value)
    # A client not pointed at the local server fails on a closed port here, never reaches AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    name: str = request.node.name.lower().replace("_", "-")[:50]
    client(s3_endpoint).create_bucket(Bucket=name)
    return name


def client(endpoint: str) -> t.Any:
    """A boto3 client of the local server."""
    return boto3.client("s3", endpoint_url=endpoint, **boto3_credentials())


def boto3_credentials() -> dict[str, str]:
    """The test credentials as boto3 keyword arguments."""
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
    }


def objects(endpoint: str, bucket: str) -> dict[str, list[dict[str, t.Any]]]:
    """Every object of the bucket, by its s3:// URI, as records."""
    s3 = client(endpoint)
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        f"s3://{bucket}/{entry['Key']}": parse_lines(
            s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
        )
        for entry in listing
    }


def parse_lines(content: bytes) -> list[dict[str, t.Any]]:
    """The records of a JSON Lines file, gzipped or not."""
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    return [json.loads(line) for line in content.decode("utf-8").splitlines()]
