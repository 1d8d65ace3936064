"""`FakeCrescendo`: datasets, API keys and test hooks of a fake reporting API, served over HTTP."""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from tap_crescendo.fake_api.cursors import CursorStore, Position, Snapshot
from tap_crescendo.fake_api.dataset import Datasets
from tap_crescendo.fake_api.exchange import (
    END_OF_QUERY,
    RecordedRequest,
    error_answer,
    page_answer,
)
from tap_crescendo.fake_api.faults import (
    TRANSIENT_FAULTS,
    Faults,
    TransientFaults,
    check_seconds,
)
from tap_crescendo.fake_api.query import BadRequest, FirstPage, NextPage, parse_query
from tap_crescendo.fake_api.routes import PATH_STYLES, check_styles, match_route
from tap_crescendo.fake_api.transport import HttpServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from tap_crescendo.fake_api.exchange import Answer, ApiRequest
    from tap_crescendo.fake_api.routes import Route

ORDERS = ("asc", "desc", "shuffled")
HOST = "127.0.0.1"
UNAUTHENTICATED = error_answer(
    HTTPStatus.UNAUTHORIZED, "Unauthenticated", "Authorization header with Bearer token is required"
)
PERMISSION_DENIED = error_answer(
    HTTPStatus.FORBIDDEN, "PermissionDenied", "API key does not allow this operation"
)


