"""One bulk report run, in its own process so its peak RSS is its own.

``--impl wrapper``: ``AsyncClient.compute_time_report`` over inner organizations x months.
``--impl raw``: the practical floor, the same requests with a raw ``httpx.AsyncClient`` and an
``asyncio.Semaphore``, each answer decoded with ``.json()`` and kept.

Prints one JSON line: the seconds the requests took (after one untimed request on each side),
the number of requests, this process's CPU seconds in that time, and its peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from typing import Any

from _common import (
    API_KEY,
    FIRST_INNER_ID,
    ORGANIZATION_ID,
    emit,
    month_bounds,
    month_label,
    peak_rss_kib,
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def wrapper(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``AsyncClient.compute_time_report``."""
    from ei_usage import AsyncClient  # only this side pays the import

    year, month = args.first_month
    period = f"{month_label(year, month, 0)}..{month_label(year, month, args.months - 1)}"
    inner = range(FIRST_INNER_ID, FIRST_INNER_ID + args.inner_count)
    async with AsyncClient(API_KEY, base_url=args.base_url) as client:
        # One untimed request, as on the raw side: the pool (and httpx's lazy import of
        # httpcore) opens now, not in the timed part.
        await client.compute_time(ORGANIZATION_ID, FIRST_INNER_ID, period.split("..")[0])
        cpu, start = _cpu(), time.perf_counter()
        report = await client.compute_time_report(
            ORGANIZATION_ID, inner, period, every="month", concurrency=args.concurrency
        )
        elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    expected = args.inner_count * args.months
    if not report.ok or len(report.rows) != expected:
        raise SystemExit(f"report has {len(report.rows)} rows of {expected}: {report.errors[:3]}")
    return {"seconds": elapsed, "requests": len(report.rows), "cpu_seconds": cpu}


async def raw(args: argparse.Namespace) -> dict[str, Any]:
    """Run the same requests with raw httpx and a semaphore."""
    import httpx

    year, month = args.first_month
    bounds = month_bounds(year, month, args.months)
    inner_ids = range(FIRST_INNER_ID, FIRST_INNER_ID + args.inner_count)
    semaphore = asyncio.Semaphore(args.concurrency)
    # The same pool size as the client's, so neither side reconnects during the run.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"x-api-key": API_KEY, "accept": "application/json"}
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30.0) as http:

        async def one(inner: int, start_date: str, end_date: str) -> Any:
            url = (
                f"{args.base_url}/api/organizations/{ORGANIZATION_ID}/whitelabel/organizations/"
                f"{inner}/usage/computeTime?startDate={start_date}&endDate={end_date}"
            )
            async with semaphore:
                response = await http.get(url)
            response.raise_for_status()
            return response.json()

        await one(FIRST_INNER_ID, *bounds[0])  # untimed: opens the pool, as on the wrapper side
        cpu, start = _cpu(), time.perf_counter()
        results = await asyncio.gather(*(one(i, s, e) for i in inner_ids for s, e in bounds))
        elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    if not all(r.get("success") for r in results):
        raise SystemExit("a raw request did not succeed")
    return {"seconds": elapsed, "requests": len(results), "cpu_seconds": cpu}


def _month(text: str) -> tuple[int, int]:
    year, month = text.split("-")
    return int(year), int(month)


def main() -> None:
    """Run once and print the result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=("wrapper", "raw"), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--inner-count", type=int, default=50)
    parser.add_argument("--months", type=int, default=40)
    parser.add_argument("--first-month", type=_month, default=(2021, 1))
    args = parser.parse_args()
    run = wrapper if args.impl == "wrapper" else raw
    result = asyncio.run(run(args))
    result["peak_rss_kib"] = peak_rss_kib()  # this process's own peak, imports included
    emit(result)


if __name__ == "__main__":
    main()
