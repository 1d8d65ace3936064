"""`--test` and `meltano config test`: one request per stream, and no row or file written.

`meltano config test` runs an extractor as for a sync and stops it at its first RECORD or
BATCH message: a sync would read a whole file's worth of rows first, and leave the file.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
import typing as t

from tap_crescendo.api.pagination import decode_page
from tap_crescendo.settings import tenants_of
from tap_crescendo.stopping import POLL_SECONDS, STOP
from tap_crescendo.timestamps import format_epoch_ms

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk import Tap

    from tap_crescendo.sync.export import IncrementalExport

#: How long the tap waits, once it has answered `meltano config test`, for Meltano to stop it.
MELTANO_STOP_SECONDS = 30


def check_connection(stream: IncrementalExport) -> Iterator[str]:
    """Ask for the first page of the window ending at `end_date` (or now), tenant by tenant.

    Yields a line per tenant. A refused key, tenant or URL raises the same `APIError` as it
    would in a sync.
    """
    _, end_ms = stream.sync_span(None)
    from_ms = end_ms - stream.window_size_ms
    for tenant in tenants_of(stream.config):
        context = {"tenant_id": tenant, "from": from_ms, "to": end_ms}
        response = stream.fetch_page(context, None)
        path = response.request.path_url.split("?")[0]
        yield (
            f"Stream '{stream.name}', tenant {tenant!r}: the API key was accepted and {path} "
            f"answered: {decode_page(response).total} conversations in "
            f"[{format_epoch_ms(from_ms)}, {format_epoch_ms(end_ms)})"
        )


def under_meltano_config_test() -> bool:
    """Tell whether Meltano started the tap for `meltano config test`.

    Meltano names the extractor it starts in `MELTANO_EXTRACTOR_NAME`, and only `config test`
    gives it one pipe for both its messages and its log: no target could read that.
    """
    if "MELTANO_EXTRACTOR_NAME" not in os.environ:
        return False
    output, log = os.fstat(1), os.fstat(2)
    return stat.S_ISFIFO(output.st_mode) and os.path.samestat(output, log)


def answer_meltano_config_test(tap: Tap) -> None:
    """Check each selected stream as `--test` does, then hand Meltano the message it waits for.

    That is a BATCH message naming no file (none was written, no row read). Meltano stops
    the tap when it reads it; the tap waits for that, as Meltano signals a running process.
    """
    streams = [t.cast("IncrementalExport", s) for s in tap.streams.values() if s.selected]
    for stream in streams:
        for line in check_connection(stream):
            tap.logger.info("%s", line)
    if not streams:
        return
    encoding = {"format": "jsonl", "compression": "none"}
    answer = {"type": "BATCH", "stream": streams[0].name, "encoding": encoding, "manifest": []}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    deadline = time.monotonic() + MELTANO_STOP_SECONDS
    while not STOP.asked and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
