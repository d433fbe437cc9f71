"""Run the ei-usage benchmarks and write ``bench/RESULTS.md``: ``make bench``.

Usage::

    .venv/bin/python bench/run.py [--quick] [--output PATH]

Six benchmarks, each figure the median (with min and max) of several runs, each comparison a
ratio measured in the same run with the two sides interleaved (A B A B ...):

1. import: fresh interpreters, ``import ei_usage`` vs ``import httpx`` vs ``import
   edgeimpulse_api`` (the official bindings, in ``bench/.venv-official``);
2. per-call overhead: sequential ``compute_time`` vs raw httpx GETs, sync and async;
3. bulk: ``AsyncClient.compute_time_report`` over 2,000 requests with 100 ms latency vs raw httpx
   with a semaphore and vs the ideal; the official bindings on a sample; peak RSS at 20,000
   requests vs 2,000;
4. rate limit: 3,000 requests against a simulator allowing 20 per second, adaptive rate control
   vs 0.1.0 (every call retrying on its own) vs raw httpx with a Retry-After loop;
5. hostile answers: time and memory of a client process given a 50 MiB body, a gzip bomb, a
   trickle;
6. regeneration: ``openapi/tools/generate.py --check``;
7. hostile listing: requests and time until ``inner_organizations`` ends against a listing whose
   ``total`` overstates, that ignores ``offset``, pages one organization at a time or keeps
   shifting (``bench/listing.py`` runs this section alone: ``make bench-listing``).

The simulator (``bench/studio_server.py``) runs in its own process. ``--quick`` is a smoke run
(small counts, no concurrency-8 bulk, no 20,000-request run) that prints the table and writes
nothing unless given ``--output``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import import_probe
import listing
from _common import (
    BASELINE_COMMIT,
    BENCH,
    OFFICIAL_PYTHON,
    PROJECT_PYTHON,
    ROOT,
    Stats,
    Studio,
    baseline_env,
    measure,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

RESULTS = BENCH / "RESULTS.md"
BULK_INNER = 50
BULK_MONTHS = 40  # 2021-01..2024-04
BULK_LATENCY = 0.1
MEMORY_LATENCY = 0.01
MEMORY_MONTHS = 400  # 1991-01..2024-04: 50 x 400 = 20,000 requests


class Row:
    """One line of the results table."""

    def __init__(
        self,
        benchmark: str,
        subject: str,
        median: str = "",
        low: str = "",
        high: str = "",
        ratio: str = "",
        target: str = "",
        met: bool | None = None,
    ) -> None:
        self.cells = [benchmark, subject, median, low, high, ratio, target]
        self.met = met

    def markdown(self) -> str:
        """Return the row as a Markdown table row."""
        met = "—" if self.met is None else "yes" if self.met else "**NO**"
        cells = [c or "—" for c in self.cells] + [met]
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


HEADER = (
    "| benchmark | subject | median | min | max | ratio vs baseline | target | met? |\n"
    "|---|---|--:|--:|--:|---|---|---|"
)


# ---- formatting --------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    """Format a duration with a unit that suits it."""
    magnitude = abs(seconds)
    if magnitude >= 10:
        return f"{seconds:.1f} s"
    if magnitude >= 1:
        return f"{seconds:.2f} s"
    if magnitude >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_mib(kib: float) -> str:
    """Format a size given in KiB as MiB."""
    return f"{kib / 1024:.1f} MiB"


def fmt_pct(value: float) -> str:
    """Format a fraction as a percentage."""
    return f"{value * 100:.0f}%"


def fmt_ratio(stats: Stats) -> str:
    """Format ratios: the median, with the range of the individual pairs."""
    return f"{stats.median:.2f}x ({stats.min:.2f}-{stats.max:.2f})"


def stat_cells(stats: Stats, fmt: Callable[[float], str]) -> tuple[str, str, str]:
    """Return the median, min and max cells."""
    return fmt(stats.median), fmt(stats.min), fmt(stats.max)


def pairwise(a: Sequence[float], b: Sequence[float]) -> Stats:
    """Return the ratios a[i] / b[i] of values measured in the same round."""
    return Stats([x / y for x, y in zip(a, b, strict=False) if y])


def log(message: str) -> None:
    """Report progress on stderr (stdout carries the table)."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# ---- 1. import ---------------------------------------------------------------------------------


