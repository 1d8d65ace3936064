"""Many tenants in one run: the state each resumes from, and how it moves between settings.

With `tenant_id` the stream's state is the tenant's, as it always was, and names the tenant.
With `tenant_ids` each tenant is a partition of each stream (`{"tenant_id": ...}`) with its
own state. A bookmark moves with its tenant when a user moves from one setting to the other.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.streams.core import Stream

from tap_crescendo.errors import StateError
from tap_crescendo.sync.bookmarks import read_bookmark

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import logging
    from datetime import datetime

    from singer_sdk.helpers.types import Context

#: What a tenant's state holds that moves with it from one setting to the other.
TENANT_KEYS = ("replication_key", "replication_key_value", "batch_runs", "batch_files")


class TenantPartitions(Stream):
    """A stream read tenant by tenant: a partition per tenant of `tenant_ids`, or none."""

    @override
    @property
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """One partition per tenant of `tenant_ids`, in order; none with `tenant_id`."""
        tenants = self.config.get("tenant_ids")
        return None if tenants is None else [{"tenant_id": tenant} for tenant in tenants]

    def tenant_state(self, context: Context | None) -> dict[str, t.Any]:
        """Return the state a tenant's sync resumes from and writes."""
        where = self._state_name(context)
        if context is None:
            tenant = self.config["tenant_id"]
            return single_tenant_state(self.stream_state, tenant, where, self.logger)
        partition = self.get_context_state(context)
        return partition_state(partition, self.stream_state, context["tenant_id"], where)

    def resume_point(self, context: Context | None) -> tuple[dict[str, t.Any], datetime | None]:
        """Return a tenant's state and its bookmark; `StateError` if it cannot be resumed from."""
        state = self.tenant_state(context)
        return state, read_bookmark(state, self._state_name(context), str(self.replication_key))

    def check_bookmarks(self) -> None:
        """Raise `StateError` unless every tenant's state can be resumed from."""
        if self.name not in self.tap_state.get("bookmarks", {}):
            return  # nothing to check, and no empty state is made for it
        contexts: list[Context | None] = [None]
        for context in self.partitions or contexts:
            self.resume_point(context)

    def _state_name(self, context: Context | None) -> str:
        """How messages name a tenant's state."""
        where = f"STATE for stream '{self.name}'"
        return where if context is None else f"{where}, tenant {context['tenant_id']!r}"


def single_tenant_state(
    stream_state: dict[str, t.Any], tenant: str, where: str, logger: logging.Logger
) -> dict[str, t.Any]:
    """Return the state `tenant_id` resumes from and writes: the stream's own.

    A bookmark the STATE says is another tenant's is dropped, so that tenant's place is not
    taken for this one's; the tenant's partition, left by `tenant_ids`, moves into an empty one.
    Checkpoints name the tenant (`StateLine.write`).
    """
    named = stream_state.get("tenant_id", tenant)
    if named != tenant and stream_state.get("replication_key_value") is not None:
        logger.warning(
            "%s: the bookmark (%s) is tenant %r's, not %r's: reading from `start_date` or "
            "`range`, as on a first sync",
            where,
            stream_state["replication_key_value"],
            named,
            tenant,
        )
        del stream_state["replication_key_value"]
    partitions = stream_state.get("partitions", [])
    partition = next((p for p in partitions if p["context"] == {"tenant_id": tenant}), None)
    if partition is not None and stream_state.get("replication_key_value") is None:
        _move(partition, stream_state)
        stream_state["tenant_id"] = tenant
        partitions.remove(partition)
        if not partitions:
            del stream_state["partitions"]
    return stream_state


def partition_state(
    partition: dict[str, t.Any], stream_state: dict[str, t.Any], tenant: str, where: str
) -> dict[str, t.Any]:
    """Return the state a tenant of `tenant_ids` resumes from and writes: its partition.

    An empty one takes the bookmark `tenant_id` left for the same tenant. Raises
    `StateError` when that bookmark does not say whose it is (a pre-release STATE).
    """
    if partition.get("replication_key_value") is not None:
        return partition
    if stream_state.get("replication_key_value") is None:
        return partition
    named = stream_state.get("tenant_id")
    if named is None:
        bookmark = stream_state["replication_key_value"]
        msg = (
            f"{where}: the STATE holds a bookmark of `tenant_id` ({bookmark}) that does not "
            "name its tenant; run once with `tenant_id` set to that tenant, "
            "which names it, then move to `tenant_ids`"
        )
        raise StateError(msg)
    if named == tenant:
        _move(stream_state, partition)
        del stream_state["tenant_id"]
    return partition


def _move(source: dict[str, t.Any], target: dict[str, t.Any]) -> None:
    """Move a tenant's bookmark and file counts from one state to another."""
    for key in TENANT_KEYS:
        if key in source:
            target[key] = source.pop(key)
