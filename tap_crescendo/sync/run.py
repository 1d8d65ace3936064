"""One tenant's run of a stream: its windows, bookmark, progress and output, for one sync."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone
from operator import attrgetter

import msgspec

from tap_crescendo.sync.bookmarks import later, moved_bookmark
from tap_crescendo.sync.progress import SyncProgress
from tap_crescendo.sync.windows import WindowProgress
from tap_crescendo.timestamps import format_epoch_ms

if t.TYPE_CHECKING:
    import logging

    import requests

    from tap_crescendo.api.pagination import Page
    from tap_crescendo.output.base import Output
    from tap_crescendo.records.page_records import PageRecords
    from tap_crescendo.sync.bookmarks import RecordStarts
    from tap_crescendo.sync.windows import Window


class TenantRun:
    """What one tenant's sync of a stream has read, delivered and claimed so far.

    Made by `record_pages` for the tenant, and gone at its end. `output` decides what goes
    out and when a STATE may follow.
    """

    def __init__(
        self,
        subject: str,
        windows: list[Window],
        *,
        resume_ms: int | None,
        records: PageRecords,
        starts: RecordStarts,
        id_attribute: str,
        output: Output,
        logger: logging.Logger,
    ) -> None:
        """`subject` begins the run's log lines; `resume_ms` is the bookmark it resumes from."""
        self.subject = subject
        self.output = output
        self._windows = [WindowProgress(window) for window in windows]
        self._resume_ms = resume_ms
        self._records = records
        self._starts = starts
        self._id_of = attrgetter(id_attribute)
        self._logger = logger
        self._progress = SyncProgress(subject, len(windows), logger)

    def records_out(self, index: int, page: Page[t.Any], response: requests.Response) -> int:
        """Send a page's records but those a restarted window already sent; return how many."""
        window = self._windows[index]
        records, added = self._records.of(page, response)
        if added:
            self.output.grow_schema(added)
        if window.total is None:
            window.total = page.total
        window.received += len(records)
        extracted_at = datetime.now(timezone.utc)
        window.newest = later(window.newest, self._starts.newest(records, window))
        id_of, seen = self._id_of, window.ids.seen
        if seen is not None:
            records = [r for r in records if (i := id_of(r)) is None or i not in seen]
        window.ids.add_page([None if i is msgspec.UNSET else i for i in map(id_of, records)])
        window.delivered += len(records)
        self.output.add(records, extracted_at)
        return len(records)

    def restart(self, index: int) -> None:
        """Window `index` is read again from its first page."""
        self._windows[index].restart()

    def window_done(self, index: int, completes: range) -> str | None:
        """Window `index` is read; return the bookmark the windows in `completes` move to."""
        window = self._windows[index]
        window.forget_ids()
        self._warn_if_total_differs(window)
        self._warn_if_outside(window)
        self._progress.window_done(sum(w.delivered for w in self._windows))
        return moved_bookmark(self._resume_ms, (self._windows[i] for i in completes))

    def close(self, span: tuple[int, int]) -> None:
        """Send what the output holds; say what the run read in `span`, in one line."""
        self.output.close()
        windows = self._windows
        self._logger.info(
            "%s: %d records from %d windows in [%s, %s); %d windows where "
            "`total` differed from the rows received; %d rows with fields the schema lacks; "
            "%d values of added fields made null",
            self.subject,
            sum(window.delivered for window in windows),
            len(windows),
            format_epoch_ms(span[0]),
            format_epoch_ms(span[1]),
            sum(window.total_differs for window in windows),
            self._records.rows_left_out,
            self._records.values_nulled,
        )

    def _warn_if_total_differs(self, window: WindowProgress) -> None:
        """Warn when a window's `total` differs from the rows received."""
        if window.total_differs:
            self._logger.warning(
                "%s, window %s: the API reported total=%s but %d rows were received",
                self.subject,
                window.window,
                window.total,
                window.received,
            )

    def _warn_if_outside(self, window: WindowProgress) -> None:
        """Warn when rows of a window start outside it: extracted, but not bookmarked."""
        if window.outside:
            self._logger.warning(
                "%s, window %s: %d rows start outside the window; they are "
                "extracted, but the bookmark does not move to them",
                self.subject,
                window.window,
                window.outside,
            )
