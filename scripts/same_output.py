"""Prove a refactor changes no output: the tap's stdout at OLD_REV and now, line for line.

    python -m scripts.same_output OLD_REV              # OLD_REV against the working tree
    python -m scripts.same_output OLD_REV --new REV    # OLD_REV against revision REV

OLD_REV (and REV) is checked out into a temporary `git worktree`. Both sides run
`python -m tap_crescendo` with this venv, their checkout first on PYTHONPATH and as working
folder (each side prints the tap_crescendo it imports), against the same fake API data, served
by this tree's `tap_crescendo.fake_api` in a thread: two tenants (`tenant_ids`), 1,500 bot and
600 VOC rows each, a fixed `start_date` and `end_date` cut into 10 daily windows read 3 at a
time, pages of 50 rows.

Scenarios: `record` and `batch` (BATCH jsonl files of 200 rows, each side its own folder) are
whole runs; `record-kill` and `batch-kill` are a run SIGKILLed once it wrote its 13th STATE (in
the second tenant's bot windows), then a run resumed from that STATE. Compared, line for line:
each run's stdout, and the exit status of a run not killed; of a killed run, its stdout up to
and including that STATE (it may write more before the signal lands, so that STATE, not the
last it wrote, is the one resumed from); the rows of every file the compared BATCH messages
announce. `time_extracted` values, the batch folder and the random run ids in file names (and
in the STATEs' `batch_runs`) are normalised. stderr is not compared.

With parallel windows the order of lines is a race (two runs of one revision differ in every
scenario): a window's last page and its end reach the writing thread while the next windows'
pages do, and which windows a STATE covers depends on it. So the fake answers one window at a
time, in window order, and starts the next one only once the tap took the end of the last one,
as the request of the window that end lets start shows; no such request follows the last 2
windows, which hold no rows, so their order changes nothing. The windows are still read by 3
threads, and the output is that of reading them in order.

Prints a line per scenario, `same` or the first line that differs, both versions; exits 1 if
any differs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import typing as t
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_crescendo.fake_api.exchange import Answer, ApiRequest

REPO = Path(__file__).resolve().parents[1]
KEY, TENANTS = "same-output-key", ("tenant-1", "tenant-2")
START, END = "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z"
START_MS, END_MS = (to_epoch_ms(parse_timestamp(value)) for value in (START, END))
DAY_MS, WORKERS, KILL_AT_STATE = 86_400_000, 3, 13
SETTINGS = {
    "api_key": KEY,
    "tenant_ids": list(TENANTS),
    "start_date": START,
    "end_date": END,
    "page_size": 50,
    "window_size_hours": 24,
    "max_parallel_windows": WORKERS,
}
#: How long the fake waits for a window's turn before it answers anyway.
TURN_SECONDS = 10
TIME_EXTRACTED = re.compile(r'"time_extracted":"[^"]*"')
RUN_ID = re.compile(r"-\d{8}T\d{6}Z-[0-9a-f]{8}\b")
Rows = dict[str, list[dict[str, t.Any]]]
Parts = dict[str, list[str]]


class InTurn(FakeCrescendo):
    """The fake API answering one window at a time, in window order (see the docstring)."""

    def __init__(self, rows: Rows, voc_rows: Rows) -> None:
        super().__init__(api_keys={KEY: set(TENANTS)}, rows=rows, voc_rows=voc_rows)
        self._turn = threading.Condition()
        self._window: tuple[int, int] | None = None  # the window being answered: from, to
        self._arrived: set[int] = set()  # the `from` of each window of the export that asked
        self._next: int | None = None  # the `from` of the window to answer next, if known
        self._shown_by: int | None = None  # the window whose asking shows the last end taken
        self.closed = False
        self.stalls = 0

    def handle(self, request: ApiRequest) -> Answer:
        """Answer a window's first page once it is its turn, and note the end of a window."""
        if "from" in request.query:
            start = int(request.query["from"])
            with self._turn:
                self._arrived.add(start)
                self._turn.notify_all()
                self.stalls += not self._turn.wait_for(
                    lambda: (
                        self.closed
                        or (
                            self._window is None
                            and self._next in {None, start}
                            and self._shown_by in {None, *self._arrived}
                        )
                    ),
                    TURN_SECONDS,
                )
                self._window = start, int(request.query["to"])
        answer = super().handle(request)
        head = answer.body.partition(b',"data":')[0]
        if self._window and (
            answer.status != HTTPStatus.OK or head.endswith(b'"cursor":{"next":null}')
        ):
            with self._turn:
                start, end = self._window
                # Taking window k's end starts window k + WORKERS, if there is one.
                later = start + WORKERS * DAY_MS
                self._shown_by = later if later < END_MS else None
                self._next, self._window = (end if end < END_MS else None), None
                if end == END_MS:  # the export's last window: the next one starts afresh
                    self._arrived.clear()
                self._turn.notify_all()
        return answer

    def close(self) -> None:
        """Answer every waiting request at once: the tap is gone."""
        with self._turn:
            self.closed = True
            self._turn.notify_all()


