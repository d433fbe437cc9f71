"""The exporter against FakeStudio: values, scrapes that cost nothing, faults, staleness, sink."""

from __future__ import annotations

import math
import sys
import threading
import types
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ei_usage import ComputeTime, InnerOrganization, InnerOrganizationUsage
from ei_usage.exporter import Exporter, ExporterClient, running_month
from ei_usage.testing import FakeStudio, Fault, ListingQuirks, Operation

from .conftest import SECRET, Served, by_inner, check_json, health, parse

LIVE = [2, 3, 4, 5, 6, 7, 9, 10, 11]  # organization 8 is deleted in the default white label


def test_one_refresh_sends_one_listing_one_info_and_one_compute_time_per_organization(
    served: Served,
) -> None:
    served.exporter.refresh()
    operations = [r.operation for r in served.studio.requests]
    assert operations.count(Operation.ORGANIZATIONS) == 1
    assert operations.count(Operation.ORGANIZATION_INFO) == len(LIVE)
    assert operations.count(Operation.COMPUTE_TIME) == len(LIVE)
    assert len(operations) == 1 + 2 * len(LIVE)
    month = running_month(datetime.now(UTC))
    for request in served.studio.requests:
        if request.operation is Operation.COMPUTE_TIME:
            assert request.query["startDate"][0].startswith(month.start.strftime("%Y-%m-%d"))
    samples = served.samples()
    assert health(samples, "api_requests_total", outcome="success") == 1 + 2 * len(LIVE)
    assert health(samples, "last_refresh_complete") == 1.0
    assert health(samples, "organizations") == len(LIVE)


def test_values_are_check_json_exactly(served: Served) -> None:
    served.exporter.refresh()
    samples = served.samples()
    check = check_json(served.studio)
    rows = {row["inner_organization_id"]: row for row in check["rows"]}  # type: ignore[attr-defined]
    assert sorted(rows) == LIVE
    pairs = {
        "ei_usage_contract_cpu_used_seconds": lambda r: r["cpu"],
        "ei_usage_contract_gpu_used_seconds": lambda r: r["gpu"],
        "ei_usage_contract_compute_used_seconds": lambda r: r["compute"],
        "ei_usage_contract_compute_limit_seconds": lambda r: r["entitlements"][
            "compute_time_per_year"
        ],
        "ei_usage_contract_gpu_limit_seconds": lambda r: r["entitlements"][
            "gpu_compute_time_per_year"
        ],
        "ei_usage_storage_used_bytes": lambda r: r["storage_bytes"],
        "ei_usage_storage_limit_bytes": lambda r: r["entitlements"]["storage_bytes"],
        "ei_usage_contract_compute_used_ratio": lambda r: r["compute_used_fraction"],
        "ei_usage_contract_gpu_used_ratio": lambda r: r["gpu_used_fraction"],
        "ei_usage_storage_used_ratio": lambda r: r["storage_used_fraction"],
    }
    for name, of in pairs.items():
        served_values = by_inner(samples, name)
        expected = {}
        for inner, row in rows.items():
            value = of(row)
            if value is not None:
                expected[inner] = math.inf if value == "infinite" else float(value)
        assert served_values == expected, name  # exact: no float drift
    # Unlimited organizations have no limit sample (never a 0), and some are limited.
    assert 0 < len(by_inner(samples, "ei_usage_contract_compute_limit_seconds")) < len(LIVE)
    # Names come from the listing.
    names = {dict(labels)["name"] for (n, labels) in samples if n.startswith("ei_usage_contract")}
    assert names == {row["inner_organization_name"] for row in rows.values()}


def test_running_month_is_compute_time_of_the_month(served: Served) -> None:
    served.exporter.refresh()
    samples = served.samples()
    month = running_month(datetime.now(UTC))
    cpu = by_inner(samples, "ei_usage_month_cpu_seconds")
    gpu = by_inner(samples, "ei_usage_month_gpu_seconds")
    assert sorted(cpu) == LIVE
    for inner in LIVE:
        cpu_us, gpu_us = served.studio.usage(inner, month.start, month.end)
        assert cpu[inner] == cpu_us / 1_000_000
        assert gpu[inner] == gpu_us / 1_000_000
    assert sorted(by_inner(samples, "ei_usage_month_compute_seconds")) == LIVE


def test_a_thousand_scrapes_from_four_threads_cost_no_request(served: Served) -> None:
    served.exporter.refresh()
    before = served.studio.request_count
    first = served.scrape()
    failures: list[BaseException] = []

    def scraper() -> None:
        try:
            for _ in range(250):
                text = served.scrape()
                assert "ei_usage_contract_compute_used_ratio{" in text
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=scraper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures
    assert served.studio.request_count == before
    assert served.client.request_counts() == {"success": 1 + 2 * len(LIVE)}
    assert health(parse(first), "api_requests_total", outcome="throttled") == 0
    assert parse(served.scrape()) == parse(first)


