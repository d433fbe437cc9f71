"""``ei-usage history``: the stored compute time by month, quarter or year, with its change.

Everything here reads rows the store returned; nothing talks to the network. A period's change
is its total against the previous period of the same organization (or of all of them, on the
overall rows): ``(this - previous) / previous``, None when the previous period is not stored or
used nothing.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from ei_usage import DateRange, Unit, UsageTotals
from ei_usage._dates import _floor, _next, format_iso_z

from . import _html, _render, _safe

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ei_usage import ComputeTime

HISTORY_FORMAT = "ei-usage.history"
HISTORY_VERSION = 1


@attrs.frozen
class HistoryRow:
    """One organization's (or, with ``inner`` None, everyone's) usage in one period."""

    inner: int | None
    name: str | None
    deleted: bool | None
    period: DateRange
    totals: UsageTotals
    months: int
    running: bool  # the period has not ended yet
    change: float | None
    complete: bool  # every month of the period is stored


@functools.cache
def months_in(period: DateRange) -> int:
    """Calendar months in ``period``."""
    return len(period.split("month"))


def _change(now: timedelta | None, before: timedelta | None) -> float | None:
    if now is None or before is None or before <= timedelta(0):
        return None
    return (now - before) / before


def rollup(
    monthly: Mapping[int, Sequence[ComputeTime]], every: str, now: datetime
) -> tuple[list[HistoryRow], list[HistoryRow]]:
    """Return the rows per organization and the overall rows, by ``every``, in time order."""
    unit = every  # month, quarter or year
    buckets: dict[datetime, DateRange] = {}

    def bucket(start: datetime) -> DateRange:
        found = buckets.get(start)
        if found is None:
            first = _floor(start, unit)  # type: ignore[arg-type]
            end = _next(first, unit)  # type: ignore[arg-type]
            assert end is not None
            found = buckets[start] = DateRange(first, end)
        return found

    per_org: list[HistoryRow] = []
    everyone: dict[DateRange, list[ComputeTime]] = {}
    for inner in sorted(monthly):
        rows = monthly[inner]
        groups: dict[DateRange, list[ComputeTime]] = {}
        for row in rows:
            key = bucket(row.period.start)
            groups.setdefault(key, []).append(row)
            everyone.setdefault(key, []).append(row)
        previous: UsageTotals | None = None
        previous_period: DateRange | None = None
        for period in sorted(groups, key=lambda p: p.start):
            group = groups[period]
            totals = (
                UsageTotals(group[0].cpu, group[0].gpu, group[0].total, 1)
                if len(group) == 1
                else UsageTotals.of(group)
            )
            adjacent = previous_period is not None and previous_period.end == period.start
            per_org.append(
                HistoryRow(
                    inner=inner,
                    name=rows[0].inner_organization_name,
                    deleted=rows[0].inner_organization_deleted,
                    period=period,
                    totals=totals,
                    months=len(groups[period]),
                    complete=len(groups[period]) == months_in(period),
                    running=period.end > now,
                    change=_change(totals.total, previous.total if previous and adjacent else None),
                )
            )
            previous, previous_period = totals, period
    overall: list[HistoryRow] = []
    before: HistoryRow | None = None
    for period in sorted(everyone, key=lambda p: p.start):
        totals = UsageTotals.of(everyone[period])
        adjacent = before is not None and before.period.end == period.start
        summed = HistoryRow(
            inner=None,
            name=None,
            deleted=None,
            period=period,
            totals=totals,
            months=len({r.period for r in everyone[period]}),
            complete=len({r.period for r in everyone[period]}) == months_in(period),
            running=period.end > now,
            change=_change(totals.total, before.totals.total if before and adjacent else None),
        )
        overall.append(summed)
        before = summed
    return per_org, overall


def _percent(change: float | None) -> str:
    return "" if change is None else f"{change * 100:+.1f}%"


def _period_label(row: HistoryRow) -> str:
    label = _label(row.period)[0]
    if row.running:
        return f"{label} (so far)"
    if not row.complete:
        return f"{label} ({row.months} of {months_in(row.period)} months)"
    return label


@functools.cache
def _label(period: DateRange) -> tuple[str, dict[str, str]]:
    """A period's text and its bounds (the same few periods recur in every organization)."""
    return str(period), period.to_dict()


_MICROSECOND = timedelta(microseconds=1)
_MICROSECONDS = {Unit.SECONDS: 1_000_000, Unit.MINUTES: 60_000_000, Unit.HOURS: 3_600_000_000}


