"""Bulk results: compute time of many inner organizations over periods; entitlement checks.

One failing inner organization (404, 403, exhausted retries) must not lose the others' results, so
each request's :class:`~ei_usage.EdgeImpulseError` is recorded next to the rows, and what a run
did not do (it stopped early: an unreachable server, Ctrl-C) is listed with the reason. The runs
themselves are :mod:`ei_usage._runner`'s.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from . import _errors
from ._dates import PERIODS, DateRange, Every, format_iso_z
from ._errors import EdgeImpulseError, ReportError, RequestInfo
from ._models import (
    ComputeTime,
    Entitlements,
    InnerOrganizationUsage,
    discrepancy,
)
from ._units import Unit, as_unit, from_timedelta, to_timedelta

if TYPE_CHECKING:
    from ._history import StoredComputeTime
    from ._plan import Plan

ProgressCallback = Callable[[int, int], None]
"""``on_progress(done, total)``: called as each request finishes (successfully or not)."""

REPORT_FORMAT = "ei-usage.report"
REPORT_VERSION = 2
"""The version of the report JSON; 1 was 0.1.0's (seconds only, no totals, no format key)."""
ENTITLEMENTS_FORMAT = "ei-usage.entitlements"
ENTITLEMENTS_VERSION = 1
"""The version of the entitlement check JSON (``check --format json``)."""
MAX_JSON_CHARS = 64 * 2**20
"""The longest text ``from_json`` reads by default: 64 Mi characters, about 190,000 report rows
(500 inner organizations by day for a year). Larger ones take ``max_chars=``."""


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


# ---- reading JSON back ---------------------------------------------------------------------------
# The JSON may have been edited, truncated or written by something else: every value is checked
# for its type and range, and a refusal names where it is (``rows[3] (inner organization 5,
# 2024-05): cpu is -1.0, a negative duration``). Derived values (totals, fractions, ``complete``)
# are recomputed, not read.


