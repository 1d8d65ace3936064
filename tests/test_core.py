"""The SDK's standard tap tests (`singer_sdk.testing`), against the fake API."""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.testing import TapTestRunner, get_tap_test_class

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.tap import TapCrescendo
from tests.support.tap_runs import API_KEY, SPAN_END_MS, SPAN_START_MS, TENANT, tap_config

if t.TYPE_CHECKING:
    from collections.abc import Iterator

# The tap built here only names the streams the standard tests run for and sends no request
# (nothing listens on port 9): `runner` below syncs against a fake served for the class.
_StandardTests = get_tap_test_class(
    TapCrescendo, config=tap_config("http://127.0.0.1:9", page_size=25)
)


class TestTapCrescendo(_StandardTests):  # type: ignore[misc,valid-type]
    """The standard tests, with the fake API serving 120 bot and 60 VOC conversations."""

    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls) -> Iterator[TapTestRunner]:
        """Serve the fake on a free port for this class; sync the tap against it once."""
        rows = generate_bot_rows(120, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=3)
        voc = generate_voc_rows(60, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=3)
        fake = FakeCrescendo(
            api_keys={API_KEY: {TENANT}}, rows={TENANT: rows}, voc_rows={TENANT: voc}
        )
        with fake.serve() as url:
            runner = TapTestRunner(
                TapCrescendo, config=tap_config(url, page_size=25), parse_env_config=True
            )
            runner.sync_all()
            yield runner
