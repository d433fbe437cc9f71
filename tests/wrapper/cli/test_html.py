"""The HTML reports: self-contained, well formed, escaped, and their charts' numbers exact.

Documents are parsed with a strict ``html.parser`` subclass (balanced tags, void elements only
self-closed, no duplicate attributes) and every ``<svg>`` also as XML. The numbers a chart draws
are read back from its ``data-*`` attributes and compared with the report's timedeltas in whole
microseconds; expected values come from the report objects (or FakeStudio), never from the module.
"""

from __future__ import annotations

import math
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ei_usage import (
    APIConnectionError,
    Client,
    ComputeTime,
    DateRange,
    EntitlementFailure,
    EntitlementReport,
    Entitlements,
    InnerOrganizationUsage,
    NotFoundError,
    Report,
    ReportFailure,
    ServerError,
    Unit,
)
from ei_usage.cli import _html
from ei_usage.cli._html import check_html, compute_time_html
from ei_usage.testing import FakeStudio

US = timedelta(microseconds=1)
US_PER_UNIT = {Unit.SECONDS: 1_000_000, Unit.MINUTES: 60_000_000, Unit.HOURS: 3_600_000_000}
DECIMALS = {Unit.SECONDS: 1, Unit.MINUTES: 2, Unit.HOURS: 3}
YEAR = DateRange.parse("2024")
MONTHS = YEAR.split("month")
SIZE_LIMIT_BYTES = 650_000
"""The 250 x 12 report's document stays under this (measured: about 595 KB worst case)."""


# -- a strict parser -------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Node:
    """An element: tag, attributes, children (elements and text)."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            node
            for node in self.iter()
            if node.tag == tag and all(node.attrs.get(k) == v for k, v in wanted.items())
        ]

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def elements(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]

    def get(self, name: str) -> str:
        value = self.attrs.get(name)
        assert value is not None, f"<{self.tag}> has no {name}"
        return value

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class StrictParser(HTMLParser):
    """Builds a tree, recording anything a browser would have to repair."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root
        self.errors: list[str] = []
        self.declarations: list[str] = []

    def _node(self, tag: str, attrs: list[tuple[str, str | None]]) -> Node:
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            self.errors.append(f"duplicate attribute in <{tag}>: {names}")
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        return node

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = self._node(tag, attrs)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = self._node(tag, attrs)
        # <x/> closes only void elements and elements inside SVG (foreign content).
        if tag not in VOID and not any(a.tag == "svg" for a in node.ancestors()):
            self.errors.append(f"<{tag}/> outside SVG is not self-closing in HTML")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or self.current.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.current.tag}>")
            return
        assert self.current.parent is not None
        self.current = self.current.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def unknown_decl(self, data: str) -> None:
        self.errors.append(f"unknown declaration {data!r}")

    def handle_pi(self, data: str) -> None:
        self.errors.append(f"processing instruction {data!r}")


EXTERNAL_ATTRIBUTES = {"href", "src", "xlink:href", "action", "formaction", "poster", "srcset"}


def parse(document: str) -> Node:
    """Parse a document, checking everything every document must be; return its tree."""
    assert document.startswith("<!DOCTYPE html>\n")
    document.encode("utf-8")  # a lone surrogate would raise here, as it would on output
    parser = StrictParser()
    parser.feed(document)
    parser.close()
    assert parser.errors == []
    assert parser.current is parser.root, f"<{parser.current.tag}> is never closed"
    assert parser.declarations == ["DOCTYPE html"]
    root = parser.root
    (page,) = root.elements()
    assert page.tag == "html"
    assert page.get("lang") == "en"
    assert [e.tag for e in page.elements()] == ["head", "body"]
    assert root.find_all("meta", charset="utf-8")
    assert root.find_all("meta", name="viewport")
    (title,) = page.elements()[0].find_all("title")
    assert title.text().strip()
    # Self-contained: nothing to run, nothing to fetch.
    assert not root.find_all("script")
    for tag in ("link", "img", "iframe", "object", "embed", "base", "form", "audio", "video"):
        assert not root.find_all(tag), tag
    ids = [node.attrs["id"] for node in root.iter() if "id" in node.attrs]
    assert len(ids) == len(set(ids)), "ids are unique"
    for node in root.iter():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), f"event handler {name}"
            if name in EXTERNAL_ATTRIBUTES:
                assert value, name
                assert value.startswith("#"), (name, value)
                assert value[1:] in ids, (name, value)
            if value and "url(" in value:
                assert re.fullmatch(r"[^()]*(url\(#[\w-]+\)[^()]*)+", value), value
    for style in root.find_all("style"):
        for target in re.findall(r"url\(([^)]*)\)", style.text()):
            assert target.startswith("#"), target
            assert target[1:] in ids, target
    assert "@import" not in document
    # Every chart is an image with a title and a description first, named by them.
    for svg in root.find_all("svg"):
        if svg.attrs.get("aria-hidden") == "true":
            continue
        assert svg.get("role") == "img"
        first, second = svg.elements()[:2]
        assert (first.tag, second.tag) == ("title", "desc")
        assert first.text().strip()
        assert second.text().strip()
        assert svg.get("aria-labelledby").split() == [first.get("id"), second.get("id")]
    # And every <svg> is well-formed XML as well (SVG outside HTML must be).
    for source in re.findall(r"<svg\b.*?</svg>", document, re.S):
        ET.fromstring(source)
    return root


