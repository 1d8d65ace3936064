"""The files and variables a person gives the command, each refused in one line naming it.

The SDK reads `--config` with `read_json_file`, `--state` and `--catalog` as `click.File`
objects, and `TAP_CRESCENDO_*` variables with `int()` or a JSON parser: a typo in any of them
ends in a traceback. These are read first, so the line names the file (with the line and
column of a JSON error) or the variable, and no request is sent.
"""

from __future__ import annotations

import io
import json
import sys
import typing as t
from pathlib import Path

import click

from tap_crescendo.errors import ConfigError, InputFileError

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: JSON's names for Python's types, to say what a file holds instead of an object.
JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number"}
#: What Pythons before 3.13 say at the `}` or `]` after a trailing comma, and what that closes.
TRAILING_COMMA = {
    ("Expecting property name enclosed in double quotes", "}"): "object",
    ("Expecting value", "]"): "array",
}


def read_json_object(path: str, option: str) -> str:
    """Return the text of a file holding one JSON object, or raise `InputFileError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        msg = f"The {option} file {path!r} is not UTF-8 text"
        raise InputFileError(msg) from None
    except OSError as error:
        msg = f"Cannot read the {option} file {path!r}: {error.strerror or error}"
        raise InputFileError(msg) from None
    if not text.strip():
        msg = f"The {option} file {path!r} is empty; it must hold a JSON object, e.g. {{}}"
        raise InputFileError(msg)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        msg = f"The {option} file {path!r} is not valid JSON: {_json_problem(error)}"
        raise InputFileError(msg) from None
    if not isinstance(value, dict):
        held = JSON_TYPES.get(type(value), "null" if value is None else "true or false")
        msg = f"The {option} file {path!r} holds {held}; it must hold a JSON object ({{...}})"
        raise InputFileError(msg)
    return text


class JsonObjectFile(click.ParamType):  # type: ignore[type-arg]  # generic only in click 8.3+
    """A file holding one JSON object, handed on as an open text file, as `click.File` does."""

    name = "filename"

    def __init__(self, option: str) -> None:
        self.option = option

    @override
    def convert(
        self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> io.StringIO:
        """Read and check the file; a bad one raises `InputFileError`, not a usage error."""
        return io.StringIO(read_json_object(str(value), self.option))


def check_environment(
    settings: Mapping[str, Mapping[str, t.Any]], prefix: str, environ: Mapping[str, str]
) -> None:
    """Raise `ConfigError` naming the first variable the SDK could not read as its setting's type.

    The SDK reads `<prefix><NAME>` with `int()` for an integer setting and as JSON for an
    object or array one (a list of strings may also be comma-separated).
    """
    for name, schema in settings.items():
        variable = prefix + name.upper().replace("-", "_")
        value = environ.get(variable)
        if value is None:
            continue
        types = _types_of(schema)
        if "integer" in types:
            try:
                int(value)
            except ValueError:
                shown = "" if schema.get("secret") else f", not {value!r}"
                msg = f"Environment variable {variable} must be an integer (`{name}`){shown}"
                raise ConfigError(msg) from None
        elif types & {"object", "array"} and not _is_string_list(schema):
            try:
                json.loads(value)
            except json.JSONDecodeError as error:
                problem = _json_problem(error)
                msg = f"Environment variable {variable} must be JSON (`{name}`): {problem}"
                raise ConfigError(msg) from None


def _json_problem(error: json.JSONDecodeError) -> str:
    """Say what is wrong with a JSON text and where, in Python 3.13's words on every Python."""
    comma = len(error.doc[: error.pos].rstrip(" \t\n\r")) - 1
    closes = TRAILING_COMMA.get((error.msg, error.doc[error.pos : error.pos + 1]))
    if closes and error.doc[comma : comma + 1] == ",":
        msg = f"Illegal trailing comma before end of {closes}"
        error = json.JSONDecodeError(msg, error.doc, comma)
    return f"{error.msg} (line {error.lineno}, column {error.colno})"


def _types_of(schema: Mapping[str, t.Any]) -> set[str]:
    """Return the JSON types a setting's schema allows, `anyOf` included."""
    types: set[str] = set()
    for option in [schema, *schema.get("anyOf", [])]:
        declared = option.get("type", [])
        types.update([declared] if isinstance(declared, str) else declared)
    return types


def _is_string_list(schema: Mapping[str, t.Any]) -> bool:
    """Tell whether a setting is a list of strings, which the SDK also reads as `a,b,c`."""
    items = schema.get("items", {})
    return "array" in _types_of(schema) and "string" in _types_of(items)
