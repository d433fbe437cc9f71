"""Reports against a rate-limited FakeStudio, in real time: no failed rows, few 429s.

The acceptance figures (3,000 requests at 20 per second, completion within 1.10x the ideal) come
from ``make bench``; these runs are short and assert only what does not depend on the machine's
speed: every row arrives, the 429s are absorbed, and the whole client slows down together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ei_usage import AsyncClient, Client, RateStats, Report
from ei_usage.cli._render import pace_text
from ei_usage.testing import FakeStudio

KEY = "rate-limit-test-key"
pytestmark = pytest.mark.real_pacing


@pytest.fixture
def limited() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=KEY, rate_limit=40, burst=10, record_requests=False) as studio:
        yield studio


def test_a_sync_report_under_a_rate_limit_loses_no_row(limited: FakeStudio) -> None:
    with Client(KEY, base_url=limited.base_url) as client:
        report = client.compute_time_report(1, range(2, 12), "2024", concurrency=16)
        stats = client.rate_stats()
    assert report.ok
    assert len(report.rows) == 120
    assert limited.rate_limited_count >= 1  # the limit was hit, and absorbed
    assert stats.throttles == limited.rate_limited_count
    assert stats.rate_per_second is not None  # the whole client paces its requests now
    # Without rate control each of 16 workers would retry on its own; with it, the 429s stay
    # a small share of the requests.
    assert limited.rate_limited_count <= 0.25 * limited.request_count


def test_an_async_report_under_a_rate_limit_loses_no_row(limited: FakeStudio) -> None:
    async def run() -> Report:
        async with AsyncClient(KEY, base_url=limited.base_url) as client:
            return await client.compute_time_report(1, range(2, 12), "2024", concurrency=16)

    report = asyncio.run(asyncio.wait_for(run(), 120))
    assert report.ok
    assert len(report.rows) == 120


def test_max_rate_keeps_under_a_known_quota() -> None:
    with FakeStudio(api_key=KEY, rate_limit=20, burst=5) as studio:
        with Client(KEY, base_url=studio.base_url, max_rate=15, adaptive_rate=False) as client:
            report = client.compute_time_report(1, [2, 3], "2024", concurrency=8)
        assert report.ok
        assert studio.rate_limited_count == 0


def test_the_progress_text_shows_the_pace() -> None:
    assert pace_text(None) == ""
    quiet = RateStats(None, 50.0, 0, 0, 0.0, 0)
    assert pace_text(quiet) == ""
    busy = RateStats(19.64, 19.0, 12, 3, 0.0, 4)
    assert pace_text(busy) == "19.6 req/s, 12 x 429 absorbed"
