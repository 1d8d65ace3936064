"""What passes between the HTTP transport and the fake: parsed requests in, answers out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
JSON_HEADERS = (("Content-Type", "application/json"),)
# How the last page of a query says there is no next page: cursor.next null, empty, or absent.
END_OF_QUERY = {"null": b'{"next":null}', "empty": b'{"next":""}', "absent": b"{}"}


@dataclass(frozen=True)
class ApiRequest:
    """An HTTP request as received: raw (still percent-encoded) path, query, headers."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    received_at: float
    #: The client's TCP port: one per connection.
    client_port: int


@dataclass(frozen=True)
class RecordedRequest(ApiRequest):
    """A request the fake answered, with the status it answered."""

    status: int


@dataclass(frozen=True)
class Answer:
    """The status, headers and body to send back, after `delay` seconds; or, if `drop`, nothing."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS
    delay: float = 0.0
    drop: bool = False


def encode_json(value: Any) -> bytes:
    """Serialize `value` compactly as UTF-8 JSON, non-ASCII characters unescaped."""
    return _ENCODER.encode(value).encode()


def error_answer(status: int, code: str, message: str) -> Answer:
    """Build an answer carrying the API's error envelope `{"code", "message"}`."""
    return Answer(status, encode_json({"code": code, "message": message}))


def page_answer(
    total: int, next_cursor: str | None, rows_json: Sequence[bytes], *, end_style: str
) -> Answer:
    """Build a 200 page: `total`, `cursor.next` (or the end marker of `end_style`), the rows."""
    cursor = (
        END_OF_QUERY[end_style]
        if next_cursor is None
        else b'{"next":%s}' % encode_json(next_cursor)
    )
    body = b'{"total":%d,"cursor":%s,"data":[%s]}' % (total, cursor, b",".join(rows_json))
    return Answer(HTTPStatus.OK, body)
