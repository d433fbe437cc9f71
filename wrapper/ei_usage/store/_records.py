"""What the store's reads return: frozen records of stored facts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from ei_usage._history import StoredComputeTime

__all__ = ["ComputeTimeChange", "StoredComputeTime", "StoredOrganization", "SyncRun"]

if TYPE_CHECKING:
    from datetime import datetime

    from ei_usage._dates import DateRange, Every
    from ei_usage._models import ComputeTime, Entitlements


@attrs.frozen
class StoredOrganization:
    """An inner organization as the white label's listings described it over time.

    Attributes:
        organization_id: the white label.
        id: the inner organization's id.
        name: its name in the latest listing.
        deleted: whether the latest listing marked it deleted.
        created: when it was created (aware UTC), or None.
        billable: whether it is billed, or None when the API did not say.
        entitlements: its limits as last seen.
        first_seen: the first listing that had it.
        last_seen: the latest listing that had it.
    """

    organization_id: int
    id: int
    name: str
    deleted: bool
    created: datetime | None
    billable: bool | None
    entitlements: Entitlements
    first_seen: datetime
    last_seen: datetime


@attrs.frozen
class SyncRun:
    """One run of ``ei-usage sync`` (or of :func:`ei_usage.store.sync`).

    Attributes:
        id: the run's id in the store.
        organization_id: the white label synced.
        started_at: when it started.
        finished_at: when it finished, or None (still running, or killed).
        every: the calendar unit of its compute-time facts.
        period: the range it covered, or None.
        requests: requests it sent (listing, organization info, compute time).
        throttles: 429 answers it absorbed.
        errors: requests that failed for good.
        fetched: compute-time facts fetched from the API.
        reused: compute-time facts of closed periods read from the store instead.
        stop_reason: why it stopped early, or None.
    """

    id: int
    organization_id: int
    started_at: datetime
    finished_at: datetime | None
    every: Every
    period: DateRange | None
    requests: int
    throttles: int
    errors: int
    fetched: int
    reused: int
    stop_reason: str | None


@attrs.frozen
class ComputeTimeChange:
    """A closed period whose numbers the API changed (seen on a ``--refresh``).

    Attributes:
        old: the row as stored before.
        new: the row as the API answered since.
        old_fetched_at: when the old numbers were fetched.
        new_fetched_at: when the new ones were.
    """

    old: ComputeTime
    new: ComputeTime
    old_fetched_at: datetime
    new_fetched_at: datetime
