"""Half-open UTC time ranges, and the timestamp formats the Edge Impulse API speaks.

Everything here works in UTC only: usage is billed and reported in UTC, and a fixed zone means
days are always 24 hours long (no daylight-saving surprises when splitting or comparing ranges).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

import attrs
from dateutil.relativedelta import MO, relativedelta

__all__ = ["PERIODS", "DateRange", "Every", "format_iso_z", "format_wire", "to_utc"]

Every = Literal["day", "week", "month", "quarter", "year"]
"""A calendar unit that :meth:`DateRange.split` can cut a range into."""

PERIODS: Final[tuple[Every, ...]] = ("day", "week", "month", "quarter", "year")
"""The valid values of :data:`Every`, smallest unit first."""

_STEP: Final[dict[Every, relativedelta]] = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "quarter": relativedelta(months=3),
    "year": relativedelta(years=1),
}

# The units `str()` can spell compactly (and `parse` can read), largest first so the most
# compact spelling wins. Weeks have no text form: "2024-W20" is not worth another syntax.
_LABELLED_UNITS: Final[tuple[Every, ...]] = ("year", "quarter", "month", "day")

# ASCII digits only: `\d` would also accept other scripts' digits, which no one means here.
_CALENDAR_RE: Final = re.compile(
    r"(?P<year>[0-9]{4})"
    r"(?:-(?:[Qq](?P<quarter>[0-9])|(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2}))?))?"
)
# A datetime must carry a time of day: isoparse also reads date-only forms ("2024-W20",
# "20240517"), and those denote whole days, not instants.
_DATETIME_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ].+")


def to_utc(value: date | datetime) -> datetime:
    """Normalise a date or datetime to an aware UTC datetime.

    A ``date`` means 00:00 UTC of that day. A naive ``datetime`` is taken to be in UTC already.
    An aware ``datetime`` is converted to UTC. The result is always a plain ``datetime`` whose
    ``tzinfo`` is exactly ``datetime.timezone.utc``.

    Args:
        value: The date or datetime to normalise.

    Returns:
        The same instant as an aware UTC datetime.

    Raises:
        TypeError: If ``value`` is neither a date nor a datetime.
        ValueError: If converting to UTC leaves the range ``datetime`` can represent.

    """
    # datetime subclasses date, so it has to be recognised first.
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            utc = value
        else:
            try:
                utc = value.astimezone(UTC)
            except OverflowError:
                raise ValueError(
                    f"{value.isoformat()} is outside the range of UTC datetimes"
                ) from None
        # Rebuilding (rather than replace()) drops subclasses and `fold`, so equal instants
        # always compare, hash and print the same.
        return datetime(
            utc.year,
            utc.month,
            utc.day,
            utc.hour,
            utc.minute,
            utc.second,
            utc.microsecond,
            tzinfo=UTC,
        )
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    hint = "; use DateRange.parse() for text" if isinstance(value, str) else ""
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}{hint}")


def _aware_utc(dt: datetime) -> datetime:
    """Convert an aware datetime to UTC, refusing naive ones.

    Raises:
        TypeError: If ``dt`` is not a datetime.
        ValueError: If ``dt`` is naive.

    """
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    # Printing a "Z" on a naive time would silently assert a timezone nobody chose.
    if dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no timezone; attach one first")
    return to_utc(dt)


def format_wire(dt: datetime) -> str:
    """Format an instant the way the Edge Impulse web client sends it: ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

    The wire format has millisecond precision: microseconds are truncated (rounded down), so
    sub-millisecond precision is lost when a range is sent to the API.

    Args:
        dt: An aware datetime, in any timezone; it is converted to UTC.

    Returns:
        The UTC timestamp, e.g. ``"2024-05-01T00:00:00.000Z"``.

    Raises:
        TypeError: If ``dt`` is not a datetime.
        ValueError: If ``dt`` is naive.

    """
    utc = _aware_utc(dt)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def format_iso_z(dt: datetime) -> str:
    """Format an instant as ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2024-05-01T00:00:00Z``.

    Microseconds are written only when nonzero, so the output is exact and reads back unchanged.

    Args:
        dt: An aware datetime, in any timezone; it is converted to UTC.

    Returns:
        The UTC timestamp, e.g. ``"2024-05-17T10:00:00Z"`` or ``"2024-05-17T10:00:00.000001Z"``.

    Raises:
        TypeError: If ``dt`` is not a datetime.
        ValueError: If ``dt`` is naive.

    """
    return _aware_utc(dt).replace(tzinfo=None).isoformat() + "Z"


def _floor(instant: datetime, unit: Every) -> datetime:
    """Return the start of the calendar unit (in UTC) that contains ``instant``."""
    midnight = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return midnight
    if unit == "week":
        # 0001-01-01 is a Monday, so this never steps below datetime.min.
        return midnight + relativedelta(weekday=MO(-1))
    if unit == "month":
        return midnight.replace(day=1)
    if unit == "quarter":
        return midnight.replace(month=(instant.month - 1) // 3 * 3 + 1, day=1)
    return midnight.replace(month=1, day=1)


def _next(boundary: datetime, unit: Every) -> datetime | None:
    """Return the boundary one ``unit`` after ``boundary``, or None past the end of time."""
    try:
        return boundary + _STEP[unit]
    except (OverflowError, ValueError):
        return None


def _label(unit_start: datetime, unit: Every) -> str:
    """Spell the calendar unit starting at ``unit_start`` in the form `DateRange.parse` reads."""
    if unit == "year":
        return f"{unit_start.year:04d}"
    if unit == "quarter":
        return f"{unit_start.year:04d}-Q{(unit_start.month - 1) // 3 + 1}"
    if unit == "month":
        return f"{unit_start.year:04d}-{unit_start.month:02d}"
    return unit_start.date().isoformat()


def _unit_bounds(unit_start: datetime, unit: Every) -> tuple[datetime, datetime]:
    """Return ``[start, end)`` of the calendar unit starting at ``unit_start``.

    Raises:
        ValueError: If the unit ends beyond the last representable datetime.

    """
    end = _next(unit_start, unit)
    if end is None:
        raise ValueError(f"{_label(unit_start, unit)} ends after the year 9999")
    return unit_start, end


def _check_int(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` if it is an int within ``[low, high]``.

    Raises:
        TypeError: If ``value`` is not an int (bools are refused: ``True`` is no month).
        ValueError: If ``value`` is out of bounds.

    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _parse_end(part: str) -> tuple[datetime, datetime, bool]:
    """Parse one end of a range: a calendar unit or an instant.

    Returns:
        ``(start, end, is_instant)``: the unit's bounds, or the instant twice.

    Raises:
        ValueError: If ``part`` is neither.

    """
    match = _CALENDAR_RE.fullmatch(part)
    if match is not None:
        year = int(match["year"])
        if match["quarter"] is not None:
            quarter = _check_int("quarter", int(match["quarter"]), 1, 4)
            start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
            return (*_unit_bounds(start, "quarter"), False)
        if match["day"] is not None:
            # date() validates the month and the day of the month, leap years included.
            day = date(year, int(match["month"]), int(match["day"]))
            return (*_unit_bounds(to_utc(day), "day"), False)
        if match["month"] is not None:
            month = _check_int("month", int(match["month"]), 1, 12)
            start = datetime(year, month, 1, tzinfo=UTC)
            return (*_unit_bounds(start, "month"), False)
        return (*_unit_bounds(datetime(year, 1, 1, tzinfo=UTC), "year"), False)
    if _DATETIME_RE.fullmatch(part):
        # Imported here: dateutil.parser is slow to import and most programs never parse text.
        from dateutil.parser import isoparse

        try:
            instant = to_utc(isoparse(part))
        except (OverflowError, ValueError) as exc:
            raise ValueError(str(exc)) from None
        return instant, instant, True
    raise ValueError(
        "expected YYYY, YYYY-Qn, YYYY-MM, YYYY-MM-DD or an ISO 8601 datetime, "
        "or two of those joined by '..'"
    )


@attrs.frozen
class DateRange:
    """A half-open UTC time range ``[start, end)``.

    ``start`` and ``end`` may each be given as a ``date`` (meaning 00:00 UTC that day), a naive
    ``datetime`` (taken to be in UTC), or an aware ``datetime`` (converted to UTC). They are
    stored as aware datetimes whose ``tzinfo`` is ``datetime.timezone.utc``, with full
    microsecond precision (the API itself only sees milliseconds: see :func:`format_wire`).

    Instances are immutable, hashable and compare by value. ``str()`` gives a compact text form
    that :meth:`parse` reads back, e.g. ``"2024-05"`` or ``"2024-01..2024-03"``.

    Raises:
        TypeError: If ``start`` or ``end`` is not a date or datetime.
        ValueError: If ``start`` is not before ``end``.

    """

    start: datetime = attrs.field(converter=to_utc)
    end: datetime = attrs.field(converter=to_utc)

    def __attrs_post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(
                f"a DateRange must start before it ends: "
                f"start={format_iso_z(self.start)}, end={format_iso_z(self.end)}"
            )

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def day(cls, d: date) -> DateRange:
        """Return the UTC calendar day ``d``.

        Args:
            d: The day. A ``datetime`` selects the UTC day containing that instant (naive
                datetimes are taken as UTC).

        Returns:
            The range from 00:00 UTC on ``d`` to 00:00 UTC the next day.

        Raises:
            TypeError: If ``d`` is not a date.
            ValueError: If ``d`` is the last representable day.

        """
        return cls(*_unit_bounds(_floor(to_utc(d), "day"), "day"))

    @classmethod
    def month(cls, year: int, month: int) -> DateRange:
        """Return a calendar month in UTC.

        Args:
            year: The year, 1 to 9999.
            month: The month, 1 (January) to 12 (December).

        Returns:
            The range from the 1st of the month to the 1st of the next month, 00:00 UTC.

        Raises:
            TypeError: If ``year`` or ``month`` is not an int.
            ValueError: If ``year`` or ``month`` is out of range.

        """
        start = datetime(
            _check_int("year", year, 1, 9999),
            _check_int("month", month, 1, 12),
            1,
            tzinfo=UTC,
        )
        return cls(*_unit_bounds(start, "month"))

    @classmethod
    def quarter(cls, year: int, q: int) -> DateRange:
        """Return a calendar quarter in UTC (Q1 is January to March).

        Args:
            year: The year, 1 to 9999.
            q: The quarter, 1 to 4.

        Returns:
            The range from the quarter's first day to the next quarter's first day, 00:00 UTC
            (Q4 ends on January 1 of the following year).

        Raises:
            TypeError: If ``year`` or ``q`` is not an int.
            ValueError: If ``year`` or ``q`` is out of range.

        """
        start = datetime(
            _check_int("year", year, 1, 9999),
            3 * _check_int("quarter", q, 1, 4) - 2,
            1,
            tzinfo=UTC,
        )
        return cls(*_unit_bounds(start, "quarter"))

    @classmethod
    def year(cls, year: int) -> DateRange:
        """Return a calendar year in UTC.

        Args:
            year: The year, 1 to 9998 (9999 has no representable end).

        Returns:
            The range from January 1 of ``year`` to January 1 of the next year, 00:00 UTC.

        Raises:
            TypeError: If ``year`` is not an int.
            ValueError: If ``year`` is out of range.

        """
        start = datetime(_check_int("year", year, 1, 9998), 1, 1, tzinfo=UTC)
        return cls(*_unit_bounds(start, "year"))

    @classmethod
    def last(cls, *, days: int, now: datetime | None = None) -> DateRange:
        """Return the ``days`` days (of 24 hours) up to ``now``.

        Args:
            days: How many days back the range starts; a positive int.
            now: Where the range ends; the current time if omitted. Naive is taken as UTC.

        Returns:
            The range ``[now - days, now)``.

        Raises:
            ValueError: If ``days`` is not a positive int, or the start precedes year 1.

        """
        if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
            raise ValueError(f"days must be a positive int, got {days!r}")
        end = datetime.now(UTC) if now is None else to_utc(now)
        try:
            start = end - timedelta(days=days)
        except OverflowError:
            raise ValueError(f"{days} days before {format_iso_z(end)} is before year 1") from None
        return cls(start, end)

    @classmethod
    def parse(cls, text: str) -> DateRange:
        """Parse a range from text, the inverse of ``str()``.

        Accepted forms (surrounding whitespace is ignored):

        - ``"2024"``: a year; ``"2024-Q2"`` (or ``"2024-q2"``): a quarter; ``"2024-05"``: a
          month; ``"2024-05-17"``: a day. All in UTC.
        - ``"A..B"`` where A and B are any of the above or ISO 8601 datetimes (e.g.
          ``"2024-05-17T10:00:00Z"``, ``"2024-05-17T10:00:00.123+02:00"``; naive is taken as
          UTC). The range runs from the start of A to the end of B, so ``"2024-01..2024-03"``
          is the first quarter and ``"2024-05-01..2024-05-31"`` is all of May; a datetime is
          its own start and end.

        A lone datetime is refused: a single instant is not a range.

        Args:
            text: The text to parse.

        Returns:
            The range.

        Raises:
            TypeError: If ``text`` is not a str.
            ValueError: If ``text`` is not one of the forms above, or B ends at or before
                the start of A. The message quotes ``text``.

        """
        if not isinstance(text, str):
            raise TypeError(f"expected a str, got {type(text).__name__}")
        try:
            parts = [part.strip() for part in text.strip().split("..")]
            if len(parts) > 2:
                raise ValueError("expected at most one '..'")
            if len(parts) == 2 and "" in parts:
                where = "before" if parts[0] == "" else "after"
                raise ValueError(f"nothing {where} '..': a range needs two ends")
            first_start, first_end, first_instant = _parse_end(parts[0])
            if len(parts) == 1:
                if first_instant:
                    raise ValueError(
                        "a single instant is not a range: a range needs two ends, e.g. 'A..B'"
                    )
                return cls(first_start, first_end)
            _, last_end, _ = _parse_end(parts[1])
            if last_end <= first_start:
                raise ValueError(
                    f"the end ({format_iso_z(last_end)}) is not after "
                    f"the start ({format_iso_z(first_start)})"
                )
            return cls(first_start, last_end)
        except ValueError as exc:
            raise ValueError(f"cannot parse date range {text!r}: {exc}") from None

    # -- properties and operations --------------------------------------------------------

    @property
    def duration(self) -> timedelta:
        """The length of the range, ``end - start``."""
        return self.end - self.start

    def split(self, every: Every) -> list[DateRange]:
        """Cut the range at calendar boundaries.

        Pieces are aligned to UTC days, ISO weeks (starting Monday 00:00 UTC), months,
        quarters or years. They are consecutive and cover the range exactly: the first and
        last pieces are clipped to the range when it does not start or end on a boundary.

        Args:
            every: The unit, one of :data:`PERIODS`.

        Returns:
            The pieces, in chronological order; never empty.

        Raises:
            ValueError: If ``every`` is not one of :data:`PERIODS`.

        """
        if every not in PERIODS:
            raise ValueError(f"every must be one of {', '.join(PERIODS)}; got {every!r}")
        pieces: list[DateRange] = []
        cursor = self.start
        boundary = _floor(self.start, every)
        while cursor < self.end:
            # Stepping from the floored boundary keeps months on the 1st (adding a month to
            # the 31st would clamp to the 30th and drift). No next boundary means the end of
            # time, which is past `end` too.
            following = _next(boundary, every)
            stop = self.end if following is None or following > self.end else following
            pieces.append(DateRange(cursor, stop))
            cursor = boundary = stop
        return pieces

    def __contains__(self, instant: object) -> bool:
        """Tell whether ``instant`` (a datetime, naive taken as UTC) lies in ``[start, end)``."""
        if not isinstance(instant, datetime):
            raise TypeError(f"expected a datetime, got {type(instant).__name__}")
        return self.start <= to_utc(instant) < self.end

    def to_dict(self) -> dict[str, str]:
        """Return ``{"start": ..., "end": ...}`` as ISO 8601 UTC timestamps (``format_iso_z``)."""
        return {"start": format_iso_z(self.start), "end": format_iso_z(self.end)}

    def __str__(self) -> str:
        for unit in _LABELLED_UNITS:
            if _floor(self.start, unit) == self.start and _floor(self.end, unit) == self.end:
                first = _label(self.start, unit)
                # `end` is a boundary, so one step back is the start of the last whole unit.
                last = _label(self.end - _STEP[unit], unit)
                return first if first == last else f"{first}..{last}"
        return f"{format_iso_z(self.start)}..{format_iso_z(self.end)}"

    def __repr__(self) -> str:
        return f"DateRange(start={format_iso_z(self.start)}, end={format_iso_z(self.end)})"
