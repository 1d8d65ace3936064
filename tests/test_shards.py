"""Shards: `tenant_ids` split over jobs that run at once, Meltano's state in S3, one PostgreSQL.

Each shard is a `meltano run` with its own tenants, state ID suffix and `.meltano` folder (as
on a pod of its own); Meltano keeps their states in a state backend on the local S3 server.
The fake API holds a chosen request to stop a job at a known point. docs/running-at-scale.md.
"""

from __future__ import annotations

import json
import re
import sys
import typing as t
from collections import Counter

import pytest

from tap_crescendo.fake_api import generate_bot_rows
from tap_crescendo.fake_api.routes import match_route
from tap_crescendo.timestamps import parse_timestamp, to_epoch_ms
from tests.support.held_requests import HoldingFake
from tests.support.meltano_project import target_env
from tests.support.s3_server import CREDENTIALS
from tests.support.shards import Job, Shard, s3_state_backend, singer_state, stored_state

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.support.meltano_project import Meltano
    from tests.support.postgres import Postgres

#: The fixtures `meltano`, `postgres` and `database`.
pytest_plugins = ["tests.support.pipeline_fixtures"]
pytestmark = pytest.mark.slow

Row: t.TypeAlias = dict[str, t.Any]
Start: t.TypeAlias = "Callable[..., Job]"

KEY = "shards-key"
TENANTS = ("acme", "globex", "initech", "umbrella")
START, END = "2026-10-01T00:00:00Z", "2026-10-15T00:00:00Z"
FIRST_DAY_MS = to_epoch_ms(parse_timestamp(START))
DAY_MS = 86_400_000
LOOKBACK_MS = 3_600_000  # the default `lookback_window_minutes`, 60
REFUSED = (
    r"Another '{state_id}' pipeline is already running which started at [-\d]+ [:.+\d]+\. "
    r"Wait until [-\d]+ [:.+\d]+ when the job will be automatically cancelled if stale, or "
    r"ignore this check using the '--force' option\."
)


def rows(tenant: str, count: int, days: tuple[int, int]) -> list[Row]:
    """A tenant's bot conversations starting within `days` (counted from October 1st)."""
    start, end = (FIRST_DAY_MS + day * DAY_MS for day in days)
    seed = TENANTS.index(tenant) * 100 + days[0]
    return generate_bot_rows(count, start_ms=start, end_ms=end, seed=seed, tenant_id=tenant)


def newest(*batches: list[Row]) -> str:
    """The DatetimeUTC of the latest conversation: the bookmark after reading them."""
    latest = max((row for batch in batches for row in batch), key=lambda row: row["Datetime"])
    text: str = latest["DatetimeUTC"]
    return text


def bookmarks(state: Row) -> dict[str, str | None]:
    """Each tenant's bookmark of bot_conversations in a Singer state, in partition order."""
    partitions = state["bookmarks"]["bot_conversations"]["partitions"]
    return {p["context"]["tenant_id"]: p.get("replication_key_value") for p in partitions}


def first_pages(fake: HoldingFake) -> dict[str, list[int]]:
    """The `from` of each bot_conversations query (a first page) by tenant, in arrival order."""
    found: dict[str, list[int]] = {}
    for request in fake.requests:
        route = match_route(request.path)
        if route and route.dataset == "bot" and "cursor" not in request.query:
            found.setdefault(route.tenant, []).append(int(request.query["from"]))
    return found


def resumed_from(bookmark: str | None) -> int:
    """Where a run resumes from a bookmark: the lookback before it."""
    assert bookmark is not None
    return to_epoch_ms(parse_timestamp(bookmark)) - LOOKBACK_MS


def table(postgres: Postgres, database: str) -> tuple[int, set[str]]:
    """How many rows the stream's table holds, and their distinct IDs."""
    found = postgres.query(database, 'SELECT "ID" FROM tap_crescendo.bot_conversations')
    return len(found), {row_id for (row_id,) in found}


def ids(*batches: list[Row]) -> set[str]:
    """The IDs of conversations."""
    return {row["ID"] for batch in batches for row in batch}


