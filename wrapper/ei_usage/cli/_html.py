"""Self-contained HTML reports for people: charts, with the exact numbers beside them.

Each function returns one HTML5 document with inline CSS and inline SVG: no script, no font, image
or stylesheet to fetch, so it can be mailed, archived or printed as it is. Every number a chart
draws is also on its SVG element as a ``data-*`` attribute (durations in seconds exact to the
microsecond, fractions as Python float reprs), so a test or a reader can check the chart against
the report; tables beside the charts give the same numbers to screen readers and to print.

Text from the server (organization names, error messages) is cleaned of what HTML cannot carry,
escaped, and shortened for display; the full name stays in the chart's ``<title>``.
"""

from __future__ import annotations

import html
import math
import re
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import attrs

import ei_usage
from ei_usage import Unit

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ei_usage import (
        ComputeTime,
        DateRange,
        EntitlementReport,
        InnerOrganizationUsage,
        Report,
        UsageTotals,
    )

DELETED = "(deleted) "
"""Put before the name of a deleted organization in HTML: first, so that cutting a long name for
display never hides it. (Tables mark the id instead: see ``_render``.)"""


def shown_name(name: str | None, deleted: bool | None) -> str:
    """An organization's name as HTML shows it: marked first when deleted (raw text)."""
    return (DELETED if deleted else "") + (name or "")


_MICROSECOND = timedelta(microseconds=1)
_US_PER_UNIT = {Unit.SECONDS: 1_000_000, Unit.MINUTES: 60_000_000, Unit.HOURS: 3_600_000_000}
_DECIMALS = {Unit.SECONDS: 1, Unit.MINUTES: 2, Unit.HOURS: 3}
_NAME_CHARS = 40  # names longer than this are cut for display (the <title> keeps them whole)
# Server text in banners and failure lines: one line, no bidi controls (a U+202E would reorder
# the rest of the line), and bounded (error summaries are already cut to 1 KiB).
_TEXT_CHARS = 2000

COLOURS = {
    "text": "#171717",
    "muted": "#525252",
    "cpu": "#1d4ed8",
    "gpu": "#c2410c",
    "ok": "#15803d",
    "warn": "#a16207",
    "fail": "#b91c1c",
    "unknown": "#525252",
}
"""Every colour the documents draw with; each has at least 4.5:1 contrast on white (tested)."""

STATUSES = ("ok", "warn", "fail", "unknown")
"""An entitlement row's status: under warn, at or over warn, at or over fail, usage unknown."""

_STATUS_WORDS = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "unknown": "N/A"}


# ---- text ----------------------------------------------------------------------------------------

# What an HTML document cannot carry (or a UTF-8 encoder refuses: lone surrogates from JSON's
# "\ud800"): controls other than tab and newline, noncharacters. Each becomes U+FFFD, visibly.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000))
    + "]"
)
# Explicit embeddings, overrides and isolates: one left open in a name would reorder the text
# after it. Marks (LRM, RLM) are harmless and stay.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    """Return ``text`` with CR normalized to LF (as HTML does) and unsafe characters as U+FFFD."""
    return _UNSAFE.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def _esc(text: str) -> str:
    """Return ``text`` cleaned and escaped for HTML text or a quoted attribute."""
    return html.escape(_clean(text), quote=True)


