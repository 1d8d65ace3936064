"""Reading answers (`responses.py`): the wait a `Retry-After` header asks for."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from tap_crescendo.api.responses import retry_after_seconds

NOW = datetime(2026, 10, 21, 7, 27, 30, tzinfo=timezone.utc)


def answer(headers: dict[str, str]) -> requests.Response:
    """A 429 answer with `headers`, as requests builds it."""
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    return response


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        pytest.param({"Retry-After": "2"}, 2.0, id="seconds"),
        pytest.param({"Retry-After": "0"}, 0.0, id="zero"),
        pytest.param({"Retry-After": "1.5"}, 1.5, id="fraction"),
        pytest.param({"Retry-After": " 3 "}, 3.0, id="surrounding-space"),
        pytest.param({"retry-after": "4"}, 4.0, id="any-case-name"),
        pytest.param({"Retry-After": "-4"}, 0.0, id="negative-is-now"),
        pytest.param({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, 30.0, id="http-date"),
        pytest.param({"Retry-After": "Wed, 21 Oct 2026 07:27:00 GMT"}, 0.0, id="past-http-date"),
        pytest.param({"Retry-After": "soon"}, None, id="garbage"),
        pytest.param({"Retry-After": "Wed, 32 Oct 2026 07:28:00 GMT"}, None, id="bad-date"),
        pytest.param({"Retry-After": ""}, None, id="empty"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_retry_after_seconds_reads_seconds_or_an_http_date(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert retry_after_seconds(answer(headers), now=NOW) == seconds
