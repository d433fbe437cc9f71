"""``ei-usage orgs``, ``check`` and ``compute-time --all-inner-orgs`` against FakeStudio.

Includes the issue's acceptance runs on a white label of 250 inner organizations.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from ei_usage import DateRange, Report
from ei_usage.testing import FakeStudio, Fault, ListingQuirks, Operation

from .conftest import SECRET, Cli


@pytest.fixture
def big() -> Iterator[Cli]:
    with FakeStudio(api_key=SECRET, inner_organizations=250) as studio:
        yield Cli(studio)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---- orgs ----------------------------------------------------------------------------------------


def test_orgs_lists_all_250_once_each(big: Cli) -> None:
    outcome = big.invoke("orgs", "--org", "1", "--include-deleted", "--format", "csv")
    assert outcome.code == 0, outcome.stderr
    ids = [int(r["id"]) for r in rows_of(outcome.stdout)]
    assert ids == [o.id for o in big.studio.inner_organizations(1, include_deleted=True)]
    assert len(ids) == len(set(ids)) == 250


def test_orgs_leaves_deleted_ones_out_by_default(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke("orgs", "--org", "1", "--format", "json")
    data = json.loads(outcome.stdout)
    assert [o["id"] for o in data["organizations"]] == [o.id for o in studio.inner_organizations(1)]
    assert data["unit"] == "minutes"


def test_orgs_json_has_entitlements_in_the_unit(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke("orgs", "--org", "1", "--format", "json", "--unit", "hours")
    for item in json.loads(outcome.stdout)["organizations"]:
        fake = studio.organizations[item["id"]]
        limits = fake.entitlements
        got = item["entitlements"]
        assert got["unit"] == "hours"
        want = limits.compute_time_per_year_seconds
        assert got["compute_time_per_year"] == (None if want is None else want / 3600)
        assert got["storage_bytes"] == limits.total_storage_bytes
        assert item["name"] == fake.name


def test_orgs_table_names_unlimited(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke("orgs", "--org", "1")
    assert outcome.code == 0
    assert "unlimited" in outcome.stdout
    for organization in studio.inner_organizations(1):
        assert str(organization.id) in outcome.stdout


def test_orgs_search_and_errors(cli: Cli, studio: FakeStudio) -> None:
    target = studio.inner_organizations(1)[2]
    outcome = cli.invoke("orgs", "--org", "1", "--search", target.name, "--format", "csv")
    assert target.id in [int(r["id"]) for r in rows_of(outcome.stdout)]
    not_admin = cli.invoke("orgs", "--org", "2")
    assert not_admin.code == 3
    assert "403" in not_admin.stderr
    assert cli.invoke("orgs", "--org", "1", "--search", "").code == 2


def test_orgs_names_from_the_server_cannot_style_the_terminal(cli: Cli, studio: FakeStudio) -> None:
    from ei_usage.testing import FakeOrganization

    studio.add_organization(
        FakeOrganization(50, name="[bold red]Evil[/] \x1b[31mcorp"), whitelabel_admin_id=1
    )
    outcome = cli.invoke("orgs", "--org", "1")
    assert "[bold red]Evil[/]" in outcome.stdout  # shown as text, not interpreted
    assert "\x1b" not in outcome.stdout


# ---- compute-time over the whole white label -----------------------------------------------------


def test_all_inner_orgs_by_month_is_3000_rows_equal_to_the_studio(big: Cli) -> None:
    outcome = big.invoke(
        "compute-time",
        "--org",
        "1",
        "--all-inner-orgs",
        "--period",
        "2024",
        "--every",
        "month",
        "--format",
        "json",
        "--unit",
        "seconds",
        "--concurrency",
        "32",
    )
    assert outcome.code == 0, outcome.stderr
    report = Report.from_json(outcome.stdout)
    assert len(report.rows) == 3000
    names = {o.id: o.name for o in big.studio.inner_organizations(1, include_deleted=True)}
    assert len(names) == 250
    for row in report.rows:
        cpu, gpu = big.studio.usage(row.inner_organization_id, row.period.start, row.period.end)
        assert row.cpu == timedelta(microseconds=cpu)
        assert row.gpu == timedelta(microseconds=gpu)
        assert row.inner_organization_name == names[row.inner_organization_id]


def test_all_inner_orgs_and_ids_are_exclusive(cli: Cli) -> None:
    outcome = cli.invoke(
        "compute-time", "--org", "1", "--all-inner-orgs", "--inner-org", "2", "--period", "2024"
    )
    assert outcome.code == 2
    assert "not both" in outcome.stderr


def test_names_are_best_effort_when_the_listing_fails(cli: Cli, studio: FakeStudio) -> None:
    studio.inject(Fault.server_error(501), operation=Operation.ORGANIZATIONS)
    outcome = cli.invoke("compute-time", "--org", "1", "--inner-org", "2", "--period", "2024-05")
    assert outcome.code == 0
    assert "names not shown" in outcome.stderr
    assert "Name" not in outcome.stdout


# ---- check ---------------------------------------------------------------------------------------


def check(cli: Cli, *args: str) -> Any:
    return cli.invoke("check", "--org", "1", *args)


def test_check_exits_5_for_organizations_over_their_entitlement(
    cli: Cli, studio: FakeStudio
) -> None:
    outcome = check(cli, "--format", "json")
    assert outcome.code == 5
    data = json.loads(outcome.stdout)
    statuses = {row["inner_organization_id"]: row["status"] for row in data["rows"]}
    assert "over" in statuses.values()
    assert "warn" in statuses.values()
    assert "no limit" in statuses.values()
    # Every status agrees with the studio's own truth.
    for inner, status in statuses.items():
        fake = studio.organizations[inner]
        cpu, gpu = studio.contract_usage(inner)
        fractions = []
        limits = fake.entitlements
        if limits.compute_time_per_year_seconds is not None:
            fractions.append((cpu + gpu) / 1e6 / limits.compute_time_per_year_seconds)
        if limits.gpu_compute_time_per_year_seconds is not None:
            fractions.append(gpu / 1e6 / limits.gpu_compute_time_per_year_seconds)
        if limits.total_storage_bytes is not None:
            fractions.append(fake.total_storage_bytes / limits.total_storage_bytes)
        highest = max(fractions) if fractions else None
        want = (
            "no limit"
            if highest is None
            else "over"
            if highest >= 1
            else "warn"
            if highest >= 0.8
            else "ok"
        )
        assert status == want, (inner, highest)


def test_check_exit_codes_follow_the_thresholds(cli: Cli) -> None:
    data = json.loads(check(cli, "--format", "json").stdout)
    fractions = sorted(
        max(
            f
            for f in (
                r["compute_used_fraction"],
                r["gpu_used_fraction"],
                r["storage_used_fraction"],
            )
            if f is not None
        )
        for r in data["rows"]
        if any(
            r[k] is not None
            for k in ("compute_used_fraction", "gpu_used_fraction", "storage_used_fraction")
        )
    )
    highest = fractions[-1]
    above = highest * 100 + 1
    assert check(cli, "--warn-at", str(above), "--fail-at", str(above + 1)).code == 0
    assert check(cli, "--warn-at", str(highest * 100 - 1), "--fail-at", str(above)).code == 4
    assert check(cli, "--warn-at", "1", "--fail-at", str(highest * 100 - 1)).code == 5


def test_check_table_is_sorted_with_a_bar_per_row(cli: Cli) -> None:
    outcome = check(cli)
    assert outcome.code == 5
    lines = [line for line in outcome.stdout.splitlines() if line.startswith("│")]
    assert any("█" in line for line in lines)
    statuses = [line.split("│")[3].strip() for line in lines]
    order = {"over": 0, "warn": 1, "ok": 2, "no limit": 3}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    assert "warn at 80%, fail at 100%" in " ".join(outcome.stdout.split())


def test_check_csv(cli: Cli) -> None:
    rows = rows_of(check(cli, "--format", "csv", "--unit", "hours").stdout)
    assert rows
    assert {r["status"] for r in rows} >= {"over", "warn", "no limit"}
    assert all(r["unit"] == "hours" for r in rows)


def test_check_thresholds_are_validated(cli: Cli, studio: FakeStudio) -> None:
    assert check(cli, "--warn-at", "90", "--fail-at", "80").code == 2
    assert check(cli, "--warn-at", "0").code == 2
    assert studio.requests == []


def test_check_lists_what_it_could_not_read(cli: Cli, studio: FakeStudio) -> None:
    studio.inject(Fault.server_error(501), operation=Operation.ORGANIZATION_INFO)
    outcome = check(cli, "--format", "json")
    assert outcome.code == 5  # over-limit organizations still decide the code
    assert "organizations not read" in outcome.stderr
    assert json.loads(outcome.stdout)["complete"] is False


# ---- --format html ----------------------------------------------------------------------------


def _svg_numbers(document: str) -> dict[str, dict[str, list[str]]]:
    """The per-organization charts' data attributes, by inner organization id."""
    import re

    charts: dict[str, dict[str, list[str]]] = {}
    for tag in re.findall(r"<svg[^>]*data-inner-organization-id=[^>]*>", document):
        attributes = dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', tag))
        charts[attributes["data-inner-organization-id"]] = {
            key: value.split() for key, value in attributes.items()
        }
    return charts


