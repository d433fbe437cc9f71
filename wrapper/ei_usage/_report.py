"""Bulk results: compute time of many inner organizations over periods; entitlement checks.

One failing inner organization (404, 403, exhausted retries) must not lose the others' results, so
each request's :class:`~ei_usage.EdgeImpulseError` is recorded next to the rows, and what a run
did not do (it stopped early: an unreachable server, Ctrl-C) is listed with the reason. The runs
themselves are :mod:`ei_usage._runner`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, overload

import attrs

from . import _errors
from ._dates import PERIODS, DateRange, Every
from ._errors import EdgeImpulseError, ReportError, RequestInfo
from ._models import ComputeTime, InnerOrganization, InnerOrganizationUsage, discrepancy
from ._units import Unit, as_unit, from_timedelta, to_timedelta

ProgressCallback = Callable[[int, int], None]
"""``on_progress(done, total)``: called as each request finishes (successfully or not)."""

REPORT_FORMAT = "ei-usage.report"
REPORT_VERSION = 2
"""The version of the report JSON; 1 was 0.1.0's (seconds only, no totals, no format key)."""


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
                        inner_organization_name=r.get("inner_organization_name"),
                        # Optional: reports written before 0.2.1 do not have it.
                        inner_organization_deleted=_optional_bool(
                            r.get("inner_organization_deleted")
                        ),
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


def _optional_bool(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"expected true, false or null, got {type(value).__name__}")


# ---- running ---------------------------------------------------------------------------------


@attrs.frozen
class Plan:
    """The validated requests of a report, in result order."""

    organization_id: int
    inner_organization_ids: tuple[int, ...]
    period: DateRange
    every: Every
    pieces: tuple[DateRange, ...]
    names: Mapping[int, str] = attrs.field(factory=dict)
    deleted: Mapping[int, bool] = attrs.field(factory=dict)  # of listed organizations

    def jobs(self) -> Sequence[tuple[int, DateRange]]:
        """Return ``(inner_organization_id, piece)`` of every request, in result order.

        Computed on access, not stored: 20,000 requests cost no more memory than 2,000.
        """
        return _Jobs(self.inner_organization_ids, self.pieces)

    def report(
        self,
        outcomes: Sequence[ComputeTime | EdgeImpulseError | None],
        stop_reason: str | None = None,
    ) -> Report:
        """Assemble the report from outcomes indexed like :meth:`jobs` (None: not done)."""
        rows: list[ComputeTime] = []
        errors: list[ReportFailure] = []
        missing: list[tuple[int, DateRange]] = []
        for (inner, piece), outcome in zip(self.jobs(), outcomes, strict=True):
            if outcome is None:
                missing.append((inner, piece))
            elif isinstance(outcome, EdgeImpulseError):
                errors.append(ReportFailure(inner, piece, outcome))
            else:
                rows.append(
                    attrs.evolve(
                        outcome,
                        inner_organization_name=self.names.get(inner),
                        inner_organization_deleted=self.deleted.get(inner),
                    )
                )
        return Report(
            organization_id=self.organization_id,
            inner_organization_ids=self.inner_organization_ids,
            period=self.period,
            every=self.every,
            rows=tuple(rows),
            errors=tuple(errors),
            not_attempted=tuple(missing),
            stop_reason=stop_reason if missing else None,
        )


