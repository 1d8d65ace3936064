"""The fake's tests' fixtures: sample rows, and fakes served with a client to call them."""

from __future__ import annotations

import contextlib
import typing as t

import pytest
import requests

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tests.fake_api.client import END_MS, KEY, OTHER_KEY, START_MS, TENANT, Api

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.fake_api.client import Row


@pytest.fixture(scope="session")
def bot_sample() -> list[Row]:
    """250 bot conversations of the test tenant over the ten days of the test span (seed 11)."""
    return generate_bot_rows(250, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)


@pytest.fixture(scope="session")
def voc_sample() -> list[Row]:
    """120 VOC conversations of the test tenant over the ten days of the test span (seed 11)."""
    return generate_voc_rows(120, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)


@pytest.fixture
def start_api(bot_sample: list[Row], voc_sample: list[Row]) -> Iterator[Callable[..., Api]]:
    """Start fakes that live until the test ends; keywords go to `FakeCrescendo`.

    By default a fake serves both samples to `KEY`, and "tenant-beta" (no rows) to `OTHER_KEY`.
    """
    with contextlib.ExitStack() as stack:

        def start(**options: t.Any) -> Api:
            options.setdefault("api_keys", {KEY: {TENANT}, OTHER_KEY: {"tenant-beta"}})
            options.setdefault("rows", {TENANT: bot_sample})
            options.setdefault("voc_rows", {TENANT: voc_sample})
            fake = FakeCrescendo(**options)
            url = stack.enter_context(fake.serve())
            session = stack.enter_context(requests.Session())
            session.trust_env = False
            return Api(fake, url, session)

        yield start


@pytest.fixture
def api(start_api: Callable[..., Api]) -> Api:
    """A fake serving both samples, and a client for it."""
    return start_api()
