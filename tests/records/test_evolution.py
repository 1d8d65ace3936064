"""SchemaEvolution: which new fields are added, which are left out and why, and what is said."""

from __future__ import annotations

import logging
import typing as t

import pytest

from tap_crescendo.errors import APIError
from tap_crescendo.records.contract import RecordContract
from tap_crescendo.records.evolution import (
    LONGEST_NAME_BYTES,
    MOST_ADDED,
    SchemaEvolution,
    name_label,
    unfit_name,
)
from tap_crescendo.streams import BotConversationsStream

if t.TYPE_CHECKING:
    from collections.abc import Mapping

LOGGER = logging.getLogger("tests.evolution")
SUBJECT = "Stream 'bot_conversations', tenant 'acme'"
LEFT_OUT = "Stream 'bot_conversations': the API sent fields that the schema lacks; not extracted"
STRING = {"type": ["string", "null"]}


def evolution(mode: str = "evolve", *, evolvable: bool = True) -> SchemaEvolution:
    """The bot stream's evolution in `mode`, from its declared schema."""
    contract = RecordContract(
        BotConversationsStream.schema, BotConversationsStream.documented_unions
    )
    return SchemaEvolution(
        contract, mode, stream="bot_conversations", evolvable=evolvable, logger=LOGGER
    )


def meet(fields: SchemaEvolution, *rows: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The properties added for `rows` (their fields the schema lacks), IDs r0, r1..."""
    return fields.meet(list(rows), [f"r{index}" for index, _ in enumerate(rows)], SUBJECT)


@pytest.fixture(autouse=True)
def _info(caplog: pytest.LogCaptureFixture) -> None:
    """Capture the evolution's lines from INFO on."""
    caplog.set_level(logging.INFO, logger=LOGGER.name)


def said(caplog: pytest.LogCaptureFixture, level: str | None = None) -> list[t.Any]:
    """What the evolution logged: (level, message) pairs, or the messages of `level`."""
    records = [r for r in caplog.records if r.name == LOGGER.name]
    if level is not None:
        return [r.getMessage() for r in records if r.levelname == level]
    return [(r.levelname, r.getMessage()) for r in records]


def test_each_field_is_typed_from_its_first_non_null_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fields = evolution()

    added = meet(
        fields,
        {"Region": None, "Score": 7},
        {},
        {"Region": "eu", "Urgent": False, "Meta": {}, "Labels": [], "Score": "x"},
    )

    assert added == {
        "Region": STRING,
        "Score": {"type": ["number", "null"]},
        "Urgent": {"type": ["boolean", "null"]},
        "Meta": {"type": ["object", "null"]},
        "Labels": {"type": ["array", "null"]},
    }
    assert fields.contract.added == {
        "Region": "string",
        "Score": "number",
        "Urgent": "boolean",
        "Meta": "object",
        "Labels": "array",
    }
    assert said(caplog) == [
        (
            "INFO",
            f"Stream 'bot_conversations': added field '{name}', which the schema lacks, "
            f"as a nullable {kind}",
        )
        for name, kind in fields.contract.added.items()
    ]


def test_a_field_met_only_as_null_waits_for_a_value(caplog: pytest.LogCaptureFixture) -> None:
    fields = evolution()

    assert meet(fields, {"Region": None}) == {}
    assert meet(fields, {"Region": None}, {"Region": "eu"}) == {"Region": STRING}
    assert said(caplog) == [
        (
            "INFO",
            "Stream 'bot_conversations': added field 'Region', which the schema lacks, "
            "as a nullable string",
        )
    ]


def test_a_field_without_a_value_yet_does_not_hold_up_those_after_it() -> None:
    fields = evolution()

    assert meet(fields, {"Pending": None, "Region": "eu"}) == {"Region": STRING}


def test_discard_leaves_every_new_field_out_and_names_each_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fields = evolution("discard")

    assert meet(fields, {"Region": "eu", "Score": 1}) == {}
    assert meet(fields, {"Region": "eu", "Later": None}) == {}
    assert fields.contract.added == {}
    assert said(caplog) == [
        ("WARNING", f"{LEFT_OUT}, as `schema_evolution` is discard: 'Region', 'Score'"),
        ("WARNING", f"{LEFT_OUT}, as `schema_evolution` is discard: 'Later'"),
    ]


def test_evolve_leaves_new_fields_out_when_the_catalog_picked_the_columns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fields = evolution(evolvable=False)

    assert meet(fields, {"Region": "eu"}) == {}
    assert said(caplog) == [
        ("WARNING", f"{LEFT_OUT}, as the catalog deselects properties of the stream: 'Region'")
    ]


def test_freeze_stops_at_the_first_row_with_a_new_field_naming_it_and_its_record() -> None:
    fields = evolution("freeze", evolvable=False)

    with pytest.raises(APIError) as stopped:
        meet(fields, {}, {"Odd\nName": None, "Other": 1})

    assert str(stopped.value) == (
        f"{SUBJECT}, record 'r1': the API sent field 'Odd\\nName', which the schema lacks; "
        "`schema_evolution` is freeze, so the sync stops before this record (set it to "
        "evolve or discard to go on)"
    )


def test_at_most_the_most_fields_are_added_and_the_rest_are_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fields = evolution()
    keys = [f"k{index:03d}" for index in range(MOST_ADDED + 12)]

    added = meet(fields, dict.fromkeys(keys[:60], "v"), dict.fromkeys(keys, 1))
    later = meet(fields, {"more": 1, "": 2})

    assert list(added) == keys[:MOST_ADDED]
    assert later == {}
    assert len(fields.contract.added) == MOST_ADDED
    assert said(caplog, "WARNING") == [
        f"{LEFT_OUT}, as {MOST_ADDED} fields were added to the stream in this run, the most it "
        "takes: 'k100', 'k101', 'k102', 'k103', 'k104', 'k105', 'k106', 'k107', 'k108', "
        "'k109' and 2 more",
        f"{LEFT_OUT}, as the name is empty: ''",
    ]


def test_an_eleventh_name_is_counted_not_quoted(caplog: pytest.LogCaptureFixture) -> None:
    fields = evolution("discard")
    keys = [f"k{index}" for index in range(11)]

    meet(fields, dict.fromkeys(keys, 1))

    assert said(caplog, "WARNING") == [
        f"{LEFT_OUT}, as `schema_evolution` is discard: "
        + ", ".join(f"'{key}'" for key in keys[:10])
        + " and 1 more"
    ]


def test_ten_names_are_quoted_in_full(caplog: pytest.LogCaptureFixture) -> None:
    fields = evolution("discard")
    keys = [f"k{index}" for index in range(10)]

    meet(fields, dict.fromkeys(keys, 1))

    assert said(caplog, "WARNING") == [
        f"{LEFT_OUT}, as `schema_evolution` is discard: " + ", ".join(f"'{key}'" for key in keys)
    ]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        pytest.param("", "the name is empty", id="empty"),
        pytest.param("a\nb", "the name holds control characters", id="newline"),
        pytest.param("\x1b[31mred", "the name holds control characters", id="escape"),
        pytest.param("tab\there", "the name holds control characters", id="tab"),
        pytest.param("del\x7f", "the name holds control characters", id="delete"),
        pytest.param("back\\slash", "the name holds a backslash or a double quote", id="backslash"),
        pytest.param('say "hi"', "the name holds a backslash or a double quote", id="quote"),
        pytest.param("x" * (LONGEST_NAME_BYTES + 1), "the name is over 63 bytes", id="64-bytes"),
        pytest.param("é" * 32, "the name is over 63 bytes", id="32-two-byte-letters"),
        pytest.param("x" * LONGEST_NAME_BYTES, None, id="63-bytes"),
        pytest.param("é" * 31 + "x", None, id="31-two-byte-letters-and-one"),
        pytest.param("Handoff Reason 2 (ünïcode, spaces)", None, id="spaces-and-letters"),
    ],
)
def test_a_name_a_warehouse_cannot_take_is_refused(name: str, why: str | None) -> None:
    assert unfit_name(name) == why