def plain(document: str) -> None:
    """The document has no URL at all (for fixtures whose server text holds none)."""
    assert "http://" not in document
    assert "https://" not in document


# -- builders --------------------------------------------------------------------------------------


def row(
    inner: int,
    period: DateRange,
    cpu_us: int | None,
    gpu_us: int | None,
    *,
    total: timedelta | None = None,
    name: str | None = None,
) -> ComputeTime:
    return ComputeTime(
        organization_id=1,
        inner_organization_id=inner,
        period=period,
        cpu=None if cpu_us is None else cpu_us * US,
        gpu=None if gpu_us is None else gpu_us * US,
        total=total,
        inner_organization_name=name,
    )


def cedar(inner: int) -> str | None:
    return f"Cedar Labs {inner}"


def year_report(
    ids: range | list[int], *, seed: int = 1, name: Callable[[int], str | None] = cedar
) -> Report:
    rng = random.Random(seed)
    rows = tuple(
        row(
            i,
            piece,
            rng.randrange(10**13),  # up to ~115 days, microsecond precise
            rng.choice([0, rng.randrange(10**12)]),
            total=timedelta(minutes=rng.randrange(10**6)),
            name=name(i),
        )
        for i in ids
        for piece in MONTHS
    )
    return Report(1, tuple(ids), YEAR, "month", rows, ())


def usage(
    inner: int,
    cpu_s: float | None,
    gpu_s: float | None,
    *,
    compute_h: float | None = None,
    gpu_h: float | None = None,
    storage: int | None = None,
    storage_limit: int | None = None,
    name: str | None = None,
) -> InnerOrganizationUsage:
    return InnerOrganizationUsage(
        organization_id=1,
        inner_organization_id=inner,
        cpu=None if cpu_s is None else timedelta(seconds=cpu_s),
        gpu=None if gpu_s is None else timedelta(seconds=gpu_s),
        total=None,
        contract_since=datetime(2024, 1, 1, tzinfo=UTC),
        storage_bytes=storage,
        billable=True,
        entitlements=Entitlements(
            compute_time_per_year=None if compute_h is None else timedelta(hours=compute_h),
            gpu_compute_time_per_year=None if gpu_h is None else timedelta(hours=gpu_h),
            storage_bytes=storage_limit,
        ),
        inner_organization_name=name if name is not None else f"Cedar Labs {inner}",
    )


def check_report() -> EntitlementReport:
    rows = [
        usage(2, 3600 * 50, 0, compute_h=100),  # 50 %
        usage(3, 3600 * 79, 3600, compute_h=100),  # exactly 80 %: warn
        usage(4, 3600 * 100, 0, compute_h=100, gpu_h=10),  # exactly 100 %: fail
        usage(5, 1, 0, compute_h=0),  # a zero limit with use: infinite
        usage(6, 3600, 3600 * 9, compute_h=1000, gpu_h=10),  # GPU 90 %: warn
        usage(7, 10, 0, storage=950, storage_limit=1000),  # storage only: 95 %
        usage(8, 3600 * 900, 0, compute_h=100),  # 900 %: past the chart's edge
        usage(9, 3600, 0),  # no limit at all
        usage(10, None, None, compute_h=100),  # a limit, usage unknown
        usage(11, 0, 0, compute_h=0),  # a zero limit without use: 0 %
    ]
    ids = [r.inner_organization_id for r in rows]
    return EntitlementReport.of(1, ids, rows, None)


# -- reading charts back ---------------------------------------------------------------------------


def micros(text: str) -> int | None:
    """Seconds as the chart writes them -> exact microseconds (None for '-')."""
    if text == "-":
        return None
    value = Decimal(text) * 1_000_000
    assert value == value.to_integral_value(), f"{text} is finer than a microsecond"
    return int(value)


def columns(svg: Node) -> list[tuple[DateRange, int | None, int | None]]:
    periods = svg.get("data-periods").split()
    cpus = svg.get("data-cpu-seconds").split()
    gpus = svg.get("data-gpu-seconds").split()
    assert len(periods) == len(cpus) == len(gpus)
    return [
        (DateRange.parse(p), micros(c), micros(g))
        for p, c, g in zip(periods, cpus, gpus, strict=True)
    ]


def us(value: timedelta | None) -> int | None:
    return None if value is None else value // US


def small_charts(tree: Node) -> dict[int, Node]:
    charts = [svg for svg in tree.find_all("svg") if "data-inner-organization-id" in svg.attrs]
    by_id = {int(svg.get("data-inner-organization-id")): svg for svg in charts}
    assert len(by_id) == len(charts)
    return by_id


def shown_number(text: str) -> float:
    return float(text.replace(",", ""))


