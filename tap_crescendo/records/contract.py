"""A stream's SCHEMA as a strict decoder: each row becomes a record that matches it, or an error.

A page is decoded at once, its rows straight into a msgspec Struct built from the schema,
which checks every field's type and refuses fields the schema lacks, in C; the Struct encodes
as the record (the API's names, absent fields left out). Only a page with a row that fails
that goes row by row, and such a row the slow way: fields the schema lacks are dropped (and
named), the lossless conversions are applied, and a value that still fits no declared type
is a `FieldMismatch`.

Lossless conversions, the only changes a value of a documented field may undergo:
- an integer where a string is declared becomes its decimal string (`17` -> `"17"`);
- an integer where a number is declared becomes a float (`4` -> `4.0`);
- a string where the API documents "a string or a list of strings" becomes a one-item list.

A field added in the run (`schema_evolution`, see `evolution.py`) holds values of one kind
exactly as sent; a value of another kind is made null, and named, never a stop.
"""

from __future__ import annotations

import re
import typing as t
from operator import attrgetter

import msgspec

from tap_crescendo.api.pagination import Page

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: RFC 3339 date-time, as JSON Schema's `date-time` format means it (digits are ASCII).
_DATE_TIME = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    r":(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
DateTime = t.Annotated[str, msgspec.Meta(pattern=rf"^{_DATE_TIME}\Z")]
#: Date-times one per line: a page's values of one field, checked in one match.
DATE_TIME_LINES = re.compile(rf"(?:{_DATE_TIME}\n)*{_DATE_TIME}")
#: How much of a refused value a message quotes.
QUOTE_LIMIT = 80

_SCALARS: dict[str, t.Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict[str, t.Any],
    "null": None,
}
_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "null": "null",
}


#: The Python type of an added field's values, by the kind of its first value.
KIND_TYPES: dict[str, t.Any] = {
    "string": str,
    "number": int | float,
    "boolean": bool,
    "object": dict[str, t.Any],
    "array": list[t.Any],
}


_KINDS: dict[type, str] = {str: "string", dict: "object", list: "array"}


def kind_of(value: t.Any) -> str | None:
    """The kind of a JSON value (string, number, boolean, object, array); None for null."""
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is int or kind is float:
        return "number"
    return _KINDS.get(kind)


class Decoded(t.NamedTuple):
    """A row as a record; the fields it had that the schema lacks; added fields made null."""

    record: msgspec.Struct
    #: Each field the schema lacks, with its value, in the row's order.
    left_out: dict[str, t.Any]
    #: Each added field whose value was of another kind, with that kind.
    nulled: list[tuple[str, str]]


class FieldMismatch(ValueError):
    """A field of a row fits neither its declared type nor a lossless conversion."""

    def __init__(self, record_id: t.Any, field: str, expected: str, got: str) -> None:
        self.record_id, self.field = record_id, field
        super().__init__(f"field {field!r}: expected {expected}, got {got}")


