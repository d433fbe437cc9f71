"""The store on both dialects: what it keeps, what it returns, and what counts as closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from ei_usage import ComputeTime, DateRange, Entitlements, InnerOrganization, InnerOrganizationUsage
from ei_usage.store import Store, StoreError

T0 = datetime(2024, 6, 1, tzinfo=UTC)
JAN = DateRange.month(2024, 1)
FEB = DateRange.month(2024, 2)
CLOSED = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def row(inner: int, period: DateRange, cpu_s: float, gpu_s: float, total_min: float) -> ComputeTime:
    return ComputeTime(
        organization_id=1,
        inner_organization_id=inner,
        period=period,
        cpu=timedelta(seconds=cpu_s),
        gpu=timedelta(seconds=gpu_s),
        total=timedelta(minutes=total_min),
    )


def organization(
    inner: int, *, name: str = "", deleted: bool = False, limit_s: int | None = None
) -> InnerOrganization:
    return InnerOrganization(
        id=inner,
        name=name or f"Org {inner}",
        created=datetime(2020, 1, 1, tzinfo=UTC),
        billable=True,
        whitelabel_id=1,
        private_project_count=0,
        entitlements=Entitlements(
            compute_time_per_year=None if limit_s is None else timedelta(seconds=limit_s)
        ),
        deleted=deleted,
    )


def usage(inner: int, cpu_s: float, *, limit_s: int | None = 3600) -> InnerOrganizationUsage:
    return InnerOrganizationUsage(
        organization_id=1,
        inner_organization_id=inner,
        cpu=timedelta(seconds=cpu_s),
        gpu=timedelta(seconds=1.5),
        total=timedelta(minutes=(cpu_s + 1.5) / 60),
        contract_since=datetime(2024, 1, 1, tzinfo=UTC),
        storage_bytes=1234,
        billable=True,
        entitlements=Entitlements(
            compute_time_per_year=None if limit_s is None else timedelta(seconds=limit_s)
        ),
    )


def test_a_saved_closed_row_comes_back_equal(store: Store) -> None:
    saved = [row(2, JAN, 12.5, 3, 0.25833), row(3, JAN, 0, 0, 0), row(2, FEB, 7, 0.001, 0.1168)]
    store.save_compute_time(saved, every="month", fetched_at=T0)
    keys = [(r.inner_organization_id, r.period) for r in saved]
    known = store.known_compute_time(1, keys, every="month", closed_before=CLOSED)
    assert {key: stored.row for key, stored in known.items()} == dict(zip(keys, saved, strict=True))
    assert {stored.fetched_at for stored in known.values()} == {T0}
    assert all(stored.fetched_at.tzinfo is UTC for stored in known.values())


def test_open_periods_and_rows_fetched_while_open_are_not_known(store: Store) -> None:
    # Fetched two days after February ended: not yet final with the default 3-day margin.
    early = datetime(2024, 3, 2, tzinfo=UTC)
    store.save_compute_time(
        [row(2, JAN, 1, 1, 0.03), row(2, FEB, 2, 2, 0.07)], every="month", fetched_at=early
    )
    keys = [(2, JAN), (2, FEB), (2, DateRange.month(2024, 3))]
    known = store.known_compute_time(1, keys, every="month", closed_before=CLOSED)
    assert set(known) == {(2, JAN)}
    # Not closed yet by the caller's clock: not known either.
    assert (
        store.known_compute_time(1, keys, every="month", closed_before=JAN.end - timedelta(days=1))
        == {}
    )
    # Another white label's keys are not this one's.
    assert store.known_compute_time(9, keys, every="month", closed_before=CLOSED) == {}


def test_saving_again_upserts_without_duplicates(store: Store) -> None:
    for _ in range(3):
        store.save_compute_time([row(2, JAN, 1, 1, 0.03)], every="month", fetched_at=T0)
    assert store.counts()["compute_time"] == 1


def test_a_changed_closed_period_keeps_the_new_value_and_logs_the_change(store: Store) -> None:
    store.save_compute_time([row(2, JAN, 1, 1, 0.03)], every="month", fetched_at=T0)
    later = T0 + timedelta(days=30)
    store.save_compute_time([row(2, JAN, 5, 1, 0.1)], every="month", fetched_at=later)
    known = store.known_compute_time(1, [(2, JAN)], every="month", closed_before=later)
    assert known[(2, JAN)].row.cpu == timedelta(seconds=5)
    (change,) = store.changes(1)
    assert (change.old.cpu, change.new.cpu) == (timedelta(seconds=1), timedelta(seconds=5))
    assert (change.old_fetched_at, change.new_fetched_at) == (T0, later)
    # The same numbers again: no change logged.
    store.save_compute_time([row(2, JAN, 5, 1, 0.1)], every="month", fetched_at=later)
    assert len(store.changes(1)) == 1


def test_an_open_period_changing_is_not_a_logged_change(store: Store) -> None:
    running = DateRange.month(2024, 5)
    store.save_compute_time(
        [row(2, running, 1, 0, 0.02)], every="month", fetched_at=T0 - timedelta(days=10)
    )
    store.save_compute_time([row(2, running, 9, 0, 0.15)], every="month", fetched_at=T0)
    assert store.changes(1) == []
    assert store.monthly_compute_time(1)[2][0].cpu == timedelta(seconds=9)


def test_wire_numbers_are_stored_exactly_with_their_units(store: Store) -> None:
    import sqlalchemy as sa

    from ei_usage.store import _schema

    store.save_compute_time([row(2, JAN, 90, 30, 2)], every="month", fetched_at=T0)
    with store._read() as connection:
        wire, cpu, total = connection.execute(
            sa.select(
                _schema.compute_time.c.wire,
                _schema.compute_time.c.cpu_seconds,
                _schema.compute_time.c.total_minutes,
            )
        ).one()
    assert wire == '{"cpuComputeTime":90,"gpuComputeTime":30,"totalComputeTime":2}'
    assert (cpu, total) == (90, 2)


def test_missing_numbers_stay_missing(store: Store) -> None:
    partial = attrs.evolve(row(2, JAN, 1, 1, 1), gpu=None, total=None)
    store.save_compute_time([partial], every="month", fetched_at=T0)
    assert store.monthly_compute_time(1)[2] == [partial]


def test_monthly_reads_are_named_in_time_order_and_whole_months_only(store: Store) -> None:
    store.record_listing(1, [organization(2, name="Cedar", deleted=True)], T0)
    clipped = DateRange(datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    store.save_compute_time(
        [row(2, FEB, 2, 0, 0.03), row(2, JAN, 1, 0, 0.02), row(2, clipped, 5, 0, 0.1)],
        every="month",
        fetched_at=T0,
    )
    store.save_compute_time(
        [row(2, DateRange.day(datetime(2024, 1, 3)), 1, 0, 0.02)], every="day", fetched_at=T0
    )
    months = store.monthly_compute_time(1)
    assert [r.period for r in months[2]] == [JAN, FEB]
    assert {(r.inner_organization_name, r.inner_organization_deleted) for r in months[2]} == {
        ("Cedar", True)
    }
    assert [r.period for r in store.compute_time(1, every="day")[2]] == [
        DateRange.day(datetime(2024, 1, 3))
    ]
    assert store.monthly_compute_time(1, inner_ids=[3]) == {}


def test_listing_keeps_first_and_last_seen_and_limits_only_when_changed(store: Store) -> None:
    store.record_listing(1, [organization(2, limit_s=100), organization(3)], T0)
    later = T0 + timedelta(days=1)
    store.record_listing(
        1, [organization(2, name="Renamed", limit_s=100), organization(3, deleted=True)], later
    )
    store.record_listing(
        1, [organization(2, name="Renamed", limit_s=200)], later + timedelta(days=1)
    )
    two, three = store.organizations(1)
    assert (two.name, two.first_seen, two.last_seen) == ("Renamed", T0, later + timedelta(days=1))
    assert two.entitlements.compute_time_per_year == timedelta(seconds=200)
    assert (three.deleted, three.last_seen) == (True, later)
    history = store.entitlement_history(1)
    assert [e.compute_time_per_year for _, e in history[2]] == [
        timedelta(seconds=100),
        timedelta(seconds=200),
    ]
    assert len(history[3]) == 1


def test_contract_snapshots_one_per_organization_per_sync(store: Store) -> None:
    store.record_listing(1, [organization(2, name="Cedar")], T0)
    run = store.begin_sync(1, started_at=T0)
    store.record_contract(usage(2, 10), T0, sync_run_id=run)
    store.record_contract(usage(2, 11), T0, sync_run_id=run)  # the same sync: replaced
    second = store.begin_sync(1, started_at=T0 + timedelta(days=1))
    store.record_contracts([usage(2, 20, limit_s=7200)], T0 + timedelta(days=1), sync_run_id=second)
    snapshots = store.contract_snapshots(1)[2]
    assert [(at, u.cpu) for at, u in snapshots] == [
        (T0, timedelta(seconds=11)),
        (T0 + timedelta(days=1), timedelta(seconds=20)),
    ]
    # Each snapshot carries the limits of its time; names come from the listing.
    assert [u.entitlements.compute_time_per_year for _, u in snapshots] == [
        timedelta(seconds=3600),
        timedelta(seconds=7200),
    ]
    latest = store.latest_contracts(1)[2]
    assert latest == attrs.evolve(
        usage(2, 20, limit_s=7200),
        inner_organization_name="Cedar",
        inner_organization_deleted=False,
    )
    assert latest.compute_used_fraction == pytest.approx(21.5 / 7200)


def test_sync_runs_are_recorded(store: Store) -> None:
    run = store.begin_sync(1, started_at=T0, every="day", period=JAN)
    assert [r.finished_at for r in store.unfinished_syncs(1, since=T0)] == [None]
    store.finish_sync(
        run,
        requests=5,
        throttles=1,
        errors=2,
        stop_reason="boom",
        fetched=3,
        reused=4,
        finished_at=T0 + timedelta(seconds=5),
    )
    (done,) = store.sync_runs(1)
    assert (done.every, done.period, done.requests, done.throttles, done.errors) == (
        "day",
        JAN,
        5,
        1,
        2,
    )
    assert (done.fetched, done.reused, done.stop_reason) == (3, 4, "boom")
    assert done.finished_at == T0 + timedelta(seconds=5)
    assert store.unfinished_syncs(1, since=T0) == []


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="naive"):
        store.save_compute_time(
            [row(2, JAN, 1, 1, 0.03)], every="month", fetched_at=datetime(2024, 6, 1)
        )


def test_a_closed_store_says_so(store_url: str) -> None:
    store = Store.open(store_url)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.monthly_compute_time(1)


def test_reopening_keeps_everything(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.save_compute_time([row(2, JAN, 1, 1, 0.03)], every="month", fetched_at=T0)
    with Store.open(store_url, create=False) as store:
        assert store.monthly_compute_time(1)[2] == [row(2, JAN, 1, 1, 0.03)]


def test_a_stored_row_equals_the_parsers_row_and_keeps_its_wire(store: Store) -> None:
    from ei_usage._parse import compute_time_from_wire

    wire = {"cpuComputeTime": 12.345678912, "gpuComputeTime": 3, "totalComputeTime": 0.2557613152}
    sent = compute_time_from_wire(
        wire, organization_id=1, inner_organization_id=2, period=JAN, source="test"
    )
    store.save_compute_time([sent], every="month", fetched_at=T0)
    (stored,) = store.known_compute_time(
        1, [(2, JAN)], every="month", closed_before=CLOSED
    ).values()
    assert stored.row == sent
    assert stored.row.wire == wire


def test_a_stored_wire_the_parser_refuses_is_a_store_error(store: Store) -> None:
    import sqlalchemy as sa

    from ei_usage.store import _schema

    store.save_compute_time([row(2, JAN, 1, 1, 0.03)], every="month", fetched_at=T0)
    with store._write() as connection:
        connection.execute(sa.update(_schema.compute_time).values(wire='{"cpuComputeTime": -1}'))
    with pytest.raises(StoreError, match="cpuComputeTime"):
        store.known_compute_time(1, [(2, JAN)], every="month", closed_before=CLOSED)
