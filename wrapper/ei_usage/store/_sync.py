"""Filling the store from the API: each closed period is fetched once.

A sync lists the white label's inner organizations (deleted ones too: they used compute time
before they were deleted), snapshots each live one's contract usage (organization info), and
fetches compute time per inner organization and calendar period since ``since``. A period is
closed when it ended more than the store's settle margin ago; a closed period already in the
store (fetched after it closed) is never fetched again unless ``refresh``. Open periods are
fetched on every sync.

Rows are saved in chunks, each committed as soon as its requests are answered, so a sync killed
at any point (Ctrl-C, ``kill -9``) resumes where it stopped: a rerun fetches only what is not in
the store. Everything goes through the public client API.
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
    from collections.abc import Callable, Sequence

    from ei_usage import Client, EntitlementReport, Every, ProgressCallback, Report

    from ._store import Store

CHUNK_REQUESTS_PER_THREAD = 8
"""Compute-time requests per committed chunk, per request in flight (at least 16 a chunk).

A chunk is what a killed sync can lose at most; each chunk's last requests leave threads idle
a moment, so chunks are several rounds of requests long."""

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

    # 2. What compute time is missing.
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
    counts.reused = len(known)
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

    # 4. The missing compute time, chunk by chunk, each saved as soon as it is answered.
    for inners, span in _chunks(missing, every, max(16, concurrency * CHUNK_REQUESTS_PER_THREAD)):
        size = len(inners) * len(span.split(every))
        try:
            report = _fetch(
                client, organization_id, inners, span, every, concurrency, progress.part(size)
            )
        except ReportInterrupted as stopped:
            report = stopped.report  # type: ignore[assignment]
            _save(store, report, every, now_of(), run_id, counts)
            counts.not_attempted = len(missing) - counts.fetched - counts.failed
            raise SyncInterrupted(finish(_INTERRUPTED, interrupted=True)) from None
        _save(store, report, every, now_of(), run_id, counts)
        progress.done_part()
        if report.stop_reason is not None:
            counts.not_attempted = len(missing) - counts.fetched - counts.failed
            return finish(report.stop_reason)
    return finish(None)


def _fetch(
    client: Client,
    organization_id: int,
    inners: Sequence[int],
    span: DateRange,
    every: Every,
    concurrency: int,
    on_progress: ProgressCallback,
) -> Report:
    """Fetch one chunk of compute time through the public client API.

    The one place to switch to ``compute_time_report(store=...)`` once the client reads
    through the store itself (it then also saves each row as it arrives).
    """
    return client.compute_time_report(
        organization_id,
        list(inners),
        span,
        every=every,
        concurrency=concurrency,
        on_progress=on_progress,
    )


def _save(
    store: Store, report: Report, every: Every, fetched_at: datetime, run_id: int, counts: _Counts
) -> None:
    store.save_compute_time(report.rows, every=every, fetched_at=fetched_at, sync_run_id=run_id)
    counts.fetched += len(report.rows)
    counts.failed += len(report.errors)
    counts.requests += len(report.rows) + len(report.errors)
    counts.fail([failure.error for failure in report.errors])


def _chunks(
    missing: Sequence[tuple[int, DateRange]], every: Every, size: int
) -> list[tuple[list[int], DateRange]]:
    """Cut the missing (inner, period) pairs into rectangles of contiguous periods.

    Inner organizations missing the same periods share rectangles (the usual case: every one
    misses the running month, or everything on a first sync), each of at most about ``size``
    requests.
    """
    by_inner: dict[int, list[DateRange]] = {}
    for inner, piece in missing:
        by_inner.setdefault(inner, []).append(piece)
    groups: dict[tuple[DateRange, ...], list[int]] = {}
    for inner, pieces in by_inner.items():
        groups.setdefault(tuple(sorted(pieces, key=lambda p: p.start)), []).append(inner)
    chunks: list[tuple[list[int], DateRange]] = []
    for wanted, inners in groups.items():
        runs: list[list[DateRange]] = []
        for piece in wanted:
            if runs and runs[-1][-1].end == piece.start:
                runs[-1].append(piece)
            else:
                runs.append([piece])
        for run in runs:
            # Long runs of one organization are cut too, so that a chunk stays small.
            for start in range(0, len(run), size):
                part = run[start : start + size]
                span = DateRange(part[0].start, part[-1].end)
                per_chunk = max(1, size // len(part))
                ordered = sorted(inners)
                chunks.extend(
                    (ordered[first : first + per_chunk], span)
                    for first in range(0, len(ordered), per_chunk)
                )
    return chunks


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
