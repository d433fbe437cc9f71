"""The retry policy and ``Retry-After``: any header a server sends ends in a wait or None."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ei_usage import APIConnectionError, APITimeoutError, RateLimitError, ServerError
from ei_usage._retry import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after

NOW = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", timedelta(0)),
        (" 120 ", timedelta(seconds=120)),
        ("99999999999999", MAX_RETRY_AFTER),  # raised OverflowError and lost a whole report
        ("9" * 5000, MAX_RETRY_AFTER),  # int() refuses more than 4300 digits
        (str(int(MAX_RETRY_AFTER.total_seconds()) + 1), MAX_RETRY_AFTER),
        ("Wed, 01 May 2024 00:01:00 GMT", timedelta(minutes=1)),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("Tue, 30 Apr 2024 00:00:00 GMT", timedelta(0)),  # in the past: no wait
        ("²", None),  # isdigit() but not a number int() reads
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@given(st.text(max_size=200))
def test_any_retry_after_is_a_bounded_wait_or_none(value: str) -> None:
    wait = parse_retry_after(value, now=NOW)
    assert wait is None or timedelta(0) <= wait <= MAX_RETRY_AFTER


def test_a_long_retry_after_is_raised_not_waited() -> None:
    policy = RetryPolicy(max_retries=3)
    error = RateLimitError("slow", 429, retry_after=MAX_RETRY_AFTER)
    assert policy.delay(0, error) is None
    assert policy.delay(0, RateLimitError("slow", 429, retry_after=timedelta(seconds=2))) == 2


def test_non_transient_connection_errors_are_not_retried() -> None:
    policy = RetryPolicy(max_retries=3, jitter=lambda: 0.0)
    assert policy.delay(0, APIConnectionError("refused")) == 0.25
    assert policy.delay(0, APITimeoutError("slow")) == 0.25
    assert policy.delay(0, APIConnectionError("bad certificate", transient=False)) is None
    assert policy.delay(0, ServerError("down", 503)) == 0.25
    assert policy.delay(0, ServerError("not implemented", 501)) is None