def test_the_credential_is_never_served(served: Served) -> None:
    served.studio.inject(Fault.server_error(500, message=f"boom {SECRET}"), times=20)
    served.exporter.refresh()
    text = served.scrape()
    assert SECRET not in text
    assert "boom" not in text  # server text never becomes a label


def _refreshed(served: Served) -> dict[Any, float]:
    served.exporter.refresh()
    return served.samples()


@pytest.mark.parametrize(
    ("fault", "stage"),
    [
        (Fault.server_error(500), "organization_info"),
        (Fault.drop_connection(), "organization_info"),
        (Fault.rate_limited(retry_after=1), "organization_info"),
    ],
    ids=["500s", "dropped-connection", "429-storm"],
)
def test_faults_keep_the_last_values_served_and_say_so(
    served: Served, fault: Fault, stage: str
) -> None:
    good = _refreshed(served)
    ratio = by_inner(good, "ei_usage_contract_compute_used_ratio")
    fetched = by_inner(good, "ei_usage_exporter_values_timestamp_seconds")
    assert sorted(fetched) == LIVE
    success = health(good, "last_refresh_success_timestamp_seconds")
    served.studio.inject(fault, times=1000, operation=Operation.ORGANIZATION_INFO)
    bad = _refreshed(served)
    assert by_inner(bad, "ei_usage_contract_compute_used_ratio") == ratio
    assert by_inner(bad, "ei_usage_exporter_values_timestamp_seconds") == fetched
    assert health(bad, "last_refresh_complete") == 0.0
    assert health(bad, "refresh_errors_total", stage=stage) == len(LIVE)
    # The listing was read: the refresh counts as successful, but not complete.
    assert health(bad, "last_refresh_success_timestamp_seconds") > success  # type: ignore[operator]
    outcomes = {
        dict(labels)["outcome"]: value
        for (name, labels), value in bad.items()
        if name == "ei_usage_exporter_api_requests_total"
    }
    expected = {
        "500s": "server_error",
        "dropped-connection": "connection_error",
        "429-storm": "throttled",
    }
    assert outcomes[expected[_id(fault)]] > 0
    if _id(fault) == "429-storm":
        assert health(bad, "throttles_total") >= 1  # type: ignore[operator]


def _id(fault: Fault) -> str:
    text = repr(fault)
    if "429" in text:
        return "429-storm"
    if "drop" in text.lower():
        return "dropped-connection"
    return "500s"


def test_api_down_keeps_the_values_and_says_since_when(studio: FakeStudio) -> None:
    client = ExporterClient(SECRET, base_url=studio.base_url, max_retries=0)
    exporter = Exporter(client, 1)
    with client:
        exporter.refresh()
        good = parse(_exposition(exporter))
        studio.stop()
        exporter.refresh()
        first_failure = parse(_exposition(exporter))
        exporter.refresh()
        down = parse(_exposition(exporter))
    ratio = by_inner(good, "ei_usage_contract_compute_used_ratio")
    assert ratio
    assert by_inner(down, "ei_usage_contract_compute_used_ratio") == ratio
    success = health(good, "last_refresh_success_timestamp_seconds")
    assert health(down, "last_refresh_success_timestamp_seconds") == success
    since = health(first_failure, "failing_since_timestamp_seconds")
    assert since is not None
    assert since > success  # type: ignore[operator]
    assert health(down, "failing_since_timestamp_seconds") == since
    assert health(good, "failing_since_timestamp_seconds") is None
    assert health(down, "refresh_errors_total", stage="listing") == 2
    assert health(down, "refreshes_total") == 3
    assert health(down, "api_requests_total", outcome="connection_error") == 2


def _exposition(exporter: Exporter) -> str:
    from prometheus_client import generate_latest

    return generate_latest(exporter.registry).decode()