def _shown(text: str, limit: int = _NAME_CHARS) -> str:
    """Return ``text`` escaped for display: one line, no bidi controls, at most ``limit`` long."""
    line = " ".join(_BIDI_CONTROLS.sub("", _clean(text)).split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "\u2026"
    return html.escape(line, quote=True)


_Row = TypeVar("_Row", "ComputeTime", "InnerOrganizationUsage")


def _deleted_named(rows: tuple[_Row, ...]) -> tuple[_Row, ...]:
    """Return ``rows`` with deleted organizations' names marked, as the tables mark them."""
    return tuple(
        attrs.evolve(row, inner_organization_name=shown_name(row.inner_organization_name, True))
        if row.inner_organization_deleted
        else row
        for row in rows
    )


def _org_title(name: str | None, inner_id: int) -> str:
    """Return the full, escaped ``name (id)`` of an inner organization, for <title>s."""
    return f"{_esc(name)} ({inner_id})" if name else f"inner organization {inner_id}"


def _org_shown(name: str | None, inner_id: int, limit: int = _NAME_CHARS) -> str:
    """Return the escaped display name of an inner organization (its id when it has none)."""
    shown = _shown(name, limit) if name else ""
    return shown or f"inner organization {inner_id}"


# ---- numbers -------------------------------------------------------------------------------------


def _us(duration: timedelta) -> int:
    return duration // _MICROSECOND


def _seconds_attr(duration: timedelta) -> str:
    """Return ``duration`` in seconds, exact to the microsecond, without trailing zeros."""
    micros = _us(duration)
    whole, fraction = divmod(abs(micros), 1_000_000)
    sign = "-" if micros < 0 else ""
    return f"{sign}{whole}" + (f".{fraction:06d}".rstrip("0") if fraction else "")


def _in_unit(duration: timedelta, unit: Unit) -> float:
    return _us(duration) / _US_PER_UNIT[unit]


def _amount(duration: timedelta | None, unit: Unit, missing: str = "n/a") -> str:
    """Return ``duration`` as text in ``unit`` with the command line's decimals, or ``missing``."""
    if duration is None:
        return missing
    return f"{_in_unit(duration, unit):,.{_DECIMALS[unit]}f}"


def _percent(fraction: float) -> str:
    """Return a fraction as a percentage, rounded down (never shown reaching a level it misses).

    Use against a limit of zero is infinite: ``∞ (limit 0)``.
    """
    if math.isinf(fraction):
        return "\u221e (limit 0)"
    percent = (Decimal(repr(fraction)) * 100).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return f"{percent:,} %"


def _level(fraction: float) -> str:
    """Return a warn or fail level as a percentage, without a needless ``.0``."""
    return _percent(fraction).replace(".0 %", " %")


def _share(fraction: float | None, limited: bool) -> str:
    """Return a used fraction as text: a percentage, ``no limit``, or ``n/a`` (use unknown)."""
    if not limited:
        return "no limit"
    return "n/a" if fraction is None else _percent(fraction)


def _n(value: float) -> str:
    """Return an SVG coordinate: one decimal, none when whole."""
    return f"{value:.1f}".removesuffix(".0")


def _ticks(top: float, count: int = 4) -> list[float]:
    """Return round tick values from 0 up to at least ``top``, about ``count`` steps.

    Steps are 1, 2, 2.5 or 5 times a power of ten, so labels read 0, 250, 500, 750.
    """
    if not (math.isfinite(top) and top > 0):
        top = 1.0
    raw = top / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    return [i * step for i in range(max(1, math.ceil(top / step - 1e-9)) + 1)]


_SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _tick_labels(ticks: Sequence[float]) -> list[str]:
    """Return short labels for an axis's ticks: ``0, 2.5k, 5k`` rather than ``0, 2,500, 5,000``.

    Ticks are round, so the short form is exact; it keeps labels within the chart's margin.
    """
    top, step = ticks[-1], ticks[1]
    factor, suffix = 1.0, ""
    if top >= 10_000:
        factor, suffix = next((f, s) for f, s in _SUFFIXES if top >= f)
    decimals = max(0, min(12, 1 - math.floor(math.log10(step / factor))))
    labels = []
    for tick in ticks:
        text = f"{tick / factor:,.{decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        labels.append(text + suffix if text != "0" else text)
    return labels


def _ids(ids: Iterable[int]) -> str:
    unique = sorted(set(ids))
    text = ", ".join(str(i) for i in unique[:5])
    return text + (f" and {len(unique) - 5:,} more" if len(unique) > 5 else "")


# ---- document ------------------------------------------------------------------------------------

_CSS = (
    ":root{color-scheme:light;"
    + ";".join(f"--{name}:{value}" for name, value in COLOURS.items())
    + "}"
    + """
*{box-sizing:border-box}
body{margin:0 auto;max-width:75rem;padding:1rem;color:var(--text);background:#fff;
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
-webkit-print-color-adjust:exact;print-color-adjust:exact}
h1{font-size:1.45rem;margin:.2rem 0 .4rem}
h2{font-size:1.15rem;margin:1.6rem 0 .5rem}
h3{font-size:.95rem;margin:0;overflow-wrap:anywhere}
.note,.scale,.org p{color:var(--muted)}
.org p{margin:0;font-size:.85rem}
.org h3{display:flex;white-space:nowrap}.org h3 bdi{overflow:hidden;text-overflow:ellipsis}
.org h3 span{flex:none}.org p{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.banner{border:3px solid var(--fail);padding:.6rem .9rem;font-size:1.1rem;background:#fff5f5}
.banner strong,.failures h2{color:var(--fail)}
.failures li{overflow-wrap:anywhere}
.scroll{overflow-x:auto}
svg{display:block;width:100%;height:auto}
svg text{fill:currentColor}
.wide{min-width:40rem}
.sm{font-size:9px}.big{font-size:11px}.hbar{font-size:11px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:1.2rem 1.5rem}
.gl{fill:none;stroke:#a3a3a3;stroke-width:.5}
.ax{fill:none;stroke:var(--muted);stroke-width:1}
.y{text-anchor:end}.x{text-anchor:middle}.na{text-anchor:middle;fill:var(--fail)}
path.cpu{stroke:var(--cpu);fill:none}path.gpu{stroke:url(#ei-gpu);fill:none}
.tip{fill:transparent}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;margin:.3rem 0;padding:0;list-style:none}
.legend .na{color:var(--fail)}
.legend svg{display:inline-block;width:1.6em;height:1em;vertical-align:-.15em}
.legend svg.key{width:2.4em}
.sw-cpu{fill:var(--cpu)}.sw-gpu{fill:url(#ei-gpu)}
.ok{fill:var(--ok)}.warn{fill:var(--warn)}.fail{fill:var(--fail)}.unknown{fill:var(--unknown)}
.gpu.ok{fill:url(#ei-gpu-ok)}.gpu.warn{fill:url(#ei-gpu-warn)}.gpu.fail{fill:url(#ei-gpu-fail)}
.th{stroke-width:1.5;stroke-dasharray:4 3}.th.warn{stroke:var(--warn)}.th.fail{stroke:var(--fail)}
.st{font-weight:700}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{white-space:nowrap;padding:.2rem .55rem;border-bottom:1px solid #d4d4d4;text-align:right}
th[scope=row],th[scope=rowgroup],td.l,th.l,.rows td:first-child{text-align:left}
thead th{border-bottom:2px solid var(--muted)}
tbody th[scope=rowgroup]{padding-top:.7rem}
tr.sum>*{font-weight:700}
table.check{font-size:.8rem}
table.check th,table.check td{padding:.2rem .4rem}
table.check thead th{white-space:normal;vertical-align:bottom}
table.check th[scope=row]{white-space:normal;overflow-wrap:anywhere;min-width:8rem;max-width:13rem}
.defs{position:absolute;width:0;height:0;overflow:hidden}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
@media print{body{max-width:none;padding:0;font-size:10pt}.scroll{overflow:visible}
.wide{min-width:0}.org,figure,tr{break-inside:avoid}table{font-size:8pt}
.grid{grid-template-columns:repeat(3,1fr)}}
"""
)


def _pattern(pattern_id: str, colour: str) -> str:
    # Stripes of white across the colour: hatched reads as "GPU" without colour, and in print.
    return (
        f'<pattern id="{pattern_id}" width="5" height="5" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="5" height="5" fill="{colour}"/>'
        f'<path d="M0 0V5" stroke="#fff" stroke-width="1.6"/></pattern>'
    )


_DEFS = (
    '<svg class="defs" aria-hidden="true" focusable="false"><defs>'
    + _pattern("ei-gpu", COLOURS["gpu"])
    + "".join(_pattern(f"ei-gpu-{s}", COLOURS[s]) for s in ("ok", "warn", "fail"))
    + "{}</defs></svg>"
)


def _document(title: str, body: Iterable[str], defs: str = "") -> str:
    """Return the whole document around ``body``; ``title`` and ``defs`` are escaped already.

    ``defs`` go into the document's hidden SVG of shared definitions (``<use href="#...">``).
    """
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
            _DEFS.format(defs),
            "\n",
            *body,
            f"<footer>Written by ei-usage {_esc(ei_usage.__version__)}.</footer>\n",
            "</body>\n</html>\n",
        ]
    )


