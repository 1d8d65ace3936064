"""Timing: one `meltano run` reading 4 tenants against two shards of 2 tenants run at once.

    python -m scripts.shard_timing                     # 60,000 bot rows a tenant, 50 ms a page
    python -m scripts.shard_timing --rows 20000 --repeats 1

The fake API (its own process, `scripts.benchmark.serve`) serves 4 tenants over 31 daily
windows, each answer sent after `--page-delay-ms`; each run loads into a fresh database of a
throwaway PostgreSQL with the shipped `prod` setup (BATCH files, COPY), its tables made by an
untimed run over a day without rows. Every job has a `.meltano` folder of its own, the plugins
linked from the project's (run `.venv/bin/meltano install` first), so it starts without state.
Rounds alternate; the report gives median wall times, the processor time the jobs took (a
wall time below it over the machine's processors is out of reach) and, per job, the peak RSS
of Meltano, the tap and the loader, and its BATCH files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from scripts.benchmark import DAY_MS, KEY, benchmark_span, serve
from tap_crescendo.timestamps import format_epoch_ms
from tests.support.postgres import Postgres, find_initdb, running_postgres

REPO = Path(__file__).resolve().parents[1]
MELTANO = REPO / ".venv/bin/meltano"
TENANTS = ("acme", "globex", "initech", "umbrella")
COUNT_ROWS = 'SELECT count(DISTINCT "ID") FROM tap_crescendo.bot_conversations'
#: What a process of a job is, by a word of its command line, in the report's order.
KINDS = ("meltano", "tap-crescendo", "target-postgres")


def job_env(
    url: str, server: Postgres, database: str, home: Path, tenants: tuple[str, ...]
) -> dict[str, str]:
    """A job's environment: the fake API, the database, its tenants and its own `.meltano`."""
    start, end = benchmark_span()
    batches = {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": (home / "batches").as_uri()},
        "batch_size": 10000,
    }
    keep = {name: value for name, value in os.environ.items() if not name.startswith("MELTANO_")}
    return keep | {
        "NO_COLOR": "1",
        "MELTANO_SYS_DIR_ROOT": str(home),
        "TAP_CRESCENDO_API_URL": url,
        "TAP_CRESCENDO_API_KEY": KEY,
        "TAP_CRESCENDO_TENANT_IDS": json.dumps(list(tenants)),
        "TAP_CRESCENDO_START_DATE": format_epoch_ms(start),
        "TAP_CRESCENDO_END_DATE": format_epoch_ms(end),
        "TAP_CRESCENDO_BATCH_CONFIG": json.dumps(batches),
        "TARGET_POSTGRES_HOST": server.host,
        "TARGET_POSTGRES_PORT": str(server.port),
        "TARGET_POSTGRES_USER": server.user,
        "TARGET_POSTGRES_PASSWORD": server.password,
        "TARGET_POSTGRES_DATABASE": database,
    }


def new_home(folder: Path) -> Path:
    """A `.meltano` folder of a job's own, the installed plugins linked into it."""
    home = folder / ".meltano"
    home.mkdir(parents=True)
    for name in ("extractors", "loaders"):
        (home / name).symlink_to(REPO / ".meltano" / name)
    return home


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs, from /proc."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, children.read_text().split()):
            found += [child, *descendants(child)]
    return found


def peak_rss_mib(process: subprocess.Popen[bytes], peaks: dict[str, float]) -> None:
    """Until `process` ends, note the high-water RSS of it and its children, by kind."""
    while process.poll() is None:
        for pid in [process.pid, *descendants(process.pid)]:
            try:
                # The interpreter and the script: `meltano run`'s own words name the plugins.
                words = " ".join(Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:2])
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:  # it ended meanwhile
                continue
            kind = next((kind for kind in reversed(KINDS) if kind in words), None)
            high = next((line.split()[1] for line in status if line.startswith("VmHWM:")), None)
            if kind and high:
                peaks[kind] = max(peaks.get(kind, 0.0), int(high) / 1024)
        time.sleep(0.2)