def _load(text: str | bytes, fmt: str, versions: tuple[int, ...], max_chars: int) -> dict[str, Any]:
    """Parse JSON text of ``fmt`` (absent: taken as ``fmt``) at one of ``versions``."""
    if not isinstance(text, str | bytes | bytearray):
        raise ValueError(f"expected JSON text, got {type(text).__name__}")
    if len(text) > max_chars:
        raise ValueError(f"{len(text):,} characters, more than max_chars={max_chars:,}")
    try:
        data = json.loads(text)
    except RecursionError:  # the decoder recurses per level: 100,000 "[" would be 100,000 deep
        raise ValueError("nested too deeply") from None
    except ValueError as error:  # also UnicodeDecodeError, for bytes
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {_kind(data)}")
    version = data.get("version", 1)
    if data.get("format", fmt) != fmt or type(version) is not int or version not in versions:
        raise ValueError(f"unknown format {_short(data.get('format'))} version {_short(version)}")
    return data


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _short(value: object) -> str:
    """``repr(value)``, cut to a readable length (values come from the text being refused)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _at(where: str, text: str) -> str:
    """``text``, after where it applies (nothing for the top level)."""
    return f"{where}: {text}" if where else text


def _field(item: Mapping[str, Any], key: str, where: str) -> Any:
    try:
        return item[key]
    except KeyError:
        raise ValueError(_at(where, f"{key} is missing")) from None


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {_kind(value)}")
    return value


def _array(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected an array, got {_kind(value)}")
    return value


def _count(value: object, where: str) -> int:
    """An id or a count: a JSON integer >= 0 (not 2.0, "2", true or -1)."""
    if type(value) is not int or value < 0:
        raise ValueError(f"{where} is {_short(value)}, not an integer >= 0")
    return value


def _optional_count(item: Mapping[str, Any], key: str, where: str) -> int | None:
    value = item.get(key)
    return None if value is None else _count(value, _at(where, key))


def _optional_text(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(_at(where, f"{key} is {_kind(value)}, not a string"))
    return value


def _optional_flag(item: Mapping[str, Any], key: str, where: str) -> bool | None:
    """A true/false field that may be missing or null (unknown)."""
    value = item.get(key)
    if value is not None and not isinstance(value, bool):
        raise ValueError(_at(where, f"{key} is {_kind(value)}, not true, false or null"))
    return value


def _duration(item: Mapping[str, Any], key: str, unit: Unit, where: str) -> timedelta | None:
    """A duration written as a number of ``unit`` (null: unknown); never negative."""
    value = _field(item, key, where)
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError(_at(where, f"{key} is {_short(value)}, not a number of {unit.value}"))
    if value < 0:
        raise ValueError(_at(where, f"{key} is {value!r}, a negative duration"))
    try:
        return to_timedelta(value, unit)
    except ValueError as error:
        raise ValueError(_at(where, f"{key}: {error}")) from None


def _instant(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where} is {_kind(value)}, not an ISO 8601 date-time")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where} is {_short(value)}, not an ISO 8601 date-time") from None
    if instant.utcoffset() is None:
        raise ValueError(f"{where} is {_short(value)}, without a timezone")
    return instant


def _span(item: Mapping[str, Any], where: str) -> DateRange:
    start = _instant(_field(item, "start", where), f"{where}: start")
    end = _instant(_field(item, "end", where), f"{where}: end")
    if start >= end:
        raise ValueError(f"{where}: start {_short(item['start'])} is not before end")
    return DateRange(start, end)


def _unit(value: object, where: str) -> Unit:
    try:
        return as_unit(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise ValueError(_at(where, f"unit is {_short(value)}, not a unit")) from None


def _error_from_dict(data: object, where: str) -> EdgeImpulseError:
    data = _object(data, where)
    name = _field(data, "type", where)
    cls = getattr(_errors, name, None) if isinstance(name, str) else None
    # A ReportError sums up failures; it is never the failure of one request.
    if not (isinstance(cls, type) and issubclass(cls, EdgeImpulseError)) or issubclass(
        cls, _errors.ReportError
    ):
        raise ValueError(f"{where}: unknown error type {_short(name)}")
    message = _optional_text(data, "message", where)
    if message is None:
        raise ValueError(f"{where}: message is missing")
    request = None
    if data.get("request") is not None:
        info = _object(data["request"], f"{where}.request")
        method = _optional_text(info, "method", f"{where}.request")
        url = _optional_text(info, "url", f"{where}.request")
        if method is None or url is None:
            raise ValueError(f"{where}.request: method and url must be strings")
        request = RequestInfo(method=method, url=url)
    status = _optional_count(data, "status_code", where)
    if issubclass(cls, _errors.APIError):
        kwargs: dict[str, Any] = {"request": request}
        if issubclass(cls, _errors.RateLimitError | _errors.ServerError):
            kwargs["retry_after"] = _duration(
                {"retry_after_seconds": data.get("retry_after_seconds")},
                "retry_after_seconds",
                Unit.SECONDS,
                where,
            )
        return cls(message, status or 0, None, **kwargs)
    if issubclass(cls, _errors.ResponseTooLargeError):
        limit = _optional_count(data, "limit_bytes", where)
        if limit is None:
            raise ValueError(f"{where}: limit_bytes is missing")
        return cls(
            message,
            limit_bytes=limit,
            status_code=200 if status is None else status,
            request=request,
        )
    if issubclass(cls, _errors.ResponseValidationError):
        return cls(
            message,
            field=_optional_text(data, "field", where),
            status_code=200 if status is None else status,
            request=request,
        )
    if issubclass(cls, _errors.APIConnectionError):
        transient = data.get("transient", True)
        if not isinstance(transient, bool):
            raise ValueError(f"{where}: transient is {_kind(transient)}, not a boolean")
        return cls(message, request=request, transient=transient)
    return cls(message, request=request)


class _Once:
    """Refuses a second outcome for the same request (a duplicated row, error or skip)."""

    def __init__(self) -> None:
        self._seen: dict[object, str] = {}

    def add(self, key: object, where: str) -> None:
        first = self._seen.setdefault(key, where)
        if first != where:
            raise ValueError(f"{where}: the same request as {first}")


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
        listing_stop_reason: for ``"all"``, why listing the white label's organizations ended
            early (what the server did), or None: the report then covers only the
            organizations listed, and which others exist is unknown.
        from_store: the rows a history store answered instead of the API (``store=``), by
            ``(inner_organization_id, period)``, with when each was fetched from the API.
    """

    organization_id: int
    inner_organization_ids: tuple[int, ...]
    period: DateRange
    every: Every
    rows: tuple[ComputeTime, ...]
    errors: tuple[ReportFailure, ...]
    not_attempted: tuple[tuple[int, DateRange], ...] = ()
    stop_reason: str | None = None
    listing_stop_reason: str | None = None
    from_store: Mapping[tuple[int, DateRange], datetime] = attrs.field(factory=dict, hash=False)

    @property
    def ok(self) -> bool:
        """Whether every request succeeded (and, for ``"all"``, the listing was complete)."""
        return not self.errors and not self.not_attempted and self.listing_stop_reason is None

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
            ReportError: at least one request failed, the report stopped early, or the listing
                of ``"all"`` ended early.
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
        if self.listing_stop_reason:
            parts.append(f"the listing of the organizations was {self.listing_stop_reason}")
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
            "listing_stop_reason": self.listing_stop_reason,
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
            "from_store": [
                {
                    "inner_organization_id": inner,
                    **piece.to_dict(),
                    "fetched_at": format_iso_z(fetched_at),
                }
                for (inner, piece), fetched_at in self.from_store.items()
            ],
        }

    def to_json(self, unit: Unit | str = Unit.SECONDS) -> str:
        """Return the report as JSON (:meth:`to_dict`); :meth:`from_json` reads it back.

        In seconds (the default) durations are written with microsecond precision and read back
        exactly; in minutes or hours, to within floating-point precision.
        """
        return json.dumps(self.to_dict(unit), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes, *, max_chars: int = MAX_JSON_CHARS) -> Report:
        """Read a report written by :meth:`to_json` or ``ei-usage compute-time --format json``.

        Any unit the text states is read back (and the first, unversioned format of 0.1.0,
        which was always in seconds). Totals and ``complete`` are recomputed from the rows, not
        trusted. The text is checked as if hostile: ids must be integers >= 0, durations numbers
        >= 0 (or null), each row, failure and request not attempted must lie within the period,
        belong to an inner organization of the report and be the only outcome of its request.

        Args:
            text: the JSON text (str, or UTF-8 bytes).
            max_chars: refuse a longer text before parsing it (default :data:`MAX_JSON_CHARS`,
                64 Mi characters, about 190,000 rows).

        Raises:
            ValueError: the text is not such a report; the message names the offending row.
        """
        try:
            return cls._from_dict(_load(text, REPORT_FORMAT, (1, 2), max_chars))
        except ValueError as error:
            raise ValueError(f"not an ei-usage report: {error}") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> Report:
        unit = _unit(_field(data, "unit", ""), "")
        every = data.get("every")
        if every not in PERIODS:
            raise ValueError(f"every is {_short(every)}, not a calendar unit")
        organization_id = _count(_field(data, "organization_id", ""), "organization_id")
        period = _span(_object(_field(data, "period", ""), "period"), "period")
        ids = _array(_field(data, "inner_organization_ids", ""), "inner_organization_ids")
        inner_ids: set[int] = set()
        for index, value in enumerate(ids):
            inner = _count(value, f"inner_organization_ids[{index}]")
            if inner in inner_ids:
                raise ValueError(f"inner_organization_ids[{index}]: {inner} is listed twice")
            inner_ids.add(inner)
        once = _Once()

        def request(item: object, where: str) -> tuple[dict[str, Any], int, DateRange, str]:
            """Check what a row, failure or skip has in common; return it with its name."""
            item = _object(item, where)
            inner = _count(
                _field(item, "inner_organization_id", where), f"{where}: inner_organization_id"
            )
            piece = _span(item, where)
            where = f"{where} (inner organization {inner}, {piece})"
            if inner not in inner_ids:
                raise ValueError(f"{where}: not one of inner_organization_ids")
            if not (period.start <= piece.start and piece.end <= period.end):
                raise ValueError(f"{where}: outside the report's period {period}")
            once.add((inner, piece), where)
            return item, inner, piece, where

        rows = []
        for index, raw in enumerate(_array(_field(data, "rows", ""), "rows")):
            item, inner, piece, where = request(raw, f"rows[{index}]")
            row_org = _count(_field(item, "organization_id", where), f"{where}: organization_id")
            if row_org != organization_id:
                raise ValueError(f"{where}: organization_id {row_org} is not {organization_id}")
            rows.append(
                ComputeTime(
                    organization_id=organization_id,
                    inner_organization_id=inner,
                    period=piece,
                    cpu=_duration(item, "cpu", unit, where),
                    gpu=_duration(item, "gpu", unit, where),
                    total=_duration(item, "total", unit, where),
                    inner_organization_name=_optional_text(item, "inner_organization_name", where),
                    # Optional: reports written before 0.2.1 do not have it.
                    inner_organization_deleted=_optional_flag(
                        item, "inner_organization_deleted", where
                    ),
                )
            )
        errors = []
        for index, raw in enumerate(_array(_field(data, "errors", ""), "errors")):
            item, inner, piece, where = request(raw, f"errors[{index}]")
            error = _error_from_dict(_field(item, "error", where), f"{where}: error")
            errors.append(ReportFailure(inner, piece, error))
        not_attempted = []
        for index, raw in enumerate(_array(data.get("not_attempted", []), "not_attempted")):
            _, inner, piece, _ = request(raw, f"not_attempted[{index}]")
            not_attempted.append((inner, piece))
        # Optional: reports written before 0.3.0 do not have it. Each names a row of the report.
        read = {(row.inner_organization_id, row.period) for row in rows}
        from_store: dict[tuple[int, DateRange], datetime] = {}
        for index, raw in enumerate(_array(data.get("from_store", []), "from_store")):
            where = f"from_store[{index}]"
            item = _object(raw, where)
            inner = _count(
                _field(item, "inner_organization_id", where), f"{where}: inner_organization_id"
            )
            piece = _span(item, where)
            if (inner, piece) not in read or (inner, piece) in from_store:
                raise ValueError(f"{where}: not one row of the report, once")
            fetched_at = _instant(_field(item, "fetched_at", where), f"{where}: fetched_at")
            from_store[inner, piece] = fetched_at.astimezone(UTC)
        return cls(
            organization_id=organization_id,
            inner_organization_ids=tuple(sorted(inner_ids)),
            period=period,
            every=every,
            rows=tuple(rows),
            errors=tuple(errors),
            not_attempted=tuple(not_attempted),
            stop_reason=_optional_text(data, "stop_reason", ""),
            listing_stop_reason=_optional_text(data, "listing_stop_reason", ""),
            from_store=from_store,
        )


