"""The export paths the fake serves, and the tenant each request names."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

PREFIX = "/api/v1/reporting/tenants/"
# Path suffix after the tenant segment -> the dataset it exports.
EXPORTS = {"botconv": "bot", "assistant/conversations": "bot"}


@dataclass(frozen=True)
class Route:
    """A request's dataset and its (percent-decoded) tenant."""

    dataset: str
    tenant: str


def match_route(raw_path: str) -> Route | None:
    """Return the route of a raw request path, or None when no export lives there."""
    if not raw_path.startswith(PREFIX):
        return None
    segment, _, suffix = raw_path[len(PREFIX) :].partition("/")
    dataset = EXPORTS.get(suffix)
    if not segment or dataset is None:
        return None
    return Route(dataset, unquote(segment))
