"""Bulk usage reports: many inner organizations times many periods, with partial failure.

One failing inner organization (404, 403, exhausted retries) must not lose the others' results, so
each request's :class:`~ei_usage.EdgeImpulseError` is recorded next to the rows instead of
aborting the run. Anything else (a bug, a cancellation) still propagates.

The runners keep at most ``concurrency`` requests in flight and never more jobs alive than that:
memory grows with the rows kept, not with the number of requests planned.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from . import _errors
from ._dates import PERIODS, DateRange, Every, format_iso_z
from ._errors import EdgeImpulseError, ReportError, RequestInfo
from ._models import ComputeTime, discrepancy
from ._units import Unit, as_unit, from_timedelta, seconds

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

ProgressCallback = Callable[[int, int], None]
"""``on_progress(done, total)``: called as each request finishes (successfully or not)."""


@attrs.frozen
class ReportFailure:
    """One request of a report that failed for good."""

    inner_organization_id: int
    period: DateRange
    error: EdgeImpulseError


def _sum(values: Iterable[timedelta | None]) -> timedelta | None:
    total = timedelta(0)
    for value in values:
        if value is None:  # one unknown part makes the sum unknown, never silently smaller
            return None
        total += value
    return total


@attrs.frozen
class UsageTotals:
    """Summed compute time of some rows of a report.

    A sum is None when any row lacks that value, so a missing number never reads as zero.

    Attributes:
        cpu: summed CPU compute time.
        gpu: summed GPU compute time.
        total: summed total compute time.
        rows: how many rows were summed.
    """

    cpu: timedelta | None
    gpu: timedelta | None
    total: timedelta | None
    rows: int

    @property
    def discrepancy(self) -> timedelta | None:
        """``total - (cpu + gpu)`` of the sums, or None when any of them is unknown."""
        return discrepancy(self.total, self.cpu, self.gpu)

    @classmethod
    def of(cls, rows: Sequence[ComputeTime]) -> UsageTotals:
        """Sum ``rows``."""
        return cls(
            cpu=_sum(r.cpu for r in rows),
            gpu=_sum(r.gpu for r in rows),
            total=_sum(r.total for r in rows),
            rows=len(rows),
        )

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit``."""
        u = as_unit(unit)

        def number(value: timedelta | None) -> float | None:
            return None if value is None else from_timedelta(value, u)

        return {
            "unit": u.value,
            "cpu": number(self.cpu),
            "gpu": number(self.gpu),
            "total": number(self.total),
            "discrepancy": number(self.discrepancy),
            "rows": self.rows,
        }


def _describe(error: EdgeImpulseError) -> str:
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__}" + (f" {status}" if status else "") + f": {error.message}"


def _error_to_dict(error: EdgeImpulseError) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(error).__name__, "message": error.message}
    for name in ("status_code", "field"):
        if getattr(error, name, None) is not None:
            data[name] = getattr(error, name)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        data["retry_after_seconds"] = retry_after.total_seconds()
    if error.request is not None:
        data["request"] = {"method": error.request.method, "url": error.request.url}
    return data


def _error_from_dict(data: dict[str, Any]) -> EdgeImpulseError:
    cls = getattr(_errors, data["type"], None)
    if not (isinstance(cls, type) and issubclass(cls, EdgeImpulseError)):
        raise ValueError(f"unknown error type {data['type']!r} in report JSON")
    request = RequestInfo(**data["request"]) if "request" in data else None
    message = data["message"]
    if issubclass(cls, _errors.APIError):
        kwargs: dict[str, Any] = {"request": request}
        if "retry_after_seconds" in data:
            kwargs["retry_after"] = timedelta(seconds=data["retry_after_seconds"])
        return cls(message, data.get("status_code", 0), None, **kwargs)
    if issubclass(cls, _errors.ResponseValidationError):
        return cls(
            message,
            field=data.get("field"),
            status_code=data.get("status_code", 200),
            request=request,
        )
    return cls(message, request=request)


