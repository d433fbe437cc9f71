"""Forecast an inner organization's contract usage: where it ends, and when it crosses a limit.

Pure (no I/O): give it what a store holds, the organization's latest contract usage, its monthly
compute time and its contract snapshots, and it projects the contract's usage to its end.

The model, simple enough to explain in a sentence per part:

* **Rate.** The daily rate of each recent full month (its compute over its length) is a point.
  The *level* is the mean of the last three full months, weighted 1, 2, 3 (the latest counts
  most); the running month (from the open month's row or, better, from contract snapshots since
  the month started) joins them with a weight by how much of it has passed, from 7 days on.
* **Trend.** With four or more full months, a straight line fitted to the last six months'
  rates gives a trend; half of it is followed for the next three months, then the rate is held
  (a damped trend: growth rarely keeps its pace, and a line extrapolated a year ahead is a guess).
* **Yearly pattern.** With 15 or more full months, each month can also be predicted as the
  same month a year earlier, scaled by how the last three months compare with the same three a
  year earlier. It replaces the trend when it would have predicted each of the last three months
  better (summed error) and the year's change is between half and double (a bigger change is a
  step, which the trend follows better).
* **Range.** Low and high follow the same path, with and without the trend, shifted by the
  largest shortfall and excess of the last six months against the fitted line; with fewer than
  two full months of data the range is half to double the rate, and the forecast says so.
* **Contract.** Projected usage at the contract's end is what is used now plus the projected
  rate integrated to the end (``contract_since`` + 1 year unless given); a contract renewed
  recently restarts from the renewal (snapshots from before a drop in used are ignored).
  A threshold's crossing date is when used + projected reaches it: None when not before the
  contract ends, now when already reached.

Usage is kept in whole microseconds: each projection (an integral of the rate path) is rounded
once to a microsecond and added to what is used, so a projection and its pieces agree and no
unit conversion drifts; the model's own rates are floats. Ratios are floats against the
contract's compute limit (CPU + GPU, ``compute_time_per_year``), and against
``gpu_compute_time_per_year`` when set. A crossing is the first whole second at which the
projection, as reported, reaches the threshold (``0.8`` is taken as the decimal 0.8).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._dates import format_iso_z
from ._models import used_fraction
from ._units import Unit, as_unit, from_timedelta

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._models import ComputeTime, InnerOrganizationUsage

__all__ = ["Crossing", "Forecast", "LimitForecast", "Method", "forecast_usage"]

Method = Literal["yearly", "trend", "trailing", "short", "contract", "none"]
"""How the rate was estimated.

``yearly``: 15 or more full months, and a yearly pattern that predicted the last three months
better than the trend: each month is the same month a year earlier, scaled. ``trend``: four or
more full months: level and damped trend. ``trailing``: two or three full months: level only.
``short``: under two full months, or only snapshots: a wide range. ``contract``: no history: the
contract's own average so far. ``none``: nothing to go on: rate zero.
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIDNIGHT = time(0)
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_LEVEL_MONTHS = 3
_TREND_MONTHS = 6
_MIN_TREND_MONTHS = 4
_TREND_DAMPING = 0.5
_TREND_HORIZON_US = 3 * 30 * _DAY_US  # the trend is followed this far, then held
_MIN_PARTIAL_US = 7 * _DAY_US
_SHORT_LOW = 0.5  # and double for the high end
_HISTORY_MONTHS = 24
_YEARLY_MONTHS = 15  # a year plus the three months whose ratio scales it


def _us(moment: datetime) -> int:
    try:
        return (moment - _EPOCH) // _US
    except TypeError:  # naive: it cannot be subtracted from an aware one
        raise ValueError(f"naive datetime {moment.isoformat()}: give it a timezone") from None


