"""A throwaway PostgreSQL server on 127.0.0.1 for the pipeline tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.local_servers import free_port

if t.TYPE_CHECKING:
    from collections.abc import Iterator

HOST = "127.0.0.1"
USER = "crescendo"
PASSWORD = "crescendo-test-password"
#: Where Debian's packages put the server binaries, off the PATH.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")


def find_initdb() -> Path | None:
    """Return the `initdb` on the PATH, else the newest of Debian's packages, else None."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path)
    candidates = sorted(DEBIAN_BINARIES.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return candidates[-1] if candidates else None


@dataclass(frozen=True)
class Postgres:
    """A running server: where it listens and who may log in."""

    port: int
    host: str = HOST
    user: str = USER
    password: str = PASSWORD

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[t.Any, ...]]:
        """Open an autocommit connection to `database`."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
        )

    def create_database(self, name: str) -> None:
        """Create an empty database (dropping any of that name)."""
        with self.connect() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def query(self, database: str, query: str, *params: t.Any) -> list[tuple[t.Any, ...]]:
        """Return every row of a query."""
        with self.connect(database) as connection:
            return connection.execute(query, params or None).fetchall()


@contextmanager
def running_postgres(initdb: Path) -> Iterator[Postgres]:
    """Initialise a cluster in a temporary directory, start it, yield it, then stop it.

    PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
    """
    as_server_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="crescendo-pg-"))
    data, log, password_file = home / "data", home / "server.log", home / "password"
    password_file.write_text(PASSWORD)
    if as_server_user:
        for path in (home, password_file):
            shutil.chown(path, "postgres", "postgres")

    def pg(program: str, *args: str | Path, check: bool = True) -> None:
        argv = [*as_server_user, str(initdb.with_name(program)), *map(str, args)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check and done.returncode:
            server_log = log.read_text() if log.exists() else ""
            msg = f"{program} failed ({done.returncode}): {done.stderr}{done.stdout}{server_log}"
            raise RuntimeError(msg)

    server = Postgres(port=free_port())
    options = (
        f"-c listen_addresses={HOST} -p {server.port} -k {home} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        pg(
            "initdb",
            *("-D", data, "-U", USER, "--pwfile", password_file, "--auth", "scram-sha-256"),
            *("-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"),
        )
        pg("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start")
        yield server
    finally:
        pg("pg_ctl", "-D", data, "-m", "immediate", "stop", check=False)
        shutil.rmtree(home, ignore_errors=True)
