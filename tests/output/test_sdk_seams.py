"""Fails when the SDK changes a method the tap's private overrides rely on.

`tap_crescendo/output/sdk_seams.py` replaces `Stream._sync_records` (records written a page at a
time, then `_finalize_state` as the SDK's loop calls it) and `Stream._write_record_message` (RECORD
lines written straight from the record, as `_generate_record_messages` and
`RecordMessage.to_dict` would make them). The windows call `finalize_state_progress_markers`
to checkpoint. If one of these changes, review the override, then update the digest.
"""

from __future__ import annotations

import hashlib
import inspect
import typing as t

import pytest
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams.core import Stream

CHECKED: dict[str, tuple[t.Any, str]] = {
    "Stream._generate_record_messages": (Stream._generate_record_messages, "9b5f9fbcdedb7a1a"),
    "Stream._finalize_state": (Stream._finalize_state, "e08e1d0714a904b2"),
    "Stream._sync_records": (Stream._sync_records, "8928dc7f50e9bf57"),
    "Stream._write_record_message": (Stream._write_record_message, "292b7bed39883bd9"),
    "Stream.finalize_state_progress_markers": (
        Stream.finalize_state_progress_markers,
        "295d29eb8b73d5c5",
    ),
    "RecordMessage.to_dict": (RecordMessage.to_dict, "821fe177d16c97aa"),
}


@pytest.mark.parametrize(("method", "digest"), CHECKED.values(), ids=CHECKED.keys())
def test_sdk_method_is_the_one_the_override_was_checked_against(method: t.Any, digest: str) -> None:
    source = inspect.getsource(method)

    assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest
