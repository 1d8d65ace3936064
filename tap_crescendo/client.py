"""The base stream of Crescendo's reporting exports: URL, key, requests and their answers."""

from __future__ import annotations

import sys
import typing as t
from functools import cached_property
from http import HTTPStatus
from urllib.parse import quote

import requests
from singer_sdk import RESTStream
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams.rest import PageContext

from tap_crescendo.errors import APIError, CursorRejected, PathNotFound
from tap_crescendo.pagination import CursorPaginator
from tap_crescendo.responses import describe_error, read_body
from tap_crescendo.retries import RetryPolicy

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class CrescendoStream(RetryPolicy, RESTStream[str | None]):
    """One reporting export, read window by window, each window to its last page."""

    primary_keys: t.ClassVar[list[str]] = ["ID"]
    #: The export's path below the tenant: the doc page's style, then the OpenAPI's.
    export_paths: t.ClassVar[tuple[str, str]]
    #: Which of `export_paths` this run uses; it moves to the other on a first 404.
    path_style = 0
    #: Whether a request has succeeded, so a later 404 is not a path problem.
    path_settled = False

    @property
    @override
    def url_base(self) -> str:
        """The API's base URL, without a trailing slash."""
        return str(self.config["api_url"]).rstrip("/")

    @override
    def get_url(self, context: Context | None) -> str:
        """Return the export's URL, the tenant id encoded as one path segment."""
        tenant = quote(str(self.config["tenant_id"]), safe="")
        export = self.export_paths[self.path_style]
        return f"{self.url_base}/api/v1/reporting/tenants/{tenant}/{export}"

    @property
    @override
    def authenticator(self) -> BearerTokenAuthenticator:
        """Send the API key as a Bearer token, in the header only."""
        return BearerTokenAuthenticator(token=self.config["api_key"])

    @property
    @override
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
        """Raise for any answer but 2xx: retriable for 429 and 5xx, else one clear line."""
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            return
        detail = describe_error(response)
        if status in self.extra_retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            request = response.request
            raise RetriableAPIError(f"{detail} ({request.method} {request.path_url})", response)
        if status == HTTPStatus.UNAUTHORIZED:
            msg = f"{detail}. The API key was refused: check the `api_key` setting"
        elif status == HTTPStatus.FORBIDDEN:
            msg = (
                f"{detail}. The API key may not read tenant {self.config['tenant_id']!r}: "
                "check `tenant_id` and the key's permissions"
            )
        elif status == HTTPStatus.NOT_FOUND:
            msg = (
                f"{detail}. Nothing answers at {response.request.path_url.split('?')[0]}: "
                f"check `api_url` ({self.url_base}) and `tenant_id` ({self.config['tenant_id']!r})"
            )
            raise PathNotFound(msg)
        elif status == HTTPStatus.BAD_REQUEST and "cursor=" in str(response.request.path_url):
            raise CursorRejected(detail)
        else:
            msg = f"{detail} (request: {response.request.method} {response.request.path_url})"
        raise APIError(msg)

    def fetch_page(self, context: Context, cursor: str | None) -> requests.Response:
        """Request one page; until one succeeds, a 404 moves to the other documented path."""
        if self.path_settled:
            return self._fetch_once(context, cursor)
        try:
            response = self._fetch_once(context, cursor)
        except PathNotFound:
            tried = self.export_paths[self.path_style]
            self.path_style = 1 - self.path_style
            self.logger.warning(
                "Stream '%s': /%s answered 404; trying the other documented path, /%s",
                self.name,
                tried,
                self.export_paths[self.path_style],
            )
            try:
                response = self._fetch_once(context, cursor)
            except PathNotFound as again:
                msg = f"{again} (the other documented path, /{tried}, answered 404 too)"
                raise APIError(msg) from None
            self.logger.info(
                "Stream '%s': served by /%s; using it for this run",
                self.name,
                self.export_paths[self.path_style],
            )
        self.path_settled = True
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
        try:
            return self._send(prepared)
        except RetriableAPIError as error:
            msg = f"{error}; gave up after {self.backoff_max_tries()} tries"
            raise APIError(msg) from None
        except requests.RequestException as error:
            msg = (
                f"Could not get an answer from {self.url_base} ({error}); "
                f"gave up after {self.backoff_max_tries()} tries"
            )
            raise APIError(msg) from None

    @cached_property
    def _send(self) -> t.Callable[[requests.PreparedRequest], requests.Response]:
        """Send a prepared request with the SDK's retry policy."""
        return self.request_decorator(self._send_once)  # type: ignore[arg-type,return-value]

    def _send_once(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send a prepared request once (after any Retry-After pause) and check its status."""
        self.pause.wait()
        response = self.requests_session.send(prepared, timeout=self.timeout, stream=True)
        with response:  # gives the connection back to the pool once the body is read
            self.validate_response(response)
            read_body(response)
        return response
