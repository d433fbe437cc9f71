"""When to retry a failed call, and how long to wait first.

A small policy object rather than a retry library: what we need is one pure decision,
``delay(attempt, error)``, that knows our exception types and the API's ``Retry-After`` rules.
tenacity and stamina would still need that function written, would add a dependency and import
time to every ``import ei_usage``, and would make the waits harder to assert exactly in tests. The
sync and async clients run the same policy with ``time.sleep`` and ``asyncio.sleep``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import attrs

from ._errors import APIConnectionError, EdgeImpulseError, RateLimitError, ServerError

if TYPE_CHECKING:
    from collections.abc import Callable

# GET is idempotent, so these are safe to repeat. Other 5xx (501, 505...) will not get better.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


THROTTLE_RETRIES = 10
"""How often one request answered 429 is tried again by default (``max_throttle_retries``)."""

MAX_RETRY_AFTER = timedelta(days=365)
"""The longest ``Retry-After`` ei-usage represents; a longer one is read as this."""
_MAX_RETRY_AFTER_SECONDS = int(MAX_RETRY_AFTER.total_seconds())


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> timedelta | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP-date.

    Any value a server sends ends in a wait or None, never an exception: a wait beyond
    :data:`MAX_RETRY_AFTER` (``99999999999999``, a date in year 9999) is capped to it.

    Returns:
        The wait (zero for a date in the past), or None when absent or unparseable.
    """
    if value is None:
        return None
    text = value.strip()[:64]
    if text.isascii() and text.isdigit():
        # Compared as text first: int() of thousands of digits is slow, and refused above 4300.
        if len(text) > len(str(_MAX_RETRY_AFTER_SECONDS)):
            return MAX_RETRY_AFTER
        return timedelta(seconds=min(int(text), _MAX_RETRY_AFTER_SECONDS))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    wait = when - (now or datetime.now(UTC))
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with jitter that honours ``Retry-After``.

    Attributes:
        max_retries: attempts after the first; 0 disables retries.
        initial: the first backoff, in seconds; it doubles on each retry.
        maximum: the backoff cap, in seconds.
        max_retry_after: the longest ``Retry-After`` we wait for, in seconds. A longer one is
            raised at once (``RateLimitError.retry_after`` says how long), rather than blocking a
            caller for minutes.
        jitter: the jitter source, returning a float in ``[0, 1)``; injectable for tests.
        max_throttle_retries: how often a request answered 429 is tried again (while
            ``max_retries`` is not 0), apart from ``max_retries``: the client-wide rate control
            spaces those retries, and its patience with a throttling server bounds them.
    """

    max_retries: int = 3
    initial: float = 0.5
    maximum: float = 8.0
    max_retry_after: float = 60.0
    jitter: Callable[[], float] = attrs.field(default=random.random, eq=False, repr=False)
    max_throttle_retries: int = THROTTLE_RETRIES

    def delay(self, retries_done: int, error: EdgeImpulseError) -> float | None:
        """Decide what to do after a failed attempt.

        Args:
            retries_done: how many retries were already made (0 after the first attempt).
            error: why the attempt failed.

        Returns:
            Seconds to wait before trying again, or None to give up and raise ``error``.
        """
        if retries_done >= self.max_retries or not self.retryable(error):
            return None
        retry_after = error.retry_after if isinstance(error, RateLimitError | ServerError) else None
        if retry_after is not None:
            wait: float = retry_after.total_seconds()
            return None if wait > self.max_retry_after else wait
        # "Equal jitter": at least half the exponential step, so retries still spread out, but
        # never a near-zero wait that would hammer a struggling server.
        step = min(self.maximum, self.initial * 2.0**retries_done)
        return step / 2 + step / 2 * self.jitter()

    @staticmethod
    def retryable(error: EdgeImpulseError) -> bool:
        """Whether repeating the same GET could succeed."""
        if isinstance(error, RateLimitError | ServerError):
            return error.status_code in RETRY_STATUSES
        return isinstance(error, APIConnectionError) and error.transient
