"""A fake of Crescendo's reporting API on 127.0.0.1, for tests, demos and benchmarks."""

from __future__ import annotations

from tap_crescendo.fake_api.exchange import RecordedRequest
from tap_crescendo.fake_api.rows import generate_bot_rows
from tap_crescendo.fake_api.server import FakeCrescendo

__all__ = ["FakeCrescendo", "RecordedRequest", "generate_bot_rows"]