def _swatch(css_class: str) -> str:
    return (
        f'<svg viewBox="0 0 16 10" aria-hidden="true" focusable="false">'
        f'<rect class="{css_class}" width="16" height="10"/></svg>'
    )


def _with_listing(partial: str | None, reason: str | None) -> str | None:
    """Add a listing of "all" that ended early to the PARTIAL banner (escaped text)."""
    if reason is None:
        return partial
    cut = (
        f"The listing of the inner organizations was {_shown(reason, _TEXT_CHARS)}: "
        "organizations it did not reach are missing."
    )
    return cut if partial is None else f"{partial} {cut}"


def _failure_section(lines: Sequence[str], heading: str, partial: str | None) -> list[str]:
    """Return the PARTIAL banner (if any) and the failures list; texts are escaped already."""
    parts = []
    if partial is not None:
        parts.append(f'<p class="banner" role="status"><strong>PARTIAL:</strong> {partial}</p>\n')
    if lines:
        items = "".join(f"<li>{line}</li>" for line in lines)
        parts.append(
            f'<section class="failures"><h2>Failures</h2><p>{heading}</p><ul>{items}</ul>'
            "</section>\n"
        )
    return parts


# ---- column charts (compute time) ---------------------------------------------------------------


class _Column(NamedTuple):
    """One period of a column chart: CPU and GPU stacked, or a cross where requests failed."""

    slot: int  # its place on the x axis
    period: DateRange
    values: tuple[timedelta | None, timedelta | None] | None  # None: no data (requests failed)
    missing: int = 0  # requests of this period that failed or were not attempted


class _Frame(NamedTuple):
    css_class: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    font: int
    ticks: int  # about how many steps the y axis has

    @property
    def base(self) -> int:
        return self.height - self.bottom

    def slot_width(self, slots: int) -> float:
        return (self.width - self.left - self.right) / max(1, slots)

    def x(self, slot: int, slots: int) -> str:
        # Whole units: plenty for a chart, and a third shorter than one decimal.
        return str(round(self.left + self.slot_width(slots) * (slot + 0.5)))


_SMALL = _Frame("sm", width=240, height=120, left=34, right=6, top=16, bottom=16, font=9, ticks=2)
_BIG = _Frame("big", width=720, height=280, left=58, right=8, top=20, bottom=22, font=11, ticks=5)


def _axis_label(period: DateRange) -> str:
    text = str(period)
    return text if len(text) <= 10 else period.to_dict()["start"][:10]


def _x_labels(slots: Sequence[DateRange], frame: _Frame) -> str:
    """Return the x axis labels, as many as fit without overlapping."""
    width = max((len(_axis_label(p)) for p in slots), default=0) * frame.font * 0.6
    every = max(1, math.ceil((width + 4) / frame.slot_width(len(slots))))
    return "".join(
        f'<text class="x" x="{frame.x(i, len(slots))}" y="{frame.base + frame.font + 3}">'
        f"{_axis_label(p)}</text>"
        for i, p in enumerate(slots)
        if i % every == 0
    )


