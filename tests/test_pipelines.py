"""Real pipelines: Meltano runs the tap into PostgreSQL and CSV, against the fake API."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from psycopg import sql

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.timestamps import from_epoch_ms, parse_timestamp, to_epoch_ms
from tests.support.meltano_project import BIN, REPO, Meltano, target_env

if t.TYPE_CHECKING:
    from decimal import Decimal

    from tests.support.postgres import Postgres

#: The fixtures `meltano`, `postgres` and `database`.
pytest_plugins = ["tests.support.pipeline_fixtures"]

Row: t.TypeAlias = dict[str, t.Any]

TARGET_CSV = REPO / ".meltano/loaders/target-csv/venv/bin/target-csv"
KEY, TENANT = "pipeline-key", "tenant-alpha"
#: Where the shipped `prod` environment puts BATCH files.
BATCH_FOLDER = REPO / ".meltano/run/tap-crescendo/batches"
TARGET_POSTGRES = REPO / ".meltano/loaders/target-postgres/venv/bin/target-postgres"
START, END = "2026-10-01T00:00:00Z", "2026-10-15T00:00:00Z"
FIRST_DAY_MS = to_epoch_ms(parse_timestamp(START))
DAY_MS = 86_400_000
#: Every field of the stream, in the order of its schema (and so of the CSV header).
COLUMNS = [
    *("ID", "TenantID", "BotID", "BotName", "Datetime", "EndDatetime", "DatetimeUTC"),
    *("EndDatetimeUTC", "Duration", "Escalated", "escalatedAt", "CSat", "AgentName", "AgentId"),
    *("AgentEmail", "Category", "Subcategory", "Tertiary", "RemoteIp", "userAgent", "Referrer"),
    *("Media", "Summary", "Handoff Reason", "ticketId", "ticketUrl", "ticketKind", "Input"),
    *("Contact Name", "Contact Email", "Contact Phone"),
]


def rows(count: int, *, days: tuple[int, int], seed: int, tenant: str = TENANT) -> list[Row]:
    """Bot conversations starting within `days` (counted from October 1st, 2026)."""
    start, end = (FIRST_DAY_MS + day * DAY_MS for day in days)
    return generate_bot_rows(count, start_ms=start, end_ms=end, seed=seed, tenant_id=tenant)


def tap_env(url: str, *, key: str = KEY, tenant: str = TENANT) -> dict[str, str]:
    """The tap's settings as Meltano reads them from the environment."""
    return {
        "TAP_CRESCENDO_API_URL": url,
        "TAP_CRESCENDO_API_KEY": key,
        "TAP_CRESCENDO_TENANT_ID": tenant,
        "TAP_CRESCENDO_START_DATE": START,
        "TAP_CRESCENDO_END_DATE": END,
    }


def pipe_into_postgres(
    meltano: Meltano,
    folder: Path,
    url: str,
    postgres: Postgres,
    database: str,
    *,
    schema: str,
    tap_settings: Row | None = None,
) -> None:
    """`tap-crescendo | target-postgres` over the test span: RECORD lines, the loader's
    defaults (it validates each record against its SCHEMA, and INSERTs)."""
    tap_config, target_config = folder / f"tap-{schema}.json", folder / f"target-{schema}.json"
    tap_config.write_text(json.dumps(span_settings(url) | (tap_settings or {})))
    target = {
        "host": postgres.host,
        "port": postgres.port,
        "user": postgres.user,
        "password": postgres.password,
        "database": database,
        "default_target_schema": schema,
    }
    target_config.write_text(json.dumps(target))
    pipe = 'set -o pipefail; "$0" --config "$1" | "$2" --config "$3"'
    meltano.command(
        "bash", "-c", pipe, BIN / "tap-crescendo", tap_config, TARGET_POSTGRES, target_config
    )


def span_settings(url: str) -> Row:
    """The tap's config for the fake API over the test span."""
    return {
        "api_url": url,
        "api_key": KEY,
        "tenant_id": TENANT,
        "start_date": START,
        "end_date": END,
    }


