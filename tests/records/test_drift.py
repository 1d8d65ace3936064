"""API drift: with `discard`, fields the schema lacks are dropped and reported once; wrong
types stop the sync. (`evolve` and `freeze`: `test_schema_evolution.py`.)"""

from __future__ import annotations

import logging
import typing as t

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.streams import BotConversationsStream
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    catalog_without,
    run_command,
    strict_problems,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from pathlib import Path

Row: t.TypeAlias = dict[str, t.Any]

BOT_FIELDS = list(BotConversationsStream.schema["properties"])
#: The fake files each row under its `ID` and `Datetime`, so those two stay well-formed.
MUTABLE_FIELDS = [name for name in BOT_FIELDS if name not in {"ID", "Datetime"}]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=4,
)


def drift_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The drift warnings of a run."""
    return [r.getMessage() for r in caplog.records if "the schema lacks; not" in r.getMessage()]


def closing_line(caplog: pytest.LogCaptureFixture, stream: str) -> str:
    """A stream's closing summary line."""
    return next(
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith(f"Stream '{stream}', tenant '{TENANT}': ")
        and "records from" in r.getMessage()
    )


DISCARDED = (
    "the API sent fields that the schema lacks; not extracted, as `schema_evolution` is discard"
)


def test_each_undocumented_field_is_reported_once_per_stream_and_never_extracted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    bots = generate_bot_rows(250, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=11)
    vocs = generate_voc_rows(80, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=11)
    drifting = [
        {**row, "NewField": {"a": 1}, "Sentiment": 0.5} if index % 2 else row
        for index, row in enumerate(bots)
    ]
    late = [{**row, "Region": "eu"} if index >= 60 else row for index, row in enumerate(vocs)]
    fake = FakeCrescendo(
        api_keys={API_KEY: {TENANT}}, rows={TENANT: drifting}, voc_rows={TENANT: late}
    )

    with fake.serve() as url:
        result = sync(tap_config(url, max_parallel_windows=4, schema_evolution="discard"))

    assert result.error is None
    assert sorted(result.ids) == sorted(row["ID"] for row in bots + vocs)
    assert strict_problems(result.messages) == []
    assert [m["stream"] for m in result.messages if m["type"] == "SCHEMA"] == [
        "bot_conversations",
        "voc_conversations",
    ]
    assert sorted(drift_warnings(caplog)) == [
        f"Stream 'bot_conversations': {DISCARDED}: 'NewField', 'Sentiment'",
        f"Stream 'voc_conversations': {DISCARDED}: 'Region'",
    ]
    assert closing_line(caplog, "bot_conversations").endswith(
        "; 125 rows with fields the schema lacks; 0 values of added fields made null"
    )
    assert closing_line(caplog, "voc_conversations").endswith(
        "; 20 rows with fields the schema lacks; 0 values of added fields made null"
    )


def test_a_field_first_seen_later_in_the_run_gets_its_own_warning(
    fake: FakeCrescendo, api_url: str, bot_rows: list[Row], caplog: pytest.LogCaptureFixture
) -> None:
    in_order = sorted(bot_rows, key=lambda row: row["Datetime"])
    fake.replace_row(TENANT, {**in_order[0], "NewField": 1})
    fake.replace_row(TENANT, {**in_order[-1], "NewField": 2, "Later": 3})

    sync(tap_config(api_url, schema_evolution="discard"))

    assert drift_warnings(caplog) == [
        f"Stream 'bot_conversations': {DISCARDED}: 'NewField'",
        f"Stream 'bot_conversations': {DISCARDED}: 'Later'",
    ]


