"""The forecast model: worked cases, the edge cases the README names, and its invariants."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ei_usage import ComputeTime, DateRange, Entitlements, InnerOrganizationUsage
from ei_usage.forecast import Forecast, forecast_usage

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SINCE = datetime(2024, 7, 1, tzinfo=UTC)
END = datetime(2025, 7, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY_US = 86_400_000_000


def month(index: int) -> DateRange:
    """Month ``index`` months after January 2024 (0 = January 2024)."""
    return DateRange.month(2024 + index // 12, index % 12 + 1)


def months(hours_per_day: list[float], last: int = 11) -> list[ComputeTime]:
    """Monthly rows ending with month ``last``, each using ``hours_per_day`` x its days."""
    rows = []
    first = last - len(hours_per_day) + 1
    for i, rate in enumerate(hours_per_day):
        period = month(first + i)
        days = period.duration // timedelta(days=1)
        used = timedelta(hours=rate * days)
        rows.append(ComputeTime(1, 2, period, cpu=used, gpu=timedelta(0), total=used))
    return rows


def usage(
    used: timedelta,
    limit: timedelta | None = timedelta(hours=1000),
    *,
    gpu: timedelta = timedelta(0),
    gpu_limit: timedelta | None = None,
    since: datetime | None = SINCE,
) -> InnerOrganizationUsage:
    return InnerOrganizationUsage(
        organization_id=1,
        inner_organization_id=2,
        cpu=used - gpu,
        gpu=gpu,
        total=used,
        contract_since=since,
        storage_bytes=None,
        billable=True,
        entitlements=Entitlements(compute_time_per_year=limit, gpu_compute_time_per_year=gpu_limit),
    )


def test_a_steady_rate_projects_a_straight_line_to_the_contract_end() -> None:
    forecast = forecast_usage(usage(400 * HOUR), months([2.0] * 6), now=NOW)
    assert forecast.method == "trend"
    assert forecast.contract_end == END
    assert forecast.rate_per_day == 2 * HOUR
    remaining_days = (END - NOW).days  # 181
    assert forecast.projected == 400 * HOUR + remaining_days * 2 * HOUR
    assert forecast.compute is not None
    assert forecast.ratio == pytest.approx((400 + 362) / 1000)
    # 80% of 1000 h is 800 h: never reached; the range is a point (no spread at all).
    assert forecast.compute.warn is not None
    assert forecast.compute.warn.at is None
    assert forecast.compute.projected_low == forecast.compute.projected_high


def test_crossing_dates_at_a_steady_rate() -> None:
    forecast = forecast_usage(usage(700 * HOUR), months([2.0] * 6), now=NOW)
    assert forecast.compute is not None
    assert forecast.compute.warn is not None
    assert forecast.compute.warn.at == NOW + timedelta(days=50)  # 100 h at 2 h a day
    assert forecast.compute.fail is not None
    assert forecast.compute.fail.at == NOW + timedelta(days=150)
    assert not forecast.compute.warn.reached


def test_growth_projects_above_the_trailing_level() -> None:
    growing = forecast_usage(usage(400 * HOUR), months([1, 1.2, 1.4, 1.6, 1.8, 2.0]), now=NOW)
    flat = forecast_usage(usage(400 * HOUR), months([1.5] * 6), now=NOW)
    assert growing.method == "trend"
    assert growing.rate_per_day > timedelta(hours=1.8)  # above the 3-month mean, 1.87 weighted
    assert growing.compute is not None
    assert flat.compute is not None
    assert growing.compute.projected > flat.compute.projected
    # Low holds the rate without the trend; high follows it.
    assert (
        growing.compute.projected_low < growing.compute.projected < (growing.compute.projected_high)
    )


def test_fewer_than_two_months_say_so_and_range_wide() -> None:
    forecast = forecast_usage(usage(300 * HOUR), months([2.0]), now=NOW)
    assert forecast.method == "short"
    assert forecast.months == 1
    assert any("only 1 full month" in note for note in forecast.notes)
    assert forecast.rate_per_day_low * 4 == forecast.rate_per_day_high


def test_no_history_falls_back_to_the_contract_average() -> None:
    used = 184 * 3 * HOUR  # 3 h a day since 1 July
    forecast = forecast_usage(usage(used), [], now=NOW)
    assert forecast.method == "contract"
    assert forecast.rate_per_day == 3 * HOUR
    assert any("no monthly history" in note for note in forecast.notes)


def test_nothing_to_go_on() -> None:
    forecast = forecast_usage(usage(timedelta(0)), [], now=SINCE)
    assert forecast.method == "none"
    assert forecast.rate_per_day == timedelta(0)
    assert forecast.projected == timedelta(0)


def test_leading_idle_months_are_before_the_organization_started() -> None:
    forecast = forecast_usage(usage(300 * HOUR), months([0, 0, 0, 2.0]), now=NOW)
    assert forecast.months == 1
    assert forecast.method == "short"


def test_an_idle_month_lowers_the_level_and_widens_the_low_end() -> None:
    forecast = forecast_usage(usage(300 * HOUR), months([2, 2, 2, 2, 0, 2]), now=NOW)
    assert any("idle month" in note for note in forecast.notes)
    assert timedelta(0) < forecast.rate_per_day < 2 * HOUR
    assert forecast.rate_per_day_low < forecast.rate_per_day


def test_already_over_the_limit() -> None:
    forecast = forecast_usage(usage(1200 * HOUR), months([2.0] * 6), now=NOW)
    assert forecast.compute is not None
    fail = forecast.compute.fail
    assert fail is not None
    assert fail.reached
    assert fail.at == fail.earliest == fail.latest == NOW
    assert forecast.ratio is not None
    assert forecast.ratio > 1.2


def test_a_renewed_contract_restarts_from_the_renewal() -> None:
    renewal = datetime(2024, 12, 1, tzinfo=UTC)
    old = usage(900 * HOUR, since=datetime(2023, 12, 1, tzinfo=UTC))
    snapshots = [
        (datetime(2024, 11, 20, tzinfo=UTC), old),
        (datetime(2024, 11, 30, tzinfo=UTC), usage(950 * HOUR, since=old.contract_since)),
        (datetime(2024, 12, 2, tzinfo=UTC), usage(4 * HOUR, since=renewal)),
        (datetime(2024, 12, 31, tzinfo=UTC), usage(62 * HOUR, since=renewal)),
    ]
    current = usage(62 * HOUR, since=renewal)
    forecast = forecast_usage(current, months([2.0] * 6, last=10), snapshots, now=NOW)
    assert forecast.contract_since == renewal
    assert forecast.contract_end == datetime(2025, 12, 1, tzinfo=UTC)
    assert forecast.compute is not None
    assert forecast.compute.used == 62 * HOUR
    assert forecast.compute.projected < 1000 * HOUR
    # Without the snapshots' contract_since filter, a drop in used marks the renewal itself.
    undated = [(at, attr_since(u, None)) for at, u in snapshots]
    again = forecast_usage(attr_since(current, renewal), months([2.0] * 6), undated, now=NOW)
    assert any("renewed" in note for note in again.notes)


def attr_since(value: InnerOrganizationUsage, since: datetime | None) -> InnerOrganizationUsage:
    import attrs

    return attrs.evolve(value, contract_since=since)


def test_snapshots_refine_the_running_months_rate() -> None:
    now = datetime(2025, 1, 21, tzinfo=UTC)
    snapshots = [
        (datetime(2025, 1, 1, tzinfo=UTC), usage(400 * HOUR)),
        (now, usage(400 * HOUR + 20 * 4 * HOUR)),  # 4 h a day in January so far
    ]
    with_snapshots = forecast_usage(usage(480 * HOUR), months([2.0] * 6), snapshots, now=now)
    without = forecast_usage(usage(480 * HOUR), months([2.0] * 6), now=now)
    assert without.rate_per_day == 2 * HOUR
    assert 2 * HOUR < with_snapshots.rate_per_day < 4 * HOUR


def test_no_contract_start_means_no_projection_to_its_end() -> None:
    forecast = forecast_usage(usage(100 * HOUR, since=None), months([2.0] * 6), now=NOW)
    assert forecast.compute is None
    assert forecast.projected is None
    assert forecast.contract_end is None
    assert forecast.rate_per_day == 2 * HOUR
    assert any("unknown" in note for note in forecast.notes)


def test_an_explicit_contract_end_and_a_past_start_rolled_forward() -> None:
    given = forecast_usage(
        usage(100 * HOUR), months([2.0] * 6), now=NOW, contract_end=NOW + timedelta(days=10)
    )
    assert given.projected == 120 * HOUR
    rolled = forecast_usage(
        usage(100 * HOUR, since=datetime(2022, 3, 1, tzinfo=UTC)), months([2.0] * 6), now=NOW
    )
    assert rolled.contract_end == datetime(2025, 3, 1, tzinfo=UTC)


def test_gpu_gets_its_own_forecast_when_it_has_its_own_limit() -> None:
    rows = [
        ComputeTime(1, 2, r.period, cpu=r.cpu, gpu=r.cpu, total=(r.cpu or HOUR) * 2)
        for r in months([1.0] * 6)
    ]
    forecast = forecast_usage(
        usage(400 * HOUR, gpu=200 * HOUR, gpu_limit=300 * HOUR), rows, now=NOW
    )
    assert forecast.gpu is not None
    assert forecast.gpu.limit == 300 * HOUR
    assert forecast.gpu.projected == 200 * HOUR + 181 * HOUR
    assert forecast.rate_per_day == 2 * HOUR
    assert forecast.highest_ratio == forecast.gpu.ratio
    assert forecast_usage(usage(400 * HOUR), rows, now=NOW).gpu is None


def test_unlimited_has_a_projection_but_no_ratio_or_crossing() -> None:
    forecast = forecast_usage(usage(100 * HOUR, limit=None), months([2.0] * 6), now=NOW)
    assert forecast.compute is not None
    assert forecast.compute.ratio is None
    assert forecast.compute.warn is None
    assert forecast.projected == 462 * HOUR


def test_a_zero_limit_is_infinitely_over() -> None:
    forecast = forecast_usage(usage(HOUR, limit=timedelta(0)), months([2.0] * 6), now=NOW)
    assert forecast.ratio == math.inf
    assert forecast.to_dict()["compute"]["ratio"] == "infinite"


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, True, "0.8"])
def test_thresholds_are_checked(bad: object) -> None:
    with pytest.raises(ValueError, match="warn_at"):
        forecast_usage(usage(HOUR), [], now=NOW, warn_at=bad)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        forecast_usage(usage(HOUR), [], now=datetime(2025, 1, 1))


def test_to_dict_is_json_ready_and_names_its_unit() -> None:
    forecast = forecast_usage(usage(700 * HOUR), months([2.0] * 6), now=NOW)
    data = forecast.to_dict("hours")
    assert data["unit"] == "hours"
    assert data["rate_per_day"] == 2.0
    assert data["compute"]["warn"]["at"] == "2025-02-20T00:00:00Z"
    assert data["compute"]["limit"] == 1000.0
    assert data["method"] == "trend"


# ---- invariants -------------------------------------------------------------------------------

RATES = st.lists(st.integers(0, 50_000), min_size=0, max_size=14)  # tenths of an hour per day


def forecast_of(rates: list[int], used_hours: int, limit_hours: int, day: int) -> Forecast:
    now = NOW + timedelta(days=day)
    return forecast_usage(
        usage(timedelta(hours=used_hours), timedelta(hours=limit_hours)),
        months([r / 10 for r in rates]),
        now=now,
    )


def le(a: datetime | None, b: datetime | None) -> bool:
    """a <= b where None means never (later than any date)."""
    return b is None or (a is not None and a <= b)


@settings(max_examples=300, deadline=None)
@given(
    rates=RATES,
    used=st.integers(0, 20_000),
    limit=st.integers(1, 20_000),
    day=st.integers(0, 150),
)
def test_ranges_are_ordered_and_crossings_fall_inside_the_contract(
    rates: list[int], used: int, limit: int, day: int
) -> None:
    forecast = forecast_of(rates, used, limit, day)
    compute = forecast.compute
    assert compute is not None
    assert forecast.contract_end is not None
    assert compute.used <= compute.projected_low <= compute.projected <= compute.projected_high
    assert compute.ratio_low is not None
    assert compute.ratio is not None
    assert compute.ratio_high is not None
    assert compute.ratio_low <= compute.ratio <= compute.ratio_high
    assert forecast.rate_per_day_low <= forecast.rate_per_day <= forecast.rate_per_day_high
    for crossing in (compute.warn, compute.fail):
        assert crossing is not None
        for moment in (crossing.at, crossing.earliest, crossing.latest):
            assert moment is None or forecast.now <= moment <= forecast.contract_end
        assert le(crossing.earliest, crossing.at)
        assert le(crossing.at, crossing.latest)
    assert compute.warn is not None
    assert compute.fail is not None
    assert le(compute.warn.at, compute.fail.at)


@settings(max_examples=200, deadline=None)
@given(
    rates=RATES,
    used=st.integers(0, 10_000),
    more=st.integers(0, 10_000),
    limit=st.integers(1, 20_000),
)
def test_more_usage_never_projects_less_nor_crosses_later(
    rates: list[int], used: int, more: int, limit: int
) -> None:
    low, high = forecast_of(rates, used, limit, 0), forecast_of(rates, used + more, limit, 0)
    assert low.compute is not None
    assert high.compute is not None
    assert high.compute.projected >= low.compute.projected
    assert high.compute.projected_low >= low.compute.projected_low
    assert high.compute.projected_high >= low.compute.projected_high
    for a, b in ((low.compute.warn, high.compute.warn), (low.compute.fail, high.compute.fail)):
        assert a is not None
        assert b is not None
        assert le(b.at, a.at)
        assert le(b.earliest, a.earliest)
        assert le(b.latest, a.latest)


@settings(max_examples=200, deadline=None)
@given(
    rates=RATES,
    bump=st.integers(1, 5_000),
    used=st.integers(0, 10_000),
)
def test_a_busier_last_month_never_projects_less(rates: list[int], bump: int, used: int) -> None:
    if not rates:
        rates = [0]
    busier = [*rates[:-1], rates[-1] + bump]
    a, b = forecast_of(rates, used, 20_000, 0), forecast_of(busier, used, 20_000, 0)
    assert a.compute is not None
    assert b.compute is not None
    assert b.compute.projected >= a.compute.projected


@settings(max_examples=200, deadline=None)
@given(
    rates=RATES,
    used=st.integers(0, 10_000),
    cuts=st.lists(st.integers(0, 180 * 24), max_size=6),
)
def test_projections_add_up_in_whole_microseconds(
    rates: list[int], used: int, cuts: list[int]
) -> None:
    forecast = forecast_of(rates, used, 20_000, 0)
    assert forecast.compute is not None
    assert forecast.contract_end is not None
    # The end projection is exactly what is used plus what is projected from now to the end.
    mid, _low, high = forecast.projected_between(forecast.now, forecast.contract_end)
    assert forecast.compute.projected == forecast.compute.used + mid
    assert forecast.compute.projected_high == forecast.compute.used + high
    # Pieces add up to the whole within a rounding of one microsecond each.
    bounds = [NOW, *sorted(NOW + timedelta(hours=c) for c in cuts), forecast.contract_end]
    pieces = [forecast.projected_between(a, b)[0] for a, b in itertools.pairwise(bounds)]
    assert abs(sum(pieces, timedelta(0)) - mid) <= timedelta(microseconds=len(pieces))
    # Units: the JSON figures are the same durations, converted exactly.
    data = forecast.to_dict("seconds")
    assert data["compute"]["projected"] == forecast.compute.projected.total_seconds()


SEASON = [2, 3, 4, 5, 4, 3, 2, 1, 0.5, 0.3, 0.5, 1]  # hours a day, January to December


def test_a_yearly_pattern_is_followed_when_it_predicts_better() -> None:
    rows = months(SEASON * 2, last=11)  # January 2023 to December 2024
    forecast = forecast_usage(usage(400 * HOUR), rows, now=NOW)
    assert forecast.method == "yearly"
    assert any("yearly pattern" in note for note in forecast.notes)
    april = forecast.projected_between(
        datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC)
    )[0]
    october = forecast.projected_between(
        datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)
    )[0]
    assert april == 30 * 5 * HOUR  # same as a year earlier: nothing changed year on year
    assert october == timedelta(hours=31 * 0.3)


def test_a_step_is_not_taken_for_a_season() -> None:
    rows = months([1.0] * 12 + [4.0] * 12, last=11)
    forecast = forecast_usage(usage(400 * HOUR), rows, now=NOW)
    assert forecast.method == "trend"


def test_the_readmes_worked_example_says_what_it_does() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Forecasts") :]
    section = section[: section.index("\n## ", 1)]
    start = section.index("```python\n") + len("```python\n")
    code = section[start : section.index("```", start)]
    setup = code[: code.index("forecast.method")]
    namespace: dict[str, object] = {}
    exec(setup, namespace)
    forecast = namespace["forecast"]
    assert isinstance(forecast, Forecast)
    compute = forecast.compute
    assert compute is not None
    assert compute.limit is not None
    assert compute.fail is not None
    assert compute.warn is not None

    def hours(value: timedelta) -> str:
        return f"{value / HOUR:.1f} h"

    assert (
        f"({forecast.method!r}, {forecast.contract_end.date() if forecast.contract_end else None})"
        in section
    )
    assert f"{forecast.months} months of history" in section
    assert f"{hours(compute.used)} of a {hours(compute.limit)} limit" in section
    assert compute.warn.reached
    assert f"{hours(compute.projected)} at the end" in section
    assert (
        f"({hours(compute.projected_low)[:-2]} to {hours(compute.projected_high)[:-2]})" in section
    )
    assert compute.fail.at is not None
    assert str(compute.fail.at.replace(tzinfo=None)) in section


def test_snapshots_in_any_order_give_the_same_forecast() -> None:
    now = datetime(2025, 1, 21, tzinfo=UTC)
    snapshots = [
        (datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=d), usage((400 + 4 * d) * HOUR))
        for d in range(21)
    ]
    ordered = forecast_usage(usage(480 * HOUR), months([2.0] * 6), snapshots, now=now)
    shuffled = forecast_usage(
        usage(480 * HOUR), months([2.0] * 6), snapshots[::2] + snapshots[1::2], now=now
    )
    assert ordered == shuffled
    assert ordered.rate_per_day > 2 * HOUR


def test_only_idle_months_project_nothing_more() -> None:
    forecast = forecast_usage(usage(300 * HOUR), months([0.0] * 5), now=NOW)
    assert forecast.months == 5
    assert forecast.rate_per_day == timedelta(0)
    assert forecast.projected == 300 * HOUR


def test_idle_months_after_older_use_are_history_not_a_late_start() -> None:
    rows = months([2.0] * 3 + [0.0] * 24, last=11)  # used, then idle for two years
    forecast = forecast_usage(usage(300 * HOUR), rows, now=NOW)
    assert forecast.months == 24
    assert forecast.rate_per_day == timedelta(0)