def test_compute_time_html_charts_equal_the_report(cli: Cli, studio: FakeStudio) -> None:
    outcome = cli.invoke(
        "compute-time", "--org", "1", "--all-inner-orgs", "--period", "2024", "--format", "html"
    )
    assert outcome.code == 0, outcome.stderr
    document = outcome.stdout
    assert document.startswith("<!DOCTYPE html>")
    assert "<script" not in document.lower()
    assert "http://" not in document
    assert "https://" not in document
    charts = _svg_numbers(document)
    for organization in studio.inner_organizations(1, include_deleted=True):
        chart = charts[str(organization.id)]
        assert chart["data-periods"] == [f"2024-{m:02d}" for m in range(1, 13)]
        for month, cpu_text, gpu_text in zip(
            range(1, 13), chart["data-cpu-seconds"], chart["data-gpu-seconds"], strict=True
        ):
            period = DateRange.month(2024, month)
            cpu, gpu = studio.usage(organization.id, period.start, period.end)
            assert round(float(cpu_text) * 1e6) == cpu
            assert round(float(gpu_text) * 1e6) == gpu


def test_check_html_statuses(cli: Cli) -> None:
    outcome = check(cli, "--format", "html")
    assert outcome.code == 5
    import html.parser
    import re

    statuses = set(re.findall(r'data-status="([a-z ]+)"', outcome.stdout))
    assert {"fail", "warn"} <= statuses, statuses

    parser = html.parser.HTMLParser()
    parser.feed(outcome.stdout)
    parser.close()


