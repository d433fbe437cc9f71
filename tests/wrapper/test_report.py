"""Bulk reports over MockTransport: ordering, partial failure, progress, totals, JSON."""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
import warnings
from datetime import timedelta

import httpx
import pytest

from ei_usage import (
    AsyncClient,
    Client,
    ComputeTime,
    DateRange,
    NotFoundError,
    PermissionDeniedError,
    Report,
    ReportError,
    ServerError,
    UsageTotals,
)

PATH = re.compile(r"/organizations/(\d+)/whitelabel/organizations/(\d+)/usage/computeTime")
FORBIDDEN = 7
MISSING = 9
FLAKY = 4


def usage_for(inner: int, start: str) -> dict[str, object]:
    month = int(start[5:7])
    cpu = inner * 100 + month  # distinct per row, so misordering is visible
    return {
        "success": True,
        "cpuComputeTime": cpu,
        "gpuComputeTime": 60,
        "totalComputeTime": (cpu + 60) / 60,
    }


def answer(request: httpx.Request) -> httpx.Response:
    match = PATH.search(request.url.path)
    assert match
    inner = int(match.group(2))
    if inner == FORBIDDEN:
        return httpx.Response(403, json={"success": False, "error": "Not a white label admin"})
    if inner == MISSING:
        return httpx.Response(404, json={"success": False, "error": "Organization not found"})
    if inner == FLAKY:
        return httpx.Response(503, text="<html><title>Unavailable</title></html>")
    return httpx.Response(200, json=usage_for(inner, request.url.params["startDate"]))


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fast(_: float) -> None:
        await asyncio.sleep(0)

    monkeypatch.setattr("ei_usage._client._sleep", lambda seconds, stop=None: None)
    monkeypatch.setattr("ei_usage._client._async_sleep", fast)


def run_async(coro_factory, **client_kwargs):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with AsyncClient("key", **client_kwargs) as client:
            return await coro_factory(client)

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def test_async_report_is_ordered_whatever_order_requests_finish_in() -> None:
    rng = random.Random(7)
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(rng.uniform(0, 0.01))
        in_flight -= 1
        return answer(request)

    inner = [11, 3, 2, 10, 5, 3]
    report = run_async(
        lambda c: c.compute_time_report(1, inner, "2024", concurrency=5),
        transport=httpx.MockTransport(slow),
    )
    assert report.ok
    assert report.inner_organization_ids == (2, 3, 5, 10, 11)
    keys = [(r.inner_organization_id, r.period.start.month) for r in report.rows]
    assert keys == [(i, m) for i in (2, 3, 5, 10, 11) for m in range(1, 13)]
    for row in report.rows:
        assert row.cpu == timedelta(
            seconds=row.inner_organization_id * 100 + row.period.start.month
        )
    assert 1 < peak <= 5


def test_partial_failure_keeps_the_other_results() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return answer(request)

    report = run_async(
        lambda c: c.compute_time_report(1, [2, FORBIDDEN, MISSING, FLAKY, 3], "2024-01..2024-02"),
        transport=httpx.MockTransport(handler),
        max_retries=2,
    )
    assert [r.inner_organization_id for r in report.rows] == [2, 2, 3, 3]
    failures = [(f.inner_organization_id, str(f.period), type(f.error)) for f in report.errors]
    assert failures == [
        (FLAKY, "2024-01", ServerError),
        (FLAKY, "2024-02", ServerError),
        (FORBIDDEN, "2024-01", PermissionDeniedError),
        (FORBIDDEN, "2024-02", PermissionDeniedError),
        (MISSING, "2024-01", NotFoundError),
        (MISSING, "2024-02", NotFoundError),
    ]
    # retries are exhausted for the 503s only: 3 attempts each, 1 for everything else
    assert len(calls) == 2 * 3 + 8
    assert not report.ok
    with pytest.raises(ReportError, match="6 of 10 requests failed") as info:
        report.raise_for_errors()
    assert len(info.value.failures) == 6
    assert "PermissionDeniedError 403: Not a white label admin" in str(info.value)