def bench_import(runs: int, official_runs: int, notes: list[str]) -> list[Row]:
    """Import time and peak RSS of fresh interpreters."""
    log(f"import: {runs} rounds ({official_runs} with edgeimpulse_api)")
    data = import_probe.run(runs, official_runs)
    rows: list[Row] = []

    def series(name: str, key: str) -> list[float]:
        return [r[key] for r in data[name]]

    def net(name: str, key: str, base: str) -> list[float]:
        return [s - b for s, b in zip(series(name, key), series(base, key), strict=False)]

    b = "import"
    for key, label, fmt in (("wall", "wall", fmt_time), ("rss", "peak RSS", fmt_mib)):
        rows.append(
            Row(
                b,
                f"`python -c pass`, project venv: {label}",
                *stat_cells(Stats(series("pass", key)), fmt),
            )
        )
        httpx_net = net("httpx", key, "pass")
        rows.append(
            Row(b, f"`import httpx`: {label}", *stat_cells(Stats(series("httpx", key)), fmt))
        )
        rows.append(
            Row(b, f"`import httpx`, net of `pass`: {label}", *stat_cells(Stats(httpx_net), fmt))
        )
        rows.append(
            Row(b, f"`import ei_usage`: {label}", *stat_cells(Stats(series("ei_usage", key)), fmt))
        )
        ei_net = net("ei_usage", key, "pass")
        ratio = pairwise(ei_net, httpx_net) if key == "wall" else None
        rows.append(
            Row(
                b,
                f"`import ei_usage`, net of `pass`: {label}",
                *stat_cells(Stats(ei_net), fmt),
                f"{fmt_ratio(ratio)} `import httpx` net"
                if ratio
                else _ratio_of_medians(ei_net, httpx_net, "`import httpx` net"),
                "≤ 1.5x `import httpx` (net)" if ratio else "",
                ratio.median <= 1.5 if ratio else None,
            )
        )
        client_net = net("ei_usage_client", key, "pass")
        rows.append(
            Row(
                b,
                f"`from ei_usage import Client`, net of `pass`: {label}",
                *stat_cells(Stats(client_net), fmt),
                _ratio_of_medians(client_net, httpx_net, "`import httpx` net"),
                "informational (what a call needs)",
            )
        )
        rows.append(
            Row(
                b,
                f"`python -c pass`, official venv: {label}",
                *stat_cells(Stats(series("official_pass", key)), fmt),
            )
        )
        rows.append(
            Row(
                b,
                f"`import edgeimpulse_api`: {label}",
                *stat_cells(Stats(series("edgeimpulse_api", key)), fmt),
            )
        )
        official_net = net("edgeimpulse_api", key, "official_pass")
        if key == "wall":
            # Compared as times, not as a ratio: since 0.2.1 `import ei_usage` loads nothing
            # but its version, so its net time is within noise of zero (even negative), and a
            # ratio with it as the divisor means nothing (0.2.1's first run printed -3088x).
            ei_median = statistics.median(ei_net)
            bound = statistics.median(official_net) / 25
            rows.append(
                Row(
                    b,
                    f"`import edgeimpulse_api`, net of `pass`: {label}",
                    *stat_cells(Stats(official_net), fmt),
                    f"`import ei_usage` net {fmt(ei_median)}; 1/25 of this: {fmt(bound)}",
                    "ei_usage > 25x faster (net ≤ 1/25 of this)",
                    ei_median <= bound,
                )
            )
            client_faster = pairwise(official_net, client_net)
            rows.append(
                Row(
                    b,
                    "`import edgeimpulse_api` vs `from ei_usage import Client` (net wall)",
                    "",
                    "",
                    "",
                    f"`from ei_usage import Client` is {client_faster.median:.0f}x faster "
                    f"({client_faster.min:.0f}-{client_faster.max:.0f})",
                    "informational",
                )
            )
        else:
            rows.append(
                Row(
                    b,
                    f"`import edgeimpulse_api`, net of `pass`: {label}",
                    *stat_cells(Stats(official_net), fmt),
                    _ratio_of_medians(official_net, ei_net, "`import ei_usage` net"),
                )
            )
    # The light-import target (issue 22), in a venv with the wheel alone, as a tool installs it.
    clean_httpx = net("clean_httpx", "wall", "clean_pass")
    clean_client = net("clean_client", "wall", "clean_pass")
    rows.append(
        Row(
            b,
            "clean venv: `import httpx`, net of `pass`: wall",
            *stat_cells(Stats(clean_httpx), fmt_time),
        )
    )
    light = pairwise(clean_client, clean_httpx)
    rows.append(
        Row(
            b,
            "clean venv: `from ei_usage import Client, DateRange`, net of `pass`: wall",
            *stat_cells(Stats(clean_client), fmt_time),
            f"{fmt_ratio(light)} `import httpx` net",
            "≤ 1.4x `import httpx` (net, clean venv)",
            light.median <= 1.4,
        )
    )
    cpu_ratio = pairwise(net("ei_usage", "cpu", "pass"), net("httpx", "cpu", "pass"))
    rows.append(
        Row(
            b,
            "`import ei_usage`, net of `pass`: CPU (user+sys)",
            *stat_cells(Stats(net("ei_usage", "cpu", "pass")), fmt_time),
            f"{fmt_ratio(cpu_ratio)} `import httpx` net",
            "informational (less sensitive to load)",
        )
    )
    notes.append(
        f"Import: {runs} interleaved rounds of fresh `python -c ...` processes "
        f"(the first {official_runs} also run the official venv's two probes); wall time is "
        "perf_counter around spawn to exit, CPU time from `os.wait4`, peak RSS is the child's own "
        "`VmHWM` (`/proc/self/status`), printed as its last act: `os.wait4`'s `ru_maxrss` is "
        "not used because on Linux it is at least the spawning process's peak. Byte code is "
        "cached in `bench/.cache/pycache` (PYTHONPYCACHEPREFIX) and warmed before measuring. "
        "In the project venv `import httpx` also imports click and rich (httpx's optional "
        "command line, present because of ei-usage's `cli` extra), so the httpx baseline is "
        "heavier than in a bare install."
    )
    return rows


