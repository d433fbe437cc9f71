"""The refresh: one listing, one info request and one compute-time request per organization.

Everything goes through one :class:`~ei_usage.Client`, so its rate limiter and throttle budget
pace the refresh as they pace any report. A refresh never raises for the API: what failed is
counted in the health values, and the values of organizations it could not read stay served
(with the time they were read). An organization no complete listing has named for
``forget_after`` (deleted, or moved out of the white label) is dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ei_usage._client import Client
from ei_usage._dates import DateRange
from ei_usage._errors import APITimeoutError, EdgeImpulseError
from ei_usage._listing import IncompleteListingWarning

from . import _forecast
from ._sink import write
from ._snapshot import Health, OrganizationSample, Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ei_usage._models import ComputeTime, InnerOrganization, InnerOrganizationUsage
    from ei_usage._parse import Answer

    from ._sink import Sink

logger = logging.getLogger("ei_usage.exporter")

DEFAULT_FORGET_AFTER = timedelta(hours=1)
"""How long an organization no complete listing names stays served."""


def _outcome(status: int) -> str:
    if 200 <= status < 300:
        return "success"
    if status == 429:
        return "throttled"
    return "server_error" if status >= 500 else "client_error"


class ExporterClient(Client):
    """A :class:`~ei_usage.Client` that also counts its HTTP requests by outcome.

    Every attempt counts, retries included: ``success`` (2xx), ``throttled`` (429),
    ``client_error`` (other 4xx), ``server_error`` (5xx), ``connection_error`` (no answer) and
    ``timeout``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counts: collections.Counter[str] = collections.Counter()
        self._counts_lock = threading.Lock()

    def request_counts(self) -> dict[str, int]:
        """Return the requests sent so far, by outcome."""
        with self._counts_lock:
            return dict(self._counts)

    def _attempt(self, *args: Any, **kwargs: Any) -> Answer:
        # Client._attempt sends once and reads the answer (or raises): one HTTP request.
        try:
            answer: Answer = super()._attempt(*args, **kwargs)
        except APITimeoutError:
            self._count("timeout")
            raise
        except EdgeImpulseError:
            self._count("connection_error")
            raise
        self._count(_outcome(answer.status_code))
        return answer

    def _count(self, outcome: str) -> None:
        with self._counts_lock:
            self._counts[outcome] += 1


def _now() -> datetime:
    return datetime.now(UTC)


def running_month(now: datetime) -> DateRange:
    """Return the calendar month (UTC) that holds ``now``."""
    now = now.astimezone(UTC)
    return DateRange.month(now.year, now.month)