@dataclass
class Side:
    """One side of the comparison: a checkout whose tap_crescendo runs, and its own folder."""

    name: str
    root: Path
    work: Path

    @property
    def environment(self) -> dict[str, str]:
        """This environment, without proxies or `TAP_CRESCENDO_*`, importing from `root`."""
        kept = {
            name: value
            for name, value in os.environ.items()
            if "PROXY" not in name.upper() and not name.startswith("TAP_CRESCENDO_")
        }
        return {**kept, "PYTHONPATH": str(self.root)}

    @property
    def batch_root(self) -> Path:
        """The folder of its BATCH files."""
        return self.work / "batch"

    def imported(self) -> str:
        """The file of the tap_crescendo the side's children import; exit if not under `root`."""
        code = "import tap_crescendo; print(tap_crescendo.__file__)"
        found = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=self.root,
            env=self.environment,
        ).stdout.strip()
        if not found.startswith(f"{self.root}/tap_crescendo/"):
            sys.exit(f"{self.name}: imports {found}, not the one under {self.root}")
        return found

    def run(
        self,
        rows: tuple[Rows, Rows],
        settings: dict[str, t.Any],
        state: dict[str, t.Any] | None = None,
        kill_at: int | None = None,
    ) -> list[bytes]:
        """Run the tap; its stdout lines to the `kill_at`th STATE, or all and its exit status."""
        fake = InTurn(*rows)
        with fake.serve() as url:
            try:
                return self._tap({**settings, "api_url": url}, state, kill_at)
            finally:
                fake.close()
                if fake.stalls:
                    late = f"{fake.stalls} windows answered out of turn after {TURN_SECONDS} s"
                    print(f"{self.name}: {late}", file=sys.stderr)

    def _tap(
        self, config: dict[str, t.Any], state: dict[str, t.Any] | None, kill_at: int | None
    ) -> list[bytes]:
        """Run the tap with `config` and `state` (see `run`)."""
        self.work.mkdir(exist_ok=True)
        argv = [sys.executable, "-m", "tap_crescendo", "--config", str(self.work / "config.json")]
        (self.work / "config.json").write_text(json.dumps(config))
        if state is not None:
            (self.work / "state.json").write_text(json.dumps(state))
            argv += ["--state", str(self.work / "state.json")]
        lines, states = [], 0
        with (
            (self.work / "stderr.log").open("ab") as stderr,
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=stderr, cwd=self.root, env=self.environment
            ) as tap,
        ):
            assert tap.stdout is not None
            for line in tap.stdout:
                lines.append(line)
                states += line.startswith(b'{"type":"STATE"')
                if states == kill_at:
                    tap.kill()
                    return lines
        return [*lines, b"exit status %d" % tap.returncode]

    def outcome(self, lines: list[bytes]) -> Parts:
        """A run's stdout lines and the rows of the files they announce, normalised."""
        rows = []
        for line in lines:
            if line.startswith(b'{"type":"BATCH"'):
                uri = json.loads(line)["manifest"][0]
                with Path(uri.removeprefix("file://")).open("rb") as file:
                    rows += [
                        b"%s row %d: %s" % (uri.encode(), n, row) for n, row in enumerate(file)
                    ]
        runs: dict[str, str] = {}

        def run_id(match: re.Match[str]) -> str:
            """The same name for a run id each time, by order of appearance."""
            return runs.setdefault(match[0], f"-run{len(runs) + 1}")

        def normalised(line: bytes) -> str:
            """The line without what differs from run to run."""
            text = TIME_EXTRACTED.sub('"time_extracted":"…"', line.decode())
            return RUN_ID.sub(run_id, text.replace(self.batch_root.as_uri(), "BATCH_ROOT"))

        return {"stdout": list(map(normalised, lines)), "files": list(map(normalised, rows))}


