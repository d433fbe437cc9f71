"""Per-call options and raw responses: what ``with_options`` and ``with_raw_response`` cost.

Usage::

    .venv/bin/python bench/options.py [--calls N] [--rounds R]     # make bench-options

Against the simulator in its own process (``bench/studio_server.py``, loopback, no added
latency), one sync ``Client`` makes sequential ``compute_time`` calls three ways, timed in
blocks of 20 that alternate in ABBA-like rotation within each round, so the machine's drift
hits every side alike:

* plain: ``client.compute_time(...)`` (the baseline);
* per-call options: ``client.with_options(timeout=10, headers={...}).compute_time(...)``, a
  derived client built for every call, the way the README shows it;
* raw: ``client.with_raw_response.compute_time(...)``.

The ratio is the median of the per-round ratios to the plain side. Connections: every side
uses the same client, so all must go over the one kept-alive connection of its pool; the pool's
connection count and the number of pools are printed (target: 1 and 1).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

from _common import API_KEY, FIRST_INNER_ID, ORGANIZATION_ID, Studio, month_label

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

YEAR = 2024
SIDES = ("plain", "with_options", "raw")


def _round(base_url: str, calls: int, block: int) -> tuple[dict[str, float], int, int]:
    import ei_usage._client as client_module
    from ei_usage import Client

    pools: list[httpx.Client] = []
    real = client_module.httpx.Client

    def counting(**kwargs: Any) -> httpx.Client:
        pools.append(real(**kwargs))
        return pools[-1]

    client_module.httpx.Client = counting  # type: ignore[misc]
    try:
        labels = [month_label(YEAR, 1, m) for m in range(12)]
        plan = [(FIRST_INNER_ID + i % 10, labels[i % 12]) for i in range(calls)]
        headers = {"x-bench": "1"}
        with Client(API_KEY, base_url=base_url) as client:

            def plain(part: list[tuple[int, str]]) -> float:
                start = time.perf_counter()
                for inner, label in part:
                    client.compute_time(ORGANIZATION_ID, inner, label)
                return time.perf_counter() - start

            def options(part: list[tuple[int, str]]) -> float:
                start = time.perf_counter()
                for inner, label in part:
                    client.with_options(timeout=10, headers=headers).compute_time(
                        ORGANIZATION_ID, inner, label
                    )
                return time.perf_counter() - start

            def raw(part: list[tuple[int, str]]) -> float:
                start = time.perf_counter()
                for inner, label in part:
                    client.with_raw_response.compute_time(ORGANIZATION_ID, inner, label).parse()
                return time.perf_counter() - start

            sides: dict[str, Callable[[list[tuple[int, str]]], float]] = {
                "plain": plain,
                "with_options": options,
                "raw": raw,
            }
            for side in sides.values():  # connect, warm the lazy names
                side(plan[:5])
            gc.collect()
            totals = dict.fromkeys(sides, 0.0)
            names = list(sides)
            for index, at in enumerate(range(0, calls, block)):
                part = plan[at : at + block]
                shift = index % len(names)
                order = names[shift:] + names[:shift]
                if index % 2:
                    order.reverse()
                for name in order:
                    totals[name] += sides[name](part)
            connections = len(client._client()._transport._pool.connections)  # type: ignore[attr-defined]
    finally:
        client_module.httpx.Client = real  # type: ignore[misc]
    return {name: total / calls for name, total in totals.items()}, connections, len(pools)


def main() -> None:
    """Run the rounds and print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300, help="calls per round and side")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--block", type=int, default=20)
    args = parser.parse_args()
    per_call: dict[str, list[float]] = {name: [] for name in SIDES}
    connections: set[int] = set()
    pools: set[int] = set()
    with Studio(latency=0.0, inner_count=10) as studio:
        _round(studio.base_url, 40, args.block)  # warm up
        for _ in range(args.rounds):
            seconds, open_connections, made = _round(studio.base_url, args.calls, args.block)
            for name in SIDES:
                per_call[name].append(seconds[name])
            connections.add(open_connections)
            pools.add(made)
    plain = per_call["plain"]

    def cell(values: list[float]) -> str:
        return (
            f"{statistics.median(values) * 1e6:.0f} µs | {min(values) * 1e6:.0f} µs | "
            f"{max(values) * 1e6:.0f} µs"
        )

    rows = [f"| plain `client.compute_time` (baseline) | {cell(plain)} | — |"]
    for name, label in (
        ("with_options", "`client.with_options(timeout=10, headers=...).compute_time`"),
        ("raw", "`client.with_raw_response.compute_time(...).parse()`"),
    ):
        ratios = [side / base for side, base in zip(per_call[name], plain, strict=True)]
        extra = statistics.median(
            [side - base for side, base in zip(per_call[name], plain, strict=True)]
        )
        rows.append(
            f"| {label} (+{extra * 1e6:.0f} µs/call) | {cell(per_call[name])} | "
            f"{statistics.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f}) plain |"
        )
    sys.stdout.write(
        f"{args.rounds} rounds of {args.calls} sequential calls per side, blocks of "
        f"{args.block}\n\n| subject | median | min | max | ratio |\n|---|--:|--:|--:|---|\n"
        + "\n".join(rows)
        + f"\n\nconnections in the pool after each round: {sorted(connections)}; "
        f"pools opened per round: {sorted(pools)}\n"
    )


if __name__ == "__main__":
    main()