def close_to(text: str, value: timedelta | None, unit: Unit) -> bool:
    """The cell shows ``value`` in ``unit``, rounded to the command line's decimals."""
    if value is None:
        return text == "n/a"
    exact = Decimal(value // US) / US_PER_UNIT[unit]
    return abs(Decimal(text.replace(",", "")) - exact) <= Decimal(5) / 10 ** (DECIMALS[unit] + 1)


# -- compute time ----------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", list(Unit))
def test_every_row_is_on_its_chart_exactly(unit: Unit) -> None:
    report = year_report(range(2, 8))
    document = compute_time_html(report, unit)
    tree = parse(document)
    plain(document)
    charts = small_charts(tree)
    assert list(charts) == list(range(2, 8))  # sorted as the report is
    drawn = {
        (inner, period): (cpu, gpu)
        for inner, svg in charts.items()
        for period, cpu, gpu in columns(svg)
    }
    expected = {(r.inner_organization_id, r.period): (us(r.cpu), us(r.gpu)) for r in report.rows}
    assert drawn == expected
    (overall,) = tree.find_all("svg", data_organization_id="1")
    assert columns(overall) == [
        (period, us(t.cpu), us(t.gpu)) for period, t in report.totals_by_period().items()
    ]


def test_the_chart_draws_what_its_data_says() -> None:
    # Heights are proportional to the numbers, GPU sits on CPU, columns go left to right.
    rows = tuple(
        row(2, piece, (k + 1) * 3_600_000_000, (12 - k) * 900_000_000)
        for k, piece in enumerate(MONTHS)
    )
    report = Report(1, (2,), YEAR, "month", rows, ())
    tree = parse(compute_time_html(report, Unit.HOURS))
    svg = small_charts(tree)[2]
    segments = {
        p.get("class"): [tuple(map(int, m)) for m in re.findall(r"M(\d+) (\d+)V(\d+)", p.get("d"))]
        for p in svg.find_all("path")
        if p.attrs.get("class") in ("cpu", "gpu")
    }
    cpu, gpu = segments["cpu"], segments["gpu"]
    assert len(cpu) == len(gpu) == 12
    assert [x for x, _, _ in cpu] == sorted(x for x, _, _ in cpu)
    base = cpu[0][1]
    heights = []
    for (x, bottom, top), (gx, gbottom, gtop) in zip(cpu, gpu, strict=True):
        assert (x, bottom) == (gx, base)
        assert gbottom == top  # stacked
        heights.append((bottom - top, gbottom - gtop))
    tallest = max(c + g for c, g in heights)
    values = [(c, g) for _, c, g in columns(svg)]
    biggest = max(c + g for c, g in values)  # type: ignore[operator]
    for (ch, gh), (c, g) in zip(heights, values, strict=True):
        assert abs(ch / tallest - c / biggest) < 0.03  # type: ignore[operator]
        assert abs(gh / tallest - g / biggest) < 0.03  # type: ignore[operator]


def test_the_heading_states_organization_period_granularity_and_unit() -> None:
    report = year_report([2, 3])
    tree = parse(compute_time_html(report, Unit.MINUTES))
    (h1,) = tree.find_all("h1")
    assert re.search(r"organization 1\b.*2024 by month \(minutes\)", h1.text())
    note = tree.find_all("p", **{"class": "note"})[0].text()
    assert "in seconds and totals in minutes" in note
    assert "shown in minutes" in note
    assert "own scale" in tree.text()  # the small multiples say their scale


@pytest.mark.parametrize("unit", list(Unit))
def test_totals_are_the_reports(unit: Unit) -> None:
    report = year_report(range(2, 6), seed=5)
    tree = parse(compute_time_html(report, unit))
    (table,) = [t for t in tree.find_all("table") if "Totals of" in t.find_all("caption")[0].text()]
    body_rows = table.find_all("tbody")[0].find_all("tr")
    totals = report.totals_by_organization()
    for tr in body_rows[:-1]:
        cells = [c.text() for c in tr.elements()]
        t = totals[int(cells[1])]
        assert close_to(cells[2], t.cpu, unit)
        assert close_to(cells[3], t.gpu, unit)
        assert close_to(cells[4], t.total, unit)
        assert close_to(cells[5], t.discrepancy, unit)
        assert int(cells[6]) == t.rows
    overall = [c.text() for c in body_rows[-1].elements()]
    assert overall[0] == "All"
    assert close_to(overall[2], report.total().cpu, unit)
    assert close_to(overall[3], report.total().gpu, unit)
    assert close_to(overall[4], report.total().total, unit)
    # Most used first (issue 17), not in id order.
    most_first = sorted(totals, key=lambda i: (-us(totals[i].total), i))  # type: ignore[operator]
    assert [int(tr.elements()[1].text()) for tr in body_rows[:-1]] == most_first
    assert most_first != sorted(most_first)  # the seed makes the two orders differ


def test_every_rows_exact_numbers_are_in_a_table() -> None:
    report = year_report([2, 3], seed=9)
    tree = parse(compute_time_html(report, Unit.SECONDS))
    (table,) = tree.find_all("table", **{"class": "rows"})
    seen = []
    for body in table.find_all("tbody"):
        header, *rows = body.find_all("tr")
        inner = int(re.search(r"\((\d+)\)$", header.text()).group(1))  # type: ignore[union-attr]
        for tr in rows:
            period, cpu, gpu = (c.text() for c in tr.elements())
            (r,) = [
                r
                for r in report.rows
                if r.inner_organization_id == inner and str(r.period) == period
            ]
            assert close_to(cpu, r.cpu, Unit.SECONDS)
            assert close_to(gpu, r.gpu, Unit.SECONDS)
            seen.append((inner, period))
    assert len(seen) == len(report.rows) == len(set(seen))


def test_names_are_escaped_and_titled_in_full() -> None:
    nasty = "<script>alert(\"x\")</script> & 'Co'\n\u202eevil\u202c"
    long = "A very long organization name " * 5
    names = {2: nasty, 3: long, 4: "  ", 5: "\u05e9\u05dc\u05d5\u05dd \u200f(RTL)"}
    report = year_report([2, 3, 4, 5], name=lambda i: names[i])
    document = compute_time_html(report, Unit.HOURS)
    tree = parse(document)
    assert not tree.find_all("script")
    assert "<script>" not in document
    charts = small_charts(tree)
    titles = {i: svg.elements()[0].text() for i, svg in charts.items()}
    assert nasty in titles[2]  # text, exactly, after the parser decodes it
    assert long in titles[3]
    assert "(RTL)" in titles[5]
    headings = {
        int(re.search(r"\((\d+)\)$", h.text()).group(1)): h.find_all("bdi")[0].text()  # type: ignore[union-attr]
        for h in tree.find_all("h3")
    }
    assert headings[2] == "<script>alert(\"x\")</script> & 'Co' evil"  # one line, no override
    assert headings[3].endswith("\u2026")
    assert len(headings[3]) == 40
    assert long.startswith(headings[3][:-1])
    assert headings[4] == "inner organization 4"  # nothing to show: the id


def test_a_report_without_names_titles_charts_by_id() -> None:
    report = year_report([2, 3], name=lambda i: None)
    tree = parse(compute_time_html(report, Unit.HOURS))
    titles = [svg.elements()[0].text() for svg in small_charts(tree).values()]
    assert titles == [
        "Compute time of inner organization 2 by month, hours",
        "Compute time of inner organization 3 by month, hours",
    ]


def failing_report(*, partial: bool) -> Report:
    full = year_report(range(2, 6))
    failed = [
        (r.inner_organization_id, r.period)
        for r in full.rows
        if r.period.start.month in (3, 4) and r.inner_organization_id in (3, 4)
    ]
    errors = (
        *(
            ReportFailure(inner, period, NotFoundError("Organization not found", 404))
            for inner, period in failed
        ),
        ReportFailure(5, MONTHS[6], ServerError("Bad gateway", 502)),
    )
    skipped = tuple((inner, MONTHS[11]) for inner in (4, 5)) if partial else ()
    gone = set(failed) | {(5, MONTHS[6])} | set(skipped)
    rows = tuple(r for r in full.rows if (r.inner_organization_id, r.period) not in gone)
    return Report(
        1,
        full.inner_organization_ids,
        YEAR,
        "month",
        rows,
        errors,
        skipped,
        "5 connections in a row failed" if partial else None,
    )


@pytest.mark.parametrize("partial", [False, True])
def test_failures_one_line_per_cause_and_the_partial_banner(partial: bool) -> None:
    report = failing_report(partial=partial)
    document = compute_time_html(report, Unit.HOURS)
    tree = parse(document)
    (failures,) = tree.find_all("section", **{"class": "failures"})
    lines = [li.text() for li in failures.find_all("li")]
    causes = report.failures_by_cause()
    assert len(lines) == len(causes) == 2
    for line, (cause, which) in zip(lines, causes.items(), strict=True):
        assert line.endswith(cause)
        assert str(len(which)) in line or str(which[0].inner_organization_id) in line
    banners = tree.find_all("p", **{"class": "banner"})
    title = tree.find_all("head")[0].find_all("title")[0].text()
    if partial:
        (banner,) = banners
        assert banner.text().startswith("PARTIAL:")
        assert "2 of 48 requests not done (5 connections in a row failed)" in banner.text()
        assert title.startswith("PARTIAL: ")
    else:
        assert banners == []
        assert "PARTIAL" not in document
    # The missing periods are crosses on their organization's chart, not zeros.
    charts = small_charts(tree)
    for failure in report.errors:
        svg = charts[failure.inner_organization_id]
        assert (failure.period, None, None) in columns(svg)
        marks = [
            t for t in svg.find_all("text") if t.attrs.get("data-period") == str(failure.period)
        ]
        assert [m.text() for m in marks] == ["\u00d7"]
    for inner, period in report.not_attempted:
        assert (period, None, None) in columns(charts[inner])
    # The overall chart marks the periods whose sum misses requests.
    (overall,) = tree.find_all("svg", data_organization_id="1")
    starred = {
        DateRange.parse(t.get("data-period")) for t in overall.find_all("text") if t.text() == "*"
    }
    assert starred == {f.period for f in report.errors} | {p for _, p in report.not_attempted}


def test_an_empty_report_renders() -> None:
    report = Report(1, (), YEAR, "month", (), ())
    document = compute_time_html(report, Unit.MINUTES)
    tree = parse(document)
    plain(document)
    assert small_charts(tree) == {}
    (overall,) = tree.find_all("svg", data_organization_id="1")
    assert columns(overall) == []
    assert "no data" in overall.text()


def test_a_report_of_only_failures_renders() -> None:
    errors = tuple(
        ReportFailure(i, p, APIConnectionError("Connection refused"))
        for i in (2, 3)
        for p in MONTHS[:2]
    )
    report = Report(1, (2, 3), DateRange.parse("2024-01..2024-02"), "month", (), errors)
    tree = parse(compute_time_html(report, Unit.HOURS))
    charts = small_charts(tree)
    assert list(charts) == [2, 3]
    for svg in charts.values():
        assert columns(svg) == [(MONTHS[0], None, None), (MONTHS[1], None, None)]
    lines = [
        li.text() for li in tree.find_all("section", **{"class": "failures"})[0].find_all("li")
    ]
    assert lines == ["4 requests, inner organizations 2, 3: APIConnectionError: Connection refused"]


def test_unknown_values_are_not_drawn_as_zero() -> None:
    rows = (row(2, MONTHS[0], None, 5_000_000), row(2, MONTHS[1], 7_000_000, None))
    report = Report(1, (2,), DateRange.parse("2024-01..2024-02"), "month", rows, ())
    tree = parse(compute_time_html(report, Unit.SECONDS))
    assert columns(small_charts(tree)[2]) == [
        (MONTHS[0], None, 5_000_000),
        (MONTHS[1], 7_000_000, None),
    ]


def test_250_organizations_by_12_months_stay_small() -> None:
    # Worst case for size: 40-character names, microsecond-precise values, hours (3 decimals).
    report = year_report(range(2, 252), name=lambda i: f"Northern Hemisphere Research Lab {i:07d}")
    document = compute_time_html(report, Unit.HOURS)
    size = len(document.encode("utf-8"))
    assert size < SIZE_LIMIT_BYTES, size
    tree = parse(document)
    assert len(small_charts(tree)) == 250
    assert sum(len(columns(svg)) for svg in small_charts(tree).values()) == 3000


# -- entitlement check -----------------------------------------------------------------------------


def expected_status(fraction: float | None, warn_at: float, fail_at: float) -> str:
    if fraction is None:
        return "unknown"
    return "fail" if fraction >= fail_at else "warn" if fraction >= warn_at else "ok"


def chart_rows(tree: Node) -> list[Node]:
    return [g for g in tree.find_all("g") if "data-status" in g.attrs]


@pytest.mark.parametrize(("warn_at", "fail_at"), [(0.8, 1.0), (0.5, 0.9), (1.0, 1.0)])
def test_statuses_match_the_levels(warn_at: float, fail_at: float) -> None:
    report = check_report()
    document = check_html(report, Unit.HOURS, warn_at=warn_at, fail_at=fail_at)
    tree = parse(document)
    plain(document)
    rows = chart_rows(tree)
    limited = [r for r in report.rows if r.inner_organization_id != 9]
    # In the report's order (most used first), the one without any limit left out of the chart.
    assert [int(g.get("data-inner-organization-id")) for g in rows] == [
        r.inner_organization_id for r in limited
    ]
    for g, r in zip(rows, limited, strict=True):
        assert g.get("data-status") == expected_status(r.highest_used_fraction, warn_at, fail_at)
        words = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "unknown": "N/A"}
        assert words[g.get("data-status")] in g.text()  # not by colour alone
    failing = {
        int(g.get("data-inner-organization-id")) for g in rows if g.get("data-status") == "fail"
    }
    assert failing == {r.inner_organization_id for r in report.at_or_over(fail_at)}
    levels = {
        p.get("data-threshold"): float(p.get("data-fraction"))
        for p in tree.find_all("path")
        if "data-threshold" in p.attrs
    }
    assert levels == {"warn": warn_at, "fail": fail_at}


