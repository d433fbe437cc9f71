"""The deterministic compute-usage pattern behind the fake Studio.

Usage is a per-UTC-day integer *rate*: microseconds of compute per millisecond of wall time,
separately for CPU and GPU. The usage of a range is the integral of that rate over the range at
millisecond resolution, which is an integer number of microseconds, so the usage of a range equals
exactly the sum of the usage of its pieces wherever it is split.

To make any range cost O(1) the daily rates repeat with a period of ``PERIOD_DAYS`` (a whole number
of weeks, so weekends stay weekends): a query is two look-ups in a per-organization prefix-sum
table, built once (about a millisecond) and cached.

A ``UsageShape`` (opt-in) multiplies the daily rates by a per-day factor over ``SHAPE_WINDOW``
(2022 to 2026) to give the month-to-month shapes real usage has: growth, decline, a seasonal
swing, a step, an idle month. Outside the window the factor holds at the window's edge. The rates
stay integers per day, so a shaped table keeps the exactness above.
"""

from __future__ import annotations

import enum
import functools
from datetime import UTC, date, datetime, timedelta

DAY_MS = 86_400_000
# 208 weeks, about four years: long enough that year-on-year comparisons do not repeat.
PERIOD_DAYS = 7 * 208
_PERIOD_MS = PERIOD_DAYS * DAY_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_MASK = (1 << 64) - 1


