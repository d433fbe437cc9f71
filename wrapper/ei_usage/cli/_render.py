"""Output of the command line: aligned tables, CSV, JSON, and the progress bar."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
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

    from ei_usage import OrganizationMetrics, Report, Unit, UsageTotals

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
def progress() -> Iterator[Callable[[int, int], None] | None]:
    """Show a progress bar on stderr when it is a terminal and the work is worth it.

    The report says how many requests it makes in each ``on_progress(done, total)`` call, so
    the bar learns its size from the first one, and stays hidden for a single request.
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
        console=console,
        transient=True,
    )
    tasks: list[TaskID] = []

    def update(done: int, total: int) -> None:
        if total < 2:
            return
        if not tasks:
            tasks.append(bar.add_task("requests", total=total))
        bar.update(tasks[0], completed=done)

    with bar:
        yield update


def _number(value: timedelta | None, unit: Unit) -> str:
    if value is None:
        return "n/a"
    return f"{convert(value.total_seconds(), 'seconds', unit):,.{_DECIMALS[unit.value]}f}"


def _totals_cells(label: str, period: str, totals: UsageTotals, unit: Unit) -> list[str]:
    return [
        label,
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
    table.add_column("Inner org", justify="right")
    table.add_column("Period")
    for name in ("CPU", "GPU", "Total", "Total - (CPU+GPU)"):
        table.add_column(f"{name} ({unit.value})", justify="right")
    by_org = result.totals_by_organization()
    several_periods = len({row.period for row in result.rows}) > 1
    for inner in result.inner_organization_ids:
        rows = [row for row in result.rows if row.inner_organization_id == inner]
        for row in rows:
            table.add_row(
                str(inner),
                str(row.period),
                _number(row.cpu, unit),
                _number(row.gpu, unit),
                _number(row.total, unit),
                _number(row.discrepancy, unit),
            )
        if rows and several_periods:
            table.add_row(*_totals_cells(str(inner), "total", by_org[inner], unit), style="bold")
        if rows:
            table.add_section()
    table.add_row(*_totals_cells("all", str(result.period), result.total(), unit), style="bold")
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
