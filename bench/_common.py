"""Shared helpers of the benchmarks: paths, child processes, the simulator process, statistics.

Standard library only, so every script here also runs under the official bindings' venv.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
OFFICIAL_VENV = BENCH / ".venv-official"
OFFICIAL_PYTHON = OFFICIAL_VENV / "bin" / "python"
# Byte code of every child (both venvs and the standard library) is cached here, never written
# into the source tree or a venv: the Makefile sets PYTHONDONTWRITEBYTECODE, and uv installs
# without byte code, so without a cache every import would compile from source.
PYCACHE = BENCH / ".cache" / "pycache"

API_KEY = "ei_bench_key"
ORGANIZATION_ID = 1
FIRST_INNER_ID = 2


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment of a benchmark child process."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPATH", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(extra or {})
    return env


# Peak RSS is the child's own high-water mark, VmHWM, which the child reads as its last act.
# Not os.wait4's ru_maxrss: on Linux that is at least the *spawning* process's peak RSS (exec
# records the high-water mark of the memory it replaces, which after vfork is the parent's), so
# a bare `python -c pass` started by a 200 MB parent "peaks" at 200 MB.
PEAK_RSS_CODE = (
    "import sys as _s; _s.stdout.write(''.join("
    "l for l in open('/proc/self/status') if l.startswith('VmHWM')))"
)


def peak_rss_kib() -> int:
    """Return this process's own peak RSS in KiB (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def parse_peak_rss(text: str) -> int:
    """Read the ``VmHWM: N kB`` line that PEAK_RSS_CODE printed."""
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM line in the probe's output: {text!r}")


class Measured:
    """What one child process cost: wall time, CPU time (from os.wait4), and its stdout."""

    def __init__(self, wall: float, cpu: float, stdout: str) -> None:
        self.wall = wall
        self.cpu = cpu
        self.stdout = stdout

    def json(self) -> Any:
        """Return the child's stdout's last line, decoded as JSON."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def measure(
    argv: Sequence[str | Path],
    *,
    capture: bool = False,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> Measured:
    """Run a child to completion; time it with perf_counter and read its own rusage.

    ``os.wait4`` gives the CPU time of this one child, not a cumulative figure over every child
    reaped so far as ``RUSAGE_CHILDREN`` would (for peak RSS see PEAK_RSS_CODE).

    Raises:
        RuntimeError: the child failed.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(a) for a in argv],
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=child_env(env),
        text=True,
    )
    out = proc.stdout.read() if proc.stdout is not None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stdout is not None:
        proc.stdout.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited with status {proc.returncode}")
    return Measured(wall, usage.ru_utime + usage.ru_stime, out)


def process_cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds a live process (all its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


class Studio:
    """The fake Studio in its own process (``bench/studio_server.py``), so it has its own GIL."""

    def __init__(
        self,
        *,
        latency: float,
        inner_count: int,
        rate_limit: float | None = None,
        burst: float | None = None,
    ) -> None:
        self.latency = latency
        self.inner_count = inner_count
        self.rate_limit = rate_limit
        self.burst = burst
        self.base_url = ""
        self.final_stats: dict[str, int] = {}  # what the simulator served, read when it stops
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [
                str(PROJECT_PYTHON),
                str(BENCH / "studio_server.py"),
                "--latency",
                repr(self.latency),
                "--inner-count",
                str(self.inner_count),
                "--api-key",
                API_KEY,
                *(() if self.rate_limit is None else ("--rate-limit", repr(self.rate_limit))),
                *(() if self.burst is None else ("--burst", repr(self.burst))),
            ],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=child_env(),
            text=True,
        )
        stdout: IO[str] | None = self._proc.stdout
        line = stdout.readline() if stdout is not None else ""
        if not line.startswith("base_url="):
            self._stop()
            raise RuntimeError(f"the simulator did not start (it printed {line!r})")
        self.base_url = line.strip().removeprefix("base_url=")
        return self

    def cpu_seconds(self) -> float:
        """Return the CPU seconds the simulator process has used so far."""
        assert self._proc is not None
        return process_cpu_seconds(self._proc.pid)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            for line in proc.stdout.read().splitlines():
                if line.startswith("stats="):
                    self.final_stats = json.loads(line.removeprefix("stats="))
            proc.stdout.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()


class Stats:
    """Median, min and max of some measurements."""

    def __init__(self, values: Sequence[float]) -> None:
        if not values:
            raise ValueError("no measurements")
        self.values = list(values)
        self.median = statistics.median(values)
        self.min = min(values)
        self.max = max(values)
        self.n = len(values)


def month_bounds(first_year: int, first_month: int, count: int) -> list[tuple[str, str]]:
    """Return ``count`` consecutive months as wire timestamps (``startDate``, ``endDate``).

    Hand-built for the raw httpx baselines: ``YYYY-MM-01T00%3A00%3A00.000Z``, percent-encoded as
    httpx encodes the client's query parameters.
    """
    bounds = []
    year, month = first_year, first_month
    for _ in range(count):
        next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        bounds.append(
            (
                f"{year:04d}-{month:02d}-01T00%3A00%3A00.000Z",
                f"{next_year:04d}-{next_month:02d}-01T00%3A00%3A00.000Z",
            )
        )
        year, month = next_year, next_month
    return bounds


def month_label(first_year: int, first_month: int, offset: int) -> str:
    """Return the month ``offset`` months after the first, as ``YYYY-MM``."""
    index = first_year * 12 + first_month - 1 + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def emit(result: Mapping[str, Any]) -> None:
    """Print a child's result as one JSON line on stdout (the parent reads the last line)."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


BASELINE_COMMIT = "22e9d0b"
"""The last commit of 0.1.0's code (never tagged): the "today" the benchmarks compare with."""
BASELINE_TREE = BENCH / ".cache" / f"baseline-{BASELINE_COMMIT}"


def baseline_env() -> dict[str, str] | None:
    """Return the environment that makes a child import 0.1.0's ei_usage, or None if unavailable.

    The baseline is extracted once from git (``git archive``) into ``bench/.cache``; its
    ``wrapper`` and ``generated`` folders go first on ``PYTHONPATH``, ahead of the editable
    install of the current code.
    """
    if not (BASELINE_TREE / "wrapper" / "ei_usage").is_dir():
        BASELINE_TREE.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", BASELINE_COMMIT, "wrapper", "generated"],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            return None
        subprocess.run(["tar", "-x", "-C", str(BASELINE_TREE)], input=archive.stdout, check=True)
    paths = [str(BASELINE_TREE / "wrapper"), str(BASELINE_TREE / "generated")]
    return {"PYTHONPATH": os.pathsep.join(paths), "EI_BENCH_BASELINE": "1"}
