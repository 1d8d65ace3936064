"""`make demo`: the fake API, then `meltano run tap-crescendo target-csv` into CSV files."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.fake_api.query import DAY_MS

if TYPE_CHECKING:
    from collections.abc import Sequence

API_KEY = "demo-key"
TENANT = "tenant-alpha"


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the demo rows, run the Meltano pipeline, print where the rows are."""
    parser = argparse.ArgumentParser(prog="python -m tap_crescendo.demo", description=__doc__)
    parser.add_argument("--rows", type=int, default=1000, help="conversations over the last 7 days")
    parser.add_argument("--port", type=int, default=8765, help="port of the fake API (0: any)")
    parser.add_argument("--output", type=Path, default=Path("output"), help="CSV directory")
    args = parser.parse_args(argv)
    if not Path("meltano.yml").is_file():
        parser.error("run it from the repository root, where meltano.yml is")
    # `meltano run` installs the plugins first when they are missing or out of date.
    meltano = str(Path(sys.executable).with_name("meltano"))
    now_ms = time.time_ns() // 1_000_000
    rows = generate_bot_rows(
        args.rows, start_ms=now_ms - 7 * DAY_MS, end_ms=now_ms, tenant_id=TENANT
    )
    voc_rows = generate_voc_rows(
        args.rows // 2, start_ms=now_ms - 7 * DAY_MS, end_ms=now_ms, tenant_id=TENANT
    )
    fake = FakeCrescendo(
        api_keys={API_KEY: {TENANT}}, rows={TENANT: rows}, voc_rows={TENANT: voc_rows}
    )
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(fake.serve(port=args.port))
        except OSError as error:
            parser.exit(1, f"error: cannot serve on port {args.port}: {error.strerror}\n")
        env = {
            **os.environ,
            "TAP_CRESCENDO_API_URL": url,
            "TARGET_CSV_OUTPUT_PATH": str(args.output),
        }
        command = [meltano, "--environment=demo", "run", "--full-refresh"]
        done = subprocess.run([*command, "tap-crescendo", "target-csv"], env=env, check=False)
    if done.returncode:
        return done.returncode
    print(
        f"{len(rows)} bot and {len(voc_rows)} VOC conversations served by the fake API "
        f"on {url}; now in:"
    )
    for path in sorted(args.output.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as file:
            count = sum(1 for _ in csv.DictReader(file))
        print(f"  {path}: {count} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
