"""Benchmark: the tap between a plain hand-written loop and a msgspec loop, over the fake API.

    python -m scripts.benchmark             # `make bench`: wall time and peak RSS, RECORD and BATCH
    python -m scripts.benchmark --latency   # wall time with 50 ms and 200 ms per page
    python -m scripts.benchmark --tenants   # 20 tenants: one run with tenant_ids, or 20 runs
    python -m scripts.benchmark --against f360c31   # also the tap of another commit, paired
    python -m scripts.benchmark --new-fields        # every bot row with 2 fields the schema lacks

The fake (on 127.0.0.1) serves N bot conversations and N/2 VOC ones; the tap runs with
default settings and a catalog that selects one stream, like the loops. Every contestant runs
as a child process writing Singer lines to /dev/null, alternating; the report gives medians
and ratios of wall times measured in the same run, on this machine. The contestants: the
plain loop (`requests`, `resp.json()`, one `json.dumps` RECORD line per row), the msgspec
loop (each page decoded with msgspec, its RECORD lines encoded with msgspec: the floor a
Python tap can hope for), and the tap, writing RECORD lines or BATCH files (jsonl). With
`--against REV` the tap of commit REV (checked out in a temporary git worktree, run from it
with PYTHONPATH) runs beside today's in the same rounds: a refactor's cost, paired. With
`--new-fields` every bot row also carries `NEW_FIELDS`, which the schema lacks: the tap (with
`schema_evolution` evolve, its default) adds them, the loops pass them through as they do.
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
import threading
import time
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from scripts.same_output import worktree
from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows
from tap_crescendo.timestamps import format_epoch_ms

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

KEY, TENANT = "bench-key", "tenant-alpha"
#: The stream of each export the loops read.
STREAMS = {"botconv": "bot_conversations", "vocconv": "voc_conversations"}
#: The loops a child process runs (`run_loop`).
LOOPS = ("loop", "msgspec-loop", "fetch")
DAY_MS = 86_400_000
SPAN_DAYS = 30
#: The fields `--new-fields` adds to every bot row, by name: a value of each row's index.
NEW_FIELDS: dict[str, Callable[[int], t.Any]] = {
    "Region": lambda index: ("EMEA", "AMER", "APAC")[index % 3],
    "Priority": lambda index: index % 5,
}


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


def tap_argv(
    config_dir: Path,
    url: str,
    span: tuple[int, int],
    *,
    stream: str = "bot_conversations",
    code: Path | None = None,
    **settings: t.Any,
) -> list[str]:
    """The command line of the tap reading `stream` over `span`, default settings but `settings`.

    With `code`, the tap's package is imported from that folder (another commit's).
    """
    config = {
        "api_key": KEY,
        "tenant_id": TENANT,
        "api_url": url,
        "start_date": format_epoch_ms(span[0]),
        "end_date": format_epoch_ms(span[1]),
        **settings,
    }
    config = {name: value for name, value in config.items() if value is not None}
    path = config_dir / f"config-{len(list(config_dir.iterdir()))}.json"
    path.write_text(json.dumps(config))
    catalog = config_dir / f"catalog-{stream}.json"
    if not catalog.exists():
        catalog.write_text(json.dumps(one_stream_catalog(path, stream)))
    argv = [sys.executable, "-m", "tap_crescendo", "--config", str(path), "--catalog", str(catalog)]
    # From its own folder: `python -m` puts the working folder first on the import path.
    return argv if code is None else ["env", "-C", str(code), f"PYTHONPATH={code}", *argv]


def one_stream_catalog(config: Path, stream: str) -> dict[str, t.Any]:
    """The tap's discovered catalog with only `stream` selected."""
    argv = [sys.executable, "-m", "tap_crescendo", "--config", str(config), "--discover"]
    catalog: dict[str, t.Any] = json.loads(
        subprocess.run(argv, capture_output=True, check=True).stdout
    )
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return catalog


def loop_argv(
    url: str, span: tuple[int, int], page_size: int, *, mode: str = "loop", export: str = "botconv"
) -> list[str]:
    """The command line of a loop: `loop` (plain), `msgspec-loop`, or `fetch` (no writing)."""
    return [
        sys.executable,
        __file__,
        f"--{mode}",
        url,
        export,
        f"{span[0]}",
        f"{span[1]}",
        f"{page_size}",
    ]


def read_pages(
    url: str, export: str, span: tuple[int, int], page_size: int, take: Callable[[bytes], t.Any]
) -> None:
    """Read every page of the span's daily windows, as the tap does; `take` returns the cursor."""
    import requests  # noqa: PLC0415 (only the children need it)

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    endpoint = f"{url}/api/v1/reporting/tenants/{TENANT}/{export}"
    for start in range(span[0], span[1], DAY_MS):
        params: dict[str, t.Any] = {
            "from": start,
            "to": min(start + DAY_MS, span[1]),
            "limit": page_size,
        }
        while cursor := take(session.get(endpoint, params=params, timeout=60).content):
            params = {"cursor": cursor, "limit": page_size}