def test_every_fraction_is_on_the_chart_exactly() -> None:
    report = check_report()
    tree = parse(check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0))
    by_id = {r.inner_organization_id: r for r in report.rows}
    bars = 0
    for g in chart_rows(tree):
        r = by_id[int(g.get("data-inner-organization-id"))]
        expected = {
            "compute": r.compute_used_fraction,
            "gpu": r.gpu_used_fraction,
            "storage": r.storage_used_fraction,
        }
        drawn = {
            rect.get("data-kind"): float(rect.get("data-fraction")) for rect in g.find_all("rect")
        }
        assert drawn == {k: v for k, v in expected.items() if v is not None}
        bars += len(drawn)
        # each bar's colour is its own status; GPU is hatched as well
        for rect in g.find_all("rect"):
            classes = rect.get("class").split()
            assert expected_status(float(rect.get("data-fraction")), 0.8, 1.0) in classes
            assert ("gpu" in classes) == (rect.get("data-kind") == "gpu")
    assert bars == 10


def test_an_infinite_fraction_is_clipped_at_the_edge_and_labelled() -> None:
    report = check_report()
    tree = parse(check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0))
    rows = {int(g.get("data-inner-organization-id")): g for g in chart_rows(tree)}
    widths = [
        float(r.get("x")) + float(r.get("width")) for g in rows.values() for r in g.find_all("rect")
    ]
    edge = max(widths)
    (infinite,) = rows[5].find_all("rect", data_kind="compute")
    assert infinite.get("data-fraction") == "inf"
    assert float(infinite.get("x")) + float(infinite.get("width")) == edge
    assert rows[5].get("data-status") == "fail"
    assert "\u221e" in rows[5].text()
    (far,) = rows[8].find_all("rect", data_kind="compute")  # 900 %: clipped too, its value said
    assert float(far.get("x")) + float(far.get("width")) == edge
    assert "900.0 %" in rows[8].text()
    assert rows[8].find_all("path")  # the arrow marking a clipped bar
    (zero,) = rows[11].find_all("rect", data_kind="compute")  # no use of a zero limit: 0 %
    assert float(zero.get("width")) == 0
    assert rows[11].get("data-status") == "ok"


