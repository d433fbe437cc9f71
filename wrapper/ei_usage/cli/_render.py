"""Output of the command line: aligned tables, CSV (via `_safe.write_csv`), JSON, progress bar."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TextIO

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ei_usage import convert

from . import _safe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import timedelta

    from ei_usage import (
        ComputeTime,
        EntitlementReport,
        InnerOrganization,
        InnerOrganizationUsage,
        OrganizationListing,
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


def _width(stream: TextIO) -> int | None:
    """Return the width tables must fit: ``COLUMNS``, else the terminal's; None for a pipe.

    A pipe or file has no width: its tables are as wide as their content, one line per row, so
    that ``grep`` and ``cut`` see whole values.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isascii() and columns.isdigit() and int(columns) > 0:
        return int(columns)
    if stream.isatty():
        return Console(file=stream).width
    return None


# ---- tables that fit ----------------------------------------------------------------------------
#
# rich shrinks a table that is too wide by cutting every column, numbers included ("17,406…").
# _Grid instead decides itself what fits the width: numbers and statuses are always whole; names
# shrink (with "…") down to _NAME_MIN, cells with a compact form (the check's bar) take it,
# then optional columns are left out (the caption says which), and when even that does not fit,
# every row is printed as a stack of "Header: value" lines.

Cell = str | tuple[str, str]
"""A cell in rich markup (server text escaped with :func:`_plain`): text, or (full, compact)."""

_NAME_MIN = 12  # a name is cut to no fewer cells than this before columns are dropped
_TEXT_MIN = 20  # nor is text wrapped narrower


@dataclass(frozen=True)
class _Col:
    """A column of a :class:`_Grid`.

    ``role``: ``value`` is never cut nor wrapped (numbers, statuses, dates); ``name`` may be cut
    with an ellipsis (down to ``_NAME_MIN`` cells; ``max_width`` on a terminal); ``text`` may
    wrap between words. ``drop``: 0 never, else the order in which columns are left out when the
    width is short (1 first).
    """

    header: str
    justify: Literal["left", "right"] = "left"
    role: Literal["value", "name", "text"] = "value"
    drop: int = 0
    max_width: int | None = None


@dataclass
class _Row:
    cells: list[Text | tuple[Text, Text]]
    style: str = ""
    section: bool = False  # a rule after this row


def _text(markup: str) -> Text:
    return Text.from_markup(markup)


