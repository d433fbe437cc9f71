"""The history store as a report sees it: what is already known, and where fetched rows go.

A report reads through a store (``compute_time_report(..., store=...)``): the rows of closed
periods that the store holds are not asked for again, and every row fetched is handed to the
store as it arrives. The store itself (:mod:`ei_usage.store`: SQLAlchemy, SQLite or PostgreSQL)
is an optional extra that the core never imports; it only needs these two methods, so a tool can
also pass an object of its own.

A period is *closed* when it ended more than a settle margin ago (default 3 days: usage can be
reported late); only closed periods are taken from a store. The running month is always fetched.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._dates import DateRange, Every
    from ._models import ComputeTime

DEFAULT_SETTLE = timedelta(days=3)
"""How long after a period ends its usage may still change: periods are closed after this."""


@attrs.frozen
class StoredComputeTime:
    """A compute-time row a store held, and when it was fetched from the API.

    Attributes:
        row: the row, rebuilt from the numbers the API sent (equal to the API's row).
        fetched_at: when it was fetched (aware UTC).
    """

    row: ComputeTime
    fetched_at: datetime


class UsageHistory(Protocol):
    """What a report needs of a history store (:class:`ei_usage.store.Store` has it)."""

    def known_compute_time(
        self,
        organization_id: int,
        keys: Sequence[tuple[int, DateRange]],
        *,
        every: Every,
        closed_before: datetime,
    ) -> Mapping[tuple[int, DateRange], StoredComputeTime]:
        """Return the stored rows of the keys whose period ended before ``closed_before``.

        Keys not stored, or of periods still open, are left out.
        """
        ...

    def save_compute_time(
        self, rows: Sequence[ComputeTime], *, every: Every, fetched_at: datetime
    ) -> None:
        """Keep fetched rows (replacing those of the same periods), durably before returning."""
        ...


def closed_before(settle: timedelta | None, now: datetime | None = None) -> datetime:
    """Return the instant before which a period must end to be closed.

    Raises:
        TypeError: ``settle`` is not a timedelta.
        ValueError: ``settle`` is negative.
    """
    margin = DEFAULT_SETTLE if settle is None else settle
    if not isinstance(margin, timedelta):
        raise TypeError(f"settle must be a timedelta, got {type(margin).__name__}")
    if margin < timedelta(0):
        raise ValueError(f"settle must not be negative, got {margin}")
    return (now or datetime.now(UTC)) - margin
