"""Per-call overhead: N sequential ``compute_time`` calls versus N raw httpx GETs.

Run by ``bench/run.py`` in a child process of the project venv, against a simulator in another
process (no added latency). Each round times N calls of one side on a fresh, already-connected
client; the sides alternate round by round (wrapper, raw, wrapper, raw...), sync then async.
Prints one JSON line: seconds per call of every round, per side.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

import httpx

from _common import API_KEY, FIRST_INNER_ID, ORGANIZATION_ID, emit, month_bounds, month_label
from ei_usage import AsyncClient, Client

YEAR = 2024


def _plan(n: int) -> list[tuple[int, int]]:
    """(inner organization, month index 0..11) of each call: both sides do the same requests."""
    return [(FIRST_INNER_ID + i % 10, i % 12) for i in range(n)]


def sync_wrapper(base_url: str, plan: list[tuple[int, int]]) -> float:
    """Time ``Client.compute_time`` over the plan; seconds per call."""
    labels = [month_label(YEAR, 1, m) for m in range(12)]
    with Client(API_KEY, base_url=base_url) as client:
        client.compute_time(ORGANIZATION_ID, FIRST_INNER_ID, labels[0])  # connect
        gc.collect()
        start = time.perf_counter()
        for inner, month in plan:
            client.compute_time(ORGANIZATION_ID, inner, labels[month])
        elapsed = time.perf_counter() - start
    return elapsed / len(plan)


def _raw_url(base_url: str, inner: int, bounds: tuple[str, str]) -> str:
    return (
        f"{base_url}/api/organizations/{ORGANIZATION_ID}/whitelabel/organizations/{inner}"
        f"/usage/computeTime?startDate={bounds[0]}&endDate={bounds[1]}"
    )


def sync_raw(base_url: str, plan: list[tuple[int, int]]) -> float:
    """Time raw ``httpx.Client.get`` + ``.json()`` over the plan; seconds per call."""
    bounds = month_bounds(YEAR, 1, 12)
    with httpx.Client(headers={"x-api-key": API_KEY}) as http:
        http.get(_raw_url(base_url, FIRST_INNER_ID, bounds[0])).json()  # connect
        gc.collect()
        start = time.perf_counter()
        for inner, month in plan:
            http.get(_raw_url(base_url, inner, bounds[month])).json()
        elapsed = time.perf_counter() - start
    return elapsed / len(plan)


async def _async_wrapper(base_url: str, plan: list[tuple[int, int]]) -> float:
    labels = [month_label(YEAR, 1, m) for m in range(12)]
    async with AsyncClient(API_KEY, base_url=base_url) as client:
        await client.compute_time(ORGANIZATION_ID, FIRST_INNER_ID, labels[0])  # connect
        gc.collect()
        start = time.perf_counter()
        for inner, month in plan:
            await client.compute_time(ORGANIZATION_ID, inner, labels[month])
        elapsed = time.perf_counter() - start
    return elapsed / len(plan)


async def _async_raw(base_url: str, plan: list[tuple[int, int]]) -> float:
    bounds = month_bounds(YEAR, 1, 12)
    async with httpx.AsyncClient(headers={"x-api-key": API_KEY}) as http:
        (await http.get(_raw_url(base_url, FIRST_INNER_ID, bounds[0]))).json()  # connect
        gc.collect()
        start = time.perf_counter()
        for inner, month in plan:
            (await http.get(_raw_url(base_url, inner, bounds[month]))).json()
        elapsed = time.perf_counter() - start
    return elapsed / len(plan)


def async_wrapper(base_url: str, plan: list[tuple[int, int]]) -> float:
    """Time sequential awaits of ``AsyncClient.compute_time``; seconds per call."""
    return asyncio.run(_async_wrapper(base_url, plan))


def async_raw(base_url: str, plan: list[tuple[int, int]]) -> float:
    """Time sequential awaits of raw ``httpx.AsyncClient.get`` + ``.json()``; seconds per call."""
    return asyncio.run(_async_raw(base_url, plan))


SIDES = {
    "sync_wrapper": sync_wrapper,
    "sync_raw": sync_raw,
    "async_wrapper": async_wrapper,
    "async_raw": async_raw,
}


def main() -> None:
    """Run the rounds and print the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    plan = _plan(args.calls)
    for side in SIDES.values():  # warm up: imports, lazy names, first connections
        side(args.base_url, plan[:20])
    results: dict[str, Any] = {name: [] for name in SIDES}
    for _ in range(args.rounds):
        for name, side in SIDES.items():  # A B A B: drift hits both sides alike
            results[name].append(side(args.base_url, plan))
    results["calls"] = args.calls
    emit(results)


if __name__ == "__main__":
    main()
