"""Bulk usage reports: many inner organizations times many periods, with partial failure.

One failing inner organization (404, 403, exhausted retries) must not lose the others' results, so
each request's :class:`~ei_usage.EdgeImpulseError` is recorded next to the rows instead of
aborting the run. An unexpected exception of one request (a bug) is recorded the same way, as an
``EdgeImpulseError`` whose ``__cause__`` is the original, rather than losing every finished row.

A report stops early, and lists what it did not do in ``Report.not_attempted``:

* when the server is clearly unreachable: after ``stop_after`` consecutive requests failed with a
  connection error (refused, reset, timed out, bad certificate), the rest are not sent;
* on Ctrl-C (sync): nothing more is sent, waits and reads in flight end within a fraction of a
  second, and :class:`~ei_usage.ReportInterrupted` carries the partial report. In async code the
  caller's cancellation propagates as usual.

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
from ._dates import PERIODS, DateRange, Every
from ._errors import (
    APIConnectionError,
    EdgeImpulseError,
    ReportError,
    ReportInterrupted,
    RequestInfo,
)
from ._models import ComputeTime, discrepancy
from ._units import Unit, as_unit, from_timedelta, to_timedelta

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

ProgressCallback = Callable[[int, int], None]
"""``on_progress(done, total)``: called as each request finishes (successfully or not)."""

REPORT_FORMAT = "ei-usage.report"
REPORT_VERSION = 2
"""The version of the report JSON; 1 was 0.1.0's (seconds only, no totals, no format key)."""

DEFAULT_STOP_AFTER = 5
"""Consecutive connection failures after which a report stops sending (the server is down)."""


