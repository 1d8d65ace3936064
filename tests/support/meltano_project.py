"""The repository's Meltano project as the pipeline tests run it: `meltano` commands, env vars.

Its fixtures are in `tests.support.pipeline_fixtures`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest

if t.TYPE_CHECKING:
    from tests.support.postgres import Postgres

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: Variables of the caller's shell that would change what Meltano or the plugins do.
FOREIGN_ENV = ("MELTANO_", "TAP_CRESCENDO", "TARGET_", "CRESCENDO_")


def target_env(postgres: Postgres, database: str) -> dict[str, str]:
    """target-postgres's connection as Meltano reads it from the environment."""
    return {
        "TARGET_POSTGRES_HOST": postgres.host,
        "TARGET_POSTGRES_PORT": str(postgres.port),
        "TARGET_POSTGRES_USER": postgres.user,
        "TARGET_POSTGRES_PASSWORD": postgres.password,
        "TARGET_POSTGRES_DATABASE": database,
    }


@dataclass(frozen=True)
class Meltano:
    """The repository's Meltano project, with a system database (and so state) of its own."""

    env: dict[str, str]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run `meltano ARGS` and return its stdout; fail the test with its log if it fails."""
        return self.command(BIN / "meltano", *args, env=env)

    def command(
        self, *argv: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None
    ) -> str:
        """Run `argv` in the project's environment and return its stdout, or fail the test."""
        done = subprocess.run(
            [str(arg) for arg in argv],
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode:
            command = " ".join(str(arg) for arg in argv)
            pytest.fail(f"{command} exited {done.returncode}:\n{done.stderr[-6000:]}")
        return done.stdout

    def run(self, state_id_suffix: str, *blocks: str, env: dict[str, str]) -> None:
        """`meltano run` the blocks in the `prod` environment, the one that reads env vars."""
        self("--environment=prod", "run", f"--state-id-suffix={state_id_suffix}", *blocks, env=env)

    def state(self, state_id: str) -> dict[str, t.Any]:
        """The Singer state Meltano stored under `state_id`."""
        stored = json.loads(self("--environment=prod", "state", "get", state_id))
        singer_state: dict[str, t.Any] = stored["singer_state"]
        return singer_state