def _mix(value: int) -> int:
    """Scramble an integer into 64 pseudo-random bits (the splitmix64 finalizer)."""
    value &= _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def to_epoch_ms(moment: datetime) -> int:
    """Return whole milliseconds since the Unix epoch, rounding down.

    Args:
        moment: A timezone-aware datetime.

    Returns:
        The instant in milliseconds; sub-millisecond parts are dropped (the client sends
        milliseconds, so nothing finer can matter).

    Raises:
        ValueError: If ``moment`` is naive.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: give it a timezone")
    return (moment - _EPOCH) // _ONE_MS


class UsageTable:
    """Prefix sums of one organization's daily CPU and GPU rates over one period."""

    __slots__ = ("_cpu_prefix", "_cpu_rates", "_gpu_prefix", "_gpu_rates")

    def __init__(self, cpu_rates: list[int], gpu_rates: list[int]) -> None:
        self._cpu_rates = cpu_rates
        self._gpu_rates = gpu_rates
        self._cpu_prefix = _prefix_ms(cpu_rates)
        self._gpu_prefix = _prefix_ms(gpu_rates)

    def cumulative(self, epoch_ms: int) -> tuple[int, int]:
        """Return CPU and GPU microseconds used from an arbitrary fixed origin up to ``epoch_ms``.

        Only differences of this function mean anything; it may be negative.
        """
        period, offset = divmod(epoch_ms, _PERIOD_MS)
        day, into_day = divmod(offset, DAY_MS)
        cpu = (
            period * self._cpu_prefix[-1] + self._cpu_prefix[day] + self._cpu_rates[day] * into_day
        )
        gpu = (
            period * self._gpu_prefix[-1] + self._gpu_prefix[day] + self._gpu_rates[day] * into_day
        )
        return cpu, gpu

    def usage(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Return CPU and GPU microseconds used in ``[start_ms, end_ms)``, zero if empty."""
        if end_ms <= start_ms:
            return 0, 0
        cpu_end, gpu_end = self.cumulative(end_ms)
        cpu_start, gpu_start = self.cumulative(start_ms)
        return cpu_end - cpu_start, gpu_end - gpu_start

    def rate(self, day: int) -> tuple[int, int]:
        """Return the CPU and GPU rates (µs per ms) of a day (days since 1970-01-01)."""
        index = day % len(self._cpu_rates)
        return self._cpu_rates[index], self._gpu_rates[index]

    def scaled(self, per_mille: int) -> UsageTable:
        """Return this table with every daily rate scaled by ``per_mille`` / 1000 (rounded down)."""
        return UsageTable(
            [rate * per_mille // 1000 for rate in self._cpu_rates],
            [rate * per_mille // 1000 for rate in self._gpu_rates],
        )

    def cumulative_within(self, offset_ms: int) -> tuple[int, int]:
        """Return CPU and GPU microseconds from the table's first day to ``offset_ms`` into it.

        For a table read as one stretch of days rather than a repeating period; ``offset_ms``
        runs from 0 to the table's length (its end included).
        """
        day, into_day = divmod(offset_ms, DAY_MS)
        if day == len(self._cpu_rates):
            return self._cpu_prefix[-1], self._gpu_prefix[-1]
        return (
            self._cpu_prefix[day] + self._cpu_rates[day] * into_day,
            self._gpu_prefix[day] + self._gpu_rates[day] * into_day,
        )


def _prefix_ms(rates: list[int]) -> list[int]:
    prefix = [0]
    total = 0
    for rate in rates:
        total += rate * DAY_MS
        prefix.append(total)
    return prefix


class UsageShape(enum.StrEnum):
    """The month-to-month shape of an organization's usage (``FakeOrganization.usage_shape``).

    Each scales the organization's daily rates by a factor (per mille of the unshaped rate) that
    depends on the date, from 2022 to 2026 (``SHAPE_WINDOW``); every shaped organization's
    contract also renews each year on its anniversary (``current_contract_start``).
    """

    FLAT = "flat"
    """Today's pattern, unscaled: nearly flat month to month."""
    GROWTH = "growth"
    """Steady growth: 4% more every 30 days (the factor is 300 per mille on 1 January 2022)."""
    DECLINE = "decline"
    """Steady decline: 4% less every 30 days (from 3,000 per mille on 1 January 2022)."""
    SEASONAL = "seasonal"
    """A yearly swing of +/-60%: busiest in April, quietest in October."""
    STEP = "step"
    """A big project starts on 15 April 2024: the factor steps from 400 to 1,600."""
    IDLE_MONTH = "idle_month"
    """No usage at all every August (a summer shutdown); otherwise unscaled."""
    RENEWAL = "renewal"
    """A contract renewed mid-year (1 July) for a bigger plan: usage 50% higher from then."""


SHAPE_WINDOW = (date(2022, 1, 1), date(2027, 1, 1))
"""The days ``[start, end)`` over which a ``UsageShape`` varies; outside it holds."""

_WINDOW_DAYS = (
    (SHAPE_WINDOW[0] - date(1970, 1, 1)).days,
    (SHAPE_WINDOW[1] - date(1970, 1, 1)).days,
)
_SEASON_PER_MILLE = (0, 300, 520, 600, 520, 300, 0, -300, -520, -600, -520, -300)  # Jan..Dec
_STEP_DAY = (date(2024, 4, 15) - date(1970, 1, 1)).days
_RENEWAL_DAY = (date(2024, 7, 1) - date(1970, 1, 1)).days


def shape_factor(shape: UsageShape, day: int) -> int:
    """Return the per-mille factor of a shape on a day (days since 1970-01-01, UTC)."""
    day = min(max(day, _WINDOW_DAYS[0]), _WINDOW_DAYS[1] - 1)
    return _factors(shape)[day - _WINDOW_DAYS[0]]


def _compounding(start: int, percent: int, floor: int) -> list[int]:
    """Per-mille factors per 30 days, ``start`` compounding by ``percent`` % (integer steps)."""
    steps = [start]
    for _ in range(_WINDOW_DAYS[1] - _WINDOW_DAYS[0] + 30):
        steps.append(max(floor, steps[-1] * (100 + percent) // 100))
    return steps


@functools.cache
def _factors(shape: UsageShape) -> tuple[int, ...]:
    first, last = _WINDOW_DAYS
    factors: list[int] = []
    steps = (
        _compounding(300, 4, 1)
        if shape is UsageShape.GROWTH
        else _compounding(3000, -4, 100)
        if shape is UsageShape.DECLINE
        else None
    )
    for day in range(first, last):
        month = (date(1970, 1, 1) + timedelta(days=day)).month
        if steps is not None:
            # Between two 30-day steps the factor moves in a straight line, day by day.
            step, into = divmod(day - first, 30)
            factor = steps[step] + (steps[step + 1] - steps[step]) * into // 30
        elif shape is UsageShape.SEASONAL:
            factor = 1000 + _SEASON_PER_MILLE[month - 1]
        elif shape is UsageShape.STEP:
            factor = 400 if day < _STEP_DAY else 1600
        elif shape is UsageShape.IDLE_MONTH:
            factor = 0 if month == 8 else 1000
        elif shape is UsageShape.RENEWAL:
            factor = 1000 if day < _RENEWAL_DAY else 1500
        else:
            factor = 1000
        factors.append(factor)
    return tuple(factors)


class ShapedUsageTable:
    """A ``UsageTable`` scaled by a shape's daily factor: exact over the window, periodic out."""

    __slots__ = ("_after", "_after_origin", "_before", "_before_origin", "_inside")

    def __init__(self, base: UsageTable, shape: UsageShape) -> None:
        first, last = _WINDOW_DAYS
        cpu = [base.rate(day)[0] * shape_factor(shape, day) // 1000 for day in range(first, last)]
        gpu = [base.rate(day)[1] * shape_factor(shape, day) // 1000 for day in range(first, last)]
        # A table whose period is the window, read only inside it (offset to the window start).
        self._inside = UsageTable(cpu, gpu)
        self._before = base.scaled(shape_factor(shape, first))
        self._after = base.scaled(shape_factor(shape, last - 1))
        self._before_origin = self._before.cumulative(first * DAY_MS)
        self._after_origin = self._after.cumulative(last * DAY_MS)

    def cumulative(self, epoch_ms: int) -> tuple[int, int]:
        """Return CPU and GPU microseconds from a fixed origin (the window's start) to here."""
        first, last = _WINDOW_DAYS
        if epoch_ms < first * DAY_MS:
            cpu, gpu = self._before.cumulative(epoch_ms)
            return cpu - self._before_origin[0], gpu - self._before_origin[1]
        if epoch_ms < last * DAY_MS:
            return self._inside.cumulative_within(epoch_ms - first * DAY_MS)
        cpu_end, gpu_end = self._inside.cumulative_within((last - first) * DAY_MS)
        cpu, gpu = self._after.cumulative(epoch_ms)
        return (
            cpu_end + cpu - self._after_origin[0],
            gpu_end + gpu - self._after_origin[1],
        )

    def usage(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Return CPU and GPU microseconds used in ``[start_ms, end_ms)``, zero if empty."""
        if end_ms <= start_ms:
            return 0, 0
        cpu_end, gpu_end = self.cumulative(end_ms)
        cpu_start, gpu_start = self.cumulative(start_ms)
        return cpu_end - cpu_start, gpu_end - gpu_start


@functools.lru_cache(maxsize=1024)
def shaped_usage_table(
    seed: int, organization_id: int, usage_percent: int, gpu: bool | None, shape: UsageShape
) -> ShapedUsageTable:
    """Build (once) the table of an organization whose usage has a shape (see ``UsageShape``)."""
    return ShapedUsageTable(usage_table(seed, organization_id, usage_percent, gpu), shape)


@functools.lru_cache(maxsize=1024)
def usage_table(
    seed: int, organization_id: int, usage_percent: int, gpu: bool | None
) -> UsageTable:
    """Build (once) the usage table of an organization.

    Args:
        seed: The studio's seed; different seeds give unrelated data.
        organization_id: The organization whose usage this is.
        usage_percent: Scales every daily rate (rounded down per day); 0 means no usage at all.
        gpu: Whether the organization uses GPUs; None lets the seed decide (about two thirds do).

    Returns:
        The organization's table.
    """
    profile = _mix(_mix(seed) ^ (organization_id * 0x9E3779B97F4A7C15))
    # Log-uniform-ish base rate from 6 to 512 µs per ms: roughly 4 to 370 compute-hours a month.
    cpu_base = (6 + profile % 11) << ((profile >> 8) % 6)
    uses_gpu = ((profile >> 16) % 3 != 0) if gpu is None else gpu
    gpu_base = cpu_base * (5 + (profile >> 20) % 56) // 100 if uses_gpu else 0
    cpu_rates: list[int] = []
    gpu_rates: list[int] = []
    for day in range(PERIOD_DAYS):
        bits = _mix(profile + day)
        # Day 0 of the period is 1970-01-01, a Thursday: weekday 0 is Monday.
        weekend = (day + 3) % 7 >= 5
        if bits % 29 == 0:
            cpu_factor = gpu_factor = 0  # an idle day
        elif weekend:
            cpu_factor = (bits >> 8) % 33
            gpu_factor = (bits >> 16) % 17
        else:
            cpu_factor = 32 + (bits >> 8) % 97
            gpu_factor = 16 + (bits >> 16) % 113
            if (bits >> 32) % 19 == 0:
                cpu_factor *= 3  # a burst of training jobs
                gpu_factor *= 4
        cpu_rates.append(cpu_base * cpu_factor // 64 * usage_percent // 100)
        gpu_rates.append(gpu_base * gpu_factor // 64 * usage_percent // 100)
    return UsageTable(cpu_rates, gpu_rates)
