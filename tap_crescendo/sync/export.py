"""Incremental exports: a tenant's span cut into windows, read in parallel, in order."""

from __future__ import annotations

import sys
import typing as t
from datetime import datetime, timezone
from functools import cached_property, partial

from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_crescendo.api.client import CrescendoStream
from tap_crescendo.api.pagination import CursorPaginator
from tap_crescendo.errors import APIError, CursorRejected
from tap_crescendo.output.sdk_seams import LeanRecordStream
from tap_crescendo.records.contract import RecordContract
from tap_crescendo.records.evolution import SchemaEvolution
from tap_crescendo.records.page_records import PageRecords
from tap_crescendo.settings import RANGE_SPANS, setting_timestamp
from tap_crescendo.sync.bookmarks import RecordStarts
from tap_crescendo.sync.page_feed import PageArrived, PageFeed, WindowRestarted
from tap_crescendo.sync.run import TenantRun
from tap_crescendo.sync.tenants import TenantPartitions
from tap_crescendo.sync.windows import split_span
from tap_crescendo.timestamps import format_epoch_ms, to_epoch_ms

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from singer_sdk.helpers.types import Context

    from tap_crescendo.sync.page_feed import WindowEvent
    from tap_crescendo.sync.windows import Window

MS_PER_HOUR = 3_600_000
MS_PER_MINUTE = 60_000


class IncrementalExport(TenantPartitions, LeanRecordStream, CrescendoStream):
    """An export read window by window; its bookmark is the newest start delivered."""

    #: Records match the schema when decoded (`RecordContract`); the SDK need not redo it.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: Fields the API documents with a second type beside the schema's (see `RecordContract`).
    documented_unions: t.ClassVar[Mapping[str, str]] = {}
    #: An integer epoch-ms twin of the replication key, cheaper to compare, if any.
    start_ms_field: t.ClassVar[str | None] = None

    @override
    def record_pages(self, context: Context | None) -> Iterator[int]:
        """Read a tenant's windows, up to `max_parallel_windows` at once; write and checkpoint.

        Yields each page's count of records. The bookmark moves only over the windows
        complete from the first one on (`WindowDone.completes`), never backwards.
        """
        tenant = self.config["tenant_id"] if context is None else context["tenant_id"]
        subject = self.subject(tenant)
        state, bookmark = self.resume_point(context)
        span = self.sync_span(bookmark)
        windows = list(split_span(*span, self.window_size_ms))
        self._log_start(subject, span, len(windows), state.get("replication_key_value"))
        run = TenantRun(
            subject,
            windows,
            resume_ms=to_epoch_ms(bookmark) if bookmark else None,
            records=self.page_records(tenant),
            starts=self.record_starts,
            id_attribute=self.contract.attribute("ID"),
            output=self.open_output(
                state,
                tenant=tenant if self.partitions is None else None,
                subject=subject,
                where=self._state_name(context),
            ),
            logger=self.logger,
        )
        read = partial(self.window_pages, {"tenant_id": tenant})
        with PageFeed(read, windows, workers=self.config["max_parallel_windows"]) as feed:
            for event in feed:
                if isinstance(event, PageArrived):
                    yield run.records_out(event.window, event.page, event.response)
                elif isinstance(event, WindowRestarted):
                    run.restart(event.window)
                elif bookmark_moved := run.window_done(event.window, event.completes):
                    run.output.offer_checkpoint(bookmark_moved)
                del event  # the page is not kept while the next one is awaited
        run.close(span)

    def subject(self, tenant: str) -> str:
        """What the log lines of a tenant's run begin with."""
        return f"Stream '{self.name}', tenant {tenant!r}"

    def page_records(self, tenant: str) -> PageRecords:
        """What makes a tenant's pages records of this stream."""
        return PageRecords(self.evolution, tenant=tenant, subject=self.subject(tenant))

    def _log_start(
        self, subject: str, span: tuple[int, int], count: int, bookmark: str | None
    ) -> None:
        """Say what a tenant's sync reads."""
        self.logger.info(
            "%s: reading [%s, %s) in %d windows of %d h, %d at a time (bookmark: %s)",
            subject,
            format_epoch_ms(span[0]),
            format_epoch_ms(span[1]),
            count,
            self.config["window_size_hours"],
            self.config["max_parallel_windows"],
            bookmark or "none",
        )

    def sync_span(self, bookmark: datetime | None) -> tuple[int, int]:
        """Return `[start, end)` in epoch ms: from bookmark minus lookback, start_date or range."""
        now = datetime.now(timezone.utc)
        end = min(setting_timestamp(self.config, "end_date") or now, now)
        start_date = setting_timestamp(self.config, "start_date")
        if bookmark is not None:
            lookback_ms = self.config["lookback_window_minutes"] * MS_PER_MINUTE
            start_ms = to_epoch_ms(bookmark) - lookback_ms
            if start_date is not None:
                start_ms = max(start_ms, to_epoch_ms(start_date))
        elif start_date is not None:
            start_ms = to_epoch_ms(start_date)
        else:
            start_ms = to_epoch_ms(end - RANGE_SPANS[self.config["range"]])
        return start_ms, to_epoch_ms(end)

    @cached_property
    def contract(self) -> RecordContract:
        """The decoder that makes every row a record matching this stream's declared schema."""
        return RecordContract(self.schema, self.documented_unions)

    @cached_property
    def evolution(self) -> SchemaEvolution:
        """The fields beyond the declared schema this run, and the contract that decodes them."""
        return SchemaEvolution(
            self.contract,
            self.config["schema_evolution"],
            stream=self.name,
            evolvable=self.selects_every_property,
            logger=self.logger,
        )

    @cached_property
    def record_starts(self) -> RecordStarts:
        """Where a page's records start: what the bookmark may move to."""
        return RecordStarts(self.contract, str(self.replication_key), self.start_ms_field)

    @cached_property
    def window_size_ms(self) -> int:
        """The length of one window, from `window_size_hours`."""
        return int(self.config["window_size_hours"]) * MS_PER_HOUR

    @override
    def get_new_paginator(self) -> CursorPaginator:
        """Return a paginator for one window's query, decoding its rows with the page."""
        return CursorPaginator(self.evolution.decode_page)

    def window_pages(self, tenant: Context, index: int, window: Window) -> Iterator[WindowEvent]:
        """Yield window `index`'s pages, following its cursor; a refused cursor restarts it once.

        Runs on a worker thread. `tenant` is the tenant's context.
        """
        context = {**tenant, "from": window.start_ms, "to": window.end_ms}
        for attempt in (1, 2):
            paginator = self.get_new_paginator()
            try:
                while not paginator.finished:
                    response = self.fetch_page(context, paginator.current_value)
                    page = paginator.page_of(response)
                    paginator.advance(response)
                    yield PageArrived(index, page, response)
            except CursorRejected as error:
                if attempt == 2:
                    msg = f"{error}, again after restarting window {window}; run the tap again"
                    raise APIError(msg) from None
                self.logger.warning(
                    "%s; restarting window %s from its first page (records already sent "
                    "are not sent again)",
                    error,
                    window,
                )
                yield WindowRestarted(index)
            else:
                return