def test_a_hostile_listing_keeps_serving_and_is_reported(served: Served) -> None:
    good = _refreshed(served)
    served.studio.listing_quirks = ListingQuirks(
        bad_fields={5: {"entitlementLimits.totalStorage": "abc"}}
    )
    bad = _refreshed(served)
    assert health(bad, "last_refresh_complete") == 0.0
    assert health(bad, "refresh_errors_total", stage="listing") == 1
    # Organization 5's record is unreadable: it stays served with the values last read.
    assert (
        by_inner(bad, "ei_usage_contract_compute_used_ratio").keys()
        == by_inner(good, "ei_usage_contract_compute_used_ratio").keys()
    )
    served.studio.listing_quirks = ListingQuirks(ignore_offset=True, total_extra=500)
    endless = _refreshed(served)
    assert health(endless, "last_refresh_complete") == 0.0
    assert sorted(by_inner(endless, "ei_usage_contract_compute_used_ratio")) == sorted(
        by_inner(good, "ei_usage_contract_compute_used_ratio")
    )


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_deleted_organizations_drop_out_after_forget_after(studio: FakeStudio) -> None:
    clock = _Clock()
    client = ExporterClient(SECRET, base_url=studio.base_url, max_retries=0)
    exporter = Exporter(client, 1, forget_after=timedelta(hours=1), clock=clock)
    with client:
        exporter.refresh()
        studio.set_deleted(3)
        clock.now += timedelta(minutes=30)
        exporter.refresh()
        assert 3 in {s.inner_organization_id for s in exporter.snapshot.organizations}
        # The API down for hours drops nothing: only a complete listing says one is gone.
        clock.now += timedelta(hours=2)
        studio.inject(Fault.server_error(500), operation=Operation.ORGANIZATIONS)
        exporter.refresh()
        assert 3 in {s.inner_organization_id for s in exporter.snapshot.organizations}
        clock.now += timedelta(minutes=1)
        exporter.refresh()
    assert {s.inner_organization_id for s in exporter.snapshot.organizations} == set(LIVE) - {3}


