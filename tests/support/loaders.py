"""The loaders of docs/loaders.md as tests/test_loaders.py runs them: the tap piped into each.

Each loader is the one `meltano install` put in `.meltano/loaders/<name>/venv` from meltano.yml
(the `meltano` fixture installs them), and runs as a plain shell pipe from the tap.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from dataclasses import dataclass

import pytest

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms
from tests.support.meltano_project import BIN, REPO

if t.TYPE_CHECKING:
    from pathlib import Path

    from tests.support.meltano_project import Meltano

Row: t.TypeAlias = dict[str, t.Any]

KEY, TENANT = "loader-key", "tenant-alpha"
START, END = "2026-10-01T00:00:00Z", "2026-10-15T00:00:00Z"
DAY_MS = 86_400_000
STREAMS = ("bot_conversations", "voc_conversations")


def loader_venv(name: str) -> Path:
    """The virtualenv `meltano install` made for the loader `name` of meltano.yml."""
    return REPO / ".meltano/loaders" / name / "venv"


@dataclass(frozen=True)
class Sent:
    """What the fake API serves, by stream."""

    bot: list[Row]
    voc: list[Row]

    @property
    def ids(self) -> dict[str, set[str]]:
        """The IDs of each stream."""
        return {
            "bot_conversations": {row["ID"] for row in self.bot},
            "voc_conversations": {row["ID"] for row in self.voc},
        }

    def fake(self) -> FakeCrescendo:
        """A fake API serving the rows to `KEY`."""
        return FakeCrescendo(
            api_keys={KEY: {TENANT}}, rows={TENANT: self.bot}, voc_rows={TENANT: self.voc}
        )


def sent(bot: int, voc: int, *, seed: int) -> Sent:
    """`bot` bot and `voc` VOC conversations over the first ten days of the span."""
    start = to_epoch_ms(parse_timestamp(START))
    end = start + 10 * DAY_MS
    return Sent(
        generate_bot_rows(bot, start_ms=start, end_ms=end, seed=seed, tenant_id=TENANT),
        generate_voc_rows(voc, start_ms=start, end_ms=end, seed=seed, tenant_id=TENANT),
    )


@dataclass(frozen=True)
class Piped:
    """The records the tap sent through the pipe, in order, by stream."""

    records: dict[str, list[Row]]

    def by_id(self, stream: str) -> dict[str, Row]:
        """The stream's records by ID."""
        return {record["ID"]: record for record in self.records[stream]}


def pipe(
    meltano: Meltano,
    folder: Path,
    url: str,
    loader: str,
    executable: str,
    target_config: Row,
    *,
    tap_settings: Row | None = None,
) -> Piped:
    """`tap-crescendo --config tap.json | <loader> --config target.json` over the span.

    A `tee` keeps what the tap wrote, so a test can compare each loaded row with the record
    the loader read. Fails the test unless both ends exit 0.
    """
    done = run_pipe(meltano, folder, url, loader, executable, target_config, tap_settings)
    if done.returncode:
        pytest.fail(f"the pipe into {loader} exited {done.returncode}:\n{done.stderr[-6000:]}")
    messages: dict[str, list[Row]] = {stream: [] for stream in STREAMS}
    with (folder / "messages.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "RECORD":
                messages[message["stream"]].append(message["record"])
    return Piped(messages)


def run_pipe(
    meltano: Meltano,
    folder: Path,
    url: str,
    loader: str,
    executable: str,
    target_config: Row,
    tap_settings: Row | None = None,
) -> subprocess.CompletedProcess[str]:
    """The pipe of `pipe`, however it ends; the tap's messages are left in messages.jsonl."""
    tap_config, target = folder / "tap.json", folder / "target.json"
    settings = {"api_url": url, "api_key": KEY, "tenant_id": TENANT}
    settings |= {"start_date": START, "end_date": END} | (tap_settings or {})
    tap_config.write_text(json.dumps(settings))
    target.write_text(json.dumps(target_config))
    script = 'set -o pipefail; "$0" --config "$1" | tee "$2" | "$3" --config "$4" > "$5"'
    loader_bin = loader_venv(loader) / "bin" / executable
    argv = (BIN / "tap-crescendo", tap_config, folder / "messages.jsonl", loader_bin, target)
    return subprocess.run(
        ["bash", "-c", script, *map(str, argv), str(folder / "states.jsonl")],
        cwd=folder,
        env=meltano.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def duckdb_version(loader: str) -> str:
    """The duckdb release installed in the loader's virtualenv."""
    return _in_venv(loader, "import duckdb; print(duckdb.__version__)").strip()


def venv_python(loader: str) -> tuple[int, int]:
    """The Python of the loader's virtualenv: the first `meltano install`'s, not this one's."""
    major, minor = _in_venv(loader, "import sys; print(*sys.version_info[:2])").split()
    return int(major), int(minor)


def duckdb_rows(loader: str, database: Path, query: str) -> list[list[t.Any]]:
    """Every row of `query` on the file, read with the loader's own duckdb (its file format)."""
    script = (
        "import duckdb, json, sys\n"
        "rows = duckdb.connect(sys.argv[1], read_only=True).execute(sys.argv[2]).fetchall()\n"
        "print(json.dumps(rows))\n"
    )
    found: list[list[t.Any]] = json.loads(_in_venv(loader, script, str(database), query))
    return found


def _in_venv(loader: str, script: str, *args: str) -> str:
    """Run a Python script with the loader's interpreter; return its stdout."""
    done = subprocess.run(
        [str(loader_venv(loader) / "bin/python"), "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode:
        msg = f"{loader}'s python exited {done.returncode}: {done.stderr[-3000:]}"
        raise AssertionError(msg)
    return done.stdout
