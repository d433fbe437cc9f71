"""Throttling that never ends: reports stop in a few requests; a refused wait pauses nobody else.

Run on the virtual clock of ``tests/conftest.py`` (``virtual_pacing``): the pacing waits move a
clock instead of the test, so these count requests and virtual seconds, never wall time.
Before, a server answering 429 forever cost each row ten tries at the floor rate (about 100 s)
with no end, and every ``Retry-After`` the client refused still paused it for 60 s.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest

from ei_usage import AsyncClient, Client, EntitlementReport, RateLimitError, Report
from ei_usage._ratelimit import MIN_RATE, THROTTLE_STOP_ROUNDS, THROTTLE_STOP_SECONDS
from ei_usage.testing import FakeStudio, Fault, Operation

KEY = "throttle-budget-key"
client_module = importlib.import_module("ei_usage._client")
FOREVER = 1_000_000
# At most this many requests against a server that throttles for ever: a round of the budget is
# at most one request per worker (8), plus the workers' requests in flight when the budget runs
# out, whatever the number of organizations (before: 11 each). How many rounds a burst spans
# depends on scheduling (a loaded machine spreads it), so the bound is the construction's.
REQUEST_BOUND = 8 * (THROTTLE_STOP_ROUNDS + 1)
# ...and at most this many virtual seconds (one worker): the time budget, and the wait at the
# floor rate of the request that found it spent, and of the one before.
TIME_BOUND = THROTTLE_STOP_SECONDS + 2 / MIN_RATE


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every pacing wait, on top of the virtual clock of ``virtual_pacing``."""
    recorded: list[float] = []
    pace, async_pace = client_module._pace, client_module._async_pace

    def recording_pace(seconds: float, stop: Any = None) -> None:
        recorded.append(seconds)
        pace(seconds, stop)

    async def recording_async_pace(seconds: float) -> None:
        recorded.append(seconds)
        await async_pace(seconds)

    monkeypatch.setattr(client_module, "_pace", recording_pace)
    monkeypatch.setattr(client_module, "_async_pace", recording_async_pace)
    return recorded


def check(studio: FakeStudio, mode: str) -> EntitlementReport:
    if mode == "sync":
        with Client(KEY, base_url=studio.base_url) as client:
            return client.entitlement_report(1, concurrency=8)

    async def run() -> EntitlementReport:
        async with AsyncClient(KEY, base_url=studio.base_url) as client:
            return await client.entitlement_report(1, concurrency=8)

    return asyncio.run(run())


def compute(studio: FakeStudio, mode: str) -> Report:
    if mode == "sync":
        with Client(KEY, base_url=studio.base_url) as client:
            return client.compute_time_report(1, range(2, 12), "2024")

    async def run() -> Report:
        async with AsyncClient(KEY, base_url=studio.base_url) as client:
            return await client.compute_time_report(1, range(2, 12), "2024")

    return asyncio.run(run())


# ---- a server that throttles for ever ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("retry_after", [0, None])
def test_a_check_against_a_server_that_always_throttles_stops_after_a_few_requests(
    mode: str, retry_after: int | None
) -> None:
    # Before: 11 requests and ~100 s per organization, 7 h for 250 of them.
    with FakeStudio(api_key=KEY, inner_organizations=100) as studio:
        with Client(KEY, base_url=studio.base_url) as client:
            listed = len(list(client.inner_organizations(1)))
        studio.inject(
            Fault.rate_limited(retry_after=retry_after),
            times=FOREVER,
            operation=Operation.ORGANIZATION_INFO,
        )
        report = check(studio, mode)
        sent = [r for r in studio.requests if r.operation is Operation.ORGANIZATION_INFO]
    assert report.rows == ()
    assert report.stop_reason is not None
    assert report.stop_reason.startswith("the server kept answering 429 (too many requests)")
    assert report.errors  # the request that ran out of patience, and any finishing with it
    assert all(isinstance(f.error, RateLimitError) for f in report.errors)
    assert len(report.errors) + len(report.not_attempted) == listed
    assert len(sent) <= REQUEST_BOUND


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_compute_time_report_against_a_server_that_always_throttles_stops(mode: str) -> None:
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=None), times=FOREVER)
        report = compute(studio, mode)
        sent = len(studio.requests)
    assert report.rows == ()
    assert report.stop_reason is not None
    assert "kept answering 429" in report.stop_reason
    assert len(report.errors) + len(report.not_attempted) == 120
    assert sent <= REQUEST_BOUND


