"""Benchmark: the tap against a plain hand-written loop, over the fake API on 127.0.0.1.

    python benchmark.py                  # throughput and peak RSS (N = 20,000 and 200,000)
    python benchmark.py --latency        # wall time with 50 ms and 200 ms per page
    python benchmark.py --batch          # the tap alone writing BATCH files, N = 200,000

The fake serves N bot conversations; the tap runs with default settings and a catalog that
selects `bot_conversations` only, like the loop. Both programs run as child processes writing
Singer lines to /dev/null, alternating A/B;
the report gives medians and ratios measured in the same run, on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tap_crescendo.timestamps import format_epoch_ms

if t.TYPE_CHECKING:
    from collections.abc import Iterator

KEY, TENANT = "bench-key", "tenant-alpha"
DAY_MS = 86_400_000
SPAN_DAYS = 30


def now_ms() -> int:
    """This moment in epoch milliseconds."""
    return int(time.time() * 1000)


@dataclass
class Run:
    """One child process: wall seconds and peak resident memory."""

    seconds: float
    peak_rss_mib: float


def run_child(argv: list[str]) -> Run:
    """Run a child with stdout to /dev/null; return its wall time and peak RSS."""
    with open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        msg = f"{argv} exited {child.returncode}"
        raise RuntimeError(msg)
    return Run(seconds, usage.ru_maxrss / 1024)


def tap_argv(config_dir: Path, url: str, span: tuple[int, int], **settings: t.Any) -> list[str]:
    """The command line of the tap over `span`, default settings but `settings`."""
    config = {
        "api_key": KEY,
        "tenant_id": TENANT,
        "api_url": url,
        "start_date": format_epoch_ms(span[0]),
        "end_date": format_epoch_ms(span[1]),
        **settings,
    }
    path = config_dir / f"config-{len(list(config_dir.iterdir()))}.json"
    path.write_text(json.dumps(config))
    catalog = config_dir / "catalog.json"
    if not catalog.exists():
        catalog.write_text(json.dumps(bot_only_catalog(path)))
    return [sys.executable, "-m", "tap_crescendo", "--config", str(path), "--catalog", str(catalog)]


def bot_only_catalog(config: Path) -> dict[str, t.Any]:
    """The tap's discovered catalog with only `bot_conversations` selected."""
    argv = [sys.executable, "-m", "tap_crescendo", "--config", str(config), "--discover"]
    catalog: dict[str, t.Any] = json.loads(
        subprocess.run(argv, capture_output=True, check=True).stdout
    )
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == "bot_conversations"
    return catalog


def loop_argv(url: str, span: tuple[int, int], page_size: int, *, write: bool = True) -> list[str]:
    """The command line of the baseline loop (or, with `write=False`, fetch-only)."""
    mode = "--loop" if write else "--fetch"
    return [sys.executable, __file__, mode, url, str(span[0]), str(span[1]), str(page_size)]


def baseline_loop(url: str, span: tuple[int, int], page_size: int, *, write: bool) -> None:
    """requests, resp.json(), one json.dumps RECORD line per row, over the tap's daily windows."""
    import requests  # noqa: PLC0415 (only the child needs it)

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    endpoint = f"{url}/api/v1/reporting/tenants/{TENANT}/botconv"
    out = sys.stdout
    for start in range(span[0], span[1], DAY_MS):
        params: dict[str, t.Any] = {
            "from": start,
            "to": min(start + DAY_MS, span[1]),
            "limit": page_size,
        }
        while True:
            body = session.get(endpoint, params=params, timeout=60).json()
            if write:
                for row in body["data"]:
                    record = {"type": "RECORD", "stream": "bot_conversations", "record": row}
                    out.write(json.dumps(record))
                    out.write("\n")
            cursor = (body.get("cursor") or {}).get("next")
            if not cursor:
                break
            params = {"cursor": cursor, "limit": page_size}
    out.flush()


def benchmark_span() -> tuple[int, int]:
    """The span the tap and the loop read: every generated row, as 31 daily windows."""
    end = now_ms()
    return end - (SPAN_DAYS + 1) * DAY_MS, end


