"""Benchmarks of ``ei-usage exporter`` (issue 20): scrape latency, refresh time, memory.

The FakeStudio runs in its own process (``studio_server.py``, its own GIL and memory) with 250
inner organizations; the exporter runs in this process, so the RSS figures are the exporter's.

* scrape latency: /metrics over HTTP (a new connection each, as Prometheus' default), 250
  organizations served; p50 and p99 of ``--scrapes`` scrapes.
* refresh time against a rate-limited studio (``--rates``: 20 and 50 per second, bucket of
  ``--burst``, 50 ms latency): one listing, one organization info and one compute-time request
  per live organization through the client's rate control: a new client's first refresh, and a
  later one; compared with the rate-limit floor,
  requests / rate (the floor the other rate-limit rows use), and (requests - burst) / rate (what
  a full bucket at the start allows).
* memory: RSS after the first refresh, then 100 refreshes (more than a day's worth at the
  default 15 minutes: 96) with 100 scrapes after each (10,000 in all).

``python bench/exporter.py`` prints Markdown rows; ``--write`` also puts them into
bench/RESULTS.md under the heading "## Exporter" (replacing an earlier one, before History).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
KEY = "bench-exporter-key"
INNER = 250
SERVER = (sys.executable, str(BENCH / "studio_server.py"), "--api-key", KEY)


def rss_kib() -> int:
    """This process's current RSS in KiB (VmRSS)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def studio(*args: str) -> Iterator[str]:
    """Run bench/studio_server.py with 250 inner organizations; yield its base URL."""
    process = subprocess.Popen(
        [*SERVER, "--inner-count", str(INNER), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield line.strip().removeprefix("base_url=")
    finally:
        process.terminate()
        process.communicate(timeout=30)


# What Prometheus 2.42 sends: OpenMetrics preferred, gzip accepted.
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}


def scrape(url: str) -> bytes:
    """GET /metrics once, on a new connection, as Prometheus asks for it."""
    request = urllib.request.Request(url, headers=PROMETHEUS_HEADERS)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        return bytes(answer.read())


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:.1f} ms"


def bench_scrapes(count: int) -> list[str]:
    """Scrape latency of 250 organizations over HTTP."""
    from ei_usage.exporter import Exporter, ExporterClient

    with studio() as base_url, ExporterClient(KEY, base_url=base_url) as client:
        exporter = Exporter(client, 1)
        snapshot = exporter.refresh()
        assert len(snapshot.organizations) >= INNER - 30, len(snapshot.organizations)
        host, port = exporter.serve("127.0.0.1", 0)
        url = f"http://{host}:{port}/metrics"
        size = len(scrape(url))
        for _ in range(50):  # warm-up
            scrape(url)
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            scrape(url)
            times.append(time.perf_counter() - t0)
        # Each refresh builds and encodes its snapshot before the swap: time that.
        first = []
        for _ in range(30):
            t0 = time.perf_counter()
            exporter._published = exporter._publish(exporter.snapshot)
            first.append(time.perf_counter() - t0)
        exporter.stop()
    p50, p99 = pct(times, 0.5), pct(times, 0.99)
    what = (
        f"/metrics over HTTP as Prometheus asks (OpenMetrics, gzip), "
        f"{len(snapshot.organizations)} organizations served ({size / 1024:.0f} KiB gzipped), "
        f"{count:,} scrapes"
    )
    encode = statistics.median(first)
    return [
        f"| exporter scrape | {what}: p50 | {ms(p50)} | {ms(min(times))} | {ms(max(times))} "
        f"| — | < 20 ms | {'yes' if p50 < 0.020 else 'no'} |",
        f"| exporter scrape | {what}: p99 | {ms(p99)} | {ms(min(times))} | {ms(max(times))} "
        f"| — | < 50 ms | {'yes' if p99 < 0.050 else 'no'} |",
        f"| exporter scrape | publishing a refreshed snapshot: building and encoding it (text; "
        "OpenMetrics gzipped), in the refresh's thread, so no scrape waits for it; 30 runs "
        f"| {ms(encode)} | {ms(min(first))} | {ms(max(first))} | — | "
        f"informational | — |",
    ]


def bench_refresh(runs: int, rate: float, burst: float) -> list[str]:
    """One refresh of 250 organizations against a rate-limited studio, vs the floor."""
    from ei_usage.exporter import Exporter, ExporterClient

    cold, warm, requests, throttled = [], [], [], []
    pause = burst / rate + 1  # the bucket fills up again
    with studio("--rate-limit", str(rate), "--burst", str(burst), "--latency", "0.05") as url:
        for run in range(runs):
            if run:
                time.sleep(pause)
            with ExporterClient(KEY, base_url=url) as client:
                exporter = Exporter(client, 1)
                for into in (cold, warm):
                    if into is warm:
                        time.sleep(pause)
                    before = client.request_counts()
                    t0 = time.perf_counter()
                    snapshot = exporter.refresh()
                    into.append(time.perf_counter() - t0)
                    assert snapshot.health.last_complete, snapshot.health
                    counts = client.request_counts()
                    sent = {k: counts.get(k, 0) - before.get(k, 0) for k in counts}
                    requests.append(sum(sent.values()) - sent.get("throttled", 0))
                    throttled.append(sent.get("throttled", 0))
    n = statistics.median(requests)
    floor, strict = n / rate, (n - burst) / rate
    label = (
        f"exporter refresh, {INNER} inner organizations ({len(snapshot.organizations)} live), "
        f"rate limit {rate:g}/s (burst {burst:g}), 50 ms latency"
    )
    rows = [
        f"| {label} | requests per refresh (1 listing page per 100, 1 info and 1 compute time "
        f"per live organization) | {n:,.0f} | — | — | — | — | — |",
        f"| {label} | floor: requests / rate | {floor:.2f} s | — | — | — | — | — |",
    ]
    for name, durations, target in (
        ("the first refresh of a new client (learns the rate from 429s)", cold, None),
        ("every later refresh (the client keeps the rate it learned)", warm, 1.10),
    ):
        median = statistics.median(durations)
        met = "—" if target is None else ("yes" if median <= target * floor else "no")
        rows.append(
            f"| {label} | {name}; {runs} runs | {median:.2f} s | {min(durations):.2f} s | "
            f"{max(durations):.2f} s | {median / floor:.3f}x floor; {median / strict:.3f}x "
            f"(requests - burst) / rate | {'informational' if target is None else '≤ 1.10x floor'} "
            f"| {met} |"
        )
    rows.append(
        f"| {label} | 429 answers absorbed per refresh: first, later | "
        f"{statistics.median(throttled[0::2]):.0f}, {statistics.median(throttled[1::2]):.0f} "
        "| — | — | — | — | — |"
    )
    return rows