class FakeCrescendo:
    """A fake of Crescendo's reporting API over real HTTP, with hooks for tests.

    Every request goes through `handle`, which decides the answer and records the exchange.
    """

    def __init__(
        self,
        *,
        api_keys: Mapping[str, Iterable[str]],
        rows: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        voc_rows: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        order: str = "asc",
        shuffle_seed: int = 0,
        clock: Callable[[], int] | None = None,
        path_styles: Iterable[str] = PATH_STYLES,
    ) -> None:
        if order not in ORDERS:
            msg = f"order must be one of {', '.join(ORDERS)}, got {order!r}"
            raise ValueError(msg)
        self._api_keys = {key: frozenset(tenants) for key, tenants in api_keys.items()}
        self._order = order
        self._shuffle_seed = shuffle_seed
        self._clock = clock or _now_ms
        self._lock = threading.Lock()
        self._styles = check_styles(tuple(path_styles))
        self._datasets = Datasets()
        self._cursors = CursorStore()
        self._requests: list[RecordedRequest] = []
        self._end_style = "null"
        self._repeat_cursor = False
        self._faults = Faults()
        for tenant, tenant_rows in (rows or {}).items():
            self.add_rows(tenant, tenant_rows)
        for tenant, tenant_rows in (voc_rows or {}).items():
            self.add_rows(tenant, tenant_rows, export="voc")

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests answered so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def reset_requests(self) -> None:
        """Forget the requests answered so far."""
        with self._lock:
            self._requests.clear()

    def add_rows(
        self, tenant: str, rows: Iterable[Mapping[str, Any]], *, export: str = "bot"
    ) -> None:
        """Add conversations of `export` ("bot" or "voc") for `tenant`; new queries see them."""
        with self._lock:
            self._datasets.add(export, tenant, rows)

    def replace_row(self, tenant: str, row: Mapping[str, Any], *, export: str = "bot") -> None:
        """Replace the conversation of `tenant` with the same ID (raises `KeyError` if none)."""
        with self._lock:
            self._datasets.replace(export, tenant, row)

    def serve_only(self, style: str | None) -> None:
        """Serve only the paths of `style` ("doc" or "openapi"), or of both when None."""
        styles = check_styles(PATH_STYLES if style is None else (style,))
        with self._lock:
            self._styles = styles

    def expire_cursors(self, count: int = 1) -> None:
        """Make the next `count` requests carrying a cursor fail with 400, as if it had expired."""
        with self._lock:
            self._cursors.expire_next(count)

    def set_last_cursor_style(self, style: str) -> None:
        """Choose how a query's last page ends: `cursor.next` "null", "empty" ("") or "absent"."""
        if style not in END_OF_QUERY:
            msg = f"style must be one of {', '.join(END_OF_QUERY)}, got {style!r}"
            raise ValueError(msg)
        with self._lock:
            self._end_style = style

    def repeat_cursor_once(self) -> None:
        """Make the next page asked for with a cursor carry that same cursor as `cursor.next`."""
        with self._lock:
            self._repeat_cursor = True

    def inject_faults(
        self,
        rate: float,
        *,
        kinds: Iterable[str] = TRANSIENT_FAULTS,
        seed: int = 0,
        retry_after: float = 1.0,
        slow_seconds: float = 0.5,
    ) -> None:
        """From now on fail each export request with probability `rate`, with one of `kinds`.

        The faults follow `random.Random(seed)`; "slow" answers normally after `slow_seconds`, and
        429 and 503 ask to retry after `retry_after` seconds. A rate of 0 turns the faults off.
        """
        transient = TransientFaults(
            rate, kinds=kinds, seed=seed, retry_after=retry_after, slow_seconds=slow_seconds
        )
        with self._lock:
            self._faults.transient = transient if rate else None

    def fail_next(self, status: int, *, count: int = 1, retry_after: str | None = None) -> None:
        """Answer `status` with its error envelope to the next `count` export requests.

        `retry_after` is sent verbatim as the Retry-After header (seconds or an HTTP date).
        """
        with self._lock:
            self._faults.fail_next(status, count=count, retry_after=retry_after)

    def malform_next_page(self, kind: str) -> None:
        """Make the next export answer that would be a 200 a 200 out of contract, of `kind`."""
        with self._lock:
            self._faults.malform_next_page(kind)

    def set_page_delay(self, seconds: float) -> None:
        """Send every export answer after `seconds` (0 turns the delay off)."""
        check_seconds("seconds", seconds)
        with self._lock:
            self._faults.page_delay = seconds

    def misreport_total(self, delta: int) -> None:
        """From now on report `total` in pages as the true total plus `delta`."""
        with self._lock:
            self._faults.total_delta = delta

    @contextmanager
    def serve(self, *, port: int = 0) -> Iterator[str]:
        """Serve on 127.0.0.1 (any free port when 0) in a daemon thread; yield the base URL."""
        server = HttpServer((HOST, port), self.handle)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield f"http://{HOST}:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    def handle(self, request: ApiRequest) -> Answer:
        """Answer one request and record it with the status answered (0 when dropped)."""
        with self._lock:
            styles = self._styles
        route = match_route(request.path, styles)
        answer = self._answer(request, route) if route is None else self._export(request, route)
        recorded = RecordedRequest(
            request.method,
            request.path,
            request.query,
            request.headers,
            request.received_at,
            request.client_port,
            int(answer.status),
        )
        with self._lock:
            self._requests.append(recorded)
        return answer

    def _export(self, request: ApiRequest, route: Route) -> Answer:
        """Answer a request on an export path, with the faults asked for."""
        with self._lock:
            decision = self._faults.decide()
        answer = self._answer(request, route) if decision.answer is None else decision.answer
        if answer.status == HTTPStatus.OK:
            with self._lock:
                answer = self._faults.malform(answer)
        return replace(answer, delay=decision.delay) if decision.delay else answer

    def _answer(self, request: ApiRequest, route: Route | None) -> Answer:
        """Decide the answer: route, then authentication, permission and parameters."""
        if route is None or request.method != "GET":
            message = f"No route for {request.method} {request.path}"
            return error_answer(HTTPStatus.NOT_FOUND, "NotFound", message)
        key = _bearer_key(request)
        if key not in self._api_keys:
            return UNAUTHENTICATED
        if route.tenant not in self._api_keys[key]:
            return PERMISSION_DENIED
        try:
            query = parse_query(request.query, now_ms=self._clock())
            with self._lock:
                return self._page(route, query)
        except BadRequest as exc:
            message = f"Invalid request parameters: {exc}"
            return error_answer(HTTPStatus.BAD_REQUEST, "BadRequest", message)

    def _page(self, route: Route, query: FirstPage | NextPage) -> Answer:
        """Return the page a query asks for, issuing the cursor of the page after it."""
        if isinstance(query, NextPage):
            position = self._cursors.find(query.cursor)
            if position is None or position.snapshot.route != route:
                msg = "cursor expired or invalid"
                raise BadRequest(msg)
        else:
            position = Position(self._snapshot(route, query), 0)
        rows = position.snapshot.rows
        end = position.offset + query.limit
        next_cursor = None
        if isinstance(query, NextPage) and self._repeat_cursor:
            self._repeat_cursor = False
            next_cursor = query.cursor
        elif end < len(rows):
            next_cursor = self._cursors.issue(Position(position.snapshot, end))
        page = [row.json for row in rows[position.offset : end]]
        total = len(rows) + self._faults.total_delta
        return page_answer(total, next_cursor, page, end_style=self._end_style)

    def _snapshot(self, route: Route, query: FirstPage) -> Snapshot:
        """Collect the rows a new query matches, in the configured order."""
        matched = self._datasets.between(route.dataset, route.tenant, query.from_ms, query.to_ms)
        if self._order == "desc":
            matched.reverse()
        elif self._order == "shuffled":
            random.Random(self._shuffle_seed).shuffle(matched)
        return Snapshot(route, matched)


def _bearer_key(request: ApiRequest) -> str | None:
    """Return the API key of the Authorization header, or of `bearer_token` without a header."""
    header = next(
        (value for name, value in request.headers.items() if name.lower() == "authorization"),
        None,
    )
    if header is None:
        return request.query.get("bearer_token") or None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _now_ms() -> int:
    """Return the current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000