def test_metrics_and_orgs_have_no_html(cli: Cli) -> None:
    assert cli.invoke("metrics", "--org", "1", "--format", "html").code == 2
    assert cli.invoke("orgs", "--org", "1", "--format", "html").code == 2


# ---- deleted organizations -----------------------------------------------------------------------


def _deleted(studio: FakeStudio) -> list[int]:
    ids = [o.id for o in studio.inner_organizations(1, include_deleted=True) if o.deleted]
    assert ids, "the default white label has a deleted organization"
    return ids


def test_orgs_marks_deleted_organizations_in_every_format(cli: Cli, studio: FakeStudio) -> None:
    deleted = _deleted(studio)
    listed = ("orgs", "--org", "1", "--include-deleted", "--format")
    rows = rows_of(cli.invoke(*listed, "csv").stdout)
    assert list(rows[0])[:3] == ["id", "name", "deleted"]
    assert [int(r["id"]) for r in rows if r["deleted"] == "True"] == deleted
    assert {r["deleted"] for r in rows} == {"True", "False"}
    data = json.loads(cli.invoke(*listed, "json").stdout)["organizations"]
    assert [o["id"] for o in data if o["deleted"] is True] == deleted
    assert all(o["deleted"] is False for o in data if o["id"] not in deleted)
    for columns in ("200", "80"):  # at 80 columns the names are left out, the mark is not
        table = cli.invoke(*listed, "table", env={"COLUMNS": columns}).stdout
        marked = [line for line in table.splitlines() if re.match(r"│ *\d+\* │", line)]
        assert [int(line.split("│")[1].strip(" *")) for line in marked] == deleted, table
        assert "* after an id: a deleted organization." in " ".join(table.split())
        for inner, line in zip(deleted, marked, strict=True):
            assert (studio.organizations[inner].name in line) == (columns == "200"), line
    # Without --include-deleted nothing is deleted, and the column says so.
    plain = rows_of(cli.invoke("orgs", "--org", "1", "--format", "csv").stdout)
    assert {r["deleted"] for r in plain} == {"False"}


