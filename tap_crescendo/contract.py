"""A stream's SCHEMA as a strict decoder: each row becomes a record that matches it, or an error.

A page's rows are decoded at once straight into a msgspec Struct built from the schema,
which checks every field's type and refuses fields the schema lacks, in C; the Struct encodes
as the record (the API's names, absent fields left out). Only a page with a row that fails
that goes row by row, and such a row the slow way: fields the schema lacks are dropped (and
named), the lossless conversions are applied, and a value that still fits no declared type
is a `FieldMismatch`.

Lossless conversions, the only changes a value may undergo:
- an integer where a string is declared becomes its decimal string (`17` -> `"17"`);
- an integer where a number is declared becomes a float (`4` -> `4.0`);
- a string where the API documents "a string or a list of strings" becomes a one-item list.
"""

from __future__ import annotations

import typing as t
from operator import attrgetter

import msgspec

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: RFC 3339 date-time, as JSON Schema's `date-time` format means it.
RFC3339 = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
DateTime = t.Annotated[str, msgspec.Meta(pattern=RFC3339)]
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

    A record is a Struct whose attribute for property `name` is `attribute(name)`; it
    encodes as the record, and `msgspec.to_builtins` makes it the record's dict.
    """

    def __init__(self, schema: Mapping[str, t.Any], documented_unions: Mapping[str, str]) -> None:
        properties: Mapping[str, Mapping[str, t.Any]] = schema["properties"]
        required = set(schema.get("required", ()))
        self._types = {name: _python_type(prop) for name, prop in properties.items()}
        self._expected = {name: _describe(prop) for name, prop in properties.items()}
        self._required = [name for name in properties if name in required]
        self._to_text = {
            name for name, prop in properties.items() if _json_types(prop) & {"string"}
        } - {name for name, prop in properties.items() if prop.get("format") == "date-time"}
        self._to_list = {name for name, extra in documented_unions.items() if extra == "string"}
        self._attributes = {name: f"field_{index}" for index, name in enumerate(properties)}
        self._union_ids = [
            self._attributes[name]
            for name, extra in documented_unions.items()
            if extra == "integer"
        ]
        self._union_lists = [self._attributes[name] for name in sorted(self._to_list)]
        fields = [
            _field(self._attributes[name], name, declared, documented_unions.get(name), required)
            for name, declared in self._types.items()
        ]
        self._record_type = msgspec.defstruct(
            "Row", fields, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
        )
        self._fast = msgspec.json.Decoder(self._record_type)
        self._page = msgspec.json.Decoder(list[self._record_type])  # type: ignore[name-defined]
        self._row = msgspec.json.Decoder(dict[str, t.Any])

    def attribute(self, name: str) -> str:
        """The attribute of a record that holds property `name`."""
        return self._attributes[name]

    def decode_page(self, data: bytes | msgspec.Raw) -> list[msgspec.Struct]:
        """Return the records of a page's `data` when every row is one as sent but the unions.

        Raises `msgspec.ValidationError` otherwise: then `decode` each row.
        """
        return self._converted(self._page.decode(data))

    def decode(self, raw: bytes | msgspec.Raw) -> tuple[msgspec.Struct, list[str]]:
        """Return the row's record and the names of the fields it had that the schema lacks.

        Raises `FieldMismatch` for a value no conversion makes fit, and `msgspec.DecodeError`
        for a row that is not a JSON object.
        """
        try:
            record = self._fast.decode(raw)
        except msgspec.ValidationError:
            fields, undocumented = self._decode_slowly(self._row.decode(raw))
            return msgspec.convert(fields, self._record_type), undocumented
        return self._converted([record])[0], []

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

    def _decode_slowly(self, row: dict[str, t.Any]) -> tuple[dict[str, t.Any], list[str]]:
        """Drop the fields the schema lacks, convert losslessly, check every value's type."""
        undocumented = [name for name in row if name not in self._types]
        for name in self._required:
            if name not in row:
                raise FieldMismatch(row.get("ID"), name, self._expected[name], "no such field")
        record = {}
        for name, expected_type in self._types.items():
            if name not in row:
                continue
            value = sent = row[name]
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
        return record, undocumented


def _json_types(prop: Mapping[str, t.Any]) -> set[str]:
    """The JSON types a schema property allows."""
    declared = prop["type"]
    return {declared} if isinstance(declared, str) else set(declared)


def _python_type(prop: Mapping[str, t.Any]) -> t.Any:
    """The msgspec type of a schema property: its JSON types, formats and items."""
    options: list[t.Any] = []
    for json_type in sorted(_json_types(prop), key=lambda name: name == "null"):
        if json_type == "array":
            options.append(list[_python_type(prop["items"])])  # type: ignore[misc]
        elif json_type == "string" and prop.get("format") == "date-time":
            options.append(DateTime)
        else:
            options.append(_SCALARS[json_type])
    return t.Union[tuple(options)] if len(options) > 1 else options[0]  # noqa: UP007


def _describe(prop: Mapping[str, t.Any]) -> str:
    """What a property holds, as a person reads it: `a date-time string or null`."""
    names = []
    for json_type in sorted(_json_types(prop), key=lambda name: name == "null"):
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


class UndocumentedFields:
    """The fields the API sent that a schema lacks: their names, and how many rows had any."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.rows = 0

    def note(self, names: list[str]) -> list[str]:
        """Count a row that had `names`; return those not seen before in this run."""
        self.rows += 1
        new = [name for name in names if name not in self.names]
        self.names.update(new)
        return new
