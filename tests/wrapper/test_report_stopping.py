"""Reports that stop early: an unreachable server, Ctrl-C, and bugs that must not lose rows.

The Ctrl-C tests really deliver SIGINT to the main thread while a sync report waits on a server
that asked for ``Retry-After: 15``: the report must raise ``ReportInterrupted`` with what it had,
promptly, and send nothing more. Their time bounds are hang guards, far from the 15 s a worker
used to keep sleeping.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from typing import Any

import httpcore
import httpx
import pytest

import ei_usage._client as client_module
import ei_usage._plan as plan_module
from ei_usage import (
    APIConnectionError,
    AsyncClient,
    Client,
    ComputeTime,
    DateRange,
    EdgeImpulseError,
    Report,
    ReportError,
    ReportInterrupted,
)
from ei_usage import _parse as parse_module
from ei_usage import _report as report_module
from ei_usage import _runner as runner
from ei_usage import _transport as transport_module
from ei_usage.testing import FakeStudio, Fault

from .hostile import closed_port, hostile, read_head

KEY = "report-stop-key"
GUARD = 8.0


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fast(_: float) -> None:
        await asyncio.sleep(0)

    monkeypatch.setattr(client_module, "_sleep", lambda seconds, stop=None: None)
    monkeypatch.setattr(client_module, "_async_sleep", fast)


# ---- an unreachable server ---------------------------------------------------------------------


@pytest.mark.usefixtures("no_sleep")
def test_a_dead_server_stops_the_report_early() -> None:
    # Before: a 10x12 report against a closed port made 120 requests (x4 attempts) in 42 s.
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with Client(KEY, base_url=url) as client:
        report = client.compute_time_report(1, range(2, 12), "2024", concurrency=2)
    assert report.rows == ()
    assert 5 <= len(report.errors) <= 6  # the 5 in a row, and at most one other in flight
    assert len(report.errors) + len(report.not_attempted) == 120
    assert report.stop_reason is not None
    assert "unreachable" in report.stop_reason
    assert not report.ok
    causes = report.failures_by_cause()
    assert len(causes) == 1
    ((cause, failures),) = causes.items()
    assert failures == report.errors
    assert cause.startswith("APIConnectionError: connection failed")
    with pytest.raises(ReportError, match=r"not attempted: the server looks unreachable"):
        report.raise_for_errors()


@pytest.mark.usefixtures("no_sleep")
def test_a_dead_server_stops_an_async_report_early() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"

    async def run() -> Report:
        async with AsyncClient(KEY, base_url=url) as client:
            return await client.compute_time_report(1, range(2, 12), "2024", concurrency=4)

    report = asyncio.run(asyncio.wait_for(run(), 30))
    assert report.rows == ()
    assert 5 <= len(report.errors) < 120
    assert len(report.errors) + len(report.not_attempted) == 120
    assert report.stop_reason is not None


@pytest.mark.usefixtures("no_sleep")
def test_successes_between_connection_failures_keep_the_report_going() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls % 4 == 0:
            return httpx.Response(
                200,
                json={"success": True, "cpuComputeTime": 1, "gpuComputeTime": 0},
            )
        raise httpx.ConnectError("refused")

    with Client(KEY, transport=httpx.MockTransport(handler), max_retries=0) as client:
        report = client.compute_time_report(1, range(2, 6), "2024", concurrency=1)
    assert report.not_attempted == ()
    assert report.stop_reason is None
    assert len(report.rows) == 12
    assert len(report.errors) == 36


# ---- bugs do not lose rows --------------------------------------------------------------------


def test_an_unexpected_exception_is_recorded_and_the_rest_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = parse_module.compute_time

    def sometimes_broken(body: Any, request: Any, **kwargs: Any) -> ComputeTime:
        if kwargs["inner_organization_id"] == 3:
            raise OverflowError("a bug in the parser")
        return original(body, request, **kwargs)

    monkeypatch.setattr(parse_module, "compute_time", sometimes_broken)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"success": True, "cpuComputeTime": 1, "gpuComputeTime": 1})

    for concurrency in (1, 4):
        with Client(KEY, transport=httpx.MockTransport(handler)) as client:
            report = client.compute_time_report(
                1, [2, 3, 4], "2024-01..2024-02", concurrency=concurrency
            )
        assert [r.inner_organization_id for r in report.rows] == [2, 2, 4, 4]
        assert [f.inner_organization_id for f in report.errors] == [3, 3]
        error = report.errors[0].error
        assert type(error) is EdgeImpulseError
        assert "unexpected OverflowError: a bug in the parser" in error.message
        assert isinstance(error.__cause__, OverflowError)


def test_an_unexpected_exception_in_an_async_report_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = parse_module.compute_time

    def sometimes_broken(body: Any, request: Any, **kwargs: Any) -> ComputeTime:
        if kwargs["inner_organization_id"] == 3:
            raise ValueError("a bug")
        return original(body, request, **kwargs)

    monkeypatch.setattr(parse_module, "compute_time", sometimes_broken)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"success": True, "cpuComputeTime": 1})

    async def run() -> Report:
        async with AsyncClient(KEY, transport=httpx.MockTransport(handler)) as client:
            return await client.compute_time_report(1, [2, 3, 4], "2024-01")

    report = asyncio.run(asyncio.wait_for(run(), 30))
    assert [r.inner_organization_id for r in report.rows] == [2, 4]
    assert [f.inner_organization_id for f in report.errors] == [3]


def test_assembled_report_lists_what_was_not_done() -> None:
    plan = plan_module.compute_time(1, [2, 3], DateRange.parse("2024-01..2024-02"), "month")
    row = ComputeTime(1, 2, DateRange.month(2024, 1), None, None, None)
    report = report_module.assemble(plan, plan.jobs(), [row, None, None, None], "interrupted")
    assert report.not_attempted == (
        (2, DateRange.month(2024, 2)),
        (3, DateRange.month(2024, 1)),
        (3, DateRange.month(2024, 2)),
    )
    assert report.stop_reason == "interrupted"
    complete = report_module.assemble(
        plan, plan.jobs(), [row] * 4, "ignored when nothing is missing"
    )
    assert complete.stop_reason is None
    assert complete.ok


# ---- Ctrl-C --------------------------------------------------------------------------------------


def _slow_down_after(first: int) -> Any:
    """A server that answers ``first`` requests, then 429 with Retry-After: 15 to the rest."""
    body = b'{"success":true,"cpuComputeTime":60,"gpuComputeTime":0,"totalComputeTime":1}'
    limited = b'{"success":false,"error":"slow down"}'

    def script(conn: socket.socket, number: int) -> None:
        while True:
            head = read_head(conn, timeout=30)
            if not head:
                return
            with lock:
                counter[0] += 1
                n = counter[0]
            if n <= first:
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            else:
                conn.sendall(
                    b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 15\r\n"
                    b"content-type: application/json\r\n"
                    + f"content-length: {len(limited)}\r\n\r\n".encode()
                    + limited
                )

    lock = threading.Lock()
    counter = [0]
    script.counter = counter  # type: ignore[attr-defined]
    return script


def _interrupt_when(condition: Any) -> threading.Thread:
    main = threading.main_thread().ident
    assert main is not None

    def watch() -> None:
        deadline = time.monotonic() + 20
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # let the workers settle into their 15 s waits
        signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.real_pacing  # the client-wide Retry-After pause must really hold every worker
@pytest.mark.skipif(os.name != "posix", reason="delivers SIGINT with pthread_kill")
def test_ctrl_c_stops_a_sync_report_promptly_and_keeps_its_rows() -> None:
    script = _slow_down_after(first=6)
    with hostile(script) as server, Client(KEY, base_url=server.base_url, max_retries=3) as client:
        # After the first 429 the whole client waits out its Retry-After of 15 s: interrupt then.
        watcher = _interrupt_when(lambda: script.counter[0] >= 7)
        started = time.monotonic()
        with pytest.raises(ReportInterrupted) as info:
            client.compute_time_report(1, range(2, 12), "2024", concurrency=4)
        interrupted_at = time.monotonic()
        watcher.join(5)
        seen_at_interrupt = script.counter[0]
        time.sleep(0.5)  # anything still scheduled would show up now
        assert script.counter[0] == seen_at_interrupt  # nothing more was sent
    assert interrupted_at - started < GUARD  # before: 43 s of sleeping on after Ctrl-C
    report = info.value.report
    assert len(report.rows) == 6
    assert report.stop_reason == "interrupted (Ctrl-C)"
    assert len(report.rows) + len(report.errors) + len(report.not_attempted) == 120
    assert isinstance(info.value, KeyboardInterrupt)


@pytest.mark.skipif(os.name != "posix", reason="delivers SIGINT with pthread_kill")
def test_ctrl_c_during_reads_stops_in_flight_requests() -> None:
    release = threading.Event()
    arrived = [0]

    def stalls(conn: socket.socket, number: int) -> None:
        read_head(conn)
        arrived[0] += 1
        release.wait(30)

    with hostile(stalls) as server:
        try:
            with Client(KEY, base_url=server.base_url, timeout=30) as client:
                _interrupt_when(lambda: arrived[0] >= 3)
                started = time.monotonic()
                with pytest.raises(ReportInterrupted) as info:
                    client.compute_time_report(1, [2, 3, 4], "2024-01", concurrency=3)
                assert time.monotonic() - started < GUARD  # reads wait 30 s otherwise
        finally:
            release.set()
    assert info.value.report.rows == ()
    assert len(info.value.report.not_attempted) == 3


def test_a_worker_that_passed_every_check_sends_nothing_after_ctrl_c(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The flaky `assert 10 == 9` above: a worker had checked the stop flag, connected, and was
    # descheduled before writing its request; Ctrl-C came, and then it sent. Here that worker is
    # held right after connecting (past every check) until the run is stopped.
    held, parked = [False], threading.Event()
    connect = httpcore._backends.sync.SyncBackend.connect_tcp

    def connect_then_stall(self: Any, *args: Any, **kwargs: Any) -> Any:
        stream = connect(self, *args, **kwargs)
        attempt = transport_module.ATTEMPT.get()
        if attempt is not None and attempt.stop is not None and not held[0]:
            held[0] = True
            parked.set()
            attempt.stop.wait(GUARD)  # until Ctrl-C stops the run
        return stream

    monkeypatch.setattr(httpcore._backends.sync.SyncBackend, "connect_tcp", connect_then_stall)

    def progress(done: int, total: int) -> None:
        assert parked.wait(GUARD)
        raise KeyboardInterrupt  # on the main thread, as a SIGINT would

    with FakeStudio(api_key=KEY) as studio, Client(KEY, base_url=studio.base_url) as client:
        with pytest.raises(ReportInterrupted) as info:
            client.compute_time_report(1, [2, 3], "2024-01", concurrency=2, on_progress=progress)
        sent = list(studio.requests)
    assert held[0]
    assert len(sent) == 1  # before: 2, the held worker's request went out after Ctrl-C
    report = info.value.report
    assert len(report.rows) == 1
    assert len(report.not_attempted) == 1
    assert report.errors == ()


def test_interrupting_a_fake_studio_report_keeps_what_it_fetched() -> None:
    # The same through FakeStudio, with the interrupt raised by the progress callback (as a
    # user's own code might), after 5 rows.
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=15), times=1)

        def progress(done: int, total: int) -> None:
            if done == 5:
                raise KeyboardInterrupt

        with (
            Client(KEY, base_url=studio.base_url) as client,
            pytest.raises(ReportInterrupted) as info,
        ):
            client.compute_time_report(1, [2, 3], "2024", concurrency=2, on_progress=progress)
    report = info.value.report
    assert len(report.rows) >= 4  # one of the first five may be the one rate limited
    assert len(report.rows) + len(report.errors) + len(report.not_attempted) == 24
    assert report.not_attempted


def test_report_interrupted_is_not_swallowed_by_except_exception() -> None:
    caught: list[str] = []
    try:
        try:
            plan = plan_module.compute_time(1, [2], DateRange.month(2024, 1), "month")
            raise ReportInterrupted(report_module.assemble(plan, plan.jobs(), [None]))
        except Exception:
            caught.append("exception")
    except KeyboardInterrupt:
        caught.append("keyboard interrupt")
    assert caught == ["keyboard interrupt"]


def test_connection_errors_count_toward_the_breaker_only_when_final() -> None:
    breaker = runner.Breaker(2)
    period = DateRange.month(2024, 1)
    failure = APIConnectionError("refused")
    row = ComputeTime(1, 2, period, None, None, None)
    assert breaker.record(failure) is False
    assert breaker.record(row) is False  # a success resets the streak
    assert breaker.record(failure) is False
    assert breaker.record(None) is False  # a stopped call neither counts nor resets
    assert breaker.record(failure) is True
    assert breaker.reason is not None