def pipe_into_csv(
    meltano: Meltano,
    folder: Path,
    url: str,
    *,
    tap_settings: Row | None = None,
    target_settings: Row | None = None,
) -> Path:
    """`tap-crescendo | target-csv` over the test span (RECORD lines), into `folder`/out.

    Returns the bot_conversations file; fails the test unless the pipe exits 0.
    """
    tap_config, target_config = folder / "tap.json", folder / "target.json"
    tap_config.write_text(json.dumps(span_settings(url) | (tap_settings or {})))
    target = {"output_path": str(folder / "out")} | (target_settings or {})
    target_config.write_text(json.dumps(target))
    pipe = 'set -o pipefail; "$0" --config "$1" | "$2" --config "$3"'
    meltano.command(
        "bash", "-c", pipe, BIN / "tap-crescendo", tap_config, TARGET_CSV, target_config, cwd=folder
    )
    return folder / "out/bot_conversations.csv"


def csv_lines(path: Path) -> tuple[list[str], list[list[str]]]:
    """A CSV file's header and its lines, each as the fields it holds (none padded)."""
    with path.open(newline="", encoding="utf-8") as file:
        header, *lines = csv.reader(file)
    return header, lines


def loaded(postgres: Postgres, database: str, schema: str) -> dict[str, Row]:
    """The stream's table, rows by ID, with exactly the stream's columns."""
    query = sql.SQL("SELECT {} FROM {}.bot_conversations").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), sql.Identifier(schema)
    )
    with postgres.connect(database) as connection:
        found = [dict(zip(COLUMNS, row, strict=True)) for row in connection.execute(query)]
    # A numeric as PostgreSQL prints it: "4.0" for 4.0, "4" for 4.
    return {row["ID"]: row | {"CSat": _text(row["CSat"])} for row in found}


def _text(value: Decimal | None) -> str | None:
    """A number as text, null as null."""
    return None if value is None else str(value)


def as_loaded(row: Row) -> Row:
    """The row as loaded, once the tap has normalized its union types (CSat as text)."""
    as_text = {
        field: str(row[field]) if isinstance(row[field], int) else row[field]
        for field in ("AgentId", "ticketId")
    }
    media = [row["Media"]] if isinstance(row["Media"], str) else row["Media"]
    csat = None if row["CSat"] is None else repr(float(row["CSat"]))
    return {
        **row,
        **as_text,
        "Media": media,
        "CSat": csat,
        "DatetimeUTC": from_epoch_ms(row["Datetime"]).replace(tzinfo=None),
        "EndDatetimeUTC": from_epoch_ms(row["EndDatetime"]).replace(tzinfo=None),
    }


def run_files_stored(stem: str) -> list[Path]:
    """The files of a BATCH writer's stem (a STATE's `batch_runs` key) still in the folder."""
    path = Path(urlsplit(stem).path)
    return sorted(path.parent.glob(f"{path.name}-*"))


def newest(*batches: list[Row]) -> str:
    """The DatetimeUTC of the latest conversation."""
    latest = max((row for batch in batches for row in batch), key=lambda row: row["Datetime"])
    text: str = latest["DatetimeUTC"]
    return text