def _columns_svg(
    columns: Sequence[_Column],
    slots: int,
    unit: Unit,
    frame: _Frame,
    *,
    chart_id: str,
    title: str,
    desc: str,
    scale_note: str,
    x_labels: str,
    attrs: str = "",
    tooltips: bool = False,
) -> str:
    """Return a stacked CPU/GPU column chart; every text argument is escaped already.

    The numbers drawn are on the ``<svg>`` element, one space-separated item per column:
    ``data-periods`` (each ``str(DateRange)``, which ``DateRange.parse`` reads back),
    ``data-cpu-seconds`` and ``data-gpu-seconds`` (exact to the microsecond; ``-`` where there
    is no value). Lists on the chart rather than attributes on each column keep a chart of 12
    columns near 1 KB. CPU is one solid stroke per column, GPU a hatched one stacked on it; a
    column without data is a cross, one whose total misses some requests' usage a star (both
    ``<text>`` elements with ``data-period`` and ``data-missing``, the requests missing).
    """

    def seconds(value: timedelta | None) -> str:
        return "-" if value is None else _seconds_attr(value)

    def total(column: _Column) -> float:
        if column.values is None:
            return 0.0
        return sum(max(0.0, _in_unit(v, unit)) for v in column.values if v is not None)

    # At least a few of the tables' last decimal: finer ticks would need unreadable labels.
    smallest = 4 * 10.0 ** -_DECIMALS[unit]
    ticks = _ticks(max([smallest, *(total(c) for c in columns)]), frame.ticks)
    scale_top = ticks[-1]
    plot_h = frame.height - frame.top - frame.bottom
    base, right = frame.base, frame.width - frame.right

    def y(value: float) -> int:
        return round(base - min(value, scale_top) / scale_top * plot_h)

    cpu_d, gpu_d, marks = [], [], []
    slot_width = frame.slot_width(slots)
    for column in columns:
        x = frame.x(column.slot, slots)
        missing = f'data-period="{_esc(str(column.period))}" data-missing="{column.missing}"'
        if column.values is None:
            marks.append(f'<text class="na" x="{x}" y="{base - 3}" {missing}>\u00d7</text>')
            continue
        cpu, gpu = column.values
        low = max(0.0, _in_unit(cpu, unit)) if cpu is not None else 0.0
        high = low + (max(0.0, _in_unit(gpu, unit)) if gpu is not None else 0.0)
        if y(low) < base:
            cpu_d.append(f"M{x} {base}V{y(low)}")
        if y(high) < y(low):
            gpu_d.append(f"M{x} {y(low)}V{y(high)}")
        if column.missing:
            marks.append(f'<text class="na" x="{x}" y="{y(high) - 3}" {missing}>*</text>')
        if tooltips:
            marks.append(
                f'<rect class="tip" x="{_n(frame.left + slot_width * column.slot)}" '
                f'y="{frame.top}" width="{_n(slot_width)}" height="{plot_h}">'
                f"<title>{_esc(str(column.period))}: CPU {_amount(cpu, unit)}, GPU "
                f"{_amount(gpu, unit)} {unit.value}</title></rect>"
            )
    cpus = " ".join(seconds(c.values[0] if c.values else None) for c in columns)
    gpus = " ".join(seconds(c.values[1] if c.values else None) for c in columns)
    data = (
        f' data-periods="{" ".join(_esc(str(c.period)) for c in columns)}"'
        f' data-cpu-seconds="{cpus}" data-gpu-seconds="{gpus}"'
    )
    parts = [
        f'<svg class="{frame.css_class}" viewBox="0 0 {frame.width} {frame.height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d"{attrs}{data}><title id="{chart_id}-t">'
        f'{title}</title><desc id="{chart_id}-d">{desc}</desc><path class="gl" d="'
        + "".join(f"M{frame.left} {y(t)}H{right}" for t in ticks[1:])
        + f'"/><path class="ax" d="M{frame.left} {base}H{right}"/>'
    ]
    parts.extend(
        f'<text class="y" x="{frame.left - 3}" y="{y(t) + frame.font // 3}">{label}</text>'
        for t, label in zip(ticks, _tick_labels(ticks), strict=True)
    )
    parts.append(f'<text x="{frame.left}" y="{frame.top - 5}">{unit.value}, {scale_note}</text>')
    if not columns:
        middle = (frame.left + right) // 2
        parts.append(f'<text class="x" x="{middle}" y="{base - plot_h // 2}">no data</text>')
    stroke = _n(max(0.5, min(slot_width * 0.7, 48)))
    parts.append(
        f'<g style="stroke-width:{stroke}"><path class="cpu" d="{"".join(cpu_d)}"/>'
        f'<path class="gpu" d="{"".join(gpu_d)}"/></g>{"".join(marks)}{x_labels}</svg>'
    )
    return "".join(parts)


def _slots(report: Report) -> list[DateRange]:
    # The periods the report touched, not period.split(every): bounded by the report's own size
    # whatever its period claims.
    periods = {row.period for row in report.rows}
    periods.update(f.period for f in report.errors)
    periods.update(piece for _, piece in report.not_attempted)
    return sorted(periods, key=lambda p: (p.start, p.end))


def _compute_failures(report: Report) -> list[str]:
    lines = []
    for cause, which in report.failures_by_cause().items():
        if len(which) == 1:
            where = f"inner organization {which[0].inner_organization_id}, {which[0].period}"
        else:
            where = (
                f"{len(which):,} requests, inner organizations "
                f"{_ids(f.inner_organization_id for f in which)}"
            )
        lines.append(f"{where}: {_shown(cause, _TEXT_CHARS)}")
    return lines


def compute_time_html(report: Report, unit: Unit) -> str:
    """Return a compute-time report as one self-contained HTML document.

    An overall chart (CPU and GPU stacked per period, the whole white label), one small chart per
    inner organization (by id, each on its own scale), totals per inner organization and overall
    (``Report.totals_by_organization()``, ``Report.total()``), every row's exact numbers, the
    failures one line per cause, and a PARTIAL banner when the report stopped early.

    Args:
        report: the report, as ``Client.compute_time_report`` returns it.
        unit: the unit every duration is shown in.

    Returns:
        The document (UTF-8 text, ``<!DOCTYPE html>`` first).
    """
    unit = Unit(unit)
    report = attrs.evolve(report, rows=_deleted_named(report.rows))
    slots = _slots(report)
    rows_by_org: dict[int, dict[DateRange, tuple[timedelta | None, timedelta | None]]] = {}
    names: dict[int, str] = {}
    for row in report.rows:
        rows_by_org.setdefault(row.inner_organization_id, {})[row.period] = (row.cpu, row.gpu)
        if row.inner_organization_name:
            names[row.inner_organization_id] = row.inner_organization_name
    missing: dict[tuple[int, DateRange], int] = {}
    for inner, piece in [(f.inner_organization_id, f.period) for f in report.errors] + list(
        report.not_attempted
    ):
        missing[inner, piece] = missing.get((inner, piece), 0) + 1
    missing_by_period: dict[DateRange, int] = {}
    for (_, piece), count in missing.items():
        missing_by_period[piece] = missing_by_period.get(piece, 0) + count
    org_ids = sorted(
        set(report.inner_organization_ids) | set(rows_by_org) | {i for i, _ in missing}
    )
    requests = len(report.rows) + len(report.errors) + len(report.not_attempted)
    heading = (
        f"Compute time of organization {report.organization_id}\u2019s inner organizations, "
        f"{_esc(str(report.period))} by {_esc(report.every)} ({unit.value})"
    )
    partial = None
    if report.not_attempted:
        partial = (
            f"{len(report.not_attempted):,} of {requests:,} requests not done "
            f"({_shown(report.stop_reason or 'stopped early', _TEXT_CHARS)}). "
            "The charts and totals cover only what was fetched."
        )
    partial = _with_listing(partial, report.listing_stop_reason)
    body = [
        f'<header><h1>{heading}</h1>\n<p class="note">The API reports CPU/GPU in seconds and '
        f"totals in minutes; all shown in {unit.value}. Periods are UTC, [start, end). "
        f"{len(org_ids):,} inner organizations, {len(slots):,} periods, {requests:,} requests."
        "</p></header>\n",
        *_failure_section(
            _compute_failures(report),
            f"{len(report.errors):,} of {requests:,} requests failed; their usage is missing "
            "from the charts (\u00d7) and totals:",
            partial,
        ),
        _legend(),
        _overall(report, slots, missing_by_period, unit),
        _totals_table(report, org_ids, names, unit),
        _small_multiples(report, org_ids, names, slots, rows_by_org, missing, unit),
        _rows_table(report, org_ids, names, unit),
    ]
    title = ("PARTIAL: " if partial else "") + heading
    return _document(title, body, f'<g id="ei-x" class="sm">{_x_labels(slots, _SMALL)}</g>')


