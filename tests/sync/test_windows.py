"""Time windows (`windows.py`): how a span is cut, and which windows a bookmark may cover."""

from __future__ import annotations

import pytest

from tap_crescendo.sync.windows import CompletedPrefix, Window, split_span

DAY_MS = 86_400_000
START_MS = 1_790_812_800_000  # 2026-10-01T00:00:00Z


@pytest.mark.parametrize(
    ("start_ms", "end_ms", "size_ms", "windows"),
    [
        pytest.param(0, 8, 4, [(0, 4), (4, 8)], id="whole-windows"),
        pytest.param(0, 10, 4, [(0, 4), (4, 8), (8, 10)], id="partial-last-window"),
        pytest.param(0, 3, 4, [(0, 3)], id="span-shorter-than-a-window"),
        pytest.param(0, 1, 1, [(0, 1)], id="one-millisecond"),
        pytest.param(5, 5, 4, [], id="empty-span"),
        pytest.param(9, 5, 4, [], id="start-after-end"),
        pytest.param(
            START_MS,
            START_MS + 2 * DAY_MS + 1,
            DAY_MS,
            [
                (START_MS, START_MS + DAY_MS),
                (START_MS + DAY_MS, START_MS + 2 * DAY_MS),
                (START_MS + 2 * DAY_MS, START_MS + 2 * DAY_MS + 1),
            ],
            id="days-and-a-millisecond",
        ),
    ],
)
def test_split_span_cuts_consecutive_half_open_windows(
    start_ms: int, end_ms: int, size_ms: int, windows: list[tuple[int, int]]
) -> None:
    assert list(split_span(start_ms, end_ms, size_ms)) == [Window(*bounds) for bounds in windows]


def test_a_window_reads_as_a_half_open_utc_interval() -> None:
    window = Window(START_MS, START_MS + DAY_MS + 7)

    assert str(window) == "[2026-10-01T00:00:00.000Z, 2026-10-02T00:00:00.007Z)"


@pytest.mark.parametrize(
    ("order", "grown"),
    [
        pytest.param([0, 1, 2], [[0], [1], [2]], id="in-order"),
        pytest.param([1, 0, 2], [[], [0, 1], [2]], id="second-first"),
        pytest.param([2, 1, 0], [[], [], [0, 1, 2]], id="reversed"),
        pytest.param([0, 2, 1], [[0], [], [1, 2]], id="gap-filled-last"),
        pytest.param([0], [[0]], id="one-window"),
    ],
)
def test_the_completed_prefix_grows_only_from_the_first_window_on(
    order: list[int], grown: list[list[int]]
) -> None:
    prefix = CompletedPrefix(len(order))

    assert [list(prefix.complete(index)) for index in order] == grown
    assert prefix.length == len(order)


def test_the_completed_prefix_counts_windows_complete_from_the_first() -> None:
    prefix = CompletedPrefix(4)

    lengths = []
    for index in (1, 3, 0, 2):
        prefix.complete(index)
        lengths.append(prefix.length)

    assert lengths == [0, 0, 2, 4]