def _words(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


class _Grid:
    """A table of columns and rows, printed to fit a width (see the comment above)."""

    def __init__(self, columns: list[_Col], *, title: str, caption: str) -> None:
        self.columns = columns
        self.title = title
        self.caption = caption
        self.rows: list[_Row] = []

    def add_row(self, *cells: Cell, style: str = "") -> None:
        """Add a row; a cell is markup, or a (full, compact) pair of markup."""
        self.rows.append(
            _Row(
                [(_text(c[0]), _text(c[1])) if isinstance(c, tuple) else _text(c) for c in cells],
                style,
            )
        )

    def add_section(self) -> None:
        """Draw a rule under the last row."""
        if self.rows:
            self.rows[-1].section = True

    def _cell(self, row: _Row, index: int, compact: bool) -> Text:
        cell = row.cells[index]
        if isinstance(cell, tuple):
            return cell[1] if compact else cell[0]
        return cell

    def _range(self, index: int, compact: bool, bounded: bool) -> tuple[int, int]:
        """Return the (least, natural) content width of a column."""
        column = self.columns[index]
        cells = [self._cell(row, index, compact) for row in self.rows]
        widest = max((c.cell_len for c in cells), default=0)
        header_word = _words(column.header)
        natural = max(widest, cell_len(column.header))
        if column.role == "value":
            return max(widest, header_word), natural
        if column.role == "text":  # wrapped, but not to a word a line
            least = max(header_word, *(_words(c.plain) for c in cells), min(natural, _TEXT_MIN))
            return least, natural
        if bounded and column.max_width is not None:
            widest = min(widest, column.max_width)
        natural = max(widest, header_word)
        return max(min(widest, _NAME_MIN), header_word), natural

    def _layout(self, width: int | None) -> tuple[list[int], dict[int, int], bool] | None:
        """Return (columns shown, their widths, compact), or None when no table fits."""
        shown = list(range(len(self.columns)))
        if width is None:
            return shown, {i: self._range(i, False, False)[1] for i in shown}, False
        ranks = sorted({c.drop for c in self.columns if c.drop})
        has_compact = any(isinstance(c, tuple) for row in self.rows for c in row.cells)
        stages = [(False, 0)] if not has_compact else [(False, 0), (True, 0)]
        stages += [(has_compact, rank) for rank in ranks]
        for compact, rank in stages:
            shown = [i for i, c in enumerate(self.columns) if not (c.drop and c.drop <= rank)]
            ranges = {i: self._range(i, compact, True) for i in shown}
            room = width - (3 * len(shown) + 1)  # borders and padding of a boxed table
            widths = {i: least for i, (least, _) in ranges.items()}
            if sum(widths.values()) > room:
                continue
            spare = room - sum(widths.values())
            # Names and text first (they lose words), then headers that would wrap.
            # The least growth first: as many headers as possible on one line.
            for roles in (("name", "text"), ("value",)):
                growing = [i for i in shown if self.columns[i].role in roles]
                for i in sorted(growing, key=lambda i: ranges[i][1] - widths[i]):
                    grow = min(spare, ranges[i][1] - widths[i])
                    widths[i] += grow
                    spare -= grow
            return shown, widths, compact
        return None

    def print(self, out: TextIO) -> None:
        """Print the grid to ``out``: a table that fits its width, else stacked rows."""
        width = _width(out)
        layout = self._layout(width)
        if layout is None:
            assert width is not None  # an unbounded width always fits
            self._print_stacked(out, width)
            return
        shown, widths, compact = layout
        hidden = [self.columns[i].header for i in range(len(self.columns)) if i not in shown]
        caption = self.caption
        if hidden:
            caption += (
                f" Not shown at this width: {', '.join(hidden)} (a wider terminal shows them; "
                "--format csv has every column)."
            )
        table = Table(
            title=self.title,
            caption=caption,
            title_justify="left",
            caption_justify="left",
        )
        for i in shown:
            column = self.columns[i]
            table.add_column(
                Text(column.header, no_wrap=False),
                justify=column.justify,
                width=widths[i],
                no_wrap=column.role == "name",
                overflow="ellipsis" if column.role == "name" else "fold",
            )
        for row in self.rows:
            table.add_row(
                *(self._cell(row, i, compact) for i in shown),
                style=row.style or None,
                end_section=row.section,
            )
        total = sum(widths.values()) + 3 * len(shown) + 1
        _emit(out, table, width or total)

    def _print_stacked(self, out: TextIO, width: int) -> None:
        """Print each row as ``Header: value`` lines: for widths no table fits."""
        parts: list[Text] = [Text(self.title, style="bold")]
        for row in self.rows:
            lines: list[Text] = []
            for i, column in enumerate(self.columns):
                full, compact = self._cell(row, i, False), self._cell(row, i, True)
                if not full.plain:
                    continue
                indent = "" if not lines else "  "
                label = f"{indent}{column.header}: "
                value = full if cell_len(label) + full.cell_len <= width else compact
                line = Text(label) + value
                if row.style:
                    line.stylize(row.style)
                lines.append(line)
            parts.append(Text(""))
            parts.extend(lines)
        parts.extend([Text(""), Text(self.caption, style="dim")])
        _emit(out, Group(*parts), width)


def _emit(out: TextIO, renderable: RenderableType, width: int) -> None:
    """Print ``renderable`` at ``width``; for a pipe, without rich's trailing padding."""
    console = _Console(file=out, width=width, highlight=False)
    if console.is_terminal:
        console.print(renderable, crop=False)
        return
    with console.capture() as captured:
        console.print(renderable, crop=False)
    out.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


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


def _plain(text: object) -> str:
    """Server text made safe for a terminal table: no control characters, no rich markup."""
    return _safe.markup(text)


# Tables mark a deleted organization's id, not its name: names are the first column a narrow
# terminal leaves out, and the mark must survive that without widening the table (a column of
# its own pushed compute-time at 80 columns into the stacked layout).
_DELETED_MARK = "*"
_DELETED_NOTE = f" {_DELETED_MARK} after an id: a deleted organization."


def _id_cell(inner: int | str, deleted: bool | None) -> str:
    return f"{inner}{_DELETED_MARK}" if deleted else str(inner)


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
    "complete",
)
"""CSV columns: ``kind`` is ``usage`` for a request's row, ``total`` for an inner organization's
totals (named like its rows) and ``overall`` for the report's (the same totals the table shows).
``complete`` is empty on ``usage`` rows; on a ``total`` or ``overall`` row it is ``False`` when
some request it would sum failed or was not attempted (the sum is then partial), else ``True``."""