def test_percentages_never_round_up_to_a_level() -> None:
    rows = [usage(2, 3600 * 79.99, 0, compute_h=100), usage(3, 3600 * 99.999, 0, compute_h=100)]
    report = EntitlementReport.of(1, [2, 3], rows, None)
    tree = parse(check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0))
    texts = {int(g.get("data-inner-organization-id")): g.text() for g in chart_rows(tree)}
    assert "OK compute 79.9 %" in texts[2]
    assert "WARN compute 99.9 %" in texts[3]


def test_organizations_without_a_limit_are_listed_apart() -> None:
    report = check_report()
    tree = parse(check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0))
    (listing,) = tree.find_all("ul", **{"class": "nolimit"})
    assert [int(li.get("data-inner-organization-id")) for li in listing.find_all("li")] == [9]
    assert "compute 1.000 hours" in listing.text()


def test_the_check_table_has_every_exact_value() -> None:
    report = check_report()
    tree = parse(check_html(report, Unit.MINUTES, warn_at=0.8, fail_at=1.0))
    (table,) = [
        t for t in tree.find_all("table") if "entitlements" in t.find_all("caption")[0].text()
    ]
    rows = table.find_all("tbody")[0].find_all("tr")
    assert [int(tr.elements()[1].text()) for tr in rows] == [
        r.inner_organization_id for r in report.rows
    ]
    for tr, r in zip(rows, report.rows, strict=True):
        cells = [c.text() for c in tr.elements()]
        assert close_to(cells[3], r.compute, Unit.MINUTES)
        limit = r.entitlements.compute_time_per_year
        assert cells[4] == "no limit" if limit is None else close_to(cells[4], limit, Unit.MINUTES)
        fraction = r.compute_used_fraction
        if fraction is not None and math.isfinite(fraction):
            assert abs(shown_number(cells[5].removesuffix(" %")) - fraction * 100) < 0.1
    by_id = {int(tr.elements()[1].text()): [c.text() for c in tr.elements()] for tr in rows}
    assert by_id[5][5] == "\u221e (limit 0)"
    assert by_id[9][2] == "no limit"
    assert by_id[10][5] == "n/a"  # a limit, but usage unknown
    assert by_id[7][9:12] == ["950", "1,000", "95.0 %"]


