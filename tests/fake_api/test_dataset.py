"""The stored rows (`dataset.py`): by tenant and export, ordered by start instant, checked."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone

import pytest

from tap_crescendo.fake_api import generate_bot_rows, generate_voc_rows
from tests.fake_api.client import (
    BOT_KEYS,
    DAY_MS,
    END_MS,
    HOUR_MS,
    KEY,
    START_MS,
    TENANT,
    by_instant,
    span,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Api, Row

VOC_EXPORTS = [
    pytest.param("vocconv", id="vocconv"),
    pytest.param("voc/conversations", id="voc-conversations"),
]


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat()


def voc_row(sample: Row, row_id: str, datetime_text: str) -> Row:
    """A copy of a VOC row with another ID and start."""
    utc = datetime.strptime(datetime_text, "%Y-%m-%dT%H:%M:%S%z").astimezone(timezone.utc)
    return {
        **sample,
        "ID": row_id,
        "Datetime": datetime_text,
        "DatetimeUTC": f"{utc:%Y-%m-%dT%H:%M:%SZ}",
    }


# Bot rows


def test_rows_come_back_exactly_as_stored(api: Api, bot_sample: list[Row]) -> None:
    served = {row["ID"]: row for body in api.pages(span(START_MS, END_MS)) for row in body["data"]}

    assert served == {row["ID"]: row for row in bot_sample}
    assert all(list(row) == BOT_KEYS for row in served.values())


def test_added_and_replaced_rows_show_in_a_new_query(api: Api, bot_sample: list[Row]) -> None:
    late = generate_bot_rows(30, start_ms=START_MS, end_ms=END_MS, seed=99, tenant_id=TENANT)
    changed = {**bot_sample[7], "CSat": 1.5, "ticketId": 90210}
    api.fake.add_rows(TENANT, late)
    api.fake.replace_row(TENANT, changed)

    served = {row["ID"]: row for body in api.pages(span(START_MS, END_MS)) for row in body["data"]}

    assert served.keys() == {row["ID"] for row in [*bot_sample, *late]}
    assert served[changed["ID"]] == changed


def test_adding_a_known_id_is_refused(api: Api, bot_sample: list[Row]) -> None:
    with pytest.raises(ValueError, match="already stored"):
        api.fake.add_rows(TENANT, [bot_sample[3]])


def test_replacing_an_unknown_id_is_refused(api: Api, bot_sample: list[Row]) -> None:
    with pytest.raises(KeyError):
        api.fake.replace_row(TENANT, {**bot_sample[3], "ID": "no-such-row"})


# VOC rows


@pytest.mark.parametrize("export", VOC_EXPORTS)
def test_the_span_is_taken_on_the_instant_not_the_wall_clock(
    start_api: Callable[..., Api], voc_sample: list[Row], export: str
) -> None:
    sample = voc_sample[0]
    rows = [
        voc_row(sample, "before-offset", "2026-10-01T01:59:59+02:00"),  # 2026-09-30T23:59:59Z
        voc_row(sample, "first-offset", "2026-10-01T02:00:00+02:00"),  # 2026-10-01T00:00:00Z
        voc_row(sample, "inside-utc", "2026-10-01T00:30:00Z"),
        voc_row(sample, "last-offset", "2026-10-01T02:59:59+02:00"),  # 2026-10-01T00:59:59Z
        voc_row(sample, "after-utc", "2026-10-01T01:00:00Z"),
        voc_row(sample, "after-offset", "2026-10-01T03:00:00+02:00"),  # 2026-10-01T01:00:00Z
    ]
    api = start_api(voc_rows={TENANT: rows})

    got = api.ids({"from": iso(START_MS), "to": iso(START_MS + HOUR_MS)}, export=export)

    assert got == ["first-offset", "inside-utc", "last-offset"]


@pytest.mark.parametrize(
    ("order", "reverse"),
    [pytest.param("asc", False, id="asc"), pytest.param("desc", True, id="desc")],
)
def test_voc_rows_come_ordered_by_instant(
    start_api: Callable[..., Api], voc_sample: list[Row], order: str, reverse: bool
) -> None:
    api = start_api(order=order)
    expected = [row["ID"] for row in sorted(voc_sample, key=by_instant)]
    by_text = [
        row["ID"] for row in sorted(voc_sample, key=lambda row: (row["Datetime"], row["ID"]))
    ]
    assert expected != by_text  # the offsets make text order differ from instant order

    got = api.ids(span(START_MS, END_MS, limit=25), export="vocconv")

    assert got == (expected[::-1] if reverse else expected)


def test_bot_and_voc_datasets_are_independent(
    start_api: Callable[..., Api], bot_sample: list[Row], voc_sample: list[Row]
) -> None:
    only_voc = generate_voc_rows(30, start_ms=START_MS, end_ms=END_MS, tenant_id="tenant-beta")
    api = start_api(
        api_keys={KEY: {TENANT, "tenant-beta"}},
        voc_rows={TENANT: voc_sample, "tenant-beta": only_voc},
    )
    everything = span(START_MS, END_MS, limit=50)

    bot_ids = sorted(row["ID"] for row in bot_sample)
    assert sorted(api.ids(everything, export="botconv")) == bot_ids
    assert sorted(api.ids(everything, export="assistant/conversations")) == bot_ids
    assert sorted(api.ids(everything, export="voc/conversations")) == sorted(
        row["ID"] for row in voc_sample
    )
    beta = api.get(everything, export="botconv", tenant="tenant-beta")
    assert beta.json() == {"total": 0, "cursor": {"next": None}, "data": []}
    beta_voc = api.get(everything, export="vocconv", tenant="tenant-beta")
    assert beta_voc.json()["total"] == 30


def test_added_and_replaced_voc_rows_show_in_a_new_query(
    start_api: Callable[..., Api], voc_sample: list[Row]
) -> None:
    sample = voc_sample[0]
    api = start_api(voc_rows=None)
    api.fake.add_rows(TENANT, [voc_row(sample, "a", "2026-10-01T02:30:00+02:00")], export="voc")
    api.fake.add_rows(TENANT, [voc_row(sample, "b", "2026-10-01T00:45:00Z")], export="voc")
    window = {"from": iso(START_MS), "to": iso(START_MS + HOUR_MS)}
    first = api.ids(window, export="vocconv")

    api.fake.replace_row(TENANT, voc_row(sample, "a", "2026-10-01T03:30:00+02:00"), export="voc")
    second = api.ids(window, export="voc/conversations")

    assert first == ["a", "b"]
    assert second == ["b"]
    assert "a" not in api.ids(span(START_MS - DAY_MS, END_MS), export="botconv")


def test_voc_rows_are_checked_when_added_or_replaced(api: Api, voc_sample: list[Row]) -> None:
    row, unknown = voc_sample[3], voc_row(voc_sample[0], "unknown", "2026-10-01T00:00:00Z")
    with pytest.raises(ValueError, match="already stored"):
        api.fake.add_rows(TENANT, [row], export="voc")
    with pytest.raises(ValueError, match="ISO 8601 Datetime"):
        api.fake.add_rows(TENANT, [{**row, "ID": "new", "Datetime": START_MS}], export="voc")
    with pytest.raises(ValueError, match="ISO 8601 Datetime"):
        api.fake.add_rows(
            TENANT, [{**row, "ID": "new", "Datetime": "2026-10-01T00:00:00"}], export="voc"
        )
    with pytest.raises(KeyError):
        api.fake.replace_row(TENANT, unknown, export="voc")
    with pytest.raises(KeyError):
        api.fake.replace_row("tenant-beta", row, export="voc")
    with pytest.raises(ValueError, match="export must be one of bot, voc, got 'chat'"):
        api.fake.add_rows(TENANT, [row], export="chat")


def test_the_default_export_of_add_rows_is_still_bot(
    api: Api, bot_sample: list[Row], voc_sample: list[Row]
) -> None:
    extra = generate_bot_rows(3, start_ms=START_MS, end_ms=END_MS, seed=99)

    api.fake.add_rows(TENANT, extra)

    assert api.ok(span(START_MS, END_MS))["total"] == len(bot_sample) + 3
    assert api.ok(span(START_MS, END_MS), export="vocconv")["total"] == len(voc_sample)
