"""Incremental exports: the span cut into windows, read in parallel, checkpointed in order."""

from __future__ import annotations

import sys
import typing as t
from datetime import datetime, timezone
from functools import cached_property, partial
from operator import attrgetter, itemgetter

import msgspec
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_crescendo.api.client import CrescendoStream
from tap_crescendo.api.pagination import CursorPaginator, out_of_contract, split_rows
from tap_crescendo.api.redaction import masked, quoted
from tap_crescendo.errors import APIError, CursorRejected, StateError
from tap_crescendo.output.batch_files import BatchDelivery
from tap_crescendo.output.sdk_seams import LeanRecordStream
from tap_crescendo.records.contract import FieldMismatch, RecordContract, UndocumentedFields
from tap_crescendo.settings import RANGE_SPANS, setting_timestamp
from tap_crescendo.sync.page_feed import PageArrived, PageFeed, WindowRestarted
from tap_crescendo.sync.progress import SyncProgress
from tap_crescendo.sync.tenants import TenantPartitions
from tap_crescendo.sync.windows import WindowProgress, later, newest_start, split_span
from tap_crescendo.timestamps import format_epoch_ms, parse_timestamp, to_epoch_ms

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import requests
    from singer_sdk.helpers.types import Context

    from tap_crescendo.api.pagination import Page
    from tap_crescendo.output.batch_writer import BatchFile
    from tap_crescendo.output.writer import StateFlushingWriter
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
    def record_pages(self, context: Context | None) -> Iterator[list[msgspec.Struct]]:
        """Read a tenant's windows, up to `max_parallel_windows` at once, and checkpoint.

        Each window's progress is one `WindowProgress`. The bookmark moves only over the
        windows complete from the first one on (`WindowDone.completes`), never backwards.
        """
        self.tenant = self.config["tenant_id"] if context is None else context["tenant_id"]
        undocumented_before = self.undocumented.rows  # of the tenants read before
        state, bookmark = self.resume_point(context)
        start_ms, end_ms = self.sync_span(bookmark)
        bookmark_ms = to_epoch_ms(bookmark) if bookmark else None
        windows = [WindowProgress(w) for w in split_span(start_ms, end_ms, self.window_size_ms)]
        self._log_start(start_ms, end_ms, len(windows), state.get("replication_key_value"))
        self.batches = self._batch_delivery(state)
        if self.batches is not None:
            self._remove_loaded_files(self.batches, state, self._state_name(context))
        progress = SyncProgress(self.subject, len(windows), self.logger)
        workers = self.config["max_parallel_windows"]
        read = partial(self.window_pages, {"tenant_id": self.tenant})
        with PageFeed(read, [w.window for w in windows], workers=workers) as feed:
            for event in feed:
                window = windows[event.window]
                if isinstance(event, PageArrived):
                    yield self._page_records(event.page, event.response, window)
                elif isinstance(event, WindowRestarted):
                    window.restart()
                else:
                    window.finish()
                    self._warn_if_total_differs(window)
                    self._warn_if_outside(window)
                    progress.window_done(sum(w.delivered for w in windows))
                    newest = newest_start(windows[index] for index in event.completes)
                    # Windows complete in order, so each newest start is past the last one.
                    if newest and (bookmark_ms is None or newest[0] > bookmark_ms):
                        self.checkpoint(state, newest[1])
                del event  # the page is not kept while the next one is awaited
        if self.batches is not None:
            self.batches.close()
        # Rows read again in the lookback may follow the last STATE, and the SDK writes no
        # closing STATE that repeats it: send them now.
        t.cast("StateFlushingWriter", self._tap.message_writer).send_held_lines()
        self._log_summary(start_ms, end_ms, windows, self.undocumented.rows - undocumented_before)

    def _log_start(self, start_ms: int, end_ms: int, count: int, bookmark: str | None) -> None:
        """Say what the sync reads."""
        self.logger.info(
            "%s: reading [%s, %s) in %d windows of %d h, %d at a time (bookmark: %s)",
            self.subject,
            format_epoch_ms(start_ms),
            format_epoch_ms(end_ms),
            count,
            self.config["window_size_hours"],
            self.config["max_parallel_windows"],
            bookmark or "none",
        )

    def _log_summary(
        self, start_ms: int, end_ms: int, windows: list[WindowProgress], undocumented: int
    ) -> None:
        """Say what a tenant's sync read: records, windows, and what did not add up."""
        self.logger.info(
            "%s: %d records from %d windows in [%s, %s); %d windows where "
            "`total` differed from the rows received; %d rows with fields the schema lacks",
            self.subject,
            sum(window.delivered for window in windows),
            len(windows),
            format_epoch_ms(start_ms),
            format_epoch_ms(end_ms),
            sum(window.total_differs for window in windows),
            undocumented,
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

    @property
    def replication_key_name(self) -> str:
        """The replication key, which every Crescendo stream has."""
        return str(self.replication_key)

    @cached_property
    def contract(self) -> RecordContract:
        """The decoder that makes every row a record matching this stream's schema."""
        return RecordContract(self.schema, self.documented_unions)

    @cached_property
    def undocumented(self) -> UndocumentedFields:
        """The fields the API sent that the schema lacks, this run."""
        return UndocumentedFields()

    @cached_property
    def window_size_ms(self) -> int:
        """The length of one window, from `window_size_hours`."""
        return int(self.config["window_size_hours"]) * MS_PER_HOUR

    @override
    def get_batch_config(self, config: Mapping[str, t.Any]) -> None:
        """Return None, so the SDK syncs records (see `batches` for BATCH mode).

        The SDK's own batching would write files after the checkpoints claiming them, and
        without the stream maps.
        """

    def _batch_delivery(self, state: dict[str, t.Any]) -> BatchDelivery | None:
        """In BATCH mode (`batch_config` set), a tenant's files, their counts kept in `state`."""
        settings = super().get_batch_config(self.config)
        if settings is None:
            return None
        schemas = {
            stream_map.stream_alias: stream_map.transformed_schema
            for stream_map in self.stream_maps
        }
        return BatchDelivery(
            settings,
            schemas=schemas,
            announce=partial(self._announce, state),
            release=partial(self.write_checkpoint, state),
        )

    def _announce(self, state: dict[str, t.Any], file: BatchFile) -> None:
        """Write a completed file's BATCH message; the next STATEs count it among its stem's."""
        t.cast("StateFlushingWriter", self._tap.message_writer).write_batch(file)
        state.setdefault("batch_runs", {})[file.stem] = file.sequence

    def _remove_loaded_files(
        self, batches: BatchDelivery, state: dict[str, t.Any], where: str
    ) -> None:
        """Remove the files the incoming STATE names: the target loaded them last run.

        A STATE of an earlier release lists them as `batch_files`.
        """
        listed = state.pop("batch_files", [])
        runs = state.pop("batch_runs", {})
        if not isinstance(runs, dict) or not all(type(count) is int for count in runs.values()):
            msg = f"{where}: batch_runs must map file stems to counts of files, got {runs!r}"
            raise StateError(msg)
        if not listed and not runs:
            return
        removed, remaining = batches.remove_loaded(listed, runs)
        self.logger.info(
            "%s: removed %d batch files the target loaded in the last run",
            self.subject,
            removed,
        )
        if remaining:
            self.logger.warning(
                "%s: could not remove %d loaded batch files, e.g. %s",
                self.subject,
                len(remaining),
                remaining[0],
            )

    def checkpoint(self, state: dict[str, t.Any], bookmark: str) -> None:
        """Move the bookmark to a delivered record's start: now, or once its files are out."""
        if self.batches is None:
            self.write_checkpoint(state, bookmark)
        else:
            self.batches.checkpoint(bookmark)

    def write_checkpoint(self, state: dict[str, t.Any], bookmark: str) -> None:
        """Move a tenant's bookmark to a delivered record's start and emit STATE at once.

        With `tenant_id` the state names its tenant, as a partition's context does.
        """
        state["replication_key"] = self.replication_key_name
        state["replication_key_value"] = bookmark
        if self.partitions is None:
            state["tenant_id"] = self.tenant
        self.finalize_state_progress_markers(state)

    def _newest_of(
        self, records: list[msgspec.Struct], window: WindowProgress
    ) -> tuple[int, str] | None:
        """Return the newest start of the records inside the window, as (epoch ms, value).

        A start outside the window's query does not count, so the bookmark never passes
        rows not read yet; such rows are counted in `window.outside`.
        """
        if self.start_ms_field is not None and (newest := self._newest_at_once(records, window)):
            return newest
        value_of = attrgetter(self.contract.attribute(self.replication_key_name))
        millis_field = self.start_ms_field
        millis_of = attrgetter(self.contract.attribute(millis_field)) if millis_field else None
        starts = []
        for record in records:
            value = value_of(record)
            if not value:
                continue
            sent_ms = millis_of(record) if millis_of else None
            start_ms = sent_ms if type(sent_ms) is int else _epoch_ms(value)
            if start_ms is not None and window.window.holds(start_ms):
                starts.append((start_ms, value))
            else:
                window.outside += 1
        starts.sort(key=itemgetter(0), reverse=True)
        # The value, not only its epoch-ms twin, becomes the bookmark: it must be inside too.
        return next((start for start in starts if window.window.holds(_epoch_ms(start[1]))), None)

    @override
    def get_new_paginator(self) -> CursorPaginator:
        """Return a paginator for one window's query, decoding its rows with the page."""
        return CursorPaginator(self.contract.decode_page)

    def _newest_at_once(
        self, records: list[msgspec.Struct], window: WindowProgress
    ) -> tuple[int, str] | None:
        """The newest start of a page whose epoch-ms starts are all inside the window, or None.

        None, too, when the newest one's date-time is not inside: then `_newest_of` looks
        at each record.
        """
        assert self.start_ms_field is not None
        millis = list(map(attrgetter(self.contract.attribute(self.start_ms_field)), records))
        try:
            low, high = min(millis), max(millis)
        except (TypeError, ValueError):  # a start that is null, or no records
            return None
        if not (window.window.holds(low) and window.window.holds(high)):
            return None
        value = getattr(
            records[millis.index(high)], self.contract.attribute(self.replication_key_name)
        )
        return (high, value) if window.window.holds(_epoch_ms(value)) else None

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

    def _page_records(
        self, page: Page[t.Any], response: requests.Response, window: WindowProgress
    ) -> list[msgspec.Struct]:
        """Return a page's records, strictly typed, but those a restarted window already sent."""
        records = self._decode(page, response)
        self._check_tenant(records, response)
        if window.total is None:
            window.total = page.total
        window.received += len(records)
        self.extracted_at = datetime.now(timezone.utc)
        window.newest = later(window.newest, self._newest_of(records, window))
        id_of = attrgetter(self.contract.attribute("ID"))
        seen = window.ids.seen
        if seen is not None:
            records = [r for r in records if (i := id_of(r)) is None or i not in seen]
        window.ids.add_page([None if i is msgspec.UNSET else i for i in map(id_of, records)])
        window.delivered += len(records)
        return records

    def _check_tenant(self, records: list[msgspec.Struct], response: requests.Response) -> None:
        """Raise `APIError` if a record names a tenant other than the one asked for.

        A record naming none (`TenantID` null, or absent from a VOC row) passes.
        """
        tenant_of = attrgetter(self.contract.attribute("TenantID"))
        allowed = {self.tenant, None, msgspec.UNSET}
        if set(map(tenant_of, records)) <= allowed:
            return
        record = next(r for r in records if tenant_of(r) not in allowed)
        record_id = getattr(record, self.contract.attribute("ID"))
        msg = (
            f"{self.subject}: record {masked(repr(record_id))} (from "
            f"{quoted(str(response.request.path_url))}) is of tenant "
            f"{masked(repr(tenant_of(record)))}: the API sent another tenant's rows; none of "
            "this page is extracted"
        )
        raise APIError(msg)

    def _warn_if_total_differs(self, window: WindowProgress) -> None:
        """Warn when a window's `total` differs from the rows received."""
        if window.total_differs:
            self.logger.warning(
                "%s, window %s: the API reported total=%s but %d rows were received",
                self.subject,
                window.window,
                window.total,
                window.received,
            )

    def _warn_if_outside(self, window: WindowProgress) -> None:
        """Warn when rows of a window start outside it: extracted, but not bookmarked."""
        if window.outside:
            self.logger.warning(
                "%s, window %s: %d rows start outside the window; they are "
                "extracted, but the bookmark does not move to them",
                self.subject,
                window.window,
                window.outside,
            )

    def _decode(self, page: Page[t.Any], response: requests.Response) -> list[msgspec.Struct]:
        """Return a page's rows as strict records; report fields the schema lacks.

        They were decoded with the page when every row fits the schema as sent; else they
        are decoded row by row, to convert each row that can be and to name the first that
        cannot.
        """
        data = page.data
        if not isinstance(data, msgspec.Raw):
            try:
                return self.contract.finish(data)
            except msgspec.ValidationError:  # a date-time that is not one
                # The body is gone (`decode_page`): the rows as decoded are read one by one.
                data = msgspec.Raw(msgspec.json.encode(data))
        try:
            return [
                self._decode_row(row, response, index)
                for index, row in enumerate(split_rows(data, response))
            ]
        except RecursionError as error:  # a value nested deeper than this thread's stack
            raise out_of_contract(response, error, at="$.data") from None

    def _decode_row(
        self, row: msgspec.Raw, response: requests.Response, index: int
    ) -> msgspec.Struct:
        """Decode row `index` of a page into a strict record; report fields the schema lacks."""
        try:
            record, undocumented = self.contract.decode(row)
        except FieldMismatch as error:
            msg = (
                f"{self.subject}, record {error.record_id!r} "
                f"(from {response.request.path_url}): {error}"
            )
            raise APIError(msg) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as error:
            raise out_of_contract(response, error, at=f"$.data[{index}]") from None
        if undocumented:
            new = self.undocumented.note(undocumented)
            if new:
                self.logger.warning(
                    "The API sent fields that the schema of %s lacks: %s; they are not extracted",
                    self.name,
                    ", ".join(new),
                )
        return record


def _epoch_ms(value: str) -> int | None:
    """Return a date-time's epoch ms, or None for one the calendar lacks (February 31)."""
    try:
        return to_epoch_ms(parse_timestamp(value))
    except ValueError:
        return None