def test_an_unfit_name_is_left_out_and_quoted_escaped_on_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fields = evolution()

    added = meet(fields, {"bad\nCRITICAL forged": 1, "\x1b[2Jwipe": 2, "ok": 3})

    assert added == {"ok": {"type": ["number", "null"]}}
    assert said(caplog, "WARNING") == [
        f"{LEFT_OUT}, as the name holds control characters: 'bad\\nCRITICAL forged', "
        "'\\x1b[2Jwipe'",
    ]


@pytest.mark.parametrize(
    ("name", "label"),
    [
        pytest.param("x" * 80, "'" + "x" * 80 + "'", id="80-chars-whole"),
        pytest.param("x" * 81, "'" + "x" * 77 + "...'", id="81-chars-cut"),
        pytest.param("a\r\nb", "'a\\r\\nb'", id="escaped"),
    ],
)
def test_a_name_label_is_one_short_line(name: str, label: str) -> None:
    assert name_label(name) == label


def test_a_value_of_another_kind_is_told_once_per_field(caplog: pytest.LogCaptureFixture) -> None:
    fields = evolution()
    meet(fields, {"Region": "eu", "Meta": {}, "Score": 1})

    fields.report_nulled([("Region", "object")], "r7")
    fields.report_nulled([("Region", "number"), ("Meta", "array")], None)
    fields.report_nulled([("Score", "string")], "r9")

    assert said(caplog, "WARNING") == [
        "Stream 'bot_conversations': added field 'Region' holds string values, but record 'r7' "
        "sent an object; such values are extracted as null",
        "Stream 'bot_conversations': added field 'Meta' holds object values, but record None "
        "sent an array; such values are extracted as null",
        "Stream 'bot_conversations': added field 'Score' holds number values, but record 'r9' "
        "sent a string; such values are extracted as null",
    ]


def test_the_contract_decodes_what_is_added_from_the_moment_it_is() -> None:
    fields = evolution()
    before = fields.contract

    meet(fields, {"Region": "eu"})

    assert fields.contract is not before
    assert before.added == {}
    assert fields.decode_page(b'{"total":0,"cursor":{"next":null},"data":[]}').data == []
