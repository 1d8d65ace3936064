"""Parquet BATCH files: one output stream's rows under the Arrow schema of its JSON schema.

The Arrow schema comes from the stream's JSON schema (after stream maps), never from the
rows, so every file of a stream has the same columns and an all-null column keeps its type.
Strings (date-times too, as the API wrote them), integers, numbers, booleans and lists of
strings get their Arrow types. Anything else, such as the free-form objects of VOC's
`Problems` and `KPIs`, is JSON text in an Arrow `json` column: Arrow's structs hold only
fixed keys, and its maps only values of one type.
"""

from __future__ import annotations

import typing as t

import pyarrow as pa
import pyarrow.parquet as pq
from singer_sdk.contrib.msgspec import encoder

from tap_crescendo.errors import ConfigError

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: Rows gathered before they are encoded as one row group.
ROW_GROUP_ROWS = 10_000
#: The Arrow type of each JSON schema type written as itself.
SCALAR_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}
JSON_TEXT = pa.json_()


def arrow_schema(schema: Mapping[str, t.Any]) -> pa.Schema:
    """The Arrow schema of a stream's JSON schema: one nullable column per property."""
    properties = schema.get("properties", {})
    return pa.schema([pa.field(name, arrow_type(prop)) for name, prop in properties.items()])


def arrow_type(prop: Mapping[str, t.Any]) -> pa.DataType:
    """The Arrow type of one property: its own type, a list of strings, or JSON text."""
    kinds = _non_null_types(prop)
    if kinds == ["array"] and _non_null_types(prop.get("items", {})) == ["string"]:
        return pa.list_(pa.string())
    if len(kinds) == 1 and kinds[0] in SCALAR_TYPES:
        return SCALAR_TYPES[kinds[0]]
    return JSON_TEXT


def _non_null_types(prop: Mapping[str, t.Any]) -> list[str]:
    """The types a property allows besides null (none when it names no `type`)."""
    kinds = prop.get("type", [])
    return [kind for kind in ([kinds] if isinstance(kinds, str) else kinds) if kind != "null"]


class ParquetRows:
    """Gathers one file's rows and encodes them as Parquet bytes, row group by row group."""

    def __init__(self, schema: Mapping[str, t.Any], *, compression: str) -> None:
        self._schema = arrow_schema(schema)
        self._json_columns = {field.name for field in self._schema if field.type == JSON_TEXT}
        self._codec = "gzip" if compression == "gzip" else "none"
        self._rows: list[Mapping[str, t.Any]] = []
        self._file: tuple[pa.BufferOutputStream, pq.ParquetWriter] | None = None

    def add(self, records: list[Mapping[str, t.Any]]) -> None:
        """Add records (their properties outside the schema are left out)."""
        for record in records:
            self._rows.append(record)
            if len(self._rows) == ROW_GROUP_ROWS:
                self._write_row_group()

    def take_file(self) -> bytes:
        """The complete file of the rows added since the last `take_file`."""
        if self._rows:
            self._write_row_group()
        sink, writer = self._opened()
        writer.close()
        self._file = None
        content: bytes = sink.getvalue().to_pybytes()
        return content

    def _opened(self) -> tuple[pa.BufferOutputStream, pq.ParquetWriter]:
        """The in-memory file being encoded, begun on first use."""
        if self._file is None:
            sink = pa.BufferOutputStream()
            self._file = sink, pq.ParquetWriter(sink, self._schema, compression=self._codec)
        return self._file

    def _write_row_group(self) -> None:
        """Encode the gathered rows as one row group."""
        columns = [self._column(field) for field in self._schema]
        self._opened()[1].write_table(pa.Table.from_arrays(columns, schema=self._schema))
        self._rows.clear()

    def _column(self, field: pa.Field) -> pa.Array:
        """One column of the gathered rows; `ConfigError` for a value not of its type."""
        values = [row.get(field.name) for row in self._rows]
        if field.name in self._json_columns:
            values = [None if value is None else _json_text(value) for value in values]
        try:
            return pa.array(values, type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
            reason = str(error).splitlines()[0]
            msg = (
                f"Setting `batch_config.encoding.format` is 'parquet': property {field.name!r} "
                f"holds a value that does not fit its schema type {field.type} ({reason}); "
                "a `stream_maps` expression may need int(...), float(...) or str(...)"
            )
            raise ConfigError(msg) from None


def _json_text(value: t.Any) -> str:
    """A value as JSON text, encoded as in JSON Lines files."""
    return encoder.encode(value).decode("utf-8")