@contextmanager
def serve(rows: int, *, page_delay_ms: int = 0) -> Iterator[str]:
    """Run the fake API in its own process (so its memory is not ours) and yield its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [
        sys.executable,
        "-m",
        "tap_crescendo.fake_api",
        "--rows",
        str(rows),
        "--days",
        str(SPAN_DAYS),
        "--port",
        str(port),
        "--api-key",
        KEY,
        "--tenant",
        TENANT,
        "--page-delay-ms",
        str(page_delay_ms),
    ]
    url = f"http://127.0.0.1:{port}"
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as fake:
        assert fake.stdout is not None
        fake.stdout.readline()  # the fake prints its banner once it listens
        try:
            yield url
        finally:
            fake.terminate()


def throughput(repeats: int, config_dir: Path) -> None:
    """Rows/s of the loop and the tap (median of alternating runs), and peak RSS."""
    for rows in (20_000, 200_000):
        with serve(rows) as url:
            span = benchmark_span()
            for page_size in (1000, 5000):
                loops, taps = [], []
                for _ in range(repeats):
                    loops.append(run_child(loop_argv(url, span, page_size)))
                    taps.append(run_child(tap_argv(config_dir, url, span, page_size=page_size)))
                loop_rate = rows / statistics.median(r.seconds for r in loops)
                tap_rate = rows / statistics.median(r.seconds for r in taps)
                print(
                    f"N={rows:>7,} page_size={page_size:>4}: loop {loop_rate:>9,.0f} rows/s, "
                    f"tap {tap_rate:>9,.0f} rows/s, tap/loop {tap_rate / loop_rate:.2f}x; "
                    f"tap peak RSS {max(r.peak_rss_mib for r in taps):.0f} MiB",
                    flush=True,
                )


def batch_files(repeats: int, config_dir: Path) -> None:
    """Rows/s of the tap alone writing RECORD lines and writing BATCH files (jsonl, 10,000 rows)."""
    rows = 200_000
    with serve(rows) as url, tempfile.TemporaryDirectory() as folder:
        span = benchmark_span()
        batch_config = {
            "encoding": {"format": "jsonl", "compression": "none"},
            "storage": {"root": Path(folder).as_uri()},
            "batch_size": 10_000,
        }
        loops, records, batches = [], [], []
        for _ in range(repeats):
            loops.append(run_child(loop_argv(url, span, 1000)))
            records.append(run_child(tap_argv(config_dir, url, span)))
            batches.append(run_child(tap_argv(config_dir, url, span, batch_config=batch_config)))
            for file in Path(folder).iterdir():
                file.unlink()
        loop_rate, record_rate, batch_rate = (
            rows / statistics.median(r.seconds for r in runs) for runs in (loops, records, batches)
        )
        print(
            f"N={rows:,} page_size=1000: loop {loop_rate:,.0f} rows/s; tap RECORD lines "
            f"{record_rate:,.0f} rows/s ({record_rate / loop_rate:.2f}x loop); tap BATCH files "
            f"{batch_rate:,.0f} rows/s ({batch_rate / loop_rate:.2f}x loop, "
            f"{batch_rate / record_rate:.2f}x RECORD); peak RSS RECORD "
            f"{max(r.peak_rss_mib for r in records):.0f} MiB, BATCH "
            f"{max(r.peak_rss_mib for r in batches):.0f} MiB",
            flush=True,
        )


def latency(repeats: int, config_dir: Path) -> None:
    """With a delay per page: the tap against fetch-only, and 4 windows at once against 1."""
    rows = 40_000
    for delay_ms in (50, 200):
        with serve(rows, page_delay_ms=delay_ms) as url:
            span = benchmark_span()
            fetch: list[Run] = []
            one: list[Run] = []
            four: list[Run] = []
            for _ in range(repeats):
                fetch.append(run_child(loop_argv(url, span, 1000, write=False)))
                for runs, parallel in ((one, 1), (four, 4)):
                    argv = tap_argv(
                        config_dir, url, span, page_size=1000, max_parallel_windows=parallel
                    )
                    runs.append(run_child(argv))
            fetch_s, one_s, four_s = (
                statistics.median(r.seconds for r in runs) for runs in (fetch, one, four)
            )
            print(
                f"{delay_ms} ms/page, N={rows:,}, 31 daily windows, page_size 1000: "
                f"fetch-only {fetch_s:.2f} s; tap K=1 {one_s:.2f} s "
                f"({one_s / fetch_s:.2f}x fetch-only); "
                f"tap K=4 {four_s:.2f} s ({four_s / one_s:.2f}x K=1)",
                flush=True,
            )


def main() -> None:
    """Run the benchmark named by the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--latency", action="store_true", help="per-page latency mode")
    mode.add_argument("--batch", action="store_true", help="BATCH files against RECORD lines")
    parser.add_argument("--repeats", type=int, default=3, help="A/B rounds (default 3)")
    parser.add_argument("--loop", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--fetch", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop or args.fetch:
        url, start, end, page_size = args.loop or args.fetch
        baseline_loop(url, (int(start), int(end)), int(page_size), write=bool(args.loop))
        return
    with tempfile.TemporaryDirectory() as config_dir:
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
        run = latency if args.latency else batch_files if args.batch else throughput
        run(args.repeats, Path(config_dir))


if __name__ == "__main__":
    main()