def _in(duration: timedelta | None, per_unit: int) -> float | None:
    # What UsageTotals.to_dict does (from_timedelta), without its per-value unit lookup.
    return None if duration is None else (duration // _MICROSECOND) / per_unit


def _as_dict(row: HistoryRow, unit: Unit) -> dict[str, Any]:
    per_unit = _MICROSECONDS[unit]
    totals = row.totals
    text, bounds = _label(row.period)
    return {
        "inner_organization_id": row.inner,
        "inner_organization_name": row.name,
        "inner_organization_deleted": row.deleted,
        "period": text,
        **bounds,
        "months": row.months,
        "complete": row.complete,
        "running": row.running,
        "unit": unit.value,
        "cpu": _in(totals.cpu, per_unit),
        "gpu": _in(totals.gpu, per_unit),
        "total": _in(totals.total, per_unit),
        "change": row.change,
    }


CSV_COLUMNS = [
    "kind",
    "organization_id",
    "inner_organization_id",
    "inner_organization_name",
    "inner_organization_deleted",
    "period",
    "start",
    "end",
    "months",
    "complete",
    "running",
    "unit",
    "cpu",
    "gpu",
    "total",
    "change",
]


def render(
    organization_id: int,
    monthly: Mapping[int, Sequence[ComputeTime]],
    every: str,
    unit: Unit,
    fmt: str,
    out: TextIO,
    *,
    store_name: str,
    now: datetime | None = None,
) -> None:
    """Write the history in ``fmt`` (table, csv, json or html)."""
    now = now or datetime.now(UTC)
    per_org, overall = rollup(monthly, every, now)
    if fmt == "json":
        document = {
            "format": HISTORY_FORMAT,
            "version": HISTORY_VERSION,
            "organization_id": organization_id,
            "every": every,
            "unit": unit.value,
            "store": store_name,
            "written_at": format_iso_z(now),
            "rows": [_as_dict(row, unit) for row in per_org],
            "overall": [_as_dict(row, unit) for row in overall],
        }
        # One row per line: readable, and json's fast encoder (indent= takes its slow one).
        head = {k: v for k, v in document.items() if k not in ("rows", "overall")}
        out.write(json.dumps(head)[:-1])
        for key in ("rows", "overall"):
            out.write(f', "{key}": [\n')
            out.write(",\n".join(json.dumps(item) for item in document[key]))  # type: ignore[attr-defined]
            out.write("\n]")
        out.write("}\n")
        return
    if fmt == "csv":
        rows = [
            {"kind": "usage", "organization_id": organization_id, **_as_dict(r, unit)}
            for r in per_org
        ] + [
            {"kind": "overall", "organization_id": organization_id, **_as_dict(r, unit)}
            for r in overall
        ]
        _safe.write_csv(out, CSV_COLUMNS, rows)
        return
    if fmt == "html":
        _render._document(out, history_html(organization_id, per_org, overall, every, unit))
        return
    _table(organization_id, per_org, overall, every, unit, out, store_name)


def _table(
    organization_id: int,
    per_org: Sequence[HistoryRow],
    overall: Sequence[HistoryRow],
    every: str,
    unit: Unit,
    out: TextIO,
    store_name: str,
) -> None:
    named = any(row.name for row in per_org)
    gone = any(row.deleted for row in per_org)
    columns = [_render._Col("Inner org", "right")]
    if named:
        columns.append(_render._Col("Name", role="name", drop=1, max_width=32))
    columns.append(_render._Col("Period"))
    columns += [_render._Col(f"{name} ({unit.value})", "right") for name in ("CPU", "GPU", "Total")]
    columns.append(_render._Col("Change", "right"))
    table = _render._Grid(
        columns,
        title=f"Stored compute time of organization {organization_id}'s inner organizations by "
        f"{every} ({unit.value})",
        caption=_render._SOURCE_NOTE.format(unit=unit.value)
        + f" Change: the total against the previous {every}. From the store "
        + _render._plain(store_name)
        + "."
        + (_render._DELETED_NOTE if gone else ""),
    )

    def label(inner: int | str, name: str | None, deleted: bool | None) -> list[_render.Cell]:
        cells: list[_render.Cell] = [_render._id_cell(inner, deleted)]
        if named:
            cells.append(_render._plain(name or ""))
        return cells

    last: int | None = None
    for row in per_org:
        if last is not None and row.inner != last:
            table.add_section()
        last = row.inner
        table.add_row(
            *label(row.inner or 0, row.name, row.deleted),
            _render._plain(_period_label(row)),
            _render._number(row.totals.cpu, unit),
            _render._number(row.totals.gpu, unit),
            _render._number(row.totals.total, unit),
            _percent(row.change),
        )
    table.add_section()
    for row in overall:
        table.add_row(
            *label("all", "", False),
            _render._plain(_period_label(row)),
            _render._number(row.totals.cpu, unit),
            _render._number(row.totals.gpu, unit),
            _render._number(row.totals.total, unit),
            _percent(row.change),
            style="bold",
        )
    table.print(out)


def history_html(
    organization_id: int,
    per_org: Sequence[HistoryRow],
    overall: Sequence[HistoryRow],
    every: str,
    unit: Unit,
) -> str:
    """Return one self-contained page: the overall total per period as columns, and tables."""
    title = _html._esc(f"Stored compute time of organization {organization_id} by {every}")
    body = [f"<h1>{title}</h1>\n"]
    body.append(
        f"<p>From the ei-usage store. The API reports CPU/GPU in seconds and totals in minutes; "
        f"all shown in {_html._esc(unit.value)}. Change: the total against the previous "
        f"{_html._esc(every)}.</p>\n"
    )
    body.append(_chart(overall, unit))
    body.append(_rows_table("All inner organizations", overall, unit))
    by_org: dict[int, list[HistoryRow]] = {}
    for row in per_org:
        by_org.setdefault(row.inner or 0, []).append(row)
    for inner, rows in by_org.items():
        name = _html.shown_name(rows[0].name, rows[0].deleted) or None
        body.append(_rows_table(_html._org_shown(name, inner), rows, unit, escaped=True))
    return _html._document(title, body)


def _chart(rows: Sequence[HistoryRow], unit: Unit) -> str:
    if not rows:
        return "<p>Nothing stored yet: run <code>ei-usage sync</code>.</p>\n"
    values = [0.0 if r.totals.total is None else _html._in_unit(r.totals.total, unit) for r in rows]
    ticks = _html._ticks(max(values))
    labels = _html._tick_labels(ticks)
    width, height, left, bottom, top = 900, 260, 60, 40, 10
    plot_h = height - bottom - top
    slot = (width - left - 10) / len(rows)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="total compute time per {_html._esc(str(rows[0].period))}">'
    ]
    for tick, text in zip(ticks, labels, strict=True):
        y = top + plot_h - plot_h * tick / ticks[-1]
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{_html._n(y)}" y2="{_html._n(y)}" '
            f'stroke="#e5e5e5"/><text x="{left - 6}" y="{_html._n(y + 4)}" '
            f'text-anchor="end" font-size="11">{_html._esc(text)}</text>'
        )
    every_n = max(1, len(rows) // 12)
    for index, (row, value) in enumerate(zip(rows, values, strict=True)):
        h = plot_h * value / ticks[-1]
        faded = ' opacity="0.5"' if row.running else ""
        x = left + index * slot + slot * 0.1
        parts.append(
            f'<rect x="{_html._n(x)}" y="{_html._n(top + plot_h - h)}" '
            f'width="{_html._n(slot * 0.8)}" height="{_html._n(h)}" '
            f'fill="{_html.COLOURS["cpu"]}"{faded}>'
            f"<title>{_html._esc(_period_label(row))}: "
            f"{_html._esc(_render._number(row.totals.total, unit))} "
            f"{_html._esc(unit.value)}</title></rect>"
        )
        if index % every_n == 0:
            parts.append(
                f'<text x="{_html._n(x + slot * 0.4)}" y="{height - bottom + 16}" '
                f'text-anchor="middle" font-size="11">{_html._esc(str(row.period))}</text>'
            )
    parts.append("</svg>\n")
    return "".join(parts)


def _rows_table(
    heading: str, rows: Sequence[HistoryRow], unit: Unit, *, escaped: bool = False
) -> str:
    shown = heading if escaped else _html._esc(heading)
    head = "".join(
        f"<th>{_html._esc(h)}</th>"
        for h in (
            "Period",
            f"CPU ({unit.value})",
            f"GPU ({unit.value})",
            f"Total ({unit.value})",
            "Change",
        )
    )
    lines = [f"<h2>{shown}</h2>\n<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        cells = [
            _period_label(row),
            _render._number(row.totals.cpu, unit),
            _render._number(row.totals.gpu, unit),
            _render._number(row.totals.total, unit),
            _percent(row.change),
        ]
        lines.append("<tr>" + "".join(f"<td>{_html._esc(c)}</td>" for c in cells) + "</tr>")
    lines.append("</tbody></table>\n")
    return "".join(lines)