def test_check_heading_names_organization_unit_and_levels() -> None:
    tree = parse(check_html(check_report(), Unit.HOURS, warn_at=0.75, fail_at=0.95))
    (h1,) = tree.find_all("h1")
    assert h1.text() == (
        "Entitlements of organization 1\u2019s inner organizations "
        "(hours; warn at 75 %, fail at 95 %)"
    )


def test_check_names_are_escaped() -> None:
    nasty = "</title><script>alert(1)</script>\"&'\u202e" + "x" * 100
    report = EntitlementReport.of(1, [2], [usage(2, 60, 0, compute_h=1, name=nasty)], None)
    document = check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0)
    tree = parse(document)
    assert not tree.find_all("script")
    (g,) = chart_rows(tree)
    assert nasty in g.find_all("title")[0].text()
    label = g.find_all("text")[0].text()
    assert label.endswith("\u2026")
    assert "\u202e" not in label


def test_check_failures_and_partial_banner() -> None:
    rows = (usage(2, 60, 0, compute_h=1),)
    errors = (
        EntitlementFailure(3, NotFoundError("Organization not found", 404)),
        EntitlementFailure(4, NotFoundError("Organization not found", 404)),
        EntitlementFailure(5, ServerError("Bad gateway", 502)),
    )
    report = EntitlementReport(1, rows, errors, (6, 7), "Ctrl-C")
    tree = parse(check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0))
    lines = [
        li.text() for li in tree.find_all("section", **{"class": "failures"})[0].find_all("li")
    ]
    assert lines == [
        "2 inner organizations (3, 4): NotFoundError 404: Organization not found",
        "inner organization 5: ServerError 502: Bad gateway",
    ]
    (banner,) = tree.find_all("p", **{"class": "banner"})
    assert banner.text() == "PARTIAL: 2 of 6 inner organizations not checked (Ctrl-C): 6, 7."


