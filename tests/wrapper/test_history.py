"""Reports reading through a history store (``store=``): closed periods once, open ones always.

The store here is a small in-memory one that follows the :class:`ei_usage.UsageHistory`
protocol; the real SQLite/PostgreSQL store has its own suite (tests/wrapper/store).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from ei_usage import (
    AsyncClient,
    Client,
    ComputeTime,
    DateRange,
    Report,
    StoredComputeTime,
    UsageHistory,
)
from ei_usage import _history as history

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ei_usage import Every

KEY = "ei_0123456789abcdef"
PATH = re.compile(r"/organizations/(\d+)/whitelabel/organizations/(\d+)/usage/computeTime")


class MemoryStore:
    """A history store in a dict, recording what it was asked and given."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, int, DateRange], StoredComputeTime] = {}
        self.saves: list[tuple[int, DateRange]] = []
        self.fail_after: int | None = None

    def known_compute_time(
        self,
        organization_id: int,
        keys: Sequence[tuple[int, DateRange]],
        *,
        every: Every,
        closed_before: datetime,
    ) -> Mapping[tuple[int, DateRange], StoredComputeTime]:
        found = {}
        for inner, period in keys:
            stored = self.rows.get((organization_id, inner, period))
            if stored is not None and period.end <= closed_before:
                found[inner, period] = stored
        return found

    def save_compute_time(
        self, rows: Sequence[ComputeTime], *, every: Every, fetched_at: datetime
    ) -> None:
        for row in rows:
            if self.fail_after is not None and len(self.saves) >= self.fail_after:
                raise OSError("the store went away")
            assert row.wire is not None  # what a real store keeps
            key = (row.organization_id, row.inner_organization_id, row.period)
            self.rows[key] = StoredComputeTime(row, fetched_at)
            self.saves.append((row.inner_organization_id, row.period))


