"""Output of the command line: aligned tables, CSV, JSON, and the progress bar."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import sys
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ei_usage import convert

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import timedelta

    from ei_usage import (
        ComputeTime,
        EntitlementReport,
        InnerOrganization,
        InnerOrganizationUsage,
        OrganizationMetrics,
        RateStats,
        Report,
        Unit,
        UsageTotals,
    )

_SOURCE_NOTE = "The API reports CPU/GPU in seconds and totals in minutes; all shown in {unit}."
_DECIMALS = {"seconds": 1, "minutes": 2, "hours": 3}


class PipeClosedError(Exception):
    """The reader of our output went away (``| head``); the command exits quietly, 141."""


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Write output, turning a closed pipe into :class:`PipeClosedError` for every format.

    click and rich each handle a closed pipe their own way (both exit 1, at different moments),
    and a pipe's buffer may only fail at the final flush; so output is flushed here, and every
    format ends the same way.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise PipeClosedError from None


class _Console(Console):
    def on_broken_pipe(self) -> None:
        raise BrokenPipeError  # to writing(), rather than rich's own exit


def _console(stream: TextIO) -> Console:
    # A pipe has no width; give tables room rather than wrapping every cell.
    return _Console(file=stream, width=None if stream.isatty() else 160, highlight=False)


@contextlib.contextmanager
def progress(
    rate: Callable[[], RateStats] | None = None,
) -> Iterator[Callable[[int, int], None] | None]:
    """Show a progress bar on stderr when it is a terminal and the work is worth it.

    The report says how many requests it makes in each ``on_progress(done, total)`` call, so
    the bar learns its size from the first one, and stays hidden for a single request. With
    ``rate`` (the client's ``rate_stats``), the bar also shows the pace the client keeps and how
    many 429 answers it absorbed, once the server has rate-limited it.
    """
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("requests"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[pace]}"),
        console=console,
        transient=True,
    )
    tasks: list[TaskID] = []

    def update(done: int, total: int) -> None:
        if total < 2:
            return
        if not tasks:
            tasks.append(bar.add_task("requests", total=total, pace=""))
        bar.update(tasks[0], completed=done, pace=pace_text(rate() if rate else None))

    with bar:
        yield update


def pace_text(stats: RateStats | None) -> str:
    """``"19.6 req/s, 12 x 429 absorbed"`` once the server has rate-limited, else empty."""
    if stats is None or not stats.throttles:
        return ""
    rate = "" if stats.rate_per_second is None else f"{stats.rate_per_second:.1f} req/s, "
    return f"{rate}{stats.throttles:,} x 429 absorbed"


def _document(out: TextIO, document: str) -> None:
    """Write an HTML document as UTF-8 bytes, whatever the locale's encoding of ``out`` is."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(document)
        return
    out.flush()
    buffer.write(document.encode("utf-8"))


def _plain(text: str) -> str:
    """Server text made safe for a terminal table: no control characters, no rich markup."""
    return escape("".join(c if c.isprintable() else " " for c in text))


DELETED = "(deleted) "
"""Put before the name of a deleted organization in tables and HTML: first, so that cutting a
long name to its column never hides it."""


def shown_name(name: str | None, deleted: bool | None) -> str:
    """An organization's name as tables show it (raw text: ``_plain`` it for a table)."""
    return (DELETED if deleted else "") + (name or "")


def _number(value: timedelta | None, unit: Unit) -> str:
    if value is None:
        return "n/a"
    return f"{convert(value.total_seconds(), 'seconds', unit):,.{_DECIMALS[unit.value]}f}"


def _totals_cells(period: str, totals: UsageTotals, unit: Unit) -> list[str]:
    return [
        period,
        _number(totals.cpu, unit),
        _number(totals.gpu, unit),
        _number(totals.total, unit),
        _number(totals.discrepancy, unit),
    ]


CSV_COLUMNS = (
    "kind",
    "organization_id",
    "inner_organization_id",
    "inner_organization_name",
    "inner_organization_deleted",
    "start",
    "end",
    "unit",
    "cpu",
    "gpu",
    "total",
    "discrepancy",
)
"""CSV columns: ``kind`` is ``usage`` for a request's row, ``total`` for an inner organization's
totals and ``overall`` for the report's (the same totals the table shows)."""


def _csv(result: Report, unit: Unit, out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    # repr-exact floats, so the CSV reads back to the same numbers
    writer.writerows({"kind": "usage", **row} for row in result.to_rows(unit))
    span = result.period.to_dict()
    for inner, totals in result.totals_by_organization().items():
        writer.writerow(
            {
                "kind": "total",
                "organization_id": result.organization_id,
                "inner_organization_id": inner,
                **span,
                **totals.to_dict(unit),
            }
        )
    writer.writerow(
        {"kind": "overall", "organization_id": result.organization_id, **span}
        | result.total().to_dict(unit)
    )


def report(result: Report, unit: Unit, fmt: str, out: TextIO) -> None:
    """Write a compute-time report in ``fmt``.

    JSON is the library's report format (``Report.to_json``), so ``Report.from_json`` reads it.
    """
    if fmt == "csv":
        _csv(result, unit, out)
        return
    if fmt == "json":
        out.write(result.to_json(unit) + "\n")
        return
    if fmt == "html":
        from . import _html

        _document(out, _html.compute_time_html(result, unit))
        return
    partial = ""
    if result.not_attempted:
        partial = (
            f" - PARTIAL: {len(result.not_attempted):,} requests not done ({result.stop_reason})"
        )
    table = Table(
        title=f"Compute time of organization {result.organization_id}'s inner organizations, "
        f"{result.period} by {result.every} ({unit.value}){partial}",
        caption=_SOURCE_NOTE.format(unit=unit.value),
        title_justify="left",
        caption_justify="left",
    )
    names = {
        r.inner_organization_id: shown_name(r.inner_organization_name, r.inner_organization_deleted)
        for r in result.rows
    }
    named = any(names.values())
    table.add_column("Inner org", justify="right")
    if named:
        table.add_column("Name", max_width=32, overflow="ellipsis", no_wrap=True)
    table.add_column("Period")
    for name in ("CPU", "GPU", "Total", "Total - (CPU+GPU)"):
        table.add_column(f"{name} ({unit.value})", justify="right")
    by_org = result.totals_by_organization()
    several_periods = len({row.period for row in result.rows}) > 1

    def label(inner: int | str, name: str | None) -> list[str]:
        return [str(inner), _plain(name or "")] if named else [str(inner)]

    rows_by_org: dict[int, list[ComputeTime]] = {}
    for row in result.rows:
        rows_by_org.setdefault(row.inner_organization_id, []).append(row)
    for inner in result.inner_organization_ids:
        rows = rows_by_org.get(inner, [])
        for row in rows:
            table.add_row(
                *label(inner, names.get(inner)),
                str(row.period),
                _number(row.cpu, unit),
                _number(row.gpu, unit),
                _number(row.total, unit),
                _number(row.discrepancy, unit),
            )
        if rows and several_periods:
            cells = _totals_cells("total", by_org[inner], unit)
            table.add_row(*label(inner, names.get(inner)), *cells, style="bold")
        if rows:
            table.add_section()
    overall = _totals_cells(str(result.period), result.total(), unit)
    table.add_row(*label("all", ""), *overall, style="bold")
    _console(out).print(table)


def _ids(ids: list[int]) -> str:
    unique = sorted(set(ids))
    shown = ", ".join(str(i) for i in unique[:5])
    return shown + (f" and {len(unique) - 5:,} more" if len(unique) > 5 else "")


def failures(result: Report, err: TextIO) -> None:
    """Summarize the failed and skipped requests of a report on ``err``: a line per cause."""
    total = len(result.rows) + len(result.errors) + len(result.not_attempted)
    if result.errors:
        err.write(f"ei-usage: {len(result.errors):,} of {total:,} requests failed:\n")
        for cause, which in result.failures_by_cause().items():
            if len(which) == 1:
                where = f"inner org {which[0].inner_organization_id}, {which[0].period}"
            else:
                where = (
                    f"{len(which):,} requests, inner orgs "
                    f"{_ids([f.inner_organization_id for f in which])}"
                )
            err.write(f"  {where}: {cause}\n")
    if result.not_attempted:
        err.write(
            f"ei-usage: {len(result.not_attempted):,} of {total:,} requests not attempted: "
            f"{result.stop_reason}\n"
        )


def _storage(size: int) -> str:
    value = float(size)
    for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or suffix == "TiB":
            return f"{size:,} bytes ({value:,.1f} {suffix})"
        value /= 1024
    raise AssertionError  # pragma: no cover - the loop always returns


def metrics(result: OrganizationMetrics, unit: Unit, fmt: str, out: TextIO) -> None:
    """Write an organization's metrics in ``fmt``."""
    data = result.to_dict(unit)
    if fmt == "json":
        out.write(json.dumps(data, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(data), lineterminator="\n")
        writer.writeheader()
        writer.writerow(data)
        return
    table = Table(
        title=f"Metrics of organization {result.organization_id}",
        title_justify="left",
        caption="Compute totals come from the API in minutes; the contract's CPU/GPU time is "
        "read as seconds (the spec gives no unit); storage is in bytes.",
        caption_justify="left",
    )
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    table.add_column("Unit")
    rows = [
        ("Total jobs compute time", _number(result.total_jobs_compute_time, unit), unit.value),
        (
            "Compute time, current contract",
            _number(result.jobs_compute_time_current_year, unit),
            unit.value,
        ),
        (
            "Current contract since",
            result.jobs_compute_time_current_year_since.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "",
        ),
        (
            "CPU compute time, current contract",
            _number(result.cpu_compute_time_current_contract, unit),
            unit.value,
        ),
        (
            "GPU compute time, current contract",
            _number(result.gpu_compute_time_current_contract, unit),
            unit.value,
        ),
        ("Storage", _storage(result.total_storage_bytes), ""),
        ("Projects", f"{result.project_count:,}", _visibility(result.project_visibility)),
        ("Users", f"{result.user_count:,}", _staff(result.exclude_edge_impulse_users)),
    ]
    for row in rows:
        table.add_row(*row)
    _console(out).print(table)


def _visibility(value: str | None) -> str:
    return f"{value} only" if value else "all"


def _staff(excluded: bool | None) -> str:
    return "without Edge Impulse staff" if excluded else "all"


# ---- orgs ---------------------------------------------------------------------------------------

ORGANIZATION_COLUMNS = (
    "id",
    "name",
    "deleted",
    "created",
    "billable",
    "whitelabel_id",
    "private_project_count",
    "unit",
    "compute_time_per_year",
    "gpu_compute_time_per_year",
    "storage_bytes",
    "projects",
    "users",
)


def _limit(value: int | None) -> str:
    return "unlimited" if value is None else f"{value:,}"


def _allowed(value: timedelta | None, unit: Unit) -> str:
    return "unlimited" if value is None else _number(value, unit)


def organizations(
    organization_id: int, listed: list[InnerOrganization], unit: Unit, fmt: str, out: TextIO
) -> None:
    """Write a white label's inner organizations in ``fmt`` (None limits: unlimited)."""
    if fmt == "json":
        data = {
            "organization_id": organization_id,
            "unit": unit.value,
            "organizations": [o.to_dict(unit) for o in listed],
        }
        out.write(json.dumps(data, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=ORGANIZATION_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for organization in listed:
            row = organization.to_dict(unit)
            limits = row.pop("entitlements")
            writer.writerow({**row, **limits})
        return
    table = Table(
        title=f"Inner organizations of white label {organization_id}: {len(listed):,}",
        caption=f"Entitlements per year; compute in {unit.value}, storage in bytes; "
        "unlimited: no limit set.",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Id", justify="right")
    table.add_column("Name", max_width=40, overflow="ellipsis", no_wrap=True)
    table.add_column("Created")
    table.add_column("Billable")
    table.add_column(f"Compute/yr ({unit.value})", justify="right")
    table.add_column(f"GPU/yr ({unit.value})", justify="right")
    table.add_column("Storage", justify="right")
    table.add_column("Projects", justify="right")
    table.add_column("Users", justify="right")
    for o in listed:
        e = o.entitlements
        table.add_row(
            str(o.id),
            _plain(shown_name(o.name, o.deleted)),
            o.created.strftime("%Y-%m-%d"),
            {True: "yes", False: "no", None: "?"}[o.billable],
            "unlimited"
            if e.compute_time_per_year is None
            else _number(e.compute_time_per_year, unit),
            "unlimited"
            if e.gpu_compute_time_per_year is None
            else _number(e.gpu_compute_time_per_year, unit),
            "unlimited" if e.storage_bytes is None else _storage(e.storage_bytes),
            _limit(e.projects),
            _limit(e.users),
        )
    _console(out).print(table)


# ---- check --------------------------------------------------------------------------------------

CHECK_COLUMNS = (
    "inner_organization_id",
    "inner_organization_name",
    "inner_organization_deleted",
    "status",
    "unit",
    "compute",
    "compute_time_per_year",
    "compute_used_fraction",
    "gpu",
    "gpu_compute_time_per_year",
    "gpu_used_fraction",
    "storage_bytes",
    "storage_limit_bytes",
    "storage_used_fraction",
    "contract_since",
)
_BAR_WIDTH = 20


def status(usage: InnerOrganizationUsage, warn_at: float, fail_at: float) -> str:
    """``over``, ``warn``, ``ok``, or ``no limit``, by the highest fraction of an entitlement."""
    fraction = usage.highest_used_fraction
    if fraction is None:
        return "no limit"
    if fraction >= fail_at:
        return "over"
    return "warn" if fraction >= warn_at else "ok"


def _bar(fraction: float | None) -> str:
    if fraction is None:
        return ""
    filled = _BAR_WIDTH if math.isinf(fraction) else min(_BAR_WIDTH, round(fraction * _BAR_WIDTH))
    shown = "inf" if math.isinf(fraction) else f"{fraction:.0%}"
    return "█" * filled + "░" * (_BAR_WIDTH - filled) + f" {shown:>5}"


def _percent(fraction: float | None) -> str:
    if fraction is None:
        return "-"
    return "inf" if math.isinf(fraction) else f"{fraction:.1%}"


_STYLE = {"over": "bold red", "warn": "yellow", "ok": "", "no limit": "dim"}


def entitlements(
    report: EntitlementReport,
    unit: Unit,
    fmt: str,
    out: TextIO,
    warn_at: float,
    fail_at: float,
) -> None:
    """Write an entitlement check in ``fmt``: most used first, a bar per organization."""
    if fmt == "html":
        from . import _html

        _document(out, _html.check_html(report, unit, warn_at=warn_at, fail_at=fail_at))
        return
    if fmt == "json":
        data = report.to_dict(unit)
        data["warn_at"], data["fail_at"] = warn_at, fail_at
        for row, usage in zip(data["rows"], report.rows, strict=True):
            row["status"] = status(usage, warn_at, fail_at)
        out.write(json.dumps(data, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CHECK_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for usage in report.rows:
            data = usage.to_dict(unit)
            limits = data["entitlements"]
            writer.writerow(
                {
                    **{k: data[k] for k in CHECK_COLUMNS if k in data},
                    "status": status(usage, warn_at, fail_at),
                    "compute_time_per_year": limits["compute_time_per_year"],
                    "gpu_compute_time_per_year": limits["gpu_compute_time_per_year"],
                    "storage_limit_bytes": limits["storage_bytes"],
                }
            )
        return
    partial = ""
    if report.not_attempted:
        partial = (
            f" - PARTIAL: {len(report.not_attempted):,} organizations not read "
            f"({report.stop_reason})"
        )
    table = Table(
        title=f"Entitlements of white label {report.organization_id}'s inner organizations, "
        f"running contracts (warn at {warn_at:.0%}, fail at {fail_at:.0%}){partial}",
        caption=f"Compute = CPU + GPU, against compute per year; durations in {unit.value}. "
        "Sorted by the highest fraction of any entitlement.",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Inner org", justify="right")
    table.add_column("Name", max_width=32, overflow="ellipsis", no_wrap=True)
    table.add_column("Status")
    table.add_column("Compute used", no_wrap=True)
    table.add_column(f"Compute ({unit.value})", justify="right")
    table.add_column(f"Limit ({unit.value})", justify="right")
    table.add_column("GPU", justify="right")
    table.add_column("Storage", justify="right")
    for usage in report.rows:
        state = status(usage, warn_at, fail_at)
        limit = usage.entitlements.compute_time_per_year
        table.add_row(
            str(usage.inner_organization_id),
            _plain(shown_name(usage.inner_organization_name, usage.inner_organization_deleted)),
            state,
            _bar(usage.compute_used_fraction),
            _number(usage.compute, unit),
            _allowed(limit, unit),
            _percent(usage.gpu_used_fraction),
            _percent(usage.storage_used_fraction),
            style=_STYLE[state],
        )
    _console(out).print(table)


def check_failures(report: EntitlementReport, err: TextIO) -> None:
    """Summarize the organizations a check could not read, a line per cause."""
    total = len(report.rows) + len(report.errors) + len(report.not_attempted)
    if report.errors:
        err.write(f"ei-usage: {len(report.errors):,} of {total:,} organizations not read:\n")
        for cause, which in report.failures_by_cause().items():
            ids = _ids([f.inner_organization_id for f in which])
            err.write(f"  inner orgs {ids}: {cause}\n")
    if report.not_attempted:
        err.write(
            f"ei-usage: {len(report.not_attempted):,} of {total:,} organizations not attempted: "
            f"{report.stop_reason}\n"
        )