def test_postgres_holds_every_row_field_by_field_and_a_rerun_adds_only_new_rows(
    meltano: Meltano, postgres: Postgres, database: str, tmp_path: Path
) -> None:
    first, new = rows(250, days=(0, 10), seed=7), rows(40, days=(10, 11), seed=8)
    voc = generate_voc_rows(60, start_ms=FIRST_DAY_MS, end_ms=FIRST_DAY_MS + 10 * DAY_MS, seed=7)
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: first}, voc_rows={TENANT: voc})
    suffix, state_id = "postgres", "prod:tap-crescendo-to-target-postgres:postgres"
    with fake.serve() as url:
        env = tap_env(url) | target_env(postgres, database)
        meltano.run(suffix, "tap-crescendo", "target-postgres", env=env)
        table = loaded(postgres, database, "tap_crescendo")
        state = meltano.state(state_id)
        # The same rows as RECORD lines, with the loader's defaults, into another schema.
        pipe_into_postgres(meltano, tmp_path, url, postgres, database, schema="as_records")
        fake.add_rows(TENANT, new)
        fake.reset_requests()
        meltano.run(suffix, "tap-crescendo", "target-postgres", env=env)
        resumed_from = min(
            int(r.query["from"])
            for r in fake.requests
            if "from" in r.query and r.path.endswith("/botconv")
        )

    assert table == {row["ID"]: as_loaded(row) for row in first}
    assert loaded(postgres, database, "as_records") == table
    # The shipped setup loads BATCH files; the rerun removed those the first run's STATE names.
    runs = state["bookmarks"]["bot_conversations"]["batch_runs"]
    ((stem, count),) = runs.items()
    assert count == 1  # 250 rows, 10,000 a file
    assert stem.startswith(BATCH_FOLDER.as_uri())
    assert run_files_stored(stem) == []
    # The rows hold every variant of the union types the tap normalizes, and nulls.
    assert {type(row["AgentId"]) for row in first} == {str, int, type(None)}
    assert {type(row["Media"]) for row in first} == {str, list, type(None)}
    assert {type(row["CSat"]) for row in first} == {int, float, type(None)}
    assert any(row["Handoff Reason"] is None for row in first)
    assert any(row["Contact Name"] is None for row in first)
    assert state["bookmarks"]["bot_conversations"] == {
        "replication_key": "DatetimeUTC",
        "replication_key_value": newest(first),
        "batch_runs": runs,
        "tenant_id": TENANT,
    }
    # Meltano handed the state back: the rerun read from the bookmark less the lookback (1 h).
    assert resumed_from == to_epoch_ms(parse_timestamp(newest(first))) - 3_600_000
    assert loaded(postgres, database, "tap_crescendo") == {
        row["ID"]: as_loaded(row) for row in first + new
    }
    assert postgres.query(
        database, 'SELECT count(*), count(DISTINCT "ID") FROM tap_crescendo.bot_conversations'
    ) == [(290, 290)]
    rerun_runs = meltano.state(state_id)["bookmarks"]["bot_conversations"]["batch_runs"]
    assert [len(run_files_stored(stem)) for stem in rerun_runs] == list(rerun_runs.values())
    assert meltano.state(state_id)["bookmarks"]["bot_conversations"]["replication_key_value"] == (
        newest(first, new)
    )
    voc_loaded = postgres.query(
        database,
        'SELECT "ID", "CustomerId", "Groups", "Problems" FROM tap_crescendo.voc_conversations',
    )
    assert sorted(row[0] for row in voc_loaded) == sorted(row["ID"] for row in voc)
    by_id = {row["ID"]: row for row in voc}
    for row_id, customer_id, groups, problems in voc_loaded:
        sent = by_id[row_id]
        assert customer_id == (None if sent["CustomerId"] is None else str(sent["CustomerId"]))
        assert groups == ([sent["Groups"]] if isinstance(sent["Groups"], str) else sent["Groups"])
        assert problems == sent["Problems"]


def shipped_batch_config() -> dict[str, t.Any]:
    """The `batch_config` of the tap in meltano.yml's `prod` environment."""
    project = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
    prod = next(env for env in project["environments"] if env["name"] == "prod")
    tap = next(p for p in prod["config"]["plugins"]["extractors"] if p["name"] == "tap-crescendo")
    config: dict[str, t.Any] = tap["config"]["batch_config"]
    return config


