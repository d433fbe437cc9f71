"""``ei-usage sync`` and ``ei-usage history`` against FakeStudio, in process."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ei_usage.testing import Operation

from .conftest import Cli, clean_environ


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "history.sqlite3")


def compute_requests(cli: Cli) -> int:
    return sum(r.operation is Operation.COMPUTE_TIME for r in cli.studio.requests)


def test_sync_twice_fetches_closed_months_once(cli: Cli, db: str) -> None:
    first = cli.invoke("sync", "--org", "1", "--since", "2024-01", "--until", "2024-12", "--db", db)
    assert first.code == 0, first.stderr
    assert "compute time: 120 fetched, 0 reused from the store" in first.stdout
    assert "organizations: 10 listed (1 deleted); contract snapshots: 9" in first.stdout
    assert db in first.stdout
    cli.studio.reset()
    second = cli.invoke(
        "sync", "--org", "1", "--since", "2024-01", "--until", "2024-12", "--db", db
    )
    assert second.code == 0, second.stderr
    assert "compute time: 0 fetched, 120 reused from the store" in second.stdout
    assert compute_requests(cli) == 0


def test_the_store_comes_from_ei_usage_db_too(cli: Cli, db: str) -> None:
    outcome = cli.invoke(
        "sync", "--org", "1", "--since", "2024-12", "--until", "2024-12", env={"EI_USAGE_DB": db}
    )
    assert outcome.code == 0, outcome.stderr
    assert Path(db).exists()


def test_refresh_fetches_again(cli: Cli, db: str) -> None:
    args = ("sync", "--org", "1", "--since", "2024-11", "--until", "2024-12", "--db", db)
    assert cli.invoke(*args).code == 0
    cli.studio.reset()
    outcome = cli.invoke(*args, "--refresh")
    assert outcome.code == 0
    assert "compute time: 20 fetched, 0 reused" in outcome.stdout
    assert compute_requests(cli) == 20


def test_settle_days_decides_what_is_closed(cli: Cli, db: str) -> None:
    # With a margin of 100,000 days nothing is ever closed: everything is fetched each time.
    args = (
        "sync",
        "--org",
        "1",
        "--since",
        "2024-12",
        "--until",
        "2024-12",
        "--db",
        db,
        "--settle-days",
        "100000",
    )
    assert cli.invoke(*args).code == 0
    assert "compute time: 10 fetched, 0 reused" in cli.invoke(*args).stdout


def test_sync_by_day(cli: Cli, db: str) -> None:
    outcome = cli.invoke(
        "sync",
        "--org",
        "1",
        "--since",
        "2024-02-01",
        "--until",
        "2024-02-03",
        "--every",
        "day",
        "--db",
        db,
    )
    assert outcome.code == 0, outcome.stderr
    assert "compute time: 30 fetched" in outcome.stdout


def test_sync_without_a_credential_is_exit_3_and_touches_no_store(cli: Cli, db: str) -> None:
    outcome = cli.invoke(
        "sync", "--org", "1", "--since", "2024-01", "--db", db, env={"EI_API_KEY": None}
    )
    assert outcome.code == 3
    assert not Path(db).exists()


def test_sync_refused_is_exit_3(cli: Cli, db: str) -> None:
    outcome = cli.invoke(
        "sync", "--org", "1", "--since", "2024-01", "--db", db, env={"EI_API_KEY": "wrong"}
    )
    assert outcome.code == 3, outcome.stderr


def test_sync_with_failures_is_exit_1_and_partial(cli: Cli, db: str) -> None:
    from ei_usage.testing import Fault

    cli.studio.inject(Fault.success_false("nope"), times=3, operation=Operation.COMPUTE_TIME)
    outcome = cli.invoke(
        "sync", "--org", "1", "--since", "2024-12", "--until", "2024-12", "--db", db
    )
    assert outcome.code == 1
    assert "PARTIAL" in outcome.stdout
    assert "3 failed" in outcome.stdout
    assert "nope" in outcome.stderr
    # The rerun fetches just those three.
    cli.studio.reset()
    again = cli.invoke("sync", "--org", "1", "--since", "2024-12", "--until", "2024-12", "--db", db)
    assert again.code == 0
    assert "compute time: 3 fetched, 7 reused" in again.stdout


def test_a_bad_store_is_a_clear_error_naming_it(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a database\n" * 100)
    outcome = cli.invoke("sync", "--org", "1", "--since", "2024-01", "--db", str(bad))
    assert outcome.code == 1
    assert str(bad) in outcome.stderr
    assert "not a readable SQLite store" in outcome.stderr
    assert bad.read_text() == "not a database\n" * 100
    history = cli.invoke("history", "--org", "1", "--db", str(bad))
    assert history.code == 1
    assert str(bad) in history.stderr


def test_a_since_after_until_is_a_usage_error(cli: Cli, db: str) -> None:
    outcome = cli.invoke(
        "sync", "--org", "1", "--since", "2024-05", "--until", "2024-01", "--db", db
    )
    assert outcome.code == 2
    assert "nothing to sync" in outcome.stderr


@pytest.fixture
def synced(cli: Cli, db: str) -> str:
    outcome = cli.invoke(
        "sync", "--org", "1", "--since", "2024-01", "--until", "2024-12", "--db", db
    )
    assert outcome.code == 0, outcome.stderr
    cli.studio.reset()
    return db


def test_history_needs_no_network_and_no_credential(cli: Cli, synced: str) -> None:
    outcome = cli.invoke(
        "history",
        "--org",
        "1",
        "--db",
        synced,
        env={"EI_API_KEY": None, "EI_BASE_URL": "http://127.0.0.1:9"},
    )
    assert outcome.code == 0, outcome.stderr
    assert cli.studio.requests == []
    assert "2024-12" in outcome.stdout
    assert "Change" in outcome.stdout
    assert "Quartz Logistics 2" in outcome.stdout


def test_history_json_has_month_over_month_change(cli: Cli, synced: str) -> None:
    outcome = cli.invoke(
        "history",
        "--org",
        "1",
        "--db",
        synced,
        "--format",
        "json",
        "--inner",
        "2",
        "--unit",
        "seconds",
    )
    assert outcome.code == 0, outcome.stderr
    document = json.loads(outcome.stdout)
    assert document["format"] == "ei-usage.history"
    assert document["unit"] == "seconds"
    rows = document["rows"]
    assert [r["period"] for r in rows] == [f"2024-{m:02d}" for m in range(1, 13)]
    assert {r["inner_organization_id"] for r in rows} == {2}
    assert rows[0]["change"] is None
    for before, after in itertools.pairwise(rows):
        assert after["change"] == pytest.approx(
            (after["total"] - before["total"]) / before["total"]
        )
    # The numbers are the API's, exactly.
    cpu_us, _ = cli.studio.usage(2, *_bounds("2024-03"))
    assert rows[2]["cpu"] == pytest.approx(cpu_us / 1e6)
    assert [r["period"] for r in document["overall"]] == [f"2024-{m:02d}" for m in range(1, 13)]


def _bounds(text: str) -> tuple[object, object]:
    from ei_usage import DateRange

    period = DateRange.parse(text)
    return period.start, period.end


def test_history_by_quarter_and_year(cli: Cli, synced: str) -> None:
    quarters = json.loads(
        cli.invoke(
            "history", "--org", "1", "--db", synced, "--format", "json", "--every", "quarter"
        ).stdout
    )
    assert [r["period"] for r in quarters["overall"]] == [f"2024-Q{q}" for q in range(1, 5)]
    assert all(r["months"] == 3 and r["complete"] for r in quarters["overall"])
    months = json.loads(
        cli.invoke("history", "--org", "1", "--db", synced, "--format", "json").stdout
    )
    q1 = sum(r["total"] for r in months["overall"][:3])
    assert quarters["overall"][0]["total"] == pytest.approx(q1)
    year = json.loads(
        cli.invoke(
            "history", "--org", "1", "--db", synced, "--format", "json", "--every", "year"
        ).stdout
    )
    assert len(year["overall"]) == 1
    assert year["overall"][0]["change"] is None


def test_history_csv_and_html(cli: Cli, synced: str) -> None:
    csv_out = cli.invoke("history", "--org", "1", "--db", synced, "--format", "csv")
    assert csv_out.code == 0
    lines = csv_out.stdout.splitlines()
    assert lines[0].startswith("kind,organization_id,inner_organization_id")
    assert len(lines) == 1 + 10 * 12 + 12
    html_out = cli.invoke("history", "--org", "1", "--db", synced, "--format", "html")
    assert html_out.code == 0
    assert html_out.stdout.startswith("<!DOCTYPE html>")
    assert "<svg" in html_out.stdout
    assert "2024-06" in html_out.stdout
    assert "Quartz Logistics 2" in html_out.stdout


def test_history_of_a_missing_store_says_to_sync_first(cli: Cli, tmp_path: Path) -> None:
    outcome = cli.invoke("history", "--org", "1", "--db", str(tmp_path / "none.sqlite3"))
    assert outcome.code == 1
    assert "run `ei-usage sync` first" in outcome.stderr
    assert not (tmp_path / "none.sqlite3").exists()


def test_history_of_an_organization_not_synced_says_so(cli: Cli, synced: str) -> None:
    outcome = cli.invoke("history", "--org", "7", "--db", synced)
    assert outcome.code == 0
    assert "no compute time of organization 7" in outcome.stderr


_WITHOUT_SQLALCHEMY = """
import sys
sys.modules["sqlalchemy"] = None  # as if the store extra were not installed
from ei_usage.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_the_store_extra_the_commands_say_what_to_install(db: str) -> None:
    for args in (["history", "--org", "1", "--db", db], ["sync", "--org", "1", "--since", "2024"]):
        result = subprocess.run(
            [sys.executable, "-c", _WITHOUT_SQLALCHEMY, *args],
            env={**clean_environ(), "EI_API_KEY": "k"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "pip install 'ei-usage[store]'" in result.stderr
        assert "Traceback" not in result.stderr


_IMPORTED = """
import sys
from ei_usage import Client
from ei_usage.cli._app import cli
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic")
               or m.startswith("ei_usage.store"))
print(" ".join(heavy))
"""


def test_the_client_and_the_other_commands_never_import_the_store() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED],
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