@attrs.define
class Refresher:
    """Reads the white label and builds the next snapshot from the previous one.

    Args:
        client: the client every request goes through (an :class:`ExporterClient` also
            counts requests by outcome).
        organization_id: the white-label organization.
        sink: where each refresh also writes (the history store), or None.
        forget_after: how long an organization no complete listing names stays served.
        concurrency: requests in flight at once.
        clock: the current time (aware UTC); tests pass their own.
    """

    client: Client
    organization_id: int
    sink: Sink | None = None
    forget_after: timedelta = DEFAULT_FORGET_AFTER
    concurrency: int = 8
    clock: Callable[[], datetime] = _now
    _errors: collections.Counter[str] = attrs.field(factory=collections.Counter, init=False)
    # With a store that keeps history (``--db``), what the forecast reads: per inner id, the
    # stored months and this contract year's snapshots, read once per refresh.
    _history: tuple[Mapping[int, Sequence[ComputeTime]], Mapping[int, Sequence[Any]]] = attrs.field(
        factory=lambda: ({}, {}), init=False
    )

    def refresh(self, previous: Snapshot) -> Snapshot:
        """Read everything once and return the snapshot to serve next (never raises for the API).

        Raises:
            KeyboardInterrupt: Ctrl-C (or the exporter's stop): nothing more is sent.
        """
        started = time.monotonic()
        now = self.clock()
        org = self.organization_id
        listed, complete = self._list()
        usages: list[InnerOrganizationUsage] = []
        months: list[ComputeTime] = []
        if listed is not None:
            targets: Sequence[InnerOrganization | int] = [*listed[0], *listed[1]]
            usages, ok_info = self._contracts(targets)
            months, ok_month = self._month(targets, running_month(now))
            complete = complete and ok_info and ok_month
        fetched_at = self.clock()
        if self.sink is not None:
            try:
                write(
                    self.sink,
                    org,
                    None if listed is None or not complete else listed[0],
                    usages,
                    months,
                    fetched_at,
                )
            except Exception as error:
                self._errors["store"] += 1
                complete = False
                logger.warning("ei_usage: exporter: writing to the store failed: %s", error)
            self._history = self._read_history(now)
        samples = self._merge(previous, listed, complete, usages, months, fetched_at)
        ended = self.clock()
        before = previous.health
        success = listed is not None
        rate = self.client.rate_stats()
        counts = self.client.request_counts() if isinstance(self.client, ExporterClient) else {}
        health = Health(
            refreshes=before.refreshes + 1,
            last_refresh_at=ended,
            last_success_at=ended if success else before.last_success_at,
            last_duration=timedelta(seconds=time.monotonic() - started),
            last_complete=complete,
            failing_since=None if success else before.failing_since or ended,
            requests=counts,
            errors=dict(self._errors),
            throttles=rate.throttles,
        )
        return Snapshot(org, samples, health)

    def count_unexpected(self) -> None:
        """Count a refresh that failed with an unexpected exception."""
        self._errors["unexpected"] += 1

    def failed(self, previous: Snapshot) -> Snapshot:
        """Return ``previous`` with its health saying a refresh failed just now."""
        ended = self.clock()
        before = previous.health
        return attrs.evolve(
            previous,
            health=attrs.evolve(
                before,
                refreshes=before.refreshes + 1,
                last_refresh_at=ended,
                last_complete=False,
                failing_since=before.failing_since or ended,
                errors=dict(self._errors),
            ),
        )

    def _list(self) -> tuple[tuple[list[InnerOrganization], list[int]] | None, bool]:
        """List the white label: (organizations, ids of unreadable records), and completeness."""
        listing = self.client.inner_organizations(self.organization_id)
        try:
            with warnings.catch_warnings():
                # Said by the health values instead (the last refresh was not complete).
                warnings.simplefilter("ignore", IncompleteListingWarning)
                organizations = list(listing)
        except EdgeImpulseError as error:
            self._errors["listing"] += 1
            logger.warning("ei_usage: exporter: listing the organizations failed: %s", error)
            return None, False
        unread = [failure.inner_organization_id for failure in listing.errors]
        complete = listing.stop_reason is None and not unread
        if not complete:
            self._errors["listing"] += 1
        return (organizations, unread), complete

    def _contracts(
        self, targets: Sequence[InnerOrganization | int]
    ) -> tuple[list[InnerOrganizationUsage], bool]:
        try:
            report = self.client.entitlement_report(
                self.organization_id, targets, concurrency=self.concurrency
            )
        except EdgeImpulseError as error:  # nothing listed is asked again: only a bad argument
            self._errors["organization_info"] += 1
            logger.warning("ei_usage: exporter: reading contracts failed: %s", error)
            return [], False
        failed = len(report.errors) + len(report.not_attempted)
        if failed:
            self._errors["organization_info"] += failed
        return list(report.rows), failed == 0

    def _month(
        self, targets: Sequence[InnerOrganization | int], month: DateRange
    ) -> tuple[list[ComputeTime], bool]:
        if not targets:
            return [], True
        try:
            report = self.client.compute_time_report(
                self.organization_id, targets, month, every="month", concurrency=self.concurrency
            )
        except EdgeImpulseError as error:
            self._errors["compute_time"] += 1
            logger.warning("ei_usage: exporter: reading compute time failed: %s", error)
            return [], False
        failed = len(report.errors) + len(report.not_attempted)
        if failed:
            self._errors["compute_time"] += failed
        return list(report.rows), failed == 0

    def _merge(
        self,
        previous: Snapshot,
        listed: tuple[list[InnerOrganization], list[int]] | None,
        complete: bool,
        usages: Sequence[InnerOrganizationUsage],
        months: Sequence[ComputeTime],
        at: datetime,
    ) -> tuple[OrganizationSample, ...]:
        samples = {s.inner_organization_id: s for s in previous.organizations}
        if listed is not None:
            for organization in listed[0]:
                old = samples.get(organization.id)
                samples[organization.id] = (
                    attrs.evolve(old, name=organization.name, last_seen=at)
                    if old is not None
                    else OrganizationSample(
                        organization.id, organization.name, None, None, None, None, at
                    )
                )
            for inner in listed[1]:
                old = samples.get(inner)
                samples[inner] = (
                    attrs.evolve(old, last_seen=at)
                    if old is not None
                    else OrganizationSample(inner, "", None, None, None, None, at)
                )
        month_of = {row.inner_organization_id: row for row in months}
        for usage in usages:
            old = samples.get(usage.inner_organization_id)
            if old is None:  # not listed this time (cannot happen: we read what we listed)
                continue
            samples[usage.inner_organization_id] = attrs.evolve(
                old, usage=usage, usage_fetched_at=at
            )
        for inner, row in month_of.items():
            old = samples.get(inner)
            if old is not None:
                samples[inner] = attrs.evolve(old, month=row)
        if listed is not None and complete:
            # Only a complete listing may say an organization is gone.
            cutoff = at - self.forget_after
            samples = {i: s for i, s in samples.items() if s.last_seen >= cutoff}
        result = []
        for inner in sorted(samples):
            sample = samples[inner]
            if sample.usage is not None and (
                sample.usage_fetched_at == at or sample.forecast is None
            ):
                sample = attrs.evolve(sample, forecast=self._forecast(sample, at))
            result.append(sample)
        return tuple(result)

    def _read_history(
        self, now: datetime
    ) -> tuple[Mapping[int, Sequence[ComputeTime]], Mapping[int, Sequence[Any]]]:
        """The store's monthly history and recent contract snapshots, when it keeps them."""
        monthly = getattr(self.sink, "monthly_compute_time", None)
        snapshots = getattr(self.sink, "contract_snapshots", None)
        if monthly is None or snapshots is None:
            return {}, {}
        try:
            # A contract runs a year: older snapshots belong to an earlier one.
            since = now - timedelta(days=400)
            return monthly(self.organization_id), snapshots(self.organization_id, since=since)
        except Exception as error:
            self._errors["store"] += 1
            logger.warning("ei_usage: exporter: reading history from the store failed: %s", error)
            return {}, {}

    def _forecast(self, sample: OrganizationSample, at: datetime) -> Any:
        assert sample.usage is not None
        monthly, snapshots = self._history
        inner = sample.inner_organization_id
        months = monthly.get(inner) or ([] if sample.month is None else [sample.month])
        try:
            return _forecast.forecast(
                sample.usage, months, now=at, snapshots=snapshots.get(inner, ())
            )
        except Exception as error:
            self._errors["forecast"] += 1
            logger.warning(
                "ei_usage: exporter: forecasting inner organization %d failed: %s",
                sample.inner_organization_id,
                error,
            )
            return None
