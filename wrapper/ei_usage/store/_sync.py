"""Filling the store from the API: each closed period is fetched once.

A sync lists the white label's inner organizations (deleted ones too: they used compute time
before they were deleted), snapshots each live one's contract usage (organization info), and
fetches compute time per inner organization and calendar period since ``since``. A period is
closed when it ended more than the store's settle margin ago; a closed period already in the
store (fetched after it closed) is never fetched again unless ``refresh``. Open periods are
fetched on every sync.

Compute time goes through ``Client.compute_time_report(store=...)``, which reads closed periods
from the store and saves each row as it arrives (committed before the next is handled), so a
sync killed at any point (Ctrl-C, ``kill -9``) resumes where it stopped: a rerun fetches only
what is not in the store. Everything goes through the public client API.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import attrs

from ei_usage import (
    DateRange,
    EdgeImpulseError,
    IncompleteListingWarning,
    InnerOrganization,
    ReportInterrupted,
)
from ei_usage._dates import PERIODS

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ei_usage import Client, ComputeTime, EntitlementReport, Every, ProgressCallback, Report
    from ei_usage._history import StoredComputeTime

    from ._store import Store

_INTERRUPTED = "interrupted (Ctrl-C)"


@attrs.frozen
class SyncResult:
    """What one sync did.

    Attributes:
        run_id: the sync run's id in the store.
        organization_id: the white label.
        period: the whole range synced (whole calendar periods).
        every: the calendar unit of the compute-time facts.
        listed: inner organizations listed (deleted ones included).
        deleted: of those, deleted.
        contracts: contract-usage snapshots recorded.
        fetched: compute-time facts fetched from the API (and saved).
        reused: compute-time facts of closed periods already in the store (not fetched).
        failed: requests that failed for good (compute time and organization info).
        not_attempted: compute-time requests not done because the sync stopped early.
        requests: requests sent (listing pages counted as the listing needed them).
        throttles: 429 answers the client absorbed.
        stop_reason: why the sync stopped early, or None.
        listing_stop_reason: why the listing ended early, or None.
        failures: one line per failure cause, the most frequent first, with counts.
        interrupted: Ctrl-C stopped it.
    """

    run_id: int
    organization_id: int
    period: DateRange
    every: Every
    listed: int
    deleted: int
    contracts: int
    fetched: int
    reused: int
    failed: int
    not_attempted: int
    requests: int
    throttles: int
    stop_reason: str | None
    listing_stop_reason: str | None = None
    failures: tuple[str, ...] = ()
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Whether everything was fetched or reused."""
        return (
            not self.failed
            and not self.not_attempted
            and self.stop_reason is None
            and self.listing_stop_reason is None
        )


class SyncInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sync; ``result`` says what was saved (the rest resumes on a rerun)."""

    def __init__(self, result: SyncResult) -> None:
        super().__init__(_INTERRUPTED)
        self.result = result


def sync_period(
    since: DateRange, until: DateRange | None, every: Every, now: datetime
) -> DateRange:
    """Return whole ``every`` periods from ``since``'s start to ``until``'s end (else now's)."""
    from ei_usage._dates import _floor, _next

    start = _floor(since.start, every)
    if until is None:
        end = _next(_floor(now, every), every)
    else:
        floor_end = _floor(until.end, every)
        end = until.end if floor_end == until.end else _next(floor_end, every)
    if end is None or end <= start:
        raise ValueError(f"nothing to sync: --since {since} is after the end ({until or 'now'})")
    return DateRange(start, end)


def sync(
    client: Client,
    store: Store,
    organization_id: int,
    since: DateRange | str,
    *,
    until: DateRange | str | None = None,
    every: Every = "month",
    refresh: bool = False,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SyncResult:
    """Bring the store up to date for a white label; see the module docstring.

    Args:
        client: the API client.
        store: the store (its ``settle`` decides which periods are closed).
        organization_id: the white label.
        since: the first period to sync (its start is floored to ``every``).
        until: the last period (default: the running one).
        every: ``"month"`` or ``"day"`` (any calendar unit works).
        refresh: fetch closed periods again (changed numbers are kept and logged).
        concurrency: requests in flight at once.
        on_progress: ``on_progress(done, total)`` over every request of the sync.
        clock: now (aware UTC) for tests; default the system clock.

    Raises:
        SyncInterrupted: Ctrl-C; what was fetched is saved.
        EdgeImpulseError: the listing failed (no credential accepted, server down).
        StoreError: the store failed (the sync stops; a rerun resumes).
        ValueError: a bad argument.
    """
    if every not in PERIODS:
        raise ValueError(f"every must be one of {', '.join(PERIODS)}; got {every!r}")
    now_of = clock or (lambda: datetime.now(UTC))
    now = now_of()
    since_range = DateRange.parse(since) if isinstance(since, str) else since
    until_range = DateRange.parse(until) if isinstance(until, str) else until
    period = sync_period(since_range, until_range, every, now)
    pieces = [piece for piece in period.split(every) if piece.start < now]
    closed_before = now - store.settle
    throttles_before = client.rate_stats().throttles
    run_id = store.begin_sync(organization_id, started_at=now, every=every, period=period)
    counts = _Counts()

    def finish(stop_reason: str | None, **extra: object) -> SyncResult:
        result = SyncResult(
            run_id=run_id,
            organization_id=organization_id,
            period=period,
            every=every,
            listed=counts.listed,
            deleted=counts.deleted,
            contracts=counts.contracts,
            fetched=counts.fetched,
            reused=counts.reused,
            failed=counts.failed,
            not_attempted=counts.not_attempted,
            requests=counts.requests,
            throttles=client.rate_stats().throttles - throttles_before,
            stop_reason=stop_reason,
            listing_stop_reason=counts.listing_stop_reason,
            failures=tuple(f"{cause} (x{n})" if n > 1 else cause for cause, n in counts.causes()),
            **extra,  # type: ignore[arg-type]
        )
        store.finish_sync(
            run_id,
            requests=result.requests,
            throttles=result.throttles,
            errors=result.failed,
            stop_reason=stop_reason
            or (
                None
                if result.listing_stop_reason is None
                else f"listing {result.listing_stop_reason}"
            ),
            fetched=result.fetched,
            reused=result.reused,
            finished_at=now_of(),
        )
        return result

    # 1. The listing, deleted organizations included.
    try:
        listing = client.inner_organizations(organization_id, include_deleted=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IncompleteListingWarning)
            listed = list(listing)
    except EdgeImpulseError as error:
        finish(f"listing failed: {error}")
        raise
    except KeyboardInterrupt:
        raise SyncInterrupted(finish(_INTERRUPTED, interrupted=True)) from None
    unread = [failure.inner_organization_id for failure in listing.errors]
    live = [o for o in listed if not o.deleted]
    counts.listed, counts.deleted = len(listed), len(listed) - len(live)
    counts.listing_stop_reason = listing.stop_reason
    counts.requests += 2 * max(1, -(-len(listed) // 50))  # both listings, 50 per page
    store.record_listing(organization_id, listed, now_of())

    # 2. What compute time is missing (for the progress bar's size; the report looks again).
    targets = sorted({o.id for o in listed} | set(unread))
    pairs = [(inner, piece) for inner in targets for piece in pieces]
    known = (
        {}
        if refresh
        else store.known_compute_time(
            organization_id, pairs, every=every, closed_before=closed_before
        )
    )
    missing = [pair for pair in pairs if pair not in known]
    progress = _Progress(on_progress, len(live) + len(unread) + len(missing))

    # 3. Contract usage of every live organization: one snapshot per organization per sync.
    contract_targets: list[int | InnerOrganization] = [*live, *unread]
    if contract_targets:
        try:
            contracts = client.entitlement_report(
                organization_id,
                contract_targets,
                concurrency=concurrency,
                on_progress=progress.part(len(contract_targets)),
            )
        except ReportInterrupted as stopped:
            partial = cast("EntitlementReport", stopped.report)
            store.record_contracts(list(partial.rows), now_of(), sync_run_id=run_id)
            counts.contracts = len(partial.rows)
            raise SyncInterrupted(finish(_INTERRUPTED, interrupted=True)) from None
        store.record_contracts(list(contracts.rows), now_of(), sync_run_id=run_id)
        counts.contracts = len(contracts.rows)
        counts.requests += len(contracts.rows) + len(contracts.errors)
        counts.fail([failure.error for failure in contracts.errors])
        if contracts.stop_reason is not None:
            counts.not_attempted = len(missing)
            return finish(contracts.stop_reason)
        progress.done_part()

    # 4. Compute time: closed periods the store holds are read from it, the rest is fetched,
    #    each row saved as it arrives (the client reads through the store).
    if not pieces or not targets:
        return finish(None)
    history = _RunHistory(store, run_id, now_of)
    try:
        report = client.compute_time_report(
            organization_id,
            targets,
            DateRange(pieces[0].start, pieces[-1].end),
            every=every,
            concurrency=concurrency,
            on_progress=progress.part(len(missing)),
            store=history,
            refresh=refresh,
            settle=store.settle,
        )
    except ReportInterrupted as stopped:
        counts.add(cast("Report", stopped.report))
        raise SyncInterrupted(finish(_INTERRUPTED, interrupted=True)) from None
    counts.add(report)
    return finish(report.stop_reason)


class _RunHistory:
    """The store as this sync's report reads through it: its clock, its run id.

    The client decides what is closed with the system clock; a sync decides with its own (the
    same, except in tests), and marks the rows it saves with its run.
    """

    def __init__(self, store: Store, run_id: int, now_of: Callable[[], datetime]) -> None:
        self._store = store
        self._run_id = run_id
        self._now_of = now_of

    def known_compute_time(
        self,
        organization_id: int,
        keys: Sequence[tuple[int, DateRange]],
        *,
        every: Every,
        closed_before: datetime,
    ) -> Mapping[tuple[int, DateRange], StoredComputeTime]:
        """The store's closed rows, closed by this sync's clock."""
        del closed_before  # the system clock's; this sync's is the one that counts
        return self._store.known_compute_time(
            organization_id, keys, every=every, closed_before=self._now_of() - self._store.settle
        )

    def save_compute_time(
        self, rows: Sequence[ComputeTime], *, every: Every, fetched_at: datetime
    ) -> None:
        """Save rows fetched by this sync, at this sync's clock."""
        del fetched_at
        self._store.save_compute_time(
            rows, every=every, fetched_at=self._now_of(), sync_run_id=self._run_id
        )


@attrs.define
class _Counts:
    listed: int = 0
    deleted: int = 0
    contracts: int = 0
    fetched: int = 0
    reused: int = 0
    failed: int = 0
    not_attempted: int = 0
    requests: int = 0
    listing_stop_reason: str | None = None
    _causes: dict[str, int] = attrs.field(factory=dict)

    def add(self, report: Report) -> None:
        """Count a compute-time report's outcomes."""
        self.reused = len(report.from_store)
        self.fetched = len(report.rows) - len(report.from_store)
        self.failed += len(report.errors)
        self.not_attempted = len(report.not_attempted)
        self.requests += self.fetched + len(report.errors)
        self.fail([failure.error for failure in report.errors])

    def fail(self, errors: Sequence[EdgeImpulseError]) -> None:
        for error in errors:
            cause = f"{type(error).__name__}: {getattr(error, 'message', None) or error}"
            self._causes[cause] = self._causes.get(cause, 0) + 1

    def causes(self) -> list[tuple[str, int]]:
        return sorted(self._causes.items(), key=lambda item: -item[1])


class _Progress:
    """One ``on_progress(done, total)`` over the several reports of a sync."""

    def __init__(self, on_progress: ProgressCallback | None, total: int) -> None:
        self._on_progress = on_progress
        self._total = total
        self._done = 0
        self._current = 0

    def part(self, size: int) -> ProgressCallback:
        """The callback of the next report, of ``size`` requests."""
        self._current = size

        def update(done: int, total: int) -> None:
            if self._on_progress is not None:
                self._on_progress(min(self._done + done, self._total), self._total)

        return update

    def done_part(self) -> None:
        """The last report is done."""
        self._done += self._current
        self._current = 0