def test_meltano_config_test_sends_one_request_a_stream_and_writes_no_file(
    meltano: Meltano, tmp_path: Path
) -> None:
    sent = rows(3000, days=(0, 14), seed=12)
    voc = generate_voc_rows(40, start_ms=FIRST_DAY_MS, end_ms=FIRST_DAY_MS + 14 * DAY_MS, seed=12)
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: sent}, voc_rows={TENANT: voc})
    folder = tmp_path / "batches"  # the shipped files, in a folder of this test's own
    batch_config = shipped_batch_config()
    assert batch_config["storage"]["root"].startswith("file://$MELTANO_PROJECT_ROOT/")
    batch_config["storage"] = {"root": folder.as_uri()}
    with fake.serve() as url:
        env = tap_env(url) | {"TAP_CRESCENDO_BATCH_CONFIG": json.dumps(batch_config)}
        said = meltano("--environment=prod", "config", "test", "tap-crescendo", env=env)

    assert said.splitlines()[-1] == "Plugin configuration is valid"
    newest_day = str(FIRST_DAY_MS + 13 * DAY_MS)
    assert [(r.path.rsplit("/", 1)[-1], r.query["from"]) for r in fake.requests] == [
        ("botconv", newest_day),
        ("vocconv", newest_day),
    ]
    assert not folder.exists()


def test_meltano_config_test_of_a_refused_key_shows_the_tap_s_one_line(meltano: Meltano) -> None:
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: rows(10, days=(0, 1), seed=13)})
    with fake.serve() as url:
        env = {**meltano.env, **tap_env(url, key="revoked-key-0b1c")}
        argv = [str(BIN / "meltano"), "--environment=prod", "config", "test", "tap-crescendo"]
        done = subprocess.run(
            argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    assert done.returncode == 1
    said = done.stderr.splitlines()
    invalid = next(i for i, line in enumerate(said) if "Plugin configuration is invalid" in line)
    assert json.loads(said[invalid + 1])["message"] == (
        "HTTP 401 Unauthenticated: Authorization header with Bearer token is required. "
        "The API key was refused: check the `api_key` setting"
    )
    assert len(fake.requests) == 1


def test_csv_pipe_from_the_tap_into_target_csv(meltano: Meltano, tmp_path: Path) -> None:
    sent = rows(60, days=(0, 10), seed=3)
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: sent})
    with fake.serve() as url:
        out = pipe_into_csv(meltano, tmp_path, url)

    with out.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        written = list(reader)
    assert reader.fieldnames == COLUMNS
    assert sorted(line["ID"] for line in written) == sorted(row["ID"] for row in sent)
    lines = {line["ID"]: line for line in written}
    for row in sent:
        line, expected = lines[row["ID"]], as_loaded(row)
        assert line["Contact Name"] == (row["Contact Name"] or "")
        assert line["Handoff Reason"] == (row["Handoff Reason"] or "")
        assert line["AgentId"] == (expected["AgentId"] or "")
        assert line["CSat"] == (expected["CSat"] or "")
        # target-csv writes lists and date-times as Python prints them.
        assert line["Media"] == ("" if expected["Media"] is None else str(expected["Media"]))
        assert line["DatetimeUTC"] == str(from_epoch_ms(row["Datetime"]))


def test_each_tenant_extractor_loads_its_own_schema(
    meltano: Meltano, postgres: Postgres, database: str
) -> None:
    acme, globex = (
        rows(70, days=(0, 10), seed=seed, tenant=tenant)
        for seed, tenant in ((21, "acme"), (22, "globex"))
    )
    fake = FakeCrescendo(
        api_keys={"acme-key": {"acme"}, "globex-key": {"globex"}},
        rows={"acme": acme, "globex": globex},
    )
    with fake.serve() as url:
        env = target_env(postgres, database) | {
            "TAP_CRESCENDO_API_URL": url,
            "TAP_CRESCENDO_START_DATE": START,
            "TAP_CRESCENDO_END_DATE": END,
            "CRESCENDO_ACME_API_KEY": "acme-key",
            "CRESCENDO_GLOBEX_API_KEY": "globex-key",
        }
        pairs = ("tap-crescendo--acme", "target-postgres", "tap-crescendo--globex")
        meltano.run("tenants", *pairs, "target-postgres", env=env)

    assert loaded(postgres, database, "crescendo_acme") == {r["ID"]: as_loaded(r) for r in acme}
    assert loaded(postgres, database, "crescendo_globex") == {
        row["ID"]: as_loaded(row) for row in globex
    }


