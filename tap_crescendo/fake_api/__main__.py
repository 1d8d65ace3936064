"""Command line: serve generated bot and VOC conversations on 127.0.0.1 until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from tap_crescendo.fake_api.query import DAY_MS
from tap_crescendo.fake_api.routes import PATH_STYLES
from tap_crescendo.fake_api.rows import generate_bot_rows
from tap_crescendo.fake_api.server import HOST, ORDERS, FakeCrescendo
from tap_crescendo.fake_api.voc_rows import generate_voc_rows

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, generate the rows and serve them; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.host != HOST:
        parser.exit(2, f"error: --host must be {HOST}: the fake API listens on loopback only\n")
    voc_count = args.rows // 2 if args.voc_rows is None else args.voc_rows
    if min(args.rows, voc_count) < 0 or args.days < 1 or not 0 <= args.port <= 65535:
        parser.error(
            "--rows and --voc-rows must be 0 or more, --days 1 or more, --port within 0..65535"
        )
    if not 0 <= args.fault_rate <= 1 or not 0 <= args.page_delay_ms < float("inf"):
        parser.error("--fault-rate must be within 0..1, --page-delay-ms 0 or more")
    now_ms = time.time_ns() // 1_000_000
    span = {"start_ms": now_ms - args.days * DAY_MS, "end_ms": now_ms}
    tenants = args.tenant or ["tenant-alpha"]
    seeds = {tenant: args.seed + index for index, tenant in enumerate(tenants)}
    fake = FakeCrescendo(
        api_keys={args.api_key: set(tenants)},
        rows={
            tenant: generate_bot_rows(args.rows, **span, seed=seed, tenant_id=tenant)
            for tenant, seed in seeds.items()
        },
        voc_rows={
            tenant: generate_voc_rows(voc_count, **span, seed=seed, tenant_id=tenant)
            for tenant, seed in seeds.items()
        },
        order=args.order,
        shuffle_seed=args.seed,
        path_styles=PATH_STYLES if args.path_style == "both" else (args.path_style,),
    )
    fake.inject_faults(args.fault_rate, seed=args.seed)
    fake.set_page_delay(args.page_delay_ms / 1000)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(fake.serve(port=args.port))
        except OSError as exc:
            print(f"error: cannot listen on {HOST}:{args.port}: {exc.strerror}", file=sys.stderr)
            return 1
        print(
            f"Fake Crescendo API on {url} (tenant {', '.join(tenants)}: {args.rows} bot and "
            f"{voc_count} VOC conversations each over {args.days} days, key {args.api_key})",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m tap_crescendo.fake_api", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=1000, help="bot conversations to generate")
    parser.add_argument(
        "--voc-rows", type=int, help="VOC conversations to generate (default: half of --rows)"
    )
    parser.add_argument("--days", type=int, default=7, help="spread them over the last D days")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rows and of shuffling")
    parser.add_argument(
        "--tenant",
        action="append",
        help="a tenant holding the rows (default tenant-alpha); repeat for several, each its own",
    )
    parser.add_argument("--api-key", default="demo-key", help="the API key that may read it")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--host", default=HOST, help=f"only {HOST} is accepted")
    parser.add_argument(
        "--path-style",
        choices=(*PATH_STYLES, "both"),
        default="both",
        help="serve the doc paths (botconv, vocconv), the OpenAPI ones, or both",
    )
    parser.add_argument("--order", choices=ORDERS, default="asc", help="order of the rows")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="fail this share of export requests with transient faults (seeded by --seed)",
    )
    parser.add_argument(
        "--page-delay-ms", type=float, default=0.0, help="send every export answer after N ms"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