def test_progress_is_reported_for_every_request() -> None:
    seen: list[tuple[int, int]] = []
    report = run_async(
        lambda c: c.compute_time_report(
            1, [2, MISSING], "2024-Q1", on_progress=lambda d, t: seen.append((d, t))
        ),
        transport=httpx.MockTransport(answer),
    )
    assert seen == [(i, 6) for i in range(1, 7)]
    assert len(report.rows) == 3


def test_sync_report_uses_threads_and_matches_async() -> None:
    threads: set[str] = set()
    seen: list[tuple[int, int]] = []
    caller = threading.current_thread().name

    def handler(request: httpx.Request) -> httpx.Response:
        threads.add(threading.current_thread().name)
        time.sleep(0.005)  # overlap, so the pool really runs several threads
        return answer(request)

    with Client("key", transport=httpx.MockTransport(handler), max_retries=0) as client:
        report = client.compute_time_report(
            1,
            [3, 2, MISSING],
            "2024-01..2024-06",
            concurrency=4,
            on_progress=lambda d, t: seen.append((d, t, threading.current_thread().name)),  # type: ignore[arg-type]
        )
    async_report = run_async(
        lambda c: c.compute_time_report(1, [3, 2, MISSING], "2024-01..2024-06"),
        transport=httpx.MockTransport(answer),
        max_retries=0,
    )
    assert report.rows == async_report.rows
    assert [(f.inner_organization_id, f.period) for f in report.errors] == [
        (f.inner_organization_id, f.period) for f in async_report.errors
    ]
    assert caller not in threads
    assert len(threads) > 1
    assert [s[:2] for s in seen] == [(i, 18) for i in range(1, 19)]
    assert {s[2] for s in seen} == {caller}


def test_sync_report_inside_a_running_loop_warns_clearly() -> None:
    async def main() -> Report:
        with Client("key", transport=httpx.MockTransport(answer)) as client:
            return client.compute_time_report(1, [2], "2024-01")

    with pytest.warns(RuntimeWarning, match="blocks the running event loop"):
        report = asyncio.run(main())
    assert len(report.rows) == 1


def test_sync_report_without_a_loop_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Client("key", transport=httpx.MockTransport(answer)) as client:
            assert client.compute_time_report(1, [2], "2024-01").ok


def test_bad_arguments_fail_before_any_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with Client("key", transport=httpx.MockTransport(handler)) as client:
        for args, kwargs, error in [
            ((1, [], "2024"), {}, ValueError),
            ((1, [-1], "2024"), {}, ValueError),
            ((1, [True], "2024"), {}, TypeError),
            ((1, "23", "2024"), {}, TypeError),
            ((-1, [2], "2024"), {}, ValueError),
            ((1, [2], "2024"), {"every": "fortnight"}, ValueError),
            ((1, [2], "2024"), {"concurrency": 0}, ValueError),
            ((1, [2], "last year"), {}, ValueError),
        ]:
            with pytest.raises(error):
                client.compute_time_report(*args, **kwargs)


def test_totals_and_rows() -> None:
    with Client("key", transport=httpx.MockTransport(answer)) as client:
        report = client.compute_time_report(1, [2, 3], "2024-01..2024-02")
    by_org = report.totals_by_organization()
    assert by_org[2] == UsageTotals(
        cpu=timedelta(seconds=201 + 202),
        gpu=timedelta(seconds=120),
        total=timedelta(seconds=201 + 202 + 120),
        rows=2,
    )
    by_period = report.totals_by_period()
    assert list(by_period) == [DateRange.month(2024, 1), DateRange.month(2024, 2)]
    assert by_period[DateRange.month(2024, 1)].cpu == timedelta(seconds=201 + 301)
    assert report.total().rows == 4
    assert report.total().total == sum((r.total for r in report.rows if r.total), timedelta())
    rows = report.to_rows("hours")
    assert rows[0]["unit"] == "hours"
    assert rows[0]["cpu"] == pytest.approx(201 / 3600)
    assert report.total().to_dict("seconds")["cpu"] == 201 + 202 + 301 + 302


