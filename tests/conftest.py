"""Fixtures: a fake Crescendo API over real HTTP on 127.0.0.1, and ways to run the tap."""

from __future__ import annotations

import logging
import os
import sys
import typing as t

import pytest

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows
from tests.support.tap_runs import API_KEY, SPAN_END_MS, SPAN_START_MS, TENANT

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: The local S3 server's fixtures, `s3_endpoint` and `bucket`.
pytest_plugins = ["tests.support.s3_server"]

# Under Python 3.10 (end of life 2026-10) the SDK warns on every run, over two lines that are
# Python's warning format, not the tap's: the runs the tests start leave that warning out.
if sys.version_info < (3, 11):
    os.environ.setdefault("PYTHONWARNINGS", "ignore:Python 3.10 reached its end of life")


@pytest.fixture
def bot_rows() -> list[dict[str, t.Any]]:
    """250 bot conversations spread over the ten days of the test span."""
    return generate_bot_rows(
        250, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=7, tenant_id=TENANT
    )


@pytest.fixture
def fake(bot_rows: list[dict[str, t.Any]]) -> FakeCrescendo:
    """A fake API holding `bot_rows` for the test tenant, readable with the test key."""
    return FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows})


@pytest.fixture
def api_url(fake: FakeCrescendo) -> Iterator[str]:
    """The base URL of the running fake API."""
    with fake.serve() as url:
        yield url


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The log records of a test, from INFO up."""
    caplog.set_level(logging.INFO)
    return caplog


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: t.Any) -> t.Any:
    """Under `--dist loadgroup` (`make test`), every test of the Meltano project on one worker.

    A worker that sets up the `meltano` fixture runs `meltano install` into the one `.meltano/`,
    which empties `.meltano/run/` and reinstalls the plugins that another worker may be running.
    So the modules that load those fixtures form one unit of work, the largest, so sent first; each
    other test is a unit of its own. (pytest 9.2 drops the `xdist_group` marks that loadgroup
    reads, pytest-xdist issue 1386: the unit is made here instead.)
    """
    from xdist.scheduler import LoadGroupScheduling  # noqa: PLC0415  # only under pytest-xdist

    if config.getvalue("dist") != "loadgroup":
        return None
    loads_meltano: dict[str, bool] = {}

    class MeltanoOnOneWorker(LoadGroupScheduling):  # type: ignore[misc]  # xdist has no types
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.partition("::")[0]
            if module not in loads_meltano:
                text = (config.rootpath / module).read_text(encoding="utf-8")
                loads_meltano[module] = "tests.support.pipeline_fixtures" in text
            return "meltano" if loads_meltano[module] else nodeid

    return MeltanoOnOneWorker(config, log)