def _legend() -> str:
    return (
        '<ul class="legend" aria-label="Legend">'
        f"<li>{_swatch('sw-cpu')} CPU (solid, below)</li>"
        f"<li>{_swatch('sw-gpu')} GPU (hatched, above)</li>"
        '<li><span class="na">\u00d7</span> no data: the request failed or was not done</li>'
        "</ul>\n"
    )


def _overall(
    report: Report, slots: list[DateRange], missing: dict[DateRange, int], unit: Unit
) -> str:
    by_period = report.totals_by_period()
    columns = [
        _Column(
            i,
            p,
            (by_period[p].cpu, by_period[p].gpu) if p in by_period else None,
            missing.get(p, 0),
        )
        for i, p in enumerate(slots)
    ]
    incomplete = sum(1 for c in columns if c.missing and c.values is not None)
    desc = (
        f"Stacked columns, one per period: CPU then GPU compute time of all inner organizations, "
        f"in {unit.value}. The scale starts at zero."
        + (
            f" {incomplete} periods marked * miss some requests' usage (see Failures)."
            if incomplete
            else ""
        )
    )
    svg = _columns_svg(
        columns,
        len(slots),
        unit,
        _BIG,
        chart_id="ei-all",
        x_labels=_x_labels(slots, _BIG),
        title=f"Compute time of all inner organizations by {_esc(report.every)}, {unit.value}",
        desc=desc,
        scale_note="from zero",
        attrs=f' data-organization-id="{report.organization_id}"',
        tooltips=True,
    )
    rows = "".join(
        f'<tr><th scope="row">{_esc(str(p))}</th><td>{_amount(t.cpu, unit)}</td>'
        f"<td>{_amount(t.gpu, unit)}</td><td>{_amount(t.total, unit)}</td>"
        f"<td>{t.rows:,}</td></tr>"
        for p, t in by_period.items()
    )
    table = (
        f'<div class="scroll"><table><caption>Per period, all inner organizations '
        f'({unit.value})</caption><thead><tr><th class="l" scope="col">Period</th>'
        f'<th scope="col">CPU</th><th scope="col">GPU</th><th scope="col">Total (API)</th>'
        f'<th scope="col">Rows</th></tr></thead><tbody>{rows}</tbody></table></div>'
    )
    return (
        f'<section><h2>All inner organizations</h2><figure class="scroll"><div class="wide">'
        f"{svg}</div></figure>{table}</section>\n"
    )


def _usage_order(totals: UsageTotals | None, inner: int) -> tuple[bool, int, int]:
    """Sort key of the totals table: most used first (the API's total, else CPU + GPU), then id.

    Organizations without data come last.
    """
    if totals is None:
        return (True, 0, inner)
    used = totals.total
    if used is None:
        used = sum((v for v in (totals.cpu, totals.gpu) if v is not None), timedelta())
    return (False, -_us(used), inner)


def _totals_table(report: Report, org_ids: list[int], names: dict[int, str], unit: Unit) -> str:
    totals = report.totals_by_organization()
    cells = []
    for inner in sorted(org_ids, key=lambda i: _usage_order(totals.get(i), i)):
        t = totals.get(inner)
        if t is None:
            values = '<td colspan="5">no data</td>'
        else:
            values = (
                f"<td>{_amount(t.cpu, unit)}</td><td>{_amount(t.gpu, unit)}</td>"
                f"<td>{_amount(t.total, unit)}</td><td>{_amount(t.discrepancy, unit)}</td>"
                f"<td>{t.rows:,}</td>"
            )
        cells.append(
            f'<tr><th scope="row">'
            f"<bdi>{_org_shown(names.get(inner), inner)}</bdi></th><td>{inner}</td>{values}</tr>"
        )
    overall = report.total()
    cells.append(
        f'<tr class="sum"><th scope="row">All</th><td></td><td>{_amount(overall.cpu, unit)}</td>'
        f"<td>{_amount(overall.gpu, unit)}</td><td>{_amount(overall.total, unit)}</td>"
        f"<td>{_amount(overall.discrepancy, unit)}</td><td>{overall.rows:,}</td></tr>"
    )
    return (
        f'<section><h2>Totals</h2><div class="scroll"><table><caption>Totals of '
        f"{_esc(str(report.period))} per inner organization, most used first, and overall "
        f"({unit.value}; Total is the API's own, in minutes on the wire)</caption><thead><tr>"
        '<th class="l" scope="col">Inner organization</th><th scope="col">Id</th>'
        '<th scope="col">CPU</th><th scope="col">GPU</th><th scope="col">Total (API)</th>'
        '<th scope="col">Total \u2212 (CPU+GPU)</th><th scope="col">Rows</th></tr></thead>'
        f"<tbody>{''.join(cells)}</tbody></table></div></section>\n"
    )


