"""Fails when the SDK changes a method the tap's private override relies on.

`tap_crescendo/sdk_seams.py` replaces `Stream._increment_stream_state` and
`Stream._generate_record_messages` (a lean path when nothing is pruned); the windows
call `finalize_state_progress_markers` to checkpoint, and `_sync_records` is the loop
that calls both. If one of these changes, review the override, then update the digest.
"""

from __future__ import annotations

import hashlib
import inspect

import pytest
from singer_sdk.streams.core import Stream

CHECKED = {
    "_generate_record_messages": "9b5f9fbcdedb7a1a",
    "_increment_stream_state": "cabc0edb2fd4f000",
    "_sync_records": "8928dc7f50e9bf57",
    "finalize_state_progress_markers": "295d29eb8b73d5c5",
}


@pytest.mark.parametrize(("method", "digest"), CHECKED.items())
def test_sdk_method_is_the_one_the_override_was_checked_against(method: str, digest: str) -> None:
    source = inspect.getsource(getattr(Stream, method))

    assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest
