"""Where a refresh writes what it read, besides memory: the history store, when given.

The exporter knows the store only through :class:`Sink`, the three store methods it calls, so
it never imports the store (nor SQLAlchemy) itself; ``ei-usage exporter --db`` opens a store and
passes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from ei_usage._models import ComputeTime, InnerOrganization, InnerOrganizationUsage


class Sink(Protocol):
    """What a refresh writes into (``ei_usage.store.Store`` has these methods)."""

    def record_listing(
        self,
        organization_id: int,
        organizations: Iterable[InnerOrganization],
        seen_at: datetime,
    ) -> None:
        """Record the organizations one listing named."""

    def record_contract(self, usage: InnerOrganizationUsage, fetched_at: datetime) -> None:
        """Record one organization's contract usage."""

    def save_compute_time(
        self, rows: Sequence[ComputeTime], *, every: str, fetched_at: datetime
    ) -> None:
        """Record compute-time rows."""


def write(
    sink: Sink,
    organization_id: int,
    listed: Sequence[InnerOrganization] | None,
    usages: Sequence[InnerOrganizationUsage],
    month: Sequence[ComputeTime],
    at: datetime,
) -> None:
    """Write one refresh into ``sink`` (the listing only when it was read whole)."""
    if listed is not None:
        sink.record_listing(organization_id, listed, at)
    for usage in usages:
        sink.record_contract(usage, at)
    if month:
        sink.save_compute_time(month, every="month", fetched_at=at)
