"""The one place the tap overrides a private method of the Singer SDK.

Checked against singer-sdk 0.54.x (see `pyproject.toml`); `tests/test_sdk_seams.py`
fails when the SDK changes the methods this relies on, so an upgrade is reviewed.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.streams.core import Stream

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.helpers import types


class WindowCheckpoints(Stream):
    """A stream whose bookmark moves per completed time window, never per record.

    The SDK would track unsorted records in `progress_markers` and promote them only
    at the end of the run; our windows checkpoint themselves (see `client.py`).
    """

    @override
    def _increment_stream_state(
        self,
        latest_record: types.Record,
        *,
        context: types.Context | None = None,
    ) -> None:
        """Leave the bookmark alone: a window moves it when it is complete."""
