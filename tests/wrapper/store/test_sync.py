"""sync on both dialects against FakeStudio: closed periods once, open ones every time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from ei_usage import Client, ComputeTime, DateRange
from ei_usage.store import Store, StoreError, sync
from ei_usage.testing import FakeStudio, Fault, Operation

KEY = "k"
NOW = datetime(2024, 12, 15, 12, tzinfo=UTC)
INNER = [2, 3, 4, 5]


def clock() -> datetime:
    return NOW


@pytest.fixture
def studio() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=KEY, inner_organizations=4) as running:
        yield running


@pytest.fixture
def client(studio: FakeStudio) -> Iterator[Client]:
    with Client(KEY, base_url=studio.base_url) as opened:
        yield opened


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def compute_requests(studio: FakeStudio) -> list[tuple[int, str, str]]:
    return [
        (
            int(r.path.split("/")[-3]),
            r.query["startDate"][0],
            r.query["endDate"][0],
        )
        for r in studio.requests
        if r.operation is Operation.COMPUTE_TIME
    ]


def truth(studio: FakeStudio, inner: int, period: DateRange) -> tuple[timedelta, timedelta]:
    cpu_us, gpu_us = studio.usage(inner, period.start, period.end)
    return timedelta(microseconds=cpu_us), timedelta(microseconds=gpu_us)


def test_first_sync_fetches_everything_and_a_second_only_the_open_month(
    studio: FakeStudio, client: Client, store: Store
) -> None:
    first = sync(client, store, 1, "2024-01", clock=clock)
    assert (first.fetched, first.reused, first.ok) == (4 * 12, 0, True)
    assert (first.listed, first.contracts) == (4, 4)
    assert len(compute_requests(studio)) == 48
    first_requests = studio.request_count
    months = store.monthly_compute_time(1)
    assert sorted(months) == INNER
    for inner, rows in months.items():
        assert [r.period for r in rows] == DateRange.parse("2024").split("month")
        for row in rows:
            assert (row.cpu, row.gpu) == truth(studio, inner, row.period)
    studio.reset()
    second = sync(client, store, 1, "2024-01", clock=clock)
    assert (second.fetched, second.reused) == (4, 44)
    # Only December, the running month, was asked again; closed months were not.
    assert {(start, end) for _, start, end in compute_requests(studio)} == {
        ("2024-12-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z")
    }
    runs = store.sync_runs(1)
    assert [(r.fetched, r.reused, r.stop_reason) for r in runs] == [(48, 0, None), (4, 44, None)]
    assert all(r.finished_at is not None for r in runs)
    assert runs[0].requests == first_requests
    assert runs[1].requests == studio.request_count
    # A contract snapshot per organization per sync.
    assert {len(s) for s in store.contract_snapshots(1).values()} == {2}


def test_a_period_fetched_before_it_settled_is_fetched_again(
    studio: FakeStudio, client: Client, store: Store
) -> None:
    sync(client, store, 1, "2024-11", clock=lambda: datetime(2024, 12, 2, tzinfo=UTC))
    studio.reset()
    # December 10th: November ended 9 days ago, but its numbers were fetched a day after it
    # ended, before the 3-day margin: they are fetched once more, then never again.
    later = sync(client, store, 1, "2024-11", clock=lambda: datetime(2024, 12, 10, tzinfo=UTC))
    assert (later.fetched, later.reused) == (8, 0)
    studio.reset()
    last = sync(client, store, 1, "2024-11", clock=lambda: datetime(2024, 12, 11, tzinfo=UTC))
    assert (last.fetched, last.reused) == (4, 4)


def test_refresh_fetches_closed_periods_again_and_logs_what_changed(
    studio: FakeStudio, store: Store
) -> None:
    with Client(KEY, base_url=studio.base_url) as client:
        sync(client, store, 1, "2024-01", until="2024-03", clock=clock)
    # The API now says something else for the same closed months.
    with (
        FakeStudio(api_key=KEY, inner_organizations=4, seed=7) as changed,
        Client(KEY, base_url=changed.base_url) as client,
    ):
        plain = sync(client, store, 1, "2024-01", until="2024-03", clock=clock)
        assert (plain.fetched, plain.reused) == (0, 12)  # without --refresh: nothing asked
        assert compute_requests(changed) == []
        refreshed = sync(client, store, 1, "2024-01", until="2024-03", refresh=True, clock=clock)
        assert (refreshed.fetched, refreshed.reused) == (12, 0)
        for inner, rows in store.monthly_compute_time(1).items():
            for row in rows:
                assert (row.cpu, row.gpu) == truth(changed, inner, row.period)
        changes = store.changes(1)
        assert len(changes) == sum(
            truth(changed, i, p) != truth(studio, i, p)
            for i in INNER
            for p in DateRange.parse("2024-01..2024-03").split("month")
        )
        assert changes
        for change in changes:
            assert (change.old.cpu, change.old.gpu) == truth(
                studio, change.old.inner_organization_id, change.old.period
            )


def test_days(studio: FakeStudio, client: Client, store: Store) -> None:
    result = sync(client, store, 1, "2024-12-01", every="day", clock=clock)
    # December 1st to the 15th (the running day included), nothing after now.
    assert (result.fetched, result.period) == (4 * 15, DateRange.parse("2024-12-01..2024-12-15"))
    assert len(store.compute_time(1, every="day")[2]) == 15
    assert store.monthly_compute_time(1) == {}


def test_deleted_organizations_are_synced_too(
    studio: FakeStudio, client: Client, store: Store
) -> None:
    studio.set_deleted(3)
    result = sync(client, store, 1, "2024-10", until="2024-11", clock=clock)
    assert (result.listed, result.deleted, result.contracts, result.fetched) == (4, 1, 3, 8)
    assert {o.id: o.deleted for o in store.organizations(1)} == {
        2: False,
        3: True,
        4: False,
        5: False,
    }
    assert store.monthly_compute_time(1)[3][0].inner_organization_deleted is True


def test_a_server_that_goes_away_stops_the_sync_and_a_rerun_completes_it(
    studio: FakeStudio, store: Store
) -> None:
    with Client(KEY, base_url=studio.base_url, max_retries=0) as client:
        studio.inject(Fault.drop_connection(), times=1000, operation=Operation.COMPUTE_TIME)
        broken = sync(client, store, 1, "2024-01", clock=clock)
        assert not broken.ok
        assert broken.stop_reason
        assert broken.fetched + broken.failed + broken.not_attempted == 48
        studio.reset()  # the server is back
    with Client(KEY, base_url=studio.base_url) as client:
        fixed = sync(client, store, 1, "2024-01", clock=clock)
    assert fixed.ok
    assert (broken.fetched, fixed.fetched) == (0, 48)
    assert sum(len(rows) for rows in store.monthly_compute_time(1).values()) == 48
    assert [r.stop_reason is None for r in store.sync_runs(1)] == [False, True]


def test_a_listing_refused_is_raised_and_recorded(studio: FakeStudio, store: Store) -> None:
    from ei_usage import AuthenticationError

    with Client("wrong", base_url=studio.base_url) as client, pytest.raises(AuthenticationError):
        sync(client, store, 1, "2024-01", clock=clock)
    (run,) = store.sync_runs(1)
    assert run.stop_reason is not None
    assert "listing failed" in run.stop_reason


def test_a_store_error_mid_sync_is_raised(
    studio: FakeStudio, client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved: list[ComputeTime] = []
    original = store.save_compute_time

    def failing(rows: list[ComputeTime], **kwargs: object) -> None:
        if len(saved) >= 10:
            raise StoreError(f"store {store.name}: gone")
        original(rows, **kwargs)  # type: ignore[arg-type]
        saved.extend(rows)

    monkeypatch.setattr(store, "save_compute_time", failing)
    with pytest.raises(StoreError, match="gone"):
        sync(client, store, 1, "2023-01", clock=clock)
    monkeypatch.undo()
    rerun = sync(client, store, 1, "2023-01", clock=clock)
    # Each row was saved as it arrived: the ten saved before the failure are not asked again
    # (but the running month, which is never taken from the store).
    closed = [row for row in saved if row.period.end <= NOW - store.settle]
    assert rerun.ok
    assert (rerun.reused, rerun.fetched) == (len(closed), 4 * 24 - len(closed))
    assert sum(len(rows) for rows in store.monthly_compute_time(1).values()) == 4 * 24


def test_the_api_numbers_are_stored_exactly_as_sent(
    studio: FakeStudio, client: Client, store: Store
) -> None:
    import json

    import sqlalchemy as sa

    from ei_usage.store import _schema

    sync(client, store, 1, "2024-05", until="2024-05", clock=clock)
    t = _schema.compute_time
    with store._read() as connection:
        rows = connection.execute(sa.select(t.c.inner_organization_id, t.c.wire)).all()
    period = DateRange.month(2024, 5)
    for inner, wire in rows:
        body = studio.compute_time_body(inner, period.start, period.end)
        sent = {k: v for k, v in body.items() if k != "success"}
        assert json.loads(wire) == sent
        # Types too: an integer stays an integer, a fraction a float.
        assert {k: type(v) for k, v in json.loads(wire).items()} == {
            k: type(v) for k, v in sent.items()
        }
    # Contract snapshots keep organization info's answer (its limits too), and read back equal.
    for inner, snapshots in store.contract_snapshots(1).items():
        (_, usage) = snapshots[0]
        assert attrs.evolve(
            usage, inner_organization_name=None, inner_organization_deleted=None
        ) == (client.inner_organization(1, inner))
