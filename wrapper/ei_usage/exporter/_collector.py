"""The metric families, built once per snapshot and handed to every scrape.

Names follow Prometheus' naming guide: base units in the name (``_seconds``, ``_bytes``),
``_ratio`` for fractions (1 = the whole entitlement), ``_total`` for counters. Durations are the
wrapper's exact conversion of its timedeltas to seconds (:func:`ei_usage._units.from_timedelta`,
what ``ei-usage check --format json --unit seconds`` prints), so both say the same number.
A value the API did not send, or a limit that is not set (unlimited), is left out, never
served as 0; a use against a limit of 0 is a ratio of +Inf.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ei_usage._units import Unit, from_timedelta

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from datetime import datetime, timedelta

    from ._snapshot import OrganizationSample, Snapshot

PREFIX = "ei_usage_"
# Served from the start at 0 (Prometheus' advice: a counter that appears late hides its first
# increase from rate() and increase()).
OUTCOMES = ("success", "throttled", "client_error", "server_error", "connection_error", "timeout")
STAGES = ("listing", "organization_info", "compute_time", "store", "forecast", "unexpected")
LABELS = ("organization", "inner_organization", "name")


def _seconds(duration: timedelta | None) -> float | None:
    return None if duration is None else from_timedelta(duration, Unit.SECONDS)


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


# (name, help, value of a sample): one gauge family per organization value.
_ORGANIZATION_GAUGES: tuple[tuple[str, str, Callable[[OrganizationSample], float | None]], ...] = (
    (
        "contract_cpu_used_seconds",
        "CPU compute time used since the running contract started.",
        lambda s: None if s.usage is None else _seconds(s.usage.cpu),
    ),
    (
        "contract_gpu_used_seconds",
        "GPU compute time used since the running contract started.",
        lambda s: None if s.usage is None else _seconds(s.usage.gpu),
    ),
    (
        "contract_compute_used_seconds",
        "CPU + GPU compute time used since the running contract started (what the compute "
        "entitlement limits).",
        lambda s: None if s.usage is None else _seconds(s.usage.compute),
    ),
    (
        "contract_compute_limit_seconds",
        "Compute time (CPU + GPU) the contract allows per year; absent when unlimited.",
        lambda s: None if s.usage is None else _seconds(s.usage.entitlements.compute_time_per_year),
    ),
    (
        "contract_gpu_limit_seconds",
        "GPU compute time the contract allows per year; absent when unlimited.",
        lambda s: (
            None if s.usage is None else _seconds(s.usage.entitlements.gpu_compute_time_per_year)
        ),
    ),
    (
        "contract_compute_used_ratio",
        "CPU + GPU compute used over the compute entitlement (1 = all of it).",
        lambda s: None if s.usage is None else s.usage.compute_used_fraction,
    ),
    (
        "contract_gpu_used_ratio",
        "GPU compute used over the GPU entitlement (1 = all of it).",
        lambda s: None if s.usage is None else s.usage.gpu_used_fraction,
    ),
    (
        "storage_used_bytes",
        "Storage used.",
        lambda s: None if s.usage is None else s.usage.storage_bytes,
    ),
    (
        "storage_limit_bytes",
        "Storage the contract allows; absent when unlimited.",
        lambda s: None if s.usage is None else s.usage.entitlements.storage_bytes,
    ),
    (
        "storage_used_ratio",
        "Storage used over the storage entitlement (1 = all of it).",
        lambda s: None if s.usage is None else s.usage.storage_used_fraction,
    ),
    (
        "contract_start_timestamp_seconds",
        "When the running contract's count started (Unix time).",
        lambda s: None if s.usage is None else _timestamp(s.usage.contract_since),
    ),
    (
        "month_cpu_seconds",
        "CPU compute time used in the running calendar month (UTC).",
        lambda s: None if s.month is None else _seconds(s.month.cpu),
    ),
    (
        "month_gpu_seconds",
        "GPU compute time used in the running calendar month (UTC).",
        lambda s: None if s.month is None else _seconds(s.month.gpu),
    ),
    (
        "month_compute_seconds",
        "Total compute time of the running calendar month (UTC), as the API totals it (it "
        "sends minutes).",
        lambda s: None if s.month is None else _seconds(s.month.total),
    ),
    (
        "forecast_compute_used_ratio",
        "Projected CPU + GPU compute over its entitlement at the contract's end.",
        lambda s: None if s.forecast is None else s.forecast.compute_used_ratio,
    ),
    (
        "exporter_values_timestamp_seconds",
        "When this organization's contract values were read (Unix time); older than the last "
        "refresh when the last refreshes could not read it.",
        lambda s: _timestamp(s.usage_fetched_at),
    ),
)

# Seconds until a forecast crossing, as of the refresh that read it.
_CROSSINGS: tuple[tuple[str, str, Callable[[OrganizationSample], datetime | None]], ...] = (
    (
        "forecast_warn_remaining_seconds",
        "Seconds until the projected compute use crosses 80% of the entitlement; absent when "
        "not forecast to cross before the contract ends.",
        lambda s: None if s.forecast is None else s.forecast.warn_at,
    ),
    (
        "forecast_fail_remaining_seconds",
        "Seconds until the projected compute use crosses 100% of the entitlement; absent when "
        "not forecast to cross before the contract ends.",
        lambda s: None if s.forecast is None else s.forecast.fail_at,
    ),
)


def _labels(organization: str, sample: OrganizationSample) -> list[str]:
    return [organization, str(sample.inner_organization_id), sample.name]


def families(snapshot: Snapshot, now: float | None = None) -> list[Metric]:
    """Build the families of one snapshot; crossings count down from ``now`` (Unix time).

    ``now`` defaults to the time of the snapshot's refresh: the values served are those of the
    last refresh, so the seconds until a crossing are too (a refresh every 15 minutes keeps
    them within 15 minutes, against forecasts of days and months).
    """
    org = str(snapshot.organization_id)
    built: list[Metric] = []
    for name, help_text, value in _ORGANIZATION_GAUGES:
        family = GaugeMetricFamily(PREFIX + name, help_text, labels=LABELS)
        for sample in snapshot.organizations:
            number = value(sample)
            if number is not None:
                family.add_metric(_labels(org, sample), float(number))
        if family.samples or not name.startswith("forecast_"):
            built.append(family)
    if now is None:
        at = snapshot.health.last_success_at
        now = time.time() if at is None else at.timestamp()
    built.extend(crossings(snapshot, now))
    built.extend(_health(org, snapshot))
    return built


def _health(org: str, snapshot: Snapshot) -> Iterator[Metric]:
    health = snapshot.health
    labels = ["organization"]

    def gauge(name: str, help_text: str, number: float | None) -> GaugeMetricFamily:
        family = GaugeMetricFamily(PREFIX + "exporter_" + name, help_text, labels=labels)
        if number is not None:
            family.add_metric([org], number)
        return family

    def counter(name: str, help_text: str, number: float) -> CounterMetricFamily:
        family = CounterMetricFamily(PREFIX + "exporter_" + name, help_text, labels=labels)
        family.add_metric([org], number)
        return family

    yield gauge(
        "last_refresh_success_timestamp_seconds",
        "When the last refresh that read the listing ended (Unix time); the values served are "
        "from then or before.",
        _timestamp(health.last_success_at),
    )
    yield gauge(
        "last_refresh_timestamp_seconds",
        "When the last refresh ended, successful or not (Unix time).",
        _timestamp(health.last_refresh_at),
    )
    yield gauge(
        "failing_since_timestamp_seconds",
        "When the refreshes started failing (Unix time); absent while they succeed.",
        _timestamp(health.failing_since),
    )
    yield gauge(
        "refresh_duration_seconds",
        "How long the last refresh took.",
        _seconds(health.last_duration),
    )
    yield gauge(
        "last_refresh_complete",
        "1 when the last refresh read every organization it listed, and the listing whole; else 0.",
        None if health.refreshes == 0 else float(health.last_complete),
    )
    yield gauge(
        "organizations",
        "Inner organizations served.",
        float(len(snapshot.organizations)),
    )
    yield counter("refreshes", "Refreshes finished, successful or not.", health.refreshes)
    yield counter("throttles", "429 answers the client absorbed (waited out).", health.throttles)
    requests = CounterMetricFamily(
        PREFIX + "exporter_api_requests",
        "HTTP requests sent to the API, retries included, by outcome.",
        labels=["organization", "outcome"],
    )
    for outcome in sorted({*OUTCOMES, *health.requests}):
        requests.add_metric([org, outcome], health.requests.get(outcome, 0))
    yield requests
    errors = CounterMetricFamily(
        PREFIX + "exporter_refresh_errors",
        "Failures during refreshes, by what failed (listing, organization_info, compute_time: "
        "one per organization not read; store, forecast, unexpected).",
        labels=["organization", "stage"],
    )
    for stage in sorted({*STAGES, *health.errors}):
        errors.add_metric([org, stage], health.errors.get(stage, 0))
    yield errors


def crossings(snapshot: Snapshot, now: float) -> Iterator[Metric]:
    """The seconds-until-crossing families, as of ``now`` (Unix time); none when empty."""
    org = str(snapshot.organization_id)
    for name, help_text, moment in _CROSSINGS:
        family = GaugeMetricFamily(PREFIX + name, help_text, labels=LABELS)
        for sample in snapshot.organizations:
            at = moment(sample)
            if at is not None:
                family.add_metric(_labels(org, sample), max(0.0, at.timestamp() - now))
        if family.samples:
            yield family


class SnapshotCollector(Collector):
    """Answers every collection from the published families: no API request, no lock."""

    def __init__(self, current: Callable[[], Sequence[Metric]]) -> None:
        self._current = current

    def collect(self) -> Iterable[Metric]:
        """Return the published families (prometheus-client's hook)."""
        return list(self._current())