@pytest.mark.parametrize(
    "report",
    [
        EntitlementReport(1, ()),
        EntitlementReport(1, (), (EntitlementFailure(2, NotFoundError("gone", 404)),)),
        EntitlementReport(1, (usage(2, 1, 1),)),  # only organizations without a limit
    ],
    ids=["empty", "only-failures", "no-limits"],
)
def test_check_edge_cases_render(report: EntitlementReport) -> None:
    document = check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0)
    tree = parse(document)
    plain(document)
    assert chart_rows(tree) == []


@pytest.mark.parametrize(
    ("warn_at", "fail_at"), [(0, 1), (0.8, math.inf), (1.2, 1.0), (math.nan, 1.0), (True, 1.0)]
)
def test_bad_levels_are_refused(warn_at: float, fail_at: float) -> None:
    with pytest.raises(ValueError, match=r"warn_at|fail_at"):
        check_html(check_report(), Unit.HOURS, warn_at=warn_at, fail_at=fail_at)


def test_250_organizations_check_stays_small() -> None:
    rng = random.Random(2)
    rows = [
        usage(
            i,
            rng.randrange(10**7) + rng.random(),
            rng.randrange(10**6),
            compute_h=rng.choice([None, 0, 1000, 3000]),
            gpu_h=rng.choice([None, 300]),
            storage=rng.randrange(10**11),
            storage_limit=rng.choice([None, 10**11]),
            name=f"Northern Hemisphere Research Lab {i:07d}",
        )
        for i in range(2, 252)
    ]
    document = check_html(
        EntitlementReport.of(1, list(range(2, 252)), rows, None),
        Unit.HOURS,
        warn_at=0.8,
        fail_at=1.0,
    )
    assert len(document.encode()) < 400_000
    parse(document)


# -- properties ------------------------------------------------------------------------------------


def structure(tree: Node) -> list[tuple[str, tuple[str, ...]]]:
    return [(n.tag, tuple(sorted(n.attrs))) for n in tree.iter()]


def same_but_replaced(shown: str, name: str) -> bool:
    """``shown`` is ``name`` (CR as LF, as HTML reads it) with some characters as U+FFFD."""
    expected = name.replace("\r\n", "\n").replace("\r", "\n")
    return len(shown) == len(expected) and all(
        a == b or a == "\ufffd" for a, b in zip(shown, expected, strict=True)
    )


ANY_TEXT = st.text(
    st.one_of(
        st.characters(codec=None, exclude_categories=()),  # every category but surrogates
        st.characters(codec=None, categories=["Cs"]),  # lone surrogates, as JSON can carry
        st.sampled_from("\r\n\x00\x0c\x85\u202e\u2066\u200f&<>\"'\ufffe\U0010ffff"),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(name=ANY_TEXT)
@example(name="\ud800 a\r\nb\rc\x00\x1b[31m\u202e</title><script>x</script>&amp;")
@example(name=" \n\t ")
def test_any_name_stays_text(name: str) -> None:
    report = Report(1, (2,), MONTHS[0], "month", (row(2, MONTHS[0], 1, 2, name=name),), ())
    reference = parse(compute_time_html(renamed(report, "Plain"), Unit.HOURS))
    tree = parse(compute_time_html(report, Unit.HOURS))
    assert structure(tree) == structure(reference)
    (svg,) = small_charts(tree).values()
    title = svg.elements()[0].text()
    if name:
        middle = title.removeprefix("Compute time of ").removesuffix(" (2) by month, hours")
        assert same_but_replaced(middle, name)
    check = EntitlementReport.of(1, [2], [usage(2, 60, 0, compute_h=1, name=name)], None)
    tree = parse(check_html(check, Unit.HOURS, warn_at=0.8, fail_at=1.0))
    assert not tree.find_all("script")
    if name:
        (g,) = chart_rows(tree)
        text = g.find_all("title")[0].text()
        assert same_but_replaced(
            text.removesuffix(" (2): OK; compute 1.6 %, GPU no limit, storage no limit"), name
        )


def renamed(report: Report, name: str) -> Report:
    return Report(
        report.organization_id,
        report.inner_organization_ids,
        report.period,
        report.every,
        tuple(
            ComputeTime(
                r.organization_id, r.inner_organization_id, r.period, r.cpu, r.gpu, r.total, name
            )
            for r in report.rows
        ),
        report.errors,
    )


@given(st.timedeltas(min_value=timedelta(days=-(10**6)), max_value=timedelta(days=10**6)))
def test_seconds_attributes_are_exact(value: timedelta) -> None:
    assert micros(_html._seconds_attr(value)) == value // US


@given(st.floats(min_value=4e-3, max_value=1e14, allow_nan=False, allow_infinity=False))
def test_ticks_are_round_and_cover_the_data(top: float) -> None:
    # From 0.004 up: the charts never scale below four of the tables' last decimal.
    ticks = _html._ticks(top)
    assert ticks[0] == 0
    assert ticks[-1] >= top * (1 - 1e-9)
    assert 2 <= len(ticks) <= 6
    step = ticks[1]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5, 10))
    labels = _html._tick_labels(ticks)
    assert len(set(labels)) == len(labels), labels  # enough decimals to tell ticks apart
    assert all(len(label) <= 6 for label in labels), labels  # they fit the charts' margins
    for tick, label in zip(ticks, labels, strict=True):  # and say the tick's value
        factor = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(label[-1], 1)
        number = float(label.rstrip("kMGT").replace(",", "")) * factor
        assert math.isclose(number, tick, rel_tol=1e-9, abs_tol=step * 1e-6), (tick, label)


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("name", sorted(_html.COLOURS))
def test_colours_contrast_with_white(name: str) -> None:
    ratio = 1.05 / (luminance(_html.COLOURS[name]) + 0.05)
    assert ratio >= 4.5, (name, ratio)  # enough for text, and for bars beside white