# ---- assembling ------------------------------------------------------------------------------


def assemble(
    plan: Plan,
    sent: Sequence[tuple[int, DateRange]],
    outcomes: Sequence[ComputeTime | EdgeImpulseError | None],
    stop_reason: str | None = None,
    stored: Mapping[tuple[int, DateRange], StoredComputeTime] | None = None,
) -> Report:
    """Assemble a report: the plan's requests in order, each from the store or as sent.

    Args:
        plan: the report's plan.
        sent: the requests that were to be sent (the plan's, less those the store answered).
        outcomes: one per request of ``sent``: a row, the error it failed with, or None when
            the report stopped before it was done.
        stop_reason: why the report stopped early, or None.
        stored: the rows a history store answered, by request.
    """
    known = stored or {}
    pairs: Iterable[tuple[tuple[int, DateRange], ComputeTime | EdgeImpulseError | None]]
    if known:
        by_request = dict(zip(sent, outcomes, strict=True))
        pairs = ((job, known[job].row if job in known else by_request[job]) for job in plan.jobs())
    else:
        pairs = zip(sent, outcomes, strict=True)
    rows: list[ComputeTime] = []
    errors: list[ReportFailure] = []
    missing: list[tuple[int, DateRange]] = []
    from_store: dict[tuple[int, DateRange], datetime] = {}
    for (inner, piece), outcome in pairs:
        if outcome is None:
            missing.append((inner, piece))
        elif isinstance(outcome, EdgeImpulseError):
            errors.append(ReportFailure(inner, piece, outcome))
        else:
            if (inner, piece) in known:
                from_store[inner, piece] = known[inner, piece].fetched_at
            rows.append(
                attrs.evolve(
                    outcome,
                    inner_organization_name=plan.names.get(inner),
                    inner_organization_deleted=plan.deleted.get(inner),
                )
            )
    return Report(
        organization_id=plan.organization_id,
        inner_organization_ids=plan.inner_organization_ids,
        period=plan.period,
        every=plan.every,
        rows=tuple(rows),
        errors=tuple(errors),
        not_attempted=tuple(missing),
        stop_reason=stop_reason if missing else None,
        listing_stop_reason=plan.listing_stop_reason,
        from_store=from_store,
    )


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
        listing_stop_reason: for ``"all"``, why listing the white label's organizations ended
            early (what the server did), or None: the check then covers only the
            organizations listed.
    """

    organization_id: int
    rows: tuple[InnerOrganizationUsage, ...]
    errors: tuple[EntitlementFailure, ...] = ()
    not_attempted: tuple[int, ...] = ()
    stop_reason: str | None = None
    listing_stop_reason: str | None = None

    @classmethod
    def of(
        cls,
        organization_id: int,
        inner_ids: Sequence[int],
        outcomes: Sequence[InnerOrganizationUsage | EdgeImpulseError | None],
        stop_reason: str | None,
        listing_stop_reason: str | None = None,
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
        return cls(
            organization_id,
            tuple(rows),
            errors,
            missing,
            stop_reason if missing else None,
            listing_stop_reason,
        )

    @property
    def ok(self) -> bool:
        """Whether every inner organization was read (for ``"all"``: every one listed)."""
        return not self.errors and not self.not_attempted and self.listing_stop_reason is None

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
            "format": ENTITLEMENTS_FORMAT,
            "version": ENTITLEMENTS_VERSION,
            "organization_id": self.organization_id,
            "unit": u.value,
            "complete": self.ok,
            "stop_reason": self.stop_reason,
            "listing_stop_reason": self.listing_stop_reason,
            "rows": [row.to_dict(u) for row in self.rows],
            "errors": [
                {"inner_organization_id": f.inner_organization_id, "error": _error_to_dict(f.error)}
                for f in self.errors
            ],
            "not_attempted": list(self.not_attempted),
        }

    def to_json(self, unit: Unit | str = Unit.SECONDS) -> str:
        """Return the check as JSON (:meth:`to_dict`); :meth:`from_json` reads it back.

        In seconds (the default) durations are read back exactly; in minutes or hours, to within
        floating-point precision.
        """
        return json.dumps(self.to_dict(unit), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes, *, max_chars: int = MAX_JSON_CHARS) -> EntitlementReport:
        """Read a check written by :meth:`to_json` or ``ei-usage check --format json``.

        The unit the text states is read back; what ``check`` adds (``status``, ``warn_at``,
        ``fail_at``) and every derived value (``compute``, fractions, ``complete``) is ignored
        and recomputed. Rows are put in the order :meth:`of` gives, most used first. The text
        is checked as :meth:`Report.from_json` checks a report: ids are integers >= 0,
        durations and sizes numbers >= 0 (or null), each inner organization appears once (in
        ``rows``, ``errors`` or ``not_attempted``), every row belongs to ``organization_id``.

        Args:
            text: the JSON text (str, or UTF-8 bytes).
            max_chars: refuse a longer text before parsing it (default :data:`MAX_JSON_CHARS`).

        Raises:
            ValueError: the text is not such a check; the message names the offending row.
        """
        try:
            data = _load(text, ENTITLEMENTS_FORMAT, (ENTITLEMENTS_VERSION,), max_chars)
            if data.get("format") != ENTITLEMENTS_FORMAT:  # the format has always been stated
                raise ValueError("format is missing")
            return cls._from_dict(data)
        except ValueError as error:
            raise ValueError(f"not an ei-usage entitlement check: {error}") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> EntitlementReport:
        unit = _unit(_field(data, "unit", ""), "")
        organization_id = _count(_field(data, "organization_id", ""), "organization_id")
        once = _Once()

        def inner_of(item: Mapping[str, Any], where: str) -> tuple[int, str]:
            inner = _count(
                _field(item, "inner_organization_id", where), f"{where}: inner_organization_id"
            )
            where = f"{where} (inner organization {inner})"
            once.add(inner, where)
            return inner, where

        rows = []
        for index, raw in enumerate(_array(_field(data, "rows", ""), "rows")):
            item = _object(raw, f"rows[{index}]")
            inner, where = inner_of(item, f"rows[{index}]")
            row_org = _count(_field(item, "organization_id", where), f"{where}: organization_id")
            if row_org != organization_id:
                raise ValueError(f"{where}: organization_id {row_org} is not {organization_id}")
            limits = _object(_field(item, "entitlements", where), f"{where}: entitlements")
            limits_where = f"{where}: entitlements"
            limits_unit = _unit(limits.get("unit", unit.value), limits_where)
            since = item.get("contract_since")
            billable = item.get("billable")
            if billable is not None and not isinstance(billable, bool):
                raise ValueError(f"{where}: billable is {_kind(billable)}, not a boolean")
            rows.append(
                InnerOrganizationUsage(
                    organization_id=organization_id,
                    inner_organization_id=inner,
                    cpu=_duration(item, "cpu", unit, where),
                    gpu=_duration(item, "gpu", unit, where),
                    total=_duration(item, "total", unit, where),
                    contract_since=None
                    if since is None
                    else _instant(since, f"{where}: contract_since"),
                    storage_bytes=_optional_count(item, "storage_bytes", where),
                    billable=billable,
                    entitlements=Entitlements(
                        compute_time_per_year=_duration(
                            limits, "compute_time_per_year", limits_unit, limits_where
                        ),
                        gpu_compute_time_per_year=_duration(
                            limits, "gpu_compute_time_per_year", limits_unit, limits_where
                        ),
                        storage_bytes=_optional_count(limits, "storage_bytes", limits_where),
                        projects=_optional_count(limits, "projects", limits_where),
                        users=_optional_count(limits, "users", limits_where),
                    ),
                    inner_organization_name=_optional_text(item, "inner_organization_name", where),
                    # Optional: reports written before 0.2.1 do not have it.
                    inner_organization_deleted=_optional_flag(
                        item, "inner_organization_deleted", where
                    ),
                )
            )
        errors = []
        for index, raw in enumerate(_array(_field(data, "errors", ""), "errors")):
            item = _object(raw, f"errors[{index}]")
            inner, where = inner_of(item, f"errors[{index}]")
            error = _error_from_dict(_field(item, "error", where), f"{where}: error")
            errors.append(EntitlementFailure(inner, error))
        not_attempted = []
        for index, value in enumerate(_array(data.get("not_attempted", []), "not_attempted")):
            where = f"not_attempted[{index}]"
            inner = _count(value, where)
            once.add(inner, f"{where} (inner organization {inner})")
            not_attempted.append(inner)
        return cls(
            organization_id=organization_id,
            rows=tuple(sorted(rows, key=_usage_order)),
            errors=tuple(errors),
            not_attempted=tuple(not_attempted),
            stop_reason=_optional_text(data, "stop_reason", ""),
            listing_stop_reason=_optional_text(data, "listing_stop_reason", ""),
        )
