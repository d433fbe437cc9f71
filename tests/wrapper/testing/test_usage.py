"""The usage pattern: exact additivity, determinism, realistic magnitudes, and over HTTP."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ei_usage.testing import DEFAULT_NOW, FakeOrganization, FakeStudio

if TYPE_CHECKING:
    import httpx

MODEL = FakeStudio()  # never started: the data model works without a server
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 7, 1, tzinfo=UTC)
SPAN_MS = (END - START) // timedelta(milliseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at_ms(offset_ms: int) -> datetime:
    return START + timedelta(milliseconds=offset_ms)


@settings(max_examples=200, deadline=None)
@given(
    organization_id=st.integers(1, 11),
    cuts=st.lists(st.integers(0, SPAN_MS), max_size=12),
)
def test_the_usage_of_a_range_is_the_sum_of_its_pieces(
    organization_id: int, cuts: list[int]
) -> None:
    bounds = [0, *sorted(cuts), SPAN_MS]
    pieces = [
        MODEL.usage(organization_id, at_ms(a), at_ms(b)) for a, b in itertools.pairwise(bounds)
    ]
    whole = MODEL.usage(organization_id, START, END)
    assert (sum(cpu for cpu, _ in pieces), sum(gpu for _, gpu in pieces)) == whole
    for cpu, gpu in pieces:
        assert isinstance(cpu, int)
        assert isinstance(gpu, int)
        assert cpu >= 0
        assert gpu >= 0


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.just(UTC),
    ),
    lengths=st.tuples(
        st.timedeltas(timedelta(0), timedelta(days=3000)),
        st.timedeltas(timedelta(0), timedelta(days=3000)),
    ),
)
def test_additivity_holds_anywhere_including_before_creation(
    start: datetime, lengths: tuple[timedelta, timedelta]
) -> None:
    middle = start + lengths[0]
    end = middle + lengths[1]
    first = MODEL.usage(4, start, middle)
    second = MODEL.usage(4, middle, end)
    whole = MODEL.usage(4, start, end)
    assert (first[0] + second[0], first[1] + second[1]) == whole
    assert min(*first, *second) >= 0


def test_no_usage_before_the_organization_was_created() -> None:
    created = MODEL.organizations[3].created_at
    assert MODEL.usage(3, created - timedelta(days=400), created) == (0, 0)
    assert MODEL.usage(3, created, created + timedelta(days=1))[0] > 0
    assert MODEL.usage(3, START, START) == (0, 0)


def test_sub_millisecond_parts_are_ignored() -> None:
    a = MODEL.usage(5, START, END)
    b = MODEL.usage(5, START + timedelta(microseconds=999), END + timedelta(microseconds=999))
    assert a == b


def test_usage_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="naive"):
        MODEL.usage(2, datetime(2024, 1, 1), END)
    with pytest.raises(ValueError, match="before"):
        MODEL.usage(2, END, START)
    with pytest.raises(LookupError, match="99"):
        MODEL.usage(99, START, END)


def test_magnitudes_are_realistic() -> None:
    month_start = datetime(2024, 5, 1, tzinfo=UTC)
    month_end = datetime(2024, 6, 1, tzinfo=UTC)
    hour_us = 3_600_000_000
    for organization_id in range(2, 12):
        cpu, gpu = MODEL.usage(organization_id, month_start, month_end)
        assert 1 * hour_us <= cpu + gpu <= 1000 * hour_us, organization_id
    # Weekdays are busier than weekends, over a long enough stretch.
    saturday = datetime(2024, 5, 4, tzinfo=UTC)
    weekend = weekdays = 0
    for week in range(20):
        base = saturday + timedelta(weeks=week)
        weekend += sum(MODEL.usage(4, base, base + timedelta(days=2)))
        weekdays += sum(MODEL.usage(4, base + timedelta(days=2), base + timedelta(days=4)))
    assert weekdays > weekend


def test_same_seed_same_data_other_seed_other_data() -> None:
    same = FakeStudio(seed=0)
    other = FakeStudio(seed=1)
    ranges = [(2, START, END), (7, START, END), (11, START, START + timedelta(hours=5))]
    assert [same.usage(*r) for r in ranges] == [MODEL.usage(*r) for r in ranges]
    assert [other.usage(*r) for r in ranges] != [MODEL.usage(*r) for r in ranges]


def test_organization_knobs() -> None:
    organizations = [
        FakeOrganization(1, usage_percent=0),
        FakeOrganization(2, gpu=False),
        FakeOrganization(3, gpu=True),
        FakeOrganization(4, usage_percent=200, gpu=True),
    ]
    studio = FakeStudio(organizations=organizations)
    assert studio.usage(1, START, END) == (0, 0)
    assert studio.usage(2, START, END)[1] == 0
    assert studio.usage(3, START, END)[1] > 0
    normal = FakeStudio(organizations=[FakeOrganization(4, gpu=True)]).usage(4, START, END)
    doubled = studio.usage(4, START, END)
    assert doubled == (2 * normal[0], 2 * normal[1])


def test_metrics_are_consistent_with_usage() -> None:
    for organization_id in range(1, 12):
        organization = MODEL.organizations[organization_id]
        body = MODEL.metrics_body(organization_id)
        metrics = body["metrics"]
        assert isinstance(metrics, dict)
        cpu, gpu = MODEL.usage(organization_id, organization.contract_start, DEFAULT_NOW)
        assert metrics["cpuComputeTimeCurrentContract"] == cpu / 1e6
        assert metrics["gpuComputeTimeCurrentContract"] == gpu / 1e6
        assert metrics["jobsComputeTimeCurrentYear"] == (cpu + gpu) / 6e7
        total = metrics["totalJobsComputeTime"]
        assert isinstance(total, int | float)
        assert total >= (cpu + gpu) / 6e7


# -- additivity through HTTP --------------------------------------------------------------------


def micros(seconds: float) -> int:
    # Seconds were computed as microseconds / 1e6, which round() inverts exactly at these sizes.
    return round(seconds * 1_000_000)


@pytest.mark.parametrize(
    ("start", "middle", "end"),
    [
        ("2024-01-01T00:00:00.000Z", "2024-02-15T13:07:21.123Z", "2024-04-01T00:00:00.000Z"),
        ("2024-03-10T23:59:59.999Z", "2024-03-11T00:00:00.000Z", "2024-03-11T00:00:00.001Z"),
        ("2023-12-31T12:00:00.000Z", "2024-06-30T08:00:00.000Z", "2024-12-31T23:59:59.999Z"),
        ("2024-05-01T00:00:00.000Z", "2024-05-01T00:00:00.000Z", "2024-05-02T00:00:00.000Z"),
    ],
)
def test_additivity_through_http(
    studio: FakeStudio, client: httpx.Client, start: str, middle: str, end: str
) -> None:
    path = "/api/organizations/1/whitelabel/organizations/8/usage/computeTime"

    def fetch(a: str, b: str) -> tuple[int, int]:
        response = client.get(path, params={"startDate": a, "endDate": b})
        assert response.status_code == 200, response.text
        body = response.json()
        cpu, gpu = micros(body["cpuComputeTime"]), micros(body["gpuComputeTime"])
        assert body["totalComputeTime"] == pytest.approx((cpu + gpu) / 6e7, rel=1e-12)
        assert (cpu, gpu) == studio.usage(8, datetime.fromisoformat(a), datetime.fromisoformat(b))
        return cpu, gpu

    first, second, whole = fetch(start, middle), fetch(middle, end), fetch(start, end)
    assert (first[0] + second[0], first[1] + second[1]) == whole
