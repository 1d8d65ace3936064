"""A page of a reporting export, decoded once, and the cursor paginator that reads it."""

from __future__ import annotations

import sys
import typing as t

import msgspec
from singer_sdk.pagination import BaseAPIPaginator

from tap_crescendo.api.redaction import masked, quoted
from tap_crescendo.errors import APIError

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import requests


class Cursor(msgspec.Struct):
    """The `cursor` object; `next` is null, empty or absent on the last page."""

    next: str | None = None


RowsT = t.TypeVar("RowsT")


class Page(msgspec.Struct, t.Generic[RowsT]):
    """The body of a 200 answer: `{total, cursor: {next}, data: [...]}`.

    `data` holds the page's records when they all fit the stream's contract as sent
    (`RecordContract.decode_page`), else undecoded JSON, for `split_rows`.
    """

    total: int
    cursor: Cursor
    data: RowsT


_page_decoder = msgspec.json.Decoder(Page[msgspec.Raw])
_rows_decoder = msgspec.json.Decoder(list[msgspec.Raw])


def decode_page(
    response: requests.Response, records: Callable[[bytes], Page[t.Any]] | None = None
) -> Page[t.Any]:
    """Decode and check a page, or raise `APIError` naming the request.

    In one pass with `records` when every row fits it, and then the body is let go (its
    rows wait for the writer as records, not twice); else its `data` stays undecoded.
    """
    if records is not None:
        try:
            page = records(response.content)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            pass  # read again below, so that its rows are decoded one by one
        else:
            response._content = b""
            return page
    try:
        return _page_decoder.decode(response.content)
    except (msgspec.DecodeError, RecursionError) as error:  # nested too deep to read
        raise out_of_contract(response, error) from None


def split_rows(data: msgspec.Raw, response: requests.Response) -> list[msgspec.Raw]:
    """Split a page's `data` into its rows, each still undecoded, or raise `APIError`.

    Rows are decoded one at a time (`RecordContract.decode`), so a page never exists twice.
    """
    try:
        return _rows_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise out_of_contract(response, error, at="$.data") from None


def out_of_contract(
    response: requests.Response,
    error: msgspec.DecodeError | UnicodeDecodeError | RecursionError,
    *,
    at: str = "$",
) -> APIError:
    """The error for a 200 whose body breaks the contract."""
    kind = response.headers.get("Content-Type", "no Content-Type")
    problem = str(error).replace("`$", f"`{at}")
    if at != "$" and "- at `" not in problem:
        problem = f"{problem} - at `{at}`"
    msg = (
        f"The API answered {response.request.method} {response.request.path_url} "
        f"with HTTP {response.status_code} but a body out of contract ({kind}): {problem}"
    )
    return APIError(quoted(msg))  # the header, a cursor and a row's value are the server's


class CursorPaginator(BaseAPIPaginator[str | None]):
    """Follows `cursor.next` until it is null, empty or absent; a repeated cursor is an error."""

    def __init__(self, records: Callable[[bytes], Page[t.Any]] | None = None) -> None:
        """Start before the first page (no cursor); decode pages with `records` (`decode_page`)."""
        super().__init__(None)
        self._records = records
        self._seen: set[str] = set()
        self._response: requests.Response | None = None
        self._page: Page[t.Any] | None = None

    def page_of(self, response: requests.Response) -> Page[t.Any]:
        """Return the decoded page of `response`, decoding it only once."""
        if self._page is None or response is not self._response:
            self._page = decode_page(response, self._records)
            self._response = response
        return self._page

    @override
    def get_next(self, response: requests.Response) -> str | None:
        """Return the next cursor, refusing one the API already gave in this query."""
        cursor = self.page_of(response).cursor.next or None
        if cursor is not None:
            if cursor in self._seen:
                msg = (
                    f"The API returned the cursor {cursor!r} a second time after "
                    f"{self.count} pages of one query; stopping instead of looping"
                )
                raise APIError(masked(msg))
            self._seen.add(cursor)
        return cursor
