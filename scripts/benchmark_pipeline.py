"""Benchmark: `tap-crescendo | target-postgres` into a throwaway PostgreSQL, loader setups compared.

    python -m scripts.benchmark_pipeline               # 100,000 bot rows, 3 alternating rounds
    python -m scripts.benchmark_pipeline --rows 20000 --repeats 1
    python -m scripts.benchmark_pipeline --against f360c31   # each setup with that commit's tap too

The fake API (in its own process, as in benchmark.py) serves the rows; each run loads them
into a fresh database of a PostgreSQL 15 started from the machine's `initdb` (as the tests
do), with target-postgres 0.8.1 as `meltano install` puts it in .meltano/ (run
`.venv/bin/meltano install` first). Runs alternate: (a) RECORD lines, loader defaults;
(a2) `validate_records: false`; (a3) that and `use_copy: true`; (b) BATCH files in a
temporary folder, once the tap advertises the `batch` capability. The report gives median
wall, rows/s, peak RSS and CPU seconds of tap and loader (os.wait4 per child), and ratios
against (a); CPU seconds stay comparable when other work shares the machine, wall does not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from scripts.benchmark import benchmark_span, serve, tap_argv
from scripts.same_output import worktree
from tests.support.postgres import Postgres, find_initdb, running_postgres

REPO = Path(__file__).resolve().parents[1]
TARGET_POSTGRES = REPO / ".meltano/loaders/target-postgres/venv/bin/target-postgres"
DATABASE, SCHEMA = "crescendo", "tap_crescendo"
#: BATCH mode's files: plain JSON Lines (the loader reads them locally), 10,000 rows each.
BATCH_SIZE = 10_000


@dataclass(frozen=True)
class Setup:
    """One way of running the pipeline: the tap's extra settings and the loader's."""

    label: str
    tap: dict[str, t.Any]
    loader: dict[str, t.Any]
    batch: bool = False
    #: The folder of another commit's tap (`--against`), else this tree's.
    code: Path | None = None


@dataclass(frozen=True)
class Run:
    """One pipeline run: wall seconds, and each side's peak resident memory and CPU seconds."""

    seconds: float
    tap_rss_mib: float
    loader_rss_mib: float
    tap_cpu: float
    loader_cpu: float


SETUPS = [
    Setup("(a) RECORD, loader defaults", {}, {}),
    Setup("(a2) RECORD, validate_records: false", {}, {"validate_records": False}),
    Setup(
        "(a3) RECORD, validate_records: false, use_copy",
        {},
        {"validate_records": False, "use_copy": True},
    ),
    Setup(
        f"(b) BATCH jsonl, {BATCH_SIZE:,} rows a file, use_copy",
        {"batch_config": {"encoding": {"format": "jsonl", "compression": "none"}}},
        {"use_copy": True},
        batch=True,
    ),
]


def tap_writes_batches() -> bool:
    """Tell whether the tap advertises the `batch` capability (BATCH messages)."""
    argv = [sys.executable, "-m", "tap_crescendo", "--about", "--format", "json"]
    about = json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)
    return "batch" in about["capabilities"]


def run_pipeline(tap: list[str], loader: list[str], logs: Path) -> Run:
    """Run `tap | loader`; return the wall time and both peak RSS, or raise with the logs."""
    started = time.perf_counter()
    with (
        (logs / "tap.log").open("wb") as tap_log,
        (logs / "loader.log").open("wb") as loader_log,
        open(os.devnull, "wb") as sink,
    ):
        tap_process = subprocess.Popen(tap, stdout=subprocess.PIPE, stderr=tap_log)
        assert tap_process.stdout is not None
        loader_process = subprocess.Popen(
            loader, stdin=tap_process.stdout, stdout=sink, stderr=loader_log
        )
        tap_process.stdout.close()
        usages = []
        for child in (tap_process, loader_process):
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            usages.append(usage)
    seconds = time.perf_counter() - started
    for child, name in ((tap_process, "tap"), (loader_process, "loader")):
        if child.returncode != 0:
            tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
            msg = f"the {name} exited {child.returncode}:\n{tail}"
            raise RuntimeError(msg)
    tap_usage, loader_usage = usages
    return Run(
        seconds,
        tap_rss_mib=tap_usage.ru_maxrss / 1024,
        loader_rss_mib=loader_usage.ru_maxrss / 1024,
        tap_cpu=tap_usage.ru_utime + tap_usage.ru_stime,
        loader_cpu=loader_usage.ru_utime + loader_usage.ru_stime,
    )