@pytest.fixture
def data() -> dict[str, list[Row]]:
    """300 conversations a tenant over ten days; the tenants share no ID."""
    data = {tenant: rows(tenant, 300, (0, 10)) for tenant in TENANTS}
    assert len(ids(*data.values())) == 1200
    return data


@pytest.fixture
def fake(data: dict[str, list[Row]]) -> HoldingFake:
    """The fake API holding `data`, every tenant readable with one key."""
    return HoldingFake(api_keys={KEY: set(TENANTS)}, rows=data)


@pytest.fixture
def env(
    fake: HoldingFake,
    postgres: Postgres,
    database: str,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    """What every job shares: the fake API, the PostgreSQL database, the S3 state backend."""
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": (tmp_path / "batches").as_uri()},
        "batch_size": 10000,
    }
    with fake.serve() as url:
        yield {
            "TAP_CRESCENDO_API_URL": url,
            "TAP_CRESCENDO_API_KEY": KEY,
            "TAP_CRESCENDO_START_DATE": START,
            "TAP_CRESCENDO_END_DATE": END,
            "TAP_CRESCENDO_PAGE_SIZE": "100",
            # A request held by the test is not retried meanwhile.
            "TAP_CRESCENDO_REQUEST_TIMEOUT": "600",
            "TAP_CRESCENDO_BATCH_CONFIG": json.dumps(batch_config),
            **target_env(postgres, database),
            **s3_state_backend(s3_endpoint, bucket, CREDENTIALS),
        }


@pytest.fixture
def start(meltano: Meltano, env: dict[str, str], tmp_path: Path) -> Iterator[Start]:
    """Start a shard's `meltano run` (SIGKILLed at the end of the test if still running)."""
    jobs: list[Job] = []

    def start_job(shard: Shard, **extra: str) -> Job:
        job_env = meltano.env | env | shard.env() | extra
        job = Job(shard, job_env, tmp_path / f"{shard.suffix}-{len(jobs)}.log")
        jobs.append(job)
        return job

    yield start_job
    for job in jobs:
        if job.process.poll() is None:
            job.kill()


@pytest.fixture
def tables(start: Start, fake: HoldingFake, tmp_path: Path) -> None:
    """The streams' tables, made by one run over a day without conversations.

    target-postgres asks whether a table exists, then creates it: two loaders starting at once
    on an empty database may both try, and one fail. Shards started together find them made.
    """
    empty_day = {
        "TAP_CRESCENDO_START_DATE": "2026-09-01T00:00:00Z",
        "TAP_CRESCENDO_END_DATE": "2026-09-02T00:00:00Z",
    }
    start(Shard.make(tmp_path, "tables", TENANTS[0]), **empty_day).succeed()
    fake.reset_requests()