@pytest.mark.slow
def test_a_value_of_the_wrong_type_stops_the_sync_after_what_came_before_it(
    fake: FakeCrescendo, api_url: str, bot_rows: list[Row], tmp_path: Path
) -> None:
    in_order = sorted(bot_rows, key=lambda row: row["Datetime"])
    refused = in_order[200]
    fake.replace_row(TENANT, {**refused, "DatetimeUTC": "yesterday"})

    command = run_command([], tmp_path, tap_config(api_url, page_size=1000))

    errors = [line for line in command.stderr.splitlines() if "| ERROR" in line]
    assert command.returncode == 1
    assert "Traceback" not in command.stderr
    assert errors[-1].endswith(
        f"Stream 'bot_conversations', tenant 'tenant-alpha', record {refused['ID']!r} (from "
        f"/api/v1/reporting/tenants/{TENANT}/botconv?from={_day_of(refused)}"
        f"&to={_day_of(refused) + 86_400_000}&limit=1000): field 'DatetimeUTC': "
        'expected a date-time string or null, got "yesterday"'
    )
    records = [m["record"] for m in command.messages if m["type"] == "RECORD"]
    assert refused["ID"] not in {record["ID"] for record in records}
    assert strict_problems(command.messages) == []
    before_its_day = {row["ID"] for row in in_order if row["Datetime"] < _day_of(refused)}
    assert before_its_day <= {record["ID"] for record in records}
    states = [m["value"] for m in command.messages if m["type"] == "STATE"]
    bookmark = states[-1]["bookmarks"]["bot_conversations"]["replication_key_value"]
    assert (
        bookmark
        == max(
            (row for row in in_order if row["Datetime"] < _day_of(refused)),
            key=lambda row: row["Datetime"],
        )["DatetimeUTC"]
    )


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2026-10-01T00:00:00Z\n", id="a-line-break-after-it"),
        pytest.param("\u0662\u0660\u0662\u0666-10-01T00:00:00Z", id="digits-not-ascii"),
    ],
)
def test_a_date_time_that_is_not_one_is_named_with_its_record_and_nothing_after_it_claimed(
    fake: FakeCrescendo, api_url: str, bot_rows: list[Row], value: str
) -> None:
    in_order = sorted(bot_rows, key=lambda row: row["Datetime"])
    refused = in_order[100]
    fake.replace_row(TENANT, {**refused, "EndDatetimeUTC": value})

    result = sync(tap_config(api_url, page_size=1000))

    assert result.error == (
        f"Stream 'bot_conversations', tenant 'tenant-alpha', record {refused['ID']!r} (from "
        f"/api/v1/reporting/tenants/{TENANT}/botconv?from={_day_of(refused)}"
        f"&to={_day_of(refused) + 86_400_000}&limit=1000): field 'EndDatetimeUTC': "
        f"expected a date-time string or null, got {msgspec.json.encode(value).decode()}"
    )
    ids = {m["record"]["ID"] for m in result.messages if m["type"] == "RECORD"}
    assert ids == {row["ID"] for row in in_order if row["Datetime"] < _day_of(refused)}
    assert strict_problems(result.messages) == []


def _day_of(row: Row) -> int:
    """The start (epoch ms) of the daily window holding a row."""
    start: int = row["Datetime"]
    return SPAN_START_MS + (start - SPAN_START_MS) // 86_400_000 * 86_400_000


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param({}, id="lean-record-path"),
        pytest.param(
            {"stream_maps": {"bot_conversations": {"Contact Email": "md5(record['ID'])"}}},
            id="stream-maps",
        ),
        pytest.param({"deselect": ("Contact Phone",)}, id="deselected-property"),
    ],
)
def test_every_record_matches_its_schema_strictly_whatever_the_path(
    fake: FakeCrescendo, api_url: str, bot_rows: list[Row], variant: dict[str, t.Any]
) -> None:
    for row in bot_rows[::3]:
        fake.replace_row(TENANT, {**row, "NewField": {"a": 1}, "BotName": 5})
    variant = dict(variant)  # a copy: pytest hands the same dict to every run of the test
    deselect = variant.pop("deselect", ())
    config = tap_config(api_url, **variant)
    catalog = catalog_without(config, *deselect)

    result = sync(config, catalog=catalog)

    assert result.error is None
    assert len(result.records) == 250
    assert strict_problems(result.messages) == []
    assert {record["BotName"] for record in result.records} >= {"5"}


@pytest.mark.slow
def test_the_connection_test_writes_no_record_a_loader_could_trip_on(
    fake: FakeCrescendo, api_url: str, bot_rows: list[Row], tmp_path: Path
) -> None:
    for row in bot_rows:
        fake.replace_row(TENANT, {**row, "NewField": [1], "BotName": 5})

    command = run_command(["--test"], tmp_path, tap_config(api_url))

    assert command.returncode == 0
    assert command.messages == []
    assert "| ERROR" not in command.stderr


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.lists(
        st.tuples(
            st.integers(0, 39),
            st.sampled_from(MUTABLE_FIELDS) | st.text(min_size=1, max_size=8),
            JSON_VALUES,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_either_every_record_is_strictly_valid_or_one_line_names_the_field(
    changes: list[tuple[int, str, t.Any]],
) -> None:
    rows = generate_bot_rows(40, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=5)
    for index, field, value in changes:
        rows[index][field] = value
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: rows})

    with fake.serve() as url:
        result = sync(tap_config(url, page_size=7))

    assert strict_problems(result.messages) == []
    changed = {field for _, field, _ in changes}
    if result.error is None:
        assert sorted(result.ids) == sorted(row["ID"] for row in rows)
        return
    refused = next(row for row in rows if f"record {row['ID']!r}" in result.error)
    if result.error.endswith("the API sent another tenant's rows; none of this page is extracted"):
        field = "TenantID"
    else:
        field = result.error.split(": field ", 1)[1].split("'")[1]
    assert field in changed
    assert refused["ID"] not in result.ids
    if result.states:
        bookmark = result.bookmark()
        assert bookmark is None or to_epoch_ms(parse_timestamp(bookmark)) < refused["Datetime"]