def test_one_extractor_reads_two_tenants_into_one_table_and_a_rerun_adds_no_duplicates(
    meltano: Meltano, postgres: Postgres, database: str
) -> None:
    acme, globex = (
        rows(60, days=(0, 10), seed=seed, tenant=tenant)
        for seed, tenant in ((31, "acme"), (32, "globex"))
    )
    late = rows(15, days=(10, 12), seed=33, tenant="globex")
    fake = FakeCrescendo(api_keys={KEY: {"acme", "globex"}}, rows={"acme": acme, "globex": globex})
    with fake.serve() as url:
        env = tap_env(url) | target_env(postgres, database)
        del env["TAP_CRESCENDO_TENANT_ID"]
        env["TAP_CRESCENDO_TENANT_IDS"] = '["acme", "globex"]'
        meltano.run("two-tenants", "tap-crescendo", "target-postgres", env=env)
        first = loaded(postgres, database, "tap_crescendo")
        fake.add_rows("globex", late)
        meltano.run("two-tenants", "tap-crescendo", "target-postgres", env=env)
        state = meltano.state("prod:tap-crescendo-to-target-postgres:two-tenants")

    assert first == {row["ID"]: as_loaded(row) for row in acme + globex}
    with postgres.connect(database) as connection:
        counted = connection.execute("SELECT count(*) FROM tap_crescendo.bot_conversations")
        assert counted.fetchall() == [(len(acme) + len(globex) + len(late),)]  # no duplicate
    assert loaded(postgres, database, "tap_crescendo") == {
        row["ID"]: as_loaded(row) for row in acme + globex + late
    }
    partitions = state["bookmarks"]["bot_conversations"]["partitions"]
    assert [(p["context"], p["replication_key_value"]) for p in partitions] == [
        ({"tenant_id": "acme"}, newest(acme)),
        ({"tenant_id": "globex"}, newest(late)),
    ]


def test_pii_safe_extractor_drops_phones_and_ips_and_hashes_with_a_secret_salt(
    meltano: Meltano, postgres: Postgres, database: str
) -> None:
    sent = rows(60, days=(0, 10), seed=5)
    voc = generate_voc_rows(30, start_ms=FIRST_DAY_MS, end_ms=FIRST_DAY_MS + 10 * DAY_MS, seed=5)
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: sent}, voc_rows={TENANT: voc})
    salt = "pipeline-salt-7d1e"
    with fake.serve() as url:
        env = tap_env(url) | target_env(postgres, database) | {"CRESCENDO_PII_SALT": salt}
        meltano.run("pii", "tap-crescendo--pii-safe", "target-postgres", env=env)

    columns = postgres.query(
        database,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'crescendo_pii_safe' AND table_name = 'bot_conversations'",
    )
    assert {"Contact Phone", "RemoteIp"}.isdisjoint(name for (name,) in columns)
    assert {"Contact Name", "Contact Email", "AgentName"} <= {name for (name,) in columns}

    def salted(value: str | None) -> str | None:
        return None if value is None else hashlib.sha256((salt + value).encode()).hexdigest()

    found = postgres.query(
        database,
        'SELECT "ID", "Contact Name", "Contact Email" FROM crescendo_pii_safe.bot_conversations',
    )
    assert sorted(found) == sorted(
        (row["ID"], salted(row["Contact Name"]), salted(row["Contact Email"])) for row in sent
    )
    assert any(row["Contact Name"] is None for row in sent)
    customers = postgres.query(
        database,
        'SELECT "ID", "CustomerName", "CustomerEmail" FROM crescendo_pii_safe.voc_conversations',
    )
    assert sorted(customers) == sorted(
        (row["ID"], salted(row["CustomerName"]), salted(row["CustomerEmail"])) for row in voc
    )


