"""The history store: warm reports, a cold sync against the rate limit, a big store's history.

Usage::

    .venv/bin/python bench/store.py [--quick]

Prints markdown rows (recorded by hand in ``bench/RESULTS.md``, History, "0.3.0: the history
store"). FakeStudio runs in a thread of this process (loopback); every measured command runs in
a fresh child process, end to end (interpreter start and imports included), with byte code
cached (``PYTHONPYCACHEPREFIX``) and warmed by a first untimed run.

1. Cold ``ei-usage sync`` of 250 inner organizations x 12 closed months (2024) against a rate
   limit of 20 requests per second (burst 20, 50 ms latency, concurrency 32): the floor is every
   request the sync must send (two listings, organization info of each, 3,000 months) at 20 per
   second; the target is within 1.10x of it.
2. The same 250 x 12 monthly report with the store warm (``compute_time_report(store=...)`` in a
   fresh process): 0 requests (every month is closed and stored); target < 2 s end to end.
3. A store of 250 organizations x 5 years of months and 2 years of daily contract snapshots:
   the ``history`` query (read, roll up, render JSON) in process, target < 0.5 s; the file size;
   ``ei-usage history`` end to end, informational.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import API_KEY, child_env

ORGANIZATIONS = 250
PYTHON = sys.executable


def run(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a child to its end; return its wall time and what it printed."""
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done


WARM_REPORT = """
import sys, time
from ei_usage import Client
from ei_usage.store import Store
with Store.open(sys.argv[1]) as store, Client.from_env() as client:
    start = time.perf_counter()
    report = client.compute_time_report(1, range(2, 252), sys.argv[2], store=store, concurrency=32)
    print(time.perf_counter() - start, len(report.rows), len(report.from_store))
"""


def sync_rows(quick: bool) -> list[str]:
    """Cold sync against the rate limit, the warm report, a second sync."""
    from ei_usage.testing import FakeStudio

    rows = []
    months = 3 if quick else 12
    until = f"2024-{months:02d}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeStudio(
            api_key=API_KEY,
            inner_organizations=ORGANIZATIONS,
            rate_limit=20,
            burst=20,
            latency=0.05,
            record_requests=False,
        ) as studio,
    ):
        env = child_env({"EI_API_KEY": API_KEY, "EI_BASE_URL": studio.base_url})
        db = str(Path(tmp) / "history.sqlite3")
        command = [
            PYTHON,
            "-m",
            "ei_usage.cli",
            "sync",
            "--org",
            "1",
            "--since",
            "2024-01",
            "--until",
            until,
            "--db",
            db,
            "--concurrency",
            "32",
        ]
        run([PYTHON, "-c", "import ei_usage.store, ei_usage.cli._app"], env)  # warm byte code
        time.sleep(2)  # a full bucket
        studio.reset()
        cold, done = run(command, env)
        served = studio.request_count
        throttled = studio.rate_limited_count
        needed = served - throttled
        floor = needed / 20
        rows.append(
            f"| store: cold sync, {ORGANIZATIONS} orgs x {months} months, 20 req/s (burst 20), "
            f"50 ms latency, concurrency 32 | `ei-usage sync` end to end | {cold:.1f} s | "
            f"floor {needed:,} requests / 20 per s = {floor:.1f} s: {cold / floor:.3f}x | "
            f"≤ 1.10x | {'yes' if cold / floor <= 1.10 else 'NO'} |"
        )
        rows.append(
            f"| store: cold sync | 429 answers | {throttled:,} of {served:,} | "
            f"{throttled / served:.1%} | informational | — |"
        )
        time.sleep(2)
        studio.reset()
        times = []
        for _ in range(3):
            wall, done = run([PYTHON, "-c", WARM_REPORT, db, f"2024-01..{until}"], env)
            inner, total, from_store = done.stdout.split()
            times.append(wall)
            assert int(total) == int(from_store) == ORGANIZATIONS * months, done.stdout
        warm = statistics.median(times)
        rows.append(
            f"| store: warm monthly report, {ORGANIZATIONS} orgs x {months} months | "
            f"`compute_time_report(store=...)`, fresh process end to end (median of 3; the call "
            f"alone {float(inner):.2f} s) | {warm:.2f} s | {studio.request_count} requests "
            f"(cold: {ORGANIZATIONS * months:,}, {ORGANIZATIONS * months / 20:.0f} s at 20 req/s)"
            f" | < 2 s, 0 requests | {'yes' if warm < 2 and studio.request_count == 0 else 'NO'} |"
        )
        time.sleep(2)
        studio.reset()
        again, done = run(command, env)
        rows.append(
            f"| store: second sync (closed months stored) | `ei-usage sync` end to end | "
            f"{again:.1f} s | {studio.request_count - studio.rate_limited_count:,} requests "
            f"(listing and a contract snapshot each; 0 of compute time) | informational | — |"
        )
    return rows


