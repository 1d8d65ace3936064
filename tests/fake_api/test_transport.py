"""HTTP on 127.0.0.1 (`transport.py`): query parsing, delays in each request's own thread, drops."""

from __future__ import annotations

import typing as t
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.fake_api.client import END_MS, KEY, START_MS, span

if t.TYPE_CHECKING:
    from tests.fake_api.client import Api

PAGE = span(START_MS, END_MS, limit=100)


def test_the_request_log_keeps_the_last_of_repeated_parameters(api: Api) -> None:
    api.session.get(api.url + api.path() + "?limit=3&limit=4&range=", timeout=10)

    assert api.fake.requests[0].query == {"limit": "4", "range": ""}


def test_a_dropped_request_is_a_connection_error_recorded_as_0(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.fake.inject_faults(1.0, kinds=["drop"])

    with pytest.raises(requests.ConnectionError):
        api.get(PAGE)
    api.fake.inject_faults(0)
    after = api.get(PAGE)

    assert after.status_code == 200
    assert [r.status for r in api.fake.requests] == [0, 200]
    assert capsys.readouterr().err == ""


def test_a_slow_answer_outlasts_a_shorter_client_timeout(api: Api) -> None:
    api.fake.inject_faults(1.0, kinds=["slow"], slow_seconds=0.5)

    with pytest.raises(requests.Timeout):
        api.get(PAGE, timeout=0.1)

    assert [r.status for r in api.fake.requests] == [200]


def test_page_delays_run_concurrently(api: Api) -> None:
    delay = 1.0
    api.fake.set_page_delay(delay)

    def fetch(_: int) -> int:
        with requests.Session() as session:  # a session per thread: sessions are not thread-safe
            session.trust_env = False
            headers = {"Authorization": f"Bearer {KEY}"}
            return session.get(
                api.url + api.path(), params=PAGE, headers=headers, timeout=10
            ).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(fetch, range(2)))

    assert statuses == [200, 200]
    first, second = sorted(request.received_at for request in api.fake.requests)
    # Served one at a time, the second request would be read only once the first was answered.
    assert second - first < delay
