"""``ei-usage forecast`` and ``check --forecast``, reading a fake store built from FakeStudio.

The store package is another branch's; these tests give the commands an in-memory object with
the store's read methods (``monthly_compute_time``, ``contract_snapshots``,
``latest_contracts``), filled from FakeStudio exactly as a sync would fill the real store.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from ei_usage import (
    Client,
    ComputeTime,
    DateRange,
    EntitlementReport,
    Entitlements,
    InnerOrganizationUsage,
)
from ei_usage.cli import _forecast
from ei_usage.forecast import Forecast, forecast_usage
from ei_usage.testing import DEFAULT_NOW, FakeStudio

from .conftest import SECRET
from .test_html import parse

if TYPE_CHECKING:
    from .conftest import Cli

FIRST_MONTH = datetime(2023, 7, 1, tzinfo=UTC)


def _usage(studio: FakeStudio, inner: int, now: datetime) -> InnerOrganizationUsage:
    """What organization info says at ``now``, built from the studio's own model."""
    saved = studio.now()
    studio.set_now(now)
    try:
        body = studio.organization_info_body(inner, include_deleted=True)
        cpu, gpu = studio.contract_usage(inner)
    finally:
        studio.set_now(saved)
    limits = studio.organizations[inner].entitlements

    def seconds(value: int | None) -> timedelta | None:
        return None if value is None else timedelta(seconds=value)

    return InnerOrganizationUsage(
        organization_id=1,
        inner_organization_id=inner,
        cpu=timedelta(microseconds=cpu),
        gpu=timedelta(microseconds=gpu),
        total=timedelta(microseconds=cpu + gpu),
        contract_since=datetime.fromisoformat(str(body["computeTimeCurrentContractSince"])),
        storage_bytes=studio.organizations[inner].total_storage_bytes,
        billable=studio.organizations[inner].billable,
        entitlements=Entitlements(
            compute_time_per_year=seconds(limits.compute_time_per_year_seconds),
            gpu_compute_time_per_year=seconds(limits.gpu_compute_time_per_year_seconds),
            storage_bytes=limits.total_storage_bytes,
        ),
        inner_organization_name=studio.organizations[inner].name,
    )


class FakeStore:
    """The store's read API over FakeStudio's data: 18 months, 31 daily snapshots."""

    def __init__(self, studio: FakeStudio, *, now: datetime = DEFAULT_NOW) -> None:
        self.closed = False
        self.opened: list[str | None] = []
        inner_ids = sorted(o.id for o in studio.inner_organizations(1, include_deleted=True))
        self.monthly: dict[int, list[ComputeTime]] = {}
        self.snapshots: dict[int, list[tuple[datetime, InnerOrganizationUsage]]] = {}
        for inner in inner_ids:
            rows = []
            start = FIRST_MONTH
            while start < now:
                end = (start + timedelta(days=32)).replace(day=1)
                cpu, gpu = studio.usage(inner, start, end)
                rows.append(
                    ComputeTime(
                        1,
                        inner,
                        DateRange(start, end),
                        cpu=timedelta(microseconds=cpu),
                        gpu=timedelta(microseconds=gpu),
                        total=timedelta(microseconds=cpu + gpu),
                    )
                )
                start = end
            self.monthly[inner] = rows
            self.snapshots[inner] = [
                (now - timedelta(days=d), _usage(studio, inner, now - timedelta(days=d)))
                for d in range(30, -1, -1)
            ]

    def monthly_compute_time(
        self, organization_id: int, inner_ids: Iterable[int] | None = None
    ) -> dict[int, list[ComputeTime]]:
        assert organization_id == 1
        wanted = set(self.monthly if inner_ids is None else inner_ids)
        return {k: v for k, v in self.monthly.items() if k in wanted}

    def contract_snapshots(
        self,
        organization_id: int,
        inner_ids: Iterable[int] | None = None,
        *,
        since: datetime | None = None,
    ) -> dict[int, list[tuple[datetime, InnerOrganizationUsage]]]:
        assert organization_id == 1
        wanted = set(self.snapshots if inner_ids is None else inner_ids)
        return {
            k: [(at, usage) for at, usage in v if since is None or at >= since]
            for k, v in self.snapshots.items()
            if k in wanted
        }

    def latest_contracts(self, organization_id: int) -> dict[int, InnerOrganizationUsage]:
        return {k: v[-1][1] for k, v in self.contract_snapshots(organization_id).items()}

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def model() -> FakeStudio:
    return FakeStudio(api_key=SECRET)  # never started: the data of the `studio` fixture


@pytest.fixture(scope="module")
def store_data(model: FakeStudio) -> FakeStore:
    return FakeStore(model)