def run_loop(mode: str, url: str, export: str, span: tuple[int, int], page_size: int) -> None:
    """Run loop `mode` as a child: read every page and write its rows as RECORD lines."""
    stream = STREAMS[export]
    out = sys.stdout

    def plain(content: bytes) -> t.Any:
        """json.loads, then one json.dumps RECORD line per row."""
        body = json.loads(content)
        if mode == "loop":
            for row in body["data"]:
                out.write(json.dumps({"type": "RECORD", "stream": stream, "record": row}))
                out.write("\n")
        return (body.get("cursor") or {}).get("next")

    encoder, decoder, lines = msgspec.json.Encoder(), msgspec.json.Decoder(Page), bytearray()

    def fast(content: bytes) -> t.Any:
        """Decode the page with msgspec, encode its RECORD lines with msgspec, write them."""
        page = decoder.decode(content)
        for row in page.data:
            encoder.encode_into({"type": "RECORD", "stream": stream, "record": row}, lines, -1)
            lines.extend(b"\n")
        out.buffer.write(lines)
        lines.clear()
        return page.cursor.get("next")

    read_pages(url, export, span, page_size, fast if mode == "msgspec-loop" else plain)
    out.flush()


class Page(msgspec.Struct):
    """A page as the msgspec loop reads it."""

    cursor: dict[str, t.Any]
    data: list[dict[str, t.Any]]


def benchmark_span() -> tuple[int, int]:
    """The span the tap and the loop read: every generated row, as 31 daily windows."""
    end = now_ms()
    return end - (SPAN_DAYS + 1) * DAY_MS, end


def serve_new_fields(rows: int, port: int) -> None:
    """Serve `rows` bot conversations carrying `NEW_FIELDS` (and no VOC ones) until killed."""
    end = now_ms()
    generated = generate_bot_rows(rows, start_ms=end - SPAN_DAYS * DAY_MS, end_ms=end)
    for index, row in enumerate(generated):
        row.update((name, value(index)) for name, value in NEW_FIELDS.items())
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: generated})
    with fake.serve(port=port) as url:
        print(f"Fake Crescendo API on {url}, with new fields", flush=True)
        threading.Event().wait()


@contextmanager
def serve(
    rows: int,
    *,
    page_delay_ms: int = 0,
    tenants: tuple[str, ...] = (TENANT,),
    new_fields: bool = False,
) -> Iterator[str]:
    """Run the fake API in its own process (so its memory is not ours) and yield its URL.

    Each of `tenants` holds `rows` bot conversations; with `new_fields` (one tenant, no
    delay, no VOC), they carry `NEW_FIELDS`.
    """
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
        *(flag for tenant in tenants for flag in ("--tenant", tenant)),
        "--page-delay-ms",
        str(page_delay_ms),
    ]
    if new_fields:
        argv = [sys.executable, __file__, "--serve-new-fields", str(rows), str(port)]
    url = f"http://127.0.0.1:{port}"
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as fake:
        assert fake.stdout is not None
        fake.stdout.readline()  # the fake prints its banner once it listens
        try:
            yield url
        finally:
            fake.terminate()


def median_runs(contestants: dict[str, list[str]], repeats: int) -> dict[str, Run]:
    """Run each contestant `repeats` times, alternating; its median wall and its peak RSS."""
    runs: dict[str, list[Run]] = {name: [] for name in contestants}
    for _ in range(repeats):
        for name, argv in contestants.items():
            runs[name].append(run_child(argv))
    return {
        name: Run(
            statistics.median(run.seconds for run in done), max(run.peak_rss_mib for run in done)
        )
        for name, done in runs.items()
    }


def compare(
    label: str,
    url: str,
    export: str,
    config_dir: Path,
    repeats: int,
    *,
    against: Path | None = None,
    **tap_settings: t.Any,
) -> dict[str, Run]:
    """Time the loops and the tap (with `tap_settings`) on one export; print one line.

    With `against`, each tap runs again from that folder's code, as `old tap`, `old ...`.
    """
    span = benchmark_span()
    contestants = {
        "loop": loop_argv(url, span, 1000, export=export),
        "msgspec-loop": loop_argv(url, span, 1000, mode="msgspec-loop", export=export),
    }
    for name, settings in {"tap": {}, **tap_settings}.items():
        contestants[name] = tap_argv(config_dir, url, span, stream=STREAMS[export], **settings)
        if against is not None:
            contestants[f"old {name}"] = tap_argv(
                config_dir, url, span, stream=STREAMS[export], code=against, **settings
            )
    medians = median_runs(contestants, repeats)
    walls = ", ".join(f"{name} {run.seconds:.2f} s" for name, run in medians.items())
    tap = medians["tap"]
    print(
        f"{label}: {walls}; tap/loop {tap.seconds / medians['loop'].seconds:.2f}x, "
        f"tap/msgspec-loop {tap.seconds / medians['msgspec-loop'].seconds:.2f}x; "
        f"tap peak RSS {tap.peak_rss_mib:.0f} MiB",
        flush=True,
    )
    if against is not None:
        old = medians["old tap"]
        print(
            f"{label}: old tap/loop {old.seconds / medians['loop'].seconds:.2f}x; "
            f"tap/old tap {tap.seconds / old.seconds:.3f}x; old tap peak RSS "
            f"{old.peak_rss_mib:.0f} MiB",
            flush=True,
        )
    return medians


