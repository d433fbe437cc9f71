"""Issue 17's HTML frictions: the check legend, its colours, the wide table, aligned small charts.

Structure only (no browser): the legend's keys carry the chart bars' own classes, the CSS keeps
headings and summaries of the small charts to fixed lines, and the check table wraps its names
and headers. Helpers come from test_html (strict parser, report builders).
"""

from __future__ import annotations

import re

from ei_usage import Unit
from ei_usage.cli import _html
from ei_usage.cli._html import check_html, compute_time_html

from .test_html import Node, check_report, parse, small_charts, usage, year_report


def css_rule(document: str, selector: str) -> str:
    """Return the declarations of the CSS rules whose selector lists contain ``selector``."""
    style = document[document.index("<style>") : document.index("</style>")]
    bodies = [
        str(body)
        for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", style)
        if selector in [s.strip() for s in selectors.split(",")]
    ]
    assert bodies, f"no CSS rule for {selector}"
    return ";".join(bodies)


def legend(tree: Node) -> Node:
    (section,) = [s for s in tree.find_all("section") if "Against entitlements" in s.text()]
    return section


def test_check_legend_explains_every_bar_including_storage() -> None:
    tree = parse(check_html(check_report(), Unit.HOURS, warn_at=0.8, fail_at=1.0))
    items = [li.text() for ul in legend(tree).find_all("ul") for li in ul.find_all("li")]
    text = " ".join(items)
    assert "thin bar: storage against the storage limit" in text
    assert "hatched bar: GPU" in text
    assert "thick bar: compute (CPU + GPU)" in text
    assert "OK: under 80 %" in text
    assert "FAIL: at or over 100 %" in text


def test_check_legend_keys_use_the_bars_own_classes_and_heights() -> None:
    report = check_report()
    tree = parse(check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0))
    keys = {svg.get("data-kind"): svg for svg in legend(tree).find_all("svg", **{"class": "key"})}
    assert set(keys) == {"compute", "gpu", "storage"}
    bars = [r for r in tree.find_all("rect") if "data-kind" in r.attrs]
    assert bars
    for kind, key in keys.items():
        key_classes = {r.get("class") for r in key.find_all("rect")}
        drawn = {r.get("class") for r in bars if r.get("data-kind") == kind}
        # every bar of this kind has a colour (class) the legend shows for the same kind
        assert drawn <= key_classes, (kind, drawn, key_classes)
        heights = {r.get("height") for r in key.find_all("rect")}
        assert heights == {r.get("height") for r in bars if r.get("data-kind") == kind}
    # GPU: hatched in every status colour, as the bars are (not one colour for all GPU bars)
    assert {r.get("class") for r in keys["gpu"].find_all("rect")} == {
        "gpu ok",
        "gpu warn",
        "gpu fail",
    }
    # and the status swatches are the solid bars' classes
    swatches = {
        r.get("class")
        for ul in legend(tree).find_all("ul")
        for svg in ul.find_all("svg")
        if svg.attrs.get("class") != "key"
        for r in svg.find_all("rect")
    }
    assert swatches == {"ok", "warn", "fail"}
    document = check_html(report, Unit.HOURS, warn_at=0.8, fail_at=1.0)
    for status in ("ok", "warn", "fail"):
        assert css_rule(document, f".{status}") == f"fill:var(--{status})"
        assert css_rule(document, f".gpu.{status}") == f"fill:url(#ei-gpu-{status})"
        assert f'<pattern id="ei-gpu-{status}"' in document
        assert f'fill="{_html.COLOURS[status]}"' in document


def test_check_table_wraps_names_and_headers_to_fit_a_1400_px_window() -> None:
    long = "Northern Hemisphere Research Laboratory of Applied Edge Sensing"
    report = check_report()
    others = [r for r in report.rows if r.inner_organization_id != 2]
    rows = [usage(2, 3600, 0, compute_h=100, name=long), *others]
    document = check_html(
        type(report).of(1, [r.inner_organization_id for r in rows], rows, None),
        Unit.HOURS,
        warn_at=0.8,
        fail_at=1.0,
    )
    tree = parse(document)
    (table,) = tree.find_all("table", **{"class": "check"})
    assert long[:30] in table.text()
    (tr,) = table.find_all("tr", data_inner_organization_id="2")
    assert tr.find_all("th")[0].get("title") == f"{long} (2)"  # cut for display, titled in full
    names = css_rule(document, "table.check th[scope=row]")
    assert "white-space:normal" in names
    assert "max-width:13rem" in names
    assert "white-space:normal" in css_rule(document, "table.check thead th")
    assert "font-size:.8rem" in css_rule(document, "table.check")


def test_small_charts_have_one_heading_line_and_two_summary_lines() -> None:
    long = "Northern Hemisphere Research Laboratory of Applied Edge Sensing"
    report = year_report([2, 3, 4], name=lambda i: long if i == 3 else f"Cedar {i}")
    document = compute_time_html(report, Unit.MINUTES)
    tree = parse(document)
    assert len(small_charts(tree)) == 3
    orgs = [div for div in tree.find_all("div") if div.attrs.get("class") == "org"]
    assert len(orgs) == 3
    for div in orgs:
        (h3,) = div.find_all("h3")
        (p,) = div.find_all("p")
        assert h3.get("title").endswith(")")
        assert len(p.find_all("br")) == 1  # always two lines
    titles = [div.find_all("h3")[0].get("title") for div in orgs]
    assert f"{long} (3)" in titles  # the full name, though the heading is cut
    assert "white-space:nowrap" in css_rule(document, ".org h3")
    # the name gives way (ellipsis); the id after it stays whole
    assert "text-overflow:ellipsis" in css_rule(document, ".org h3 bdi")
    assert "flex:none" in css_rule(document, ".org h3 span")
    assert all(re.fullmatch(r"\u00a0\(\d+\)", div.find_all("span")[0].text()) for div in orgs)
    assert "white-space:nowrap" in css_rule(document, ".org p")
