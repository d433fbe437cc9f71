"""Syncs that are killed, interrupted, run twice at once, or lose their database mid-way."""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ei_usage import Client, DateRange
from ei_usage.store import Store, StoreError, sync
from ei_usage.testing import FakeStudio, Operation

from .postgres import PostgresServer, server_binaries

KEY = "ei_kill_test_key"
INNER = 3
PERIOD = DateRange.parse("2023-01..2024-12")
EXPECTED = {(inner, piece) for inner in range(2, 2 + INNER) for piece in PERIOD.split("month")}
TIMEOUT = 60


@pytest.fixture(scope="module", autouse=True)
def bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Let the many subprocesses share compiled bytecode (make test sets PYTHONDONTWRITEBYTECODE).

    Without it every process compiles SQLAlchemy again: seconds each.
    """
    global _PYCACHE
    _PYCACHE = str(tmp_path_factory.mktemp("pycache"))
    yield
    _PYCACHE = None


_PYCACHE: str | None = None


def start_sync(studio: FakeStudio, db: Path, *extra: str) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("EI_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update({"EI_API_KEY": KEY, "EI_BASE_URL": studio.base_url})
    if _PYCACHE is not None:
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ei_usage.cli",
            "sync",
            "--org",
            "1",
            "--since",
            "2023-01",
            "--until",
            "2024-12",
            "--db",
            str(db),
            "--concurrency",
            "2",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored_keys(db: Path) -> list[tuple[int, DateRange]]:
    with Store.open(db) as store:
        return [
            (inner, row.period)
            for inner, rows in store.monthly_compute_time(1).items()
            for row in rows
        ]


def check_complete(studio: FakeStudio, db: Path) -> None:
    """Every expected row once, equal to the truth; a sound file."""
    with Store.open(db) as store:
        months = store.monthly_compute_time(1)
        keys = [(inner, row.period) for inner, rows in months.items() for row in rows]
        assert len(keys) == len(set(keys)) == len(EXPECTED)
        assert set(keys) == EXPECTED
        for inner, rows in months.items():
            for row in rows:
                cpu_us, gpu_us = studio.usage(inner, row.period.start, row.period.end)
                assert (row.cpu, row.gpu) == (
                    timedelta(microseconds=cpu_us),
                    timedelta(microseconds=gpu_us),
                )
        assert len(store.organizations(1)) == INNER
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def fetched_reused(stdout: str) -> tuple[int, int]:
    found = re.search(r"compute time: ([\d,]+) fetched, ([\d,]+) reused", stdout)
    assert found, stdout
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


ALL_REQUESTS = 2 + INNER + len(EXPECTED)  # two listings, organization info, compute time


def kill_when(
    process: subprocess.Popen[str], studio: FakeStudio, requests: int, delay: float
) -> None:
    """SIGKILL ``process`` once the studio has seen ``requests`` requests, ``delay`` s after."""
    deadline = time.monotonic() + TIMEOUT
    while studio.request_count < requests and process.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError("the sync did not get that far")
        time.sleep(0.002)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)


def kill_and_resume(index: int, tmp_path: Path) -> tuple[int, int]:
    """Kill a sync at a random point, rerun it, and check the store; return where and what."""
    rng = random.Random(index)
    # Some kills land before any request (imports, creating the schema), the others anywhere
    # from the listing to the last compute-time answer.
    requests = 0 if index % 5 == 0 else rng.randint(1, ALL_REQUESTS)
    delay = rng.uniform(0, 0.6) if requests == 0 else rng.uniform(0, 0.02)
    db = tmp_path / f"run{index}.sqlite3"
    with FakeStudio(api_key=KEY, inner_organizations=INNER, latency=0.01) as studio:
        first = start_sync(studio, db)
        kill_when(first, studio, requests, delay)
        before = set(stored_keys(db)) if db.exists() else set()
        studio.reset()
        second = start_sync(studio, db)
        stdout, stderr = second.communicate(timeout=TIMEOUT)
        assert second.returncode == 0, stderr
        assert "Traceback" not in stderr
        fetched, reused = fetched_reused(stdout)
        # Nothing saved before the kill is fetched again, and everything else is.
        assert (fetched, reused) == (len(EXPECTED - before), len(before))
        asked = [r for r in studio.requests if r.operation is Operation.COMPUTE_TIME]
        assert len(asked) == fetched
        check_complete(studio, db)
    return requests, len(before)


def test_a_sync_killed_at_random_points_resumes_without_duplicates_or_losses(
    tmp_path: Path,
) -> None:
    runs = 20
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda i: kill_and_resume(i, tmp_path), range(runs)))
    # The kills landed at different points: before anything was saved, and part-way.
    saved = [count for _, count in outcomes]
    assert 0 in saved
    assert sum(0 < count < len(EXPECTED) for count in saved) >= 5, outcomes


def test_ctrl_c_saves_what_was_fetched_and_a_rerun_continues(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    with FakeStudio(api_key=KEY, inner_organizations=INNER, latency=0.05) as studio:
        first = start_sync(studio, db)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            # Wait until the first chunk is saved, then interrupt the second.
            if db.exists() and len(stored_keys(db)) > 0:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGINT)
        stdout, stderr = first.communicate(timeout=TIMEOUT)
        assert first.returncode == 130, stderr
        assert "PARTIAL" in stdout
        assert "Traceback" not in stderr
        before = set(stored_keys(db))
        assert 0 < len(before) < len(EXPECTED)
        second = start_sync(studio, db)
        stdout, stderr = second.communicate(timeout=TIMEOUT)
        assert second.returncode == 0, stderr
        assert fetched_reused(stdout) == (len(EXPECTED - before), len(before))
        check_complete(studio, db)
        with Store.open(db) as store:
            stops = [run.stop_reason for run in store.sync_runs(1)]
        assert stops == ["interrupted (Ctrl-C)", None]


def test_two_syncs_of_one_file_at_once_both_finish_correct(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    with FakeStudio(api_key=KEY, inner_organizations=INNER, latency=0.01) as studio:
        both = [start_sync(studio, db), start_sync(studio, db)]
        outcomes = [p.communicate(timeout=TIMEOUT) for p in both]
        for process, (_, stderr) in zip(both, outcomes, strict=True):
            assert process.returncode == 0, stderr
            assert "Traceback" not in stderr
        check_complete(studio, db)
        with Store.open(db) as store:
            runs = store.sync_runs(1)
        assert len(runs) == 2
        assert all(r.finished_at is not None for r in runs)


def hold_write_lock(db: Path, seconds: float, held: threading.Event) -> None:
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()


def test_a_writer_waits_for_another_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    Store.open(db).close()
    held = threading.Event()
    with FakeStudio(api_key=KEY, inner_organizations=INNER, latency=0.05) as studio:
        process = start_sync(studio, db)
        # Once the sync is talking to the API, another process takes the write lock a while.
        deadline = time.monotonic() + TIMEOUT
        while studio.request_count < 1 and time.monotonic() < deadline:
            time.sleep(0.002)
        holder = threading.Thread(target=hold_write_lock, args=(db, 1.5, held))
        holder.start()
        try:
            _stdout, stderr = process.communicate(timeout=TIMEOUT)
        finally:
            holder.join()
        assert process.returncode == 0, stderr
        check_complete(studio, db)
    assert re.search(
        r"waited \d+\.\d s in all for another process writing .*history\.sqlite3", stderr
    ), stderr


def test_a_writer_that_waits_longer_than_the_busy_timeout_gets_a_clear_error(
    tmp_path: Path,
) -> None:
    db = tmp_path / "history.sqlite3"
    held = threading.Event()
    with Store.open(db, busy_timeout=timedelta(seconds=0.2)) as store:
        holder = threading.Thread(target=hold_write_lock, args=(db, 1.5, held))
        holder.start()
        try:
            held.wait(TIMEOUT)
            with pytest.raises(StoreError, match="locked") as raised:
                store.begin_sync(1, started_at=datetime.now(UTC))
        finally:
            holder.join()
        assert str(db) in str(raised.value)
        assert store.sync_runs(1) == []


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own, which it stops and starts again."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binary (initdb, pg_ctl)")
    server = PostgresServer(binaries)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped by the test
            server.stop("immediate")
        server.remove()


def test_a_postgresql_that_goes_away_mid_sync_stops_it_clearly_and_it_resumes_later(
    own_postgres: PostgresServer,
) -> None:
    url = own_postgres.create_database()
    now = datetime(2025, 3, 15, tzinfo=UTC)
    with (
        FakeStudio(api_key=KEY, inner_organizations=INNER) as studio,
        Client(KEY, base_url=studio.base_url) as client,
    ):
        stopped = []

        def on_progress(done: int, total: int) -> None:
            # Part-way through the compute time: the database server goes away.
            if done >= 55 and not stopped:
                own_postgres.stop("immediate")
                stopped.append(done)

        with Store.open(url) as store:
            with pytest.raises(StoreError) as raised:
                sync(
                    client,
                    store,
                    1,
                    "2023-01",
                    until="2024-12",
                    on_progress=on_progress,
                    clock=lambda: now,
                )
            assert str(raised.value).startswith(f"store {url.split('?')[0]}")
            own_postgres.start()
            before = {
                (inner, row.period)
                for inner, rows in store.monthly_compute_time(1).items()
                for row in rows
            }
            assert 0 < len(before) < len(EXPECTED)
            studio.reset()
            resumed = sync(client, store, 1, "2023-01", until="2024-12", clock=lambda: now)
            assert resumed.ok
            assert (resumed.fetched, resumed.reused) == (len(EXPECTED - before), len(before))
            months = store.monthly_compute_time(1)
            keys = [(inner, row.period) for inner, rows in months.items() for row in rows]
            assert len(keys) == len(set(keys))
            assert set(keys) == EXPECTED
