"""One bulk run against a rate-limited simulator, in its own process.

``--impl client``: ``AsyncClient.compute_time_report`` as installed; with ``EI_BENCH_BASELINE=1``
and the baseline's ``PYTHONPATH`` (see ``_common.baseline_env``), that is 0.1.0's code, where
every call retried on its own (``max_retries=3``, waiting out ``Retry-After`` per call).
``--impl raw``: raw ``httpx.AsyncClient`` with an ``asyncio.Semaphore``, each request retried the
way a hand-written loop would: on a 429, wait its ``Retry-After`` and try again, at most 3 times.

Prints one JSON line: seconds, rows that arrived, rows that failed, the 429 answers this side
saw, which ``ei_usage`` ran, and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
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

RETRIES = 3


async def client(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``AsyncClient.compute_time_report`` (the current code, or 0.1.0's)."""
    import ei_usage
    from ei_usage import AsyncClient

    year, month = args.first_month
    period = f"{month_label(year, month, 0)}..{month_label(year, month, args.months - 1)}"
    inner = range(FIRST_INNER_ID, FIRST_INNER_ID + args.inner_count)
    async with AsyncClient(API_KEY, base_url=args.base_url) as c:
        start = time.perf_counter()
        report = await c.compute_time_report(
            ORGANIZATION_ID, inner, period, every="month", concurrency=args.concurrency
        )
        elapsed = time.perf_counter() - start
        stats = getattr(c, "rate_stats", None)  # 0.1.0 had none
        throttles = stats().throttles if stats is not None else None
    return {
        "seconds": elapsed,
        "rows": len(report.rows),
        "failed": len(report.errors) + len(getattr(report, "not_attempted", ())),
        "throttles_seen": throttles,
        "ei_usage": ei_usage.__file__,
    }


async def raw(args: argparse.Namespace) -> dict[str, Any]:
    """The same requests with raw httpx, a semaphore and a per-request Retry-After loop."""
    import httpx

    year, month = args.first_month
    bounds = month_bounds(year, month, args.months)
    inner_ids = range(FIRST_INNER_ID, FIRST_INNER_ID + args.inner_count)
    semaphore = asyncio.Semaphore(args.concurrency)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"x-api-key": API_KEY, "accept": "application/json"}
    throttles = 0
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30.0) as http:

        async def one(inner: int, start_date: str, end_date: str) -> bool:
            nonlocal throttles
            url = (
                f"{args.base_url}/api/organizations/{ORGANIZATION_ID}/whitelabel/organizations/"
                f"{inner}/usage/computeTime?startDate={start_date}&endDate={end_date}"
            )
            for _ in range(RETRIES + 1):
                async with semaphore:
                    response = await http.get(url)
                if response.status_code != 429:
                    return response.status_code == 200
                throttles += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            return False

        start = time.perf_counter()
        results = await asyncio.gather(*(one(i, s, e) for i in inner_ids for s, e in bounds))
        elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "rows": sum(results),
        "failed": len(results) - sum(results),
        "throttles_seen": throttles,
        "ei_usage": None,
    }


def _month(text: str) -> tuple[int, int]:
    year, month = text.split("-")
    return int(year), int(month)


def main() -> None:
    """Run once and print the result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=("client", "raw"), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--inner-count", type=int, required=True)
    parser.add_argument("--months", type=int, required=True)
    parser.add_argument("--first-month", type=_month, default=(2020, 1))
    args = parser.parse_args()
    result = asyncio.run(client(args) if args.impl == "client" else raw(args))
    result["peak_rss_kib"] = peak_rss_kib()  # this process's own peak, imports included
    emit(result)


if __name__ == "__main__":
    main()
