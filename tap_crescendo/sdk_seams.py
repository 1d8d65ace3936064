"""The one place the tap overrides private methods of the Singer SDK.

Checked against singer-sdk 0.54.x (see `pyproject.toml`); `tests/test_sdk_seams.py`
fails when the SDK changes the methods this relies on, so an upgrade is reviewed.
"""

from __future__ import annotations

import sys
import typing as t
from datetime import datetime, timezone
from functools import cached_property

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams.core import Stream

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Generator

    from singer_sdk.helpers import types

NO_CONFORMANCE = TypeConformanceLevel.NONE


class WindowCheckpoints(Stream):
    """A stream whose bookmark moves per completed window, with a lean record path.

    The SDK would track unsorted records in `progress_markers` and promote them only
    at the end of the run; our windows checkpoint themselves (see `incremental.py`).
    """

    @cached_property
    def _every_property_selected(self) -> bool:
        """Tell whether the catalog selects every property (the usual case)."""
        return all(self.mask.get(("properties", name), True) for name in self.schema["properties"])

    @override
    def _generate_record_messages(
        self, record: types.Record
    ) -> Generator[RecordMessage, None, None]:
        """Skip the SDK's per-record pruning and type conformance when they change nothing.

        With every property selected and `TYPE_CONFORMANCE_LEVEL` NONE (records are
        normalized per field in `incremental.py`), only the stream maps remain to apply.
        """
        if not self._every_property_selected or self.TYPE_CONFORMANCE_LEVEL != NO_CONFORMANCE:
            yield from super()._generate_record_messages(record)
            return
        extracted = datetime.now(timezone.utc)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted,
                )

    @override
    def _increment_stream_state(
        self,
        latest_record: types.Record,
        *,
        context: types.Context | None = None,
    ) -> None:
        """Leave the bookmark alone: a window moves it when it is complete."""
