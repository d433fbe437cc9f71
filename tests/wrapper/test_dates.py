"""Tests for ei_usage._dates: DateRange and the UTC timestamp helpers."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import pytest
from dateutil import tz
from dateutil.parser import isoparse
from hypothesis import given, settings
from hypothesis import strategies as st

from ei_usage._dates import PERIODS, DateRange, Every, format_iso_z, format_wire, to_utc

if TYPE_CHECKING:
    from collections.abc import Iterator

PLUS_2 = timezone(timedelta(hours=2))
MINUS_5_30 = timezone(-timedelta(hours=5, minutes=30))
PLUS_14 = timezone(timedelta(hours=14))

ONE_DAY = timedelta(days=1)
ONE_US = timedelta(microseconds=1)


@pytest.fixture
def local_time_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process's local timezone far from UTC, so "naive = local" bugs show."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    monkeypatch.setenv("TZ", "Asia/Kathmandu")  # +05:45, no DST
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rng(start: str, end: str) -> DateRange:
    """Build a range from two ISO datetimes, naive meaning UTC, without going through parse."""
    return DateRange(datetime.fromisoformat(start), datetime.fromisoformat(end))


# -- construction and normalisation ---------------------------------------------------------


class TestConstruction:
    def test_dates_mean_midnight_utc(self) -> None:
        r = DateRange(date(2024, 5, 1), date(2024, 6, 1))
        assert r.start == datetime(2024, 5, 1, tzinfo=UTC)
        assert r.end == datetime(2024, 6, 1, tzinfo=UTC)
        assert r.start.tzinfo is UTC
        assert r.end.tzinfo is UTC

    @pytest.mark.usefixtures("local_time_not_utc")
    def test_naive_datetimes_are_taken_as_utc(self) -> None:
        r = DateRange(datetime(2024, 5, 1, 10, 30), datetime(2024, 5, 1, 11, 0, 0, 5))
        assert r.start == utc(2024, 5, 1, 10, 30)
        assert r.start.hour == 10  # not shifted by the machine's local timezone
        assert r.end == utc(2024, 5, 1, 11, 0, 0, 5)
        assert r.start.tzinfo is UTC

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            (datetime(2024, 5, 1, 2, 0, tzinfo=PLUS_2), utc(2024, 5, 1, 0, 0)),
            (datetime(2024, 4, 30, 18, 30, tzinfo=MINUS_5_30), utc(2024, 5, 1, 0, 0)),
            (datetime(2024, 1, 1, 5, 0, tzinfo=PLUS_14), utc(2023, 12, 31, 15, 0)),
            (datetime(2024, 5, 1, 0, 0, tzinfo=tz.tzutc()), utc(2024, 5, 1)),
            (datetime(2024, 5, 1, 0, 0, tzinfo=tz.tzoffset(None, 3600)), utc(2024, 4, 30, 23)),
        ],
    )
    def test_aware_datetimes_are_converted_to_utc(
        self, given: datetime, expected: datetime
    ) -> None:
        r = DateRange(given, given + ONE_DAY)
        assert r.start == expected
        assert (r.start.year, r.start.month, r.start.day, r.start.hour, r.start.minute) == (
            expected.year,
            expected.month,
            expected.day,
            expected.hour,
            expected.minute,
        )
        assert r.start.tzinfo is UTC
        assert r.end.tzinfo is UTC

    def test_mixed_input_kinds(self) -> None:
        r = DateRange(date(2024, 5, 1), datetime(2024, 5, 1, 12, tzinfo=PLUS_2))
        assert r.start == utc(2024, 5, 1)
        assert r.end == utc(2024, 5, 1, 10)

    def test_datetime_subclass_and_fold_are_normalised(self) -> None:
        class MyDatetime(datetime):
            pass

        r = DateRange(MyDatetime(2024, 5, 1, fold=1), datetime(2024, 5, 2))
        assert type(r.start) is datetime
        assert r.start.fold == 0

    def test_tzinfo_without_offset_counts_as_naive(self) -> None:
        class NoOffset(tzinfo):
            def utcoffset(self, dt: datetime | None) -> timedelta | None:
                return None

        r = DateRange(datetime(2024, 5, 1, 10, tzinfo=NoOffset()), datetime(2024, 5, 2))
        assert r.start == utc(2024, 5, 1, 10)

    @pytest.mark.parametrize("bad", ["2024-05-01", 1714521600, 1714521600.0, None, (2024, 5, 1)])
    def test_rejects_other_types_naming_the_type(self, bad: object) -> None:
        with pytest.raises(TypeError, match=type(bad).__name__):
            DateRange(bad, date(2030, 1, 1))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=type(bad).__name__):
            DateRange(date(2000, 1, 1), bad)  # type: ignore[arg-type]

    def test_str_input_points_to_parse(self) -> None:
        with pytest.raises(TypeError, match=r"DateRange\.parse"):
            DateRange("2024-05-01", "2024-06-01")  # type: ignore[arg-type]

    def test_empty_range_is_rejected_with_both_values(self) -> None:
        with pytest.raises(ValueError, match=r"2024-05-01T00:00:00Z.*2024-05-01T00:00:00Z"):
            DateRange(date(2024, 5, 1), date(2024, 5, 1))

    def test_backwards_range_is_rejected_with_both_values(self) -> None:
        with pytest.raises(ValueError, match=r"2024-06-01T00:00:00Z.*2024-05-01T00:00:00Z"):
            DateRange(date(2024, 6, 1), date(2024, 5, 1))

    def test_equal_instants_in_different_zones_are_an_empty_range(self) -> None:
        with pytest.raises(ValueError, match="start before it ends"):
            DateRange(datetime(2024, 5, 1, 2, tzinfo=PLUS_2), utc(2024, 5, 1))

    def test_one_microsecond_is_a_range(self) -> None:
        r = DateRange(utc(2024, 5, 1), utc(2024, 5, 1, 0, 0, 0, 1))
        assert r.duration == ONE_US

    def test_is_frozen(self) -> None:
        r = DateRange.day(date(2024, 5, 1))
        with pytest.raises(AttributeError):
            r.start = utc(2020, 1, 1)  # type: ignore[misc]
        assert r.start == utc(2024, 5, 1)

    def test_equality_and_hash_are_by_value(self) -> None:
        a = DateRange(date(2024, 5, 1), date(2024, 6, 1))
        b = DateRange(datetime(2024, 5, 1, 2, tzinfo=PLUS_2), datetime(2024, 6, 1))
        c = DateRange.month(2024, 5)
        assert a == b == c
        assert hash(a) == hash(b) == hash(c)
        assert len({a, b, c}) == 1
        assert a != DateRange.month(2024, 6)
        assert a != "2024-05"

    def test_repr(self) -> None:
        assert repr(DateRange.month(2024, 5)) == (
            "DateRange(start=2024-05-01T00:00:00Z, end=2024-06-01T00:00:00Z)"
        )
        assert repr(DateRange(utc(2024, 5, 1, 10, 0, 0, 250), utc(2024, 5, 2))) == (
            "DateRange(start=2024-05-01T10:00:00.000250Z, end=2024-05-02T00:00:00Z)"
        )


class TestToUtc:
    def test_date(self) -> None:
        result = to_utc(date(2024, 2, 29))
        assert result == utc(2024, 2, 29)
        assert type(result) is datetime
        assert result.tzinfo is UTC

    @pytest.mark.usefixtures("local_time_not_utc")
    def test_naive(self) -> None:
        assert to_utc(datetime(2024, 2, 29, 23, 59, 59, 999999)) == utc(
            2024, 2, 29, 23, 59, 59, 999999
        )

    def test_aware_crossing_a_year(self) -> None:
        result = to_utc(datetime(2025, 1, 1, 1, 0, tzinfo=PLUS_2))
        assert (result.year, result.month, result.day, result.hour) == (2024, 12, 31, 23)
        assert result.tzinfo is UTC

    def test_overflow_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match="outside the range"):
            to_utc(datetime(1, 1, 1, 0, 0, tzinfo=PLUS_2))

    def test_rejects_non_dates(self) -> None:
        with pytest.raises(TypeError, match="int"):
            to_utc(20240501)  # type: ignore[arg-type]


# -- calendar constructors ------------------------------------------------------------------


class TestDay:
    def test_ordinary_day(self) -> None:
        r = DateRange.day(date(2024, 5, 17))
        assert (r.start, r.end) == (utc(2024, 5, 17), utc(2024, 5, 18))
        assert r.duration == ONE_DAY

    @pytest.mark.parametrize(
        ("d", "end"),
        [
            (date(2024, 2, 28), utc(2024, 2, 29)),
            (date(2024, 2, 29), utc(2024, 3, 1)),
            (date(2023, 2, 28), utc(2023, 3, 1)),
            (date(2024, 12, 31), utc(2025, 1, 1)),
            (date(2024, 4, 30), utc(2024, 5, 1)),
        ],
    )
    def test_day_ends_at_the_next_midnight(self, d: date, end: datetime) -> None:
        assert DateRange.day(d).end == end

    def test_datetime_selects_the_utc_day_containing_it(self) -> None:
        late_in_new_york = datetime(2024, 5, 17, 22, 0, tzinfo=timezone(timedelta(hours=-4)))
        assert DateRange.day(late_in_new_york) == DateRange.day(date(2024, 5, 18))
        assert DateRange.day(datetime(2024, 5, 17, 23, 59)) == DateRange.day(date(2024, 5, 17))

    def test_last_representable_day_has_no_end(self) -> None:
        with pytest.raises(ValueError, match="9999"):
            DateRange.day(date(9999, 12, 31))


class TestMonth:
    @pytest.mark.parametrize(
        ("year", "month", "days"),
        [
            (2024, 1, 31),
            (2024, 2, 29),  # leap year
            (2023, 2, 28),
            (2100, 2, 28),  # divisible by 100, not by 400: not a leap year
            (2000, 2, 29),  # divisible by 400: a leap year
            (2024, 4, 30),
            (2024, 12, 31),
        ],
    )
    def test_month_lengths(self, year: int, month: int, days: int) -> None:
        r = DateRange.month(year, month)
        assert r.start == utc(year, month, 1)
        assert r.duration == timedelta(days=days)

    def test_december_ends_on_next_new_year(self) -> None:
        assert DateRange.month(2024, 12).end == utc(2025, 1, 1)

    @pytest.mark.parametrize(("year", "month"), [(2024, 0), (2024, 13), (2024, -1), (0, 5)])
    def test_invalid(self, year: int, month: int) -> None:
        with pytest.raises(ValueError, match="between"):
            DateRange.month(year, month)

    def test_december_9999_has_no_end(self) -> None:
        with pytest.raises(ValueError, match="9999"):
            DateRange.month(9999, 12)
        assert DateRange.month(9999, 11).end == utc(9999, 12, 1)

    @pytest.mark.parametrize("month", [5.0, "5", True])
    def test_non_int_month(self, month: object) -> None:
        with pytest.raises(TypeError, match="month must be an int"):
            DateRange.month(2024, month)  # type: ignore[arg-type]


class TestQuarter:
    @pytest.mark.parametrize(
        ("q", "start", "end"),
        [
            (1, utc(2024, 1, 1), utc(2024, 4, 1)),
            (2, utc(2024, 4, 1), utc(2024, 7, 1)),
            (3, utc(2024, 7, 1), utc(2024, 10, 1)),
            (4, utc(2024, 10, 1), utc(2025, 1, 1)),
        ],
    )
    def test_quarters(self, q: int, start: datetime, end: datetime) -> None:
        r = DateRange.quarter(2024, q)
        assert (r.start, r.end) == (start, end)

    def test_leap_q1_is_a_day_longer(self) -> None:
        assert DateRange.quarter(2024, 1).duration == timedelta(days=91)
        assert DateRange.quarter(2023, 1).duration == timedelta(days=90)
        assert DateRange.quarter(2100, 1).duration == timedelta(days=90)

    @pytest.mark.parametrize("q", [0, 5, -1])
    def test_invalid(self, q: int) -> None:
        with pytest.raises(ValueError, match="quarter must be between 1 and 4"):
            DateRange.quarter(2024, q)

    def test_non_int(self) -> None:
        with pytest.raises(TypeError, match="quarter must be an int"):
            DateRange.quarter(2024, 2.0)  # type: ignore[arg-type]


class TestYear:
    @pytest.mark.parametrize(
        ("year", "days"), [(2024, 366), (2023, 365), (2100, 365), (2000, 366), (1900, 365)]
    )
    def test_year_lengths(self, year: int, days: int) -> None:
        r = DateRange.year(year)
        assert (r.start, r.end) == (utc(year, 1, 1), utc(year + 1, 1, 1))
        assert r.duration == timedelta(days=days)

    @pytest.mark.parametrize("year", [0, -2024, 9999, 10000])
    def test_invalid(self, year: int) -> None:
        with pytest.raises(ValueError, match="year must be between 1 and 9998"):
            DateRange.year(year)

    def test_extremes(self) -> None:
        assert DateRange.year(1).start == utc(1, 1, 1)
        assert DateRange.year(9998).end == utc(9999, 1, 1)

    def test_non_int(self) -> None:
        with pytest.raises(TypeError, match="year must be an int"):
            DateRange.year("2024")  # type: ignore[arg-type]


class TestLast:
    def test_ends_now_and_starts_days_before(self) -> None:
        now = utc(2024, 3, 1, 12, 30, 15, 123)
        r = DateRange.last(days=7, now=now)
        assert r.end == now
        assert r.start == utc(2024, 2, 23, 12, 30, 15, 123)
        assert r.duration == timedelta(days=7)

    def test_crosses_a_leap_day(self) -> None:
        r = DateRange.last(days=2, now=utc(2024, 3, 1))
        assert r.start == utc(2024, 2, 28)

    @pytest.mark.usefixtures("local_time_not_utc")
    def test_naive_now_is_utc(self) -> None:
        assert DateRange.last(days=1, now=datetime(2024, 5, 2, 10)) == rng(
            "2024-05-01T10:00", "2024-05-02T10:00"
        )

    def test_aware_now_is_converted(self) -> None:
        r = DateRange.last(days=1, now=datetime(2024, 5, 2, 12, tzinfo=PLUS_2))
        assert r.end == utc(2024, 5, 2, 10)
        assert r.end.tzinfo is UTC

    def test_defaults_to_current_utc_time(self) -> None:
        before = datetime.now(UTC)
        r = DateRange.last(days=30)
        after = datetime.now(UTC)
        assert before <= r.end <= after
        assert r.duration == timedelta(days=30)
        assert r.end.tzinfo is UTC

    @pytest.mark.parametrize("days", [0, -1, 1.5, True, "7", None])
    def test_days_must_be_a_positive_int(self, days: object) -> None:
        with pytest.raises(ValueError, match="days must be a positive int"):
            DateRange.last(days=days, now=utc(2024, 1, 1))  # type: ignore[arg-type]

    def test_before_year_one(self) -> None:
        with pytest.raises(ValueError, match="before year 1"):
            DateRange.last(days=2, now=utc(1, 1, 1, 12))


# -- parse -----------------------------------------------------------------------------------


class TestParse:
    @pytest.mark.parametrize(
        ("text", "start", "end"),
        [
            ("2024", utc(2024, 1, 1), utc(2025, 1, 1)),
            ("2024-Q2", utc(2024, 4, 1), utc(2024, 7, 1)),
            ("2024-q4", utc(2024, 10, 1), utc(2025, 1, 1)),
            ("2024-05", utc(2024, 5, 1), utc(2024, 6, 1)),
            ("2024-02", utc(2024, 2, 1), utc(2024, 3, 1)),
            ("2024-05-17", utc(2024, 5, 17), utc(2024, 5, 18)),
            ("2024-02-29", utc(2024, 2, 29), utc(2024, 3, 1)),
            ("2000-02-29", utc(2000, 2, 29), utc(2000, 3, 1)),
            ("0999", utc(999, 1, 1), utc(1000, 1, 1)),
            ("  2024-05 \n", utc(2024, 5, 1), utc(2024, 6, 1)),
            # A..B runs from the start of A to the end of B.
            ("2024-01..2024-03", utc(2024, 1, 1), utc(2024, 4, 1)),
            ("2024-05-01..2024-05-31", utc(2024, 5, 1), utc(2024, 6, 1)),
            ("2024..2025", utc(2024, 1, 1), utc(2026, 1, 1)),
            ("2024..2024", utc(2024, 1, 1), utc(2025, 1, 1)),
            ("2024-Q1..2024-Q2", utc(2024, 1, 1), utc(2024, 7, 1)),
            ("2024-Q4..2025-01", utc(2024, 10, 1), utc(2025, 2, 1)),
            ("2024-12-31..2025-01-01", utc(2024, 12, 31), utc(2025, 1, 2)),
            ("2023..2024-Q1", utc(2023, 1, 1), utc(2024, 4, 1)),
            # An end that overlaps A is fine as long as B ends after A starts.
            ("2024..2024-03", utc(2024, 1, 1), utc(2024, 4, 1)),
            # Datetimes are instants: their start and end are themselves.
            (
                "2024-05-01T00:00:00Z..2024-05-02T12:00:00Z",
                utc(2024, 5, 1),
                utc(2024, 5, 2, 12),
            ),
            (
                "2024-05-17T10:00:00.123+02:00..2024-05-17T10:00:00.5Z",
                utc(2024, 5, 17, 8, 0, 0, 123000),
                utc(2024, 5, 17, 10, 0, 0, 500000),
            ),
            (
                "2024-05-17T10:00:00..2024-05-18",  # naive datetime = UTC
                utc(2024, 5, 17, 10),
                utc(2024, 5, 19),
            ),
            ("2024-05-17T10:00:00Z..2024-05", utc(2024, 5, 17, 10), utc(2024, 6, 1)),
            ("2024-05..2024-05-17T10:00:00Z", utc(2024, 5, 1), utc(2024, 5, 17, 10)),
            (
                "2024-05-17 10:00:00Z .. 2024-05-17 11:00Z",
                utc(2024, 5, 17, 10),
                utc(2024, 5, 17, 11),
            ),
            (
                "2024-05-17t10:00:00z..2024-05-17t10:00:01z",
                utc(2024, 5, 17, 10),
                utc(2024, 5, 17, 10, 0, 1),
            ),
            (
                "2024-12-31T23:00:00-05:00..2025-01-01T05:00:00.000001+01:00",
                utc(2025, 1, 1, 4),
                utc(2025, 1, 1, 4, 0, 0, 1),
            ),
        ],
    )
    def test_valid(self, text: str, start: datetime, end: datetime) -> None:
        r = DateRange.parse(text)
        assert (r.start, r.end) == (start, end)
        assert r.start.tzinfo is UTC
        assert r.end.tzinfo is UTC

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   ",
            "yesterday",
            "2024-13",
            "2024-00",
            "2024-Q5",
            "2024-Q0",
            "2024-Q",
            "2024-W20",
            "2024-02-30",
            "2023-02-29",
            "2100-02-29",
            "2024-05-32",
            "24",
            "20240517",
            "2024-5",
            "2024-05-1",
            "2024/05",
            "2024-05-01..",
            "..2024-05-01",
            "..",
            "2024..2025..2026",
            "2024-05...2024-06",
            "2024-05..2024-04",  # ends before it starts
            "2024-05-01..2024-04-30",  # ends exactly where it starts
            "2024-05-17T10:00:00Z..2024-05-17T10:00:00Z",
            "2024-05-17T12:00:00+02:00..2024-05-17T10:00:00Z",  # the same instant
            "2024-05-17T10:00:00Z..2024-05-17T09:00:00Z",
            "2024-05-17T25:00:00Z..2024-05-18",
            "2024-05-17Tnoon..2024-05-18",
            "2024-05-17T10:00:00+25:00..2024-05-18",
            "9999",  # its end is not representable
            "9999-Q4",
            "9999-12-31",
            "0001-01-01T00:00:00+01:00..0001-02",  # before the first representable instant
            "2024-05 2024-06",
            "\u0662\u0660\u0662\u0664",  # Arabic-Indic digits are not ISO 8601
        ],
    )
    def test_invalid_quotes_the_text(self, text: str) -> None:
        with pytest.raises(ValueError, match=re.escape(repr(text))):
            DateRange.parse(text)

    @pytest.mark.parametrize(
        "text",
        ["2024-05-17T10:00:00Z", "2024-05-17T10:00:00.123+02:00", " 2024-05-17T10:00:00 "],
    )
    def test_lone_datetime_is_not_a_range(self, text: str) -> None:
        with pytest.raises(ValueError, match="two ends") as info:
            DateRange.parse(text)
        assert repr(text) in str(info.value)

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("2024-13", "month must be between 1 and 12"),
            ("2024-Q5", "quarter must be between 1 and 4"),
            ("2024-05-01..", "nothing after '..'"),
            ("..2024-05-01", "nothing before '..'"),
            ("2024-05..2024-04", "not after the start"),
            ("a..b..c", "at most one '..'"),
        ],
    )
    def test_error_says_why(self, text: str, reason: str) -> None:
        with pytest.raises(ValueError, match=re.escape(reason)):
            DateRange.parse(text)

    @pytest.mark.parametrize("text", [None, 2024, b"2024", date(2024, 1, 1)])
    def test_non_str_is_a_type_error(self, text: object) -> None:
        with pytest.raises(TypeError, match=type(text).__name__):
            DateRange.parse(text)  # type: ignore[arg-type]


# -- str, duration, contains, to_dict -------------------------------------------------------


class TestStr:
    @pytest.mark.parametrize(
        ("r", "text"),
        [
            (DateRange.year(2024), "2024"),
            (DateRange.year(999), "0999"),
            (DateRange.quarter(2024, 2), "2024-Q2"),
            (DateRange.quarter(2024, 4), "2024-Q4"),
            (DateRange.month(2024, 5), "2024-05"),
            (DateRange.month(2024, 12), "2024-12"),
            (DateRange.day(date(2024, 5, 17)), "2024-05-17"),
            (DateRange.day(date(2024, 12, 31)), "2024-12-31"),
            (DateRange(date(2024, 1, 1), date(2024, 3, 1)), "2024-01..2024-02"),
            (DateRange(date(2024, 1, 1), date(2024, 7, 1)), "2024-Q1..2024-Q2"),
            (DateRange(date(2024, 1, 1), date(2026, 1, 1)), "2024..2025"),
            (DateRange(date(2024, 11, 1), date(2025, 2, 1)), "2024-11..2025-01"),
            (DateRange(date(2024, 10, 1), date(2025, 4, 1)), "2024-Q4..2025-Q1"),
            (DateRange(date(2024, 5, 1), date(2024, 5, 4)), "2024-05-01..2024-05-03"),
            (DateRange(date(2024, 12, 31), date(2025, 1, 2)), "2024-12-31..2025-01-01"),
            (DateRange(date(2024, 1, 1), date(2024, 1, 31)), "2024-01-01..2024-01-30"),
            # A year that isn't a whole quarter-pair still picks the largest fitting unit.
            (DateRange(date(2024, 1, 1), date(2025, 4, 1)), "2024-Q1..2025-Q1"),
            (DateRange(date(2024, 1, 1), date(2025, 2, 1)), "2024-01..2025-01"),
            (
                DateRange(utc(2024, 5, 1), utc(2024, 5, 2, 12)),
                "2024-05-01T00:00:00Z..2024-05-02T12:00:00Z",
            ),
            (
                DateRange(utc(2024, 5, 1, 0, 0, 0, 1), utc(2024, 6, 1)),
                "2024-05-01T00:00:00.000001Z..2024-06-01T00:00:00Z",
            ),
            (
                DateRange(datetime(2024, 5, 17, 12, 0, 0, 120000, tzinfo=PLUS_2), utc(2024, 6, 1)),
                "2024-05-17T10:00:00.120000Z..2024-06-01T00:00:00Z",
            ),
        ],
    )
    def test_forms(self, r: DateRange, text: str) -> None:
        assert str(r) == text
        assert DateRange.parse(text) == r

    def test_last_representable_day_round_trips(self) -> None:
        r = DateRange(date(9999, 12, 30), datetime.max)
        assert str(r) == "9999-12-30T00:00:00Z..9999-12-31T23:59:59.999999Z"
        assert DateRange.parse(str(r)) == r
        near_end = DateRange(date(9999, 1, 1), date(9999, 12, 31))
        assert str(near_end) == "9999-01-01..9999-12-30"
        assert DateRange.parse(str(near_end)) == near_end


def test_duration() -> None:
    assert DateRange.month(2024, 2).duration == timedelta(days=29)
    assert rng("2024-05-01T10:00", "2024-05-01T10:00:00.000250").duration == timedelta(
        microseconds=250
    )


class TestContains:
    r = DateRange(utc(2024, 5, 1), utc(2024, 6, 1))

    def test_half_open(self) -> None:
        assert utc(2024, 5, 1) in self.r
        assert utc(2024, 5, 31, 23, 59, 59, 999999) in self.r
        assert utc(2024, 6, 1) not in self.r
        assert utc(2024, 4, 30, 23, 59, 59, 999999) not in self.r

    def test_other_offsets_are_compared_as_instants(self) -> None:
        assert datetime(2024, 6, 1, 1, 0, tzinfo=PLUS_2) in self.r  # 2024-05-31T23:00Z
        assert datetime(2024, 5, 1, 1, 0, tzinfo=PLUS_2) not in self.r  # 2024-04-30T23:00Z

    @pytest.mark.usefixtures("local_time_not_utc")
    def test_naive_is_utc(self) -> None:
        assert datetime(2024, 5, 1) in self.r
        assert datetime(2024, 6, 1) not in self.r

    def test_non_datetime_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match="date"):
            date(2024, 5, 2) in self.r  # noqa: B015
        with pytest.raises(TypeError, match="str"):
            "2024-05-02" in self.r  # noqa: B015


def test_to_dict() -> None:
    assert DateRange.month(2024, 5).to_dict() == {
        "start": "2024-05-01T00:00:00Z",
        "end": "2024-06-01T00:00:00Z",
    }
    assert rng("2024-05-01T10:00:00.5", "2024-05-02").to_dict() == {
        "start": "2024-05-01T10:00:00.500000Z",
        "end": "2024-05-02T00:00:00Z",
    }


# -- split ----------------------------------------------------------------------------------


def bounds(pieces: list[DateRange]) -> list[tuple[datetime, datetime]]:
    return [(p.start, p.end) for p in pieces]


class TestSplit:
    def test_quarter_into_months(self) -> None:
        assert DateRange.quarter(2024, 4).split("month") == [
            DateRange.month(2024, 10),
            DateRange.month(2024, 11),
            DateRange.month(2024, 12),
        ]

    def test_clipped_at_both_ends(self) -> None:
        r = rng("2024-01-15T06:00", "2024-03-10T18:00")
        assert bounds(r.split("month")) == [
            (utc(2024, 1, 15, 6), utc(2024, 2, 1)),
            (utc(2024, 2, 1), utc(2024, 3, 1)),
            (utc(2024, 3, 1), utc(2024, 3, 10, 18)),
        ]

    def test_range_within_one_unit_is_itself(self) -> None:
        r = rng("2024-05-17T10:00", "2024-05-17T11:00")
        for every in PERIODS:
            assert r.split(every) == [r]

    def test_days_across_a_leap_day(self) -> None:
        pieces = DateRange(date(2024, 2, 28), date(2024, 3, 2)).split("day")
        assert [p.start.date() for p in pieces] == [
            date(2024, 2, 28),
            date(2024, 2, 29),
            date(2024, 3, 1),
        ]
        assert all(p.duration == ONE_DAY for p in pieces)

    def test_iso_week_crossing_a_year_is_one_piece(self) -> None:
        # ISO week 2020-W53 runs Monday 2020-12-28 to Sunday 2021-01-03.
        r = DateRange(date(2020, 12, 28), date(2021, 1, 4))
        assert r.split("week") == [r]
        assert date(2020, 12, 28).isocalendar()[:2] == (2020, 53)

    def test_weeks_start_on_monday(self) -> None:
        r = DateRange(date(2020, 12, 25), date(2021, 1, 6))  # Friday to Wednesday
        assert bounds(r.split("week")) == [
            (utc(2020, 12, 25), utc(2020, 12, 28)),
            (utc(2020, 12, 28), utc(2021, 1, 4)),
            (utc(2021, 1, 4), utc(2021, 1, 6)),
        ]

    def test_week_starting_on_a_monday_mid_day(self) -> None:
        r = rng("2024-05-06T12:00", "2024-05-20T00:00")  # 2024-05-06 is a Monday
        assert bounds(r.split("week")) == [
            (utc(2024, 5, 6, 12), utc(2024, 5, 13)),
            (utc(2024, 5, 13), utc(2024, 5, 20)),
        ]

    def test_quarters_across_years(self) -> None:
        r = DateRange(date(2023, 11, 15), date(2024, 5, 1))
        assert bounds(r.split("quarter")) == [
            (utc(2023, 11, 15), utc(2024, 1, 1)),
            (utc(2024, 1, 1), utc(2024, 4, 1)),
            (utc(2024, 4, 1), utc(2024, 5, 1)),
        ]

    def test_years(self) -> None:
        r = rng("2023-06-01", "2025-01-01T00:00:01")
        assert bounds(r.split("year")) == [
            (utc(2023, 6, 1), utc(2024, 1, 1)),
            (utc(2024, 1, 1), utc(2025, 1, 1)),
            (utc(2025, 1, 1), utc(2025, 1, 1, 0, 0, 1)),
        ]

    def test_months_do_not_drift_after_short_months(self) -> None:
        starts = [p.start for p in DateRange.year(2023).split("month")]
        assert starts == [utc(2023, m, 1) for m in range(1, 13)]

    def test_up_to_the_end_of_time(self) -> None:
        r = DateRange(date(9999, 12, 30), datetime.max)
        assert bounds(r.split("year")) == [(r.start, r.end)]
        assert bounds(r.split("day")) == [
            (utc(9999, 12, 30), utc(9999, 12, 31)),
            (utc(9999, 12, 31), r.end),
        ]

    @pytest.mark.parametrize("every", ["days", "hour", "Month", "", "fortnight"])
    def test_unknown_unit_lists_the_valid_ones(self, every: str) -> None:
        with pytest.raises(ValueError, match="day, week, month, quarter, year") as info:
            DateRange.year(2024).split(every)  # type: ignore[arg-type]
        assert repr(every) in str(info.value)


# -- no daylight saving time anywhere -------------------------------------------------------


class TestNoDst:
    berlin = tz.gettz("Europe/Berlin")

    def test_days_around_dst_changes_are_24_hours(self) -> None:
        # Europe switched clocks on 2024-03-31 and 2024-10-27; UTC days don't care.
        for d in (date(2024, 3, 31), date(2024, 10, 27)):
            assert DateRange.day(d).duration == timedelta(hours=24)
        pieces = DateRange.month(2024, 3).split("day")
        assert len(pieces) == 31
        assert {p.duration for p in pieces} == {timedelta(hours=24)}
        assert DateRange.month(2024, 3).duration == timedelta(days=31)

    def test_zoned_inputs_use_the_offset_in_force(self) -> None:
        assert self.berlin is not None
        summer = datetime(2024, 3, 31, 3, 30, tzinfo=self.berlin)  # CEST, +02:00
        winter = datetime(2024, 3, 31, 1, 30, tzinfo=self.berlin)  # CET, +01:00
        r = DateRange(winter, summer)
        assert (r.start, r.end) == (utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 1, 30))
        assert r.duration == timedelta(hours=1)
        assert r.start.tzinfo is UTC


# -- wire and ISO formats -------------------------------------------------------------------


class TestFormatWire:
    @pytest.mark.parametrize(
        ("dt", "text"),
        [
            (utc(2024, 5, 1), "2024-05-01T00:00:00.000Z"),
            (utc(2024, 5, 1, 13, 4, 5), "2024-05-01T13:04:05.000Z"),
            (utc(2024, 5, 1, 0, 0, 0, 123000), "2024-05-01T00:00:00.123Z"),
            (utc(2024, 5, 1, 0, 0, 0, 123456), "2024-05-01T00:00:00.123Z"),
            (utc(2024, 5, 1, 0, 0, 0, 999999), "2024-05-01T00:00:00.999Z"),  # truncated
            (utc(2024, 12, 31, 23, 59, 59, 999999), "2024-12-31T23:59:59.999Z"),  # not 2025
            (utc(2024, 5, 1, 0, 0, 0, 999), "2024-05-01T00:00:00.000Z"),
            (utc(2024, 5, 1, 0, 0, 0, 1000), "2024-05-01T00:00:00.001Z"),
            (utc(2024, 5, 1, 0, 0, 0, 1500), "2024-05-01T00:00:00.001Z"),
            (datetime(2024, 5, 1, 2, 0, tzinfo=PLUS_2), "2024-05-01T00:00:00.000Z"),
            (datetime(2024, 1, 1, 0, 30, tzinfo=PLUS_2), "2023-12-31T22:30:00.000Z"),
            (datetime(2024, 4, 30, 18, 30, tzinfo=MINUS_5_30), "2024-05-01T00:00:00.000Z"),
            (datetime(2024, 5, 1, tzinfo=tz.tzutc()), "2024-05-01T00:00:00.000Z"),
            (utc(999, 1, 2, 3, 4, 5), "0999-01-02T03:04:05.000Z"),
        ],
    )
    def test_exact_output(self, dt: datetime, text: str) -> None:
        assert format_wire(dt) == text

    def test_naive_is_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            format_wire(datetime(2024, 5, 1))

    def test_non_datetime_is_refused(self) -> None:
        with pytest.raises(TypeError, match="date"):
            format_wire(date(2024, 5, 1))  # type: ignore[arg-type]


class TestFormatIsoZ:
    @pytest.mark.parametrize(
        ("dt", "text"),
        [
            (utc(2024, 5, 1), "2024-05-01T00:00:00Z"),
            (utc(2024, 5, 1, 10, 20, 30), "2024-05-01T10:20:30Z"),
            (utc(2024, 5, 1, 0, 0, 0, 1), "2024-05-01T00:00:00.000001Z"),
            (utc(2024, 5, 1, 0, 0, 0, 500000), "2024-05-01T00:00:00.500000Z"),
            (datetime(2024, 5, 1, 2, 0, tzinfo=PLUS_2), "2024-05-01T00:00:00Z"),
            (utc(5, 1, 1), "0005-01-01T00:00:00Z"),
        ],
    )
    def test_exact_output(self, dt: datetime, text: str) -> None:
        assert format_iso_z(dt) == text

    def test_naive_is_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            format_iso_z(datetime(2024, 5, 1))


def test_periods_match_the_every_literal() -> None:
    assert PERIODS == ("day", "week", "month", "quarter", "year")
    assert set(get_args(Every)) == set(PERIODS)


def test_module_import_does_not_load_the_dateutil_parser() -> None:
    # Loaded straight from its file so that whatever the package __init__ imports is not
    # counted against this module.
    source = Path(__file__).parents[2] / "wrapper" / "ei_usage" / "_dates.py"
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('_dates', {str(source)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print('dateutil.parser' in sys.modules)\n"
        "module.DateRange.parse('2024-05-01T00:00:00Z..2024-06')\n"
        "print('dateutil.parser' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]


# -- properties -----------------------------------------------------------------------------

OFFSETS = st.sampled_from(
    [UTC, PLUS_2, MINUS_5_30, PLUS_14, timezone(timedelta(hours=-12)), tz.tzutc()]
)
RAW_INSTANTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=OFFSETS
)
DATES = st.dates(min_value=date(1971, 1, 1), max_value=date(2099, 12, 31))


def _snap(d: date, unit: str) -> date:
    """Move a date back to the start of a calendar unit, computed independently of the module."""
    if unit == "week":
        return d - timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    if unit == "quarter":
        return d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return d.replace(month=1, day=1)
    return d


# Aligned instants make the compact str() forms and exact-boundary splits likely, not rare.
ALIGNED_INSTANTS = st.builds(
    lambda d, unit: to_utc(_snap(d, unit)), DATES, st.sampled_from(PERIODS)
)
INSTANTS = st.one_of(RAW_INSTANTS, ALIGNED_INSTANTS)


@st.composite
def ranges(draw: st.DrawFn, max_span: timedelta | None = None) -> DateRange:
    start = to_utc(draw(INSTANTS))
    if max_span is None:
        end = to_utc(draw(INSTANTS))
    else:
        end = start + draw(
            st.one_of(
                st.timedeltas(min_value=ONE_US, max_value=max_span),
                st.integers(min_value=1, max_value=max_span.days).map(lambda n: timedelta(days=n)),
            )
        )
    if start == end:
        end = start + ONE_US
    return DateRange(min(start, end), max(start, end))


# Keeps day and week splits to a few hundred pieces per example.
MAX_SPAN: dict[str, timedelta | None] = {
    "day": timedelta(days=800),
    "week": timedelta(days=7 * 400),
    "month": None,
    "quarter": None,
    "year": None,
}


def is_aligned(t: datetime, every: str) -> bool:
    if (t.hour, t.minute, t.second, t.microsecond) != (0, 0, 0, 0):
        return False
    if every == "week":
        return t.weekday() == 0
    if every == "month":
        return t.day == 1
    if every == "quarter":
        return t.day == 1 and t.month in (1, 4, 7, 10)
    if every == "year":
        return (t.month, t.day) == (1, 1)
    return True


def unit_key(t: datetime, every: str) -> tuple[int, ...]:
    """Identify the calendar unit containing ``t`` (ISO year and week for weeks)."""
    if every == "day":
        return (t.year, t.month, t.day)
    if every == "week":
        iso = t.isocalendar()
        return (iso.year, iso.week)
    if every == "month":
        return (t.year, t.month)
    if every == "quarter":
        return (t.year, (t.month - 1) // 3)
    return (t.year,)


@pytest.mark.parametrize("every", PERIODS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_split_properties(every: Every, data: st.DataObject) -> None:
    r = data.draw(ranges(MAX_SPAN[every]), label="range")
    pieces = r.split(every)

    assert pieces, "never empty"
    assert pieces[0].start == r.start
    assert pieces[-1].end == r.end
    for before, after in itertools.pairwise(pieces):
        assert before.end == after.start  # contiguous, hence non-overlapping
        assert is_aligned(before.end, every), (every, before.end)
    for piece in pieces:
        assert piece.start < piece.end
        assert piece.start.tzinfo is UTC
        # Each piece lies inside a single calendar unit: no boundary was skipped.
        assert unit_key(piece.start, every) == unit_key(piece.end - ONE_US, every)
    assert sum((p.duration for p in pieces), timedelta()) == r.duration
    # Consecutive pieces are in distinct units, so nothing was cut needlessly.
    keys = [unit_key(p.start, every) for p in pieces]
    assert len(set(keys)) == len(keys)


@settings(max_examples=300, deadline=None)
@given(ranges())
def test_str_round_trips(r: DateRange) -> None:
    text = str(r)
    assert DateRange.parse(text) == r
    assert DateRange.parse(f"  {text}  ") == r
    day_aligned = is_aligned(r.start, "day") and is_aligned(r.end, "day")
    assert ("T" not in text) == day_aligned, text


@settings(max_examples=100, deadline=None)
@given(
    year=st.integers(min_value=1971, max_value=2100),
    month=st.integers(min_value=1, max_value=12),
    q=st.integers(min_value=1, max_value=4),
    d=DATES,
)
def test_calendar_constructors_print_compactly(year: int, month: int, q: int, d: date) -> None:
    cases = {
        DateRange.year(year): f"{year}",
        DateRange.quarter(year, q): f"{year}-Q{q}",
        DateRange.month(year, month): f"{year}-{month:02d}",
        DateRange.day(d): d.isoformat(),
    }
    for r, text in cases.items():
        assert str(r) == text
        assert DateRange.parse(text) == r
        assert DateRange.parse(text.lower()) == r


@settings(max_examples=100, deadline=None)
@given(r=ranges(), instant=RAW_INSTANTS)
def test_contains_matches_the_bounds(r: DateRange, instant: datetime) -> None:
    assert r.start in r
    assert r.end not in r
    assert r.end - ONE_US in r
    assert (instant in r) == (r.start <= instant < r.end)


@settings(max_examples=100, deadline=None)
@given(RAW_INSTANTS)
def test_format_wire_is_utc_milliseconds(dt: datetime) -> None:
    text = format_wire(dt)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
    as_utc = to_utc(dt)
    assert isoparse(text) == as_utc.replace(microsecond=as_utc.microsecond // 1000 * 1000)
    assert isoparse(format_iso_z(dt)) == dt
