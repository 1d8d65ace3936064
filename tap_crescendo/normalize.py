"""One stable type per field: conversions for the fields the API sends in two types."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

Conversion: t.TypeAlias = "Callable[[t.Any], t.Any]"


def as_text(value: t.Any) -> str | None:
    """Return a string or integer id as a string (`17` -> `"17"`), null as null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    msg = f"expected a string or an integer, got {value!r}"
    raise ValueError(msg)


def as_text_list(value: t.Any) -> list[str] | None:
    """Return a string as a one-item list, a list of strings as is, null as null."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    msg = f"expected a string or a list of strings, got {value!r}"
    raise ValueError(msg)


def as_number(value: t.Any) -> float | None:
    """Return an integer or a float as a float (`4` -> `4.0`), null as null."""
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    msg = f"expected a number, got {value!r}"
    raise ValueError(msg)


def normalize_record(record: dict[str, t.Any], conversions: Mapping[str, Conversion]) -> None:
    """Convert, in place, each field of `record` that has a conversion.

    Raises `ValueError` naming the field when a value fits no allowed type.
    """
    for field, convert in conversions.items():
        if field in record:
            try:
                record[field] = convert(record[field])
            except ValueError as error:
                msg = f"field {field!r}: {error}"
                raise ValueError(msg) from None