def warm_rows() -> list[str]:
    """The warm report alone, on a store filled by a sync without a rate limit (fast)."""
    from ei_usage.testing import FakeStudio

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeStudio(
            api_key=API_KEY, inner_organizations=ORGANIZATIONS, record_requests=False
        ) as studio,
    ):
        env = child_env({"EI_API_KEY": API_KEY, "EI_BASE_URL": studio.base_url})
        db = str(Path(tmp) / "history.sqlite3")
        run(
            [
                PYTHON,
                "-m",
                "ei_usage.cli",
                "sync",
                "--org",
                "1",
                "--since",
                "2024-01",
                "--until",
                "2024-12",
                "--db",
                db,
                "--concurrency",
                "32",
            ],
            env,
        )
        run([PYTHON, "-c", WARM_REPORT, db, "2024"], env)  # warm byte code
        studio.reset()
        times, calls = [], []
        for _ in range(5):
            wall, done = run([PYTHON, "-c", WARM_REPORT, db, "2024"], env)
            call, total, from_store = done.stdout.split()
            assert int(total) == int(from_store) == ORGANIZATIONS * 12, done.stdout
            times.append(wall)
            calls.append(float(call))
        warm = statistics.median(times)
        return [
            f"| store: warm monthly report, {ORGANIZATIONS} orgs x 12 months | "
            f"`compute_time_report(store=...)`, fresh process end to end (median of 5, min "
            f"{min(times):.2f}, max {max(times):.2f}; the call alone {statistics.median(calls):.2f}"
            f" s) | {warm:.2f} s | {studio.request_count} requests (cold: 3,000, 150 s at 20 "
            f"req/s) | < 2 s, 0 requests | "
            f"{'yes' if warm < 2 and studio.request_count == 0 else 'NO'} |"
        ]


def big_store(path: Path, years: int, days: int) -> float:
    """Fill a store of 250 organizations; return how long it took."""
    from ei_usage import (
        ComputeTime,
        DateRange,
        Entitlements,
        InnerOrganization,
        InnerOrganizationUsage,
    )
    from ei_usage.store import Store

    start = time.perf_counter()
    first = 2021
    months = DateRange(
        datetime(first, 1, 1, tzinfo=UTC), datetime(first + years, 1, 1, tzinfo=UTC)
    ).split("month")
    fetched = datetime(first + years, 2, 1, tzinfo=UTC)
    limits = Entitlements(compute_time_per_year=timedelta(hours=1000))
    with Store.open(path) as store:
        store.record_listing(
            1,
            [
                InnerOrganization(
                    i, f"Org {i}", datetime(2020, 1, 1, tzinfo=UTC), True, 1, 0, limits
                )
                for i in range(2, 2 + ORGANIZATIONS)
            ],
            fetched,
        )
        for inner in range(2, 2 + ORGANIZATIONS):
            store.save_compute_time(
                [
                    # Fractional seconds, as the API sends them (a whole number converts faster).
                    ComputeTime(
                        1,
                        inner,
                        month,
                        timedelta(seconds=3600.123457 + inner * index),
                        timedelta(seconds=60.5 * index + 0.25),
                        timedelta(minutes=61.002058 + index),
                    )
                    for index, month in enumerate(months)
                ],
                every="month",
                fetched_at=fetched,
            )
        for day in range(days):
            at = fetched - timedelta(days=days - day)
            store.record_contracts(
                [
                    InnerOrganizationUsage(
                        1,
                        inner,
                        timedelta(seconds=100 * day + inner),
                        timedelta(seconds=10 * day),
                        timedelta(minutes=2 * day),
                        datetime(at.year, 1, 1, tzinfo=UTC),
                        10**9,
                        True,
                        limits,
                    )
                    for inner in range(2, 2 + ORGANIZATIONS)
                ],
                at,
            )
    return time.perf_counter() - start