def fake_rows() -> tuple[Rows, Rows]:
    """Each tenant's bot and VOC rows; the last WORKERS - 1 windows hold none."""
    span = {"start_ms": START_MS, "end_ms": END_MS - (WORKERS - 1) * DAY_MS}
    bot = {
        tenant: generate_bot_rows(1500, **span, seed=seed, tenant_id=tenant)
        for seed, tenant in enumerate(TENANTS)
    }
    voc = {
        tenant: generate_voc_rows(600, **span, seed=seed, tenant_id=tenant)
        for seed, tenant in enumerate(TENANTS)
    }
    return bot, voc


def scenario(side: Side, rows: tuple[Rows, Rows], batch: bool, kill_at: int | None) -> Parts:
    """Run a scenario on one side: a whole run, or a run killed at a STATE and one resumed."""
    settings = SETTINGS
    if batch:
        storage = {"root": side.batch_root.as_uri()}
        encoding = {"format": "jsonl", "compression": "none"}
        batch_config = {"encoding": encoding, "storage": storage, "batch_size": 200}
        settings = {**SETTINGS, "batch_config": batch_config}
    first = side.run(rows, settings, kill_at=kill_at)
    if kill_at is None:
        return side.outcome(first)
    killed = {f"killed run {part}": lines for part, lines in side.outcome(first).items()}
    states = [json.loads(line)["value"] for line in first if line.startswith(b'{"type":"STATE"')]
    resumed = side.outcome(side.run(rows, settings, states[-1] if states else None))
    return killed | {f"resumed run {part}": lines for part, lines in resumed.items()}


#: Each scenario: whether in BATCH mode, and the STATE its first run is killed at, if it is.
SCENARIOS = {
    "record": (False, None),
    "batch": (True, None),
    "record-kill": (False, KILL_AT_STATE),
    "batch-kill": (True, KILL_AT_STATE),
}


def first_difference(old: Parts, new: Parts) -> str | None:
    """The first line that differs between two sides, with both versions; None if none."""
    for part, lines in old.items():
        pairs = itertools.zip_longest(lines, new[part], fillvalue="")
        for number, (before, after) in enumerate(pairs, 1):
            if before != after:
                column = next(
                    (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
                    min(len(before), len(after)),
                )
                start = max(0, column - 60)
                return (
                    f"{part} line {number}, column {column + 1}: "
                    f"old {before[start : column + 60]!r}, new {after[start : column + 60]!r}"
                )
    return None


@contextmanager
def worktree(revision: str, path: Path) -> Iterator[Path]:
    """Check `revision` out into a temporary worktree at `path`."""
    git = ["git", "-C", str(REPO), "worktree"]
    subprocess.run([*git, "add", "--detach", "--quiet", str(path), revision], check=True)
    try:
        yield path
    finally:
        subprocess.run([*git, "remove", "--force", str(path)], check=True)


def main() -> int:
    """Compare the sides the command line names; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", metavar="OLD_REV", help="the revision before the change")
    parser.add_argument("--new", metavar="REV", help="the revision after it (default: this tree)")
    args = parser.parse_args()
    rows = fake_rows()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="same-output-")))
        old = Side(
            "old", stack.enter_context(worktree(args.old, folder / "old")), folder / "old-runs"
        )
        new_root = (
            REPO if args.new is None else stack.enter_context(worktree(args.new, folder / "new"))
        )
        new = Side("new", new_root, folder / "new-runs")
        for side, label in ((old, args.old), (new, args.new or "working tree")):
            print(f"{side.name} ({label}): {side.imported()}", flush=True)
        differing = 0
        for name, (batch, kill_at) in SCENARIOS.items():
            difference = first_difference(
                scenario(old, rows, batch, kill_at), scenario(new, rows, batch, kill_at)
            )
            print(f"{name}: {difference or 'same'}", flush=True)
            differing += difference is not None
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
