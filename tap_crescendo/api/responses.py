"""Reading answers: bodies in one piece, errors in one line (status, `{code, message}`)."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import typing as t
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import msgspec
import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from tap_crescendo.api.deadlines import DEADLINES
from tap_crescendo.api.redaction import escaped, masked, quoted
from tap_crescendo.errors import APIError

if t.TYPE_CHECKING:
    from urllib3 import HTTPResponse

#: How much of a body that is not the error envelope to quote.
QUOTE_LIMIT = 200
#: The most bytes one answer's body may hold once decoded: far above any page, it keeps a
#: broken or hostile server (or a gzip bomb) from filling the memory.
MAX_BODY_BYTES = 256 * 2**20
#: The most bytes one read of a body of unknown length takes: what the connection holds,
#: not requests' 10 KiB pieces, each of which makes the thread wait for the interpreter lock.
READ_BYTES = 4 * 2**20


class ErrorEnvelope(msgspec.Struct):
    """The API's error body: `{"code": "...", "message": "..."}`."""

    code: str
    message: str


_decoder = msgspec.json.Decoder(ErrorEnvelope)


def describe_error(response: requests.Response) -> str:
    """Return e.g. `HTTP 403 PermissionDenied: API key does not allow this operation`.

    What the server says is quoted (`quoted`): no key, no line break, no escape sequence.
    """
    status = f"HTTP {response.status_code}"
    try:
        envelope = _decoder.decode(response.content)
    except (msgspec.DecodeError, RecursionError):  # not the envelope, or nested too deep
        reason = quoted(response.reason or _phrase(response.status_code))
        body = escaped(" ".join(masked(response.text).split())[:QUOTE_LIMIT])
        return f"{status} {reason}" + (f" (body: {body})" if body else "")
    return f"{status} {quoted(envelope.code)}: {quoted(envelope.message)}"


def read_body(response: requests.Response, *, limit: int, deadline: float) -> None:
    """Read a streamed answer's body, decoded, by `deadline` (monotonic); `.content` is it.

    A body cut short, undecodable or late raises what the SDK retries; over `limit`, `APIError`.
    """
    request = f"{response.request.method} {quoted(str(response.request.path_url))}"
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > limit:
        raise _too_large(request, f"announces {int(announced):,} bytes, more", limit)
    late = threading.Event()
    try:
        with DEADLINES.watch(deadline, functools.partial(_interrupt, response.raw, late)):
            body = _read_all(response.raw, limit, request)
    except (ProtocolError, DecodeError, ReadTimeoutError) as error:
        if late.is_set() or isinstance(error, ReadTimeoutError):
            raise _late(request) from None
        raise _unreadable(response, request, error) from None
    # A body without a length seems whole when its read is cut short; one that was whole
    # only after the deadline (there at once, its headers late) may be read before it is cut.
    if late.is_set() or time.monotonic() > deadline:
        raise _late(request)
    response._content = body


def _interrupt(raw: HTTPResponse, late: threading.Event) -> None:
    """End the read of a body that is late (urllib3 refuses once the body is all read)."""
    late.set()
    with contextlib.suppress(RuntimeError, ValueError, OSError):
        raw.shutdown()


def _read_all(raw: HTTPResponse, limit: int, request: str) -> bytes:
    """Read a body, decoded; refuse it past `limit` bytes."""
    if raw.length_remaining is not None and "Content-Encoding" not in raw.headers:
        return raw.read(decode_content=True)  # as long as announced: in one piece, no copy
    chunks: list[bytes] = []
    size = 0
    while chunk := raw.read1(READ_BYTES, decode_content=True):
        size += len(chunk)
        if size > limit:
            raise _too_large(request, "holds more", limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _late(request: str) -> requests.exceptions.ReadTimeout:
    """The error for an answer whose body was not whole by the end of `request_timeout`."""
    msg = f"the answer to {request} was not complete by the end of `request_timeout`"
    return requests.exceptions.ReadTimeout(msg)


def _unreadable(
    response: requests.Response, request: str, error: ProtocolError | DecodeError
) -> requests.RequestException:
    """The error for a body cut short or not in its announced `Content-Encoding`."""
    reason = quoted(str(error.args[-1] if error.args else error))  # not urllib3's preamble
    if isinstance(error, ProtocolError):
        msg = f"the answer to {request} ended before its body did ({reason})"
        return requests.exceptions.ChunkedEncodingError(msg)
    encoding = quoted(response.headers.get("Content-Encoding", ""))
    msg = f"the body of the answer to {request} is not {encoding} ({reason})"
    return requests.exceptions.ContentDecodingError(msg)


def _too_large(request: str, problem: str, limit: int) -> APIError:
    """The error for an answer's body over `limit` bytes."""
    msg = (
        f"The answer to {request} {problem} than the {limit:,} bytes the tap takes "
        "in one answer; lower `page_size`"
    )
    return APIError(msg)


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
