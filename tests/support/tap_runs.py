"""Running the tap in-process or as a command, and reading the Singer messages it wrote."""

from __future__ import annotations

import copy
import io
import json
import signal
import subprocess
import sys
import typing as t
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field

import jsonschema

from tap_crescendo.errors import CrescendoError
from tap_crescendo.tap import TapCrescendo
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms

if t.TYPE_CHECKING:
    from pathlib import Path

API_KEY = "test-key-5f1c0a9e"
TENANT = "tenant-alpha"
SPAN_START = "2026-10-01T00:00:00Z"
SPAN_END = "2026-10-11T00:00:00Z"
SPAN_START_MS = to_epoch_ms(parse_timestamp(SPAN_START))
SPAN_END_MS = to_epoch_ms(parse_timestamp(SPAN_END))


def tap_config(api_url: str, /, **overrides: t.Any) -> dict[str, t.Any]:
    """A config for the fake API over the whole test span, with `overrides` applied."""
    config: dict[str, t.Any] = {
        "api_key": API_KEY,
        "tenant_id": TENANT,
        "api_url": api_url,
        "start_date": SPAN_START,
        "end_date": SPAN_END,
        "page_size": 40,
    }
    config.update(overrides)
    return {name: value for name, value in config.items() if value is not None}


@dataclass
class Sync:
    """The messages of one run of the tap, by type."""

    messages: list[dict[str, t.Any]] = field(default_factory=list)
    error: str | None = None
    stderr: str = ""

    @property
    def records(self) -> list[dict[str, t.Any]]:
        """Every RECORD's record, in order."""
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def ids(self) -> list[str]:
        """Every RECORD's ID, in order."""
        return [record["ID"] for record in self.records]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        """Every STATE's value, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    def schema(self, stream: str = "bot_conversations") -> dict[str, t.Any]:
        """The schema the tap announced for `stream`."""
        return next(
            m["schema"] for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream
        )

    def bookmark(self, stream: str = "bot_conversations") -> str | None:
        """The bookmark of the last STATE."""
        value: str | None = self.states[-1]["bookmarks"][stream].get("replication_key_value")
        return value


def catalog_without(config: dict[str, t.Any], *properties: str) -> dict[str, t.Any]:
    """The tap's catalog with `properties` deselected in every stream that has them."""
    catalog: dict[str, t.Any] = TapCrescendo(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"][1:] and metadata["breadcrumb"][1] in properties:
                metadata["metadata"]["selected"] = False
    return catalog


def strict_problems(messages: list[dict[str, t.Any]]) -> list[str]:
    """Each way a RECORD breaks its stream's SCHEMA, with no property beyond it allowed."""
    validators: dict[str, jsonschema.Draft7Validator] = {}
    problems = []
    for message in messages:
        if message["type"] == "SCHEMA":
            strict = {**message["schema"], "additionalProperties": False}
            validators[message["stream"]] = jsonschema.Draft7Validator(
                strict, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
            )
        elif message["type"] == "RECORD":
            validator = validators[message["stream"]]
            problems += [
                f"{message['stream']} {message['record'].get('ID')}: {error.message}"
                for error in validator.iter_errors(message["record"])
            ]
    return problems


def parse_messages(text: str) -> list[dict[str, t.Any]]:
    """Parse Singer message lines (ended by newlines only: a value may hold U+0085 or U+2028)."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def sync(
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
) -> Sync:
    """Run the tap in this process; a user error is kept in `error`, not raised."""
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()
    error = None
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            # A copy: the tap changes the STATE it resumes from as it goes.
            resumed = copy.deepcopy(state)
            TapCrescendo(config=config, state=resumed, catalog=catalog).sync_all()
        except CrescendoError as exc:
            error = str(exc)
        stdout.flush()
    stdout.seek(0)
    return Sync(parse_messages(stdout.read()), error, stderr.getvalue())


def kill_after_states(argv: list[str], count: int) -> tuple[int, list[dict[str, t.Any]]]:
    """Run the tap's `argv`, SIGKILL it once it wrote `count` STATE lines; return its exit
    code and the messages of the complete lines it wrote."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tap:
        assert tap.stdout is not None
        lines, states_seen = [], 0
        for line in tap.stdout:
            lines.append(line.decode())
            states_seen += b'"type":"STATE"' in line.replace(b" ", b"")
            if states_seen == count:
                break
        tap.send_signal(signal.SIGKILL)
        lines += [line.decode() for line in tap.stdout]
    return tap.returncode, parse_messages("".join(line for line in lines if line.endswith("\n")))


@dataclass
class Command:
    """The outcome of running `tap-crescendo` as a command."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[dict[str, t.Any]]:
        """The Singer messages on stdout."""
        return parse_messages(self.stdout)


def run_command(
    args: list[str],
    tmp_path: Path,
    config: dict[str, t.Any] | None = None,
    state: dict[str, t.Any] | None = None,
) -> Command:
    """Run `tap-crescendo` with a config (and state) file written to `tmp_path`."""
    argv = [sys.executable, "-m", "tap_crescendo", *args]
    if config is not None:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        argv += ["--config", str(config_file)]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    return Command(done.returncode, done.stdout, done.stderr)