HISTORY_QUERY = """
import io, sys, time
from ei_usage import Unit
from ei_usage.cli import _history
from ei_usage.store import Store
times, snapshot_times, all_times = [], [], []
for _ in range(5):
    start = time.perf_counter()
    with Store.open(sys.argv[1], create=False) as store:
        monthly = store.monthly_compute_time(1)
        _history.render(1, monthly, "month", Unit.MINUTES, "json", io.StringIO(), store_name="x")
    times.append(time.perf_counter() - start)
    start = time.perf_counter()
    with Store.open(sys.argv[1], create=False) as store:
        since = store.latest_contracts(1)[2].contract_since
        running = store.contract_snapshots(1, since=since)
    snapshot_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    with Store.open(sys.argv[1], create=False) as store:
        snapshots = store.contract_snapshots(1)
    all_times.append(time.perf_counter() - start)
times.sort(); snapshot_times.sort(); all_times.sort()
print(times[2], times[0], times[-1], snapshot_times[2], sum(len(s) for s in snapshots.values()),
      sum(len(r) for r in monthly.values()), all_times[2], sum(len(s) for s in running.values()))
"""


def history_rows(quick: bool) -> list[str]:
    """The big store's history query, snapshot reads and file size."""
    rows = []
    years, days = (1, 30) if quick else (5, 730)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.sqlite3"
        built = big_store(path, years, days)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        env = child_env()
        run([PYTHON, "-c", HISTORY_QUERY, str(path)], env)  # warm byte code
        _, done = run([PYTHON, "-c", HISTORY_QUERY, str(path)], env)
        median, low, high, snapshots, count, month_rows, all_read, running = done.stdout.split()
        rows.append(
            f"| store: {ORGANIZATIONS} orgs x {years} years of months + {days} days of contract "
            f"snapshots ({int(month_rows):,} month rows, {int(count):,} snapshots) | history "
            f"query: open, read, roll up, render JSON (median of 5, in process) | "
            f"{float(median) * 1000:.0f} ms (min {float(low) * 1000:.0f}, max "
            f"{float(high) * 1000:.0f}) | — | < 0.5 s | {'yes' if float(median) < 0.5 else 'NO'} |"
        )
        rows.append(
            f"| store: the same | the running contract's snapshots ({int(running):,}, a "
            f"forecast's input: `latest_contracts` + `contract_snapshots(since=)`), in process | "
            f"{float(snapshots) * 1000:.0f} ms | — | informational | — |"
        )
        rows.append(
            f"| store: the same | all {int(count):,} snapshots read, in process | "
            f"{float(all_read) * 1000:.0f} ms | — | informational | — |"
        )
        rows.append(
            f"| store: the same | SQLite file size (WAL checkpointed) | {size / 2**20:.1f} MiB | "
            f"built in {built:.0f} s | stated | — |"
        )
        times = []
        for _ in range(3):
            wall, _ = run(
                [
                    PYTHON,
                    "-m",
                    "ei_usage.cli",
                    "history",
                    "--org",
                    "1",
                    "--db",
                    str(path),
                    "--format",
                    "json",
                ],
                env,
            )
            times.append(wall)
        rows.append(
            f"| store: the same | `ei-usage history --format json` end to end, fresh process "
            f"(median of 3) | {statistics.median(times):.2f} s | — | informational | — |"
        )
    return rows


def main() -> int:
    """Run the sections asked for and print their rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes")
    parser.add_argument("--only", choices=["sync", "history", "warm"])
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", file=sys.stderr)
    rows = []
    if args.only in (None, "history"):
        rows += history_rows(args.quick)
        print("\n".join(rows), flush=True)
    if args.only == "warm":
        print("\n".join(warm_rows()), flush=True)
    if args.only in (None, "sync"):
        more = sync_rows(args.quick)
        print("\n".join(more), flush=True)
    print(f"load average at end: {os.getloadavg()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
