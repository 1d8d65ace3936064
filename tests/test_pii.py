"""The PII-safe extractor of meltano.yml: no customer's personal data leaves the tap in clear."""

from __future__ import annotations

import hashlib
import io
import json
import typing as t
from contextlib import redirect_stderr, redirect_stdout

import yaml

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.tap import TapCrescendo
from tests.local_servers import REPO
from tests.tap_runs import API_KEY, SPAN_END_MS, SPAN_START_MS, TENANT, parse_messages, tap_config

SALT = "a-long-random-secret-0f3c"
PERSONAL = {
    "bot_conversations": ("Contact Name", "Contact Email", "Contact Phone", "RemoteIp"),
    "voc_conversations": ("CustomerName", "CustomerEmail"),
}


def pii_safe_config() -> dict[str, t.Any]:
    """The `tap-crescendo--pii-safe` extractor's config in meltano.yml, salt filled in."""
    project = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
    extractor = next(
        plugin
        for plugin in project["plugins"]["extractors"]
        if plugin["name"] == "tap-crescendo--pii-safe"
    )
    config: dict[str, t.Any] = extractor["config"]
    assert config["stream_map_config"] == {"pii_salt": "$CRESCENDO_PII_SALT"}
    return {**config, "stream_map_config": {"pii_salt": SALT}}


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