def test_a_drifting_api_with_schema_evolution_discard_loads_into_postgres_and_csv_validated(
    meltano: Meltano, postgres: Postgres, database: str, tmp_path: Path
) -> None:
    sent = rows(80, days=(0, 10), seed=9)
    drifting = [{**row, "NewField": {"a": 1}, "BotName": 5} for row in sent]
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: drifting})
    discard = {"schema_evolution": "discard"}
    with fake.serve() as url:
        # RECORD lines, and target-postgres validating each against the SCHEMA.
        pipe_into_postgres(
            meltano, tmp_path, url, postgres, database, schema="tap_crescendo", tap_settings=discard
        )
        out = pipe_into_csv(meltano, tmp_path, url, tap_settings=discard)

    expected = {row["ID"]: as_loaded(row) | {"BotName": "5"} for row in sent}
    assert loaded(postgres, database, "tap_crescendo") == expected
    columns = postgres.query(
        database,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'tap_crescendo' AND table_name = 'bot_conversations'",
    )
    assert "NewField" not in {name for (name,) in columns}
    with out.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        written = list(reader)
    assert reader.fieldnames == COLUMNS
    assert sorted(line["ID"] for line in written) == sorted(expected)
    assert {line["BotName"] for line in written} == {"5"}


#: The fields the API starts to send mid-run in the schema evolution tests, in the order
#: they are added: a string, a number, an object and an array.
ADDED = ["Region", "Score", "Plan", "Labels"]


def with_added_fields(batch: list[Row]) -> list[Row]:
    """`batch` with the `ADDED` fields, nulls among them, varying from row to row."""
    return [
        row
        | {
            "Region": ("eu", "us", None, "apac")[index % 4],
            "Score": (3, 2.5, -7, 0.125, None)[index % 5],
            "Plan": {"tier": ("gold", "free")[index % 2], "seats": index} if index % 6 else None,
            "Labels": (["vip", index], [], [{"k": "v"}], [[1], [2, 3]])[index % 4],
        }
        for index, row in enumerate(batch)
    ]


def declared(row: Row) -> Row:
    """The row as loaded (`as_loaded`), its declared columns only."""
    as_row = as_loaded(row)
    return {name: as_row[name] for name in COLUMNS}


def added_columns(postgres: Postgres, database: str, schema: str) -> dict[str, tuple[t.Any, ...]]:
    """The `ADDED` columns of the stream's table by ID, the number as PostgreSQL prints it."""
    query = sql.SQL(
        'SELECT "ID", "Region", "Score"::text, "Plan", "Labels" FROM {}.bot_conversations'
    ).format(sql.Identifier(schema))
    with postgres.connect(database) as connection:
        return {row_id: tuple(values) for row_id, *values in connection.execute(query)}


