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

from ei_usage import (
    AsyncClient,
    Client,
    EntitlementReport,
    RateLimitError,
    RateStats,
    Report,
    ServerError,
)
from ei_usage._ratelimit import (
    FIRST_ANSWER_STOP_SECONDS,
    MIN_RATE,
    THROTTLE_STOP_ROUNDS,
    THROTTLE_STOP_SECONDS,
)
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


# ---- a client that has never had another answer: give up within 30 s -----------------------------


def _elapsed_report(studio: FakeStudio, mode: str, **client_args: Any) -> tuple[Report, float]:
    """A report of 100 organizations by id (no listing first), one worker; virtual seconds."""
    started = client_module._clock()
    if mode == "sync":
        with Client(KEY, base_url=studio.base_url, **client_args) as client:
            report = client.compute_time_report(1, range(2, 102), "2024-01", concurrency=1)
    else:

        async def run() -> Report:
            async with AsyncClient(KEY, base_url=studio.base_url, **client_args) as client:
                return await client.compute_time_report(1, range(2, 102), "2024-01", concurrency=1)

        report = asyncio.run(run())
    return report, client_module._clock() - started


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("retry_after", [0, None])
def test_a_fresh_client_against_a_server_that_only_throttles_gives_up_within_30_s(
    mode: str, retry_after: int | None
) -> None:
    # Before: 12 rounds at the 0.1 req/s floor, about 100 virtual seconds.
    with FakeStudio(api_key=KEY, inner_organizations=110) as studio:
        studio.inject(Fault.rate_limited(retry_after=retry_after), times=FOREVER)
        report, elapsed = _elapsed_report(studio, mode)
        sent = len(studio.requests)
    assert report.rows == ()
    assert report.stop_reason is not None
    assert report.stop_reason.startswith("the server kept answering 429 (too many requests)")
    assert "no other answer since this client started" in report.stop_reason
    assert len(report.errors) + len(report.not_attempted) == 100
    assert elapsed <= FIRST_ANSWER_STOP_SECONDS
    assert sent <= THROTTLE_STOP_ROUNDS + 1


def test_a_fresh_client_honours_one_long_retry_after_then_gives_up() -> None:
    with FakeStudio(api_key=KEY, inner_organizations=110) as studio:
        studio.inject(Fault.rate_limited(retry_after=45), times=FOREVER)
        report, elapsed = _elapsed_report(studio, "sync")
        sent = len(studio.requests)
    assert report.stop_reason is not None
    assert "no other answer since this client started" in report.stop_reason
    assert sent == 2  # the first 429's wait in full, then no second one
    assert 45 <= elapsed < 50  # the pause, and the real time of two requests


def test_a_client_that_was_answered_keeps_its_patience_in_a_storm() -> None:
    # One answer before the storm: the full budget of rounds, as before issue 22.
    with FakeStudio(api_key=KEY, inner_organizations=110) as studio:
        with Client(KEY, base_url=studio.base_url) as client:
            client.compute_time(1, 2, "2024-01")
            studio.inject(Fault.rate_limited(retry_after=0), times=FOREVER)
            report = client.compute_time_report(1, range(2, 102), "2024-01", concurrency=1)
        storm = len(studio.requests) - 1
    assert report.stop_reason is not None
    assert report.stop_reason.endswith("none successful")
    assert storm == THROTTLE_STOP_ROUNDS


# ---- a quiet client's first 429 costs its Retry-After --------------------------------------------


@pytest.mark.parametrize("retry_after", [1, 0, None])
def test_one_429_to_a_quiet_client_costs_about_its_retry_after(
    retry_after: int | None, pauses: list[float]
) -> None:
    # Before: the pace fell to 0.1 req/s and slow-started: 20 calls waited 6.7 s more (7.7 s
    # in all with Retry-After: 1).
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=retry_after), times=1)
        with Client(KEY, base_url=studio.base_url) as client:
            for month in range(1, 13):
                client.compute_time(1, 2, f"2024-{month:02d}")
            for month in range(1, 9):
                client.compute_time(1, 3, f"2024-{month:02d}")
            stats = client.rate_stats()
    assert sum(pauses) <= (retry_after or 0) + 0.05
    assert stats.throttles == 1
    assert stats.rate_per_second is None


# ---- a 503's Retry-After pauses the whole client -------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_503_retry_after_pauses_every_request_of_the_client(
    mode: str, pauses: list[float]
) -> None:
    # Before: only the call answered 503 waited; the others went straight on.
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.server_error(503, retry_after=4))
        if mode == "sync":
            with Client(KEY, base_url=studio.base_url, max_retries=0) as client:
                with pytest.raises(ServerError):
                    client.compute_time(1, 2, "2024-01")
                client.compute_time(1, 3, "2024-01")
                stats = client.rate_stats()
        else:

            async def run() -> RateStats:
                async with AsyncClient(KEY, base_url=studio.base_url, max_retries=0) as client:
                    with pytest.raises(ServerError):
                        await client.compute_time(1, 2, "2024-01")
                    await client.compute_time(1, 3, "2024-01")
                    return client.rate_stats()

            stats = asyncio.run(run())
    assert 3.5 <= sum(pauses) <= 4.0  # the rest of the pause (real time passes meanwhile)
    assert stats.throttles == 0  # a pause, not a throttle: no rate cut
    assert stats.rate_per_second is None


def test_a_refused_503_retry_after_pauses_nobody(pauses: list[float]) -> None:
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.server_error(503, retry_after=3600))
        with Client(KEY, base_url=studio.base_url, max_retries=0) as client:
            with pytest.raises(ServerError):
                client.compute_time(1, 2, "2024-01")
            client.compute_time(1, 3, "2024-01")
            assert client.rate_stats().pause_remaining_seconds == 0.0
    assert pauses == []


def test_a_503_retry_after_paces_the_retry_itself(
    pauses: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(client_module, "_sleep", lambda seconds, stop=None: sleeps.append(seconds))
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.server_error(503, retry_after=2))
        with Client(KEY, base_url=studio.base_url) as client:
            assert client.compute_time(1, 2, "2024-01").inner_organization_id == 2
    assert sleeps == [2.0]  # the call's own backoff, as before
    assert len(studio.requests) == 2


# ---- the 429 retry count is an option ------------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 1, 3, 15])
def test_max_throttle_retries_sets_how_often_a_429_is_retried(retries: int) -> None:
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(Fault.rate_limited(retry_after=0), times=FOREVER)
        client = Client(KEY, base_url=studio.base_url, max_throttle_retries=retries)
        with client, pytest.raises(RateLimitError):
            client.compute_time(1, 2, "2024-01")
        assert len(studio.requests) == retries + 1


def test_max_throttle_retries_defaults_to_ten_and_is_checked() -> None:
    assert client_module.THROTTLE_RETRIES == 10
    assert Client(KEY)._policy.max_throttle_retries == 10
    assert AsyncClient(KEY, max_throttle_retries=3)._policy.max_throttle_retries == 3
    with pytest.raises(ValueError, match="max_throttle_retries"):
        Client(KEY, max_throttle_retries=-1)
    with pytest.raises(TypeError, match="max_throttle_retries"):
        Client(KEY, max_throttle_retries=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_throttle_retries"):
        AsyncClient(KEY, max_throttle_retries=True)
