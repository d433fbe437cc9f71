"""A token-bucket rate limit per credential, with the headers the fake Studio sends about it.

The real Studio's rate-limit headers are not documented; these are a simulation choice:

* ``X-RateLimit-Limit``: the sustained rate, in requests per second (``10``, ``2.5``).
* ``X-RateLimit-Remaining``: whole tokens left in the credential's bucket after this request.
* ``X-RateLimit-Reset``: seconds (milliseconds precision, rounded up) until the bucket holds a
  token again; ``0`` while it holds one.
* ``Retry-After`` (429 answers only): the same wait in whole seconds, rounded up, at least 1, as
  RFC 9110 delay-seconds must be an integer.

The bucket is kept as a theoretical arrival time in integer nanoseconds (the generic cell rate
algorithm, equivalent to a token bucket), so refill arithmetic is exact: with a rate of 4 per
second a token is back after exactly 250 ms, never 249.999...
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

_NS_PER_SECOND: Final = 1_000_000_000
_NS_PER_MS: Final = 1_000_000

Headers = tuple[tuple[str, str], ...]


def _check_positive(name: str, value: float, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or value <= 0:
        raise ValueError(f"{name} must be >= {minimum} and > 0, got {value!r}")
    return float(value)


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _format_ms(nanoseconds: int) -> str:
    milliseconds = -(-nanoseconds // _NS_PER_MS)
    text = f"{milliseconds // 1000}.{milliseconds % 1000:03d}".rstrip("0")
    return text.rstrip(".")


class TokenBuckets:
    """One token bucket per key (a credential), all with the same rate and size.

    Args:
        rate: Tokens added per second (> 0, at most 1e9).
        burst: Bucket size, at least 1; None for ``max(1, rate)``. Buckets start full.
        clock: Monotonic seconds.

    Raises:
        ValueError: For a rate or burst out of range.
    """

    def __init__(self, rate: float, burst: float | None, clock: Callable[[], float]) -> None:
        self.rate = _check_positive("rate_limit", rate, 1e-9)
        if self.rate > 1e9:
            raise ValueError(f"rate_limit must be at most 1e9 per second, got {rate!r}")
        self.burst = max(1.0, self.rate) if burst is None else _check_positive("burst", burst, 1)
        self._clock = clock
        self._interval_ns = round(_NS_PER_SECOND / self.rate)
        self._capacity_ns = round(self.burst * _NS_PER_SECOND / self.rate)
        self._limit_header = ("X-RateLimit-Limit", _format_number(self.rate))
        self._lock = threading.Lock()
        self._arrivals: dict[Hashable, int] = {}

    def take(self, key: Hashable) -> tuple[bool, Headers, int]:
        """Take a token from ``key``'s bucket if it holds one.

        Returns:
            Whether the request may proceed, the headers to send with its answer (with
            ``Retry-After`` when it may not), and the nanoseconds until a token is available
            (0 if one is).
        """
        now_ns = round(self._clock() * _NS_PER_SECOND)
        interval, capacity = self._interval_ns, self._capacity_ns
        with self._lock:
            arrival = max(self._arrivals.get(key, now_ns), now_ns)
            allowed = arrival + interval - now_ns <= capacity
            if allowed:
                arrival += interval
                self._arrivals[key] = arrival
        # Tokens left = (capacity - (arrival - now)) / interval; a token is back once that is 1.
        wait_ns = max(0, arrival + interval - capacity - now_ns)
        remaining = (capacity - (arrival - now_ns)) // interval
        headers: Headers = (
            self._limit_header,
            ("X-RateLimit-Remaining", str(max(0, remaining))),
            ("X-RateLimit-Reset", _format_ms(wait_ns)),
        )
        if not allowed:
            retry_after = max(1, -(-wait_ns // _NS_PER_SECOND))
            headers = (("Retry-After", str(retry_after)), *headers)
        return allowed, headers, wait_ns