def loader_argv(postgres: Postgres, settings: dict[str, t.Any], folder: Path) -> list[str]:
    """target-postgres's command line: this server, a fresh schema, `settings` on top."""
    config = {
        "host": postgres.host,
        "port": postgres.port,
        "user": postgres.user,
        "password": postgres.password,
        "database": DATABASE,
        "default_target_schema": SCHEMA,
        **settings,
    }
    path = folder / "target.json"
    path.write_text(json.dumps(config))
    return [str(TARGET_POSTGRES), "--config", str(path)]


def check_loaded(postgres: Postgres, rows: int) -> None:
    """Raise unless the table holds exactly `rows` distinct conversations."""
    query = f'SELECT count(*), count(DISTINCT "ID") FROM {SCHEMA}.bot_conversations'
    ((count, distinct),) = postgres.query(DATABASE, query)
    if count != rows or distinct != rows:
        msg = f"loaded {count} rows ({distinct} distinct IDs), expected {rows}"
        raise RuntimeError(msg)


def one_run(setup: Setup, postgres: Postgres, url: str, rows: int, work: Path) -> Run:
    """Load every row once with `setup` into an empty database; BATCH files are removed."""
    postgres.create_database(DATABASE)
    folder = Path(tempfile.mkdtemp(dir=work))
    tap_settings = dict(setup.tap)
    if setup.batch:
        storage = {"root": (folder / "batches").as_uri()}
        tap_settings["batch_config"] = {
            **tap_settings["batch_config"],
            "storage": storage,
            "batch_size": BATCH_SIZE,
        }
    tap = tap_argv(folder, url, benchmark_span(), code=setup.code, **tap_settings)
    run = run_pipeline(tap, loader_argv(postgres, setup.loader, folder), folder)
    check_loaded(postgres, rows)
    shutil.rmtree(folder)
    return run


def report(setups: list[Setup], runs: dict[str, list[Run]], rows: int) -> None:
    """Print medians, peaks and ratios against the first setup."""
    base = runs[setups[0].label]
    base_wall = statistics.median(r.seconds for r in base)
    base_loader = max(r.loader_rss_mib for r in base)
    for setup in setups:
        done = runs[setup.label]
        wall = statistics.median(r.seconds for r in done)
        loader_rss = max(r.loader_rss_mib for r in done)
        tap_cpu = statistics.median(r.tap_cpu for r in done)
        loader_cpu = statistics.median(r.loader_cpu for r in done)
        print(
            f"{setup.label}: {wall:.1f} s, {rows / wall:,.0f} rows/s, "
            f"peak RSS tap {max(r.tap_rss_mib for r in done):.0f} MiB, "
            f"loader {loader_rss:.0f} MiB; CPU tap {tap_cpu:.1f} s, loader {loader_cpu:.1f} s; "
            f"vs (a): wall {wall / base_wall:.2f}x, "
            f"loader RSS {loader_rss / base_loader:.2f}x "
            f"(walls {', '.join(f'{r.seconds:.1f}' for r in done)})",
            flush=True,
        )


def main() -> None:
    """Run every setup, alternating, and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="bot rows (default 100,000)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--against", metavar="REV", help="also each setup with commit REV's tap")
    args = parser.parse_args()
    initdb = find_initdb()
    if initdb is None or not TARGET_POSTGRES.exists():
        sys.exit("needs PostgreSQL's initdb and target-postgres: run `.venv/bin/meltano install`")
    setups = [s for s in SETUPS if not s.batch or tap_writes_batches()]
    if len(setups) < len(SETUPS):
        print("(b) skipped: the tap does not advertise the `batch` capability yet", flush=True)
    runs: dict[str, list[Run]] = {s.label: [] for s in setups}
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rows:,} rows", flush=True)
    with (
        tempfile.TemporaryDirectory() as work,
        running_postgres(initdb) as postgres,
        serve(args.rows) as url,
        ExitStack() as stack,
    ):
        if args.against:
            old = stack.enter_context(worktree(args.against, Path(work) / "old"))
            setups = [
                twin
                for setup in setups
                for twin in (setup, replace(setup, label=f"old {setup.label}", code=old))
            ]
            runs = {s.label: [] for s in setups}
        for _ in range(args.repeats):
            for setup in setups:
                runs[setup.label].append(one_run(setup, postgres, url, args.rows, Path(work)))
    report(setups, runs, args.rows)


if __name__ == "__main__":
    main()