class Server:
    """Answers compute time (cpu = inner * 1000 + month), counting requests per period."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, str]] = []
        self.bump = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        match = PATH.search(request.url.path)
        assert match
        inner = int(match.group(2))
        start = request.url.params["startDate"]
        self.asked.append((inner, start[:7]))
        cpu = inner * 1000 + int(start[5:7]) + self.bump
        return httpx.Response(
            200,
            json={
                "success": True,
                "cpuComputeTime": cpu,
                "gpuComputeTime": 0.5,
                "totalComputeTime": cpu / 60,
            },
        )


def _client(server: Server) -> Client:
    return Client(KEY, transport=httpx.MockTransport(server))


def this_month() -> DateRange:
    now = datetime.now(UTC)
    return DateRange.month(now.year, now.month)


def test_the_memory_store_is_a_usage_history() -> None:
    store: UsageHistory = MemoryStore()  # mypy checks the protocol here
    assert store


def test_closed_periods_come_from_the_store_and_open_ones_from_the_api() -> None:
    server, store = Server(), MemoryStore()
    current = this_month()
    earlier = (current.start - timedelta(days=40)).replace(day=1)
    period = DateRange(earlier, current.end)  # 3 months, the last one open
    with _client(server) as client:
        first = client.compute_time_report(1, [2, 3], period, store=store)
        assert len(server.asked) == len(first.rows) == 6
        assert first.from_store == {}
        assert len(store.saves) == 6  # every fetched row kept, open ones too
        server.asked.clear()
        second = client.compute_time_report(1, [2, 3], period, store=store)
    # Only the running month was asked again.
    assert sorted(server.asked) == sorted((inner, f"{current.start:%Y-%m}") for inner in (2, 3))
    assert second.rows == first.rows
    assert {key[1].end <= current.start for key in second.from_store} == {True}
    assert len(second.from_store) == 4
    for (inner, piece), fetched_at in second.from_store.items():
        assert fetched_at == store.rows[1, inner, piece].fetched_at
        assert fetched_at.tzinfo is UTC


def test_a_period_inside_the_settle_margin_is_fetched_again() -> None:
    server, store = Server(), MemoryStore()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    period = DateRange(today - timedelta(days=2), today - timedelta(days=1))  # one day
    with _client(server) as client:
        client.compute_time_report(1, [2], period, every="day", store=store)
        client.compute_time_report(1, [2], period, every="day", store=store)
        assert len(server.asked) == 2  # within 3 days of its end: not closed yet
        client.compute_time_report(
            1, [2], period, every="day", store=store, settle=timedelta(hours=1)
        )
    assert len(server.asked) == 2  # closed with a one-hour margin: from the store


def test_refresh_asks_again_and_keeps_the_new_numbers() -> None:
    server, store = Server(), MemoryStore()
    with _client(server) as client:
        client.compute_time_report(1, [2], "2024-01..2024-02", store=store)
        server.bump = 7
        refreshed = client.compute_time_report(
            1, [2], "2024-01..2024-02", store=store, refresh=True
        )
        again = client.compute_time_report(1, [2], "2024-01..2024-02", store=store)
    assert len(server.asked) == 4
    assert refreshed.from_store == {}
    assert [row.cpu for row in again.rows] == [row.cpu for row in refreshed.rows]
    assert again.rows[0].cpu == timedelta(seconds=2001 + 7)
    assert len(again.from_store) == 2


def test_rows_come_out_in_plan_order_mixing_store_and_api() -> None:
    server, store = Server(), MemoryStore()
    with _client(server) as client:
        client.compute_time_report(1, [3], "2024-01..2024-03", store=store)
        mixed = client.compute_time_report(1, [2, 3, 4], "2024-01..2024-03", store=store)
    assert [(r.inner_organization_id, r.period.start.month) for r in mixed.rows] == [
        (inner, month) for inner in (2, 3, 4) for month in (1, 2, 3)
    ]
    assert {inner for inner, _ in mixed.from_store} == {3}


def test_every_stored_row_equals_the_row_the_api_gave() -> None:
    server, store = Server(), MemoryStore()
    with _client(server) as client:
        fetched = client.compute_time_report(1, [2, 5], "2023", store=store)
        stored = client.compute_time_report(1, [2, 5], "2023", store=store)
    assert len(stored.from_store) == 24
    assert stored.rows == fetched.rows
    assert stored.total() == fetched.total()


def test_report_json_says_which_rows_came_from_the_store() -> None:
    server, store = Server(), MemoryStore()
    with _client(server) as client:
        client.compute_time_report(1, [2], "2024-01..2024-02", store=store)
        report = client.compute_time_report(1, [2], "2024-01..2024-02", store=store)
    data = report.to_dict()
    assert [entry["start"] for entry in data["from_store"]] == [
        "2024-01-01T00:00:00Z",
        "2024-02-01T00:00:00Z",
    ]
    back = Report.from_json(report.to_json())
    assert back.from_store == report.from_store
    assert back == report


def test_report_json_refuses_a_from_store_entry_without_its_row() -> None:
    server, store = Server(), MemoryStore()
    with _client(server) as client:
        client.compute_time_report(1, [2], "2024-01", store=store)
        report = client.compute_time_report(1, [2], "2024-01", store=store)
    data = report.to_dict()
    data["from_store"].append(dict(data["from_store"][0]))
    import json

    with pytest.raises(ValueError, match=r"from_store\[1\]"):
        Report.from_json(json.dumps(data))


def test_a_store_that_fails_stops_the_report_with_its_error() -> None:
    server, store = Server(), MemoryStore()
    store.fail_after = 3
    with _client(server) as client, pytest.raises(OSError, match="went away"):
        client.compute_time_report(1, [2, 3], "2024", store=store, concurrency=2)
    assert len(store.saves) == 3  # what was kept before it failed stays kept
    # Nothing kept is asked for again.
    server.asked.clear()
    store.fail_after = None
    with _client(server) as client:
        report = client.compute_time_report(1, [2, 3], "2024", store=store)
    assert len(server.asked) == 24 - 3
    assert len(report.from_store) == 3


def test_bad_store_arguments_are_refused_before_any_request() -> None:
    server = Server()
    with _client(server) as client:
        with pytest.raises(TypeError, match="known_compute_time"):
            client.compute_time_report(1, [2], "2024-01", store=object())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="settle"):
            client.compute_time_report(
                1, [2], "2024-01", store=MemoryStore(), settle=timedelta(days=-1)
            )
        with pytest.raises(TypeError, match="settle"):
            client.compute_time_report(1, [2], "2024-01", store=MemoryStore(), settle=3)  # type: ignore[arg-type]
    assert server.asked == []


def test_async_reports_read_through_the_store_alike() -> None:
    server, store = Server(), MemoryStore()

    async def run() -> tuple[Report, Report]:
        async with AsyncClient(KEY, transport=httpx.MockTransport(server)) as client:
            first = await client.compute_time_report(1, [2, 3], "2024-01..2024-04", store=store)
            second = await client.compute_time_report(1, [2, 3], "2024-01..2024-04", store=store)
            return first, second

    first, second = asyncio.run(asyncio.wait_for(run(), 30))
    assert len(server.asked) == 8
    assert second.rows == first.rows
    assert len(second.from_store) == 8


def test_closed_before_is_now_less_the_margin() -> None:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    assert history.closed_before(None, now) == now - history.DEFAULT_SETTLE
    assert history.closed_before(timedelta(0), now) == now
