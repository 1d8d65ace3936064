"""`--test`: one request per stream, telling that the key was accepted and the export answered."""

from __future__ import annotations

import typing as t

from tap_crescendo.pagination import decode_page
from tap_crescendo.timestamps import format_epoch_ms

if t.TYPE_CHECKING:
    from tap_crescendo.incremental import IncrementalExport


def check_connection(stream: IncrementalExport) -> str:
    """Ask for the first page of the window ending at `end_date` (or now); return a line.

    A refused key, tenant or URL raises the same `APIError` as it would in a sync.
    """
    _, end_ms = stream.sync_span(None)
    from_ms = end_ms - stream.window_size_ms
    response = stream.fetch_page({"from": from_ms, "to": end_ms}, None)
    total = decode_page(response).total
    path = response.request.path_url.split("?")[0]
    return (
        f"Stream '{stream.name}': the API key was accepted and {path} answered: {total} "
        f"conversations in [{format_epoch_ms(from_ms)}, {format_epoch_ms(end_ms)})"
    )
