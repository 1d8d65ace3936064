"""The export's path is settled once, safely, however many windows ask for their first page."""

from __future__ import annotations

import threading
import typing as t
from concurrent.futures import ThreadPoolExecutor

from tap_crescendo.fake_api import FakeCrescendo
from tap_crescendo.tap import TapCrescendo
from tests.support.tap_runs import API_KEY, SPAN_START_MS, TENANT, sync, tap_config

if t.TYPE_CHECKING:
    from tap_crescendo.api.client import CrescendoStream

DAY_MS = 86_400_000
WORKERS = 8


def test_many_windows_asking_at_once_settle_on_the_one_path_that_answers(
    bot_rows: list[dict[str, t.Any]],
) -> None:
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows})
    fake.serve_only("openapi")
    start = threading.Barrier(WORKERS)
    with fake.serve() as url:
        stream = t.cast(
            "CrescendoStream", TapCrescendo(config=tap_config(url)).streams["bot_conversations"]
        )

        def first_page(day: int) -> int:
            start.wait(timeout=30)
            window = {
                "tenant_id": TENANT,
                "from": SPAN_START_MS + day * DAY_MS,
                "to": SPAN_START_MS + (day + 1) * DAY_MS,
            }
            status: int = stream.fetch_page(window, None).status_code
            return status

        with ThreadPoolExecutor(WORKERS) as pool:
            statuses = list(pool.map(first_page, range(WORKERS)))

    assert statuses == [200] * WORKERS
    assert stream.export_path == "assistant/conversations"
    paths = [(r.path.rsplit(TENANT, 1)[-1], r.status) for r in fake.requests]
    assert paths.count(("/botconv", 404)) == 1
    assert paths.count(("/assistant/conversations", 200)) == WORKERS
    assert len(paths) == WORKERS + 1


def test_parallel_windows_read_everything_from_the_other_path(
    bot_rows: list[dict[str, t.Any]],
) -> None:
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bot_rows})
    fake.serve_only("openapi")
    with fake.serve() as url:
        result = sync(tap_config(url, max_parallel_windows=WORKERS, page_size=10))

    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bot_rows)
    refused = [r.path.rsplit(TENANT, 1)[-1] for r in fake.requests if r.status == 404]
    assert refused == ["/botconv", "/vocconv"]
