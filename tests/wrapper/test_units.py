from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ei_usage import Unit, convert
from ei_usage._units import as_unit, from_timedelta, minutes, seconds, to_timedelta

if TYPE_CHECKING:
    from collections.abc import Callable

UNITS = list(Unit)
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def test_unit_is_a_str_enum_with_three_members() -> None:
    assert [u.value for u in Unit] == ["seconds", "minutes", "hours"]
    assert Unit("minutes") is Unit.MINUTES
    assert f"{Unit.HOURS}" == "hours"


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (90, "seconds", "minutes", 1.5),
        (1.5, "minutes", "seconds", 90.0),
        (2, "hours", "minutes", 120.0),
        (7200, Unit.SECONDS, Unit.HOURS, 2.0),
        (1, "minutes", "hours", 1 / 60),
        (0, "hours", "seconds", 0.0),
        (-30, "seconds", "minutes", -0.5),
        (5, "minutes", "minutes", 5.0),
    ],
)
def test_convert(value: float, source: str, target: str, expected: float) -> None:
    result = convert(value, source, target)
    assert isinstance(result, float)
    assert result == expected


@pytest.mark.parametrize("bad", ["second", "MINUTES", "h", "", "days"])
def test_unknown_unit_is_a_value_error_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match=repr(bad)):
        convert(1, bad, "seconds")
    with pytest.raises(ValueError, match="seconds, minutes, hours"):
        convert(1, "seconds", bad)
    with pytest.raises(ValueError, match="unknown unit"):
        as_unit(bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        convert(bad, "seconds", "minutes")


@pytest.mark.parametrize("bad", [True, "60", None])
def test_non_numbers_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        convert(bad, "seconds", "minutes")  # type: ignore[arg-type]


def test_api_fields_become_timedeltas_in_their_own_unit() -> None:
    assert seconds(90) == timedelta(minutes=1, seconds=30)
    assert minutes(1.5) == timedelta(seconds=90)
    assert seconds(0.0000004) == timedelta(0)  # below a microsecond
    assert seconds(0.0000006) == timedelta(microseconds=1)


def test_too_large_for_a_timedelta_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="too large"):
        minutes(1e15)


@pytest.mark.parametrize(
    ("convert_from", "unit"), [(seconds, Unit.SECONDS), (minutes, Unit.MINUTES)]
)
def test_whole_numbers_at_the_timedelta_limit(
    convert_from: Callable[[float], timedelta], unit: Unit
) -> None:
    # Whole numbers take a shortcut; it must end exactly where the general path does, at
    # timedelta's limits (which are not symmetric), with a ValueError, never OverflowError.
    per_unit = timedelta(**{unit.value: 1})
    largest = timedelta.max // per_unit
    smallest = -(timedelta.min // -per_unit)
    for value in (largest, smallest):
        assert convert_from(value) == value * per_unit
        assert convert_from(float(value)) == value * per_unit
    for too_large in (largest + 1, smallest - 1, 10**400, -(10**400)):
        for spelled in (too_large, float(too_large)) if abs(too_large) < 10**300 else (too_large,):
            with pytest.raises(ValueError, match="too large"):
                convert_from(spelled)
    with pytest.raises(TypeError):
        convert_from(True)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_whole_numbers_agree_with_their_float_spelling(value: int) -> None:
    assert seconds(value) == seconds(float(value)) == timedelta(seconds=value)
    assert minutes(value) == minutes(float(value)) == timedelta(minutes=value)


def test_from_timedelta() -> None:
    assert from_timedelta(timedelta(hours=1, minutes=30), "hours") == 1.5
    assert from_timedelta(timedelta(seconds=90), Unit.MINUTES) == 1.5
    assert from_timedelta(timedelta(microseconds=1), "seconds") == 1e-6


@given(finite, st.sampled_from(UNITS), st.sampled_from(UNITS))
def test_convert_round_trips(value: float, a: Unit, b: Unit) -> None:
    back = convert(convert(value, a, b), b, a)
    assert math.isclose(back, value, rel_tol=1e-15, abs_tol=1e-300)


@given(finite, st.sampled_from(UNITS), st.sampled_from(UNITS), st.sampled_from(UNITS))
def test_convert_composes(value: float, a: Unit, b: Unit, c: Unit) -> None:
    assert math.isclose(
        convert(convert(value, a, b), b, c), convert(value, a, c), rel_tol=1e-15, abs_tol=1e-300
    )


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(UNITS))
def test_timedelta_round_trip_is_exact_to_the_microsecond(micros: int, unit: Unit) -> None:
    duration = timedelta(microseconds=micros)
    assert to_timedelta(from_timedelta(duration, unit), unit) == duration


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False), st.sampled_from(UNITS))
def test_to_timedelta_agrees_with_convert(value: float, unit: Unit) -> None:
    assert math.isclose(
        to_timedelta(value, unit).total_seconds(),
        convert(value, unit, Unit.SECONDS),
        rel_tol=1e-12,
        abs_tol=1e-6,
    )


@given(st.floats(min_value=-1e11, max_value=1e11, allow_nan=False), st.sampled_from(UNITS))
def test_to_timedelta_rounds_exactly_once(value: float, unit: Unit) -> None:
    from fractions import Fraction

    per_unit = {"seconds": 1_000_000, "minutes": 60_000_000, "hours": 3_600_000_000}[unit.value]
    # Fraction arithmetic is exact and round() on it is half-to-even, as timedelta rounds.
    exact = round(Fraction(value) * per_unit)
    if abs(exact) <= timedelta.max // timedelta(microseconds=1):
        assert to_timedelta(value, unit) == timedelta(microseconds=exact)


@pytest.mark.parametrize(
    ("value", "micros"), [(0.0000005, 0), (0.0000015, 2), (0.0000025, 2), (-0.0000015, -2)]
)
def test_half_microseconds_round_to_even(value: float, micros: int) -> None:
    # these decimals are not exact in binary: what counts is the float's true value
    from fractions import Fraction

    assert seconds(value) == timedelta(microseconds=round(Fraction(value) * 1_000_000))
    assert abs(seconds(value) - timedelta(microseconds=micros)) <= timedelta(microseconds=1)