class RecordContract:
    """Decodes rows into records holding only the schema's properties, each of its type.

    `documented_unions` names the fields the API documents with a second type beside the
    schema's ("integer" for an id that may be a number, "string" for a list that may be
    a single string); those are accepted on the fast path and converted.

    `added` names the fields added in the run after the schema's, each with its kind.

    A record is a Struct whose attribute for property `name` is `attribute(name)`; it
    encodes as the record, and `msgspec.to_builtins` makes it the record's dict.
    """

    def __init__(
        self,
        schema: Mapping[str, t.Any],
        documented_unions: Mapping[str, str],
        added: Mapping[str, str] | None = None,
    ) -> None:
        self._schema, self._unions = schema, documented_unions
        self.added: Mapping[str, str] = dict(added or {})
        properties: Mapping[str, Mapping[str, t.Any]] = schema["properties"]
        required = set(schema.get("required", ()))
        added_types = {name: KIND_TYPES[kind] | None for name, kind in self.added.items()}
        self._types = {name: _python_type(prop) for name, prop in properties.items()}
        self._types.update(added_types)
        self._expected = {name: _describe(prop) for name, prop in properties.items()}
        self._required = [name for name in properties if name in required]
        self._to_text = {
            name for name, prop in properties.items() if _json_types(prop) & {"string"}
        } - {name for name, prop in properties.items() if prop.get("format") == "date-time"}
        self._to_list = {name for name, extra in documented_unions.items() if extra == "string"}
        self._attributes = {name: f"field_{index}" for index, name in enumerate(self._types)}
        self._union_ids = [
            self._attributes[name]
            for name, extra in documented_unions.items()
            if extra == "integer"
        ]
        self._union_lists = [self._attributes[name] for name in sorted(self._to_list)]
        self._record_type = self._struct("Row", self._types, documented_unions, required)
        self._fast = msgspec.json.Decoder(self._record_type)
        # On a page, date-times decode as strings and are checked at once (`_check_date_times`).
        page_types = {name: _python_type(prop, date_time=str) for name, prop in properties.items()}
        page_types.update(added_types)
        page_row = self._struct("PageRow", page_types, documented_unions, required)
        self._page = msgspec.json.Decoder(Page[list[page_row]])  # type: ignore[valid-type]
        self._date_times = [
            self._attributes[name]
            for name, prop in properties.items()
            if prop.get("format") == "date-time"
        ]
        self._row = msgspec.json.Decoder(dict[str, t.Any])

    def _struct(
        self, name: str, types: Mapping[str, t.Any], unions: Mapping[str, str], required: set[str]
    ) -> type[msgspec.Struct]:
        """A Struct of an attribute per property, of its type in `types` widened by `unions`."""
        fields = [
            _field(self._attributes[prop], prop, declared, unions.get(prop), required)
            for prop, declared in types.items()
        ]
        return msgspec.defstruct(
            name, fields, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
        )

    def grown(self, added: Mapping[str, str]) -> RecordContract:
        """This contract with more fields added after its own, each of its kind."""
        return RecordContract(self._schema, self._unions, {**self.added, **added})

    def attribute(self, name: str) -> str:
        """The attribute of a record that holds property `name`."""
        return self._attributes[name]

    def decode_page(self, body: bytes) -> Page[list[msgspec.Struct]]:
        """Return the page of a body whose rows all decode as sent; `convert_page` its rows.

        Raises `msgspec.DecodeError` otherwise (`ValidationError` for a row that does not
        fit): then `decode` each row. Only the decode runs, in C, so another thread may.
        """
        return self._page.decode(body)

    def convert_page(self, records: list[msgspec.Struct]) -> list[msgspec.Struct]:
        """Return a decoded page's rows as records: their date-times checked, unions converted.

        Raises `msgspec.ValidationError` for a date-time that is not one: then `decode`
        each row.
        """
        self._check_date_times(records)
        return self._converted(records)

    def decode(self, raw: bytes | msgspec.Raw) -> Decoded:
        """Return the row's record, the fields it had that the schema lacks, and those nulled.

        Raises `FieldMismatch` for a value of a documented field no conversion makes fit,
        and `msgspec.DecodeError` for a row that is not a JSON object.
        """
        try:
            record = self._fast.decode(raw)
        except msgspec.ValidationError:
            fields, left_out, nulled = self._decode_slowly(self._row.decode(raw))
            return Decoded(msgspec.convert(fields, self._record_type), left_out, nulled)
        return Decoded(self._converted([record])[0], {}, [])

    def _check_date_times(self, records: list[msgspec.Struct]) -> None:
        """Raise `msgspec.ValidationError` unless every date-time of the page is one.

        One match per field over its values one per line (a value holding a line break
        would make two lines, so the lines are counted too).
        """
        for attribute in self._date_times:
            values = [value for value in map(attrgetter(attribute), records) if type(value) is str]
            lines = "\n".join(values)
            if values and (
                lines.count("\n") != len(values) - 1 or not DATE_TIME_LINES.fullmatch(lines)
            ):
                msg = "a value is not an RFC 3339 date-time"
                raise msgspec.ValidationError(msg)

    def _converted(self, records: list[msgspec.Struct]) -> list[msgspec.Struct]:
        """Give the documented unions the schema's type: `17` -> `"17"`, `"chat"` -> `["chat"]`."""
        for attribute in self._union_ids:
            value_of = attrgetter(attribute)
            for record in records:
                value = value_of(record)
                if type(value) is int:
                    setattr(record, attribute, str(value))
        for attribute in self._union_lists:
            value_of = attrgetter(attribute)
            for record in records:
                value = value_of(record)
                if type(value) is str:
                    setattr(record, attribute, [value])
        return records

    def _decode_slowly(
        self, row: dict[str, t.Any]
    ) -> tuple[dict[str, t.Any], dict[str, t.Any], list[tuple[str, str]]]:
        """Leave out the fields the schema lacks, convert losslessly, check every value's type.

        An added field's value of another kind is made null.
        """
        left_out = {name: value for name, value in row.items() if name not in self._types}
        for name in self._required:
            if name not in row:
                raise FieldMismatch(row.get("ID"), name, self._expected[name], "no such field")
        record: dict[str, t.Any] = {}
        nulled = []
        for name, expected_type in self._types.items():
            if name not in row:
                continue
            value = sent = row[name]
            if name in self.added:
                kind = kind_of(value)
                if kind in {None, self.added[name]}:
                    record[name] = value
                else:
                    record[name] = None
                    nulled.append((name, str(kind)))
                continue
            if name in self._to_text and type(value) is int:
                value = str(value)
            elif name in self._to_list and type(value) is str:
                value = [value]
            try:
                record[name] = msgspec.convert(value, expected_type)
            except msgspec.ValidationError:
                got = msgspec.json.encode(sent).decode()
                if len(got) > QUOTE_LIMIT:
                    got = got[: QUOTE_LIMIT - 3] + "..."
                raise FieldMismatch(row.get("ID"), name, self._expected[name], got) from None
        return record, left_out, nulled