class FakeSink:
    """Records what a refresh writes, as the store would."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.listings: list[tuple[int, list[InnerOrganization], datetime]] = []
        self.contracts: list[tuple[InnerOrganizationUsage, datetime]] = []
        self.compute: list[tuple[list[ComputeTime], str, datetime]] = []

    def record_listing(
        self, organization_id: int, organizations: Iterable[InnerOrganization], seen_at: datetime
    ) -> None:
        if self.fail:
            raise OSError("disk full")
        self.listings.append((organization_id, list(organizations), seen_at))

    def record_contract(self, usage: InnerOrganizationUsage, fetched_at: datetime) -> None:
        self.contracts.append((usage, fetched_at))

    def save_compute_time(
        self, rows: Sequence[ComputeTime], *, every: str, fetched_at: datetime
    ) -> None:
        self.compute.append((list(rows), every, fetched_at))


def test_each_refresh_writes_into_the_sink(studio: FakeStudio) -> None:
    sink = FakeSink()
    client = ExporterClient(SECRET, base_url=studio.base_url)
    with client:
        exporter = Exporter(client, 1, sink=sink)
        exporter.refresh()
        exporter.refresh()
    assert [len(organizations) for _, organizations, _ in sink.listings] == [len(LIVE)] * 2
    assert sorted(u.inner_organization_id for u, _ in sink.contracts) == sorted(LIVE * 2)
    assert [(len(rows), every) for rows, every, _ in sink.compute] == [(len(LIVE), "month")] * 2
    month = running_month(datetime.now(UTC))
    assert all(row.period == month for rows, _, _ in sink.compute for row in rows)


def test_a_failing_sink_is_counted_and_serving_goes_on(served: Served) -> None:
    client = served.client
    exporter = Exporter(client, 1, sink=FakeSink(fail=True))
    exporter.refresh()
    samples = parse(_exposition(exporter))
    assert health(samples, "refresh_errors_total", stage="store") == 1
    assert health(samples, "last_refresh_complete") == 0.0
    assert len(by_inner(samples, "ei_usage_contract_compute_used_ratio")) > 0


def test_forecast_families_are_absent_without_a_model(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ei_usage.forecast", None)  # importing it fails
    served.exporter.refresh()
    names = {name for name, _ in served.samples()}
    assert not any(name.startswith("ei_usage_forecast") for name in names)


def _forecast_like(ratio: float, warn: datetime | None, fail: datetime | None) -> Any:
    """What ``ei_usage.forecast.forecast_usage`` returns, as far as the exporter reads it."""

    def crossing(at: datetime | None) -> Any:
        return None if at is None else types.SimpleNamespace(at=at)

    compute = types.SimpleNamespace(ratio=ratio, warn=crossing(warn), fail=crossing(fail))
    return types.SimpleNamespace(compute=compute)


def test_forecast_families_come_from_the_model(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    crossing = datetime.now(UTC) + timedelta(days=30)
    calls = []

    def forecast_usage(usage: InnerOrganizationUsage, monthly: Any, **kwargs: Any) -> Any:
        calls.append((usage.inner_organization_id, list(monthly), kwargs))
        return _forecast_like(ratio=1.25, warn=crossing, fail=None)

    module = types.ModuleType("ei_usage.forecast")
    module.forecast_usage = forecast_usage  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ei_usage.forecast", module)
    served.exporter.refresh()
    samples = served.samples()
    limited = by_inner(samples, "ei_usage_contract_compute_limit_seconds")
    assert by_inner(samples, "ei_usage_forecast_compute_used_ratio") == dict.fromkeys(limited, 1.25)
    remaining = by_inner(samples, "ei_usage_forecast_warn_remaining_seconds")
    assert remaining.keys() == limited.keys()
    assert all(29 * 86400 < value <= 30 * 86400 for value in remaining.values())
    assert by_inner(samples, "ei_usage_forecast_fail_remaining_seconds") == {}
    assert all(len(monthly) == 1 for _, monthly, _ in calls)
    assert all(kwargs["warn_at"] == 0.8 and kwargs["fail_at"] == 1.0 for *_, kwargs in calls)


def test_heavy_modules_stay_out_of_a_plain_import() -> None:
    import subprocess

    code = (
        "import sys; from ei_usage import Client; "
        "print(any(m == 'prometheus_client' or m.startswith(('prometheus_client.', "
        "'ei_usage.exporter')) for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"


def test_http_answers_as_prometheus_and_curl_ask(served: Served) -> None:
    import gzip
    import urllib.error
    import urllib.request

    served.exporter.refresh()
    prometheus = {
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        "Accept-Encoding": "gzip",
    }
    request = urllib.request.Request(served.url, headers=prometheus)
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.headers["Content-Encoding"] == "gzip"
        assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
        body = gzip.decompress(answer.read()).decode()
    assert body.endswith("# EOF\n")
    assert "ei_usage_contract_compute_used_ratio{" in body
    with urllib.request.urlopen(served.url, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "Content-Encoding" not in answer.headers
        plain = answer.read().decode()
    assert parse(plain) == parse(body.replace("# EOF\n", ""))
    head = urllib.request.Request(served.url, method="HEAD")
    with urllib.request.urlopen(head, timeout=10) as answer:
        assert answer.read() == b""
    for method, path, status in (("POST", "/metrics", 405), ("GET", "/favicon.ico", 404)):
        other = urllib.request.Request(served.url.replace("/metrics", path), method=method)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(other, timeout=10)
        assert refused.value.code == status
        refused.value.close()


def test_forecast_families_from_the_real_model(served: Served) -> None:
    try:
        import ei_usage.forecast  # noqa: F401
    except ImportError:
        pytest.skip("ei_usage.forecast is not in this tree yet (it lands from h/forecast)")
    served.exporter.refresh()
    samples = served.samples()
    limited = by_inner(samples, "ei_usage_contract_compute_limit_seconds")
    ratios = by_inner(samples, "ei_usage_forecast_compute_used_ratio")
    assert ratios.keys() == limited.keys()
    used = by_inner(samples, "ei_usage_contract_compute_used_ratio")
    # A forecast at the contract's end is never below what is already used.
    assert all(ratios[inner] >= used[inner] for inner in ratios)
    over = {inner for inner, ratio in used.items() if ratio >= 1}
    fail = by_inner(samples, "ei_usage_forecast_fail_remaining_seconds")
    assert over <= fail.keys()
    assert all(fail[inner] == 0 for inner in over)  # already crossed


def test_with_a_store_the_forecast_reads_its_history(
    studio: FakeStudio, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_module = pytest.importorskip("ei_usage.store", reason="the store extra is missing")
    seen: dict[int, tuple[int, int]] = {}

    def forecast_usage(usage: InnerOrganizationUsage, monthly: Any, **kwargs: Any) -> Any:
        seen[usage.inner_organization_id] = (len(monthly), len(kwargs["snapshots"]))
        return _forecast_like(ratio=0.5, warn=None, fail=None)

    module = types.ModuleType("ei_usage.forecast")
    module.forecast_usage = forecast_usage  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ei_usage.forecast", module)
    now = datetime.now(UTC)
    since = f"{now.year - 1}-{now.month:02d}"
    with (
        store_module.Store.open(tmp_path / "history.sqlite3") as store,
        ExporterClient(SECRET, base_url=studio.base_url) as client,
    ):
        store_module.sync(client, store, 1, since)  # a year of months, one contract snapshot
        exporter = Exporter(client, 1, sink=store)
        exporter.refresh()
        stored = store.monthly_compute_time(1)
    limited = {i for i in LIVE if seen.get(i)}
    assert limited, "no organization with a compute limit was forecast"
    for inner in limited:
        months, snapshots = seen[inner]
        assert months == len(stored[inner]) == 13  # the store's months, not the running one alone
        assert snapshots == 2  # the sync's snapshot and this refresh's
