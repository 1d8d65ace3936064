"""What a tenant's run of a stream sends out: one small interface, and the STATE it writes.

A STATE claims only what is already out: `RecordLines` writes it at once, after the lines it
follows; `BatchFiles` holds it until every row it claims is in an announced file.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import datetime

    import msgspec
    from singer_sdk.singerlib import SchemaMessage

#: A record on its way out: a decoded Struct, or a dict the stream maps made.
Record: t.TypeAlias = "Mapping[str, t.Any] | msgspec.Struct"
#: A page's records by the output stream they go to (stream maps may add streams).
Routes: t.TypeAlias = "Callable[[list[msgspec.Struct]], Iterable[tuple[str, Sequence[Record]]]]"
#: Grows the stream's schema by properties; returns the SCHEMA of each output stream it changed.
SchemaGrowth: t.TypeAlias = "Callable[[Mapping[str, Mapping[str, t.Any]]], list[SchemaMessage]]"


class Output(t.Protocol):
    """Where a tenant's run sends its records, and when a STATE may follow them."""

    def add(self, page: list[msgspec.Struct], extracted_at: datetime) -> None:
        """Send a page's records, received at `extracted_at`."""

    def offer_checkpoint(self, bookmark: str) -> None:
        """Write the STATE claiming `bookmark` once every record added so far is out."""

    def grow_schema(self, properties: Mapping[str, Mapping[str, t.Any]]) -> None:
        """The stream's schema gained `properties`: send its new SCHEMA before what follows."""

    def close(self) -> None:
        """Send everything held: the run's end."""


@dataclass
class StateLine:
    """A tenant's state, and the SDK's way to write the tap's STATE holding it."""

    state: dict[str, t.Any]
    replication_key: str
    #: With `tenant_id`, the tenant the state names; a partition's context names it otherwise.
    tenant: str | None
    #: Writes the tap's STATE after the tenant's state changed (the SDK's finalize-and-write).
    emit: Callable[[dict[str, t.Any]], None]

    def write(self, bookmark: str) -> None:
        """Move the bookmark to a delivered record's start and write the STATE now."""
        self.state["replication_key"] = self.replication_key
        self.state["replication_key_value"] = bookmark
        if self.tenant is not None:
            self.state["tenant_id"] = self.tenant
        self.emit(self.state)
