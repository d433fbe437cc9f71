"""The command line when things go wrong: Ctrl-C, closed pipes, dead servers, configuration.

Ctrl-C and broken-pipe tests run the real entry point in a subprocess (``cli.start``); every run
is checked by the conftest for a traceback and for a leaked credential.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest

from ei_usage import Client, Report
from ei_usage.testing import FakeStudio, Fault, Operation

from ..hostile import closed_port  # noqa: TID252 - the shared test helper
from .conftest import SECRET, Cli, clean_environ

GUARD = 20.0


def compute(*ids: int, period: str, **options: str) -> list[str]:
    args = ["compute-time", "--org", "1", *(f"--inner-org={i}" for i in ids), "--period", period]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    return args


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(
        importlib.import_module("ei_usage._client"),
        "_sleep",
        lambda seconds, stop=None: recorded.append(seconds),
    )
    return recorded


# ---- Ctrl-C -------------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_ctrl_c_prints_what_was_fetched_marked_partial_and_exits_130(
    cli: Cli, studio: FakeStudio, fmt: str
) -> None:
    studio.latency = 0.2
    running = cli.start(*compute(2, 3, period="2024", concurrency="2", format=fmt))
    deadline = time.monotonic() + GUARD
    # Three answers logged (a request is logged before its latency) with two in flight: at least
    # one answered. The listing's requests (two: with and without deleted ones) do not count.
    while (
        len(
            [
                r
                for r in studio.requests
                if r.status == 200 and r.operation is Operation.COMPUTE_TIME
            ]
        )
        < 3
    ):
        assert time.monotonic() < deadline, "the command never got going"
        time.sleep(0.02)
    running.process.send_signal(signal.SIGINT)
    sent_at_interrupt = len(studio.requests)
    outcome = running.wait()
    assert outcome.code == 130, outcome.stderr
    assert "Aborted!" not in outcome.stderr
    time.sleep(0.3)
    # At most the requests already on the wire finish; nothing new is sent after Ctrl-C.
    assert len(studio.requests) <= sent_at_interrupt + 2
    assert "not attempted: interrupted (Ctrl-C)" in outcome.stderr
    if fmt == "table":
        assert "PARTIAL" in outcome.stdout
        assert "2024-01" in outcome.stdout
    else:
        data = json.loads(outcome.stdout)
        assert data["complete"] is False
        assert data["stop_reason"] == "interrupted (Ctrl-C)"
        report = Report.from_json(outcome.stdout)
        assert report.rows  # the studio logs a request before its latency: count answers here
        assert len(report.rows) + len(report.not_attempted) + len(report.errors) == 24


def _read_until_main_imports(running: Any) -> bytes:
    """Read the child's stderr (``-X importtime`` lines) until main() has imported something.

    A SIGINT sent a fixed time after start used to land, on a loaded machine, in the
    interpreter's own start-up (importing ``site``): a traceback from Python, before any code
    of ours runs. Anchored here, it lands where ei-usage answers for it. Read with os.read, not
    the pipe's buffered reader, so that ``communicate()`` later gets every byte after these.
    """
    stream = running.process.stderr
    assert stream is not None
    seen = b""
    deadline = time.monotonic() + GUARD
    marker = b"| ei_usage.cli\n"
    while not (marker in seen and seen.split(marker, 1)[1].count(b"\n") >= 1):
        assert time.monotonic() < deadline, seen.decode()
        chunk = os.read(stream.fileno(), 4096)
        assert chunk, f"the command ended before main() started: {seen.decode()}"
        seen += chunk
    return seen


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3])
def test_ctrl_c_while_starting_up_prints_no_traceback(cli: Cli, delay: float) -> None:
    running = cli.start(*compute(2, period="2024-05"), env={"PYTHONPROFILEIMPORTTIME": "1"})
    before = _read_until_main_imports(running)
    time.sleep(delay)
    running.process.send_signal(signal.SIGINT)
    outcome = running.wait()  # the conftest fails the test on any traceback
    assert b"Traceback" not in before
    assert outcome.code in (130, 0), outcome.stderr
    if outcome.code == 130:
        assert any("interrupted" in line for line in outcome.stderr_lines), outcome.stderr


# What runs before main() can guard: importing ei_usage and ei_usage.cli. A Ctrl-C then printed
# a traceback from `import typing` (2 runs in 3 on a loaded machine); now they import nothing.
_IMPORTED_BEFORE_MAIN = """
import sys
before = set(sys.modules)
import ei_usage.cli
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_nothing_is_imported_before_main_can_guard_against_ctrl_c() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED_BEFORE_MAIN],
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ei_usage", "ei_usage._version", "ei_usage.cli"]


