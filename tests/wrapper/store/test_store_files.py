"""Bad SQLite files: a clear error naming the file, and nothing overwritten."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ei_usage import ComputeTime, DateRange
from ei_usage.store import Store, StoreError


def stored(path: Path) -> None:
    from datetime import timedelta

    with Store.open(path) as store:
        store.save_compute_time(
            [ComputeTime(1, 2, DateRange.month(2024, 1), timedelta(1), timedelta(0), timedelta(1))],
            every="month",
            fetched_at=datetime(2024, 6, 1, tzinfo=UTC),
        )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"name,usage\nacme,12\n" * 100, id="csv"),
        pytest.param(b"\x00\xff" * 4096, id="binary"),
        pytest.param(b"SQLite format 3\x00" + b"\x13" * 8000, id="corrupt-header"),
    ],
)
def test_a_file_that_is_not_a_store_is_named_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(content)
    before = snapshot(tmp_path)
    with pytest.raises(StoreError) as raised:
        Store.open(path)
    assert str(path) in str(raised.value)
    assert "left as it is" in str(raised.value) or "not" in str(raised.value)
    assert snapshot(tmp_path) == before


def test_a_store_with_a_corrupted_page_is_named(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    stored(path)
    data = bytearray(path.read_bytes())
    # Trash every page after the first (the schema stays readable; the tables do not).
    for offset in range(4096, len(data)):
        data[offset] = 0x5A
    path.write_bytes(bytes(data))
    before = snapshot(tmp_path)
    with pytest.raises(StoreError) as raised, Store.open(path) as store:
        store.monthly_compute_time(1)
    assert str(path) in str(raised.value)
    assert snapshot(tmp_path) == before


def test_a_sqlite_database_of_something_else_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="not an ei-usage store") as raised:
        Store.open(path)
    assert str(path) in str(raised.value)
    assert snapshot(tmp_path) == before


def test_a_missing_store_is_not_created_for_reading(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at") as raised:
        Store.open(tmp_path / "nowhere.sqlite3", create=False)
    assert "nowhere.sqlite3" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store.open(tmp_path)


def test_the_default_location_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("EI_USAGE_DB", raising=False)
    with Store.open() as store:
        assert store.name == str(tmp_path / "data" / "ei-usage" / "history.sqlite3")
    monkeypatch.setenv("EI_USAGE_DB", str(tmp_path / "env.sqlite3"))
    with Store.open() as store:
        assert store.name == str(tmp_path / "env.sqlite3")
    assert (tmp_path / "env.sqlite3").exists()


def test_a_url_is_shown_without_its_password() -> None:
    with pytest.raises(StoreError) as raised:
        Store.open("postgresql://user:s3cret@127.0.0.1:1/nothing")
    assert "s3cret" not in str(raised.value)
    assert "postgresql://user:***@127.0.0.1:1/nothing" in str(raised.value)


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(StoreError, match="postgresql:// URL"):
        Store.open("mysql://localhost/x")


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` (a file or directory) read-only, even to root.

    Root ignores permission bits, so as root the file is made immutable (``chattr +i``, which
    binds root too) instead; skipped, saying why, where the filesystem has no such flag.
    """
    mode = path.stat().st_mode
    if os.geteuid() != 0:
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip(
            "running as root (which ignores permissions) and no chattr to make it immutable"
        )
    made = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False, timeout=30)
    if made.returncode != 0:
        pytest.skip(
            "running as root (which ignores permissions) on a filesystem without chattr +i: "
            f"{made.stderr!r}"
        )
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True, timeout=30)


def test_a_read_only_store_file_is_named_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    stored(path)
    before = snapshot(tmp_path)
    with read_only(path):
        with pytest.raises(StoreError) as raised, Store.open(path) as store:
            store.begin_sync(1, started_at=datetime.now(UTC))
        assert str(path) in str(raised.value)
        assert "read-only" in str(raised.value)
    assert snapshot(tmp_path)["history.sqlite3"] == before["history.sqlite3"]


def test_a_read_only_directory_is_named(tmp_path: Path) -> None:
    directory = tmp_path / "locked"
    directory.mkdir()
    path = directory / "history.sqlite3"
    with read_only(directory):
        with pytest.raises(StoreError) as raised:
            Store.open(path)
        assert str(path) in str(raised.value)
        assert list(directory.iterdir()) == []
