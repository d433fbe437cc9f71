"""Forecast accuracy, backtested on FakeStudio's shaped history.

Usage::

    .venv/bin/python bench/forecast.py [--organizations 70]   # this section alone

``make bench`` runs the same section (``bench_forecast`` in ``run.py``). A FakeStudio with
``usage_shapes=True`` gives its inner organizations the shapes of real usage (flat, growth,
decline, a seasonal swing, a step, an idle month every August, a contract renewed mid-year for a
bigger plan), ten organizations per shape by default. For every month M from
``FIRST_STATE`` to ``LAST_STATE`` the state at the end of M is what a store would hold then: the
monthly compute time of the months from ``HISTORY_START`` to M and the contract usage as of the
first instant of M+1. ``forecast_usage`` predicts the compute of M+1, M+2 and M+3
(``Forecast.projected_between``); the actual is FakeStudio's exact usage. The error of a
prediction is ``|predicted - actual| / actual``; the mean over all (organization, M) pairs is the
MAPE of a horizon. Months with no usage at all (the idle Augusts) have no percentage error and
are left out, and counted. The baseline is the naive forecast "every next month = the last
full month" (the same value for all three horizons). No target: the numbers are stated as they
are.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

HISTORY_START = (2022, 1)  # the first month the shapes vary in
FIRST_STATE = (2023, 6)  # the earliest state forecast from has six months of history
LAST_STATE = (2026, 9)  # M+3 is December 2026, the last month the shapes vary in
HORIZONS = (1, 2, 3)
ORGANIZATIONS = 70
_US = timedelta(microseconds=1)


def _month(index: int) -> tuple[datetime, datetime]:
    start = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    following = index + 1
    return start, datetime(following // 12, following % 12 + 1, 1, tzinfo=UTC)


def _index(year_month: tuple[int, int]) -> int:
    return year_month[0] * 12 + year_month[1] - 1


def measure(organizations: int = ORGANIZATIONS) -> dict[str, Any]:
    """Backtest every state month for every shaped organization; return errors and counts."""
    from ei_usage import ComputeTime, DateRange, Entitlements, InnerOrganizationUsage
    from ei_usage.forecast import forecast_usage
    from ei_usage.testing import FakeStudio

    studio = FakeStudio(usage_shapes=True, inner_organizations=organizations)
    first, last = _index(FIRST_STATE), _index(LAST_STATE)
    history = _index(HISTORY_START)
    model: dict[tuple[str, int], list[float]] = defaultdict(list)
    naive: dict[tuple[str, int], list[float]] = defaultdict(list)
    idle_skipped: dict[str, int] = defaultdict(int)
    wins: dict[tuple[str, int], int] = defaultdict(int)
    seconds: list[float] = []
    inner = [o for o in studio.organizations.values() if o.usage_shape is not None]
    for organization in sorted(inner, key=lambda o: o.id):
        shape = str(organization.usage_shape)
        limits = organization.entitlements
        entitlements = Entitlements(
            compute_time_per_year=None
            if limits.compute_time_per_year_seconds is None
            else timedelta(seconds=limits.compute_time_per_year_seconds),
            gpu_compute_time_per_year=None
            if limits.gpu_compute_time_per_year_seconds is None
            else timedelta(seconds=limits.gpu_compute_time_per_year_seconds),
        )
        months: list[ComputeTime] = []
        actual: dict[int, int] = {}
        for index in range(history, last + max(HORIZONS) + 1):
            start, end = _month(index)
            cpu, gpu = studio.usage(organization.id, start, end)
            actual[index] = cpu + gpu
            months.append(
                ComputeTime(
                    1,
                    organization.id,
                    DateRange(start, end),
                    cpu=timedelta(microseconds=cpu),
                    gpu=timedelta(microseconds=gpu),
                    total=timedelta(microseconds=cpu + gpu),
                )
            )
        for state in range(first, last + 1):
            now = _month(state)[1]
            studio.set_now(now)
            cpu, gpu = studio.contract_usage(organization.id)
            info = studio.organization_info_body(organization.id, include_deleted=True)
            usage = InnerOrganizationUsage(
                organization_id=1,
                inner_organization_id=organization.id,
                cpu=timedelta(microseconds=cpu),
                gpu=timedelta(microseconds=gpu),
                total=timedelta(microseconds=cpu + gpu),
                contract_since=datetime.fromisoformat(str(info["computeTimeCurrentContractSince"])),
                storage_bytes=None,
                billable=None,
                entitlements=entitlements,
            )
            started = time.perf_counter()
            forecast = forecast_usage(usage, months[: state - history + 1], now=now)
            seconds.append(time.perf_counter() - started)
            last_month = actual[state]
            for horizon in HORIZONS:
                target = state + horizon
                truth = actual[target]
                if truth == 0:
                    idle_skipped[shape] += horizon == 1
                    continue
                predicted = forecast.projected_between(*_month(target))[0] // _US
                model_error = abs(predicted - truth) / truth
                naive_error = abs(last_month - truth) / truth
                model[shape, horizon].append(model_error)
                naive[shape, horizon].append(naive_error)
                wins[shape, horizon] += model_error < naive_error
    studio.set_now(None)
    return {
        "model": dict(model),
        "naive": dict(naive),
        "wins": dict(wins),
        "idle_skipped": dict(idle_skipped),
        "seconds": seconds,
        "organizations": len(inner),
        "states": last - first + 1,
    }


def table(result: dict[str, Any]) -> list[tuple[str, int, float, float, float, int]]:
    """Rows (shape or "all", horizon, model MAPE, naive MAPE, model wins share, predictions)."""
    rows = []
    shapes = sorted({shape for shape, _ in result["model"]})
    for shape in [*shapes, "all"]:
        for horizon in HORIZONS:
            keys = [(s, horizon) for s in shapes] if shape == "all" else [(shape, horizon)]
            model = [e for k in keys for e in result["model"][k]]
            naive = [e for k in keys for e in result["naive"][k]]
            wins = sum(result["wins"][k] for k in keys)
            rows.append(
                (
                    shape,
                    horizon,
                    statistics.fmean(model),
                    statistics.fmean(naive),
                    wins / len(model),
                    len(model),
                )
            )
    return rows


def main() -> int:
    """Run the backtest and print a Markdown table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--organizations", type=int, default=ORGANIZATIONS)
    args = parser.parse_args()
    started = time.perf_counter()
    result = measure(args.organizations)
    elapsed = time.perf_counter() - started
    print("| shape | horizon | forecast MAPE | naive MAPE | forecast closer | predictions |")
    print("| --- | --- | --- | --- | --- | --- |")
    for shape, horizon, model, naive, wins, count in table(result):
        print(f"| {shape} | M+{horizon} | {model:.1%} | {naive:.1%} | {wins:.0%} | {count:,} |")
    per_call = statistics.median(result["seconds"])
    print(
        f"\n{result['organizations']} organizations x {result['states']} states; "
        f"idle months left out (horizon 1): {result['idle_skipped']}; "
        f"forecast_usage median {per_call * 1e3:.2f} ms; total {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