def _moment(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _duration(us: float) -> timedelta:
    return timedelta(microseconds=round(us))


def _ratio(used: timedelta | None, limit: timedelta | None) -> float | None:
    return used_fraction(
        None if used is None else used // _US, None if limit is None else limit // _US
    )


def _add_year(moment: datetime) -> datetime:
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:  # 29 February: the contract ends on 1 March
        return moment.replace(year=moment.year + 1, month=3, day=1)


@attrs.frozen
class Crossing:
    """When projected usage reaches a threshold of a limit.

    Attributes:
        threshold: the fraction of the limit (0.8 = 80%).
        at: when it is reached at the projected rate; None when not before the contract ends.
        earliest: when it is reached at the high end of the range; None when not before the end.
        latest: when it is reached at the low end of the range; None when possibly not before the
            contract ends.
        reached: whether usage is already at or over it (then all three dates are now).
    """

    threshold: float
    at: datetime | None
    earliest: datetime | None
    latest: datetime | None
    reached: bool

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON-ready values (ISO 8601 UTC dates, null when not crossing)."""
        return {
            "threshold": self.threshold,
            "reached": self.reached,
            "at": _iso(self.at),
            "earliest": _iso(self.earliest),
            "latest": _iso(self.latest),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_iso_z(moment)


@attrs.frozen
class LimitForecast:
    """One limit's forecast: compute (CPU + GPU) or GPU alone, at the contract's end.

    Attributes:
        limit: the yearly limit, or None when unlimited (then ratios and crossings are None).
        used: used in the running contract so far.
        projected: projected usage at the contract's end; ``projected_low`` <= it <=
            ``projected_high``.
        projected_low: at the low end of the range.
        projected_high: at the high end of the range.
        ratio: ``projected`` over ``limit`` (1.0 = all of it), ``math.inf`` against a limit of 0.
        ratio_low: ``projected_low`` over ``limit``.
        ratio_high: ``projected_high`` over ``limit``.
        warn: when usage crosses the warning threshold, or None without a limit.
        fail: when usage crosses the failing threshold, or None without a limit.
    """

    limit: timedelta | None
    used: timedelta
    projected: timedelta
    projected_low: timedelta
    projected_high: timedelta
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    warn: Crossing | None
    fail: Crossing | None

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit``."""
        u = as_unit(unit)
        return {
            "unit": u.value,
            "limit": None if self.limit is None else from_timedelta(self.limit, u),
            "used": from_timedelta(self.used, u),
            "projected": from_timedelta(self.projected, u),
            "projected_low": from_timedelta(self.projected_low, u),
            "projected_high": from_timedelta(self.projected_high, u),
            "ratio": _json_ratio(self.ratio),
            "ratio_low": _json_ratio(self.ratio_low),
            "ratio_high": _json_ratio(self.ratio_high),
            "warn": None if self.warn is None else self.warn.to_dict(),
            "fail": None if self.fail is None else self.fail.to_dict(),
        }


def _json_ratio(value: float | None) -> float | str | None:
    return "infinite" if value is not None and math.isinf(value) else value


@attrs.frozen
class _Path:
    """A projected rate path, never below zero.

    The rate is ``start`` at ``origin_us`` and moves by ``slope`` per µs for ``horizon_us``,
    then is held. Rates are µs of compute per µs of time.
    """

    origin_us: int
    start: float
    slope: float
    horizon_us: int

    def shifted(self, by: float, *, trend: bool = True) -> _Path:
        return _Path(self.origin_us, self.start + by, self.slope if trend else 0.0, self.horizon_us)

    def integral(self, start_us: int, end_us: int) -> float:
        """Compute used in ``[start_us, end_us)`` (both at or after the origin)."""
        if end_us <= start_us:
            return 0.0
        return self._cumulative(end_us) - self._cumulative(start_us)

    def _cumulative(self, at_us: int) -> float:
        t = float(max(0, at_us - self.origin_us))
        ramp = min(t, float(self.horizon_us))
        total = _clamped_linear(self.start, self.slope, ramp)
        held = max(0.0, self.start + self.slope * ramp)
        return total + held * (t - ramp)


@attrs.frozen
class _Steps:
    """A projected rate path of calendar months, never below zero.

    ``(start_us, end_us, rate)`` steps; the last rate is held after them.
    """

    steps: tuple[tuple[int, int, float], ...]

    def shifted(self, by: float, *, trend: bool = True) -> _Steps:
        del trend  # a yearly path has no trend to leave out
        return _Steps(tuple((a, b, rate + by) for a, b, rate in self.steps))

    def integral(self, start_us: int, end_us: int) -> float:
        """Compute used in ``[start_us, end_us)``."""
        total = 0.0
        for a, b, rate in self.steps:
            overlap = min(b, end_us) - max(a, start_us)
            if overlap > 0:
                total += max(0.0, rate) * overlap
        last_end, last_rate = self.steps[-1][1], self.steps[-1][2]
        held = end_us - max(last_end, start_us)
        if held > 0:
            total += max(0.0, last_rate) * held
        return total


def _clamped_linear(start: float, slope: float, length: float) -> float:
    """Integral over ``[0, length]`` of ``max(0, start + slope * t)``."""
    if length <= 0:
        return 0.0
    end = start + slope * length
    if start >= 0 and end >= 0:
        return (start + end) / 2 * length
    if start <= 0 and end <= 0:
        return 0.0
    zero = -start / slope  # where the line crosses zero, inside (0, length)
    if start > 0:
        return start * zero / 2
    return end * (length - zero) / 2


@attrs.frozen
class Forecast:
    """A projection of an inner organization's contract usage to the contract's end.

    Attributes:
        organization_id: the white-label (outer) organization.
        inner_organization_id: the organization forecast.
        inner_organization_name: its name, when the usage carried one.
        now: the instant the forecast is made from (the usage's as-of time), aware UTC.
        contract_since: when the running contract started, or None when unknown.
        contract_end: when it ends (``contract_since`` + 1 year unless given), or None.
        rate_per_day: compute (CPU + GPU) per day projected from now.
        rate_per_day_low: the low end of the range, per day.
        rate_per_day_high: the high end of the range, per day.
        compute: the compute limit's forecast (always present when a contract end and the
            usage are known; its ratios are None without a limit).
        gpu: the GPU limit's forecast, only when GPU has its own limit.
        months: full months of history the rate rests on (at most 12 are looked at).
        method: how the rate was estimated (:data:`Method`).
        notes: why the forecast is as it is, one sentence each (short history, renewal...).
    """

    organization_id: int
    inner_organization_id: int
    inner_organization_name: str | None
    now: datetime
    contract_since: datetime | None
    contract_end: datetime | None
    rate_per_day: timedelta
    rate_per_day_low: timedelta
    rate_per_day_high: timedelta
    compute: LimitForecast | None
    gpu: LimitForecast | None
    months: int
    method: Method
    notes: tuple[str, ...]
    _paths: tuple[_Path | _Steps, _Path | _Steps, _Path | _Steps] = attrs.field(
        repr=False, eq=False, alias="paths"
    )

    @property
    def projected(self) -> timedelta | None:
        """Projected compute at the contract's end, or None when unknown."""
        return None if self.compute is None else self.compute.projected

    @property
    def ratio(self) -> float | None:
        """Projected compute at the contract's end over the compute limit; None if unknown."""
        return None if self.compute is None else self.compute.ratio

    @property
    def highest_ratio(self) -> float | None:
        """The larger projected ratio of compute and GPU (what an alert looks at), or None."""
        known = [f.ratio for f in (self.compute, self.gpu) if f is not None and f.ratio is not None]
        return max(known) if known else None

    def projected_between(
        self, start: datetime, end: datetime
    ) -> tuple[timedelta, timedelta, timedelta]:
        """Return projected compute used in ``[start, end)``: (projected, low, high).

        Only the part from ``now`` on is projected; a range before now projects zero.

        Raises:
            ValueError: for naive datetimes.
        """
        start_us, end_us = max(_us(start), _us(self.now)), _us(end)
        mid, low, high = (round(path.integral(start_us, end_us)) for path in self._paths)
        return _duration(mid), _duration(low), _duration(high)

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit``."""
        u = as_unit(unit)
        return {
            "organization_id": self.organization_id,
            "inner_organization_id": self.inner_organization_id,
            "inner_organization_name": self.inner_organization_name,
            "unit": u.value,
            "now": format_iso_z(self.now),
            "contract_since": _iso(self.contract_since),
            "contract_end": _iso(self.contract_end),
            "rate_per_day": from_timedelta(self.rate_per_day, u),
            "rate_per_day_low": from_timedelta(self.rate_per_day_low, u),
            "rate_per_day_high": from_timedelta(self.rate_per_day_high, u),
            "compute": None if self.compute is None else self.compute.to_dict(u),
            "gpu": None if self.gpu is None else self.gpu.to_dict(u),
            "months": self.months,
            "method": self.method,
            "notes": list(self.notes),
        }


@attrs.frozen
class _Point:
    """One month's (or the running month's) rate, placed at the middle of its span."""

    middle_us: int
    span_us: int
    rate: float
    key: int | None = None  # year * 12 + month - 1 of a calendar month's row


def _month_points(
    monthly: Sequence[ComputeTime], now_us: int, value: Callable[[ComputeTime], int | None]
) -> tuple[list[_Point], _Point | None]:
    """The last ``_HISTORY_MONTHS`` full months' rates (time order), and the running month's."""
    rows = list(monthly)
    starts = [row.period.start for row in rows]
    if starts != sorted(starts):
        rows.sort(key=lambda r: r.period.start)
    full: list[_Point] = []
    partial: _Point | None = None
    older = len(rows)  # rows before this index were not read
    for index in range(len(rows) - 1, -1, -1):
        if len(full) == _HISTORY_MONTHS:
            break
        older = index
        row = rows[index]
        used = value(row)
        start, end = row.period.start, row.period.end
        start_us, end_us = _us(start), _us(end)
        if used is None or start_us >= now_us:
            continue
        if end_us <= now_us:
            span = end_us - start_us
            key = start.year * 12 + start.month - 1
            calendar = (
                _midnight_first(start)
                and _midnight_first(end)
                and end.year * 12 + end.month - 1 == key + 1
            )
            full.append(
                _Point((start_us + end_us) // 2, span, used / span, key if calendar else None)
            )
        elif now_us - start_us >= _MIN_PARTIAL_US:
            span = now_us - start_us
            partial = _Point((start_us + now_us) // 2, span, used / span)
    full.reverse()
    if full and full[0].rate == 0 and not any(value(row) for row in rows[:older]):
        # Months before the organization started using compute are not history.
        while full and full[0].rate == 0:
            full.pop(0)
        if not full:  # all idle: keep them, they say the rate is zero
            return _month_points_all_idle(rows, now_us, value), partial
    return full, partial


def _month_points_all_idle(
    rows: list[ComputeTime], now_us: int, value: Callable[[ComputeTime], int | None]
) -> list[_Point]:
    points = []
    for row in rows[-_HISTORY_MONTHS:]:
        start_us, end_us = _us(row.period.start), _us(row.period.end)
        if value(row) is not None and end_us <= now_us:
            points.append(_Point((start_us + end_us) // 2, end_us - start_us, 0.0))
    return points


def _midnight_first(moment: datetime) -> bool:
    return moment.day == 1 and moment.time() == _MIDNIGHT and moment.utcoffset() == timedelta(0)


def _snapshot_points(
    snapshots: Sequence[tuple[datetime, InnerOrganizationUsage]],
    now_us: int,
    value: Callable[[InnerOrganizationUsage], int | None],
    since_us: int | None,
    back_to_us: int,
) -> tuple[list[tuple[int, int]], bool]:
    """Return the running contract's (time, used) snapshots, and whether a renewal shows.

    ``snapshots`` are in time order. Only the latest ones are read, back to the last one at or
    before ``back_to_us`` (a store keeps years of daily snapshots; the rate needs a month). A
    snapshot from before ``since_us`` or a drop in used is a renewal: nothing before it counts.
    """
    points: list[tuple[int, int]] = []
    renewed = False
    for moment, usage in reversed(snapshots):
        at_us = _us(moment)
        used = value(usage)
        if used is None or at_us > now_us:
            continue
        if (since_us is not None and at_us < since_us) or (points and used > points[-1][1]):
            renewed = True
            break
        points.append((at_us, used))
        if at_us <= back_to_us:
            break
    points.reverse()
    return points, renewed


def _snapshot_partial(points: list[tuple[int, int]], since_us: int) -> _Point | None:
    """The running rate from snapshots since ``since_us`` (the last full month's end)."""
    base = [p for p in points if p[0] <= since_us]
    first = base[-1] if base else (points[0] if points else None)
    if first is None:
        return None
    last = points[-1]
    span = last[0] - first[0]
    if span < _MIN_PARTIAL_US:
        return None
    return _Point((first[0] + last[0]) // 2, span, (last[1] - first[1]) / span)


@attrs.frozen
class _Rate:
    mid: _Path | _Steps
    low: _Path | _Steps
    high: _Path | _Steps
    months: int
    method: Method
    notes: tuple[str, ...]


def _estimate(
    full: list[_Point],
    partial: _Point | None,
    now_us: int,
    fallback: float | None,
) -> _Rate:
    notes: list[str] = []
    recent = full[-_LEVEL_MONTHS:]
    weighted = [(p, float(i + 1)) for i, p in enumerate(recent)]
    if partial is not None:
        # The running month counts as much as the latest full month once it is complete.
        weight = float(_LEVEL_MONTHS) * min(1.0, partial.span_us / (30 * _DAY_US))
        weighted.append((partial, weight))
    if not weighted:
        if fallback is None:
            path = _Path(now_us, 0.0, 0.0, 0)
            notes.append("no history and no contract usage: nothing to project from")
            return _Rate(path, path, path, 0, "none", tuple(notes))
        path = _Path(now_us, fallback, 0.0, 0)
        notes.append(
            "no monthly history: the contract's average rate so far, with a wide range (half to "
            "double)"
        )
        low, high = path.shifted(fallback * (_SHORT_LOW - 1)), path.shifted(fallback)
        return _Rate(path, low, high, 0, "contract", tuple(notes))
    total_weight = sum((w for _, w in weighted), 0.0)
    level = sum((p.rate * w for p, w in weighted), 0.0) / total_weight
    center = sum((p.middle_us * w for p, w in weighted), 0.0) / total_weight
    if len(full) < 2:
        notes.append(
            f"only {len(full)} full month{'s' if len(full) != 1 else ''} of history: the range is "
            "wide (half to double the rate)"
        )
        path = _Path(now_us, level, 0.0, 0)
        low, high = path.shifted(level * (_SHORT_LOW - 1)), path.shifted(level)
        return _Rate(path, low, high, len(full), "short", tuple(notes))
    window = full[-_TREND_MONTHS:]
    slope = 0.0
    method: Method = "trailing"
    if len(full) >= _MIN_TREND_MONTHS:
        slope = _slope(window) * _TREND_DAMPING
        method = "trend"
    else:
        notes.append(f"{len(full)} full months of history: no trend yet (it takes 4)")
    start = level + slope * (now_us - center)
    mid = _Path(now_us, start, slope, _TREND_HORIZON_US)
    residuals = [p.rate - (level + slope * (p.middle_us - center)) for p in window]
    below, above = min([0.0, *residuals]), max([0.0, *residuals])
    with_trend, flat = mid.shifted(below), mid.shifted(below, trend=False)
    low = flat if slope > 0 else with_trend
    with_trend, flat = mid.shifted(above), mid.shifted(above, trend=False)
    high = flat if slope < 0 else with_trend
    if any(p.rate == 0 for p in window):
        notes.append("an idle month in the last six: the low end allows for another")
    yearly = _yearly(full, now_us)
    if yearly is not None:
        notes.append(
            "a yearly pattern predicted the last three months better than the trend: each month "
            "is the same month a year earlier, scaled by the last three months' change"
        )
        return _Rate(*yearly, len(full), "yearly", tuple(notes))
    return _Rate(mid, low, high, len(full), method, tuple(notes))


def _month_start(key: int) -> datetime:
    return datetime(key // 12, key % 12 + 1, 1, tzinfo=UTC)


def _trend_rate(points: list[_Point], at_us: int) -> float:
    """The trend model's rate at ``at_us`` from ``points`` alone (for the in-sample check)."""
    recent = points[-_LEVEL_MONTHS:]
    weights = [float(i + 1) for i in range(len(recent))]
    total = sum(weights, 0.0)
    level = sum((p.rate * w for p, w in zip(recent, weights, strict=True)), 0.0) / total
    center = sum((p.middle_us * w for p, w in zip(recent, weights, strict=True)), 0.0)
    center /= total
    slope = 0.0
    if len(points) >= _MIN_TREND_MONTHS:
        slope = _slope(points[-_TREND_MONTHS:]) * _TREND_DAMPING
    return max(0.0, level + slope * (at_us - center))


def _yearly_ratio(by_key: dict[int, float], last_key: int) -> float | None:
    """How the three months up to ``last_key`` compare with the same three a year earlier."""
    keys = range(last_key - _LEVEL_MONTHS + 1, last_key + 1)
    if any(k not in by_key or k - 12 not in by_key for k in keys):
        return None
    before = sum((by_key[k - 12] for k in keys), 0.0)
    return None if before == 0 else sum((by_key[k] for k in keys), 0.0) / before


def _yearly(full: list[_Point], now_us: int) -> tuple[_Steps, _Steps, _Steps] | None:
    """The yearly pattern's paths, when it would have predicted the last 3 months better."""
    if len(full) < _YEARLY_MONTHS or any(p.key is None for p in full[-_YEARLY_MONTHS:]):
        return None
    by_key = {p.key: p.rate for p in full if p.key is not None}
    trend_error = yearly_error = 0.0
    residuals: list[float] = []
    for i in range(len(full) - _LEVEL_MONTHS, len(full)):
        point, key = full[i], full[i].key
        assert key is not None  # checked above
        ratio = _yearly_ratio(by_key, key - 1)
        if ratio is None or key - 12 not in by_key:
            return None
        predicted = by_key[key - 12] * ratio
        residuals.append(point.rate - predicted)
        yearly_error += abs(point.rate - predicted)
        trend_error += abs(point.rate - _trend_rate(full[:i], point.middle_us))
    if yearly_error >= trend_error:
        return None
    last = full[-1].key
    assert last is not None
    ratio = _yearly_ratio(by_key, last)
    if ratio is None or not _SHORT_LOW <= ratio <= 1 / _SHORT_LOW:
        # Usage more than doubled or halved in a year: a step, not a season; the trend follows.
        return None
    steps = []
    for key in range(last + 1, last + 13):
        rate = by_key.get(key - 12)
        if rate is None:
            return None
        start, end = _us(_month_start(key)), _us(_month_start(key + 1))
        if end > now_us:
            steps.append((start, end, rate * ratio))
    if not steps:
        return None
    mid = _Steps(tuple(steps))
    below, above = min([0.0, *residuals]), max([0.0, *residuals])
    return mid, mid.shifted(below), mid.shifted(above)


def _slope(points: list[_Point]) -> float:
    """Least-squares slope of rate against time (rate change per µs)."""
    n = len(points)
    mean_x = sum(p.middle_us for p in points) / n
    mean_y = sum((p.rate for p in points), 0.0) / n
    sxx = sum(((p.middle_us - mean_x) ** 2 for p in points), 0.0)
    if sxx == 0:
        return 0.0
    return sum(((p.middle_us - mean_x) * (p.rate - mean_y) for p in points), 0.0) / sxx


def _crossing(
    threshold: float, limit_us: int, used_us: int, paths: _Rate, now_us: int, end_us: int
) -> Crossing:
    # The decimal the user wrote (0.8), not the binary float just above it.
    target = Fraction(repr(threshold)) * limit_us
    if used_us >= target:
        now = _moment(now_us)
        return Crossing(threshold, now, now, now, reached=True)
    needed = math.ceil(target) - used_us  # whole microseconds, as projections are reported
    mid, low, high = (
        _when(path, needed, now_us, end_us) for path in (paths.mid, paths.low, paths.high)
    )
    return Crossing(threshold, mid, high, low, reached=False)


def _when(path: _Path | _Steps, needed: int, now_us: int, end_us: int) -> datetime | None:
    """The first whole second from now by which ``path`` has used ``needed``, if by ``end_us``.

    Used is compared in whole microseconds, rounded as projections are reported.
    """
    if round(path.integral(now_us, end_us)) < needed:
        return None
    low, high = 0, -(-(end_us - now_us) // 1_000_000)  # seconds after now
    while low < high:
        middle = (low + high) // 2
        if round(path.integral(now_us, min(end_us, now_us + middle * 1_000_000))) >= needed:
            high = middle
        else:
            low = middle + 1
    return _moment(min(end_us, now_us + low * 1_000_000))


def _limit_forecast(
    limit: timedelta | None,
    used_us: int,
    rate: _Rate,
    now_us: int,
    end_us: int,
    warn_at: float,
    fail_at: float,
) -> LimitForecast:
    mid, low, high = (
        used_us + round(path.integral(now_us, end_us)) for path in (rate.mid, rate.low, rate.high)
    )
    low, high = min(low, mid), max(high, mid)
    used, projected = _duration(used_us), _duration(mid)
    projected_low, projected_high = _duration(low), _duration(high)
    warn = fail = None
    if limit is not None:
        limit_us = limit // _US
        warn = _crossing(warn_at, limit_us, used_us, rate, now_us, end_us)
        fail = _crossing(fail_at, limit_us, used_us, rate, now_us, end_us)
    return LimitForecast(
        limit=limit,
        used=used,
        projected=projected,
        projected_low=projected_low,
        projected_high=projected_high,
        ratio=_ratio(projected, limit),
        ratio_low=_ratio(projected_low, limit),
        ratio_high=_ratio(projected_high, limit),
        warn=warn,
        fail=fail,
    )


def _compute_us(row: ComputeTime | InnerOrganizationUsage) -> int | None:
    if row.cpu is not None and row.gpu is not None:
        return (row.cpu + row.gpu) // _US
    return None if row.total is None else row.total // _US


def _gpu_us(row: ComputeTime | InnerOrganizationUsage) -> int | None:
    return None if row.gpu is None else row.gpu // _US


def _check_threshold(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number above 0, got {value!r}")
    if math.isinf(value) or math.isnan(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _rate_for(
    value: Callable[[Any], int | None],
    usage: InnerOrganizationUsage,
    monthly: Sequence[ComputeTime],
    snapshots: Sequence[tuple[datetime, InnerOrganizationUsage]],
    now_us: int,
    since_us: int | None,
) -> tuple[_Rate, bool]:
    full, partial = _month_points(monthly, now_us, value)
    last_full_end = (
        full[-1].middle_us + full[-1].span_us // 2 if full else (since_us if since_us else now_us)
    )
    points, renewed = _snapshot_points(snapshots, now_us, value, since_us, last_full_end)
    from_snapshots = _snapshot_partial(points, last_full_end) if points else None
    if from_snapshots is not None:
        partial = from_snapshots  # finer than the open month's row: it knows when it was read
    fallback = None
    used = value(usage)
    if since_us is not None and used is not None and now_us - since_us >= _DAY_US:
        fallback = used / (now_us - since_us)
    return _estimate(full, partial, now_us, fallback), renewed


def forecast_usage(
    usage: InnerOrganizationUsage,
    monthly: Sequence[ComputeTime],
    snapshots: Sequence[tuple[datetime, InnerOrganizationUsage]] = (),
    *,
    now: datetime,
    contract_end: datetime | None = None,
    warn_at: float = 0.8,
    fail_at: float = 1.0,
) -> Forecast:
    """Project an inner organization's contract usage to the contract's end.

    Args:
        usage: its contract usage as of ``now`` (organization info: used, contract start,
            entitlements).
        monthly: its monthly compute time, closed months and possibly the running one, in any
            order (rows of other periods are read by their length).
        snapshots: contract-usage snapshots ``(fetched_at, usage)`` (a store's daily series);
            they refine the running month's rate, and a drop in used marks a renewal.
        now: when ``usage`` was read; the forecast starts here. Aware.
        contract_end: when the contract ends; None for ``contract_since`` + 1 year (rolled
            forward by whole years when that is already past).
        warn_at: the warning threshold, a fraction of the limit (0.8 = 80%).
        fail_at: the failing threshold, a fraction of the limit.

    Returns:
        The forecast; ``compute`` is None when neither the contract's end nor its usage is known.

    Raises:
        ValueError: for a naive datetime, or a threshold that is not a positive number.
    """
    warn_at, fail_at = _check_threshold("warn_at", warn_at), _check_threshold("fail_at", fail_at)
    now_us = _us(now)
    now = _moment(now_us)
    notes: list[str] = []
    since = usage.contract_since
    since_us = None if since is None else _us(since)
    end = contract_end
    if end is None and since is not None:
        end = _add_year(since)
        while _us(end) <= now_us:  # the contract renewed since usage said when it started
            end = _add_year(end)
    end_us = None if end is None else _us(end)
    if end_us is not None and end_us <= now_us:
        notes.append("the contract has ended: nothing left to project")
        end_us = now_us
    times = [moment for moment, _ in snapshots]
    if times != sorted(times):
        snapshots = sorted(snapshots, key=lambda s: s[0])
    rate, renewed = _rate_for(_compute_us, usage, monthly, snapshots, now_us, since_us)
    # Snapshots from before the running contract: the store saw it renew.
    renewed = renewed or bool(
        since_us is not None and snapshots and _us(snapshots[0][0]) < since_us
    )
    if renewed:
        when = "" if since is None else f" on {since.date().isoformat()}"
        notes.append(f"the contract was renewed{when}: usage counts from the renewal")
    notes.extend(rate.notes)
    used_us = _compute_us(usage)
    compute = gpu = None
    limits = usage.entitlements
    if end_us is not None and used_us is not None:
        compute = _limit_forecast(
            limits.compute_time_per_year, used_us, rate, now_us, end_us, warn_at, fail_at
        )
        gpu_used = _gpu_us(usage)
        if limits.gpu_compute_time_per_year is not None and gpu_used is not None:
            gpu_rate, _ = _rate_for(_gpu_us, usage, monthly, snapshots, now_us, since_us)
            gpu = _limit_forecast(
                limits.gpu_compute_time_per_year, gpu_used, gpu_rate, now_us, end_us,
                warn_at, fail_at,
            )  # fmt: skip
    elif end_us is None:
        notes.append("the contract's start is unknown: no projection to its end")
    day_mid, day_low, day_high = (
        path.integral(now_us, now_us + _DAY_US) for path in (rate.mid, rate.low, rate.high)
    )
    return Forecast(
        organization_id=usage.organization_id,
        inner_organization_id=usage.inner_organization_id,
        inner_organization_name=usage.inner_organization_name,
        now=now,
        contract_since=since,
        contract_end=None if end_us is None else _moment(end_us),
        rate_per_day=_duration(day_mid),
        rate_per_day_low=_duration(min(day_low, day_mid)),
        rate_per_day_high=_duration(max(day_high, day_mid)),
        compute=compute,
        gpu=gpu,
        months=rate.months,
        method=rate.method,
        notes=tuple(notes),
        paths=(rate.mid, rate.low, rate.high),
    )