def bench_memory(refreshes: int, scrapes_each: int) -> list[str]:
    """RSS over a day's worth of refreshes and 10,000 scrapes."""
    from ei_usage.exporter import Exporter, ExporterClient

    clock = [dt.datetime(2026, 12, 1, tzinfo=dt.UTC)]
    with studio() as base_url, ExporterClient(KEY, base_url=base_url) as client:
        exporter = Exporter(client, 1, clock=lambda: clock[0])
        host, port = exporter.serve("127.0.0.1", 0)
        url = f"http://{host}:{port}/metrics"
        marks = {}
        for number in range(1, refreshes + 1):
            exporter.refresh()
            clock[0] += dt.timedelta(minutes=15)  # a day: 96 refreshes
            for _ in range(scrapes_each):
                scrape(url)
            if number in (1, 10, refreshes):
                gc.collect()
                marks[number] = rss_kib()
        exporter.stop()
    first, tenth, last = marks[1], marks[10], marks[refreshes]
    label = (
        f"exporter memory, {INNER} inner organizations, {refreshes} refreshes "
        f"(15 simulated minutes apart), {scrapes_each} scrapes after each "
        f"({refreshes * scrapes_each:,} in all)"
    )

    def mib(kib: float) -> str:
        return f"{kib / 1024:.1f} MiB"

    met = last <= 1.2 * first and last <= 1.05 * tenth
    return [
        f"| {label} | RSS after the first refresh | {mib(first)} | — | — | — | — | — |",
        f"| {label} | RSS after the 10th | {mib(tenth)} | — | — | {tenth / first:.3f}x first "
        "| — | — |",
        f"| {label} | RSS after the last (a day's worth and more) | {mib(last)} | — | — | "
        f"{last / first:.3f}x first; {last / tenth:.3f}x the 10th | ≤ 1.2x first; flat "
        f"(≤ 1.05x the 10th) | {'yes' if met else 'no'} |",
    ]


HEADER = (
    "| benchmark | subject | median | min | max | ratio vs baseline | target | met? |\n"
    "|---|---|--:|--:|--:|---|---|---|"
)


def write(section: str) -> None:
    """Put the section into RESULTS.md under "## Exporter", before "## History"."""
    text = RESULTS.read_text()
    text = re.sub(r"^## Exporter\b.*?(?=^## )", "", text, flags=re.MULTILINE | re.DOTALL)
    match = re.search(r"^## History\b", text, flags=re.MULTILINE)
    at = match.start() if match else len(text)
    RESULTS.write_text(text[:at] + section + "\n" + text[at:])


def main() -> int:
    """Run the exporter benchmarks and print (and with --write, record) the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scrapes", type=int, default=2000)
    parser.add_argument("--refresh-runs", type=int, default=3)
    parser.add_argument(
        "--rates",
        default="20,50",
        help="server rate limits to refresh against (20/s: the other rate-limit rows' setting)",
    )
    parser.add_argument("--burst", type=float, default=20.0)
    parser.add_argument("--refreshes", type=int, default=100)
    parser.add_argument("--scrapes-each", type=int, default=100)
    parser.add_argument("--write", action="store_true", help="record into bench/RESULTS.md")
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    load = open("/proc/loadavg").read().split()[:3]  # noqa: SIM115
    t0 = time.perf_counter()
    rows = [
        *bench_scrapes(args.scrapes),
        *(
            row
            for rate in args.rates.split(",")
            for row in bench_refresh(args.refresh_runs, float(rate), args.burst)
        ),
        *bench_memory(args.refreshes, args.scrapes_each),
    ]
    elapsed = time.perf_counter() - t0
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    section = "\n".join(
        [
            "## Exporter",
            "",
            f"`{Path(sys.executable).name} bench/exporter.py` (issue 20), "
            f"{started:%Y-%m-%d %H:%M} UTC, commit {commit}, load average at the start "
            f"{' / '.join(load)}, {elapsed:.0f} s. The studio runs in its own process; the "
            "exporter (and the RSS measured) in the benchmark's.",
            "",
            HEADER,
            *rows,
            "",
        ]
    )
    sys.stdout.write(section)
    if args.write:
        write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