def test_compute_time_of_all_marks_deleted_organizations_in_every_format(
    cli: Cli, studio: FakeStudio
) -> None:
    deleted = _deleted(studio)
    (gone,) = deleted
    name = studio.organizations[gone].name
    args = ("compute-time", "--org", "1", "--all-inner-orgs", "--period", "2024-05", "--format")
    rows = rows_of(cli.invoke(*args, "csv").stdout)
    usage = [r for r in rows if r["kind"] == "usage"]
    assert {
        int(r["inner_organization_id"]) for r in usage if r["inner_organization_deleted"] == "True"
    } == {gone}
    assert {r["inner_organization_deleted"] for r in usage} == {"True", "False"}
    report = Report.from_json(cli.invoke(*args, "json").stdout)
    assert {r.inner_organization_id for r in report.rows if r.inner_organization_deleted} == {gone}
    table = cli.invoke(*args, "table", env={"COLUMNS": "200"}).stdout
    marked = [line for line in table.splitlines() if re.match(r"│ *\d+\* │", line)]
    assert marked
    assert all(line.split("│")[1].strip() == f"{gone}*" and name in line for line in marked)
    document = cli.invoke(*args, "html").stdout
    assert f"(deleted) {html.escape(name)}" in document
    assert document.count("(deleted)") >= 3  # totals, its chart and its rows


def test_check_rows_say_they_are_not_deleted(cli: Cli) -> None:
    # check lists live organizations only (a deleted one has no readable contract).
    rows = rows_of(check(cli, "--format", "csv").stdout)
    assert rows
    assert list(rows[0])[1:3] == ["inner_organization_name", "inner_organization_deleted"]
    assert {r["inner_organization_deleted"] for r in rows} == {"False"}
    data = json.loads(check(cli, "--format", "json").stdout)
    assert {row["inner_organization_deleted"] for row in data["rows"]} == {False}
    table = check(cli).stdout
    assert "(deleted)" not in table
    assert "* after an id" not in " ".join(table.split())  # nothing deleted, no note


# ---- hostile listings: what was listed is shown, the rest is said in one line -------------------

OVERSTATED = ListingQuirks(total_extra=1)
QUIET = ("--warn-at", "10000", "--fail-at", "10000")  # no organization alerts: exit 1 is partial


@pytest.fixture
def hostile() -> Iterator[Cli]:
    with FakeStudio(api_key=SECRET, inner_organizations=25) as studio:
        yield Cli(studio)


def cut_short_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "cut short" in line]


def test_orgs_keeps_every_organization_of_an_overstated_listing(hostile: Cli) -> None:
    hostile.studio.listing_quirks = OVERSTATED
    outcome = hostile.invoke("orgs", "--org", "1", "--format", "csv")
    assert outcome.code == 1  # partial, like a report with failed rows
    ids = [int(r["id"]) for r in rows_of(outcome.stdout)]
    assert ids == [o.id for o in hostile.studio.inner_organizations(1)]
    (line,) = cut_short_lines(outcome.stderr)
    assert line.startswith("ei-usage: the listing of the inner organizations was cut short")
    assert "23 of the 24 organizations the server counts" in line
    listing = [r for r in hostile.studio.requests if r.operation is Operation.ORGANIZATIONS]
    assert len(listing) <= 23 + 3
    data = json.loads(hostile.invoke("orgs", "--org", "1", "--format", "json").stdout)
    assert data["complete"] is False
    assert "cut short" in data["stop_reason"]


def test_orgs_shows_an_organization_listed_twice_once(hostile: Cli) -> None:
    everyone = [o.id for o in hostile.studio.inner_organizations(1)]
    hostile.studio.listing_quirks = ListingQuirks(duplicate_id=everyone[4])
    outcome = hostile.invoke("orgs", "--org", "1", "--format", "csv")
    assert outcome.code == 0, outcome.stderr
    assert [int(r["id"]) for r in rows_of(outcome.stdout)] == everyone


