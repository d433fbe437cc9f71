"""Per-call overhead: N sequential ``compute_time`` calls versus N raw httpx GETs.

Run by ``bench/run.py`` in a child process of the project venv, against a simulator in another
process (no added latency). In each round both clients are open and connected, and the N calls
of each side are timed in blocks of B, alternating sides block by block in ABBA order (wrapper,
raw, raw, wrapper...). On a shared machine the speed drifts within a fraction of a second;
timing whole rounds of one side after the other let that drift land on one side only, and the
per-round ratios spread by about +-20%. Blocks of a few milliseconds put both sides through the
same drift. Prints one JSON line: seconds per call of every round, per side.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import TYPE_CHECKING, Any

import httpx

from _common import API_KEY, FIRST_INNER_ID, ORGANIZATION_ID, emit, month_bounds, month_label
from ei_usage import AsyncClient, Client

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

YEAR = 2024
Plan = list[tuple[int, int]]


def _plan(n: int) -> Plan:
    """(inner organization, month index 0..11) of each call: both sides do the same requests."""
    return [(FIRST_INNER_ID + i % 10, i % 12) for i in range(n)]


def _blocks(plan: Plan, size: int) -> list[Plan]:
    return [plan[i : i + size] for i in range(0, len(plan), size)]


def _raw_url(base_url: str, inner: int, bounds: tuple[str, str]) -> str:
    return (
        f"{base_url}/api/organizations/{ORGANIZATION_ID}/whitelabel/organizations/{inner}"
        f"/usage/computeTime?startDate={bounds[0]}&endDate={bounds[1]}"
    )


def _order(index: int) -> tuple[int, int]:
    """ABBA: which side runs first alternates, so neither always follows the other."""
    return (0, 1) if index % 2 == 0 else (1, 0)


def sync_round(base_url: str, plan: Plan, block: int) -> tuple[float, float]:
    """Time ``Client.compute_time`` and raw ``httpx.Client.get`` + ``.json()``, interleaved.

    Returns seconds per call: (wrapper, raw).
    """
    labels = [month_label(YEAR, 1, m) for m in range(12)]
    bounds = month_bounds(YEAR, 1, 12)
    with (
        Client(API_KEY, base_url=base_url) as client,
        httpx.Client(headers={"x-api-key": API_KEY}) as http,
    ):

        def wrapper(calls: Plan) -> float:
            start = time.perf_counter()
            for inner, month in calls:
                client.compute_time(ORGANIZATION_ID, inner, labels[month])
            return time.perf_counter() - start

        def raw(calls: Plan) -> float:
            start = time.perf_counter()
            for inner, month in calls:
                http.get(_raw_url(base_url, inner, bounds[month])).json()
            return time.perf_counter() - start

        sides: tuple[Callable[[Plan], float], ...] = (wrapper, raw)
        for side in sides:  # connect
            side(plan[:1])
        gc.collect()
        totals = [0.0, 0.0]
        for index, calls in enumerate(_blocks(plan, block)):
            for which in _order(index):
                totals[which] += sides[which](calls)
    return totals[0] / len(plan), totals[1] / len(plan)


async def _async_round(base_url: str, plan: Plan, block: int) -> tuple[float, float]:
    labels = [month_label(YEAR, 1, m) for m in range(12)]
    bounds = month_bounds(YEAR, 1, 12)
    async with (
        AsyncClient(API_KEY, base_url=base_url) as client,
        httpx.AsyncClient(headers={"x-api-key": API_KEY}) as http,
    ):

        async def wrapper(calls: Plan) -> float:
            start = time.perf_counter()
            for inner, month in calls:
                await client.compute_time(ORGANIZATION_ID, inner, labels[month])
            return time.perf_counter() - start

        async def raw(calls: Plan) -> float:
            start = time.perf_counter()
            for inner, month in calls:
                (await http.get(_raw_url(base_url, inner, bounds[month]))).json()
            return time.perf_counter() - start

        sides: tuple[Callable[[Plan], Awaitable[float]], ...] = (wrapper, raw)
        for side in sides:  # connect
            await side(plan[:1])
        gc.collect()
        totals = [0.0, 0.0]
        for index, calls in enumerate(_blocks(plan, block)):
            for which in _order(index):
                totals[which] += await sides[which](calls)
    return totals[0] / len(plan), totals[1] / len(plan)


def async_round(base_url: str, plan: Plan, block: int) -> tuple[float, float]:
    """Time sequential awaits of ``AsyncClient.compute_time`` and raw ``httpx.AsyncClient.get``.

    Returns seconds per call: (wrapper, raw).
    """
    return asyncio.run(_async_round(base_url, plan, block))


def main() -> None:
    """Run the rounds and print the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--calls", type=int, default=300, help="calls per round and side")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--block", type=int, default=20, help="calls per timed block")
    args = parser.parse_args()

    plan = _plan(args.calls)
    modes = {"sync": sync_round, "async": async_round}
    warm_up = plan[:40]
    for run in modes.values():  # warm up: imports, lazy names, first connections
        run(args.base_url, warm_up, args.block)
    results: dict[str, Any] = {
        f"{mode}_{side}": [] for mode in modes for side in ("wrapper", "raw")
    }
    for _ in range(args.rounds):
        for mode, run in modes.items():
            wrapper_s, raw_s = run(args.base_url, plan, args.block)
            results[f"{mode}_wrapper"].append(wrapper_s)
            results[f"{mode}_raw"].append(raw_s)
    results["calls"] = args.calls
    results["block"] = args.block
    # Every request the simulator served (each round also connects each side with one call):
    # run.py divides the simulator's CPU time by it.
    per_round = 2 * (1 + len(plan))
    results["requests_served"] = len(modes) * (2 * (1 + len(warm_up)) + args.rounds * per_round)
    emit(results)


if __name__ == "__main__":
    main()