class Stopped(Exception):  # noqa: N818 - a signal between the client and the runners
    """A call gave up because its report is stopping; it never leaves the report runners."""


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
    for name in ("status_code", "field", "transient", "limit_bytes"):
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
    message = str(data["message"])
    if issubclass(cls, _errors.APIError):
        kwargs: dict[str, Any] = {"request": request}
        if issubclass(cls, _errors.RateLimitError | _errors.ServerError):
            seconds = data.get("retry_after_seconds")
            kwargs["retry_after"] = None if seconds is None else timedelta(seconds=seconds)
        return cls(message, int(data.get("status_code", 0)), None, **kwargs)
    if issubclass(cls, _errors.ResponseTooLargeError):
        return cls(
            message,
            limit_bytes=int(data["limit_bytes"]),
            status_code=int(data.get("status_code", 200)),
            request=request,
        )
    if issubclass(cls, _errors.ResponseValidationError):
        return cls(
            message,
            field=data.get("field"),
            status_code=int(data.get("status_code", 200)),
            request=request,
        )
    if issubclass(cls, _errors.APIConnectionError):
        return cls(message, request=request, transient=bool(data.get("transient", True)))
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
        not_attempted: ``(inner_organization_id, period)`` of each request the report did not
            complete because it stopped early (never sent, or abandoned mid-way), in order.
        stop_reason: why the report stopped early, or None if it ran to the end.
    """

    organization_id: int
    inner_organization_ids: tuple[int, ...]
    period: DateRange
    every: Every
    rows: tuple[ComputeTime, ...]
    errors: tuple[ReportFailure, ...]
    not_attempted: tuple[tuple[int, DateRange], ...] = ()
    stop_reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every request succeeded."""
        return not self.errors and not self.not_attempted

    def failures_by_cause(self) -> dict[str, tuple[ReportFailure, ...]]:
        """Return the failures grouped by cause, the most frequent cause first.

        A cause is the error's type, status and message (not its URL), so 1,500 requests
        refused by a dead server are one group, while "organization 5 not found" and
        "organization 6 not found" stay apart.
        """
        groups: dict[str, list[ReportFailure]] = {}
        for failure in self.errors:
            groups.setdefault(_describe(failure.error), []).append(failure)
        ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
        return {cause: tuple(failures) for cause, failures in ranked}

    def raise_for_errors(self) -> None:
        """Raise one :class:`~ei_usage.ReportError` if any request failed or was not attempted.

        Raises:
            ReportError: at least one request failed, or the report stopped early.
        """
        if self.ok:
            return
        total = len(self.errors) + len(self.rows) + len(self.not_attempted)
        parts = []
        if self.errors:
            causes = list(self.failures_by_cause().items())
            shown = "; ".join(
                cause + (f" (x{len(failures)})" if len(failures) > 1 else "")
                for cause, failures in causes[:5]
            )
            if len(causes) > 5:
                shown += f"; and {len(causes) - 5} more causes"
            parts.append(f"{len(self.errors)} of {total} requests failed: {shown}")
        if self.not_attempted:
            parts.append(f"{len(self.not_attempted)} of {total} not attempted: {self.stop_reason}")
        raise ReportError(
            "; ".join(parts),
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

    def to_dict(self, unit: Unit | str = Unit.SECONDS) -> dict[str, Any]:
        """Return the whole report as plain JSON-ready values, durations in ``unit``.

        This is the report format (``"format": "ei-usage.report"``, ``"version": 2``) that
        :meth:`to_json` and ``ei-usage compute-time --format json`` write and :meth:`from_json`
        reads: rows, totals (per inner organization and overall, as the table shows them),
        failures, requests not attempted and why, and the one unit every duration is in.
        """
        u = as_unit(unit)
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "organization_id": self.organization_id,
            "inner_organization_ids": list(self.inner_organization_ids),
            "period": self.period.to_dict(),
            "every": self.every,
            "unit": u.value,
            "complete": self.ok,
            "stop_reason": self.stop_reason,
            "rows": self.to_rows(u),
            "totals": {
                "by_inner_organization": {
                    str(inner): totals.to_dict(u)
                    for inner, totals in self.totals_by_organization().items()
                },
                "overall": self.total().to_dict(u),
            },
            "errors": [
                {
                    "inner_organization_id": f.inner_organization_id,
                    **f.period.to_dict(),
                    "error": _error_to_dict(f.error),
                }
                for f in self.errors
            ],
            "not_attempted": [
                {"inner_organization_id": inner, **piece.to_dict()}
                for inner, piece in self.not_attempted
            ],
        }

    def to_json(self, unit: Unit | str = Unit.SECONDS) -> str:
        """Return the report as JSON (:meth:`to_dict`); :meth:`from_json` reads it back.

        In seconds (the default) durations are written with microsecond precision and read back
        exactly; in minutes or hours, to within floating-point precision.
        """
        return json.dumps(self.to_dict(unit), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Report:
        """Read a report written by :meth:`to_json` or ``ei-usage compute-time --format json``.

        Any unit the text states is read back (and the first, unversioned format of 0.1.0,
        which was always in seconds). Totals are recomputed from the rows, not trusted.

        Raises:
            ValueError: the text is not such a report.
        """
        try:
            data = json.loads(text)
            version = data.get("version", 1)
            if data.get("format", REPORT_FORMAT) != REPORT_FORMAT or version not in (1, 2):
                raise ValueError(f"unknown format {data.get('format')!r} version {version!r}")
            unit = as_unit(data["unit"])
            if data.get("every") not in PERIODS:
                raise ValueError("every must be a calendar unit")

            def span(item: dict[str, Any]) -> DateRange:
                return DateRange.parse(f"{item['start']}..{item['end']}")

            def duration(value: float | None) -> timedelta | None:
                return None if value is None else to_timedelta(value, unit)

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
                not_attempted=tuple(
                    (int(n["inner_organization_id"]), span(n))
                    for n in data.get("not_attempted", ())
                ),
                stop_reason=data.get("stop_reason"),
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

    def report(
        self,
        outcomes: Sequence[ComputeTime | ReportFailure | None],
        stop_reason: str | None = None,
    ) -> Report:
        """Assemble the report from outcomes indexed like :meth:`jobs` (None: not done)."""
        missing = tuple(job for job, o in zip(self.jobs(), outcomes, strict=True) if o is None)
        return Report(
            organization_id=self.organization_id,
            inner_organization_ids=self.inner_organization_ids,
            period=self.period,
            every=self.every,
            rows=tuple(o for o in outcomes if isinstance(o, ComputeTime)),
            errors=tuple(o for o in outcomes if isinstance(o, ReportFailure)),
            not_attempted=missing,
            stop_reason=stop_reason if missing else None,
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


Outcome = ComputeTime | ReportFailure | None


def _unexpected(error: Exception) -> EdgeImpulseError:
    """Wrap an exception no request should raise (a bug), so the report keeps its rows."""
    detail = str(error)
    detail = detail if len(detail) <= 200 else detail[:199] + "…"
    wrapped = EdgeImpulseError(f"unexpected {type(error).__name__}: {detail}")
    wrapped.__cause__ = error  # the traceback, for whoever debugs it
    return wrapped


def _failure(inner: int, piece: DateRange, error: Exception) -> Outcome:
    if isinstance(error, Stopped):
        return None
    if isinstance(error, EdgeImpulseError):
        return ReportFailure(inner, piece, error)
    return ReportFailure(inner, piece, _unexpected(error))


class _Breaker:
    """Trips after ``limit`` consecutive connection failures, in the order requests finish."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._streak = 0
        self.reason: str | None = None

    def record(self, outcome: Outcome) -> bool:
        """Count one finished request; return True the moment the report should stop."""
        if isinstance(outcome, ReportFailure) and isinstance(outcome.error, APIConnectionError):
            self._streak += 1
            if self._streak >= self._limit and self.reason is None:
                self.reason = (
                    f"the server looks unreachable: {self._limit} requests in a row failed to "
                    f"connect ({outcome.error.message})"
                )
                return True
        elif outcome is not None:
            self._streak = 0
        return False


async def run_async(
    plan: Plan,
    send: Callable[[int, DateRange], Awaitable[ComputeTime]],
    concurrency: int,
    on_progress: ProgressCallback | None,
    *,
    stop_after: int = DEFAULT_STOP_AFTER,
) -> Report:
    """Run a plan on the running event loop with ``concurrency`` workers."""
    outcomes: list[Outcome] = [None] * plan.size
    jobs = enumerate(plan.jobs())
    breaker = _Breaker(stop_after)
    workers: list[asyncio.Task[None]] = []
    done = 0

    async def worker() -> None:
        nonlocal done
        # Workers pull jobs one at a time: no task per request, so 20,000 requests cost no
        # more memory than 2,000 beyond their (small) rows.
        for index, (inner, piece) in jobs:
            try:
                outcomes[index] = await send(inner, piece)
            except Exception as error:  # recorded: one request must not lose all
                outcomes[index] = _failure(inner, piece, error)
            done += 1
            _progress(on_progress, done, plan.size)
            if breaker.record(outcomes[index]):
                # Stop the others where they are: their requests count as not attempted.
                for task in workers:
                    if task is not asyncio.current_task():
                        task.cancel()
                return

    workers.extend(asyncio.ensure_future(worker()) for _ in range(min(concurrency, plan.size)))
    try:
        results = await asyncio.gather(*workers, return_exceptions=True)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
    return plan.report(outcomes, breaker.reason)


def run_threads(
    plan: Plan,
    send: Callable[[int, DateRange, threading.Event], ComputeTime],
    concurrency: int,
    on_progress: ProgressCallback | None,
    *,
    stop_after: int = DEFAULT_STOP_AFTER,
) -> Report:
    """Run a plan on a thread pool sharing the sync client's connection pool.

    ``on_progress`` is called on the calling thread, never concurrently. ``send`` gets the
    report's stop event: once it is set, the call sends nothing more and raises ``Stopped``.

    Raises:
        ReportInterrupted: Ctrl-C; it carries the partial report.
    """
    outcomes: list[Outcome] = [None] * plan.size
    stop = threading.Event()
    breaker = _Breaker(stop_after)

    def attempt(index: int, inner: int, piece: DateRange) -> None:
        if stop.is_set():
            return
        try:
            outcomes[index] = send(inner, piece, stop)
        except Exception as error:  # recorded: one request must not lose all
            outcomes[index] = _failure(inner, piece, error)

    done = 0
    pending: dict[Future[None], int] = {}

    def settle_one_or_more() -> None:
        nonlocal done
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            index = pending.pop(future)
            future.result()  # attempt() records every Exception; this re-raises nothing else
            done += 1
            _progress(on_progress, done, plan.size)
            if breaker.record(outcomes[index]):
                stop.set()

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ei-usage")
    try:
        for index, (inner, piece) in enumerate(plan.jobs()):
            while len(pending) >= concurrency and not stop.is_set():
                settle_one_or_more()
            if stop.is_set():
                break
            pending[pool.submit(attempt, index, inner, piece)] = index
        while pending:
            settle_one_or_more()
    except KeyboardInterrupt:
        # Nothing more is sent; waits and reads in flight see the event and end promptly, and
        # the rows already fetched go back to the caller with the interruption.
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise ReportInterrupted(plan.report(outcomes, "interrupted (Ctrl-C)")) from None
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return plan.report(outcomes, breaker.reason)