def _small_multiples(
    report: Report,
    org_ids: list[int],
    names: dict[int, str],
    slots: list[DateRange],
    rows_by_org: dict[int, dict[DateRange, tuple[timedelta | None, timedelta | None]]],
    missing: dict[tuple[int, DateRange], int],
    unit: Unit,
) -> str:
    totals = report.totals_by_organization()
    charts = []
    for index, inner in enumerate(org_ids):
        own = rows_by_org.get(inner, {})
        columns = [
            _Column(i, p, own.get(p), missing.get((inner, p), 0))
            for i, p in enumerate(slots)
            if p in own or (inner, p) in missing
        ]
        t = totals.get(inner)
        # Always one heading line and two summary lines, so that the charts of a grid row
        # line up whatever the names (the heading's title has the name in full).
        summary = (
            f"CPU {_amount(t.cpu, unit)} {unit.value}<br>GPU {_amount(t.gpu, unit)} {unit.value}"
            if t is not None
            else "no data<br>\u00a0"
        )
        full = _org_title(names.get(inner), inner)
        svg = _columns_svg(
            columns,
            len(slots),
            unit,
            _SMALL,
            x_labels='<use href="#ei-x"/>',  # the same on every small chart: drawn once
            chart_id=f"ei-o{index}",
            title=f"Compute time of {full} by {_esc(report.every)}, {unit.value}",
            desc=f"CPU (solid) and GPU (hatched) stacked per period, {unit.value}, own scale.",
            scale_note="own scale",
            attrs=f' data-inner-organization-id="{inner}"',
        )
        charts.append(
            f'<div class="org"><h3 title="{full}"><bdi>{_org_shown(names.get(inner), inner)}'
            f"</bdi><span>\u00a0({inner})</span></h3><p>{summary}</p>{svg}</div>\n"
        )
    return (
        '<section><h2>By inner organization</h2><p class="scale">Each chart has its own scale '
        "(from zero), so small organizations stay readable: compare organizations in the "
        f'Totals table.</p>{_legend()}<div class="grid">\n{"".join(charts)}</div></section>\n'
    )


def _rows_table(report: Report, org_ids: list[int], names: dict[int, str], unit: Unit) -> str:
    """Return the small charts' exact numbers: a group of rows per inner organization."""
    by_org: dict[int, list[str]] = {}
    for row in report.rows:
        # Plain cells (the first is left-aligned by CSS): 3,000 of these are a third of the
        # document, so every byte counts.
        by_org.setdefault(row.inner_organization_id, []).append(
            f"<tr><td>{_esc(str(row.period))}</td><td>{_amount(row.cpu, unit)}</td>"
            f"<td>{_amount(row.gpu, unit)}</td></tr>"
        )
    groups = "".join(
        f'<tbody><tr><th scope="rowgroup" colspan="3"><bdi>{_org_shown(names.get(i), i)}</bdi> '
        f"({i})</th></tr>{''.join(by_org[i])}</tbody>"
        for i in org_ids
        if i in by_org
    )
    return (
        '<section><h2>Every period</h2><div class="scroll"><table class="rows"><caption>CPU '
        f"and GPU compute time per inner organization and period ({unit.value}), as the small "
        'charts draw them</caption><thead><tr><th class="l" scope="col">Period</th>'
        f'<th scope="col">CPU</th><th scope="col">GPU</th></tr></thead>{groups}</table></div>'
        "</section>\n"
    )


# ---- entitlement check ---------------------------------------------------------------------------


def _status(fraction: float | None, warn_at: float, fail_at: float) -> str:
    if fraction is None:
        return "unknown"
    if fraction >= fail_at:
        return "fail"
    return "warn" if fraction >= warn_at else "ok"


def _has_limit(row: InnerOrganizationUsage) -> bool:
    limits = row.entitlements
    return not (
        limits.compute_time_per_year is None
        and limits.gpu_compute_time_per_year is None
        and limits.storage_bytes is None
    )


def _fractions(row: InnerOrganizationUsage) -> list[tuple[str, float | None, bool]]:
    """Return ``(kind, used fraction, whether there is a limit)`` of each entitlement."""
    limits = row.entitlements
    return [
        ("compute", row.compute_used_fraction, limits.compute_time_per_year is not None),
        ("gpu", row.gpu_used_fraction, limits.gpu_compute_time_per_year is not None),
        ("storage", row.storage_used_fraction, limits.storage_bytes is not None),
    ]


_HBAR_LEFT, _HBAR_PLOT, _HBAR_RIGHT, _HBAR_ROW, _HBAR_TOP = 262, 400, 200, 32, 52
_HBAR_BARS = {"compute": (4, 11), "gpu": (17, 6), "storage": (25, 3)}  # y, height in a row
_KIND_WORDS = {"compute": "compute", "gpu": "GPU", "storage": "storage"}


