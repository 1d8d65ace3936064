"""Fields the API sends that a stream's schema lacks: added, left out, or a stop.

`schema_evolution` says which. `evolve` adds a field, in the run, as a nullable property of
the kind of its first non-null value, unless a warehouse cannot take its name (or msgspec
cannot encode it) or the stream already has `MOST_ADDED` added fields; `discard` leaves it
out; `freeze` stops the sync. Each run starts from the declared schema. Every name from the
server is quoted escaped, so no name can break or forge a log line.
"""

from __future__ import annotations

import typing as t
import unicodedata

from tap_crescendo.api.redaction import quoted
from tap_crescendo.errors import APIError
from tap_crescendo.records.contract import kind_of

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Iterable, Mapping

    from tap_crescendo.records.contract import RecordContract

#: The values of `schema_evolution`.
MODES = ("evolve", "discard", "freeze")
#: The most fields one run adds to a stream's schema.
MOST_ADDED = 100
#: The longest name a field added may have, in UTF-8 bytes (PostgreSQL's identifiers).
LONGEST_NAME_BYTES = 63
#: How many names one log line quotes.
NAMES_PER_LINE = 10
#: How much of a name a log line quotes.
NAME_QUOTE_LIMIT = 80
#: Why fields beyond `MOST_ADDED` are left out (said once per stream in a run).
TOO_MANY = f"{MOST_ADDED} fields were added to the stream in this run, the most it takes"
#: The JSON schema of an added property, by the kind of its first value.
ADDED_PROPERTIES: dict[str, dict[str, t.Any]] = {
    "string": {"type": ["string", "null"]},
    "number": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "object": {"type": ["object", "null"]},
    "array": {"type": ["array", "null"]},  # no `items`: target-postgres makes it jsonb
}


def name_label(name: str) -> str:
    """A field name from the server, fit for one log line: quoted, escaped, cut if long."""
    if len(name) > NAME_QUOTE_LIMIT:
        return f"'{quoted(name[: NAME_QUOTE_LIMIT - 3])}...'"
    return f"'{quoted(name)}'"


def unfit_name(name: str) -> str | None:
    """Why a warehouse cannot take `name` as a column, or None when it can."""
    if not name:
        return "the name is empty"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "the name holds control characters"
    if "\\" in name or '"' in name:  # msgspec encodes no such name; loaders quote them badly
        return "the name holds a backslash or a double quote"
    if len(name.encode("utf-8")) > LONGEST_NAME_BYTES:
        return f"the name is over {LONGEST_NAME_BYTES} bytes"
    return None


class SchemaEvolution:
    """A stream's fields beyond its schema in one run: the contract that decodes them.

    `contract` starts as the declared schema's and grows as fields are added; another
    thread may read it at any time. `evolvable` is False when the catalog deselects a
    property of the stream: it picked its columns, so `evolve` leaves new fields out.
    """

    def __init__(
        self,
        contract: RecordContract,
        mode: str,
        *,
        stream: str,
        evolvable: bool,
        logger: logging.Logger,
    ) -> None:
        self.contract = contract
        self._mode = mode if mode != "evolve" or evolvable else "discard"
        self._why_discard = (
            "`schema_evolution` is discard"
            if mode == "discard"
            else "the catalog deselects properties of the stream"
        )
        self._stream = stream
        self._logger = logger
        #: Fields met and left out for good (a field met only as null may be added later).
        self._left_out: set[str] = set()
        self._nulled: set[str] = set()
        self._told_most_added = False

    def decode_page(self, body: bytes) -> t.Any:
        """Decode a page with the contract as it is now (see `RecordContract.decode_page`)."""
        return self.contract.decode_page(body)

    def meet(
        self, rows: list[Mapping[str, t.Any]], record_ids: list[t.Any], subject: str
    ) -> dict[str, dict[str, t.Any]]:
        """Decide each field of `rows` (a page's, left out) met for the first time.

        Returns the properties added, by name, after the contract grew to decode them.
        `freeze` raises `APIError` at the first row holding any, naming `record_ids`' ID.
        """
        if self._mode == "freeze":
            index, name = next((i, name) for i, row in enumerate(rows) for name in row)
            msg = (
                f"{subject}, record {quoted(repr(record_ids[index]))}: the API sent field "
                f"{name_label(name)}, which the schema lacks; `schema_evolution` is freeze, "
                "so the sync stops before this record (set it to evolve or discard to go on)"
            )
            raise APIError(msg)
        first_values = self._first_values(rows)
        discarded: dict[str, list[str]] = {}
        added: dict[str, str] = {}
        for name, value in first_values.items():
            reason = self._why_left_out(name, len(self.contract.added) + len(added))
            if reason is None and value is None:
                continue  # no kind yet: decided at its first non-null value
            if reason is None:
                added[name] = str(kind_of(value))
                continue
            self._left_out.add(name)
            discarded.setdefault(reason, []).append(name)
        for reason, names in discarded.items():
            if reason == TOO_MANY:
                if self._told_most_added:
                    continue
                self._told_most_added = True
            self._logger.warning(
                "Stream '%s': the API sent fields that the schema lacks; not extracted, as %s: %s",
                self._stream,
                reason,
                _names(names),
            )
        if not added:
            return {}
        self.contract = self.contract.grown(added)
        for name, kind in added.items():
            self._logger.info(
                "Stream '%s': added field %s, which the schema lacks, as a nullable %s",
                self._stream,
                name_label(name),
                kind,
            )
        return {name: ADDED_PROPERTIES[kind] for name, kind in added.items()}

    def report_nulled(self, nulled: Iterable[tuple[str, str]], record_id: t.Any) -> None:
        """Warn, once per field in the run, that an added field's value was of another kind."""
        for name, kind in nulled:
            if name in self._nulled:
                continue
            self._nulled.add(name)
            self._logger.warning(
                "Stream '%s': added field %s holds %s values, but record %s sent %s; "
                "such values are extracted as null",
                self._stream,
                name_label(name),
                self.contract.added[name],
                quoted(repr(record_id)),
                _an(kind),
            )

    def _first_values(self, rows: list[Mapping[str, t.Any]]) -> dict[str, t.Any]:
        """Each field not decided before, with its first non-null value in `rows` (or None)."""
        first: dict[str, t.Any] = {}
        for row in rows:
            for name, value in row.items():
                if first.get(name) is None and name not in self._left_out:
                    first[name] = value
        return first

    def _why_left_out(self, name: str, added: int) -> str | None:
        """Why a new field is not added with `added` fields added so far; None if it is."""
        if self._mode == "discard":
            return self._why_discard
        unfit = unfit_name(name)
        if unfit is not None:
            return unfit
        if added >= MOST_ADDED:
            return TOO_MANY
        return None


def _names(names: list[str]) -> str:
    """Up to `NAMES_PER_LINE` names quoted, and how many more there are."""
    shown = ", ".join(name_label(name) for name in names[:NAMES_PER_LINE])
    more = len(names) - NAMES_PER_LINE
    return f"{shown} and {more} more" if more > 0 else shown


def _an(kind: str) -> str:
    """A kind with its article: `an object`, `a string`."""
    return f"an {kind}" if kind in {"array", "object"} else f"a {kind}"