@pytest.mark.usefixtures("tables")
def test_two_shards_at_once_load_every_row_once_and_a_killed_one_resumes_from_its_own_state(
    start: Start,
    fake: HoldingFake,
    data: dict[str, list[Row]],
    postgres: Postgres,
    database: str,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    shard_a = Shard.make(tmp_path, "shard-a", "acme", "globex")
    shard_b = Shard.make(tmp_path, "shard-b", "initech", "umbrella")
    jobs = [start(shard_a), start(shard_b)]
    for job in jobs:
        job.succeed()
    first_table = table(postgres, database)
    state_a, state_b = (stored_state(s3_endpoint, bucket, s.state_id) for s in (shard_a, shard_b))

    new = {tenant: rows(tenant, 40, (10, 12)) for tenant in TENANTS}
    for tenant, batch in new.items():
        fake.add_rows(tenant, batch)
    # Shard A again, held at its second tenant's first request: the first is read in full.
    globex = fake.hold_next("globex")
    killed = start(shard_a)
    globex.wait()
    assert stored_state(s3_endpoint, bucket, shard_a.state_id) == state_a
    killed.kill()
    globex.release()
    # Its system database says the killed run is running (for 5 minutes from its last
    # heartbeat): Meltano refuses to run the job there.
    refused = start(shard_a)
    assert refused.wait() == 1
    assert re.search(REFUSED.format(state_id=re.escape(shard_a.state_id)), refused.said())
    assert stored_state(s3_endpoint, bucket, shard_a.state_id) == state_a
    # The next run on a new pod: a new system database, the state from S3.
    fake.reset_requests()
    start(shard_a, MELTANO_DATABASE_URI=f"sqlite:///{tmp_path / 'new-pod.db'}").succeed()

    assert first_table == (1200, ids(*data.values()))
    assert bookmarks(singer_state(state_a)) == {
        "acme": newest(data["acme"]),
        "globex": newest(data["globex"]),
    }
    assert bookmarks(singer_state(state_b)) == {
        "initech": newest(data["initech"]),
        "umbrella": newest(data["umbrella"]),
    }
    # Each tenant of shard A resumed from its own bookmark, less the lookback.
    queries = first_pages(fake)
    assert sorted(queries) == ["acme", "globex"]
    for tenant in ("acme", "globex"):
        assert queries[tenant][0] == resumed_from(bookmarks(singer_state(state_a))[tenant])
    assert bookmarks(singer_state(stored_state(s3_endpoint, bucket, shard_a.state_id))) == {
        "acme": newest(data["acme"], new["acme"]),
        "globex": newest(data["globex"], new["globex"]),
    }
    assert stored_state(s3_endpoint, bucket, shard_b.state_id) == state_b
    assert table(postgres, database) == (1280, ids(*data.values(), new["acme"], new["globex"]))


def test_the_same_shard_twice_on_one_system_database_is_refused_while_the_first_runs(
    start: Start,
    fake: HoldingFake,
    data: dict[str, list[Row]],
    postgres: Postgres,
    database: str,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    shard = Shard.make(tmp_path, "shard-a", "acme", "globex")
    acme = fake.hold_next("acme")
    first = start(shard)
    acme.wait()
    second = start(shard)
    status = second.wait()
    acme.release()
    first.succeed()

    assert status == 1
    assert re.search(REFUSED.format(state_id=re.escape(shard.state_id)), second.said())
    assert table(postgres, database) == (600, ids(data["acme"], data["globex"]))
    queries = first_pages(fake)
    assert {tenant: set(Counter(queries[tenant]).values()) for tenant in queries} == {
        "acme": {1},
        "globex": {1},
    }
    assert bookmarks(singer_state(stored_state(s3_endpoint, bucket, shard.state_id))) == {
        "acme": newest(data["acme"]),
        "globex": newest(data["globex"]),
    }


@pytest.mark.usefixtures("tables")
def test_the_same_shard_twice_on_two_pods_runs_twice_and_loads_each_row_once(
    start: Start,
    fake: HoldingFake,
    data: dict[str, list[Row]],
    postgres: Postgres,
    database: str,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    pod_1 = Shard.make(tmp_path, "shard-a", "acme", "globex")
    pod_2 = Shard.make(tmp_path / "pod-2", "shard-a", "acme", "globex")
    acme = fake.hold_next("acme")
    first = start(pod_1)
    acme.wait()  # the first has read the state and is mid-run when the second starts
    start(pod_2).succeed()
    second_state = stored_state(s3_endpoint, bucket, pod_2.state_id)
    acme.release()
    first.succeed()

    # Both read every window of both tenants, from the same (no) state.
    queries = first_pages(fake)
    assert {tenant: set(Counter(queries[tenant]).values()) for tenant in queries} == {
        "acme": {2},
        "globex": {2},
    }
    # The primary key keeps one row per ID; the last run to end wrote the same bookmarks.
    assert table(postgres, database) == (600, ids(data["acme"], data["globex"]))
    expected = {"acme": newest(data["acme"]), "globex": newest(data["globex"])}
    assert bookmarks(singer_state(second_state)) == expected
    assert bookmarks(singer_state(stored_state(s3_endpoint, bucket, pod_1.state_id))) == expected


@pytest.mark.usefixtures("tables")
def test_a_tenant_moves_between_shards_with_its_bookmark_and_every_other_keeps_its_own(
    start: Start,
    meltano: Meltano,
    env: dict[str, str],
    fake: HoldingFake,
    data: dict[str, list[Row]],
    postgres: Postgres,
    database: str,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    shard_a = Shard.make(tmp_path, "shard-a", "acme", "globex")
    shard_b = Shard.make(tmp_path, "shard-b", "initech", "umbrella")
    jobs = [start(shard_a), start(shard_b)]
    for job in jobs:
        job.succeed()
    before = {
        shard.suffix: singer_state(stored_state(s3_endpoint, bucket, shard.state_id))
        for shard in (shard_a, shard_b)
    }
    new = {tenant: rows(tenant, 40, (10, 12)) for tenant in TENANTS}
    for tenant, batch in new.items():
        fake.add_rows(tenant, batch)

    # Both jobs stopped: globex's partitions go from A's state to B's, by the documented steps.
    state_env = env | shard_a.env()
    for shard in (shard_a, shard_b):
        printed = meltano("--environment=prod", "state", "get", shard.state_id, env=state_env)
        (tmp_path / f"{shard.suffix}.json").write_text(printed)
    said = meltano.command(
        sys.executable,
        *("-m", "tap_crescendo.cli.move_tenant", "globex"),
        *(tmp_path / "shard-a.json", tmp_path / "shard-b.json"),
        *("--out", tmp_path / "shard-a-new.json", tmp_path / "shard-b-new.json"),
    )
    for shard in (shard_a, shard_b):
        new_state = tmp_path / f"{shard.suffix}-new.json"
        meltano(
            *("--environment=prod", "state", "set", "--force", shard.state_id),
            *("--input-file", str(new_state)),
            env=state_env,
        )
    moved = {
        shard.suffix: singer_state(stored_state(s3_endpoint, bucket, shard.state_id))
        for shard in (shard_a, shard_b)
    }
    fake.reset_requests()
    jobs = [start(shard_a.with_tenants("acme")), start(shard_b.with_tenants(*TENANTS[1:]))]
    for job in jobs:
        job.succeed()

    assert said.startswith("Moved tenant 'globex' (bot_conversations: ")
    assert bookmarks(moved["shard-a"]) == {"acme": newest(data["acme"])}
    assert bookmarks(moved["shard-b"]) == {
        "initech": newest(data["initech"]),
        "umbrella": newest(data["umbrella"]),
        "globex": newest(data["globex"]),
    }
    # Every partition moved or kept is the one the shards wrote, batch_runs and all.
    partitions = {
        (shard, p["context"]["tenant_id"]): p
        for shard, state in before.items()
        for p in state["bookmarks"]["bot_conversations"]["partitions"]
    }
    assert moved["shard-b"]["bookmarks"]["bot_conversations"]["partitions"] == [
        partitions["shard-b", "initech"],
        partitions["shard-b", "umbrella"],
        partitions["shard-a", "globex"],
    ]
    assert moved["shard-a"]["bookmarks"]["bot_conversations"]["partitions"] == [
        partitions["shard-a", "acme"]
    ]
    # Each tenant resumed from its own bookmark less the lookback, and was read by one shard.
    queries, stored = first_pages(fake), bookmarks(before["shard-a"]) | bookmarks(before["shard-b"])
    for tenant in TENANTS:
        assert queries[tenant][0] == resumed_from(stored[tenant])
        assert queries[tenant] == sorted(set(queries[tenant]))
    after_a, after_b = (
        singer_state(stored_state(s3_endpoint, bucket, shard.state_id))
        for shard in (shard_a, shard_b)
    )
    assert bookmarks(after_a) == {"acme": newest(data["acme"], new["acme"])}
    assert bookmarks(after_b) == {
        tenant: newest(data[tenant], new[tenant]) for tenant in ("initech", "umbrella", "globex")
    }
    assert table(postgres, database) == (1360, ids(*data.values(), *new.values()))