def throughput(repeats: int, config_dir: Path, against: Path | None = None) -> None:
    """Wall time of the loops and the tap: short and long runs, BATCH files, VOC; the verdict."""
    with serve(20_000) as url:
        short = compare(
            "N= 20,000 bot, page_size 1000", url, "botconv", config_dir, repeats, against=against
        )
    with serve(200_000) as url, tempfile.TemporaryDirectory() as folder:
        batch_config = {
            "encoding": {"format": "jsonl", "compression": "none"},
            "storage": {"root": Path(folder).as_uri()},
            "batch_size": 10_000,
        }
        long = compare(
            "N=200,000 bot, page_size 1000",
            url,
            "botconv",
            config_dir,
            repeats,
            against=against,
            **{"tap BATCH": {"batch_config": batch_config}},
        )
        compare(
            "N=100,000 VOC, page_size 1000", url, "vocconv", config_dir, repeats, against=against
        )
    tap = long["tap"]
    print(
        f"BATCH jsonl/RECORD {long['tap BATCH'].seconds / tap.seconds:.2f}x (target <= 1.10x); "
        f"peak RSS N=200,000/N=20,000 {tap.peak_rss_mib / short['tap'].peak_rss_mib:.2f}x "
        f"(target <= 1.10x), BATCH {long['tap BATCH'].peak_rss_mib:.0f} MiB"
    )
    print(
        f"tap/loop {tap.seconds / long['loop'].seconds:.2f}x (target <= 0.50x), "
        f"tap/msgspec-loop {tap.seconds / long['msgspec-loop'].seconds:.2f}x",
        flush=True,
    )
    if against is not None:
        old, old_batch = long["old tap"], long["old tap BATCH"]
        print(
            f"old tap/loop {old.seconds / long['loop'].seconds:.2f}x; tap/old tap "
            f"{tap.seconds / old.seconds:.3f}x, BATCH "
            f"{long['tap BATCH'].seconds / old_batch.seconds:.3f}x (target <= 1.03x)",
            flush=True,
        )


def new_fields(repeats: int, config_dir: Path, against: Path | None = None) -> None:
    """Wall time of the loops and the tap when every row carries fields the schema lacks."""
    with serve(200_000, new_fields=True) as url:
        compare(
            f"N=200,000 bot + {', '.join(NEW_FIELDS)}, page_size 1000",
            url,
            "botconv",
            config_dir,
            repeats,
            against=against,
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
                fetch.append(run_child(loop_argv(url, span, 1000, mode="fetch")))
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


def tenants(repeats: int, config_dir: Path) -> None:
    """20 tenants of 2,000 bot rows: one run with `tenant_ids` against 20 runs in sequence."""
    names = tuple(f"tenant-{number:02d}" for number in range(1, 21))
    with serve(2_000, tenants=names) as url:
        span = benchmark_span()
        together = tap_argv(config_dir, url, span, tenant_id=None, tenant_ids=list(names))
        apart = [tap_argv(config_dir, url, span, tenant_id=name) for name in names]
        one_run, twenty_runs = [], []
        for _ in range(repeats):
            one_run.append(run_child(together).seconds)
            twenty_runs.append(sum(run_child(argv).seconds for argv in apart))
    one, twenty = statistics.median(one_run), statistics.median(twenty_runs)
    print(
        f"{len(names)} tenants x 2,000 bot rows, 31 daily windows each: one run with tenant_ids "
        f"{one:.2f} s, {len(names)} single-tenant runs in sequence {twenty:.2f} s; "
        f"one/{len(names)} {one / twenty:.2f}x",
        flush=True,
    )


def main() -> None:
    """Run the benchmark named by the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", action="store_true", help="per-page latency mode")
    parser.add_argument("--tenants", action="store_true", help="many tenants in one run")
    parser.add_argument(
        "--new-fields", action="store_true", help="every bot row with fields the schema lacks"
    )
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--against", metavar="REV", help="also time the tap of commit REV")
    for mode in LOOPS:
        parser.add_argument(f"--{mode}", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--serve-new-fields", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_new_fields:
        serve_new_fields(*args.serve_new_fields)
        return
    for mode in LOOPS:
        if child := getattr(args, mode.replace("-", "_")):
            url, export, start, end, page_size = child
            run_loop(mode, url, export, (int(start), int(end)), int(page_size))
            return
    with tempfile.TemporaryDirectory() as config_dir:
        print(
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians of "
            f"{args.repeats} alternating runs, wall times",
            flush=True,
        )
        scenario = new_fields if args.new_fields else throughput
        if args.against:
            with worktree(args.against, Path(config_dir) / "old") as old:
                scenario(args.repeats, Path(config_dir), old)
            return
        run = latency if args.latency else tenants if args.tenants else scenario
        run(args.repeats, Path(config_dir))


if __name__ == "__main__":
    main()
