"""Fails when the SDK changes a method the tap's private overrides rely on.

`tap_crescendo/output/sdk_seams.py` replaces `Stream._sync_records` (records written a page at a
time, a STATE between partitions by `_write_state_message`, then `_finalize_state` as the SDK's
loop calls it), maps records with `_generate_record_messages` when the catalog deselects
properties, and writes RECORD lines as `RecordMessage.to_dict` would make them. A tenant's
STATE is written by `finalize_state_progress_markers`. If one of these changes, review the
override, then update the digest. No other module reaches into the SDK's private parts.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import typing as t
from pathlib import Path

import pytest
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams.core import Stream

import tap_crescendo

CHECKED: dict[str, tuple[t.Any, str]] = {
    "Stream._generate_record_messages": (Stream._generate_record_messages, "9b5f9fbcdedb7a1a"),
    "Stream._finalize_state": (Stream._finalize_state, "e08e1d0714a904b2"),
    "Stream._sync_records": (Stream._sync_records, "8928dc7f50e9bf57"),
    "Stream._write_state_message": (Stream._write_state_message, "f82ecd8d16986823"),
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


#: What only the seams module may touch: the tap behind a stream, private SDK methods and
#: attributes, and the SDK's private helper modules.
PRIVATE_SDK = re.compile(
    r"\._tap\b|\._stream_version\b|\._generate_record_messages\b|\._write_state_message\b"
    r"|\._finalize_state\b|\b_sync_records\b|singer_sdk\.helpers\._"
)


def test_no_module_but_the_seams_reaches_into_the_sdk() -> None:
    package = Path(tap_crescendo.__file__).parent
    seams = package / "output" / "sdk_seams.py"

    reaching = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if path != seams
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE_SDK.search(line)
    ]

    assert reaching == []
    assert PRIVATE_SDK.search(seams.read_text(encoding="utf-8"))
