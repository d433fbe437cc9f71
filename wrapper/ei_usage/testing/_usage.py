"""The deterministic compute-usage pattern behind the fake Studio.

Usage is a per-UTC-day integer *rate*: microseconds of compute per millisecond of wall time,
separately for CPU and GPU. The usage of a range is the integral of that rate over the range at
millisecond resolution, which is an integer number of microseconds, so the usage of a range equals
exactly the sum of the usage of its pieces wherever it is split.

To make any range cost O(1) the daily rates repeat with a period of ``PERIOD_DAYS`` (a whole number
of weeks, so weekends stay weekends): a query is two look-ups in a per-organization prefix-sum
table, built once (about a millisecond) and cached.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

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


def _prefix_ms(rates: list[int]) -> list[int]:
    prefix = [0]
    total = 0
    for rate in rates:
        total += rate * DAY_MS
        prefix.append(total)
    return prefix


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
