"""Reading the bookmark a stream resumes from, and refusing a STATE that cannot be resumed."""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

import pytest

from tap_crescendo.errors import StateError
from tap_crescendo.sync.bookmarks import check_state_shape, read_bookmark

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)
STREAM = "bot_conversations"
WHERE = f"STATE for stream '{STREAM}'"


def state_with(value: t.Any, key: str = "DatetimeUTC") -> dict[str, t.Any]:
    """The state of the bot stream (or of one tenant's partition) holding one bookmark."""
    return {"replication_key": key, "replication_key_value": value}


def iso(moment: datetime) -> str:
    """A moment as an ISO 8601 string with microseconds."""
    return moment.isoformat(timespec="microseconds")


@pytest.mark.parametrize(
    "ahead",
    [
        pytest.param(timedelta(0), id="now"),
        pytest.param(timedelta(minutes=4, seconds=59), id="just-within-skew"),
        pytest.param(timedelta(minutes=5), id="exactly-five-minutes"),
    ],
)
def test_a_bookmark_up_to_five_minutes_ahead_of_the_clock_is_accepted(ahead: timedelta) -> None:
    bookmark = read_bookmark(state_with(iso(NOW + ahead)), WHERE, "DatetimeUTC", now=NOW)

    assert bookmark == NOW + ahead


@pytest.mark.parametrize(
    "ahead",
    [
        pytest.param(timedelta(minutes=5, microseconds=1), id="just-beyond-skew"),
        pytest.param(timedelta(days=365), id="next-year"),
    ],
)
def test_a_bookmark_further_in_the_future_is_refused(ahead: timedelta) -> None:
    value = iso(NOW + ahead)

    with pytest.raises(StateError) as refused:
        read_bookmark(state_with(value), WHERE, "DatetimeUTC", now=NOW)

    assert str(refused.value) == (
        f"STATE for stream '{STREAM}': replication_key_value {value} is in the future "
        "(now is 2026-11-27T08:00:00Z)"
    )


def test_without_now_the_clock_of_this_machine_is_used() -> None:
    soon = datetime.now(timezone.utc) + timedelta(minutes=4)
    later = datetime.now(timezone.utc) + timedelta(minutes=6)

    assert read_bookmark(state_with(iso(soon)), WHERE, "DatetimeUTC") == soon
    with pytest.raises(StateError, match="is in the future"):
        read_bookmark(state_with(iso(later)), WHERE, "DatetimeUTC")


def test_a_bookmark_with_an_offset_is_read_as_its_instant() -> None:
    value = "2026-10-02T09:30:00+02:00"

    bookmark = read_bookmark(state_with(value, key="Datetime"), WHERE, "Datetime", now=NOW)

    assert bookmark == datetime(2026, 10, 2, 7, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "stream_state",
    [
        pytest.param({}, id="empty"),
        pytest.param({"tenant_id": "acme"}, id="tenant-only"),
        pytest.param(state_with(None), id="null-value"),
        pytest.param(state_with(None, key="Datetime"), id="null-value-other-key"),
    ],
)
def test_a_state_without_a_bookmark_gives_none(stream_state: t.Any) -> None:
    assert read_bookmark(stream_state, WHERE, "DatetimeUTC", now=NOW) is None


@pytest.mark.parametrize(
    ("stream_state", "message"),
    [
        pytest.param(
            state_with("2026-10-02T00:00:00Z", key="Datetime"),
            f"STATE for stream '{STREAM}': replication_key is 'Datetime', expected "
            "'DatetimeUTC'; fix or remove the state to resync",
            id="other-key",
        ),
        pytest.param(
            {"replication_key_value": "2026-10-02T00:00:00Z"},
            f"STATE for stream '{STREAM}': replication_key is None, expected "
            "'DatetimeUTC'; fix or remove the state to resync",
            id="no-key",
        ),
        pytest.param(
            state_with("yesterday"),
            f"STATE for stream '{STREAM}': replication_key_value 'yesterday' is not an "
            "ISO 8601 date-time",
            id="not-a-date",
        ),
        pytest.param(
            state_with(1700000000),
            f"STATE for stream '{STREAM}': replication_key_value 1700000000 is not an "
            "ISO 8601 date-time",
            id="a-number",
        ),
    ],
)
def test_a_state_that_cannot_be_resumed_is_one_line_naming_the_problem(
    stream_state: dict[str, t.Any], message: str
) -> None:
    with pytest.raises(StateError) as refused:
        read_bookmark(stream_state, WHERE, "DatetimeUTC", now=NOW)

    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("tap_state", "message"),
    [
        pytest.param([], "STATE must be an object, got list", id="list"),
        pytest.param({"bookmarks": 3}, "STATE: 'bookmarks' must be an object, got int", id="int"),
        pytest.param(
            {"bookmarks": {"voc_conversations": None}},
            "STATE for stream 'voc_conversations': 'voc_conversations' must be an object, "
            "got NoneType",
            id="stream-null",
        ),
        pytest.param(
            {"bookmarks": {STREAM: "2026-10-02"}},
            f"STATE for stream '{STREAM}': '{STREAM}' must be an object, got str",
            id="stream-str",
        ),
        *(
            pytest.param(
                {"bookmarks": {STREAM: {"partitions": partitions}}},
                f"STATE for stream '{STREAM}': 'partitions' must be a list of objects, each "
                "with a 'context' object",
                id=name,
            )
            for name, partitions in [
                ("partitions-object", {"tenant_id": "acme"}),
                ("partition-not-object", ["acme"]),
                ("partition-without-context", [state_with("2026-10-02T00:00:00Z")]),
                ("partition-context-str", [{"context": "acme"}]),
            ]
        ),
    ],
)
def test_a_state_of_the_wrong_shape_is_refused_for_any_stream(
    tap_state: t.Any, message: str
) -> None:
    with pytest.raises(StateError) as refused:
        check_state_shape(tap_state)

    assert str(refused.value) == message


def test_a_state_of_the_right_shape_passes() -> None:
    partitions = [{"context": {"tenant_id": "acme"}, **state_with(None)}]
    check_state_shape({"bookmarks": {STREAM: {"partitions": partitions}}})
    check_state_shape({"bookmarks": {STREAM: {}, "voc_conversations": state_with(None)}})
    check_state_shape({})
