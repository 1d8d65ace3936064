"""Reading ahead on worker threads: how far ahead, and in what order."""

from __future__ import annotations

import typing as t

import pytest

from tap_crescendo.page_feed import WINDOW_DONE, PageFeed

if t.TYPE_CHECKING:
    from collections.abc import Iterator


def test_one_worker_reads_one_page_ahead_of_the_writer_never_more() -> None:
    fetched: list[int] = []

    def pages(window: str) -> Iterator[int]:
        for page in range(1, 6):
            fetched.append(page)
            yield page

    with PageFeed(pages, ["day-1"], workers=1) as feed:
        for _, item in feed:
            if item is not WINDOW_DONE:
                assert isinstance(item, int)
                assert max(fetched) <= item + 1

    assert fetched == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("workers", [1, 3])
def test_items_of_each_window_arrive_in_order_and_every_window_ends(workers: int) -> None:
    windows = ["day-1", "day-2", "day-3", "day-4"]

    def pages(window: str) -> Iterator[str]:
        yield from (f"{window}/{page}" for page in range(3))

    with PageFeed(pages, windows, workers=workers) as feed:
        items = list(feed)

    for index, window in enumerate(windows):
        assert [item for i, item in items if i == index] == [
            f"{window}/0",
            f"{window}/1",
            f"{window}/2",
            WINDOW_DONE,
        ]


def test_an_error_while_reading_reaches_the_writer() -> None:
    def pages(window: str) -> Iterator[str]:
        yield "first"
        message = f"{window} failed"
        raise RuntimeError(message)

    feed = PageFeed(pages, ["day-1", "day-2"], workers=2)
    with feed:
        items = iter(feed)
        assert next(items) == (0, "first")
        with pytest.raises(RuntimeError, match="day-1 failed"):
            next(items)