@pytest.mark.parametrize("retry_after", [0, None, 1, 60])
def test_throttling_for_ever_is_given_up_on_within_the_time_budget(
    retry_after: int | None,
) -> None:
    # One worker, so that the virtual clock is the schedule's (the waits of several threads
    # would add up on it).
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=retry_after), times=FOREVER)
        started = client_module._clock()
        with Client(KEY, base_url=studio.base_url) as client:
            report = client.compute_time_report(1, range(2, 12), "2024", concurrency=1)
        elapsed = client_module._clock() - started
        sent = len(studio.requests)
    assert report.stop_reason is not None
    assert "kept answering 429" in report.stop_reason
    assert elapsed <= TIME_BOUND
    assert sent <= THROTTLE_STOP_ROUNDS + 1


def test_throttling_that_ends_costs_no_row() -> None:
    # As many 429s as one request retries, then answers: the budget is not spent, every row
    # arrives.
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=1), times=client_module.THROTTLE_RETRIES)
        with Client(KEY, base_url=studio.base_url) as client:
            report = client.compute_time_report(1, [2], "2024", concurrency=1)
    assert report.ok
    assert len(report.rows) == 12


def test_a_single_call_gives_up_on_a_server_that_always_throttles() -> None:
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=0), times=FOREVER)
        with Client(KEY, base_url=studio.base_url) as client, pytest.raises(RateLimitError):
            client.compute_time_by_period(1, 2, "2024")
        assert len(studio.requests) <= THROTTLE_STOP_ROUNDS + 1


# ---- a Retry-After the client refuses ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_refused_retry_after_pauses_no_other_request(mode: str, pauses: list[float]) -> None:
    # Before: 10 organizations for a year took 546 s, a 60 s pause for each refused wait.
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=3600), times=FOREVER)
        report = compute(studio, mode)
    assert sum(pauses) == 0.0
    assert report.rows == ()
    assert report.errors
    for failure in report.errors:
        assert isinstance(failure.error, RateLimitError)
        assert failure.error.retry_after is not None
        assert failure.error.retry_after.total_seconds() == 3600
    assert len(report.errors) + len(report.not_attempted) == 120


def test_a_refused_wait_raises_for_its_call_only(pauses: list[float]) -> None:
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=3600), times=1)
        with Client(KEY, base_url=studio.base_url) as client:
            with pytest.raises(RateLimitError):
                client.compute_time(1, 2, "2024-01")
            assert client.compute_time(1, 3, "2024-01").inner_organization_id == 3
            stats = client.rate_stats()
    assert pauses == []  # before: [0.5] * 120, the client paused for 60 s
    assert stats.throttles == 1
    assert stats.rate_per_second is None
    assert stats.pause_remaining_seconds == 0.0


async def _async_refused(studio: FakeStudio) -> int:
    async with AsyncClient(KEY, base_url=studio.base_url) as client:
        with pytest.raises(RateLimitError):
            await client.compute_time(1, 2, "2024-01")
        usage = await client.compute_time(1, 3, "2024-01")
        return usage.inner_organization_id


def test_a_refused_wait_raises_for_its_async_call_only(pauses: list[float]) -> None:
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=3600), times=1)
        assert asyncio.run(_async_refused(studio)) == 3
    assert pauses == []
