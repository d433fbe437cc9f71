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

from ._models import ComputeTime

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._dates import DateRange, Every

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


def lookup(
    store: UsageHistory | None,
    organization_id: int,
    jobs: Sequence[tuple[int, DateRange]],
    *,
    every: Every,
    refresh: bool,
    settle: timedelta | None,
) -> tuple[Mapping[tuple[int, DateRange], StoredComputeTime], Sequence[tuple[int, DateRange]]]:
    """Return what ``store`` already knows of a report's requests, and the requests to send.

    Without a store, or with ``refresh``, nothing is known and every request is sent.

    Raises:
        TypeError: ``store`` lacks the methods of :class:`UsageHistory`; a bad ``settle``.
        ValueError: a negative ``settle``.
    """
    before = closed_before(settle)
    if store is None:
        return {}, jobs
    for method in ("known_compute_time", "save_compute_time"):
        if not callable(getattr(store, method, None)):
            raise TypeError(f"store must have a {method}() method (see ei_usage.UsageHistory)")
    if refresh:
        return {}, jobs
    known = store.known_compute_time(organization_id, jobs, every=every, closed_before=before)
    if not known:
        return known, jobs
    return known, [job for job in jobs if job not in known]


class Keeper:
    """Hands each row a report fetches to the store as it arrives (``on_outcome`` of a run).

    One row at a time, each durable before the next request's outcome is handled: a report
    interrupted (Ctrl-C, kill -9) keeps every row it had fetched but the one in hand.
    """

    def __init__(self, store: UsageHistory, every: Every) -> None:
        self._store = store
        self._every = every

    def __call__(self, index: int, outcome: object) -> None:
        if isinstance(outcome, ComputeTime):
            self._store.save_compute_time([outcome], every=self._every, fetched_at=_now())


def _now() -> datetime:
    return datetime.now(UTC)