@pytest.fixture
def store(store_data: FakeStore, monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    store_data.opened = []

    def open_store(db: str | None) -> FakeStore:
        store_data.opened.append(db)
        store_data.closed = False
        return store_data

    monkeypatch.setattr(_forecast, "open_store", open_store)
    monkeypatch.setattr(_forecast, "current_time", lambda: DEFAULT_NOW)
    return store_data


def expected(store: FakeStore, warn_at: float = 0.8, fail_at: float = 1.0) -> dict[int, Forecast]:
    """Forecasts computed directly, as the command should have."""
    result = {}
    for inner, snapshots in store.snapshots.items():
        usage = snapshots[-1][1]
        if _forecast.has_limit(usage):
            result[inner] = forecast_usage(
                usage,
                store.monthly[inner],
                snapshots,
                now=snapshots[-1][0],
                warn_at=warn_at,
                fail_at=fail_at,
            )
    return result


def _seconds(forecast: Forecast) -> float:
    assert forecast.projected is not None
    return forecast.projected.total_seconds()


def test_forecast_json_is_the_models_forecast_most_at_risk_first(
    cli: Cli, store: FakeStore
) -> None:
    outcome = cli.invoke("forecast", "--org", "1", "--format", "json", "--unit", "hours")
    assert outcome.code == 0, outcome.stderr
    data = json.loads(outcome.stdout)
    want = expected(store)
    assert data["unit"] == "hours"
    assert (data["warn_at"], data["fail_at"]) == (0.8, 1.0)
    assert {f["inner_organization_id"] for f in data["forecasts"]} == set(want)
    for item in data["forecasts"]:
        assert item == want[item["inner_organization_id"]].to_dict("hours")
    ratios = [
        max(r for r in (f["compute"]["ratio"], (f["gpu"] or {}).get("ratio")) if r is not None)
        for f in data["forecasts"]
    ]
    assert ratios == sorted(ratios, reverse=True)
    without = {i for i, s in store.snapshots.items() if not _forecast.has_limit(s[-1][1])}
    assert set(data["without_limit"]) == without
    assert store.closed


def test_forecast_thresholds_and_db_are_passed_on(cli: Cli, store: FakeStore) -> None:
    outcome = cli.invoke(
        "forecast", "--org", "1", "--format", "json", "--warn-at", "50", "--fail-at", "90",
        "--db", "/tmp/somewhere.sqlite3",
    )  # fmt: skip
    assert outcome.code == 0, outcome.stderr
    assert store.opened == ["/tmp/somewhere.sqlite3"]
    data = json.loads(outcome.stdout)
    want = expected(store, 0.5, 0.9)
    for item in data["forecasts"]:
        assert item == want[item["inner_organization_id"]].to_dict()
        assert item["compute"]["warn"]["threshold"] == 0.5


def test_forecast_table_names_every_organization_and_its_dates(cli: Cli, store: FakeStore) -> None:
    outcome = cli.invoke("forecast", "--org", "1", env={"COLUMNS": "250"})
    assert outcome.code == 0, outcome.stderr
    assert "Forecast of white label 1" in outcome.stdout
    for inner, forecast in expected(store).items():
        assert re.search(rf"^\W*{inner}\s", outcome.stdout, re.MULTILINE), inner
        assert forecast.contract_end is not None
        assert forecast.contract_end.date().isoformat() in outcome.stdout
    assert "without a compute or GPU limit left out" in " ".join(outcome.stdout.split())


def test_forecast_csv_has_a_row_per_forecast(cli: Cli, store: FakeStore) -> None:
    outcome = cli.invoke("forecast", "--org", "1", "--format", "csv", "--unit", "seconds")
    assert outcome.code == 0, outcome.stderr
    rows = list(csv.DictReader(io.StringIO(outcome.stdout)))
    want = expected(store)
    assert {int(r["inner_organization_id"]) for r in rows} == set(want)
    for row in rows:
        forecast = want[int(row["inner_organization_id"])]
        assert float(row["projected"]) == _seconds(forecast)


def test_forecast_html_draws_each_projection_as_a_dashed_line(cli: Cli, store: FakeStore) -> None:
    outcome = cli.invoke("forecast", "--org", "1", "--format", "html")
    assert outcome.code == 0, outcome.stderr
    page = outcome.stdout
    parse(page)
    want = expected(store)
    dashed = re.findall(
        r'<path class="fc" d="[^"]+" data-kind="forecast" data-seconds="([^"]+)"', page
    )
    assert len(dashed) == len(want)
    projected = sorted(str(_seconds(f)).removesuffix(".0") for f in want.values())
    assert sorted(dashed) == projected
    assert "stroke-dasharray:5 4" in page


def test_an_empty_store_says_to_sync_first(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    class Empty:
        def monthly_compute_time(self, *args: object) -> dict[int, list[ComputeTime]]:
            return {}

        def contract_snapshots(self, *args: object, **kwargs: object) -> dict[int, list[object]]:
            return {}

        def latest_contracts(self, organization_id: int) -> dict[int, InnerOrganizationUsage]:
            return {}

        def close(self) -> None:
            pass

    monkeypatch.setattr(_forecast, "open_store", lambda db: Empty())
    outcome = cli.invoke("forecast", "--org", "1")
    assert outcome.code == 0
    assert "ei-usage sync --org 1" in outcome.stderr


@pytest.mark.parametrize(("missing", "code"), [(True, 2), (False, 1)])
def test_a_store_that_cannot_be_opened_is_one_line_on_stderr(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, missing: bool, code: int
) -> None:
    def refuse(db: str | None) -> None:
        raise _forecast.StoreUnavailableError("cannot open /x/history.sqlite3", missing=missing)

    monkeypatch.setattr(_forecast, "open_store", refuse)
    for args in (("forecast", "--org", "1"), ("check", "--org", "1", "--forecast")):
        outcome = cli.invoke(*args)
        assert outcome.code == code
        assert outcome.stderr_lines == ["ei-usage: error: cannot open /x/history.sqlite3"]


def test_check_without_forecast_never_opens_the_store(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(db: str | None) -> None:
        raise AssertionError("opened")

    monkeypatch.setattr(_forecast, "open_store", refuse)
    outcome = cli.invoke("check", "--org", "1", "--format", "json")
    assert outcome.code in (0, 4, 5)
    assert "forecast" not in json.loads(outcome.stdout)["rows"][0]


def test_check_forecast_adds_each_rows_forecast_and_keeps_the_exit_code(
    cli: Cli, store: FakeStore, studio: FakeStudio
) -> None:
    plain = cli.invoke("check", "--org", "1", "--format", "json")
    outcome = cli.invoke("check", "--org", "1", "--forecast", "--format", "json")
    assert outcome.code == plain.code
    data = json.loads(outcome.stdout)
    with Client(SECRET, base_url=studio.base_url) as client:
        report = client.entitlement_report(1)
    live = {u.inner_organization_id: u for u in report.rows}
    for row in data["rows"]:
        inner = row["inner_organization_id"]
        if not _forecast.has_limit(live[inner]):
            assert row["forecast"] is None
            continue
        want = forecast_usage(
            live[inner],
            store.monthly[inner],
            store.snapshots[inner],
            now=DEFAULT_NOW,
        )
        assert row["forecast"] == want.to_dict()
    assert {k: v for k, v in data.items() if k != "rows"} == {
        k: v for k, v in json.loads(plain.stdout).items() if k != "rows"
    }
    # The check JSON with forecasts still reads back as a check.
    back = EntitlementReport.from_json(outcome.stdout)
    assert [u.inner_organization_id for u in back.rows] == [
        r["inner_organization_id"] for r in data["rows"]
    ]


def test_check_forecast_table_csv_and_html(cli: Cli, store: FakeStore) -> None:
    table = cli.invoke("check", "--org", "1", "--forecast", env={"COLUMNS": "250"})
    assert "Entitlements of white label 1" in table.stdout
    assert "Forecast to each contract's end" in table.stdout
    rows = list(
        csv.DictReader(
            io.StringIO(cli.invoke("check", "--org", "1", "--forecast", "--format", "csv").stdout)
        )
    )
    want = expected(store)
    for row in rows:
        inner = int(row["inner_organization_id"])
        assert (row["projected_ratio"] != "") == (inner in want)
    page = cli.invoke("check", "--org", "1", "--forecast", "--format", "html").stdout
    parse(page)
    lines = re.findall(
        r'<path class="fc" d="M[^"]+" data-kind="forecast" data-fraction="([^"]+)"', page
    )
    checked = json.loads(cli.invoke("check", "--org", "1", "--forecast", "--format", "json").stdout)
    ratios = [
        row["forecast"]["compute"]["ratio"]
        for row in checked["rows"]
        if row["forecast"] and row["forecast"]["compute"]["limit"] is not None
    ]
    assert sorted(float(r) for r in lines) == sorted(ratios)
    assert "Forecast to each contract" in page
    plain = cli.invoke("check", "--org", "1", "--format", "html").stdout
    assert 'class="fc"' not in plain.split("</style>")[1]
