"""The base stream of Crescendo's reporting exports: URL, key, requests and their answers."""

from __future__ import annotations

import sys
import threading
import time
import typing as t
from http import HTTPStatus
from urllib.parse import quote

import requests
from singer_sdk import RESTStream, metrics
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams.rest import PageContext

from tap_crescendo.api.network import send_options, tls_failure
from tap_crescendo.api.pagination import CursorPaginator
from tap_crescendo.api.redaction import masked, quoted
from tap_crescendo.api.responses import MAX_BODY_BYTES, describe_error, read_body
from tap_crescendo.api.retries import RetryPolicy
from tap_crescendo.errors import APIError, CursorRejected, PathNotFound, TenantRefused
from tap_crescendo.settings import tenant_setting
from tap_crescendo.stopping import STOP

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class CrescendoStream(RetryPolicy, RESTStream[str | None]):
    """One reporting export: its URL, its key, its requests and what their answers mean.

    Thread safety: worker threads send requests at once. What they share is built in
    `__init__`, before any thread starts (the session, the retrying sender, the pause), or,
    for the export's path, changed only under `_path_lock` until a request has succeeded.
    """

    primary_keys: t.ClassVar[list[str]] = ["ID"]
    #: The export's path below the tenant: the doc page's style, then the OpenAPI's.
    export_paths: t.ClassVar[tuple[str, str]]
    #: The most bytes an answer's body may hold, decoded (tests lower it).
    max_body_bytes: t.ClassVar[int] = MAX_BODY_BYTES

    def __init__(self, **kwargs: t.Any) -> None:
        """Build what the worker threads share before any of them starts."""
        super().__init__(**kwargs)
        #: The path this run uses; it moves to the other documented one on a first 404.
        self.export_path = self.export_paths[0]
        #: Whether a request has succeeded, so the path is settled for the run.
        self.path_settled = False
        self._path_lock = threading.Lock()
        self._send: t.Callable[[requests.PreparedRequest], requests.Response]
        self._send = self.request_decorator(self._send_once)  # type: ignore[arg-type,assignment]
        #: Proxies and CA bundle from the environment and settings (`Session.send` reads none).
        self._send_options = send_options(self.requests_session, self.url_base, self.config)

    @override
    @property
    def url_base(self) -> str:
        """The API's base URL, without a trailing slash."""
        return str(self.config["api_url"]).rstrip("/")

    @override
    def get_url(self, context: Context | None) -> str:
        """Return the export's URL for the context's tenant, encoded as one path segment."""
        assert context is not None
        tenant = quote(str(context["tenant_id"]), safe="")
        return f"{self.url_base}/api/v1/reporting/tenants/{tenant}/{self.export_path}"

    @override
    @property
    def authenticator(self) -> BearerTokenAuthenticator:
        """Send the API key as a Bearer token, in the header only."""
        return BearerTokenAuthenticator(token=self.config["api_key"])

    @override
    @property
    def timeout(self) -> int:
        """Seconds to wait for an answer before the request counts as failed."""
        return int(self.config["request_timeout"])

    @override
    def get_new_paginator(self) -> CursorPaginator:
        """Return a paginator for one query (one window)."""
        return CursorPaginator()

    @override
    def get_url_params(
        self,
        context: Context | None,
        next_page_token: str | None,
    ) -> dict[str, t.Any]:
        """First page: the window and `limit`; every later page: `cursor` and `limit` only."""
        limit = self.config["page_size"]
        if next_page_token:
            return {"cursor": next_page_token, "limit": limit}
        assert context is not None
        return {"from": context["from"], "to": context["to"], "limit": limit}

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Pass answers below 400; raise retriable for 429 and 5xx, else one clear line."""
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            return
        detail = describe_error(response)
        path = masked(str(response.request.path_url))  # a cursor is the server's text
        if status in self.extra_retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(f"{detail} ({response.request.method} {path})", response)
        if status == HTTPStatus.UNAUTHORIZED:
            msg = f"{detail}. The API key was refused: check the `api_key` setting"
        elif status == HTTPStatus.FORBIDDEN:
            raise TenantRefused(detail)
        elif status == HTTPStatus.NOT_FOUND:
            raise PathNotFound(f"{detail}. Nothing answers at {path.split('?')[0]}")
        elif status == HTTPStatus.BAD_REQUEST and "cursor=" in path:
            raise CursorRejected(detail)
        else:
            msg = f"{detail} (request: {response.request.method} {path})"
        raise APIError(msg)

    def fetch_page(self, context: Context, cursor: str | None) -> requests.Response:
        """Request one page; until one succeeds, a 404 moves to the other documented path.

        Until then requests go one at a time, so no worker sends to a path found wrong.
        """
        if not self.path_settled:
            with self._path_lock:
                if not self.path_settled:
                    response = self._settle_path(context, cursor)
                    self.path_settled = True
                    return response
        return self._fetch_once(context, cursor)

    def _settle_path(self, context: Context, cursor: str | None) -> requests.Response:
        """Request a page at the current path, or at the other one if the current is a 404."""
        try:
            return self._fetch_once(context, cursor)
        except PathNotFound:
            tried = self.export_path
        self.export_path = next(path for path in self.export_paths if path != tried)
        self.logger.warning(
            "Stream '%s': /%s answered 404; trying the other documented path, /%s",
            self.name,
            tried,
            self.export_path,
        )
        try:
            response = self._fetch_once(context, cursor)
        except PathNotFound as again:
            msg = f"{again} (the other documented path, /{tried}, answered 404 too)"
            raise APIError(msg) from None
        self.logger.info(
            "Stream '%s': served by /%s; using it for this run", self.name, self.export_path
        )
        return response

    def _fetch_once(self, context: Context, cursor: str | None) -> requests.Response:
        """Request one page, retrying transient failures; give up with one clear line."""
        http_request = self.get_http_request(
            page=PageContext(stream_context=context, next_page_token=cursor)
        )
        prepared = self.build_prepared_request(
            method=http_request.method,
            url=http_request.url,
            params=http_request.encode_params(),
            headers=http_request.headers,
        )
        tenant, setting = context["tenant_id"], tenant_setting(self.config)
        try:
            return self._send(prepared)
        except TenantRefused as error:
            msg = (
                f"{error}. The API key may not read tenant {tenant!r}: check `{setting}` and "
                "the key's permissions"
            )
            raise APIError(msg) from None
        except PathNotFound as error:
            msg = f"{error}: check `api_url` ({self.url_base}) and `{setting}` ({tenant!r})"
            raise PathNotFound(msg) from None
        except RetriableAPIError as error:
            msg = f"{error}; gave up after {self.backoff_max_tries()} tries"
            raise APIError(msg) from None
        except requests.RequestException as error:
            msg = (
                f"Could not get an answer from {self.url_base} ({quoted(str(error))}); "
                f"gave up after {self.backoff_max_tries()} tries"
            )
            raise APIError(msg) from None

    def _send_once(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send a prepared request once (after any Retry-After pause) and check its status.

        The whole body must arrive within `request_timeout` of the send. A TLS failure and
        a redirect raise `APIError`, which the SDK's backoff does not retry; once the tap
        is stopping, no request is sent.
        """
        self.pause.wait()
        STOP.check()
        deadline = time.monotonic() + self.timeout
        try:
            response = self.requests_session.send(
                prepared, timeout=self.timeout, allow_redirects=False, **self._send_options
            )
        except requests.exceptions.SSLError as error:
            raise APIError(tls_failure(error, self.url_base, self.config)) from None
        self._log_request_duration(response)
        with response:  # gives the connection back to the pool once the body is read
            if response.is_redirect:
                raise APIError(redirect_refused(response))
            self.validate_response(response)
            read_body(response, limit=self.max_body_bytes, deadline=deadline)
        return response

    def _log_request_duration(self, response: requests.Response) -> None:
        """Write the SDK's `http_request_duration` METRIC for an answer, as SDK taps do."""
        status = response.status_code
        point = metrics.Point(
            "timer",
            metric=metrics.Metric.HTTP_REQUEST_DURATION,
            value=response.elapsed.total_seconds(),
            tags={
                metrics.Tag.STREAM: self.name,
                metrics.Tag.ENDPOINT: f"/api/v1/reporting/tenants/{{tenantId}}/{self.export_path}",
                metrics.Tag.HTTP_STATUS_CODE: status,
                metrics.Tag.STATUS: (
                    metrics.Status.SUCCEEDED
                    if status < HTTPStatus.BAD_REQUEST
                    else metrics.Status.FAILED
                ),
            },
        )
        metrics.log(self.metrics_logger, point)


def redirect_refused(response: requests.Response) -> str:
    """The line for a redirect: the API documents none, so the key follows none."""
    request = response.request
    return (
        f"The API answered {request.method} {masked(str(request.path_url))} with HTTP "
        f"{response.status_code}, a redirect to {quoted(response.headers['Location'])}; the "
        "API documents no redirect and the tap follows none: if the API moved, set "
        "`api_url` to its new address"
    )