def _check_svg(rows: Sequence[InnerOrganizationUsage], warn_at: float, fail_at: float) -> str:
    """Return the horizontal bar chart of the rows that have a limit."""
    finite = [
        f for row in rows for _, f, _ in _fractions(row) if f is not None and math.isfinite(f)
    ]
    # Beyond twice the fail level bars are clipped (and labelled), so that one organization at
    # 900 % does not flatten the others.
    top = max(fail_at, warn_at, min(max(finite, default=0.0), 2 * fail_at)) * 1.05
    ticks = _ticks(top * 100, 5)
    scale_top = ticks[-1] / 100
    width = _HBAR_LEFT + _HBAR_PLOT + _HBAR_RIGHT
    bottom = _HBAR_TOP + _HBAR_ROW * len(rows)
    right = _HBAR_LEFT + _HBAR_PLOT

    def x(fraction: float) -> float:
        return _HBAR_LEFT + min(fraction, scale_top) / scale_top * _HBAR_PLOT

    parts = [
        f'<svg class="hbar" viewBox="0 0 {width} {bottom + 8}" role="img" '
        'aria-labelledby="ei-check-t ei-check-d">'
        '<title id="ei-check-t">Use of the running contract against entitlements</title>'
        f'<desc id="ei-check-d">One row per inner organization with a limit, most used first. '
        f"Thick bar: compute (CPU+GPU) against computeTimePerYear; hatched bar: GPU against "
        f"gpuComputeTimePerYear; thin bar: storage against its limit. Dashed lines: warn at "
        f"{_level(warn_at)}, fail at {_level(fail_at)}. Bars past {_level(scale_top)} are "
        "clipped at the right edge and marked with an arrow.</desc>",
        '<path class="gl" d="'
        + "".join(f"M{_n(x(t / 100))} {_HBAR_TOP}V{bottom}" for t in ticks)
        + '"/>',
    ]
    parts.extend(
        f'<text class="x" x="{_n(x(t / 100))}" y="{_HBAR_TOP - 4}">{label} %</text>'
        for t, label in zip(ticks, _tick_labels(ticks), strict=True)
    )
    for level, at, y in (("warn", warn_at, 12), ("fail", fail_at, 26)):
        parts.append(
            f'<path class="th {level}" d="M{_n(x(at))} {y + 2}V{bottom}" '
            f'data-threshold="{level}" data-fraction="{at!r}"/>'
            f'<text class="x" x="{_n(x(at))}" y="{y}">{level} {_level(at)}</text>'
        )
    for index, row in enumerate(rows):
        inner = row.inner_organization_id
        status = _status(row.highest_used_fraction, warn_at, fail_at)
        fractions = _fractions(row)
        said = ", ".join(f"{_KIND_WORDS[k]} {_share(f, limited)}" for k, f, limited in fractions)
        parts.append(
            f'<g data-inner-organization-id="{inner}" data-status="{status}" '
            f'transform="translate(0 {_HBAR_TOP + index * _HBAR_ROW})">'
            f"<title>{_org_title(row.inner_organization_name, inner)}: "
            f"{_STATUS_WORDS[status]}; {said}</title>"
            f'<text x="4" y="14">{_org_shown(row.inner_organization_name, inner, 36)}'
            f'</text><text class="y" x="{_HBAR_LEFT - 6}" y="14">{inner}</text>'
        )
        for kind, fraction, _ in fractions:
            if fraction is None:
                continue
            y, height = _HBAR_BARS[kind]
            own = _status(fraction, warn_at, fail_at)
            css = _bar_class(kind, own)
            parts.append(
                f'<rect class="{css}" x="{_HBAR_LEFT}" y="{y}" '
                f'width="{_n(x(fraction) - _HBAR_LEFT)}" height="{height}" data-kind="{kind}" '
                f'data-fraction="{fraction!r}"/>'
            )
            if fraction > scale_top:
                parts.append(
                    f'<path class="{own}" d="M{right + 1} {y - 2}l6 {height / 2 + 2}'
                    f'-6 {height / 2 + 2}z"/>'
                )
        first, *others = fractions
        parts.append(
            f'<text x="{right + 12}" y="14"><tspan class="st {status}">'
            f"{_STATUS_WORDS[status]}</tspan> compute {_share(first[1], first[2])}</text>"
            f'<text x="{right + 12}" y="27">'
            + " \u00b7 ".join(f"{_KIND_WORDS[k]} {_share(f, limited)}" for k, f, limited in others)
            + "</text></g>"
        )
    parts.append(f'<path class="ax" d="M{_HBAR_LEFT} {_HBAR_TOP}V{bottom}"/></svg>')
    return "".join(parts)


def _key(kind: str) -> str:
    """Return a legend key of one kind of bar: its height and fill, in each status's colour.

    The key's rectangles carry the very classes the chart's bars of that kind carry, so the
    legend cannot show a colour or pattern the bars do not.
    """
    _, height = _HBAR_BARS[kind]
    rects = "".join(
        f'<rect class="{_bar_class(kind, status)}" x="{i * 8}" y="{_n((11 - height) / 2)}" '
        f'width="8" height="{height}"/>'
        for i, status in enumerate(("ok", "warn", "fail"))
    )
    return (
        f'<svg class="key" viewBox="0 0 24 11" data-kind="{kind}" aria-hidden="true" '
        f'focusable="false">{rects}</svg>'
    )


def _bar_class(kind: str, status: str) -> str:
    return status if kind != "gpu" else f"gpu {status}"


def _check_legend(warn_at: float, fail_at: float) -> str:
    """Return the check chart's legend: what each bar measures, then what its colour says."""
    return (
        '<ul class="legend" aria-label="Legend">'
        f"<li>{_key('compute')} thick bar: compute (CPU + GPU) against compute time per year</li>"
        f"<li>{_key('gpu')} hatched bar: GPU against GPU compute time per year</li>"
        f"<li>{_key('storage')} thin bar: storage against the storage limit</li></ul>"
        '<ul class="legend" aria-label="Colours">'
        f"<li>{_swatch('ok')} OK: under {_level(warn_at)}</li>"
        f"<li>{_swatch('warn')} WARN: at or over {_level(warn_at)}</li>"
        f"<li>{_swatch('fail')} FAIL: at or over {_level(fail_at)}</li>"
        "<li>each bar in the colour of its own entitlement's status; dashed lines: the warn "
        "and fail levels</li></ul>"
    )


def _bytes(size: int | None, missing: str = "n/a") -> str:
    return missing if size is None else f"{size:,}"


