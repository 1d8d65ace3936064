"""Reading answers: bodies in one piece, errors in one line (status, `{code, message}`)."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import msgspec

if t.TYPE_CHECKING:
    import requests

#: How much of a body that is not the error envelope to quote.
QUOTE_LIMIT = 200


class ErrorEnvelope(msgspec.Struct):
    """The API's error body: `{"code": "...", "message": "..."}`."""

    code: str
    message: str


_decoder = msgspec.json.Decoder(ErrorEnvelope)


def describe_error(response: requests.Response) -> str:
    """Return e.g. `HTTP 403 PermissionDenied: API key does not allow this operation`."""
    status = f"HTTP {response.status_code}"
    try:
        envelope = _decoder.decode(response.content)
    except msgspec.DecodeError:
        reason = response.reason or _phrase(response.status_code)
        body = " ".join(response.text.split())[:QUOTE_LIMIT]
        return f"{status} {reason}" + (f" (body: {body})" if body else "")
    return f"{status} {envelope.code}: {envelope.message}"


def read_body(response: requests.Response) -> None:
    """Read a streamed answer's body at once; `response.content` then returns it.

    requests would read 10 KiB at a time, and copy: each piece makes the reading thread
    wait for the interpreter lock held by the thread writing records.
    """
    response._content = response.raw.read(decode_content=True)


def retry_after_seconds(
    response: requests.Response, *, now: datetime | None = None
) -> float | None:
    """Return the wait a `Retry-After` header asks for (seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max((moment - now).total_seconds(), 0.0)


def _phrase(status: int) -> str:
    """Return the standard reason phrase of a status code."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown status"
