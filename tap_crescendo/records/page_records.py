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
    import requests

    from tap_crescendo.api.pagination import Page
    from tap_crescendo.records.contract import Decoded
    from tap_crescendo.records.evolution import SchemaEvolution

#: A page's records, and the properties the stream's schema gained for them, by name.
PageOut: t.TypeAlias = "tuple[list[msgspec.Struct], dict[str, dict[str, t.Any]]]"


class PageRecords:
    """Makes a tenant's pages strict records of its stream's schema, as it grows.

    Fields the schema lacks are added, left out or a stop (`SchemaEvolution`); a row no
    conversion makes fit, or of another tenant, stops the sync with one line. Counts the
    tenant's rows with fields left out, and the values of added fields made null.
    """

    def __init__(self, evolution: SchemaEvolution, *, tenant: str, subject: str) -> None:
        self._evolution = evolution
        self._tenant = tenant
        self._subject = subject
        self.rows_left_out = 0
        self.values_nulled = 0

    def of(self, page: Page[t.Any], response: requests.Response) -> PageOut:
        """Return a page's rows as strict records, all of the tenant asked for; and what grew."""
        records, added = self._decode(page, response)
        self._check_tenant(records, response)
        return records, added

    def _decode(self, page: Page[t.Any], response: requests.Response) -> PageOut:
        """Return a page's rows as strict records, and the properties added for them.

        They were decoded with the page when every row fits the schema as sent; else they
        are decoded row by row, to convert each row that can be, to meet the fields the
        schema lacks (then again, if some were added), and to name the first that cannot.
        """
        data = page.data
        if not isinstance(data, msgspec.Raw):
            try:
                return self._evolution.contract.convert_page(data), {}
            except msgspec.ValidationError:  # a date-time that is not one
                # The body is gone (`decode_page`): the rows as decoded are read one by one.
                data = msgspec.Raw(msgspec.json.encode(data))
        try:
            rows = list(split_rows(data, response))
            decoded = self._decode_rows(rows, response)
            added = self._meet_left_out(decoded)
            if added:  # again, the added fields in: every row decoded once, none can fail now
                contract = self._evolution.contract
                decoded = [contract.decode(row) for row in rows]
        except RecursionError as error:  # a value nested deeper than this thread's stack
            raise out_of_contract(response, error, at="$.data") from None
        for row in decoded:
            if row.left_out:
                self.rows_left_out += 1
            if row.nulled:
                self.values_nulled += len(row.nulled)
                self._evolution.report_nulled(row.nulled, self._id_of(row))
        return [row.record for row in decoded], added

    def _decode_rows(self, rows: list[msgspec.Raw], response: requests.Response) -> list[Decoded]:
        """Decode each row of a page with the contract as it is now."""
        contract = self._evolution.contract
        decoded = []
        for index, row in enumerate(rows):
            try:
                decoded.append(contract.decode(row))
            except FieldMismatch as error:
                msg = (
                    f"{self._subject}, record {error.record_id!r} "
                    f"(from {response.request.path_url}): {error}"
                )
                raise APIError(msg) from None
            except (msgspec.DecodeError, UnicodeDecodeError) as error:
                raise out_of_contract(response, error, at=f"$.data[{index}]") from None
        return decoded

    def _meet_left_out(self, decoded: list[Decoded]) -> dict[str, dict[str, t.Any]]:
        """Decide the fields a page's rows had that the schema lacks; return those added."""
        if not any(row.left_out for row in decoded):
            return {}
        ids = [self._id_of(row) for row in decoded]
        return self._evolution.meet([row.left_out for row in decoded], ids, self._subject)

    def _id_of(self, row: Decoded) -> t.Any:
        """The ID of a decoded row's record (None when it has none)."""
        record_id = getattr(row.record, self._evolution.contract.attribute("ID"))
        return None if record_id is msgspec.UNSET else record_id

    def _check_tenant(self, records: list[msgspec.Struct], response: requests.Response) -> None:
        """Raise `APIError` if a record names a tenant other than the one asked for.

        A record naming none (`TenantID` null, or absent from a VOC row) passes.
        """
        contract = self._evolution.contract
        tenant_of = attrgetter(contract.attribute("TenantID"))
        allowed = {self._tenant, None, msgspec.UNSET}
        if set(map(tenant_of, records)) <= allowed:
            return
        record = next(r for r in records if tenant_of(r) not in allowed)
        record_id = getattr(record, contract.attribute("ID"))
        msg = (
            f"{self._subject}: record {masked(repr(record_id))} (from "
            f"{quoted(str(response.request.path_url))}) is of tenant "
            f"{masked(repr(tenant_of(record)))}: the API sent another tenant's rows; none of "
            "this page is extracted"
        )
        raise APIError(msg)
