"""The PII-safe extractor of meltano.yml: no customer's personal data leaves the tap in clear."""

from __future__ import annotations

import hashlib
import io
import json
import typing as t
from contextlib import redirect_stderr, redirect_stdout

import pytest
import yaml

from tap_crescendo.cli.map_settings import check_map_settings, config_reads
from tap_crescendo.errors import ConfigError
from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.tap import TapCrescendo
from tests.support.local_servers import REPO
from tests.support.tap_process import error_lines, run_tap, tap_argv
from tests.support.tap_runs import (
    API_KEY,
    SPAN_END_MS,
    SPAN_START_MS,
    TENANT,
    parse_messages,
    sync,
    tap_config,
)

if t.TYPE_CHECKING:
    from pathlib import Path

SALT = "a-long-random-secret-0f3c"
PERSONAL = {
    "bot_conversations": ("Contact Name", "Contact Email", "Contact Phone", "RemoteIp"),
    "voc_conversations": ("CustomerName", "CustomerEmail"),
}


def shipped_pii_config() -> dict[str, t.Any]:
    """The `tap-crescendo--pii-safe` extractor's config in meltano.yml, as written there."""
    project = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
    extractor = next(
        plugin
        for plugin in project["plugins"]["extractors"]
        if plugin["name"] == "tap-crescendo--pii-safe"
    )
    config: dict[str, t.Any] = extractor["config"]
    assert config["stream_map_config"] == {"pii_salt": "$CRESCENDO_PII_SALT"}
    return config


def pii_safe_config() -> dict[str, t.Any]:
    """The `tap-crescendo--pii-safe` extractor's config in meltano.yml, salt filled in."""
    return {**shipped_pii_config(), "stream_map_config": {"pii_salt": SALT}}


def salted(value: str | None) -> str | None:
    """What the maps make of a value: sha256 of the salt and the value, null kept."""
    return None if value is None else hashlib.sha256((SALT + value).encode()).hexdigest()


def test_no_personal_value_of_either_stream_appears_in_the_output() -> None:
    bots = generate_bot_rows(120, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=4)
    vocs = generate_voc_rows(80, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=4)
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots}, voc_rows={TENANT: vocs})
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")

    with fake.serve() as url, redirect_stdout(stdout), redirect_stderr(io.StringIO()):
        TapCrescendo(config=tap_config(url, **pii_safe_config())).sync_all()
        stdout.flush()
    stdout.seek(0)
    output = stdout.read()

    served = {
        (stream, field): {row[field] for row in rows if row[field]}
        for stream, rows in (("bot_conversations", bots), ("voc_conversations", vocs))
        for field in PERSONAL[stream]
    }
    assert all(len(values) > 10 for values in served.values())
    leaks = {
        (key, value)
        for key, values in served.items()
        for value in values
        if value in output or json.dumps(value)[1:-1] in output
    }
    assert leaks == set()
    records = {
        (m["stream"], m["record"]["ID"]): m["record"]
        for m in parse_messages(output)
        if m["type"] == "RECORD"
    }
    assert len(records) == 200
    for row in bots:
        record = records["bot_conversations", row["ID"]]
        assert "Contact Phone" not in record
        assert "RemoteIp" not in record
        assert record["Contact Name"] == salted(row["Contact Name"])
        assert record["Contact Email"] == salted(row["Contact Email"])
        assert record["AgentName"] == row["AgentName"]
    for row in vocs:
        record = records["voc_conversations", row["ID"]]
        assert record["CustomerName"] == salted(row["CustomerName"])
        assert record["CustomerEmail"] == salted(row["CustomerEmail"])
    assert any(row["Contact Name"] is None for row in bots)


def test_a_field_the_api_adds_never_leaves_the_pii_safe_extractor() -> None:
    phones = [f"+49 30 {index:07d}" for index in range(60)]
    bots = generate_bot_rows(60, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=6)
    bots = [{**row, "Caller Phone": phone} for row, phone in zip(bots, phones, strict=True)]
    vocs = generate_voc_rows(20, start_ms=SPAN_START_MS, end_ms=SPAN_END_MS, seed=6)
    vocs = [{**row, "CustomerPhone": "+1 555 0100"} for row in vocs]
    fake = FakeCrescendo(api_keys={API_KEY: {TENANT}}, rows={TENANT: bots}, voc_rows={TENANT: vocs})

    with fake.serve() as url:
        result = sync(tap_config(url, **pii_safe_config()))

    assert shipped_pii_config()["schema_evolution"] == "discard"
    assert result.error is None
    assert len(result.records) == 80
    output = json.dumps(result.messages)
    assert [phone for phone in [*phones, "+1 555 0100"] if phone in output] == []
    assert "Caller Phone" not in output
    assert "CustomerPhone" not in output


#: What the tap says when the shipped maps' salt is not set, by how it is not set.
SALT_MISSING = (
    "Setting `stream_map_config.pii_salt` is missing, and the stream map of {stream!r} reads "
    "it (property {prop!r}): add `stream_map_config: {{pii_salt: $CRESCENDO_PII_SALT}}` beside "
    "the maps and set CRESCENDO_PII_SALT to a long random secret"
)
SALT_EMPTY = (
    "Setting `stream_map_config.pii_salt` is empty, and the stream map of {stream!r} reads it "
    "(property {prop!r}): set CRESCENDO_PII_SALT to a long random secret, and keep it"
)


