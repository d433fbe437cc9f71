"""A real PostgreSQL server for tests, started in a temporary directory on a Unix socket.

The server listens on no TCP address at all (``listen_addresses=''``), only on a socket in its
own directory. PostgreSQL refuses to run as root: as root (CI) it runs as the ``postgres`` user
(through ``runuser``, or ``su``) in a directory that user owns; as an ordinary user, directly.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

_DATABASES = itertools.count(1)


def server_binaries() -> Path | None:
    """Return the directory with initdb and pg_ctl, or None when there is none."""
    found = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(found):
        return Path(str(found[0])).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


class PostgresServer:
    """One server: ``start()``, ``url(database)``, ``create_database()``, ``stop()``."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.root = os.geteuid() == 0
        self.directory = Path(tempfile.mkdtemp(prefix="eiu-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        if self.root:
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.binaries / tool), *args]
        if not self.root:
            return command
        if shutil.which("runuser"):
            return ["runuser", "-u", "postgres", "--", *command]
        return ["su", "postgres", "-s", "/bin/sh", "-c", subprocess.list2cmdline(command)]

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            self._command(tool, *args), capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stdout}{result.stderr}{log}")

    def start(self) -> None:
        """Start (or restart) the server; returns when it accepts connections."""
        options = f"-k {self.directory} -c listen_addresses='' -c fsync=off -c max_connections=200"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL of ``database`` over the server's socket."""
        return f"postgresql://postgres@/{database}?host={self.directory}"

    def create_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"store_{os.getpid()}_{next(_DATABASES)}"
        with psycopg.connect(
            host=str(self.directory), user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def remove(self) -> None:
        """Delete the server's directory (stop it first)."""
        shutil.rmtree(self.directory, ignore_errors=True)