def test_fields_the_api_adds_mid_run_become_postgres_columns_and_a_rerun_keeps_them(
    meltano: Meltano, postgres: Postgres, database: str, tmp_path: Path
) -> None:
    before = rows(40, days=(0, 5), seed=41)
    after = with_added_fields(rows(40, days=(5, 10), seed=42))
    new = with_added_fields(rows(10, days=(10, 12), seed=43))
    # A later value of another kind: null, `Score` being a number by then. Kept out of the
    # rerun's lookback: each run types a field from its own first value, and a rerun typing
    # `Score` as a string stops target-postgres (it cannot alter NUMERIC to TEXT).
    odd = max(
        (row for row in after if row["Datetime"] < FIRST_DAY_MS + 9 * DAY_MS),
        key=lambda row: row["Datetime"],
    )
    odd["Score"] = "high"
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: before + after})
    with fake.serve() as url:
        env = tap_env(url) | target_env(postgres, database)
        # The shipped setup: BATCH files, COPY, no validation; the default `evolve`.
        meltano.run("evolve", "tap-crescendo", "target-postgres", env=env)
        first = added_columns(postgres, database, "tap_crescendo")
        first_declared = loaded(postgres, database, "tap_crescendo")
        # RECORD lines, INSERTs and target-postgres validating each against the grown SCHEMA.
        pipe_into_postgres(meltano, tmp_path, url, postgres, database, schema="as_records")
        fake.add_rows(TENANT, new)
        meltano.run("evolve", "tap-crescendo", "target-postgres", env=env)

    def values(row: Row, number: t.Callable[[int | float], str]) -> tuple[t.Any, ...]:
        score = row.get("Score")
        text = number(score) if isinstance(score, (int, float)) else None
        return (row.get("Region"), text, row.get("Plan"), row.get("Labels"))

    # Rows before the fields appeared hold NULL; the rest, the API's values. COPY sends a
    # NUMERIC through float (3 is 3.0), INSERT as sent (3).
    assert first == {row["ID"]: values(row, lambda n: repr(float(n))) for row in before + after}
    assert added_columns(postgres, database, "as_records") == {
        row["ID"]: values(row, str) for row in before + after
    }
    assert first_declared == {row["ID"]: declared(row) for row in before + after}
    assert loaded(postgres, database, "as_records") == first_declared
    # The rerun started from the declared schema, grew it again, and upserted.
    assert postgres.query(
        database, 'SELECT count(*), count(DISTINCT "ID") FROM tap_crescendo.bot_conversations'
    ) == [(90, 90)]
    assert added_columns(postgres, database, "tap_crescendo") == {
        row["ID"]: values(row, lambda n: repr(float(n))) for row in before + after + new
    }
    assert loaded(postgres, database, "tap_crescendo") == {
        row["ID"]: declared(row) for row in before + after + new
    }
    for schema in ("tap_crescendo", "as_records"):
        types = postgres.query(
            database,
            "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'bot_conversations' AND column_name = ANY(%s) "
            "ORDER BY ordinal_position",
            schema,
            ADDED,
        )
        assert types == [
            ("Region", "text"),
            ("Score", "numeric"),
            ("Plan", "jsonb"),
            ("Labels", "jsonb"),
        ]


def test_pii_safe_extractor_never_loads_a_field_the_api_adds(
    meltano: Meltano, postgres: Postgres, database: str
) -> None:
    marker = "ssn:"  # in no generated value, nor in a UUID
    bot = rows(50, days=(0, 10), seed=51)
    voc = generate_voc_rows(20, start_ms=FIRST_DAY_MS, end_ms=FIRST_DAY_MS + 10 * DAY_MS, seed=51)
    assert marker not in json.dumps([bot, voc])
    bot = [row | {"Customer SSN": f"{marker}078-05-{i:04d}"} for i, row in enumerate(bot)]
    voc = [row | {"CustomerSSN": f"{marker}078-06-{i:04d}"} for i, row in enumerate(voc)]
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: bot}, voc_rows={TENANT: voc})
    with fake.serve() as url:
        env = tap_env(url) | target_env(postgres, database) | {"CRESCENDO_PII_SALT": "salt-91c4"}
        meltano.run("pii-new-field", "tap-crescendo--pii-safe", "target-postgres", env=env)

    tables = postgres.query(
        database,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_name",
    )
    assert tables == [
        ("crescendo_pii_safe", "bot_conversations"),
        ("crescendo_pii_safe", "voc_conversations"),
    ]
    ssn_columns = postgres.query(
        database,
        "SELECT column_name FROM information_schema.columns WHERE column_name ILIKE '%ssn%'",
    )
    assert ssn_columns == []
    sent = {"bot_conversations": bot, "voc_conversations": voc}
    with postgres.connect(database) as connection:
        for schema, table in tables:
            # Each row, every column of it as one text: loaded, and without the marker.
            query = sql.SQL('SELECT "ID", t::text LIKE %s FROM {}.{} AS t').format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            found = dict(connection.execute(query, (f"%{marker}%",)).fetchall())
            assert found == {row["ID"]: False for row in sent[table]}


def growing_rows() -> tuple[list[Row], list[Row], list[Row]]:
    """20 rows, then 20 with a field the schema lacks, then 20 with one more, in time."""
    plain = rows(20, days=(0, 5), seed=61)
    regional = [
        row | {"Region": ("eu", "us", "apac")[i % 3]}
        for i, row in enumerate(rows(20, days=(5, 10), seed=62))
    ]
    scored = [
        row | {"Region": ("eu", "us")[i % 2], "Score": (4, 2.5)[i % 2]}
        for i, row in enumerate(rows(20, days=(10, 14), seed=63))
    ]
    return plain, regional, scored