@pytest.mark.parametrize(
    ("stream", "prop"),
    [("bot_conversations", "Contact Name"), ("voc_conversations", "CustomerName")],
)
@pytest.mark.parametrize(
    ("map_settings", "expected"),
    [
        pytest.param(None, SALT_MISSING, id="maps-copied-without-stream-map-config"),
        pytest.param({}, SALT_MISSING, id="salt-missing"),
        pytest.param({"pii_salt": ""}, SALT_EMPTY, id="salt-empty-as-meltano-passes-unset-var"),
        pytest.param({"pii_salt": None}, SALT_EMPTY, id="salt-null"),
    ],
)
def test_the_shipped_maps_without_a_salt_stop_before_any_request(
    fake: FakeCrescendo,
    api_url: str,
    stream: str,
    prop: str,
    map_settings: dict[str, t.Any] | None,
    expected: str,
) -> None:
    maps = {stream: shipped_pii_config()["stream_maps"][stream]}
    config = tap_config(api_url, stream_maps=maps, stream_map_config=map_settings)

    result = sync(config)

    assert result.error == expected.format(stream=stream, prop=prop)
    assert result.messages == []
    assert fake.requests == []


@pytest.mark.slow
def test_the_command_without_a_salt_exits_1_with_one_line_and_sends_no_request(
    fake: FakeCrescendo, api_url: str, tmp_path: Path
) -> None:
    config = tap_config(api_url, **{**pii_safe_config(), "stream_map_config": {"pii_salt": ""}})

    command = run_tap(tap_argv(tmp_path, config))

    assert command.returncode == 1
    assert command.stdout == ""
    assert "Traceback" not in command.stderr
    assert error_lines(command.stderr) == [
        SALT_EMPTY.format(stream="bot_conversations", prop="Contact Name")
    ]
    assert len([line for line in command.stderr.splitlines() if "| INFO" not in line]) == 1
    assert fake.requests == []


@pytest.mark.parametrize(
    ("stream_maps", "reads"),
    [
        pytest.param(
            {"bots": {"__filter__": "config['tenant'] == record['TenantID']"}},
            [("bots", "__filter__", "tenant")],
            id="filter",
        ),
        pytest.param(
            {"bots": {"a": "config['x'] + config['y']", "b": 'md5(config["z"])'}},
            [("bots", "a", "x"), ("bots", "a", "y"), ("bots", "b", "z")],
            id="each-key-of-each-property",
        ),
        pytest.param(
            {"bots": {"a": "'config[\"x\"]' + record['config']", "b": "config.get('y', '')"}},
            [],
            id="only-subscripts-of-the-name-config",
        ),
        pytest.param(
            {"bots": {"a": "config[record['k']]", "b": "config[0]", "c": "other['x']"}},
            [],
            id="only-constant-string-keys",
        ),
        pytest.param(
            {
                "dropped": None,
                "also_dropped": "__NULL__",
                "bots": {"__alias__": "config['x']", "__source__": "config['y']"},
                "copy": {"__source__": "bots", "__key_properties__": ["ID"], "a": "config['z']"},
            },
            [("copy", "a", "z")],
            id="stream-names-lists-and-dropped-streams-are-no-expressions",
        ),
        pytest.param(
            {"no_such_stream": {"a": "config['x'] +"}, "bots": {"b": "config['y']"}},
            [("bots", "b", "y")],
            id="an-expression-that-does-not-parse-reads-nothing",
        ),
    ],
)
def test_the_keys_a_map_reads_are_found_in_its_expressions_syntax(
    stream_maps: dict[str, t.Any], reads: list[tuple[str, str, str]]
) -> None:
    assert list(config_reads(stream_maps)) == reads


@pytest.mark.parametrize(
    ("map_settings", "expected"),
    [
        pytest.param(
            {"y": "set"},
            "Setting `stream_map_config.x` is missing, and the stream map of 'bots' reads it "
            "(property 'a'): add it to `stream_map_config`",
            id="missing",
        ),
        pytest.param(
            {"x": "", "y": "set"},
            "Setting `stream_map_config.x` is empty, and the stream map of 'bots' reads it "
            "(property 'a'): give it a value",
            id="empty",
        ),
        pytest.param(
            {"x": "set", "y": None},
            "Setting `stream_map_config.y` is empty, and the stream map of 'bots' reads it "
            "(property 'b'): give it a value",
            id="the-first-key-not-set",
        ),
        pytest.param({"x": "set", "y": 0}, None, id="falsy-but-set"),
    ],
)
def test_a_key_any_map_reads_must_be_set(
    map_settings: dict[str, t.Any], expected: str | None
) -> None:
    config = {
        "stream_maps": {"bots": {"a": "config['x'] + record['ID']", "b": "config['y']"}},
        "stream_map_config": map_settings,
    }

    if expected is None:
        check_map_settings(config)
        return
    with pytest.raises(ConfigError) as error:
        check_map_settings(config)
    assert str(error.value) == expected


def test_maps_without_config_reads_need_no_stream_map_config() -> None:
    check_map_settings({"stream_maps": {"bots": {"RemoteIp": "__NULL__"}}})
    check_map_settings({})
