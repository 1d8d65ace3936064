"""A page becomes records: its rows decoded strictly, each of the tenant asked for."""

from __future__ import annotations

import typing as t
from operator import attrgetter

import msgspec

from tap_crescendo.api.pagination import out_of_contract, split_rows
from tap_crescendo.api.redaction import masked, quoted
from tap_crescendo.errors import APIError
from tap_crescendo.records.contract import FieldMismatch

if t.TYPE_CHECKING:
    import logging

    import requests

    from tap_crescendo.api.pagination import Page
    from tap_crescendo.records.contract import RecordContract, UndocumentedFields


class PageRecords:
    """Makes a tenant's pages strict records of its stream's schema.

    Fields the schema lacks are left out and reported once per run (`undocumented`); a row
    no conversion makes fit, or of another tenant, stops the sync with one line.
    """

    def __init__(
        self,
        contract: RecordContract,
        undocumented: UndocumentedFields,
        *,
        stream: str,
        tenant: str,
        subject: str,
        logger: logging.Logger,
    ) -> None:
        self._contract = contract
        self._undocumented = undocumented
        self._stream = stream
        self._tenant = tenant
        self._subject = subject
        self._logger = logger

    def of(self, page: Page[t.Any], response: requests.Response) -> list[msgspec.Struct]:
        """Return a page's rows as strict records, all of the tenant asked for."""
        records = self._decode(page, response)
        self._check_tenant(records, response)
        return records

    def _decode(self, page: Page[t.Any], response: requests.Response) -> list[msgspec.Struct]:
        """Return a page's rows as strict records; report fields the schema lacks.

        They were decoded with the page when every row fits the schema as sent; else they
        are decoded row by row, to convert each row that can be and to name the first that
        cannot.
        """
        data = page.data
        if not isinstance(data, msgspec.Raw):
            try:
                return self._contract.convert_page(data)
            except msgspec.ValidationError:  # a date-time that is not one
                # The body is gone (`decode_page`): the rows as decoded are read one by one.
                data = msgspec.Raw(msgspec.json.encode(data))
        try:
            return [
                self._decode_row(row, response, index)
                for index, row in enumerate(split_rows(data, response))
            ]
        except RecursionError as error:  # a value nested deeper than this thread's stack
            raise out_of_contract(response, error, at="$.data") from None

    def _decode_row(
        self, row: msgspec.Raw, response: requests.Response, index: int
    ) -> msgspec.Struct:
        """Decode row `index` of a page into a strict record; report fields the schema lacks."""
        try:
            record, undocumented = self._contract.decode(row)
        except FieldMismatch as error:
            msg = (
                f"{self._subject}, record {error.record_id!r} "
                f"(from {response.request.path_url}): {error}"
            )
            raise APIError(msg) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as error:
            raise out_of_contract(response, error, at=f"$.data[{index}]") from None
        if undocumented:
            new = self._undocumented.note(undocumented)
            if new:
                self._logger.warning(
                    "The API sent fields that the schema of %s lacks: %s; they are not extracted",
                    self._stream,
                    ", ".join(new),
                )
        return record

    def _check_tenant(self, records: list[msgspec.Struct], response: requests.Response) -> None:
        """Raise `APIError` if a record names a tenant other than the one asked for.

        A record naming none (`TenantID` null, or absent from a VOC row) passes.
        """
        tenant_of = attrgetter(self._contract.attribute("TenantID"))
        allowed = {self._tenant, None, msgspec.UNSET}
        if set(map(tenant_of, records)) <= allowed:
            return
        record = next(r for r in records if tenant_of(r) not in allowed)
        record_id = getattr(record, self._contract.attribute("ID"))
        msg = (
            f"{self._subject}: record {masked(repr(record_id))} (from "
            f"{quoted(str(response.request.path_url))}) is of tenant "
            f"{masked(repr(tenant_of(record)))}: the API sent another tenant's rows; none of "
            "this page is extracted"
        )
        raise APIError(msg)