# Delivers a real SIGINT from inside the n-th import that main() makes (argv[1]); without one
# (n = 0), prints how many imports there were.
_INTERRUPT_AT_IMPORT = """
import os, signal, sys
import ei_usage.cli

n, seen = int(sys.argv[1]), [0]

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        seen[0] += 1
        if seen[0] == n:
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupt())
try:
    ei_usage.cli.main(["--version"])
finally:
    if n == 0:
        sys.stderr.write(f"imports: {seen[0]}\\n")
"""


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_at_any_import_after_main_starts_exits_130_quietly() -> None:
    def start(n: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _INTERRUPT_AT_IMPORT, str(n)],
            env=clean_environ(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    counted = start(0)
    assert counted.returncode == 0, counted.stderr
    imports = int(counted.stderr.split("imports: ")[1])
    assert imports > 50  # click, rich, httpx...
    for n in sorted({1, 2, 3, imports // 4, imports // 2, imports - 1, imports}):
        outcome = start(n)
        assert (outcome.returncode, outcome.stderr) == (130, "ei-usage: interrupted\n"), n
        assert outcome.stdout == ""


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_a_process_started_with_ctrl_c_ignored_keeps_ignoring_it() -> None:
    # A shell starts a background job (`ei-usage check ... &` in a script) with SIGINT ignored:
    # the terminal's Ctrl-C is not for it, and main() must not take it back.
    for n in (1, 3, 10):
        outcome = subprocess.run(
            [sys.executable, "-c", _INTERRUPT_AT_IMPORT, str(n)],
            env=clean_environ(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        assert (outcome.returncode, outcome.stderr) == (0, ""), n
        assert outcome.stdout.startswith("ei-usage, version ")


# ---- a closed pipe ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_closed_pipe_exits_141_quietly_for_every_format(cli: Cli, fmt: str) -> None:
    env = clean_environ()
    env.update(cli.env())  # type: ignore[arg-type]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ei_usage.cli",
            *compute(*range(2, 12), period="2024"),
            "--format",
            fmt,
        ],
        env={k: v for k, v in env.items() if v is not None},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    process.stdout.close()  # like `| head -0`: the reader is gone before the first line
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 141, stderr.decode()
    assert stderr.decode() == ""


# ---- configuration ------------------------------------------------------------------------------


def test_a_base_url_without_the_api_root_gets_v1(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke(
        *compute(2, period="2024-05", format="json"), env={"EI_BASE_URL": studio.url}
    )
    assert outcome.code == 0, outcome.stderr
    assert studio.requests[0].path.startswith("/v1/api/organizations/1/")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_allow_insecure_http_reaches_the_client(
    cli: Cli, studio: FakeStudio, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://usage.studio.internal/v1"
    refused = cli.invoke("metrics", "--org", "1", env={"EI_BASE_URL": url})
    assert refused.code == 2
    assert "refusing plain http:// to usage.studio.internal" in refused.stderr

    seen: list[dict[str, Any]] = []
    original = Client.from_env.__func__  # type: ignore[attr-defined]

    def recording(cls: type[Client], environ: Any = None, **kwargs: Any) -> Client:
        seen.append(kwargs)
        original(cls, environ, **kwargs)  # the checks a real run makes
        # Reach the studio instead of resolving the made-up host (tests stay on loopback).
        client: Client = original(cls, environ, **{**kwargs, "base_url": studio.base_url})
        return client

    monkeypatch.setattr(Client, "from_env", classmethod(recording))
    if how == "flag":
        outcome = cli.invoke(
            "metrics", "--org", "1", "--allow-insecure-http", env={"EI_BASE_URL": url}
        )
    else:
        outcome = cli.invoke(
            "metrics", "--org", "1", env={"EI_BASE_URL": url, "EI_ALLOW_INSECURE_HTTP": "1"}
        )
    assert outcome.code == 0, outcome.stderr
    assert seen[-1] == {"allow_insecure_http": True}


def test_a_period_shorter_than_a_millisecond_is_a_usage_error(cli: Cli, studio: FakeStudio) -> None:
    period = "2024-05-01T00:00:00.000100Z..2024-05-01T00:00:00.000900Z"
    outcome = cli.invoke(*compute(2, period=period))
    assert outcome.code == 2
    assert "millisecond resolution" in outcome.stderr
    assert studio.requests == []


# ---- --verbose ----------------------------------------------------------------------------------


def test_verbose_shows_retries_and_timings_but_no_credential(cli: Cli, studio: FakeStudio) -> None:
    studio.inject(Fault.rate_limited(retry_after=0, message=f"slow down {SECRET}"))
    outcome = cli.start("metrics", "--org", "1", "--format", "json", "--verbose").wait()
    assert outcome.code == 0, outcome.stderr
    lines = outcome.stderr_lines
    assert any(
        "retrying when the rate allows" in line and "slow down ***" in line for line in lines
    ), lines
    assert any("the server is rate limiting" in line for line in lines), lines
    assert any(
        line.startswith("ei-usage: GET http://")
        and "-> 200 in" in line
        and "after 1 retries" in line
        for line in lines
    ), lines


def test_without_verbose_successes_are_silent(cli: Cli) -> None:
    outcome = cli.invoke("metrics", "--org", "1", "--format", "json")
    assert outcome.code == 0
    assert outcome.stderr == ""


# ---- reports that fail at scale -----------------------------------------------------------------


def test_a_thousand_identical_failures_are_one_line(
    cli: Cli, studio: FakeStudio, waits: list[float]
) -> None:
    studio.inject(
        Fault.server_error(501, message="Not implemented today"),
        times=1500,
        operation=Operation.COMPUTE_TIME,
    )
    outcome = cli.invoke(*compute(*range(2, 12), period="2020-01..2032-06", concurrency="16"))
    assert outcome.code == 1
    assert outcome.stderr_lines == [
        "ei-usage: 1,500 of 1,500 requests failed:",
        "  1,500 requests, inner orgs 2, 3, 4, 5, 6 and 5 more: ServerError 501: "
        "Not implemented today",
    ]
    assert outcome.stdout == ""


def test_a_dead_server_is_one_line_not_120(cli: Cli, waits: list[float]) -> None:
    # The command lists the white label first (for names): it fails there, once.
    url = f"http://127.0.0.1:{closed_port()}/v1"
    started = time.monotonic()
    outcome = cli.invoke(*compute(*range(2, 12), period="2024"), env={"EI_BASE_URL": url})
    assert time.monotonic() - started < GUARD
    assert outcome.code == 1
    (line,) = outcome.stderr_lines
    assert line.startswith("ei-usage: error: connection failed")
    assert outcome.stdout == ""


def test_a_report_that_loses_its_server_midway_stops_with_a_line_per_cause(
    cli: Cli, studio: FakeStudio, waits: list[float]
) -> None:
    # The listing works; then every compute-time request hangs up without an answer.
    studio.inject(Fault.drop_connection(), times=10_000, operation=Operation.COMPUTE_TIME)
    outcome = cli.invoke(*compute(*range(2, 12), period="2024", concurrency="2"))
    assert outcome.code == 1
    lines = outcome.stderr_lines
    assert "of 120 requests failed:" in lines[0]
    assert "APIConnectionError: connection failed" in lines[1]
    assert "requests not attempted: the server looks unreachable" in lines[2]
    assert len(lines) == 3
    assert len([r for r in studio.requests if r.operation is Operation.COMPUTE_TIME]) < 40


# ---- one report format ---------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["seconds", "minutes", "hours"])
def test_cli_json_reads_back_with_report_from_json(cli: Cli, studio: FakeStudio, unit: str) -> None:
    outcome = cli.invoke(*compute(2, 3, 4, period="2024", format="json", unit=unit))
    assert outcome.code == 0, outcome.stderr
    report = Report.from_json(outcome.stdout)
    with Client(SECRET, base_url=studio.base_url) as client:
        direct = client.compute_time_report(1, [2, 3, 4], "2024", with_names=True)
    assert report.period == direct.period
    assert report.inner_organization_ids == direct.inner_organization_ids
    assert [r.period for r in report.rows] == [r.period for r in direct.rows]
    tolerance = timedelta(microseconds=0 if unit == "seconds" else 2)
    for got, want in zip(report.rows, direct.rows, strict=True):
        for name in ("cpu", "gpu", "total"):
            a, b = getattr(got, name), getattr(want, name)
            assert abs(a - b) <= tolerance, (name, a, b)
    if unit == "seconds":
        assert report == direct
    # And the library writes what the CLI writes.
    assert json.loads(direct.to_json(unit)) == json.loads(outcome.stdout)


def test_csv_carries_the_totals_the_table_shows(cli: Cli) -> None:
    csv_out = cli.invoke(*compute(2, 3, period="2024-Q2", format="csv", unit="hours")).stdout
    json_out = json.loads(
        cli.invoke(*compute(2, 3, period="2024-Q2", format="json", unit="hours")).stdout
    )
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_out)))
    totals = {r["inner_organization_id"]: r for r in rows if r["kind"] == "total"}
    (overall,) = [r for r in rows if r["kind"] == "overall"]
    for inner, want in json_out["totals"]["by_inner_organization"].items():
        for name in ("cpu", "gpu", "total"):
            assert float(totals[inner][name]) == want[name]
        assert totals[inner]["start"] == "2024-04-01T00:00:00Z"
    for name in ("cpu", "gpu", "total"):
        assert float(overall[name]) == json_out["totals"]["overall"][name]
    assert overall["inner_organization_id"] == ""
