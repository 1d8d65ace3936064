"""The `stream_map_config` keys that stream map expressions read, each checked to be set.

Map expressions see `stream_map_config` as `config`. A key missing there ends the sync at its
first record with a KeyError; a key set to '' (what Meltano passes for an unset `$VAR`) makes
`sha256(config['pii_salt'] + ...)` an unsalted hash. The keys are read from the expressions'
syntax trees, so a key quoted in a string of the expression does not count.
"""

from __future__ import annotations

import ast
import typing as t

from tap_crescendo.errors import ConfigError

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

#: The salt of the shipped PII maps (meltano.yml `tap-crescendo--pii-safe`).
PII_SALT = "pii_salt"
#: The options of a stream map that hold stream names, not expressions.
STREAM_NAME_OPTIONS = frozenset({"__alias__", "__source__"})
#: What to do about a missing or empty key: the PII salt's remedy, or any other key's.
REMEDIES = {
    (PII_SALT, "missing"): (
        "add `stream_map_config: {pii_salt: $CRESCENDO_PII_SALT}` beside the maps and set "
        "CRESCENDO_PII_SALT to a long random secret"
    ),
    (PII_SALT, "empty"): "set CRESCENDO_PII_SALT to a long random secret, and keep it",
    (None, "missing"): "add it to `stream_map_config`",
    (None, "empty"): "give it a value",
}


def check_map_settings(config: Mapping[str, t.Any]) -> None:
    """Raise `ConfigError` for the first map expression reading a missing or empty key."""
    values = config.get("stream_map_config") or {}
    for stream, prop, key in config_reads(config.get("stream_maps") or {}):
        if values.get(key) in (None, ""):
            problem = "missing" if key not in values else "empty"
            remedy = REMEDIES[(key if key == PII_SALT else None, problem)]
            msg = (
                f"Setting `stream_map_config.{key}` is {problem}, and the stream map of "
                f"{stream!r} reads it (property {prop!r}): {remedy}"
            )
            raise ConfigError(msg)


def config_reads(stream_maps: Mapping[str, t.Any]) -> Iterator[tuple[str, str, str]]:
    """Yield (map, property, key) for each `config['key']` in the maps' expressions.

    Every string of a map is an expression but its stream names (`__alias__`, `__source__`).
    """
    for stream, definition in stream_maps.items():
        if not isinstance(definition, dict):
            continue
        for prop, expression in definition.items():
            if isinstance(expression, str) and prop not in STREAM_NAME_OPTIONS:
                for key in _keys_read(expression):
                    yield stream, prop, key


def _keys_read(expression: str) -> list[str]:
    """The constant keys of `config[...]` in an expression; none if it does not parse."""
    try:
        tree = ast.parse(expression)
    except SyntaxError:  # the SDK refuses it, if the map applies to a stream at all
        return []
    return [
        node.slice.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "config"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ]
