"""The ``ei-usage`` command line, run against a FakeStudio.

Every run, in process or in a subprocess, is also checked for a leaked credential and for a Python
traceback (see conftest.py). Expected numbers come from ``studio.usage`` (exact integer
microseconds) and ``studio.metrics_body``, never from the client under test.
"""

from __future__ import annotations

import csv
import importlib
import io
import itertools
import json
import math
import re
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from ei_usage.testing import Credential, FakeStudio, Fault, Operation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .conftest import Cli, Outcome, Running

US_PER_UNIT = {"seconds": 1_000_000, "minutes": 60_000_000, "hours": 3_600_000_000}
SECONDS_PER_UNIT = {"seconds": 1, "minutes": 60, "hours": 3600}
DECIMALS = {"seconds": 1, "minutes": 2, "hours": 3}
BOX_START = "┏┃┡│├└"
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78])")
Q2 = [
    (datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC)),
    (datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)),
    (datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)),
]


# -- helpers --------------------------------------------------------------------------------------


def inner(*ids: int) -> list[str]:
    args: list[str] = []
    for value in ids:
        args += ["--inner-org", str(value)]
    return args


def compute(*ids: int, period: str, org: str = "1", **options: str) -> list[str]:
    """``compute-time`` arguments; ``format="csv"`` stands for ``--format csv``."""
    args = ["compute-time", "--org", org, *inner(*ids), "--period", period]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    return args


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def close(actual: float | str | None, expected: float) -> bool:
    assert actual is not None
    return math.isclose(float(actual), expected, rel_tol=1e-9)


def expected(
    studio: FakeStudio, inner_id: int, start: datetime, end: datetime, unit: str
) -> dict[str, float]:
    cpu, gpu = studio.usage(inner_id, start, end)
    return {
        "cpu": cpu / US_PER_UNIT[unit],
        "gpu": gpu / US_PER_UNIT[unit],
        "total": (cpu + gpu) / US_PER_UNIT[unit],
    }


def expected_row(studio: FakeStudio, row: dict[str, Any], unit: str) -> dict[str, float]:
    """The usage a CSV or JSON row should show, from its own organization and period."""
    org = int(row["inner_organization_id"])
    return expected(studio, org, when(row["start"]), when(row["end"]), unit)


def check_usage(row: dict[str, Any], want: dict[str, float]) -> None:
    for name in ("cpu", "gpu", "total"):
        assert close(row[name], want[name]), (name, row[name], want[name])
    assert abs(float(row["discrepancy"])) <= 1e-9 * max(want["total"], 1.0)


def read_csv(text: str, kind: str = "usage") -> list[dict[str, str]]:
    """The rows of a CSV output of one kind (a report's CSV also holds totals rows)."""
    return [r for r in csv.DictReader(io.StringIO(text)) if r.get("kind", "usage") == kind]


def box_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in BOX_START]


def body_rows(text: str) -> list[list[str]]:
    """The cells of the table's body rows (not the header)."""
    lines = box_lines(text)
    assert lines, f"no table in:\n{text}"
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line[0] == "│"]


def header_cells(text: str) -> list[str]:
    header = next(line for line in box_lines(text) if line[0] == "┃")
    return [cell.strip() for cell in header.split("┃")[1:-1]]


def assert_aligned(text: str) -> None:
    lines = box_lines(text)
    assert len(lines) >= 4, text
    widths = {len(line) for line in lines}
    assert len(widths) == 1, f"table lines of different widths {sorted(widths)}:\n{text}"
    assert lines[0][0] == "┏"
    assert lines[-1][0] == "└"


def number(value: float, unit: str) -> str:
    return f"{value:,.{DECIMALS[unit]}f}"


def normalized(text: str) -> str:
    return " ".join(text.split())


CT = Operation.COMPUTE_TIME


def compute_requests(studio: FakeStudio) -> list[Any]:
    """The compute-time requests (the command also lists the white label, for names)."""
    return [request for request in studio.requests if request.operation is CT]


def requested_inner_ids(studio: FakeStudio) -> list[int]:
    return [int(request.path.split("/")[7]) for request in compute_requests(studio)]


def name_of(studio: FakeStudio, org: int) -> str:
    return studio.organizations[org].name


