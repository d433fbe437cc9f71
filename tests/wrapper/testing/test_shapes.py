"""Usage shapes: opt-in, deterministic, exact, and each shaped as it says."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ei_usage.testing import FakeOrganization, FakeStudio, UsageShape, default_organizations

SHAPED = FakeStudio(usage_shapes=True, inner_organizations=14)  # never started
BY_SHAPE = {o.usage_shape: o.id for o in SHAPED.organizations.values() if o.usage_shape}
# Across the edges of the window the shapes vary in (2022 to 2026).
START = datetime(2021, 12, 1, tzinfo=UTC)
END = datetime(2027, 2, 1, tzinfo=UTC)
SPAN_MS = (END - START) // timedelta(milliseconds=1)


def month_hours(organization_id: int, year: int, month: int) -> int:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    cpu, gpu = SHAPED.usage(organization_id, start, end)
    return (cpu + gpu) // 3_600_000_000


def year_hours(organization_id: int, year: int) -> int:
    return sum(month_hours(organization_id, year, m) for m in range(1, 13))


def test_shapes_are_opt_in_and_leave_the_default_data_as_it_was() -> None:
    plain, shaped = default_organizations(0), default_organizations(0, usage_shapes=True)
    assert all(o.usage_shape is None for o in plain)
    assert [o.usage_shape for o in shaped[1:8]] == list(UsageShape)
    assert shaped[0].usage_shape is None  # the white-label admin organization
    # The same organizations otherwise (ids, names, storage); limits follow the shaped usage.
    assert [(o.id, o.name) for o in plain] == [(o.id, o.name) for o in shaped]


def test_usage_shapes_and_explicit_organizations_do_not_mix() -> None:
    with pytest.raises(ValueError, match="usage_shapes"):
        FakeStudio(organizations=[FakeOrganization(1)], usage_shapes=True)


def test_shapes_are_deterministic() -> None:
    again = FakeStudio(usage_shapes=True, inner_organizations=14)
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
    for organization_id in range(2, 16):
        assert again.usage(organization_id, start, end) == SHAPED.usage(organization_id, start, end)


@settings(max_examples=150, deadline=None)
@given(
    shape=st.sampled_from(list(UsageShape)),
    cuts=st.lists(st.integers(0, SPAN_MS), max_size=10),
)
def test_a_shaped_range_is_the_sum_of_its_pieces(shape: UsageShape, cuts: list[int]) -> None:
    organization_id = BY_SHAPE[shape]
    bounds = [0, *sorted(cuts), SPAN_MS]

    def at(offset_ms: int) -> datetime:
        return START + timedelta(milliseconds=offset_ms)

    pieces = [SHAPED.usage(organization_id, at(a), at(b)) for a, b in itertools.pairwise(bounds)]
    whole = SHAPED.usage(organization_id, START, END)
    assert whole == (sum(p[0] for p in pieces), sum(p[1] for p in pieces))


def test_growth_grows_and_decline_declines() -> None:
    growth, decline = BY_SHAPE[UsageShape.GROWTH], BY_SHAPE[UsageShape.DECLINE]
    assert (
        year_hours(growth, 2025) > 1.4 * year_hours(growth, 2024) > 1.9 * year_hours(growth, 2023)
    )
    assert year_hours(decline, 2025) < 0.7 * year_hours(decline, 2024)


def test_the_seasonal_swing_peaks_in_spring_and_dips_in_autumn() -> None:
    seasonal = BY_SHAPE[UsageShape.SEASONAL]
    for year in (2023, 2024, 2025):
        spring = sum(month_hours(seasonal, year, m) for m in (3, 4, 5))
        autumn = sum(month_hours(seasonal, year, m) for m in (9, 10, 11))
        assert spring > 2.5 * autumn


def test_a_step_when_a_big_project_starts() -> None:
    step = BY_SHAPE[UsageShape.STEP]
    before = sum(month_hours(step, 2024, m) for m in (1, 2, 3))
    after = sum(month_hours(step, 2024, m) for m in (5, 6, 7))
    assert after > 2.5 * before


def test_an_idle_month_every_august() -> None:
    idle = BY_SHAPE[UsageShape.IDLE_MONTH]
    for year in (2023, 2024, 2025):
        assert month_hours(idle, year, 8) == 0
        assert month_hours(idle, year, 7) > 0
        assert month_hours(idle, year, 9) > 0


def test_a_contract_renewed_mid_year_restarts_its_count() -> None:
    renewal = BY_SHAPE[UsageShape.RENEWAL]
    studio = FakeStudio(usage_shapes=True, inner_organizations=14)
    assert studio.organizations[renewal].contract_start == datetime(2024, 7, 1, tzinfo=UTC)
    studio.set_now(datetime(2025, 6, 30, tzinfo=UTC))
    before = sum(studio.contract_usage(renewal))
    assert studio.organization_info_body(renewal)["computeTimeCurrentContractSince"] == (
        "2024-07-01T00:00:00.000Z"
    )
    studio.set_now(datetime(2025, 7, 2, tzinfo=UTC))
    after = sum(studio.contract_usage(renewal))
    info = studio.organization_info_body(renewal)
    assert info["computeTimeCurrentContractSince"] == "2025-07-01T00:00:00.000Z"
    assert 0 < after < before / 30  # one day of the new contract
    cpu, gpu = studio.usage(
        renewal, datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 7, 2, tzinfo=UTC)
    )
    assert after == cpu + gpu
    # More usage after the mid-year renewal (a bigger plan).
    assert sum(month_hours(renewal, 2024, m) for m in (7, 8, 9)) > 1.3 * sum(
        month_hours(renewal, 2024, m) for m in (3, 4, 5)
    )


def test_shaped_limits_keep_the_profiles_ratios_as_of_the_default_now() -> None:
    for organization in SHAPED.organizations.values():
        limit = organization.entitlements.compute_time_per_year_seconds
        if organization.usage_shape is None or limit is None:
            continue
        cpu, gpu = SHAPED.contract_usage(organization.id)
        assert 0.05 < (cpu + gpu) / 1_000_000 / limit < 1.7