def _ratio_of_medians(a: Sequence[float], b: Sequence[float], what: str) -> str:
    denominator = Stats(b).median
    if not denominator:
        return ""
    return f"{Stats(a).median / denominator:.2f}x {what} (medians)"


# ---- 2. per-call overhead ----------------------------------------------------------------------


def bench_calls(calls: int, rounds: int, notes: list[str]) -> list[Row]:
    """Sequential calls of the wrapper vs raw httpx, sync and async, no added latency."""
    log(f"per-call: {rounds} rounds of {calls} calls per side")
    with Studio(latency=0.0, inner_count=10) as studio:
        cpu0 = studio.cpu_seconds()
        m = measure(
            [
                PROJECT_PYTHON,
                BENCH / "calls.py",
                "--base-url",
                studio.base_url,
                "--calls",
                str(calls),
                "--rounds",
                str(rounds),
            ],
            capture=True,
        )
        server_cpu = studio.cpu_seconds() - cpu0
    data = m.json()
    rows: list[Row] = []
    b = "per-call overhead"
    for mode, client, raw in (
        ("sync", "`Client.compute_time`", "`httpx.Client.get` + `.json()`"),
        ("async", "`await AsyncClient.compute_time`", "`await httpx.AsyncClient.get` + `.json()`"),
    ):
        wrapper_s, raw_s = data[f"{mode}_wrapper"], data[f"{mode}_raw"]
        rows.append(Row(b, f"{mode}: raw {raw} (baseline)", *stat_cells(Stats(raw_s), fmt_time)))
        ratio = pairwise(wrapper_s, raw_s)
        overhead = Stats([w - r for w, r in zip(wrapper_s, raw_s, strict=False)])
        rows.append(
            Row(
                b,
                f"{mode}: {client} (+{fmt_time(overhead.median)}/call)",
                *stat_cells(Stats(wrapper_s), fmt_time),
                f"{fmt_ratio(ratio)} raw",
                "≤ 1.10x raw httpx",
                ratio.median <= 1.10,
            )
        )
    notes.append(
        f"Per-call: {calls} sequential calls per round and side, {rounds} rounds, against the "
        "simulator on loopback (separate process, no added latency). In each round both clients "
        "are open, each on its own kept-alive connection, and the calls are timed in blocks of "
        f"{data['block']}, alternating sides block by block in ABBA order, so the machine's drift "
        "within a round hits both sides alike (timing whole rounds one side after the other, "
        "as before 2026-11-22, spread per-round ratios by about +-20% on this machine). Figures "
        "are seconds per call; the ratio is the median of the per-round ratios; the wrapper is "
        "given the period as a string (`'2024-05'`), as documented. The simulator's own time per "
        f"request is in both sides: it used {server_cpu:.1f} CPU-s for the "
        f"{data['requests_served']} requests it served "
        f"(≈ {fmt_time(server_cpu / max(1, data['requests_served']))}/request)."
    )
    return rows


# ---- 3. bulk -----------------------------------------------------------------------------------


