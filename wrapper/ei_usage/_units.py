"""Units of compute time, and the only place ei-usage converts between them.

The API mixes units in one response: ``cpuComputeTime``/``gpuComputeTime`` are seconds while
``totalComputeTime`` is minutes. Everything ei-usage returns is a :class:`datetime.timedelta`, so a
value cannot be read in the wrong unit; numbers in a unit only appear at the edges (the wire, and
``to_dict``/CLI output, which always say their unit).
"""

from __future__ import annotations

import math
from datetime import timedelta
from enum import StrEnum
from fractions import Fraction


class Unit(StrEnum):
    """A unit of compute time."""

    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"


_SECONDS_IN: dict[Unit, int] = {Unit.SECONDS: 1, Unit.MINUTES: 60, Unit.HOURS: 3600}
_MICROSECONDS_IN: dict[Unit, int] = {unit: n * 1_000_000 for unit, n in _SECONDS_IN.items()}
# Looked up once: seconds() and minutes() run per response field, and hashing an enum member
# calls into Python.
_MICROSECONDS_IN_SECOND = _MICROSECONDS_IN[Unit.SECONDS]
_MICROSECONDS_IN_MINUTE = _MICROSECONDS_IN[Unit.MINUTES]
# timedelta's own limits (not symmetric: min is -999999999 days, max a microsecond short of
# +1000000000 days); beyond them datetime raises OverflowError.
_MAX_MICROSECONDS = timedelta.max // timedelta(microseconds=1)
_MIN_MICROSECONDS = timedelta.min // timedelta(microseconds=1)


def as_unit(unit: Unit | str) -> Unit:
    """Return ``unit`` as a :class:`Unit`.

    Raises:
        ValueError: ``unit`` is not one of ``seconds``, ``minutes``, ``hours``.
    """
    try:
        return Unit(unit)
    except ValueError:
        valid = ", ".join(u.value for u in Unit)
        raise ValueError(f"unknown unit {unit!r}: expected one of {valid}") from None


def _finite(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return value


def convert(value: float, from_unit: Unit | str, to_unit: Unit | str) -> float:
    """Convert a number of ``from_unit`` into ``to_unit``, rounding once.

    Raises:
        ValueError: an unknown unit, or a value that is not finite.
        TypeError: ``value`` is not a number.
    """
    source, target = as_unit(from_unit), as_unit(to_unit)
    number = _finite(value)
    if source is target:
        return float(number)
    # Exact rational arithmetic, so seconds -> hours -> seconds does not drift by two roundings.
    return float(Fraction(number) * _SECONDS_IN[source] / _SECONDS_IN[target])


def _micros(value: float, micros_per_unit: int) -> int:
    """Return ``value`` units in whole microseconds, rounded half to even (as timedelta does).

    Exact integer arithmetic on the float's own ratio: one rounding, and cheaper than Fraction
    on the per-response path.
    """
    if isinstance(value, int):
        return value * micros_per_unit
    numerator, denominator = value.as_integer_ratio()
    quotient, remainder = divmod(numerator * micros_per_unit, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient


def _timedelta(value: float, unit: Unit, micros_per_unit: int) -> timedelta:
    # An int (the common case on the wire) is exact: no rounding, no finiteness to check.
    micros = (
        value * micros_per_unit if type(value) is int else _micros(_finite(value), micros_per_unit)
    )
    if not _MIN_MICROSECONDS <= micros <= _MAX_MICROSECONDS:
        raise ValueError(f"{value!r} {unit.value} is too large for a timedelta")
    return timedelta(microseconds=micros)


def to_timedelta(value: float, unit: Unit | str) -> timedelta:
    """Return ``value`` ``unit``s as a timedelta (rounded to the nearest microsecond).

    Raises:
        ValueError: an unknown unit, a non-finite value, or one too large for a timedelta.
        TypeError: ``value`` is not a number.
    """
    u = as_unit(unit)
    return _timedelta(value, u, _MICROSECONDS_IN[u])


def from_timedelta(duration: timedelta, unit: Unit | str) -> float:
    """Return ``duration`` as a number of ``unit``s.

    Raises:
        ValueError: an unknown unit.
    """
    return (duration // timedelta(microseconds=1)) / _MICROSECONDS_IN[as_unit(unit)]


def seconds(value: float) -> timedelta:
    """Return a duration the API gave in seconds (``cpuComputeTime``, ``gpuComputeTime``)."""
    return _timedelta(value, Unit.SECONDS, _MICROSECONDS_IN_SECOND)


def minutes(value: float) -> timedelta:
    """Return a duration the API gave in minutes (``totalComputeTime`` and the metrics totals)."""
    return _timedelta(value, Unit.MINUTES, _MICROSECONDS_IN_MINUTE)