class _Jobs(Sequence[tuple[int, DateRange]]):
    """Every (inner organization, piece) pair of a plan, by index."""

    def __init__(self, inner: tuple[int, ...], pieces: tuple[DateRange, ...]) -> None:
        self._inner = inner
        self._pieces = pieces

    def __len__(self) -> int:
        return len(self._inner) * len(self._pieces)

    @overload
    def __getitem__(self, index: int) -> tuple[int, DateRange]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[int, DateRange]]: ...
    def __getitem__(
        self, index: int | slice
    ) -> tuple[int, DateRange] | Sequence[tuple[int, DateRange]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        inner, piece = divmod(index % len(self), len(self._pieces))
        return self._inner[inner], self._pieces[piece]


def make_plan(
    organization_id: int,
    inner_organizations: Iterable[int | InnerOrganization],
    period: DateRange,
    every: Every,
    check_id: Callable[[str, object], int],
) -> Plan:
    r"""Validate a report's arguments before any request.

    Args:
        organization_id: the white-label organization.
        inner_organizations: ids, or listed :class:`InnerOrganization`\ s (their names go into
            the rows).
        period: the whole range.
        every: the calendar unit of each request.
        check_id: validates one id.

    Raises:
        ValueError, TypeError: a bad id, an empty list of inner organizations, an unknown
            ``every``.
    """
    if isinstance(inner_organizations, str | bytes):
        raise TypeError("inner_organization_ids must be an iterable of ints, not a string")
    org = check_id("organization_id", organization_id)
    names: dict[int, str] = {}
    deleted: dict[int, bool] = {}
    ids: set[int] = set()
    for item in inner_organizations:
        if isinstance(item, InnerOrganization):
            names[item.id] = item.name
            deleted[item.id] = item.deleted
            ids.add(item.id)
        else:
            ids.add(check_id("inner_organization_id", item))
    if not ids:
        raise ValueError("inner_organization_ids is empty")
    return Plan(org, tuple(sorted(ids)), period, every, tuple(period.split(every)), names, deleted)


# ---- entitlement checks ------------------------------------------------------------------------


@attrs.frozen
class EntitlementFailure:
    """One inner organization whose usage could not be read."""

    inner_organization_id: int
    error: EdgeImpulseError


def _usage_order(usage: InnerOrganizationUsage) -> tuple[bool, float, int]:
    fraction = usage.highest_used_fraction
    # Highest first; organizations with nothing to compare (unlimited) last, then by id.
    return (fraction is None, -(fraction or 0.0), usage.inner_organization_id)


@attrs.frozen
class EntitlementReport:
    """Each inner organization's use of its running contract, against its entitlements.

    Attributes:
        organization_id: the white-label organization.
        rows: one usage per inner organization read, the most used (highest fraction of any
            entitlement) first; organizations without any limit come last.
        errors: one entry per inner organization that could not be read, by id.
        not_attempted: the inner organizations not read because the check stopped early.
        stop_reason: why it stopped early, or None if it ran to the end.
    """

    organization_id: int
    rows: tuple[InnerOrganizationUsage, ...]
    errors: tuple[EntitlementFailure, ...] = ()
    not_attempted: tuple[int, ...] = ()
    stop_reason: str | None = None

    @classmethod
    def of(
        cls,
        organization_id: int,
        inner_ids: Sequence[int],
        outcomes: Sequence[InnerOrganizationUsage | EdgeImpulseError | None],
        stop_reason: str | None,
    ) -> EntitlementReport:
        """Assemble a check from outcomes indexed like ``inner_ids`` (None: not done)."""
        rows = sorted(
            (o for o in outcomes if isinstance(o, InnerOrganizationUsage)), key=_usage_order
        )
        errors = tuple(
            EntitlementFailure(inner, o)
            for inner, o in zip(inner_ids, outcomes, strict=True)
            if isinstance(o, EdgeImpulseError)
        )
        missing = tuple(inner for inner, o in zip(inner_ids, outcomes, strict=True) if o is None)
        return cls(organization_id, tuple(rows), errors, missing, stop_reason if missing else None)

    @property
    def ok(self) -> bool:
        """Whether every inner organization was read."""
        return not self.errors and not self.not_attempted

    def at_or_over(self, fraction: float) -> tuple[InnerOrganizationUsage, ...]:
        """Return the rows using at least ``fraction`` (1.0 = all) of some entitlement."""
        return tuple(
            row
            for row in self.rows
            if row.highest_used_fraction is not None and row.highest_used_fraction >= fraction
        )

    def failures_by_cause(self) -> dict[str, tuple[EntitlementFailure, ...]]:
        """Return the failures grouped by cause, the most frequent first (see Report's)."""
        groups: dict[str, list[EntitlementFailure]] = {}
        for failure in self.errors:
            groups.setdefault(_describe(failure.error), []).append(failure)
        ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
        return {cause: tuple(failures) for cause, failures in ranked}

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit``."""
        u = as_unit(unit)
        return {
            "format": "ei-usage.entitlements",
            "version": 1,
            "organization_id": self.organization_id,
            "unit": u.value,
            "complete": self.ok,
            "stop_reason": self.stop_reason,
            "rows": [row.to_dict(u) for row in self.rows],
            "errors": [
                {"inner_organization_id": f.inner_organization_id, "error": _error_to_dict(f.error)}
                for f in self.errors
            ],
            "not_attempted": list(self.not_attempted),
        }