def test_totals_of_rows_with_a_missing_value_are_unknown() -> None:
    period = DateRange.month(2024, 1)
    rows = [
        ComputeTime(1, 2, period, cpu=timedelta(1), gpu=None, total=timedelta(1)),
        ComputeTime(1, 2, period, cpu=timedelta(1), gpu=timedelta(1), total=timedelta(1)),
    ]
    totals = UsageTotals.of(rows)
    assert totals.gpu is None
    assert totals.cpu == timedelta(2)
    assert totals.discrepancy is None
    assert totals.to_dict("seconds")["discrepancy"] is None
    known = UsageTotals.of(rows[1:])
    assert known.discrepancy == timedelta(1) - timedelta(2)
    assert known.to_dict("seconds")["discrepancy"] == -86400.0


def test_report_json_round_trips_including_errors() -> None:
    with Client("key", transport=httpx.MockTransport(answer), max_retries=0) as client:
        report = client.compute_time_report(1, [2, FLAKY, MISSING], "2024-01-15..2024-03-10")
    text = report.to_json()
    data = json.loads(text)
    assert data["unit"] == "seconds"
    assert data["rows"][0]["start"] == "2024-01-15T00:00:00Z"
    back = Report.from_json(text)
    assert back.rows == report.rows
    assert back.period == report.period
    assert back.to_json() == text
    assert [type(f.error) for f in back.errors] == [type(f.error) for f in report.errors]
    assert back.errors[0].error.message == report.errors[0].error.message
    with pytest.raises(ValueError, match="not an ei-usage report"):
        Report.from_json('{"rows": []}')


def _report_json(**row_fields: object) -> str:
    """A version-2 report of one row, as 0.2.0 wrote it (no ``inner_organization_deleted``)."""
    row = {
        "organization_id": 1,
        "inner_organization_id": 2,
        "inner_organization_name": "Two",
        "start": "2024-05-01T00:00:00Z",
        "end": "2024-06-01T00:00:00Z",
        "unit": "seconds",
        "cpu": 90.0,
        "gpu": 30.0,
        "total": 120.0,
        "discrepancy": 0.0,
        **row_fields,
    }
    period = {"start": "2024-05-01T00:00:00Z", "end": "2024-06-01T00:00:00Z"}
    return json.dumps(
        {
            "format": "ei-usage.report",
            "version": 2,
            "organization_id": 1,
            "inner_organization_ids": [2],
            "period": period,
            "every": "month",
            "unit": "seconds",
            "complete": True,
            "stop_reason": None,
            "rows": [row],
            "totals": {},
            "errors": [],
            "not_attempted": [],
        }
    )


def test_a_report_written_before_deleted_marks_reads_as_not_known() -> None:
    (row,) = Report.from_json(_report_json()).rows
    assert row.inner_organization_name == "Two"
    assert row.inner_organization_deleted is None


@pytest.mark.parametrize("deleted", [True, False, None])
def test_the_deleted_mark_round_trips(deleted: bool | None) -> None:
    report = Report.from_json(_report_json(inner_organization_deleted=deleted))
    assert report.rows[0].inner_organization_deleted is deleted
    again = json.loads(report.to_json())
    assert again["version"] == 2  # an optional field: 0.2.0's reader ignores it
    assert again["rows"][0]["inner_organization_deleted"] is deleted
    assert Report.from_json(report.to_json()) == report


@pytest.mark.parametrize("value", ["yes", 1, 0, [], {}])
def test_a_deleted_mark_that_is_not_a_boolean_is_refused(value: object) -> None:
    with pytest.raises(
        ValueError, match=r"rows\[0\] .*inner_organization_deleted is .*, not true, false or null"
    ):
        Report.from_json(_report_json(inner_organization_deleted=value))
