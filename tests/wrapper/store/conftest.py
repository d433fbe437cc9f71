"""Fixtures of the store tests: every store test runs on SQLite and on a real PostgreSQL.

The PostgreSQL server is started once per session in a temporary directory (see
:mod:`postgres`) and stopped at the end; each test gets a database of its own. The PostgreSQL
half of the suite skips, saying why, only when no server binary exists on this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .postgres import PostgresServer, server_binaries

NO_SERVER = (
    "no PostgreSQL server binary (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin: "
    "install Debian's postgresql package (.ci/run does)"
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(NO_SERVER)
    server = PostgresServer(binaries)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop("immediate")
        finally:
            server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store's location on each dialect."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()