def _bulk_run(
    studio: Studio,
    impl: str,
    concurrency: int,
    inner: int,
    months: int,
    first: str,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    cpu0 = studio.cpu_seconds()
    m = measure(
        [
            PROJECT_PYTHON,
            BENCH / "bulk.py",
            "--impl",
            impl,
            "--base-url",
            studio.base_url,
            "--concurrency",
            str(concurrency),
            "--inner-count",
            str(inner),
            "--months",
            str(months),
            "--first-month",
            first,
        ],
        capture=True,
        env=env,
    )
    result: dict[str, Any] = m.json()
    result["rss"] = result["peak_rss_kib"]
    result["server_cpu"] = studio.cpu_seconds() - cpu0
    return result


def _bulk_at(
    studio: Studio, concurrency: int, pairs: int, inner: int, is_target: bool, notes: list[str]
) -> tuple[list[Row], float]:
    requests = inner * BULK_MONTHS
    ideal = requests * BULK_LATENCY / concurrency
    log(f"bulk: concurrency {concurrency}, {pairs} pairs of {requests} requests")
    wrapper: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    baseline: list[dict[str, Any]] = []
    old = baseline_env() if is_target else None
    for _ in range(pairs):
        wrapper.append(_bulk_run(studio, "wrapper", concurrency, inner, BULK_MONTHS, "2021-01"))
        raw.append(_bulk_run(studio, "raw", concurrency, inner, BULK_MONTHS, "2021-01"))
        if old is not None:
            baseline.append(
                _bulk_run(studio, "wrapper", concurrency, inner, BULK_MONTHS, "2021-01", old)
            )
    w_s = [r["seconds"] for r in wrapper]
    r_s = [r["seconds"] for r in raw]
    b = f"bulk, {requests:,} req, {BULK_LATENCY * 1000:.0f} ms latency, concurrency {concurrency}"
    rows = [
        Row(
            b,
            f"ideal: {requests:,} x {BULK_LATENCY * 1000:.0f} ms / {concurrency}",
            fmt_time(ideal),
        )
    ]
    floor_eff = Stats([ideal / s for s in r_s])
    rows.append(
        Row(
            b,
            "raw `httpx.AsyncClient` + `asyncio.Semaphore` (the floor)",
            *stat_cells(Stats(r_s), fmt_time),
            f"{fmt_pct(floor_eff.median)} of ideal",
            "≥ 85% of ideal (else the simulator or machine is the bottleneck)",
            floor_eff.median >= 0.85,
        )
    )
    ratio = pairwise(w_s, r_s)
    rows.append(
        Row(
            b,
            "`AsyncClient.compute_time_report`",
            *stat_cells(Stats(w_s), fmt_time),
            f"{fmt_ratio(ratio)} floor",
            "≤ 1.10x raw-httpx floor",
            ratio.median <= 1.10,
        )
    )
    if baseline:
        base_ratio = pairwise([r["seconds"] for r in baseline], r_s)
        rows.append(
            Row(
                b,
                f"0.1.0's `compute_time_report` (commit {BASELINE_COMMIT}, no rate control)",
                *stat_cells(Stats([r["seconds"] for r in baseline]), fmt_time),
                f"{fmt_ratio(base_ratio)} floor",
                "informational",
            )
        )
        rows.append(
            Row(
                b,
                "rate control on, no limit hit: ratio to floor, now vs 0.1.0",
                "",
                "",
                "",
                f"{ratio.median / base_ratio.median:.3f}x",
                "≤ 1.02x 0.1.0's ratio",
                ratio.median <= 1.02 * base_ratio.median,
            )
        )
    elif is_target:
        notes.append("0.1.0's code could not be extracted from git: no baseline comparison.")
    eff = Stats([ideal / s for s in w_s])
    rows.append(
        Row(
            b,
            "`AsyncClient.compute_time_report`: share of ideal",
            *stat_cells(eff, fmt_pct),
            f"{fmt_pct(eff.median)} of ideal",
            "≥ 85% of ideal" if is_target else "informational",
            eff.median >= 0.85 if is_target else None,
        )
    )
    rows.append(
        Row(
            b,
            "peak RSS of the client process: `compute_time_report`",
            *stat_cells(Stats([r["rss"] for r in wrapper]), fmt_mib),
            _ratio_of_medians([r["rss"] for r in wrapper], [r["rss"] for r in raw], "raw httpx"),
            "informational",
        )
    )
    w_cpu = Stats([r["cpu_seconds"] / r["seconds"] for r in wrapper])
    r_cpu = Stats([r["cpu_seconds"] / r["seconds"] for r in raw])
    server = Stats([r["server_cpu"] / r["seconds"] for r in wrapper + raw])
    notes.append(
        f"Bulk at concurrency {concurrency}: {pairs} interleaved pairs (wrapper, raw), each run a "
        "fresh process timing only the requests. CPU use during the runs (1.0 = one core "
        f"busy): client process {fmt_pct(w_cpu.median)} (wrapper) / {fmt_pct(r_cpu.median)} "
        f"(raw), simulator process {fmt_pct(server.median)} (max {fmt_pct(server.max)}); "
        f"client CPU per request {fmt_time(_per_request(wrapper))} (wrapper) vs "
        f"{fmt_time(_per_request(raw))} (raw)."
    )
    if floor_eff.median < 0.85:
        notes.append(
            f"**The raw-httpx floor itself reaches only {fmt_pct(floor_eff.median)} of ideal at "
            f"concurrency {concurrency}**, so the shortfall from ideal is not the wrapper's: the "
            f"simulator is at most {fmt_pct(server.max)} busy, while the client process spends "
            f"{fmt_time(_per_request(raw))} of CPU per request in raw httpx "
            f"({fmt_pct(r_cpu.median)} of a core), on a machine with {os.cpu_count()} cores "
            "shared with the simulator and whatever else runs (see the load average above)."
        )
    UNTHROTTLED_RSS[concurrency] = Stats([r["rss"] for r in wrapper]).median
    return rows, Stats(w_s).median


UNTHROTTLED_RSS: dict[int, float] = {}
"""Peak RSS (KiB) of the unthrottled bulk wrapper runs, by concurrency (for the rate section)."""


def _per_request(runs: list[dict[str, Any]]) -> float:
    return Stats([r["cpu_seconds"] / r["requests"] for r in runs]).median


def _official(
    studio: Studio,
    pairs: int,
    requests: int,
    wrapper_c32: float | None,
    total: int,
    notes: list[str],
) -> list[Row]:
    log(f"official bindings: {pairs} pairs of {requests} sequential requests")
    official: list[float] = []
    ours: list[float] = []
    for _ in range(pairs):
        for python, client, into in (
            (OFFICIAL_PYTHON, "official", official),
            (PROJECT_PYTHON, "ei_usage", ours),
        ):
            m = measure(
                [
                    python,
                    BENCH / "official_sample.py",
                    "--client",
                    client,
                    "--base-url",
                    studio.base_url,
                    "--requests",
                    str(requests),
                ],
                capture=True,
            )
            into.append(m.json()["per_request"])
    latency = f"{BULK_LATENCY * 1000:.0f} ms latency"
    b = f"bulk: official bindings, sequential sample of {requests} req, {latency}"
    ratio = pairwise(official, ours)
    rows = [
        Row(b, "ei_usage `Client.compute_time`, per request", *stat_cells(Stats(ours), fmt_time)),
        Row(
            b,
            "edgeimpulse_api `whitelabel_admin_get_organization_compute_time_usage`, per request",
            *stat_cells(Stats(official), fmt_time),
            f"{fmt_ratio(ratio)} ei_usage sequential",
            "informational",
        ),
    ]
    extrapolated = Stats([p * total for p in official])
    rows.append(
        Row(
            b,
            f"edgeimpulse_api extrapolated to {total:,} sequential requests",
            *stat_cells(extrapolated, fmt_time),
            (
                f"{extrapolated.median / wrapper_c32:.0f}x the time of `compute_time_report` at "
                "concurrency 32"
            )
            if wrapper_c32
            else "",
            "informational",
        )
    )
    notes.append(
        f"Official bindings: {pairs} interleaved pairs of processes (edgeimpulse_api in "
        f"`bench/.venv-official`, ei_usage's sync `Client` in the project venv), each making the "
        f"report's first {requests} requests one at a time after an untimed first request; the "
        f"per-request time is multiplied by {total:,} (the official bindings have no bulk "
        "operation; their `async_req` thread pool is not used). They send dates as "
        "`2021-01-01T00:00:00+00:00`, which the simulator accepts."
    )
    return rows


def _memory(pairs: int, notes: list[str]) -> list[Row]:
    small, large = BULK_INNER * BULK_MONTHS, BULK_INNER * MEMORY_MONTHS
    log(f"memory: {pairs} pairs of {small:,} and {large:,} requests")
    with Studio(latency=MEMORY_LATENCY, inner_count=BULK_INNER) as studio:
        runs_small: list[dict[str, Any]] = []
        runs_large: list[dict[str, Any]] = []
        for _ in range(pairs):
            runs_small.append(_bulk_run(studio, "wrapper", 32, BULK_INNER, BULK_MONTHS, "2021-01"))
            runs_large.append(
                _bulk_run(studio, "wrapper", 32, BULK_INNER, MEMORY_MONTHS, "1991-01")
            )
    large_wall = Stats([r["seconds"] for r in runs_large]).median
    b = f"bulk memory, concurrency 32, {MEMORY_LATENCY * 1000:.0f} ms latency"
    ratio = pairwise([r["rss"] for r in runs_large], [r["rss"] for r in runs_small])
    rows = [
        Row(
            b,
            f"peak RSS, `compute_time_report` of {small:,} requests",
            *stat_cells(Stats([r["rss"] for r in runs_small]), fmt_mib),
        ),
        Row(
            b,
            f"peak RSS, `compute_time_report` of {large:,} requests",
            *stat_cells(Stats([r["rss"] for r in runs_large]), fmt_mib),
            f"{fmt_ratio(ratio)} {small:,}",
            f"≤ 1.5x the {small:,}-request run",
            ratio.median <= 1.5,
        ),
        Row(
            b,
            f"wall time, {large:,} requests",
            *stat_cells(Stats([r["seconds"] for r in runs_large]), fmt_time),
            f"{fmt_pct(large * MEMORY_LATENCY / 32 / large_wall)} of ideal",
            "informational",
        ),
    ]
    notes.append(
        f"Memory: {pairs} interleaved pairs; each run is its own process and its peak RSS (its "
        "own `VmHWM`, read at its end) includes the interpreter and imports. The "
        f"{large:,}-request run uses "
        f"{MEMORY_LATENCY * 1000:.0f} ms latency instead of {BULK_LATENCY * 1000:.0f} ms to keep "
        "`make bench` short (the point is memory growth), and asks for 400 months "
        "(1991-01..2024-04) of the same 50 inner organizations. At that latency the run is "
        f"CPU-bound in the client ({fmt_time(_per_request(runs_large))} of CPU per request, "
        "mostly httpcore's connection pool at concurrency 32), so its wall time is far from "
        "ideal; it is informational."
    )
    return rows


def bench_bulk(quick: bool, notes: list[str]) -> list[Row]:
    """Bulk report vs raw httpx vs ideal; the official bindings; memory growth."""
    rows: list[Row] = []
    inner = 10 if quick else BULK_INNER
    with Studio(latency=BULK_LATENCY, inner_count=BULK_INNER) as studio:
        c32_rows, wrapper_c32 = _bulk_at(studio, 32, 2 if quick else 5, inner, True, notes)
        rows += c32_rows
        if not quick:
            rows += _bulk_at(studio, 8, 3, inner, False, notes)[0]
        rows += _official(
            studio,
            1 if quick else 2,
            5 if quick else 20,
            wrapper_c32 * BULK_INNER / inner,
            BULK_INNER * BULK_MONTHS,
            notes,
        )
    if quick:
        notes.append(
            f"--quick: bulk runs use {inner} inner organizations ({inner * BULK_MONTHS} requests); "
            "no concurrency-8 runs and no 20,000-request memory run."
        )
    else:
        rows += _memory(2, notes)
    return rows


# ---- 4. rate limit -----------------------------------------------------------------------------

RATE_LIMIT = 20.0
RATE_BURST = 20.0
RATE_LATENCY = 0.05
RATE_CONCURRENCY = 32
RATE_INNER = 50
RATE_MONTHS = 60  # 50 x 60 = 3,000 requests


def _rate_run(impl: str, inner: int, months: int, env: dict[str, str] | None) -> dict[str, Any]:
    """One run against a fresh rate-limited simulator (its bucket full, its counters zero)."""
    with Studio(
        latency=RATE_LATENCY, inner_count=inner, rate_limit=RATE_LIMIT, burst=RATE_BURST
    ) as studio:
        m = measure(
            [
                PROJECT_PYTHON,
                BENCH / "ratelimit.py",
                "--impl",
                impl,
                "--base-url",
                studio.base_url,
                "--concurrency",
                str(RATE_CONCURRENCY),
                "--inner-count",
                str(inner),
                "--months",
                str(months),
            ],
            capture=True,
            env=env,
        )
    result: dict[str, Any] = m.json()
    result.update(studio.final_stats)  # "requests", "rate_limited": what the server saw
    return result


def bench_rate_limit(quick: bool, notes: list[str], unthrottled_rss: float | None) -> list[Row]:
    """Big reports under a 429-answering limit: adaptive rate control vs 0.1.0 vs raw httpx.

    ``unthrottled_rss``: the peak RSS of the same client's bulk run without a limit (KiB), which
    the throttled run's peak is compared with: pacing must not make memory grow.
    """
    inner, months = (RATE_INNER, 6) if quick else (RATE_INNER, RATE_MONTHS)
    requests = inner * months
    ideal = requests / RATE_LIMIT
    b = (
        f"rate limit {RATE_LIMIT:.0f}/s (burst {RATE_BURST:.0f}), {requests:,} req, "
        f"{RATE_LATENCY * 1000:.0f} ms latency, concurrency {RATE_CONCURRENCY}"
    )
    sides: list[tuple[str, str, dict[str, str] | None]] = [
        ("`AsyncClient.compute_time_report` (adaptive rate control)", "client", None)
    ]
    old = baseline_env()
    if old is not None:
        sides.append((f"0.1.0 (commit {BASELINE_COMMIT}): each call retries alone", "client", old))
    sides.append(("raw `httpx` + semaphore, Retry-After loop (3 retries)", "raw", None))
    log(f"rate limit: {len(sides)} sides of {requests} requests, ideal {ideal:.0f}s each")
    rows = [Row(b, f"ideal: {requests:,} / {RATE_LIMIT:.0f} per second", fmt_time(ideal))]
    for label, impl, env in sides:
        run = _rate_run(impl, inner, months, env)
        if env is not None and BASELINE_COMMIT not in str(run["ei_usage"]):
            raise RuntimeError(f"the baseline run imported {run['ei_usage']}")
        share = run["rate_limited"] / max(run["requests"], 1)
        is_target = impl == "client" and env is None
        rows.append(
            Row(
                b,
                f"{label}: completion / ideal",
                fmt_time(run["seconds"]),
                "",
                "",
                f"{run['seconds'] / ideal:.3f}x ideal",
                "≤ 1.10x ideal" if is_target else "informational",
                run["seconds"] / ideal <= 1.10 if is_target else None,
            )
        )
        rows.append(
            Row(
                b,
                f"{label}: 429 answers",
                f"{run['rate_limited']:,} of {run['requests']:,}",
                "",
                "",
                fmt_pct(share),
                "≤ 5% of requests" if is_target else "informational",
                share <= 0.05 if is_target else None,
            )
        )
        rows.append(
            Row(
                b,
                f"{label}: failed rows",
                f"{run['failed']:,} of {requests:,}",
                "",
                "",
                "",
                "0" if is_target else "informational",
                run["failed"] == 0 if is_target else None,
            )
        )
        if is_target and unthrottled_rss:
            growth = run["peak_rss_kib"] / unthrottled_rss
            rows.append(
                Row(
                    b,
                    f"{label}: peak RSS of the client process",
                    fmt_mib(run["peak_rss_kib"]),
                    "",
                    "",
                    f"{growth:.2f}x the unthrottled 2,000-request run",
                    "≤ 1.10x (flat)",
                    growth <= 1.10,
                )
            )
    notes.append(
        "Rate limit: each side runs once against a fresh simulator whose token bucket refills at "
        f"{RATE_LIMIT:.0f} requests per second per credential (burst {RATE_BURST:.0f}) and "
        "answers 429 with an integer Retry-After (at least 1 s) when it is empty; the 429 counts "
        "are the simulator's own. One run per side, because each takes the ideal time or "
        "longer: read the load average above before trusting a single figure."
    )
    return rows


# ---- 5. hostile bodies -------------------------------------------------------------------------

_HOSTILE_PROBE = """
import sys, time
from ei_usage import Client, ResponseTooLargeError, APITimeoutError
with Client("k", base_url=sys.argv[1], max_retries=0, timeout=float(sys.argv[2])) as client:
    start = time.perf_counter()
    try:
        client.compute_time(1, 2, "2024-05")
    except (ResponseTooLargeError, APITimeoutError) as error:
        kind = type(error).__name__
    else:
        raise SystemExit("no error")
    elapsed = time.perf_counter() - start
print(kind, elapsed, "".join(l for l in open("/proc/self/status") if l.startswith("VmHWM")))
"""


def _hostile_server(kind: str) -> tuple[Any, str]:
    """A one-shot loopback server sending something hostile; return it and its base URL."""
    import gzip
    import socket
    import threading

    if kind == "plain":
        head, body = b"content-type: application/json\r\nconnection: close\r\n", b"[" * (50 << 20)
    elif kind == "gzip":
        body = gzip.compress(bytes(1 << 30), compresslevel=9)  # 1 GiB of zeros, about 1 MiB
        head = f"content-encoding: gzip\r\ncontent-length: {len(body)}\r\n".encode()
    else:
        head, body = b"content-type: application/json\r\ncontent-length: 100000\r\n", b""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n")
                if kind == "trickle":
                    while not stop.wait(0.05):  # one byte every 50 ms, forever
                        conn.sendall(b" ")
                else:
                    conn.sendall(body)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    class Server:
        def close(self) -> None:
            stop.set()
            listener.close()
            thread.join(10)

    return Server(), f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


def bench_hostile(runs: int, notes: list[str]) -> list[Row]:
    """What a hostile answer costs a client process: time to give up, and peak memory."""
    rows: list[Row] = []
    cases = [
        ("50 MiB body, no length", "plain", 30.0, "< 1 s, < 100 MiB"),
        ("gzip bomb: 1 MiB inflating to 1 GiB", "gzip", 30.0, "< 1 s, < 100 MiB"),
        ("1 byte per 50 ms trickle, timeout=2", "trickle", 2.0, "ends by the 2 s deadline"),
    ]
    for label, kind, timeout, target in cases:
        seconds: list[float] = []
        peaks: list[float] = []
        for _ in range(runs):
            server, url = _hostile_server(kind)
            try:
                m = measure([PROJECT_PYTHON, "-c", _HOSTILE_PROBE, url, str(timeout)], capture=True)
            finally:
                server.close()
            _, elapsed, _, peak, _ = m.stdout.split()
            seconds.append(float(elapsed))
            peaks.append(float(peak))
        t, mem = Stats(seconds), Stats(peaks)
        if kind == "trickle":
            met = t.max <= timeout + 0.5
        else:
            met = t.median < 1.0 and mem.max < 100 * 1024
        rows.append(
            Row(
                "hostile answers (client process, capped at 4 MiB)",
                label,
                *stat_cells(t, fmt_time),
                f"peak RSS {fmt_mib(mem.median)}",
                target,
                met,
            )
        )
    notes.append(
        "Hostile answers: a fresh client process per run against a loopback server sending the "
        "answer; the time is the call's, from sending to the typed error "
        "(`ResponseTooLargeError`, `APITimeoutError`); peak RSS is the process's own (VmHWM), "
        "imports included."
    )
    return rows


# ---- 6. regeneration ---------------------------------------------------------------------------


def bench_regeneration(runs: int, notes: list[str]) -> list[Row]:
    """Wall time of the generation pipeline (``generate.py --check``: into a temp dir)."""
    log(f"regeneration: {runs} runs of generate.py --check")
    times: list[float] = []
    failures = 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [PROJECT_PYTHON, "openapi/tools/generate.py", "--check"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        failures += proc.returncode != 0
    notes.append(
        "Regeneration: `openapi/tools/generate.py --check` runs the whole `make generate` "
        "pipeline (openapi-python-client, headers, ruff) into a temporary directory and compares; "
        "it is timed instead of `make generate` so the benchmark never rewrites `generated/`."
        + (
            f" {failures} of {runs} runs reported a difference from `generated/` (the timing "
            "is still the pipeline's)."
            if failures
            else ""
        )
    )
    return [
        Row(
            "regeneration",
            "`generate.py --check` (the `make generate` pipeline)",
            *stat_cells(Stats(times), fmt_time),
        )
    ]


# ---- 7. hostile listings ----------------------------------------------------------------------


def bench_listing(runs: int, notes: list[str]) -> list[Row]:
    """Requests and time until a hostile listing of 25 organizations ends (``bench/listing.py``)."""
    log(f"hostile listing: {runs} runs per case")
    rows: list[Row] = []
    limit = listing.ORGANIZATIONS + 3
    honest: dict[int, int] = {}
    for result in listing.measure(runs):
        size = result["page_size"]
        requests = result["requests"]
        reference = result["case"].startswith("honest")
        if reference:
            honest[size] = requests
        outcome = f"{requests} request{'s' * (requests != 1)} (honest server: "
        outcome += f"{honest.get(size, '?')}); listed {result['listed']} of {listing.ORGANIZATIONS}"
        outcome += ", warned: cut short" if result["cut_short"] else ""
        kept = result["listed"] == listing.ORGANIZATIONS or not result["must_list_all"]
        rows.append(
            Row(
                f"hostile listing, {listing.ORGANIZATIONS} organizations, page size {size}",
                result["case"],
                *stat_cells(Stats(result["seconds"]), fmt_time),
                outcome,
                ""
                if reference
                else f"≤ {limit} requests (real count + 3)"
                + (f"; all {listing.ORGANIZATIONS} listed" if result["must_list_all"] else ""),
                None if reference else requests <= limit and kept,
            )
        )
    notes.append(
        "Hostile listing: `Client.inner_organizations` over a white label of "
        f"{listing.ORGANIZATIONS} inner organizations (deleted ones left out, so one listing), "
        "against FakeStudio "
        "(in a thread of the benchmark process, loopback, no added latency) acting out a broken "
        f"server with `ListingQuirks`; {runs} runs per case, requests are the simulator's count "
        "(the most of any run). A listing that ends early keeps what it listed and says why "
        "(`stop_reason`, an `IncompleteListingWarning`). 0.2.0 sent up to 50,000 requests in "
        "these cases (130-535 s on loopback, issue 16) and then lost every organization."
    )
    return rows


# ---- the report --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def _official_version() -> str:
    try:
        out = subprocess.run(
            [
                OFFICIAL_PYTHON,
                "-c",
                "import importlib.metadata as m; print(m.version('edgeimpulse-api'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "not installed"
    return out.strip()


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return f"{head}{' with uncommitted changes' if dirty else ''}"


def _loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _header(command: str, started: dt.datetime, elapsed: float, load: tuple[str, str]) -> str:
    return "\n".join(
        [
            "# ei-usage benchmarks",
            "",
            "Written by `make bench` (`bench/run.py`); see `bench/README.md`. Every figure is the "
            "median of several runs (min and max beside it); every ratio is measured in the same "
            "run with the two sides interleaved.",
            "",
            f"- Date: {started.strftime('%Y-%m-%d %H:%M %Z')}",
            f"- Command: `{command}`",
            f"- Machine: {_cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}; load average (1/5/15 min) {load[0]} at the start, "
            f"{load[1]} at the end",
            f"- Python: {platform.python_version()} ({platform.python_implementation()})",
            f"- Packages: ei-usage {version('ei-usage')}, httpx {version('httpx')}, "
            f"edgeimpulse-api {_official_version()} (benchmark venv only)",
            f"- Commit: {_commit()}",
            f"- Benchmark wall time: {fmt_time(elapsed)}",
        ]
    )


def _kept_history(path: Path) -> str:
    """Return the results file's ``## History`` section (before/after records), to keep it."""
    if not path.exists():
        return ""
    text = path.read_text()
    match = re.search(r"^## History\b.*", text, re.MULTILINE | re.DOTALL)
    return match.group(0).rstrip() + "\n" if match else ""


def main() -> int:
    """Run the benchmarks, print the table, write the results file."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the Markdown (default bench/RESULTS.md; --quick writes none)",
    )
    args = parser.parse_args()
    if not OFFICIAL_PYTHON.exists():
        parser.error(f"{OFFICIAL_PYTHON} is missing: run `make bench`, which creates it")
    output = args.output or (None if args.quick else RESULTS)
    python = Path(sys.executable)
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    invocation = f"{python} bench/run.py {' '.join(sys.argv[1:])}".rstrip()
    command = f"make bench: {invocation}" if "MAKELEVEL" in os.environ else invocation

    started = dt.datetime.now(dt.UTC).astimezone()
    load_start = _loadavg()
    t0 = time.perf_counter()
    notes: list[str] = []
    rows: list[Row] = []
    # edgeimpulse_api takes ~10 s to import: fewer rounds of it keep `make bench` near 10 min.
    rows += bench_import(3 if args.quick else 15, 1 if args.quick else 7, notes)
    rows += bench_calls(40 if args.quick else 300, 2 if args.quick else 15, notes)
    rows += bench_bulk(args.quick, notes)
    rows += bench_rate_limit(args.quick, notes, UNTHROTTLED_RSS.get(32))
    rows += bench_hostile(1 if args.quick else 3, notes)
    rows += bench_regeneration(1 if args.quick else 3, notes)
    rows += bench_listing(1 if args.quick else 5, notes)
    elapsed = time.perf_counter() - t0

    table = "\n".join([HEADER, *(r.markdown() for r in rows)])
    missed = [r for r in rows if r.met is False]
    summary = f"Targets: {sum(r.met is True for r in rows)} met, {len(missed)} missed" + (
        ": " + "; ".join(f"{r.cells[0]} / {r.cells[1]}" for r in missed) if missed else "."
    )
    body = "\n\n".join(
        [
            _header(command, started, elapsed, (load_start, _loadavg())),
            table,
            summary,
            "## Notes\n\n" + "\n".join(f"- {n}" for n in notes),
        ]
    )
    sys.stdout.write(body + "\n")
    if output is not None:
        history = _kept_history(output)
        output.write_text(body + "\n" + ("\n" + history if history else ""))
        log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