# -- end to end ------------------------------------------------------------------------------------


def test_against_a_fake_studio() -> None:
    with FakeStudio(api_key="k") as studio, Client("k", base_url=studio.base_url) as client:
        listed = list(client.inner_organizations(1))[:4]
        report = client.compute_time_report(1, listed, "2024-Q1", every="month")
        check = client.entitlement_report(1)
    assert report.ok
    tree = parse(compute_time_html(report, Unit.MINUTES))
    for inner, svg in small_charts(tree).items():
        for period, cpu, gpu in columns(svg):
            assert (cpu, gpu) == studio.usage(inner, period.start, period.end)
        assert (
            svg.elements()[0]
            .text()
            .startswith(
                f"Compute time of {next(o.name for o in listed if o.id == inner)} ({inner})"
            )
        )
    tree = parse(check_html(check, Unit.HOURS, warn_at=0.8, fail_at=1.0))
    statuses = {g.get("data-status") for g in chart_rows(tree)}
    assert {"ok", "warn", "fail"} <= statuses  # the simulator's profiles cover all three


def test_server_text_in_banners_and_failures_cannot_reorder_the_page() -> None:
    # A U+202E in a stop reason or error message would reverse the rest of its line on screen.
    evil = "bad\u202e gateway\u2066\nnext line"
    compute = Report(
        1,
        (2,),
        YEAR,
        "month",
        (),
        (ReportFailure(2, MONTHS[0], ServerError(evil, 502)),),
        ((2, MONTHS[1]),),
        f"stopped: {evil}",
    )
    check = EntitlementReport(1, (), (EntitlementFailure(3, ServerError(evil, 502)),), (4,), evil)
    for document in (
        compute_time_html(compute, Unit.HOURS),
        check_html(check, Unit.HOURS, warn_at=0.8, fail_at=1.0),
    ):
        tree = parse(document)
        (banner,) = tree.find_all("p", **{"class": "banner"})
        (failures,) = tree.find_all("section", **{"class": "failures"})
        for text in (banner.text(), *(li.text() for li in failures.find_all("li"))):
            assert "bad gateway next line" in text
            assert not set(text) & {"\u202e", "\u2066", "\n"}


def test_a_listing_cut_short_is_in_the_banner_and_the_table_title() -> None:
    # A report of "all" whose listing ended early misses organizations it never reached: every
    # human-readable output says so, not only stderr.
    import io

    from ei_usage.cli import _render

    reason = "cut short: the server repeated a page"
    compute = attrs.evolve(year_report([2, 3], name=lambda i: None), listing_stop_reason=reason)
    check = EntitlementReport(1, (usage(2, 60, 0, compute_h=1),), listing_stop_reason=reason)
    for report, document in (
        (compute, compute_time_html(compute, Unit.HOURS)),
        (check, check_html(check, Unit.HOURS, warn_at=0.8, fail_at=1.0)),
    ):
        tree = parse(document)
        (banner,) = tree.find_all("p", **{"class": "banner"})
        assert f"listing of the inner organizations was {reason}" in banner.text()
        assert tree.find_all("head")[0].find_all("title")[0].text().startswith("PARTIAL: ")
        out = io.StringIO()
        if isinstance(report, Report):
            _render.report(report, Unit.HOURS, "table", out)
        else:
            _render.entitlements(report, Unit.HOURS, "table", out, warn_at=0.8, fail_at=1.0)
        title = " ".join(out.getvalue().split())
        assert f"PARTIAL: the listing of the organizations was {reason}" in title
