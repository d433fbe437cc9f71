"""Outputs safe to open: CSV cells no spreadsheet runs as formulas, text no terminal obeys.

And CSV that says when its totals are partial, names on its total rows, and the check JSON read
back by ``EntitlementReport.from_json``.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
from datetime import timedelta

import attrs
import click
import pytest

from ei_usage import (
    Client,
    ComputeTime,
    DateRange,
    EntitlementReport,
    NotFoundError,
    Report,
    Unit,
)
from ei_usage._report import ReportFailure
from ei_usage.cli import _app, _html, _render, _safe
from ei_usage.testing import FakeStudio, Fault, Operation

from .conftest import SECRET, Cli

# What a terminal or a spreadsheet must never receive from server text: C0 controls but the
# line feed that ends a line, DEL, C1 controls, bidi embeddings, overrides and isolates.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"
HOSTILE_NAMES = {
    2: '=HYPERLINK("http://evil.example","click")',
    3: "+1+cmd|' /C calc'!A0",
    4: "-2+3",
    5: "@SUM(1+1)*cmd|' /C calc'!A0",
    6: "\t=1+1",
    7: "\r=1+1",
    8: "  =1+1",
    9: "\uff1d1+1",  # full-width '='
    10: f"Acme {ESCAPES}\x00\u202eRLO\x1b[0m end",
    11: "[bold red]styled[/] \x00=1",
}


def rename(studio: FakeStudio, names: dict[int, str]) -> None:
    for inner, name in names.items():
        studio.add_organization(attrs.evolve(studio.organizations[inner], name=name))


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def assert_safe_cell(cell: str) -> None:
    assert not UNSAFE.search(cell), repr(cell)
    if cell.lstrip(" ")[:1] in ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20"):
        raise AssertionError(f"a spreadsheet would run {cell!r}")


def assert_safe_csv(text: str) -> list[dict[str, str]]:
    """Every cell of a CSV output is safe; its rows, by column."""
    rows = csv_rows(text)
    for row in rows:
        for cell in row.values():
            assert_safe_cell(cell or "")
    return rows


def assert_clean_terminal(text: str) -> None:
    assert not UNSAFE.search(text), repr(text)


# ---- CSV injection -------------------------------------------------------------------------------


def test_csv_cell_neutralizes_formulas_and_drops_controls() -> None:
    assert _safe.csv_cell("=1+1") == "'=1+1"
    assert _safe.csv_cell("+1") == "'+1"
    assert _safe.csv_cell("-1") == "'-1"
    assert _safe.csv_cell("@A1") == "'@A1"
    assert _safe.csv_cell("  =1") == "'  =1"
    assert _safe.csv_cell("\uff0b1") == "'\uff0b1"
    assert _safe.csv_cell("\t=1") == "' =1"  # tab and CR become spaces, then the '=' is seen
    assert _safe.csv_cell("\r@x") == "' @x"
    assert _safe.csv_cell("\x00=1") == "'=1"  # a control before the '=' does not hide it
    assert _safe.csv_cell(f"a{ESCAPES}\u202eb\x85c") == "a]0;pwned[2J[31mb c"
    assert _safe.csv_cell("\ud800x") == "x"  # a lone surrogate cannot be written at all
    assert _safe.csv_cell("Acme - a=b, c@d") == "Acme - a=b, c@d"  # only the start counts
    assert _safe.csv_cell("2024-05-01T00:00:00Z") == "2024-05-01T00:00:00Z"
    # Numbers are data, never formulas: a negative discrepancy stays a number.
    for value in (-1.5, -3, 0, 2.25, None, True, False):
        assert _safe.csv_cell(value) is value


def test_write_csv_keeps_numbers_and_quotes_what_it_must() -> None:
    out = io.StringIO()
    _safe.write_csv(out, ["name", "value"], [{"name": "=a,b\nc", "value": -0.5}, {"value": 3}])
    assert out.getvalue() == 'name,value\n"\'=a,b c",-0.5\n,3\n'


def test_orgs_csv_names_are_not_formulas(cli: Cli, studio: FakeStudio) -> None:
    rename(studio, HOSTILE_NAMES)
    outcome = cli.invoke("orgs", "--org", "1", "--include-deleted", "--format", "csv")
    assert outcome.code == 0, outcome.stderr
    rows = {int(r["id"]): r for r in assert_safe_csv(outcome.stdout)}
    assert rows[2]["name"] == "'" + HOSTILE_NAMES[2]
    assert rows[4]["name"] == "'-2+3"
    assert rows[6]["name"] == "' =1+1"
    assert rows[8]["name"] == "'  =1+1"
    assert rows[10]["name"] == "Acme ]0;pwned[2J[31mRLO[0m end"
    assert rows[11]["name"] == "[bold red]styled[/] =1"


def test_compute_time_csv_names_are_not_formulas(cli: Cli, studio: FakeStudio) -> None:
    rename(studio, HOSTILE_NAMES)
    outcome = cli.invoke(
        "compute-time", "--org", "1", "--all-inner-orgs", "--period", "2024-05", "--format", "csv"
    )
    assert outcome.code == 0, outcome.stderr
    rows = assert_safe_csv(outcome.stdout)
    names = {r["inner_organization_name"] for r in rows if r["inner_organization_id"] == "3"}
    assert names == {"'" + HOSTILE_NAMES[3]}


def test_check_csv_names_are_not_formulas(cli: Cli, studio: FakeStudio) -> None:
    rename(studio, HOSTILE_NAMES)
    outcome = cli.invoke("check", "--org", "1", "--format", "csv")
    assert outcome.code in (0, 4, 5), outcome.stderr
    rows = {int(r["inner_organization_id"]): r for r in assert_safe_csv(outcome.stdout)}
    assert rows[5]["inner_organization_name"] == "'" + HOSTILE_NAMES[5]


# ---- terminal escapes ----------------------------------------------------------------------------


def test_terminal_replaces_controls_and_breaks() -> None:
    assert _safe.terminal(f"a{ESCAPES}b") == "a\ufffd]0;pwned\ufffd\ufffd[2J\ufffd[31mb"
    assert _safe.terminal("one\ntwo\r\nthree\tfour") == "one two  three four"
    assert _safe.terminal("\u202eevil\u2066 \ud800") == "\ufffdevil\ufffd \ufffd"
    assert _safe.terminal("Caf\u00e9 \u200f\u05d0") == "Caf\u00e9 \u200f\u05d0"  # marks stay
    assert _safe.markup("[bold]x\x1b") == "\\[bold]x\ufffd"
    assert _safe.lines("Usage: x\nError: \x1b[2Jbad") == "Usage: x\nError: \ufffd[2Jbad"


def test_error_line_carries_no_terminal_escapes(cli: Cli, studio: FakeStudio) -> None:
    body = json.dumps({"success": False, "error": f"gone {ESCAPES}\nei-usage: forged line"})
    studio.inject(Fault.response(404, body))
    outcome = cli.invoke("metrics", "--org", "1")
    assert outcome.code == 1
    assert_clean_terminal(outcome.stderr)
    (line,) = outcome.stderr_lines  # the newline did not forge a second line
    assert line.startswith("ei-usage: error: ")
    assert "gone \ufffd]0;pwned\ufffd" in line


def test_failure_summaries_carry_no_terminal_escapes(
    cli: Cli, studio: FakeStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        importlib.import_module("ei_usage._client"), "_sleep", lambda seconds, stop=None: None
    )
    message = f"down {ESCAPES}"
    studio.inject(
        Fault.server_error(501, message=message), operation=Operation.COMPUTE_TIME, times=2
    )
    outcome = cli.invoke(
        "compute-time", "--org", "1", "--inner-org", "2", "--inner-org", "3", "--period", "2024-05"
    )
    assert outcome.code == 1
    assert_clean_terminal(outcome.stderr)
    assert_clean_terminal(outcome.stdout)
    assert "ServerError 501: down \ufffd]0;pwned" in outcome.stderr

    # --verbose logs the retries of a 503 with the server's text: clean too.
    studio.inject(Fault.server_error(503, message=message), operation=Operation.COMPUTE_TIME)
    outcome = cli.invoke(
        "compute-time", "--org", "1", "--inner-org", "2", "--period", "2024-05", "--verbose"
    )
    assert outcome.code == 0, outcome.stderr
    assert "retry 1/3" in outcome.stderr
    assert_clean_terminal(outcome.stderr)


def test_listing_failure_line_carries_no_terminal_escapes(cli: Cli, studio: FakeStudio) -> None:
    studio.inject(
        Fault.server_error(501, message=f"no list {ESCAPES}"), operation=Operation.ORGANIZATIONS
    )
    outcome = cli.invoke("compute-time", "--org", "1", "--inner-org", "2", "--period", "2024-05")
    assert outcome.code == 0
    assert "names not shown" in outcome.stderr
    assert_clean_terminal(outcome.stderr)


def test_check_failures_carry_no_terminal_escapes(cli: Cli, studio: FakeStudio) -> None:
    studio.inject(
        Fault.server_error(501, message=f"no info {ESCAPES}"),
        operation=Operation.ORGANIZATION_INFO,
    )
    outcome = cli.invoke("check", "--org", "1", "--concurrency", "1")
    assert "organizations not read" in outcome.stderr
    assert_clean_terminal(outcome.stderr)


def test_table_names_are_text_not_markup_or_escapes(cli: Cli, studio: FakeStudio) -> None:
    rename(studio, HOSTILE_NAMES)
    for args in (
        ("orgs", "--org", "1"),
        ("check", "--org", "1"),
        ("compute-time", "--org", "1", "--inner-org", "11", "--period", "2024-05"),
    ):
        outcome = cli.invoke(*args)
        assert_clean_terminal(outcome.stdout)
        assert "[bold red]styled" in outcome.stdout, args


def report_of(stop_reason: str, name: str = "n") -> Report:
    period = DateRange.month(2024, 5)
    row = ComputeTime(1, 2, period, timedelta(seconds=60), timedelta(0), timedelta(minutes=1), name)
    return Report(
        organization_id=1,
        inner_organization_ids=(2, 3, 4),
        period=period,
        every="month",
        rows=(row,),
        errors=(ReportFailure(3, period, NotFoundError(f"gone {ESCAPES}", 404, None)),),
        not_attempted=((4, period),),
        stop_reason=stop_reason,
    )


def test_table_title_shows_the_stop_reason_as_text() -> None:
    out = io.StringIO()
    _render.report(report_of(f"[bold]stopped[/] {ESCAPES}"), Unit.MINUTES, "table", out)
    assert "[bold]stopped[/]" in " ".join(out.getvalue().split())
    assert_clean_terminal(out.getvalue())
    err = io.StringIO()
    _render.failures(report_of(f"stopped {ESCAPES}"), err)
    assert_clean_terminal(err.getvalue())


def test_html_drops_controls_from_names_errors_and_reasons() -> None:
    # The HTML writer cleans its own text (U+FFFD); checked here with the same hostile texts.
    # (Bidi controls stay in <title>s on purpose, the full name exactly; shown names drop them.)
    page = _html.compute_time_html(
        report_of(f"stopped {ESCAPES}", name=f"<b>{ESCAPES}"), Unit.MINUTES
    )
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", page)
    assert "<b>" not in page
    assert "gone \ufffd]0;pwned" in page


def test_usage_errors_of_click_carry_no_terminal_escapes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # click quotes what was typed with repr() today; whatever a usage error says is cleaned
    # anyway, its lines kept.
    def refuse(**_: object) -> None:
        raise click.UsageError(f"bad value {ESCAPES}\u202e")

    monkeypatch.setattr(_app.cli, "main", refuse)
    assert _app.run(["metrics"]) == 2
    err = capsys.readouterr().err
    assert_clean_terminal(err)
    assert err.startswith("Error: bad value \ufffd]0;pwned\ufffd")
    assert err.endswith("\n")


# ---- partial CSV and names on totals -------------------------------------------------------------


def test_csv_marks_partial_totals_and_names_total_rows(
    cli: Cli, studio: FakeStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio.inject(Fault.server_error(501), operation=Operation.COMPUTE_TIME)
    outcome = cli.invoke(
        "compute-time",
        *("--org", "1", "--inner-org", "2", "--inner-org", "3", "--period", "2024-Q2"),
        *("--concurrency", "1", "--format", "csv"),
    )
    assert outcome.code == 1
    rows = csv_rows(outcome.stdout)
    totals = {r["inner_organization_id"]: r for r in rows if r["kind"] == "total"}
    (overall,) = [r for r in rows if r["kind"] == "overall"]
    # Organization 2's first month failed: its total and the overall one are partial.
    assert totals["2"]["complete"] == "False"
    assert totals["3"]["complete"] == "True"
    assert overall["complete"] == "False"
    assert {r["complete"] for r in rows if r["kind"] == "usage"} == {""}
    for inner in ("2", "3"):
        assert totals[inner]["inner_organization_name"] == studio.organizations[int(inner)].name

    complete = cli.invoke(
        "compute-time", "--org", "1", "--inner-org", "2", "--period", "2024-Q2", "--format", "csv"
    )
    assert complete.code == 0
    assert {r["complete"] for r in csv_rows(complete.stdout) if r["kind"] != "usage"} == {"True"}


def test_csv_after_ctrl_c_marks_the_overall_total_partial() -> None:
    # A report cut short (Ctrl-C, a dead server) lists what it did not do in not_attempted.
    out = io.StringIO()
    report = attrs.evolve(report_of("interrupted"), errors=())
    _render.report(report, Unit.MINUTES, "csv", out)
    rows = csv_rows(out.getvalue())
    assert [(r["kind"], r["complete"]) for r in rows] == [
        ("usage", ""),
        ("total", "True"),  # organization 2 has every row; 4 has none, so no total of its own
        ("overall", "False"),
    ]
    assert rows[1]["inner_organization_name"] == "n"


# ---- the check JSON reads back -------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["seconds", "minutes"])
def test_check_json_reads_back_with_from_json(cli: Cli, studio: FakeStudio, unit: str) -> None:
    studio.inject(Fault.server_error(501, message="broken"), operation=Operation.ORGANIZATION_INFO)
    outcome = cli.invoke("check", "--org", "1", "--format", "json", "--unit", unit)
    back = EntitlementReport.from_json(outcome.stdout)
    data = json.loads(outcome.stdout)
    assert [r.inner_organization_id for r in back.rows] == [
        r["inner_organization_id"] for r in data["rows"]
    ]
    (failure,) = back.errors
    assert failure.error.message == "broken"
    assert back.to_dict(unit)["rows"] == [
        {k: v for k, v in row.items() if k != "status"} for row in data["rows"]
    ]
    if unit == "seconds":
        with Client(SECRET, base_url=studio.base_url) as client:
            direct = client.entitlement_report(1)
        by_id = {r.inner_organization_id: r for r in direct.rows}
        for row in back.rows:
            assert row == by_id[row.inner_organization_id]


def test_entitlement_json_is_not_a_report() -> None:
    text = EntitlementReport(1, ()).to_json()
    with pytest.raises(ValueError, match="not an ei-usage report: unknown format"):
        Report.from_json(text)
    with pytest.raises(ValueError, match="not an ei-usage entitlement check: unknown format"):
        EntitlementReport.from_json(report_of("x").to_json())