def children_cpu_seconds() -> float:
    """User and system time of the ended processes this one started, theirs included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_jobs(shards: list[dict[str, str]]) -> tuple[float, float, list[dict[str, float]]]:
    """Run `meltano run` once per environment, all at once.

    Return the wall time, the processor time of every job's processes (Meltano, the tap, the
    loader; not PostgreSQL's or the fake API's), and each job's peak RSS by kind.
    """
    argv = [str(MELTANO), "--environment=prod", "run", "tap-crescendo", "target-postgres"]
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    jobs = [
        subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for env in shards
    ]
    peaks: list[dict[str, float]] = [{} for _ in jobs]
    watchers = [
        threading.Thread(target=peak_rss_mib, args=(job, peak))
        for job, peak in zip(jobs, peaks, strict=True)
    ]
    for watcher in watchers:
        watcher.start()
    errors = [job.communicate()[1] for job in jobs]
    seconds = time.perf_counter() - started
    cpu_seconds = children_cpu_seconds() - cpu_before
    for watcher in watchers:
        watcher.join()
    for job, error in zip(jobs, errors, strict=True):
        if job.returncode:
            msg = f"meltano run exited {job.returncode}:\n{error.decode(errors='replace')[-3000:]}"
            raise RuntimeError(msg)
    return seconds, cpu_seconds, peaks


def make_tables(url: str, server: Postgres, database: str, folder: Path) -> None:
    """Make the tables with a run over a day without rows: shards never make them at once."""
    start, _ = benchmark_span()
    empty = job_env(url, server, database, new_home(folder), TENANTS[:1])
    empty["TAP_CRESCENDO_START_DATE"] = format_epoch_ms(start - 2 * DAY_MS)
    empty["TAP_CRESCENDO_END_DATE"] = format_epoch_ms(start - DAY_MS)
    run_jobs([empty])


def batch_mib(home: Path) -> float:
    """The size of the BATCH files a job left (those of its run, removed by its next run)."""
    return sum(path.stat().st_size for path in (home / "batches").rglob("*")) / 2**20


def main() -> None:
    """Time both ways `--repeats` times, alternating, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000, help="bot rows a tenant")
    parser.add_argument("--page-delay-ms", type=int, default=50, help="the API's latency")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of both ways")
    args = parser.parse_args()
    initdb = find_initdb()
    assert initdb is not None, "PostgreSQL's initdb is needed"
    ways = {
        "one job of 4 tenants": (TENANTS,),
        "two shards of 2 at once": (TENANTS[:2], TENANTS[2:]),
    }
    walls: dict[str, list[float]] = {way: [] for way in ways}
    cpus: dict[str, list[float]] = {way: [] for way in ways}
    last: dict[str, tuple[list[dict[str, float]], list[float]]] = {}
    with (
        serve(args.rows, page_delay_ms=args.page_delay_ms, tenants=TENANTS) as url,
        running_postgres(initdb) as server,
        tempfile.TemporaryDirectory() as folder,
    ):
        for round_number in range(args.repeats):
            for way, shards in ways.items():
                database = f"round_{round_number}_{len(shards)}"
                server.create_database(database)
                make_tables(url, server, database, Path(folder) / database / "tables")
                homes = [new_home(Path(folder) / database / str(i)) for i in range(len(shards))]
                envs = [
                    job_env(url, server, database, home, tenants)
                    for home, tenants in zip(homes, shards, strict=True)
                ]
                seconds, cpu_seconds, peaks = run_jobs(envs)
                loaded = server.query(database, COUNT_ROWS)
                assert loaded == [(len(TENANTS) * args.rows,)], f"{way} loaded {loaded}"
                walls[way].append(seconds)
                cpus[way].append(cpu_seconds)
                last[way] = (peaks, [batch_mib(home) for home in homes])
    print(
        f"{len(TENANTS)} tenants x {args.rows:,} bot rows (and half as many VOC), 31 daily "
        f"windows, {args.page_delay_ms} ms a page; medians of {args.repeats}, wall times"
    )
    for way, times in walls.items():
        peaks, batches = last[way]
        jobs = "; ".join(
            ", ".join(f"{kind} {peak.get(kind, 0):.0f} MiB" for kind in KINDS)
            + f", BATCH files {size:.0f} MiB"
            for peak, size in zip(peaks, batches, strict=True)
        )
        runs = ", ".join(f"{seconds:.1f}" for seconds in times)
        median, cpu = statistics.median(times), statistics.median(cpus[way])
        print(
            f"{way}: {median:.1f} s (runs {runs}), processor time of the jobs {cpu:.1f} s; "
            f"peak RSS and files per job: {jobs}"
        )
    one, two = (statistics.median(times) for times in walls.values())
    print(f"two shards / one job: {two / one:.2f}x the wall time")


if __name__ == "__main__":
    main()