def _csv(result: Report, unit: Unit, out: TextIO) -> None:
    span = result.period.to_dict()
    names = {row.inner_organization_id: row.inner_organization_name for row in result.rows}
    unfinished = {f.inner_organization_id for f in result.errors}
    unfinished.update(inner for inner, _ in result.not_attempted)
    totals = (
        {
            "kind": "total",
            "organization_id": result.organization_id,
            "inner_organization_id": inner,
            "inner_organization_name": names.get(inner),
            **span,
            **totals.to_dict(unit),
            "complete": inner not in unfinished,
        }
        for inner, totals in result.totals_by_organization().items()
    )
    overall = {
        "kind": "overall",
        "organization_id": result.organization_id,
        **span,
        **result.total().to_dict(unit),
        "complete": result.ok,
    }
    # repr-exact floats, so the CSV reads back to the same numbers
    usage = ({"kind": "usage", **row} for row in result.to_rows(unit))
    _safe.write_csv(
        out, CSV_COLUMNS, itertools.chain(usage, totals, [overall]), extrasaction="ignore"
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
            f" - PARTIAL: {len(result.not_attempted):,} requests not done "
            f"({_plain(result.stop_reason)})"
        )
    partial += _listing_cut_short(result.listing_stop_reason)
    names = {r.inner_organization_id: r.inner_organization_name for r in result.rows}
    gone = {r.inner_organization_id for r in result.rows if r.inner_organization_deleted}
    named = any(names.values())
    columns = [_Col("Inner org", "right")]
    if named:
        columns.append(_Col("Name", role="name", drop=1, max_width=32))
    columns.append(_Col("Period"))
    columns += [
        _Col(f"{name} ({unit.value})", "right")
        for name in ("CPU", "GPU", "Total", "Total - (CPU+GPU)")
    ]
    table = _Grid(
        columns,
        title=f"Compute time of organization {result.organization_id}'s inner organizations, "
        f"{result.period} by {result.every} ({unit.value}){partial}",
        caption=_SOURCE_NOTE.format(unit=unit.value) + (_DELETED_NOTE if gone else ""),
    )
    by_org = result.totals_by_organization()
    several_periods = len({row.period for row in result.rows}) > 1

    def label(inner: int | str, name: str | None) -> list[Cell]:
        cells: list[Cell] = [_id_cell(inner, inner in gone)]
        if named:
            cells.append(_plain(name or ""))
        return cells

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
    table.print(out)