def _json_types(prop: Mapping[str, t.Any]) -> set[str]:
    """The JSON types a schema property allows."""
    declared = prop["type"]
    return {declared} if isinstance(declared, str) else set(declared)


def _python_type(prop: Mapping[str, t.Any], date_time: t.Any = DateTime) -> t.Any:
    """The msgspec type of a schema property: its JSON types, formats and items.

    A date-time is `date_time` (its items' are always checked `DateTime`s).
    """
    options: list[t.Any] = []
    for json_type in sorted(_json_types(prop), key=lambda name: name == "null"):
        if json_type == "array":
            options.append(list[_python_type(prop["items"])])  # type: ignore[misc]
        elif json_type == "string" and prop.get("format") == "date-time":
            options.append(date_time)
        else:
            options.append(_SCALARS[json_type])
    return t.Union[tuple(options)] if len(options) > 1 else options[0]  # noqa: UP007


def _describe(prop: Mapping[str, t.Any]) -> str:
    """What a property holds, as a person reads it: `a date-time string or null`."""
    names = []
    for json_type in sorted(_json_types(prop), key=lambda name: (name == "null", name)):
        if json_type == "array":
            item = _describe(prop["items"]).removeprefix("an ").removeprefix("a ")
            names.append(f"an array of {item}s")
        elif json_type == "string" and prop.get("format") == "date-time":
            names.append("a date-time string")
        else:
            names.append(_NAMES[json_type])
    return " or ".join(names)


def _field(
    attribute: str, name: str, declared: t.Any, extra: str | None, required: set[str]
) -> tuple[t.Any, ...]:
    """Struct field `attribute`, encoded as `name`, widened by its documented second type, if any.

    Attributes are not the names: names such as "Contact Name" are not identifiers.
    """
    field_type = declared if extra is None else declared | _SCALARS[extra]
    if name in required:
        return (attribute, field_type, msgspec.field(name=name))
    return (
        attribute,
        field_type | msgspec.UnsetType,
        msgspec.field(name=name, default=msgspec.UNSET),
    )