@attrs.frozen
class Report:
    """Compute time of several inner organizations over a period, piece by piece.

    Attributes:
        organization_id: the white-label organization.
        inner_organization_ids: the inner organizations asked for, in ascending order.
        period: the whole range asked for.
        every: the calendar unit each request covers.
        rows: one result per successful request, ordered by inner organization, then period.
        errors: one entry per failed request, in the same order.
    """

    organization_id: int
    inner_organization_ids: tuple[int, ...]
    period: DateRange
    every: Every
    rows: tuple[ComputeTime, ...]
    errors: tuple[ReportFailure, ...]

    @property
    def ok(self) -> bool:
        """Whether every request succeeded."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise one :class:`~ei_usage.ReportError` summarizing the failures, if there were any.

        Raises:
            ReportError: at least one request failed.
        """
        if not self.errors:
            return
        shown = "; ".join(
            f"inner organization {f.inner_organization_id} {f.period}: {_describe(f.error)}"
            for f in self.errors[:5]
        )
        more = f"; and {len(self.errors) - 5} more" if len(self.errors) > 5 else ""
        raise ReportError(
            f"{len(self.errors)} of {len(self.errors) + len(self.rows)} requests failed: "
            f"{shown}{more}",
            [(f.inner_organization_id, f.period, f.error) for f in self.errors],
        )

    def totals_by_organization(self) -> dict[int, UsageTotals]:
        """Return summed usage per inner organization (of its successful rows), by id."""
        groups: dict[int, list[ComputeTime]] = {}
        for row in self.rows:
            groups.setdefault(row.inner_organization_id, []).append(row)
        return {inner: UsageTotals.of(rows) for inner, rows in groups.items()}

    def totals_by_period(self) -> dict[DateRange, UsageTotals]:
        """Return summed usage per period (over the inner organizations), in time order."""
        groups: dict[DateRange, list[ComputeTime]] = {}
        for row in sorted(self.rows, key=lambda r: r.period.start):
            groups.setdefault(row.period, []).append(row)
        return {period: UsageTotals.of(rows) for period, rows in groups.items()}

    def total(self) -> UsageTotals:
        """Return the usage summed over every successful row."""
        return UsageTotals.of(self.rows)

    def to_rows(self, unit: Unit | str = Unit.MINUTES) -> list[dict[str, Any]]:
        """Return one flat dict per row (for CSV or JSON), durations in ``unit``."""
        return [row.to_dict(unit) for row in self.rows]

    def to_json(self) -> str:
        """Return the whole report as JSON; :meth:`from_json` reads it back unchanged.

        Durations are written in seconds with microsecond precision, so nothing is lost.
        """
        return json.dumps(
            {
                "organization_id": self.organization_id,
                "inner_organization_ids": list(self.inner_organization_ids),
                "period": self.period.to_dict(),
                "every": self.every,
                "unit": Unit.SECONDS.value,
                "rows": self.to_rows(Unit.SECONDS),
                "errors": [
                    {
                        "inner_organization_id": f.inner_organization_id,
                        "start": format_iso_z(f.period.start),
                        "end": format_iso_z(f.period.end),
                        "error": _error_to_dict(f.error),
                    }
                    for f in self.errors
                ],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Report:
        """Read a report written by :meth:`to_json`.

        Raises:
            ValueError: the text is not such a report.
        """
        try:
            data = json.loads(text)

            def span(item: dict[str, Any]) -> DateRange:
                return DateRange.parse(f"{item['start']}..{item['end']}")

            def duration(value: float | None) -> timedelta | None:
                return None if value is None else seconds(value)

            if data.get("unit") != Unit.SECONDS.value or data.get("every") not in PERIODS:
                raise ValueError("unit must be seconds and every a calendar unit")
            return cls(
                organization_id=int(data["organization_id"]),
                inner_organization_ids=tuple(int(i) for i in data["inner_organization_ids"]),
                period=span(data["period"]),
                every=data["every"],
                rows=tuple(
                    ComputeTime(
                        organization_id=int(r["organization_id"]),
                        inner_organization_id=int(r["inner_organization_id"]),
                        period=span(r),
                        cpu=duration(r["cpu"]),
                        gpu=duration(r["gpu"]),
                        total=duration(r["total"]),
                    )
                    for r in data["rows"]
                ),
                errors=tuple(
                    ReportFailure(
                        inner_organization_id=int(e["inner_organization_id"]),
                        period=span(e),
                        error=_error_from_dict(e["error"]),
                    )
                    for e in data["errors"]
                ),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ValueError(f"not an ei-usage report: {error}") from error


# ---- running ---------------------------------------------------------------------------------


@attrs.frozen
class Plan:
    """The validated requests of a report, in result order."""

    organization_id: int
    inner_organization_ids: tuple[int, ...]
    period: DateRange
    every: Every
    pieces: tuple[DateRange, ...]

    @property
    def size(self) -> int:
        """How many requests the report makes."""
        return len(self.inner_organization_ids) * len(self.pieces)

    def jobs(self) -> Iterator[tuple[int, DateRange]]:
        """Yield ``(inner_organization_id, piece)`` in result order."""
        for inner in self.inner_organization_ids:
            for piece in self.pieces:
                yield inner, piece

    def report(self, outcomes: Sequence[ComputeTime | ReportFailure | None]) -> Report:
        """Assemble the report from outcomes indexed like :meth:`jobs`."""
        return Report(
            organization_id=self.organization_id,
            inner_organization_ids=self.inner_organization_ids,
            period=self.period,
            every=self.every,
            rows=tuple(o for o in outcomes if isinstance(o, ComputeTime)),
            errors=tuple(o for o in outcomes if isinstance(o, ReportFailure)),
        )


def make_plan(
    organization_id: int,
    inner_organization_ids: Iterable[int],
    period: DateRange,
    every: Every,
    check_id: Callable[[str, object], int],
) -> Plan:
    """Validate a report's arguments before any request.

    Raises:
        ValueError, TypeError: a bad id, an empty list of inner organizations, an unknown
            ``every``.
    """
    if isinstance(inner_organization_ids, str | bytes):
        raise TypeError("inner_organization_ids must be an iterable of ints, not a string")
    org = check_id("organization_id", organization_id)
    inner = sorted({check_id("inner_organization_id", i) for i in inner_organization_ids})
    if not inner:
        raise ValueError("inner_organization_ids is empty")
    return Plan(org, tuple(inner), period, every, tuple(period.split(every)))


def _progress(on_progress: ProgressCallback | None, done: int, total: int) -> None:
    if on_progress is not None:
        on_progress(done, total)


async def run_async(
    plan: Plan,
    send: Callable[[int, DateRange], Awaitable[ComputeTime]],
    concurrency: int,
    on_progress: ProgressCallback | None,
) -> Report:
    """Run a plan on the running event loop with ``concurrency`` workers."""
    outcomes: list[ComputeTime | ReportFailure | None] = [None] * plan.size
    jobs = enumerate(plan.jobs())
    done = 0

    async def worker() -> None:
        nonlocal done
        # Workers pull jobs one at a time: no task per request, so 20,000 requests cost no
        # more memory than 2,000 beyond their (small) rows.
        for index, (inner, piece) in jobs:
            try:
                outcomes[index] = await send(inner, piece)
            except EdgeImpulseError as error:
                outcomes[index] = ReportFailure(inner, piece, error)
            done += 1
            _progress(on_progress, done, plan.size)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, plan.size))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return plan.report(outcomes)


def run_threads(
    plan: Plan,
    send: Callable[[int, DateRange], ComputeTime],
    concurrency: int,
    on_progress: ProgressCallback | None,
) -> Report:
    """Run a plan on a thread pool sharing the sync client's connection pool.

    ``on_progress`` is called on the calling thread, never concurrently.
    """
    outcomes: list[ComputeTime | ReportFailure | None] = [None] * plan.size
    jobs = enumerate(plan.jobs())
    stop = threading.Event()

    def attempt(index: int, inner: int, piece: DateRange) -> None:
        if stop.is_set():
            return
        try:
            outcomes[index] = send(inner, piece)
        except EdgeImpulseError as error:
            outcomes[index] = ReportFailure(inner, piece, error)

    done = 0
    pending: set[Future[None]] = set()

    def settle_one_or_more() -> None:
        nonlocal done, pending
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            future.result()  # re-raise anything that is not an API failure
            done += 1
            _progress(on_progress, done, plan.size)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ei-usage") as pool:
        try:
            for index, (inner, piece) in jobs:
                if len(pending) >= concurrency:
                    settle_one_or_more()
                pending.add(pool.submit(attempt, index, inner, piece))
            while pending:
                settle_one_or_more()
        except BaseException:
            stop.set()  # let queued jobs return at once instead of finishing the whole plan
            raise
    return plan.report(outcomes)