def _listing_cut_short(reason: str | None) -> str:
    """Return the title's mark of a listing of "all" that ended early (empty if it did not)."""
    if reason is None:
        return ""
    return f" - PARTIAL: the listing of the organizations was {_plain(reason)}"


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
            err.write(f"  {where}: {_safe.terminal(cause)}\n")
    if result.not_attempted:
        err.write(
            f"ei-usage: {len(result.not_attempted):,} of {total:,} requests not attempted: "
            f"{_safe.terminal(result.stop_reason)}\n"
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
        _safe.write_csv(out, list(data), [data])
        return
    table = _Grid(
        [_Col("Metric", role="text"), _Col("Value", "right"), _Col("Unit", role="text")],
        title=f"Metrics of organization {result.organization_id}",
        caption="Compute totals come from the API in minutes; the contract's CPU/GPU time is "
        "read as seconds (the spec gives no unit); storage is in bytes.",
    )
    rows: list[tuple[str, Cell, str]] = [
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
        (
            "Storage",
            (_storage(result.total_storage_bytes), f"{result.total_storage_bytes:,} bytes"),
            "",
        ),
        (_visibility(result.project_visibility), f"{result.project_count:,}", "count"),
        (_staff(result.exclude_edge_impulse_users), f"{result.user_count:,}", "count"),
    ]
    for row in rows:
        table.add_row(*row)
    table.print(out)


def _visibility(value: str | None) -> str:
    # The filter belongs to the metric's name: the unit of a count is "count".
    return f"Projects ({value} only)" if value else "Projects"


def _staff(excluded: bool | None) -> str:
    return "Users (without Edge Impulse staff)" if excluded else "Users"


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


def _organization_row(organization: InnerOrganization, unit: Unit) -> dict[str, object]:
    row = organization.to_dict(unit)
    limits = row.pop("entitlements")
    return {**row, **limits}


def organizations(
    organization_id: int,
    listed: list[InnerOrganization],
    unit: Unit,
    fmt: str,
    out: TextIO,
    listing: OrganizationListing | None = None,
) -> None:
    """Write a white label's inner organizations in ``fmt`` (None limits: unlimited).

    JSON also says whether the listing is complete, why it ended early, and which
    organizations could not be read (``not_read``).
    """
    if fmt == "json":
        data: dict[str, Any] = {
            "organization_id": organization_id,
            "unit": unit.value,
            "organizations": [o.to_dict(unit) for o in listed],
        }
        if listing is not None:
            data["complete"] = listing.ok
            data["stop_reason"] = listing.stop_reason
            data["not_read"] = [
                {"id": f.inner_organization_id, "field": f.error.field, "error": f.error.message}
                for f in listing.errors
            ]
        out.write(json.dumps(data, indent=2) + "\n")
        return
    if fmt == "csv":
        _safe.write_csv(out, ORGANIZATION_COLUMNS, (_organization_row(o, unit) for o in listed))
        return
    any_deleted = any(o.deleted for o in listed)
    table = _Grid(
        [
            _Col("Id", "right"),
            _Col("Name", role="name", drop=1, max_width=40),
            _Col("Created", drop=3),
            _Col("Billable", drop=2),
            _Col(f"Compute/yr ({unit.value})", "right"),
            _Col(f"GPU/yr ({unit.value})", "right"),
            _Col("Storage (bytes)", "right"),
            _Col("Projects", "right"),
            _Col("Users", "right"),
        ],
        title=f"Inner organizations of white label {organization_id}: {len(listed):,}",
        caption=f"Entitlements per year; compute in {unit.value}, storage in bytes; "
        "unlimited: no limit set." + (_DELETED_NOTE if any_deleted else ""),
    )
    for o in listed:
        e = o.entitlements
        table.add_row(
            _id_cell(o.id, o.deleted),
            _plain(o.name),
            o.created.strftime("%Y-%m-%d"),
            {True: "yes", False: "no", None: "?"}[o.billable],
            _allowed(e.compute_time_per_year, unit),
            _allowed(e.gpu_compute_time_per_year, unit),
            "unlimited"
            if e.storage_bytes is None
            else (_storage(e.storage_bytes), f"{e.storage_bytes:,}"),
            _limit(e.projects),
            _limit(e.users),
        )
    table.print(out)


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


def _check_row(
    usage: InnerOrganizationUsage, unit: Unit, warn_at: float, fail_at: float
) -> dict[str, object]:
    data = usage.to_dict(unit)
    limits = data["entitlements"]
    return {
        **{k: data[k] for k in CHECK_COLUMNS if k in data},
        "status": status(usage, warn_at, fail_at),
        "compute_time_per_year": limits["compute_time_per_year"],
        "gpu_compute_time_per_year": limits["gpu_compute_time_per_year"],
        "storage_limit_bytes": limits["storage_bytes"],
    }


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
        _safe.write_csv(
            out, CHECK_COLUMNS, (_check_row(usage, unit, warn_at, fail_at) for usage in report.rows)
        )
        return
    partial = ""
    if report.not_attempted:
        partial = (
            f" - PARTIAL: {len(report.not_attempted):,} organizations not read "
            f"({_plain(report.stop_reason)})"
        )
    partial += _listing_cut_short(report.listing_stop_reason)
    any_deleted = any(usage.inner_organization_deleted for usage in report.rows)
    table = _Grid(
        [
            _Col("Inner org", "right"),
            _Col("Name", role="name", drop=1, max_width=32),
            _Col("Status"),
            _Col("Compute used"),
            _Col(f"Compute ({unit.value})", "right"),
            _Col(f"Limit ({unit.value})", "right"),
            _Col("GPU", "right"),
            _Col("Storage", "right"),
        ],
        title=f"Entitlements of white label {report.organization_id}'s inner organizations, "
        f"running contracts (warn at {warn_at:.0%}, fail at {fail_at:.0%}){partial}",
        caption=f"Compute = CPU + GPU, against compute per year; durations in {unit.value}. "
        "Sorted by the highest fraction of any entitlement."
        + (_DELETED_NOTE if any_deleted else ""),
    )
    for usage in report.rows:
        state = status(usage, warn_at, fail_at)
        limit = usage.entitlements.compute_time_per_year
        table.add_row(
            _id_cell(usage.inner_organization_id, usage.inner_organization_deleted),
            _plain(usage.inner_organization_name or ""),
            state,
            (_bar(usage.compute_used_fraction), _percent(usage.compute_used_fraction)),
            _number(usage.compute, unit),
            _allowed(limit, unit),
            _percent(usage.gpu_used_fraction),
            _percent(usage.storage_used_fraction),
            style=_STYLE[state],
        )
    table.print(out)


def check_failures(report: EntitlementReport, err: TextIO) -> None:
    """Summarize the organizations a check could not read, a line per cause."""
    total = len(report.rows) + len(report.errors) + len(report.not_attempted)
    if report.errors:
        err.write(f"ei-usage: {len(report.errors):,} of {total:,} organizations not read:\n")
        for cause, which in report.failures_by_cause().items():
            ids = _ids([f.inner_organization_id for f in which])
            err.write(f"  inner orgs {ids}: {_safe.terminal(cause)}\n")
    if report.not_attempted:
        err.write(
            f"ei-usage: {len(report.not_attempted):,} of {total:,} organizations not attempted: "
            f"{_safe.terminal(report.stop_reason)}\n"
        )
