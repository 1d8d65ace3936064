"""A fake of Crescendo's reporting API on 127.0.0.1, for tests, demos and benchmarks."""

from __future__ import annotations

from tap_crescendo.fake_api.exchange import RecordedRequest
from tap_crescendo.fake_api.faults import MALFORMED_KINDS, TRANSIENT_FAULTS
from tap_crescendo.fake_api.routes import PATH_STYLES
from tap_crescendo.fake_api.rows import generate_bot_rows
from tap_crescendo.fake_api.server import FakeCrescendo
from tap_crescendo.fake_api.voc_rows import generate_voc_rows

__all__ = [
    "MALFORMED_KINDS",
    "PATH_STYLES",
    "TRANSIENT_FAULTS",
    "FakeCrescendo",
    "RecordedRequest",
    "generate_bot_rows",
    "generate_voc_rows",
]
