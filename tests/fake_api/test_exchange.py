"""Answers as sent (`exchange.py`): compact UTF-8 JSON, and how the last page ends a query."""

from __future__ import annotations

import typing as t

import pytest

from tests.fake_api.client import DAY_MS, END_MS, START_MS, TENANT, span

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Api, Row


def test_body_is_compact_utf8_json_with_content_type_and_length(api: Api) -> None:
    response = api.get(span(START_MS, END_MS, limit=5))

    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content.startswith(b'{"total":250,"cursor":{"next":"')
    assert b'"data":[{"ID":"' in response.content
    assert response.raw.version == 11


def test_non_ascii_text_is_sent_unescaped(
    start_api: Callable[..., Api], bot_sample: list[Row]
) -> None:
    api = start_api(rows={TENANT: [{**bot_sample[0], "Summary": 'Café \u2013 naïve ✓, "quoted"'}]})

    content = api.get(span(START_MS, END_MS)).content

    assert '"Summary":"Café \u2013 naïve ✓, \\"quoted\\""'.encode() in content


@pytest.mark.parametrize(
    ("style", "end"),
    [
        pytest.param("null", {"next": None}, id="null"),
        pytest.param("empty", {"next": ""}, id="empty"),
        pytest.param("absent", {}, id="absent"),
    ],
)
def test_the_last_page_ends_the_query_in_the_chosen_style(
    api: Api, style: str, end: dict[str, t.Any]
) -> None:
    api.fake.set_last_cursor_style(style)

    bodies = api.pages(span(START_MS, END_MS, limit=100))
    empty = api.ok(span(END_MS, END_MS + DAY_MS))

    assert [len(body["data"]) for body in bodies] == [100, 100, 50]
    assert all(isinstance(body["cursor"]["next"], str) for body in bodies[:-1])
    assert bodies[-1]["cursor"] == end
    assert empty["cursor"] == end


def test_an_unknown_last_cursor_style_is_refused(api: Api) -> None:
    with pytest.raises(ValueError, match="style must be one of null, empty, absent"):
        api.fake.set_last_cursor_style("missing")