def test_orgs_shows_a_malformed_organization_as_not_read(hostile: Cli) -> None:
    everyone = [o.id for o in hostile.studio.inner_organizations(1)]
    bad = everyone[3]
    hostile.studio.listing_quirks = ListingQuirks(
        bad_fields={bad: {"entitlementLimits.totalStorage": "abc"}}
    )
    outcome = hostile.invoke("orgs", "--org", "1", "--format", "csv")
    assert outcome.code == 1
    assert [int(r["id"]) for r in rows_of(outcome.stdout)] == [i for i in everyone if i != bad]
    assert "1 organization not read" in outcome.stderr
    assert f"inner org {bad}: response field organizations[3].entitlementLimits.totalStorage" in (
        outcome.stderr
    )
    data = json.loads(hostile.invoke("orgs", "--org", "1", "--format", "json").stdout)
    assert data["complete"] is False
    (not_read,) = data["not_read"]
    assert not_read["id"] == bad
    assert not_read["field"] == "organizations[3].entitlementLimits.totalStorage"
    assert len(data["organizations"]) == len(everyone) - 1


def test_check_shows_a_malformed_organization_as_not_read(hostile: Cli) -> None:
    everyone = [o.id for o in hostile.studio.inner_organizations(1)]
    bad = everyone[3]
    hostile.studio.listing_quirks = ListingQuirks(
        bad_fields={bad: {"entitlementLimits.totalStorage": "abc"}}
    )
    outcome = hostile.invoke("check", "--org", "1", "--format", "json", *QUIET)
    assert outcome.code == 1  # none over, but one could not be read
    data = json.loads(outcome.stdout)
    assert sorted(r["inner_organization_id"] for r in data["rows"]) == [
        i for i in everyone if i != bad
    ]
    (error,) = data["errors"]
    assert error["inner_organization_id"] == bad
    assert error["error"]["field"] == "entitlementLimits.totalStorage"
    assert f"inner orgs {bad}: ResponseValidationError" in outcome.stderr
    assert "totalStorage" in outcome.stderr


def test_check_keeps_its_rows_when_the_listing_is_cut_short(hostile: Cli) -> None:
    hostile.studio.listing_quirks = OVERSTATED
    outcome = hostile.invoke("check", "--org", "1", "--format", "json", *QUIET)
    assert outcome.code == 1
    data = json.loads(outcome.stdout)
    assert len(data["rows"]) == len(hostile.studio.inner_organizations(1))
    assert data["complete"] is False
    assert "cut short" in data["listing_stop_reason"]
    assert len(cut_short_lines(outcome.stderr)) == 1
    table = hostile.invoke("check", "--org", "1", *QUIET)
    assert len(cut_short_lines(table.stderr)) == 1


def test_compute_time_of_all_keeps_its_rows_when_the_listing_is_cut_short(hostile: Cli) -> None:
    hostile.studio.listing_quirks = OVERSTATED
    outcome = hostile.invoke(
        "compute-time", "--org", "1", "--all-inner-orgs", "--period", "2024-05", "--format", "json"
    )
    assert outcome.code == 1
    report = Report.from_json(outcome.stdout)
    everyone = hostile.studio.inner_organizations(1, include_deleted=True)
    assert report.inner_organization_ids == tuple(o.id for o in everyone)
    assert len(report.rows) == len(everyone)
    assert report.listing_stop_reason is not None
    (line,) = cut_short_lines(outcome.stderr)
    assert "25 of the 26" in line


def test_orgs_lists_every_organization_of_a_listing_whose_total_understates() -> None:
    # 225 organizations (250, deleted ones left out), total 125, pages of 100: 0.2.1 showed 199
    # and said nothing.
    with FakeStudio(api_key=SECRET, inner_organizations=250, record_requests=False) as studio:
        everyone = [o.id for o in studio.inner_organizations(1)]
        studio.listing_quirks = ListingQuirks(total_extra=-100)
        outcome = Cli(studio).invoke("orgs", "--org", "1", "--format", "json")
    assert outcome.code == 0, outcome.stderr
    data = json.loads(outcome.stdout)
    assert data["complete"] is True
    assert [o["id"] for o in data["organizations"]] == everyone
    assert cut_short_lines(outcome.stderr) == []
