"""The client against a real loopback server: FakeStudio's additive data checks the splitting."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from ei_usage import AsyncClient, Client, DateRange, Every
from ei_usage.testing import FakeStudio

KEY = "studio-test-key"


@pytest.fixture(scope="module")
def studio() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=KEY) as running:
        yield running


def expected(studio: FakeStudio, inner: int, period: DateRange) -> tuple[timedelta, timedelta]:
    cpu_us, gpu_us = studio.usage(inner, period.start, period.end)
    return timedelta(microseconds=cpu_us), timedelta(microseconds=gpu_us)


@pytest.mark.parametrize(
    ("text", "every"),
    [("2024-01-15..2024-06-10", "month"), ("2024-Q1", "week"), ("2023-12-30..2024-01-03", "day")],
)
def test_pieces_add_up_to_the_whole_exactly(studio: FakeStudio, text: str, every: Every) -> None:
    period = DateRange.parse(text)
    with Client(KEY, base_url=studio.base_url) as client:
        whole = client.compute_time(1, 4, period)
        pieces = client.compute_time_by_period(1, 4, period, every=every)
    assert [p.period for p in pieces] == period.split(every)
    assert (whole.cpu, whole.gpu) == expected(studio, 4, period)
    assert sum((p.cpu for p in pieces if p.cpu), timedelta()) == whole.cpu
    assert sum((p.gpu for p in pieces if p.gpu is not None), timedelta()) == whole.gpu
    assert whole.gpu > timedelta(0)  # organization 4 uses GPUs: both halves are checked


def test_async_report_rows_sum_to_whole_range_usage(studio: FakeStudio) -> None:
    period = DateRange.parse("2024-02..2024-07")

    async def main() -> tuple[object, object]:
        async with AsyncClient(KEY, base_url=studio.base_url) as client:
            report = await client.compute_time_report(1, [5, 3, 4], period, concurrency=6)
            whole = await client.compute_time(1, 3, period)
            return report, whole

    report, whole = asyncio.run(asyncio.wait_for(main(), timeout=30))
    assert report.ok  # type: ignore[attr-defined]
    totals = report.totals_by_organization()  # type: ignore[attr-defined]
    assert list(totals) == [3, 4, 5]
    for inner in (3, 4, 5):
        cpu, gpu = expected(studio, inner, period)
        assert (totals[inner].cpu, totals[inner].gpu) == (cpu, gpu)
        assert totals[inner].rows == 6
    assert totals[3].cpu == whole.cpu  # type: ignore[attr-defined]