def _check_table(report: EntitlementReport, warn_at: float, fail_at: float, unit: Unit) -> str:
    cells = []
    for row in report.rows:
        inner, limits = row.inner_organization_id, row.entitlements
        word = "no limit"
        if _has_limit(row):
            word = _STATUS_WORDS[_status(row.highest_used_fraction, warn_at, fail_at)]
        since = "n/a" if row.contract_since is None else row.contract_since.date().isoformat()
        values = [
            _amount(row.compute, unit),
            _amount(limits.compute_time_per_year, unit, "no limit"),
            _share(row.compute_used_fraction, limits.compute_time_per_year is not None),
            _amount(row.gpu, unit),
            _amount(limits.gpu_compute_time_per_year, unit, "no limit"),
            _share(row.gpu_used_fraction, limits.gpu_compute_time_per_year is not None),
            _bytes(row.storage_bytes),
            _bytes(limits.storage_bytes, "no limit"),
            _share(row.storage_used_fraction, limits.storage_bytes is not None),
            since,
        ]
        cells.append(
            f'<tr data-inner-organization-id="{inner}"><th scope="row" '
            f'title="{_org_title(row.inner_organization_name, inner)}"><bdi>'
            f"{_org_shown(row.inner_organization_name, inner)}</bdi></th><td>{inner}</td>"
            f'<td class="l">{word}</td>' + "".join(f"<td>{v}</td>" for v in values) + "</tr>"
        )
    return (
        '<section><h2>Every inner organization</h2><div class="scroll"><table class="check">'
        "<caption>Use of "
        f"the running contract and entitlements (compute in {unit.value}, storage in bytes; "
        "percentages rounded down)</caption><thead><tr>"
        '<th class="l" scope="col">Inner organization</th><th scope="col">Id</th>'
        '<th class="l" scope="col">Status</th><th scope="col">Compute used</th>'
        '<th scope="col">Compute limit</th><th scope="col">Compute %</th>'
        '<th scope="col">GPU used</th><th scope="col">GPU limit</th><th scope="col">GPU %</th>'
        '<th scope="col">Storage used</th><th scope="col">Storage limit</th>'
        '<th scope="col">Storage %</th><th scope="col">Contract since</th></tr></thead>'
        f"<tbody>{''.join(cells)}</tbody></table></div></section>\n"
    )


def check_html(report: EntitlementReport, unit: Unit, *, warn_at: float, fail_at: float) -> str:
    """Return an entitlement check as one self-contained HTML document.

    A horizontal bar per inner organization with a limit, in the report's order (most used
    first): compute (CPU+GPU against ``computeTimePerYear``), GPU and storage, coloured and
    labelled by status against the warn and fail levels, which are drawn as lines; use against a
    limit of zero is infinite, drawn clipped at the right edge. Organizations without any limit
    are listed apart. A table gives every exact value; failures come one line per cause, and a
    PARTIAL banner when the check stopped early.

    Args:
        report: the check, as ``Client.entitlement_report`` returns it.
        unit: the unit compute time is shown in.
        warn_at: the warn level, a fraction of an entitlement (0.8 is 80 %).
        fail_at: the fail level, a fraction (1.0 is the whole entitlement).

    Returns:
        The document (UTF-8 text, ``<!DOCTYPE html>`` first).

    Raises:
        ValueError: a level that is not a finite positive number, or ``warn_at > fail_at``.
    """
    unit = Unit(unit)
    report = attrs.evolve(report, rows=_deleted_named(report.rows))
    for name, level in (("warn_at", warn_at), ("fail_at", fail_at)):
        valid = isinstance(level, int | float) and not isinstance(level, bool)
        if not (valid and math.isfinite(level) and level > 0):
            raise ValueError(f"{name} must be a finite fraction above 0, got {level!r}")
    if warn_at > fail_at:
        raise ValueError(f"warn_at ({warn_at!r}) must not be above fail_at ({fail_at!r})")
    limited = [row for row in report.rows if _has_limit(row)]
    unlimited = [row for row in report.rows if not _has_limit(row)]
    counts = dict.fromkeys(STATUSES, 0)
    for row in limited:
        counts[_status(row.highest_used_fraction, warn_at, fail_at)] += 1
    checked = len(report.rows) + len(report.errors) + len(report.not_attempted)
    heading = (
        f"Entitlements of organization {report.organization_id}\u2019s inner organizations "
        f"({unit.value}; warn at {_level(warn_at)}, fail at {_level(fail_at)})"
    )
    partial = None
    if report.not_attempted:
        partial = (
            f"{len(report.not_attempted):,} of {checked:,} inner organizations not checked "
            f"({_shown(report.stop_reason or 'stopped early', _TEXT_CHARS)}): "
            f"{_ids(report.not_attempted)}."
        )
    partial = _with_listing(partial, report.listing_stop_reason)
    lines = []
    for cause, which in report.failures_by_cause().items():
        ids = [f.inner_organization_id for f in which]
        where = (
            f"inner organization {ids[0]}"
            if len(ids) == 1
            else f"{len(ids):,} inner organizations ({_ids(ids)})"
        )
        lines.append(f"{where}: {_shown(cause, _TEXT_CHARS)}")
    summary = (
        f"{counts['fail']:,} at or over fail ({_level(fail_at)}), {counts['warn']:,} at or "
        f"over warn ({_level(warn_at)}), {counts['ok']:,} under, "
        f"{len(unlimited):,} without a limit"
        + (f", {counts['unknown']:,} with usage unknown" if counts["unknown"] else "")
        + "."
    )
    body = [
        f'<header><h1>{heading}</h1>\n<p class="note">Use of each running contract against '
        "its yearly entitlements: the API reports CPU/GPU compute time in seconds; shown in "
        f"{unit.value}. Storage is in bytes. A status is that of the most used entitlement.</p>"
        f"<p>{summary}</p></header>\n",
        *_failure_section(
            lines,
            f"{len(report.errors):,} of {checked:,} inner organizations could not be read:",
            partial,
        ),
        "<section><h2>Against entitlements</h2>",
        _check_legend(warn_at, fail_at),
        f'<figure class="scroll"><div class="wide">{_check_svg(limited, warn_at, fail_at)}'
        "</div></figure>"
        if limited
        else f"<p>{'No inner organization has a limit.' if report.rows else 'No usage read.'}</p>",
        "</section>\n",
    ]
    if unlimited:
        items = "".join(
            f'<li data-inner-organization-id="{row.inner_organization_id}"><bdi>'
            f"{_org_shown(row.inner_organization_name, row.inner_organization_id)}</bdi> "
            f"({row.inner_organization_id}): compute {_amount(row.compute, unit)} {unit.value}"
            "</li>"
            for row in unlimited
        )
        body.append(
            "<section><h2>No limit</h2><p>Inner organizations without any compute, GPU or "
            f'storage limit: {len(unlimited):,}.</p><ul class="nolimit">{items}</ul></section>\n'
        )
    body.append(_check_table(report, warn_at, fail_at, unit))
    return _document(("PARTIAL: " if partial else "") + heading, body)
