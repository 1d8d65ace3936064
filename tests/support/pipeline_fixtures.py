"""Fixtures of the pipeline tests: the Meltano project, a PostgreSQL server, a database.

Test modules load them with `pytest_plugins = ["tests.support.pipeline_fixtures"]`.
"""

from __future__ import annotations

import fcntl
import os
import re
import typing as t

import pytest

from tests.support.meltano_project import FOREIGN_ENV, REPO, Meltano
from tests.support.postgres import find_initdb, running_postgres

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.postgres import Postgres


@pytest.fixture(scope="session")
def meltano(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Meltano]:
    """The project with its plugins installed (once, into the git-ignored `.meltano/`).

    Meltano rewrites meltano.yml when it finds something to canonicalize; it must find nothing.
    """
    as_committed = (REPO / "meltano.yml").read_text(encoding="utf-8")
    database = tmp_path_factory.mktemp("meltano") / "meltano.db"
    env = {name: value for name, value in os.environ.items() if not name.startswith(FOREIGN_ENV)}
    env |= {"MELTANO_DATABASE_URI": f"sqlite:///{database}", "NO_COLOR": "1"}
    project = Meltano(env)
    (REPO / ".meltano").mkdir(exist_ok=True)
    # Two test sessions in one checkout must not install into the same virtualenvs at once.
    with (REPO / ".meltano/install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        project("install")
    yield project
    assert (REPO / "meltano.yml").read_text(encoding="utf-8") == as_committed


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the whole session; CI must have one, elsewhere its absence skips."""
    initdb = find_initdb()
    if initdb is None:
        reason = "PostgreSQL's initdb is neither on the PATH nor under /usr/lib/postgresql"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_postgres(initdb) as server:
        yield server


@pytest.fixture
def database(postgres: Postgres, request: pytest.FixtureRequest) -> str:
    """A new, empty database named after the test."""
    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:63]
    postgres.create_database(name)
    return name
