"""Shards as the tests run them: `meltano run` jobs, each with its tenants and its own folder.

A shard is one job of a sharded deployment: its tenants (`TAP_CRESCENDO_TENANT_IDS`), its
state ID suffix, and a `.meltano` folder of its own (`MELTANO_SYS_DIR_ROOT`, the plugins
linked from the project's), as on a pod of its own. Jobs run in their own process groups,
so a test can SIGKILL Meltano, the tap and the target at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import typing as t
from dataclasses import dataclass

from tests.support.meltano_project import BIN, REPO
from tests.support.s3_server import client

if t.TYPE_CHECKING:
    from pathlib import Path

#: The plugins' folders of `.meltano`, shared by every shard's own folder.
PLUGIN_FOLDERS = ("extractors", "loaders")
#: Where in the bucket Meltano keeps the state.
STATE_PREFIX = "meltano-state"


@dataclass(frozen=True)
class Shard:
    """A job: its state ID suffix, its tenants and its own `.meltano` folder."""

    suffix: str
    tenants: tuple[str, ...]
    home: Path

    @classmethod
    def make(cls, folder: Path, suffix: str, *tenants: str) -> Shard:
        """A shard with a new `.meltano` folder under `folder`, the plugins linked into it."""
        home = folder / suffix / ".meltano"
        home.mkdir(parents=True)
        for name in PLUGIN_FOLDERS:
            (home / name).symlink_to(REPO / ".meltano" / name)
        return cls(suffix, tenants, home)

    @property
    def state_id(self) -> str:
        """The state ID Meltano gives the shard's runs in the `prod` environment."""
        return f"prod:tap-crescendo-to-target-postgres:{self.suffix}"

    def env(self, system_database: str = "meltano.db") -> dict[str, str]:
        """The shard's variables: its tenants, its folder, a system database in that folder."""
        return {
            "TAP_CRESCENDO_TENANT_IDS": json.dumps(list(self.tenants)),
            "MELTANO_SYS_DIR_ROOT": str(self.home),
            "MELTANO_DATABASE_URI": f"sqlite:///{self.home / system_database}",
        }

    def with_tenants(self, *tenants: str) -> Shard:
        """The same job, reading other tenants."""
        return Shard(self.suffix, tenants, self.home)


def s3_state_backend(endpoint: str, bucket: str, credentials: dict[str, str]) -> dict[str, str]:
    """Meltano's settings for a state backend in `bucket` of an S3-compatible server."""
    return {
        "MELTANO_STATE_BACKEND_URI": f"s3://{bucket}/{STATE_PREFIX}",
        "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL": endpoint,
        "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID": credentials["AWS_ACCESS_KEY_ID"],
        "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY": credentials["AWS_SECRET_ACCESS_KEY"],
    }


def stored_state(endpoint: str, bucket: str, state_id: str) -> bytes:
    """The object Meltano stored for `state_id` in the S3 state backend, as bytes."""
    key = f"{STATE_PREFIX}/{state_id}/state.json"
    body: bytes = client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def singer_state(stored: bytes) -> dict[str, t.Any]:
    """The Singer state of a stored object, as the next run would resume from it."""
    parts = json.loads(stored)
    assert parts["partial"] == {}, "a merged state is not expected here"
    state: dict[str, t.Any] = parts["completed"]["singer_state"]
    return state


class Job:
    """A `meltano run` of a shard, in its own process group, its log in a file."""

    def __init__(self, shard: Shard, env: dict[str, str], log: Path) -> None:
        argv = [
            str(BIN / "meltano"),
            "--environment=prod",
            "run",
            f"--state-id-suffix={shard.suffix}",
        ]
        self.log = log
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [*argv, "tap-crescendo", "target-postgres"],
                cwd=REPO,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self) -> int:
        """Wait until the job ends; return its exit status."""
        return self.process.wait(timeout=600)

    def succeed(self) -> None:
        """Wait until the job ends; fail the test with its log unless it exits 0."""
        status = self.wait()
        assert status == 0, f"meltano run exited {status}:\n{self.said()[-6000:]}"

    def kill(self) -> None:
        """SIGKILL Meltano, the tap and the target, and wait for Meltano's end."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def said(self) -> str:
        """Everything the job wrote."""
        return self.log.read_text(encoding="utf-8")
