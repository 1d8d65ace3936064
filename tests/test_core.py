"""The SDK's standard tap tests (`singer_sdk.testing`), against the fake API."""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.testing import get_tap_test_class

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.tap import TapCrescendo
from tests.local_servers import free_port
from tests.tap_runs import API_KEY, SPAN_END_MS, SPAN_START_MS, TENANT, tap_config

if t.TYPE_CHECKING:
    from collections.abc import Iterator


PORT = free_port()

_StandardTests = get_tap_test_class(
    TapCrescendo, config=tap_config(f"http://127.0.0.1:{PORT}", page_size=25)
)


class TestTapCrescendo(_StandardTests):  # type: ignore[misc,valid-type]
    """The standard tests, with the fake API serving 120 bot and 60 VOC conversations."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _serve_fake_api(cls) -> Iterator[None]:
        rows = generate_bot_rows(120, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=3)
        voc = generate_voc_rows(60, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=3)
        fake = FakeCrescendo(
            api_keys={API_KEY: {TENANT}}, rows={TENANT: rows}, voc_rows={TENANT: voc}
        )
        with fake.serve(port=PORT):
            yield
