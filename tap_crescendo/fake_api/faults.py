"""Faults the tests ask for on export requests: failures, malformed pages, delays, wrong totals.

Every export request first asks `Faults.decide` for a ready-made failure (which spares the query:
no cursor is looked up or issued) and a delay; a 200 answer then passes through `Faults.malform`.
"""

from __future__ import annotations

import json
import math
import random
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from tap_crescendo.fake_api.exchange import Answer, encode_json, error_answer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

TRANSIENT_FAULTS = ("429", "500", "502", "503", "504", "drop", "slow")
MALFORMED_KINDS = (
    "html",
    "truncated",
    "data_missing",
    "data_not_list",
    "cursor_malformed",
    "not_json_object",
)
# The error envelope of each status; any other status gets code "Unknown".
ENVELOPES: dict[int, tuple[str, str]] = {
    HTTPStatus.BAD_REQUEST: ("BadRequest", "Invalid request parameters"),
    HTTPStatus.NOT_FOUND: ("NotFound", "Not found"),
    HTTPStatus.TOO_MANY_REQUESTS: ("ResourceExhausted", "Rate limit exceeded"),
    HTTPStatus.INTERNAL_SERVER_ERROR: ("Internal", "Internal error"),
    HTTPStatus.SERVICE_UNAVAILABLE: ("Unavailable", "Elastic search failed"),
}
HTML_HEADERS = (("Content-Type", "text/html"),)
HTML_PAGE = b"<html><head><title>Sign in</title></head><body><p>Please sign in.</p></body></html>"
DROPPED = Answer(0, b"", (), drop=True)


@dataclass(frozen=True)
class Decision:
    """The failure to answer instead of the page (None: answer normally), and the delay before."""

    answer: Answer | None
    delay: float


NO_FAULT = Decision(None, 0.0)


def status_answer(status: int, *, retry_after: str | None = None) -> Answer:
    """Build an answer with the error envelope of `status`, and a Retry-After header if given."""
    code, message = ENVELOPES.get(status, ("Unknown", "Unknown error"))
    answer = error_answer(status, code, message)
    if retry_after is None:
        return answer
    return Answer(status, answer.body, (*answer.headers, ("Retry-After", retry_after)))


def proxy_answer(status: int) -> Answer:
    """Build the short HTML page a reverse proxy sends for `status`, with no envelope."""
    title = f"{status} {HTTPStatus(status).phrase}"
    return Answer(status, f"<html><body><h1>{title}</h1></body></html>".encode(), HTML_HEADERS)


def format_seconds(seconds: float) -> str:
    """Format seconds for Retry-After: an integer when whole, else a decimal."""
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


class TransientFaults:
    """A seeded plan: each export request fails with probability `rate`, in one of `kinds`."""

    def __init__(
        self,
        rate: float,
        *,
        kinds: Iterable[str],
        seed: int,
        retry_after: float,
        slow_seconds: float,
    ) -> None:
        kinds = tuple(kinds)
        unknown = [kind for kind in kinds if kind not in TRANSIENT_FAULTS]
        if not kinds or unknown:
            msg = f"kinds must be some of {', '.join(TRANSIENT_FAULTS)}, got {kinds!r}"
            raise ValueError(msg)
        if not 0 <= rate <= 1:
            msg = f"rate must be between 0 and 1, got {rate!r}"
            raise ValueError(msg)
        check_seconds("retry_after", retry_after)
        check_seconds("slow_seconds", slow_seconds)
        self.rate = rate
        self._kinds = kinds
        self._random = random.Random(seed)
        wait = format_seconds(retry_after)
        self._decisions = {
            "429": Decision(status_answer(HTTPStatus.TOO_MANY_REQUESTS, retry_after=wait), 0.0),
            "500": Decision(status_answer(HTTPStatus.INTERNAL_SERVER_ERROR), 0.0),
            "502": Decision(proxy_answer(HTTPStatus.BAD_GATEWAY), 0.0),
            "503": Decision(status_answer(HTTPStatus.SERVICE_UNAVAILABLE, retry_after=wait), 0.0),
            "504": Decision(proxy_answer(HTTPStatus.GATEWAY_TIMEOUT), 0.0),
            "drop": Decision(DROPPED, 0.0),
            "slow": Decision(None, slow_seconds),
        }

    def draw(self) -> Decision:
        """Draw a request's fault; always two draws, so with one seed a higher rate adds faults."""
        roll, kind = self._random.random(), self._random.choice(self._kinds)
        return self._decisions[kind] if roll < self.rate else NO_FAULT


class Faults:
    """The faults asked for so far. Not thread-safe: the fake calls it under its own lock."""

    def __init__(self) -> None:
        self.transient: TransientFaults | None = None
        self.page_delay = 0.0
        self.total_delta = 0
        self._failures: deque[Answer] = deque()
        self._malformed: deque[str] = deque()

    def fail_next(self, status: int, *, count: int, retry_after: str | None) -> None:
        """Fail the next `count` export requests (after any already queued) with `status`."""
        if not 400 <= status <= 599 or count < 0:
            msg = f"status must be within 400..599 and count 0 or more, got {status!r}, {count!r}"
            raise ValueError(msg)
        self._failures.extend([status_answer(status, retry_after=retry_after)] * count)

    def malform_next_page(self, kind: str) -> None:
        """Make the next 200 (after any already queued) a page out of contract, of `kind`."""
        if kind not in MALFORMED_KINDS:
            msg = f"kind must be one of {', '.join(MALFORMED_KINDS)}, got {kind!r}"
            raise ValueError(msg)
        self._malformed.append(kind)

    def decide(self) -> Decision:
        """Decide an export request's failure and delay: queued failures first, then the plan."""
        drawn = NO_FAULT if self.transient is None else self.transient.draw()
        if self._failures:
            return Decision(self._failures.popleft(), self.page_delay)
        return Decision(drawn.answer, drawn.delay + self.page_delay)

    def malform(self, page: Answer) -> Answer:
        """Return the 200 `page`, or the malformed page queued for it."""
        if not self._malformed:
            return page
        return MALFORMERS[self._malformed.popleft()](page)


def check_seconds(name: str, seconds: float) -> None:
    """Raise `ValueError` unless `seconds` is a finite duration of 0 or more."""
    if not (math.isfinite(seconds) and seconds >= 0):
        msg = f"{name} must be a finite number of seconds, 0 or more, got {seconds!r}"
        raise ValueError(msg)


def _rewritten(change: Callable[[dict[str, Any]], Any]) -> Callable[[Answer], Answer]:
    """Return a malformer that re-encodes the page's JSON object as `change` makes it."""

    def malformer(page: Answer) -> Answer:
        """Answer the changed page."""
        return Answer(page.status, encode_json(change(json.loads(page.body))), page.headers)

    return malformer


MALFORMERS: dict[str, Callable[[Answer], Answer]] = {
    "html": lambda page: Answer(page.status, HTML_PAGE, HTML_HEADERS),
    "truncated": lambda page: Answer(page.status, page.body[: len(page.body) // 2], page.headers),
    "data_missing": _rewritten(lambda body: {"total": body["total"], "cursor": {"next": None}}),
    "data_not_list": _rewritten(lambda body: {**body, "data": {"a": 1}}),
    "cursor_malformed": _rewritten(lambda body: {**body, "cursor": "abc"}),
    "not_json_object": lambda page: Answer(page.status, b"[1,2]", page.headers),
}
