"""The export paths the fake serves, in two naming styles, and the tenant each request names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from collections.abc import Collection

PREFIX = "/api/v1/reporting/tenants/"
# "doc": the paths of Crescendo's documentation pages; "openapi": those of its OpenAPI document.
PATH_STYLES = ("doc", "openapi")
# Path suffix after the tenant segment -> its style and the dataset it exports.
EXPORTS = {
    "botconv": ("doc", "bot"),
    "vocconv": ("doc", "voc"),
    "assistant/conversations": ("openapi", "bot"),
    "voc/conversations": ("openapi", "voc"),
}


@dataclass(frozen=True)
class Route:
    """A request's dataset and its (percent-decoded) tenant."""

    dataset: str
    tenant: str


def check_styles(styles: Collection[str]) -> frozenset[str]:
    """Return `styles` as a set; raise `ValueError` when empty or naming an unknown style."""
    unknown = [style for style in styles if style not in PATH_STYLES]
    if unknown or not styles:
        msg = f"path styles must be one or more of {', '.join(PATH_STYLES)}, got {list(styles)!r}"
        raise ValueError(msg)
    return frozenset(styles)


def match_route(raw_path: str, styles: Collection[str] = PATH_STYLES) -> Route | None:
    """Return the route of a raw request path, or None when no export of `styles` lives there."""
    if not raw_path.startswith(PREFIX):
        return None
    segment, _, suffix = raw_path[len(PREFIX) :].partition("/")
    style, dataset = EXPORTS.get(suffix, (None, None))
    if not segment or dataset is None or style not in styles:
        return None
    return Route(dataset, unquote(segment))