def test_target_csv_writes_a_schema_grown_mid_stream_as_one_header_over_rows_cut_short(
    meltano: Meltano, tmp_path: Path
) -> None:
    """Each SCHEMA that grows the stream makes target-csv (0.5.0) start a new sink, whose
    setup opens the file with "w" and writes its own header: the last one stands. The old
    sinks hold their rows (never full, by default) until the end of the input, when they are
    drained first, each writing its rows with its own, shorter, list of columns. Exit 0."""
    plain, regional, scored = growing_rows()
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: plain + regional + scored})
    with fake.serve() as url:
        out = pipe_into_csv(meltano, tmp_path, url)

    header, lines = csv_lines(out)
    assert header == [*COLUMNS, "Region", "Score"]
    width = len(COLUMNS)
    assert [len(line) for line in lines] == [width] * 20 + [width + 1] * 20 + [width + 2] * 20
    by_id = {line[0]: line for line in lines}
    assert sorted(by_id) == sorted(row["ID"] for row in plain + regional + scored)
    # The added fields come last, so the fields a row has stand under their own names.
    at = COLUMNS.index("Datetime")
    assert all(by_id[row["ID"]][at] == str(row["Datetime"]) for row in plain + regional + scored)
    assert [by_id[row["ID"]][width:] for row in regional] == [[row["Region"]] for row in regional]
    assert [by_id[row["ID"]][width:] for row in scored] == [
        [row["Region"], str(row["Score"])] for row in scored
    ]


def test_target_csv_with_batch_size_rows_loses_the_rows_it_wrote_before_the_schema_grew(
    meltano: Meltano, tmp_path: Path
) -> None:
    """With `batch_size_rows` (a Singer SDK target setting), target-csv writes every 10 rows
    as they come; the sink a new SCHEMA starts rewrites the file from its header, so the rows
    written before are gone. Exit 0, no warning."""
    plain, regional, scored = growing_rows()
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: plain + regional + scored})
    with fake.serve() as url:
        out = pipe_into_csv(meltano, tmp_path, url, target_settings={"batch_size_rows": 10})

    header, lines = csv_lines(out)
    assert header == [*COLUMNS, "Region", "Score"]
    assert sorted(line[0] for line in lines) == sorted(row["ID"] for row in scored)
    assert {len(line) for line in lines} == {len(COLUMNS) + 2}


@pytest.mark.parametrize("target_settings", [{}, {"batch_size_rows": 10}], ids=["held", "batched"])
def test_schema_evolution_discard_gives_target_csv_one_header_and_every_row_whole(
    meltano: Meltano, tmp_path: Path, target_settings: Row
) -> None:
    plain, regional, scored = growing_rows()
    fake = FakeCrescendo(api_keys={KEY: {TENANT}}, rows={TENANT: plain + regional + scored})
    with fake.serve() as url:
        out = pipe_into_csv(
            meltano,
            tmp_path,
            url,
            tap_settings={"schema_evolution": "discard"},
            target_settings=target_settings,
        )

    header, lines = csv_lines(out)
    assert header == COLUMNS
    assert sorted(line[0] for line in lines) == sorted(
        row["ID"] for row in plain + regional + scored
    )
    assert {len(line) for line in lines} == {len(COLUMNS)}


def test_demo_serves_the_fake_and_lands_csv(meltano: Meltano, tmp_path: Path) -> None:
    options = ("--rows", "120", "--port", "0", "--output", str(tmp_path))
    printed = meltano.command(sys.executable, "-m", "tap_crescendo.demo", *options).splitlines()

    assert f"  {tmp_path / 'bot_conversations.csv'}: 120 rows" in printed
    assert f"  {tmp_path / 'voc_conversations.csv'}: 60 rows" in printed
    with (tmp_path / "bot_conversations.csv").open(newline="", encoding="utf-8") as file:
        assert sum(1 for _ in csv.DictReader(file)) == 120