def one_error_line(outcome: Outcome, *words: str) -> str:
    lines: list[str] = outcome.stderr_lines
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("ei-usage: error: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries wait for nothing: the delays the client asked for are recorded instead."""
    recorded: list[float] = []
    monkeypatch.setattr(
        importlib.import_module("ei_usage._client"),
        "_sleep",
        lambda seconds, stop=None: recorded.append(seconds),
    )
    return recorded


# -- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["compute-time"], ["metrics"]], ids=["group", "ct", "m"])
def test_help_says_what_the_units_mean(cli: Cli, command: list[str]) -> None:
    outcome = cli.invoke(*command, "--help")
    assert outcome.code == 0
    text = normalized(outcome.stdout)
    # The API mixes units: the help must say which field is in which, and what --unit does.
    assert "CPU and GPU compute time in seconds and totals in minutes" in text
    assert "the unit chosen with --unit" in text
    assert "every output says which unit it shows" in text
    assert "never printed" in text
    assert cli.studio.requests == []


@pytest.mark.parametrize("command", ["compute-time", "metrics"])
def test_command_help_lists_the_units_and_formats(cli: Cli, command: str) -> None:
    text = normalized(cli.invoke(command, "-h").stdout)
    assert "--unit [seconds|minutes|hours]" in text
    assert "[default: minutes]" in text
    formats = "table|csv|json|html" if command == "compute-time" else "table|csv|json"
    assert f"--format [{formats}]" in text


def test_metrics_help_explains_the_metrics_units(cli: Cli) -> None:
    text = normalized(cli.invoke("metrics", "--help").stdout)
    assert "compute totals in minutes" in text
    assert "read as seconds" in text
    assert "storage is in bytes" in text


# -- compute-time: formats and numbers ------------------------------------------------------------


@pytest.mark.parametrize("unit", ["seconds", "minutes", "hours"])
def test_csv_numbers_are_the_studios_usage_in_the_unit(
    cli: Cli, studio: FakeStudio, unit: str
) -> None:
    orgs = [2, 4, 8, 9]
    outcome = cli.invoke(*compute(*orgs, period="2024-Q2", unit=unit, format="csv"))
    assert outcome.code == 0, outcome.stderr
    assert outcome.stderr == ""
    rows = read_csv(outcome.stdout)
    assert list(rows[0]) == [
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
    ]
    assert [(int(r["inner_organization_id"]), when(r["start"]), when(r["end"])) for r in rows] == [
        (org, start, end) for org in orgs for start, end in Q2
    ]
    gpu_seen = False
    for row in rows:
        assert row["organization_id"] == "1"
        assert row["inner_organization_name"] == name_of(studio, int(row["inner_organization_id"]))
        assert row["unit"] == unit
        want = expected_row(studio, row, unit)
        check_usage(row, want)
        gpu_seen |= want["gpu"] > 0
    assert gpu_seen, "pick inner organizations that use GPUs, or the GPU column goes untested"


@pytest.mark.parametrize(
    ("period", "every", "pieces"),
    [
        ("2024-Q2", "month", 3),
        ("2024-05-17..2024-07-03", "month", 3),  # clipped first and last months
        ("2024", "quarter", 4),
        ("2024-05-30T12:00:00Z..2024-06-02", "day", 4),
    ],
)
def test_json_rows_add_up_to_the_whole_period(
    cli: Cli, studio: FakeStudio, period: str, every: str, pieces: int
) -> None:
    orgs = [3, 4, 10]
    outcome = cli.invoke(*compute(*orgs, period=period, every=every, unit="seconds", format="json"))
    assert outcome.code == 0, outcome.stderr
    assert outcome.stderr == ""
    data = json.loads(outcome.stdout)
    assert {"rows", "totals", "errors", "unit"} <= set(data)
    assert data["unit"] == "seconds"
    assert data["errors"] == []
    assert data["every"] == every
    start, end = when(data["period"]["start"]), when(data["period"]["end"])
    assert len(data["rows"]) == len(orgs) * pieces

    whole_cpu = whole_gpu = 0
    for org in orgs:
        rows = [r for r in data["rows"] if r["inner_organization_id"] == org]
        assert len(rows) == pieces
        # consecutive pieces that cover the whole period exactly
        assert when(rows[0]["start"]) == start
        assert when(rows[-1]["end"]) == end
        for before, after in itertools.pairwise(rows):
            assert before["end"] == after["start"]
        for row in rows:
            assert row["unit"] == "seconds"
            check_usage(row, expected_row(studio, row, "seconds"))
        # The simulator is additive: the pieces sum to the usage of the whole range.
        whole = expected(studio, org, start, end, "seconds")
        for name in ("cpu", "gpu", "total"):
            assert close(sum(r[name] for r in rows), whole[name]), name
        totals = data["totals"]["by_inner_organization"][str(org)]
        assert totals["rows"] == pieces
        assert totals["unit"] == "seconds"
        for name in ("cpu", "gpu", "total"):
            assert close(totals[name], whole[name]), name
        cpu, gpu = studio.usage(org, start, end)
        whole_cpu, whole_gpu = whole_cpu + cpu, whole_gpu + gpu
    overall = data["totals"]["overall"]
    assert overall["rows"] == len(orgs) * pieces
    assert close(overall["cpu"], whole_cpu / 1e6)
    assert close(overall["gpu"], whole_gpu / 1e6)
    assert close(overall["total"], (whole_cpu + whole_gpu) / 1e6)


def test_json_period_bounds(cli: Cli) -> None:
    outcome = cli.invoke(*compute(2, period="2024-05-17..2024-07-03", format="json"))
    data = json.loads(outcome.stdout)
    assert data["period"] == {"start": "2024-05-17T00:00:00Z", "end": "2024-07-04T00:00:00Z"}
    assert [(r["start"], r["end"]) for r in data["rows"]] == [
        ("2024-05-17T00:00:00Z", "2024-06-01T00:00:00Z"),
        ("2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z"),
        ("2024-07-01T00:00:00Z", "2024-07-04T00:00:00Z"),
    ]
    assert data["unit"] == "minutes"  # the default


@pytest.mark.parametrize("unit", ["seconds", "minutes", "hours"])
def test_table_is_aligned_with_units_and_totals(cli: Cli, studio: FakeStudio, unit: str) -> None:
    orgs = [4, 2]
    options = {"unit": unit} if unit != "minutes" else {}  # minutes is the default
    outcome = cli.invoke(*compute(*orgs, period="2024-Q2", **options))
    assert outcome.code == 0, outcome.stderr
    assert outcome.stderr == ""
    text = outcome.stdout
    assert_aligned(text)
    assert header_cells(text) == [
        "Inner org",
        "Name",
        "Period",
        f"CPU ({unit})",
        f"GPU ({unit})",
        f"Total ({unit})",
        f"Total - (CPU+GPU) ({unit})",
    ]
    assert f"all shown in {unit}" in text

    rows = body_rows(text)
    months = ["2024-04", "2024-05", "2024-06"]
    want_rows: list[list[str]] = []
    grand = [0, 0]
    for org in sorted(orgs):
        for (start, end), label in zip(Q2, months, strict=True):
            e = expected(studio, org, start, end, unit)
            want_rows.append(
                [
                    str(org),
                    name_of(studio, org),
                    label,
                    *(number(e[n], unit) for n in ("cpu", "gpu", "total")),
                    number(0, unit),
                ]
            )
        e = expected(studio, org, Q2[0][0], Q2[-1][1], unit)
        want_rows.append(
            [
                str(org),
                name_of(studio, org),
                "total",
                *(number(e[n], unit) for n in ("cpu", "gpu", "total")),
                number(0, unit),
            ]
        )
        cpu, gpu = studio.usage(org, Q2[0][0], Q2[-1][1])
        grand = [grand[0] + cpu, grand[1] + gpu]
    per = US_PER_UNIT[unit]
    want_rows.append(
        [
            "all",
            "",
            "2024-Q2",
            number(grand[0] / per, unit),
            number(grand[1] / per, unit),
            number(sum(grand) / per, unit),
            number(0, unit),
        ]
    )
    assert rows == want_rows


def test_table_of_one_period_still_has_the_overall_total(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke(*compute(2, 3, period="2024-05"))
    assert outcome.code == 0
    assert_aligned(outcome.stdout)
    rows = body_rows(outcome.stdout)
    assert [[r[0], r[2]] for r in rows] == [["2", "2024-05"], ["3", "2024-05"], ["all", "2024-05"]]
    assert [r[1] for r in rows] == [name_of(studio, 2), name_of(studio, 3), ""]
    start, end = Q2[1]
    both = sum(sum(studio.usage(org, start, end)) for org in (2, 3))
    assert rows[-1][5] == number(both / US_PER_UNIT["minutes"], "minutes")


# -- ordering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_rows_are_ordered_by_inner_org_then_period(cli: Cli, studio: FakeStudio, fmt: str) -> None:
    studio.latency = 0.01
    # The first two requests to arrive (early ones in the plan) answer last.
    studio.inject(Fault.slow(0.15), times=2, operation=CT)
    outcome = cli.invoke(*compute(7, 3, 5, 3, period="2024-Q2", concurrency="4", format=fmt))
    assert outcome.code == 0, outcome.stderr
    assert studio.faults_pending == 0
    want = [(org, start) for org in (3, 5, 7) for start, _ in Q2]
    if fmt == "csv":
        got = [
            (int(r["inner_organization_id"]), when(r["start"])) for r in read_csv(outcome.stdout)
        ]
    elif fmt == "json":
        rows = json.loads(outcome.stdout)["rows"]
        got = [(r["inner_organization_id"], when(r["start"])) for r in rows]
    else:
        labels = [
            (r[0], r[2]) for r in body_rows(outcome.stdout) if r[2] not in ("total", "2024-Q2")
        ]
        got = [
            (int(org), datetime.strptime(f"{month}-01", "%Y-%m-%d").replace(tzinfo=UTC))
            for org, month in labels
        ]
    assert got == want
    assert sorted(requested_inner_ids(studio)) == [3, 3, 3, 5, 5, 5, 7, 7, 7]  # 3 asked once
    # and the requests did overlap: several connections were open at once
    assert len({request.connection_id for request in compute_requests(studio)}) > 1


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_bounds_the_connections(cli: Cli, studio: FakeStudio, concurrency: int) -> None:
    studio.latency = 0.02
    outcome = cli.invoke(
        *compute(2, 3, 4, period="2024-Q2", concurrency=str(concurrency), format="csv")
    )
    assert outcome.code == 0
    assert len(read_csv(outcome.stdout)) == 9
    connections = {request.connection_id for request in studio.requests}
    assert len(compute_requests(studio)) == 9
    assert 1 <= len(connections) <= concurrency
    if concurrency > 1:
        assert len(connections) > 1


# -- inner organizations from a file -----------------------------------------------------------


def test_inner_orgs_file_with_comments_and_blank_lines(
    cli: Cli, studio: FakeStudio, tmp_path: Any
) -> None:
    path = tmp_path / "inner.txt"
    path.write_text("# inner organizations\n\n4   # the big one\n   \n2, 3\n# 9\n\t\n")
    outcome = cli.invoke(*compute(5, period="2024-05", inner_orgs_file=str(path), format="csv"))
    assert outcome.code == 0, outcome.stderr
    assert [int(r["inner_organization_id"]) for r in read_csv(outcome.stdout)] == [2, 3, 4, 5]
    assert sorted(requested_inner_ids(studio)) == [2, 3, 4, 5]


def test_inner_orgs_file_dash_reads_stdin(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke(
        *compute(period="2024-05", inner_orgs_file="-", format="csv"),
        input="# from a pipe\n6\n\n11 # last\n",
    )
    assert outcome.code == 0, outcome.stderr
    rows = read_csv(outcome.stdout)
    assert [int(r["inner_organization_id"]) for r in rows] == [6, 11]
    for row in rows:
        assert (row["start"], row["end"]) == ("2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z")
        check_usage(row, expected_row(studio, row, "minutes"))


@pytest.mark.parametrize(
    "content",
    [
        b"2\nthree\n",
        b"2\n-3\n",
        b"2\n4.0\n",
        "2\n\u00b2\n".encode(),  # a superscript two: str.isdigit() says yes, int() says no
        b"\xff\xfe2\x003\x00\n",  # UTF-16, not text in the expected encoding
    ],
    ids=["word", "negative", "float", "superscript", "binary"],
)
def test_bad_inner_orgs_file_is_a_usage_error(
    cli: Cli, studio: FakeStudio, tmp_path: Any, content: bytes
) -> None:
    path = tmp_path / "inner.txt"
    path.write_bytes(content)
    outcome = cli.invoke(*compute(period="2024-05", inner_orgs_file=str(path)))
    assert outcome.code == 2, outcome.stderr
    assert "--inner-orgs-file" in outcome.stderr
    assert outcome.stdout == ""
    assert studio.requests == []


def test_bad_inner_orgs_file_names_the_bad_token(
    cli: Cli, studio: FakeStudio, tmp_path: Any
) -> None:
    path = tmp_path / "inner.txt"
    path.write_bytes("2\n\u00b2\n".encode())
    outcome = cli.invoke(*compute(period="2024-05", inner_orgs_file=str(path)))
    assert outcome.code == 2
    assert "'²' is not an organization id" in outcome.stderr
    assert studio.requests == []


def test_missing_inner_orgs_file_is_a_usage_error(cli: Cli, tmp_path: Any) -> None:
    outcome = cli.invoke(*compute(period="2024-05", inner_orgs_file=str(tmp_path / "nope.txt")))
    assert outcome.code == 2
    assert "nope.txt" in outcome.stderr


def test_inner_orgs_file_of_comments_only_is_no_inner_org(cli: Cli, tmp_path: Any) -> None:
    path = tmp_path / "inner.txt"
    path.write_text("# nothing yet\n\n")
    outcome = cli.invoke(*compute(period="2024-05", inner_orgs_file=str(path)))
    assert outcome.code == 2
    assert "at least one --inner-org" in outcome.stderr


# -- usage errors: exit 2 -------------------------------------------------------------------------

COMPUTE = ["compute-time", "--org", "1", "--inner-org", "2"]


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        ([*COMPUTE, "--period", "bogus"], "--period"),
        ([*COMPUTE, "--period", "2024-13"], "--period"),
        ([*COMPUTE, "--period", "2024-06..2024-05"], "--period"),
        ([*COMPUTE, "--period", "2024-05-17T10:00:00Z"], "--period"),
        ([*COMPUTE, "--period", ""], "--period"),
        (COMPUTE, "--period"),
        (["compute-time", "--org", "1", "--period", "2024-05"], "--inner-org"),
        (["compute-time", "--inner-org", "2", "--period", "2024-05"], "--org"),
        ([*COMPUTE, "--period", "2024", "--format", "xml"], "--format"),
        ([*COMPUTE, "--period", "2024", "--unit", "days"], "--unit"),
        ([*COMPUTE, "--period", "2024", "--every", "fortnight"], "--every"),
        ([*COMPUTE, "--period", "2024", "--concurrency", "0"], "--concurrency"),
        ([*COMPUTE, "--period", "2024", "--concurrency", "65"], "--concurrency"),
        ([*COMPUTE, "--period", "2024", "--nope"], "--nope"),
        (["compute-time", "--org", "1", "--inner-org", "-1", "--period", "2024"], "--inner-org"),
        (["compute-time", "--org", "one", "--inner-org", "2", "--period", "2024"], "--org"),
        (["metrics"], "--org"),
        (["metrics", "--org", "1", "--project-visibility", "secret"], "--project-visibility"),
        (["metrics", "--org", "1", "--unit", "days"], "--unit"),
        (["metrics", "--org", "1", "--format", "yaml"], "--format"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_usage_errors_exit_2_before_any_request(
    cli: Cli, studio: FakeStudio, args: list[str], hint: str
) -> None:
    outcome = cli.invoke(*args)
    assert outcome.code == 2, outcome.stderr
    assert hint in outcome.stderr
    assert "Error" in outcome.stderr
    assert outcome.stdout == ""
    assert studio.requests == []


# -- credentials: only from the environment, never printed ---------------------------------------


@pytest.mark.parametrize(
    ("variable", "credential"),
    [
        ("EI_API_KEY", Credential.api_key),
        ("EI_JWT_TOKEN", Credential.jwt_token),
        ("EI_ACCESS_TOKEN", Credential.access_token),
    ],
)
def test_each_credential_variable_works(
    cli: Cli, studio: FakeStudio, variable: str, credential: Any
) -> None:
    secret = f"ei_{variable}_value_d41d8cd98f00b204"
    studio.grant(credential(secret), 1)
    outcome = cli.invoke(
        "metrics", "--org", "1", "--format", "json", env={"EI_API_KEY": None, variable: secret}
    )
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["organization_id"] == 1
    assert len(studio.requests) == 1


@pytest.mark.parametrize(
    ("env", "code"),
    [
        ({"EI_API_KEY": "   "}, 3),  # blank counts as unset
        ({"EI_JWT_TOKEN": "ei_second_SECRET_b7e2"}, 3),  # two credentials
        ({"EI_API_KEY": "ei_line\nbreak_SECRET"}, 3),
        ({"EI_API_KEY": "ei_n\u00f6n_ascii_SECRET"}, 3),
        # A bad EI_BASE_URL is configuration (2), not authentication (3).
        ({"EI_BASE_URL": "https://admin:ei_url_SECRET_pw@studio.example.com/v1"}, 2),
        ({"EI_BASE_URL": "https://studio.example.com/v1?token=ei_url_SECRET_pw"}, 2),
        ({"EI_BASE_URL": "ftp://studio.example.com/ei_url_SECRET_pw"}, 2),
        ({"EI_BASE_URL": "http://studio.example.com/v1"}, 2),
    ],
    ids=[
        "blank",
        "two",
        "newline",
        "non-ascii",
        "password-in-url",
        "query-in-url",
        "scheme",
        "plain-http",
    ],
)
def test_bad_settings_exit_2_or_3_without_echoing_them(
    cli: Cli, studio: FakeStudio, env: dict[str, str], code: int
) -> None:
    outcome = cli.invoke("metrics", "--org", "1", env=env)
    assert outcome.code == code, outcome.stderr
    if code == 2:
        assert "EI_BASE_URL" in outcome.stderr
    one_error_line(outcome)
    for value in env.values():
        for part in (value.strip(), "ei_url_SECRET_pw", "ei_line", "break_SECRET"):
            assert not part or part not in outcome.stderr
    assert outcome.stdout == ""
    assert studio.requests == []


def test_wrong_key_exits_3_with_one_line_and_no_table(cli: Cli, studio: FakeStudio) -> None:
    wrong = "ei_WRONG_key_5e884898da2804"
    outcome = cli.invoke(*compute(2, 3, period="2024-Q2"), env={"EI_API_KEY": wrong})
    assert outcome.code == 3
    one_error_line(outcome, "401", "Invalid API key")
    assert outcome.stdout == ""  # no table or JSON claiming zero usage
    assert {r.status for r in studio.requests} == {401}


def test_wrong_key_for_metrics_exits_3(cli: Cli) -> None:
    outcome = cli.invoke("metrics", "--org", "1", env={"EI_API_KEY": "ei_WRONG_key_2c26b46b"})
    assert outcome.code == 3
    one_error_line(outcome, "401")
    assert outcome.stdout == ""


def test_organization_not_administered_exits_3(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke(*compute(3, org="2", period="2024-Q2"))
    assert outcome.code == 3
    one_error_line(outcome, "403", "organization 2")
    assert outcome.stdout == ""
    assert {r.status for r in studio.requests} == {403}


def test_metrics_of_an_organization_not_administered_exits_3(cli: Cli) -> None:
    outcome = cli.invoke("metrics", "--org", "2")
    assert outcome.code == 3
    one_error_line(outcome, "403")
    assert outcome.stdout == ""


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_credential_echoed_by_the_server_is_hidden(cli: Cli, studio: FakeStudio, fmt: str) -> None:
    # A proxy or a chatty API may put the request's headers into its error text.
    studio.inject(
        Fault.response(
            400, f"<html><pre>x-api-key: {cli.secret}</pre></html>", content_type="text/html"
        ),
        operation=CT,
    )
    outcome = cli.invoke(*compute(2, 3, period="2024-05", concurrency="1", format=fmt))
    assert outcome.code == 1
    assert "inner org 2, 2024-05" in outcome.stderr
    assert "***" in outcome.stderr
    if fmt == "json":
        (failure,) = json.loads(outcome.stdout)["errors"]
        assert failure["error"]["status_code"] == 400
        assert "***" in failure["error"]["message"]


def test_credential_echoed_in_a_fatal_error_is_hidden(cli: Cli, studio: FakeStudio) -> None:
    body = json.dumps({"success": False, "error": f"Invalid API key {cli.secret}"})
    studio.inject(Fault.response(401, body))
    outcome = cli.invoke("metrics", "--org", "1")
    assert outcome.code == 3
    one_error_line(outcome, "401", "Invalid API key ***")


# -- API and network failures: exit 1 -------------------------------------------------------------


def test_exhausted_retries_on_5xx_exit_1(cli: Cli, studio: FakeStudio, waits: list[float]) -> None:
    studio.inject(Fault.server_error(503), times=4)
    outcome = cli.invoke("metrics", "--org", "1")
    assert outcome.code == 1
    one_error_line(outcome, "503")
    assert outcome.stdout == ""
    assert len(waits) == 3
    assert [r.status for r in studio.requests] == [503, 503, 503, 503]


def test_retries_that_succeed_are_invisible(
    cli: Cli, studio: FakeStudio, waits: list[float]
) -> None:
    studio.inject(Fault.server_error(502), times=2)
    outcome = cli.invoke("metrics", "--org", "1", "--format", "json")
    assert outcome.code == 0
    assert outcome.stderr == ""
    assert json.loads(outcome.stdout)["organization_id"] == 1
    assert len(waits) == 2


def test_compute_time_with_every_request_failing_exits_1_without_a_table(
    cli: Cli, studio: FakeStudio, waits: list[float]
) -> None:
    studio.inject(Fault.server_error(500), times=4, operation=CT)
    outcome = cli.invoke(*compute(2, period="2024-05"))
    assert outcome.code == 1
    assert outcome.stdout == ""  # not a table of zeros
    assert outcome.stderr_lines == [
        "ei-usage: 1 of 1 requests failed:",
        "  inner org 2, 2024-05: ServerError 500: Internal server error",
    ]
    assert len(waits) == 3


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_exits_1(cli: Cli, closed_port: int, waits: list[float]) -> None:
    env = {"EI_BASE_URL": f"http://127.0.0.1:{closed_port}/v1"}
    outcome = cli.invoke("metrics", "--org", "1", env=env)
    assert outcome.code == 1
    one_error_line(outcome, "connection failed")
    assert outcome.stdout == ""
    assert len(waits) == 3
    outcome = cli.invoke(*compute(2, period="2024-05", format="csv"), env=env)
    assert outcome.code == 1
    assert outcome.stdout == ""
    one_error_line(outcome, "connection failed")


# -- partial failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_partial_failure_in_machine_formats(cli: Cli, studio: FakeStudio, fmt: str) -> None:
    # Not retried, and with one request at a time the first one (inner org 2, April) gets it.
    studio.inject(Fault.server_error(501, message="Not implemented today"), operation=CT)
    outcome = cli.invoke(
        *compute(3, 2, period="2024-Q2", concurrency="1", format=fmt, unit="hours")
    )
    assert outcome.code == 1
    assert outcome.stderr_lines == [
        "ei-usage: 1 of 6 requests failed:",
        "  inner org 2, 2024-04: ServerError 501: Not implemented today",
    ]
    if fmt == "csv":
        rows: list[dict[str, Any]] = read_csv(outcome.stdout)
    else:
        data = json.loads(outcome.stdout)
        rows = data["rows"]
        (failure,) = data["errors"]
        assert failure["inner_organization_id"] == 2
        assert (failure["start"], failure["end"]) == (
            "2024-04-01T00:00:00Z",
            "2024-05-01T00:00:00Z",
        )
        assert failure["error"]["type"] == "ServerError"
        assert failure["error"]["message"] == "Not implemented today"
        assert failure["error"]["status_code"] == 501
        assert data["complete"] is False
        assert data["totals"]["by_inner_organization"]["2"]["rows"] == 2
    got = [(int(r["inner_organization_id"]), when(r["start"])) for r in rows]
    assert got == [(2, Q2[1][0]), (2, Q2[2][0]), *((3, start) for start, _ in Q2)]
    for row in rows:
        check_usage(row, expected_row(studio, row, "hours"))


def test_partial_permission_failure_exits_1_not_3(cli: Cli, studio: FakeStudio) -> None:
    # Organization 1 is not an inner organization of its own white label: 403 for that one only.
    outcome = cli.invoke(*compute(1, 2, period="2024-05"))
    assert outcome.code == 1
    assert [r[0] for r in body_rows(outcome.stdout)] == ["2", "all"]
    assert "inner org 1, 2024-05: PermissionDeniedError 403" in outcome.stderr


# -- metrics --------------------------------------------------------------------------------------


def wire_metrics(studio: FakeStudio, organization_id: int, **flags: Any) -> dict[str, Any]:
    """The metrics the studio sends, as the API names them."""
    wire = studio.metrics_body(organization_id, **flags)["metrics"]
    assert isinstance(wire, dict)
    return wire


def metrics_expected(studio: FakeStudio, unit: str, **flags: Any) -> dict[str, Any]:
    wire = wire_metrics(studio, 1, **flags)
    to_unit = SECONDS_PER_UNIT[unit]
    return {
        "total_jobs_compute_time": wire["totalJobsComputeTime"] * 60 / to_unit,
        "jobs_compute_time_current_year": wire["jobsComputeTimeCurrentYear"] * 60 / to_unit,
        "cpu_compute_time_current_contract": wire["cpuComputeTimeCurrentContract"] / to_unit,
        "gpu_compute_time_current_contract": wire["gpuComputeTimeCurrentContract"] / to_unit,
        "total_storage_bytes": wire["totalStorage"],
        "project_count": wire["projectCount"],
        "user_count": wire["userCount"],
        "since": wire["jobsComputeTimeCurrentYearSince"],
    }


DURATIONS = [
    "total_jobs_compute_time",
    "jobs_compute_time_current_year",
    "cpu_compute_time_current_contract",
    "gpu_compute_time_current_contract",
]


@pytest.mark.parametrize("unit", ["seconds", "minutes", "hours"])
def test_metrics_json(cli: Cli, studio: FakeStudio, unit: str) -> None:
    outcome = cli.invoke("metrics", "--org", "1", "--format", "json", "--unit", unit)
    assert outcome.code == 0, outcome.stderr
    assert outcome.stderr == ""
    data = json.loads(outcome.stdout)
    want = metrics_expected(studio, unit)
    assert data["unit"] == unit
    assert data["organization_id"] == 1
    for name in DURATIONS:
        assert close(data[name], want[name]), name
    assert want["gpu_compute_time_current_contract"] > 0
    for name in ("total_storage_bytes", "project_count", "user_count"):
        assert data[name] == want[name], name
    assert when(data["jobs_compute_time_current_year_since"]) == when(want["since"])
    assert data["exclude_edge_impulse_users"] is None
    assert data["project_visibility"] is None


def test_metrics_csv(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke("metrics", "--org", "1", "--format", "csv", "--unit", "hours")
    assert outcome.code == 0
    (row,) = read_csv(outcome.stdout)
    want = metrics_expected(studio, "hours")
    assert row["unit"] == "hours"
    for name in DURATIONS:
        assert close(row[name], want[name]), name
    for name in ("total_storage_bytes", "project_count", "user_count"):
        assert int(row[name]) == want[name], name


@pytest.mark.parametrize("unit", ["seconds", "minutes", "hours"])
def test_metrics_table(cli: Cli, studio: FakeStudio, unit: str) -> None:
    outcome = cli.invoke("metrics", "--org", "1", "--unit", unit)
    assert outcome.code == 0
    text = outcome.stdout
    assert_aligned(text)
    assert header_cells(text) == ["Metric", "Value", "Unit"]
    rows = {r[0]: r[1:] for r in body_rows(text)}
    want = metrics_expected(studio, unit)
    assert rows["Total jobs compute time"] == [number(want["total_jobs_compute_time"], unit), unit]
    assert rows["Compute time, current contract"] == [
        number(want["jobs_compute_time_current_year"], unit),
        unit,
    ]
    assert rows["CPU compute time, current contract"] == [
        number(want["cpu_compute_time_current_contract"], unit),
        unit,
    ]
    assert rows["GPU compute time, current contract"] == [
        number(want["gpu_compute_time_current_contract"], unit),
        unit,
    ]
    assert rows["Storage"][0].startswith(f"{want['total_storage_bytes']:,} bytes")
    # Counts are counts: no "all" in the Unit column (issue 17).
    assert rows["Projects"] == [f"{want['project_count']:,}", "count"]
    assert rows["Users"] == [f"{want['user_count']:,}", "count"]
    since = when(want["since"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert rows["Current contract since"] == [since, ""]


def test_metrics_flags_reach_the_wire_and_change_the_counts(cli: Cli, studio: FakeStudio) -> None:
    plain = json.loads(cli.invoke("metrics", "--org", "1", "--format", "json").stdout)
    (request,) = studio.requests
    assert "excludeEdgeImpulseUsers" not in request.query
    assert "projectVisibility" not in request.query
    studio.reset()

    outcome = cli.invoke(
        "metrics",
        "--org",
        "1",
        "--exclude-edge-impulse-users",
        "--project-visibility",
        "public",
        "--format",
        "json",
    )
    assert outcome.code == 0
    (request,) = studio.requests
    assert request.param("excludeEdgeImpulseUsers") == "true"
    assert request.param("projectVisibility") == "public"
    data = json.loads(outcome.stdout)
    want = metrics_expected(
        studio, "minutes", exclude_edge_impulse_users=True, project_visibility="public"
    )
    assert data["user_count"] == want["user_count"] < plain["user_count"]
    assert data["project_count"] == want["project_count"] < plain["project_count"]
    assert data["exclude_edge_impulse_users"] is True
    assert data["project_visibility"] == "public"


def test_metrics_private_projects_flag(cli: Cli, studio: FakeStudio) -> None:
    args = ["metrics", "--org", "3", "--project-visibility", "private", "--format", "csv"]
    assert cli.invoke(*args).code == 3  # the key administers organization 1 only
    studio.grant(Credential.api_key(cli.secret), 3)
    outcome = cli.invoke(*args)
    assert outcome.code == 0, outcome.stderr
    (row,) = read_csv(outcome.stdout)
    wire = wire_metrics(studio, 3, project_visibility="private")
    everything = wire_metrics(studio, 3)
    assert int(row["project_count"]) == wire["projectCount"] != everything["projectCount"]
    assert row["project_visibility"] == "private"
    assert studio.requests[-1].param("projectVisibility") == "private"


def test_metrics_table_names_the_filters(cli: Cli) -> None:
    outcome = cli.invoke(
        "metrics", "--org", "1", "--exclude-edge-impulse-users", "--project-visibility", "public"
    )
    rows = {r[0]: r[1:] for r in body_rows(outcome.stdout)}
    assert rows["Projects (public only)"][1] == "count"
    assert rows["Users (without Edge Impulse staff)"][1] == "count"


# -- through the real entry point ----------------------------------------------------------------
#
# Each subprocess costs about a second of imports, so these start together, each with a studio of
# its own, when the first of these tests asks; each test then waits for its own.

WRONG_KEY = "ei_WRONG_key_5e884898da2804"
REPORT = compute(2, 3, 4, 5, period="2024", format="csv")
BACKGROUND: dict[str, tuple[list[str], dict[str, Any]]] = {
    "usage_error": ([*COMPUTE, "--period", "2024-Q5"], {"script": True}),
    "no_credential": ([*COMPUTE, "--period", "2024-05"], {"env": {"EI_API_KEY": None}}),
    "wrong_key": (
        compute(2, 3, period="2024-Q2", format="json"),
        {"env": {"EI_API_KEY": WRONG_KEY}, "script": True},
    ),
    "not_found": (["metrics", "--org", "99"], {}),
    "partial": (compute(99, 2, period="2024-Q2"), {}),
    "pipes": (REPORT, {}),
    "terminal": ([*REPORT, "--concurrency", "2"], {"terminal": True}),
    "retried": (["metrics", "--org", "1", "--format", "csv"], {}),
}


def prepare(name: str, cli: Cli) -> None:
    if name == "terminal":
        cli.studio.latency = 0.005
    elif name == "retried":
        # Retry-After: 0, so the client retries at once; the message quotes the credential.
        message = f"Slow down, x-api-key {cli.secret}"
        cli.studio.inject(Fault.rate_limited(retry_after=0, message=message))


@pytest.fixture(scope="module")
def background(cli_factory: Callable[[], Cli]) -> Iterator[dict[str, tuple[Cli, Running]]]:
    started: dict[str, tuple[Cli, Running]] = {}
    try:
        for name, (args, options) in BACKGROUND.items():
            cli = cli_factory()
            prepare(name, cli)
            started[name] = (cli, cli.start(*args, **options))
        yield started
    finally:
        for _, running in started.values():
            running.close()


def finished(background: dict[str, tuple[Cli, Running]], name: str) -> tuple[Outcome, FakeStudio]:
    cli, running = background[name]
    return running.wait(), cli.studio


def test_usage_error_exits_2(background: dict[str, tuple[Cli, Running]]) -> None:
    outcome, studio = finished(background, "usage_error")
    assert outcome.code == 2
    assert "Invalid value for '--period'" in outcome.stderr
    assert "2024-Q5" in outcome.stderr
    assert outcome.stdout == ""
    assert studio.requests == []


def test_no_credential_exits_3(background: dict[str, tuple[Cli, Running]]) -> None:
    outcome, studio = finished(background, "no_credential")
    assert outcome.code == 3
    line = one_error_line(outcome, "EI_API_KEY", "EI_JWT_TOKEN", "EI_ACCESS_TOKEN")
    assert "found 0" in line
    assert outcome.stdout == ""
    assert studio.requests == []


def test_wrong_key_exits_3_without_a_report(background: dict[str, tuple[Cli, Running]]) -> None:
    outcome, studio = finished(background, "wrong_key")
    assert outcome.code == 3
    one_error_line(outcome, "401", "Invalid API key")
    assert WRONG_KEY not in outcome.stderr
    assert outcome.stdout == ""  # not a JSON report claiming zero usage
    assert {r.status for r in studio.requests} == {401}


def test_unknown_organization_exits_1(background: dict[str, tuple[Cli, Running]]) -> None:
    outcome, studio = finished(background, "not_found")
    assert outcome.code == 1
    one_error_line(outcome, "404", "Organization 99 not found")
    assert outcome.stdout == ""
    assert [r.status for r in studio.requests] == [404]


def test_partial_failure_prints_what_succeeded_and_lists_the_rest(
    background: dict[str, tuple[Cli, Running]],
) -> None:
    outcome, studio = finished(background, "partial")
    assert outcome.code == 1
    assert_aligned(outcome.stdout)
    assert "\x1b" not in outcome.stdout  # no colour codes into a pipe
    rows = body_rows(outcome.stdout)
    assert [[r[0], r[2]] for r in rows] == [
        ["2", "2024-04"],
        ["2", "2024-05"],
        ["2", "2024-06"],
        ["2", "total"],
        ["all", "2024-Q2"],
    ]
    assert rows[0][1] == name_of(studio, 2)
    whole = expected(studio, 2, Q2[0][0], Q2[-1][1], "minutes")
    assert rows[-1][5] == number(whole["total"], "minutes")
    # One line per cause, however many requests it failed.
    assert outcome.stderr_lines == [
        "ei-usage: 3 of 6 requests failed:",
        "  3 requests, inner orgs 99: NotFoundError 404: Organization 99 not found",
    ]


def test_pipes_get_no_progress(background: dict[str, tuple[Cli, Running]]) -> None:
    outcome, studio = finished(background, "pipes")
    assert outcome.code == 0
    assert outcome.stderr == ""
    rows = read_csv(outcome.stdout)
    assert len(rows) == 4 * 12
    for row in rows:
        check_usage(row, expected_row(studio, row, "minutes"))


def test_progress_bar_on_a_terminal_keeps_stdout_clean(
    background: dict[str, tuple[Cli, Running]],
) -> None:
    outcome, _ = finished(background, "terminal")
    assert outcome.code == 0, outcome.terminal
    shown = ANSI.sub("", outcome.terminal)
    assert "requests" in shown
    assert re.search(r"\b\d+/48\b", shown), shown
    assert "\x1b[" in outcome.terminal  # drawn, and erased, in place
    # stdout holds exactly the CSV, as through a pipe
    assert len(read_csv(outcome.stdout)) == 48
    assert outcome.stdout == finished(background, "pipes")[0].stdout


def test_retry_notes_do_not_echo_the_credential(
    background: dict[str, tuple[Cli, Running]],
) -> None:
    outcome, studio = finished(background, "retried")
    assert outcome.code == 0
    assert [r.status for r in studio.requests] == [429, 200]
    assert read_csv(outcome.stdout)[0]["organization_id"] == "1"
    # The library logs its retry note to a NullHandler: nothing reaches the command's stderr.
    assert outcome.stderr_lines == []
