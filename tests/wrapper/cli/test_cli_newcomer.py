"""Issue 17's newcomer frictions: tables at ordinary widths, help, options and messages.

The tables are read back cell by cell, from a box table (headers may wrap over lines) or from the
stacked ``Header: value`` layout used when no table fits, and every number is compared whole with
the value of the same command's JSON output (which other tests compare with the studio).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from ei_usage import Report
from ei_usage.cli import _app
from ei_usage.testing import FakeStudio

from .conftest import SECRET, Cli, Outcome, check_outcome, clean_environ

WIDTHS = [60, 80, 100, 120, None]  # None: a pipe (no COLUMNS, not a terminal)
ELLIPSIS = "\u2026"
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78])")
README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.fixture(scope="module")
def big() -> Iterator[Cli]:
    with FakeStudio(api_key=SECRET, inner_organizations=250) as studio:
        yield Cli(studio)


def run(cli: Cli, width: int | None, *args: str) -> Outcome:
    return cli.invoke(*args, env={"COLUMNS": str(width)} if width else None)


# ---- reading a table back ------------------------------------------------------------------------


def records(text: str, key: str | None = None) -> list[dict[str, str]]:
    """Return the body rows of a printed table as ``{header: cell}``, whatever its layout.

    A box table's header may wrap over several lines (joined with spaces); a row whose ``key``
    cell is empty continues the row above (wrapped text). Stacked rows are blocks of
    ``Header: value`` lines between the title block and the caption block.
    """
    lines = text.splitlines()
    if any(line.startswith("┏") for line in lines):
        header_lines = [line.split("┃")[1:-1] for line in lines if line.startswith("┃")]
        headers = [
            " ".join(part.strip() for part in column if part.strip())
            for column in zip(*header_lines, strict=True)
        ]
        key_index = headers.index(key) if key else 0
        rows: list[dict[str, str]] = []
        for line in lines:
            if not line.startswith("│"):
                continue
            cells = [cell.strip() for cell in line.split("│")[1:-1]]
            assert len(cells) == len(headers), line
            if cells[key_index] or not rows:
                rows.append(dict(zip(headers, cells, strict=True)))
            else:  # a wrapped row goes on
                for header, cell in zip(headers, cells, strict=True):
                    if cell:
                        rows[-1][header] = f"{rows[-1][header]} {cell}".strip()
        return rows
    blocks = [block.splitlines() for block in text.strip("\n").split("\n\n")]
    assert len(blocks) >= 3, text  # title, rows, caption
    out = []
    for block in blocks[1:-1]:
        record = {}
        for line in block:
            header, sep, value = line.strip().partition(": ")
            assert sep, f"not a Header: value line: {line!r}"
            record[header] = value
        out.append(record)
    return out


def check_lines(text: str, width: int | None) -> None:
    """Every line fits the width; a pipe gets no padding to some width."""
    for line in text.splitlines():
        if width is not None:
            assert cell_len(line) <= width, f"{cell_len(line)} > {width}: {line!r}"
        else:
            assert line == line.rstrip(), f"padded: {line!r}"
    if width is None:
        assert not any(line.startswith("┃ ") and ELLIPSIS in line for line in text.splitlines())


def whole(record: dict[str, str], want: dict[str, str]) -> None:
    """Every wanted cell is there and whole; a name may only be cut at its end, with '…'."""
    for header, value in want.items():
        assert header in record, (header, record)
        assert record[header] == value, (header, record[header], value)


def name_ok(record: dict[str, str], name: str | None, piped: bool) -> None:
    shown = record.get("Name")
    if shown is None or not name:
        return
    if piped or not shown.endswith(ELLIPSIS):
        assert shown == name
    else:
        assert name.startswith(shown[:-1].rstrip())


def no_ellipsis_but_names(record: dict[str, str]) -> None:
    for header, cell in record.items():
        if header != "Name":
            assert ELLIPSIS not in cell, (header, cell)


def minutes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def percent(fraction: float | None) -> str:
    if fraction is None:
        return "-"
    return "inf" if math.isinf(fraction) else f"{fraction:.1%}"


# ---- item 1: every number whole at every width ---------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_check_table_keeps_every_number_whole(big: Cli, width: int | None) -> None:
    data = json.loads(big.invoke("check", "--org", "1", "--format", "json").stdout)
    outcome = run(big, width, "check", "--org", "1")
    assert outcome.code == 5
    check_lines(outcome.stdout, width)
    got = {r["Inner org"]: r for r in records(outcome.stdout)}
    assert len(got) == len(data["rows"]) > 200
    for row in data["rows"]:
        record = got[str(row["inner_organization_id"])]
        limit = row["entitlements"]["compute_time_per_year"]
        whole(
            record,
            {
                "Status": row["status"],
                "Compute (minutes)": minutes(row["compute"]),
                "Limit (minutes)": "unlimited" if limit is None else minutes(limit),
                "GPU": percent(row["gpu_used_fraction"]),
                "Storage": percent(row["storage_used_fraction"]),
            },
        )
        used = row["compute_used_fraction"]
        cell = record.get("Compute used", "")
        if used is None:
            assert cell in ("", "-")
        else:
            bar = "inf" if math.isinf(used) else f"{used:.0%}"
            assert cell == percent(used) or (cell.endswith(f" {bar}") and "█" in cell), cell
        name_ok(record, row["inner_organization_name"], width is None)
        no_ellipsis_but_names(record)


@pytest.mark.parametrize("width", WIDTHS)
def test_orgs_table_keeps_every_number_whole(big: Cli, width: int | None) -> None:
    data = json.loads(big.invoke("orgs", "--org", "1", "--format", "json").stdout)
    outcome = run(big, width, "orgs", "--org", "1")
    assert outcome.code == 0
    check_lines(outcome.stdout, width)
    got = {r["Id"]: r for r in records(outcome.stdout)}
    assert len(got) == len(data["organizations"]) > 200
    for item in data["organizations"]:
        record = got[str(item["id"])]
        limits = item["entitlements"]

        def count(value: int | None) -> str:
            return "unlimited" if value is None else f"{value:,}"

        def yearly(value: float | None) -> str:
            return "unlimited" if value is None else minutes(value)

        whole(
            record,
            {
                "Compute/yr (minutes)": yearly(limits["compute_time_per_year"]),
                "GPU/yr (minutes)": yearly(limits["gpu_compute_time_per_year"]),
                "Projects": count(limits["projects"]),
                "Users": count(limits["users"]),
            },
        )
        storage = limits["storage_bytes"]
        cell = record["Storage (bytes)"]
        if storage is None:
            assert cell == "unlimited"
        else:
            assert cell == f"{storage:,}" or cell.startswith(f"{storage:,} bytes ("), cell
        if "Created" in record:
            assert record["Created"] == item["created"][:10]
        if width is None:
            assert {"Name", "Created", "Billable"} <= set(record)
        name_ok(record, item["name"], width is None)
        no_ellipsis_but_names(record)


@pytest.fixture(scope="module")
def quarter(big: Cli) -> Report:
    outcome = big.invoke(
        "compute-time", "--org", "1", "--all-inner-orgs", "--period", "2024-Q2", "--format", "json"
    )
    assert outcome.code == 0, outcome.stderr
    return Report.from_json(outcome.stdout)


def _in_minutes(value: timedelta | None) -> str:
    return minutes(None if value is None else value / timedelta(minutes=1))


@pytest.mark.parametrize("width", WIDTHS)
def test_compute_time_table_keeps_every_number_whole(
    big: Cli, quarter: Report, width: int | None
) -> None:
    outcome = run(
        big, width, "compute-time", "--org", "1", "--all-inner-orgs", "--period", "2024-Q2"
    )
    assert outcome.code == 0, outcome.stderr
    check_lines(outcome.stdout, width)
    # A deleted organization's id is marked with "*".
    got = {(r["Inner org"].rstrip("*"), r["Period"]): r for r in records(outcome.stdout)}
    names = {r.inner_organization_id: r.inner_organization_name for r in quarter.rows}
    gone = {r.inner_organization_id for r in quarter.rows if r.inner_organization_deleted}
    assert gone, "the 250-organization white label has deleted organizations"
    want: dict[tuple[str, str], Any] = {
        (str(r.inner_organization_id), str(r.period)): r for r in quarter.rows
    }
    for inner, totals in quarter.totals_by_organization().items():
        want[str(inner), "total"] = totals
    want["all", str(quarter.period)] = quarter.total()
    assert set(got) == set(want)
    assert len(quarter.rows) == 750
    for where, expected in want.items():
        record = got[where]
        whole(
            record,
            {
                "CPU (minutes)": _in_minutes(expected.cpu),
                "GPU (minutes)": _in_minutes(expected.gpu),
                "Total (minutes)": _in_minutes(expected.total),
                "Total - (CPU+GPU) (minutes)": _in_minutes(expected.discrepancy),
            },
        )
        if where[0] != "all":
            name_ok(record, names.get(int(where[0])), width is None)
            # The mark is on the id, so it stays when names are left out.
            assert record["Inner org"].endswith("*") == (int(where[0]) in gone), record
        no_ellipsis_but_names(record)


@pytest.mark.parametrize("width", WIDTHS)
def test_metrics_table_keeps_every_number_whole(big: Cli, width: int | None) -> None:
    data = json.loads(big.invoke("metrics", "--org", "1", "--format", "json").stdout)
    outcome = run(big, width, "metrics", "--org", "1")
    assert outcome.code == 0
    check_lines(outcome.stdout, width)
    got = {r["Metric"]: r for r in records(outcome.stdout, key="Value")}
    for metric, name in [
        ("Total jobs compute time", "total_jobs_compute_time"),
        ("Compute time, current contract", "jobs_compute_time_current_year"),
        ("CPU compute time, current contract", "cpu_compute_time_current_contract"),
        ("GPU compute time, current contract", "gpu_compute_time_current_contract"),
    ]:
        whole(got[metric], {"Value": minutes(data[name]), "Unit": "minutes"})
    assert got["Storage"]["Value"].startswith(f"{data['total_storage_bytes']:,} bytes")
    whole(got["Projects"], {"Value": f"{data['project_count']:,}", "Unit": "count"})
    whole(got["Users"], {"Value": f"{data['user_count']:,}", "Unit": "count"})
    for record in got.values():
        no_ellipsis_but_names(record)


def test_narrow_tables_say_which_columns_they_leave_out(big: Cli) -> None:
    text = " ".join(run(big, 80, "check", "--org", "1").stdout.split())
    assert "Not shown at this width: Name" in text
    assert "Not shown" not in run(big, 120, "check", "--org", "1").stdout


def test_piped_rows_are_one_line_each_and_as_wide_as_their_content(big: Cli) -> None:
    text = big.invoke("check", "--org", "1").stdout
    lines = text.splitlines()
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == 225  # 250, less the deleted ones: one line each
    header = [line for line in lines if line.startswith("┃")]
    assert len(header) == 1  # no header wrapped either
    rows = [line.split("│")[1:-1] for line in body] + [header[0].split("┃")[1:-1]]
    for column in zip(*rows, strict=True):
        # Some cell fills its column: no column is padded beyond its content.
        assert max(len(cell.strip()) for cell in column) + 2 == len(column[0]), column[0]


def test_a_real_terminal_of_80_columns_gets_whole_numbers(big: Cli) -> None:
    """stdout on a pseudo-terminal, COLUMNS unset: rich asks the terminal for its width."""
    env = clean_environ()
    env.update({k: v for k, v in big.env().items() if v is not None})
    env["TERM"] = "xterm-256color"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 80, 0, 0))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "ei_usage.cli", "check", "--org", "1"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)  # the child holds its own copy; EOF comes when it exits
    try:
        chunks = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    text = ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")
    outcome = Outcome(process.returncode, text, stderr.decode())
    check_outcome(outcome, big.env())
    assert outcome.code == 5
    check_lines(text, 80)
    got = records(text)
    assert len(got) == 225
    data = json.loads(big.invoke("check", "--org", "1", "--format", "json").stdout)
    for row, record in zip(data["rows"], got, strict=True):
        assert record["Inner org"] == str(row["inner_organization_id"])
        assert record["Compute (minutes)"] == minutes(row["compute"])


# ---- items 2 to 8: options, help and messages ----------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_before_or_after_the_command(cli: Cli, where: str) -> None:
    command = ["metrics", "--org", "1"]
    args = ["--verbose", *command] if where == "before" else [*command, "--verbose"]
    outcome = cli.invoke(*args)
    assert outcome.code == 0, outcome.stderr
    assert any("200" in line for line in outcome.stderr_lines), outcome.stderr
    assert cli.invoke(*command).stderr == ""  # and quiet without it


@pytest.mark.parametrize(
    "command",
    [
        ["orgs", "--format", "json"],
        ["check", "--format", "json"],
        ["metrics", "--format", "json"],
        ["compute-time", "--inner-org", "2", "--period", "2024-05", "--format", "json"],
    ],
)
def test_ei_org_id_gives_the_organization(cli: Cli, studio: FakeStudio, command: list[str]) -> None:
    outcome = cli.invoke(*command, env={"EI_ORG_ID": "1"})
    assert outcome.code in (0, 5), outcome.stderr
    assert json.loads(outcome.stdout)["organization_id"] == 1
    assert all("/organizations/1/" in r.path for r in studio.requests)


def test_org_option_wins_over_ei_org_id(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke("metrics", "--org", "1", "--format", "json", env={"EI_ORG_ID": "3"})
    assert outcome.code == 0, outcome.stderr
    assert [r.path for r in studio.requests] == ["/v1/api/organizations/1/metrics"]
    assert cli.invoke("metrics", env={"EI_ORG_ID": "abc"}).code == 2
    missing = cli.invoke("metrics")
    assert missing.code == 2
    assert "EI_ORG_ID" in missing.stderr or "--org" in missing.stderr


def test_main_help_lists_exit_codes_and_shell_completion(cli: Cli) -> None:
    outcome = cli.invoke("--help")
    assert outcome.code == 0
    text = outcome.stdout
    exits = text[text.index("Exit codes:") :]
    for code in ("0", "1", "2", "3", "4", "5", "130", "141"):
        assert re.search(rf"^\s+{code}\s+\S", exits, re.MULTILINE), code
    for shell in ("bash", "zsh", "fish"):
        assert f"_EI_USAGE_COMPLETE={shell}_source ei-usage" in text
    assert "EI_ORG_ID" in text
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("## The command line") :]
    section = section[: section.index("\n## ", 1)]
    assert "_EI_USAGE_COMPLETE=bash_source ei-usage" in section
    assert "EI_ORG_ID" in section


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o"), ("zsh", "#compdef ei-usage"), ("fish", "complete --no-files")],
)
def test_shell_completion_source_is_produced(
    shell: str, marker: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_EI_USAGE_COMPLETE", f"{shell}_source")
    with pytest.raises(SystemExit) as exit_info:
        _app.run([])
    assert exit_info.value.code == 0
    source = capsys.readouterr().out
    assert marker in source
    assert "_EI_USAGE_COMPLETE" in source


def test_shell_completion_completes_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_EI_USAGE_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "ei-usage ch")
    monkeypatch.setenv("COMP_CWORD", "1")
    with pytest.raises(SystemExit):
        _app.run([])
    assert capsys.readouterr().out.split() == ["plain,check"]


def test_insecure_url_error_names_the_cli_flag(cli: Cli) -> None:
    outcome = cli.invoke("metrics", "--org", "1", env={"EI_BASE_URL": "http://usage.internal/v1"})
    assert outcome.code == 2
    assert "--allow-insecure-http" in outcome.stderr
    assert "EI_ALLOW_INSECURE_HTTP=1" in outcome.stderr
    assert "allow_insecure_http=True" not in outcome.stderr
    assert len(outcome.stderr_lines) == 1


def test_failing_check_says_why_on_stderr(cli: Cli) -> None:
    outcome = cli.invoke("check", "--org", "1")
    assert outcome.code == 5
    data = json.loads(cli.invoke("check", "--org", "1", "--format", "json").stdout)
    statuses = [row["status"] for row in data["rows"]]
    over, warn = statuses.count("over"), statuses.count("warn")
    assert over
    assert warn
    assert outcome.stderr_lines == [
        f"ei-usage: check failed (exit 5): {over} of {len(statuses)} inner organizations at or "
        f"over --fail-at (100%), {warn} more at or over --warn-at (80%)"
    ]


def test_warning_check_says_why_on_stderr(cli: Cli) -> None:
    outcome = cli.invoke("check", "--org", "1", "--warn-at", "80", "--fail-at", "100000")
    assert outcome.code == 4
    (line,) = outcome.stderr_lines
    assert line.startswith("ei-usage: check warning (exit 4): ")
    assert "at or over --warn-at (80%)" in line


def test_passing_check_prints_nothing_on_stderr(cli: Cli) -> None:
    outcome = cli.invoke("check", "--org", "1", "--warn-at", "100000", "--fail-at", "100000")
    assert outcome.code == 0
    assert outcome.stderr == ""
