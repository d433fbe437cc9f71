"""The optional rate limit: token-bucket arithmetic on a fake clock, then over real sockets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from ei_usage.testing import Credential, FakeStudio, Fault
from ei_usage.testing._ratelimit import TokenBuckets

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    MakeClient = Callable[..., httpx.Client]

KEY = "rate-key"
METRICS = "/api/organizations/1/metrics"
LIST = "/api/organizations/1/whitelabel/organizations"


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limit_headers(response: httpx.Response) -> tuple[str, str, str, str | None]:
    headers = response.headers
    return (
        headers["x-ratelimit-limit"],
        headers["x-ratelimit-remaining"],
        headers["x-ratelimit-reset"],
        headers.get("retry-after"),
    )


# -- the bucket arithmetic ----------------------------------------------------------------------


def take(buckets: TokenBuckets, key: str = "a") -> tuple[bool, dict[str, str], int]:
    allowed, headers, wait_ns = buckets.take(key)
    return allowed, dict(headers), wait_ns


def test_a_burst_then_throttling_then_refill() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(2, 3, clock)
    results = [take(buckets) for _ in range(4)]
    assert [allowed for allowed, _, _ in results] == [True, True, True, False]
    assert [h["X-RateLimit-Remaining"] for _, h, _ in results] == ["2", "1", "0", "0"]
    assert [h["X-RateLimit-Reset"] for _, h, _ in results] == ["0", "0", "0.5", "0.5"]
    assert {h["X-RateLimit-Limit"] for _, h, _ in results} == {"2"}
    assert ["Retry-After" in h for _, h, _ in results] == [False, False, False, True]
    refused = results[-1][1]
    assert refused["Retry-After"] == "1"  # 0.5 s rounded up to whole seconds
    assert results[-1][2] == 500_000_000
    clock.advance(0.25)
    allowed, headers, wait_ns = take(buckets)
    assert (allowed, headers["X-RateLimit-Reset"], wait_ns) == (False, "0.25", 250_000_000)
    clock.advance(0.25)
    allowed, headers, _ = take(buckets)
    assert (allowed, headers["X-RateLimit-Remaining"], headers["X-RateLimit-Reset"]) == (
        True,
        "0",
        "0.5",
    )
    clock.advance(10)  # a long pause refills the bucket, but never past its size
    assert [take(buckets)[0] for _ in range(4)] == [True, True, True, False]


def test_a_steady_rate_at_the_limit_always_passes() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(4, 1, clock)
    for _ in range(100):
        allowed, headers, _ = take(buckets)
        assert allowed
        assert headers["X-RateLimit-Reset"] == "0.25"
        clock.advance(0.25)  # exactly one token's worth: no rounding drift in the bucket


def test_keys_have_independent_buckets() -> None:
    buckets = TokenBuckets(1, 1, FakeClock())
    assert take(buckets, "a")[0]
    assert not take(buckets, "a")[0]
    assert take(buckets, "b")[0]
    assert not take(buckets, "b")[0]


@pytest.mark.parametrize(
    ("rate", "burst", "limit", "retry_after", "reset"),
    [
        (0.5, None, "0.5", "2", "2"),  # one request every two seconds; burst defaults to 1
        (0.1, 1, "0.1", "10", "10"),
        (3, None, "3", "1", "0.334"),  # a third of a second, rounded up to the millisecond
        (1000, None, "1000", "1", "0.001"),
        (2.5, None, "2.5", "1", "0.2"),  # 2 of 2.5 tokens taken: half a token takes 0.2 s
    ],
)
def test_waits_and_header_formats(
    rate: float, burst: float | None, limit: str, retry_after: str, reset: str
) -> None:
    buckets = TokenBuckets(rate, burst, FakeClock())
    taken = [take(buckets) for _ in range(1001)]  # the clock stands still: the bucket empties
    _, headers, _ = taken[-1]
    assert headers["X-RateLimit-Limit"] == limit
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["Retry-After"] == retry_after
    assert headers["X-RateLimit-Reset"] == reset


def test_default_and_fractional_bursts() -> None:
    assert TokenBuckets(0.2, None, FakeClock()).burst == 1
    assert TokenBuckets(7, None, FakeClock()).burst == 7
    clock = FakeClock()
    buckets = TokenBuckets(1, 1.5, clock)
    allowed, headers, _ = take(buckets)
    assert (allowed, headers["X-RateLimit-Reset"]) == (True, "0.5")  # half a token left
    assert not take(buckets)[0]
    clock.advance(0.5)
    assert take(buckets)[0]


@pytest.mark.parametrize(
    ("rate", "burst", "word"),
    [
        (0, None, "rate_limit"),
        (-1, None, "rate_limit"),
        (float("nan"), None, "rate_limit"),
        (float("inf"), None, "rate_limit"),
        (2e9, None, "rate_limit"),
        (True, None, "rate_limit"),
        (1, 0.5, "burst"),
        (1, float("inf"), "burst"),
    ],
)
def test_invalid_limits(rate: float, burst: float | None, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        TokenBuckets(rate, burst, FakeClock())
    with pytest.raises(ValueError, match=word):
        FakeStudio(rate_limit=rate, burst=burst)


# -- the studio with a fake clock ---------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[FakeStudio]:
    with FakeStudio(
        api_key=KEY, jwt_token="rate-jwt", rate_limit=1, burst=2, clock=clock
    ) as studio:
        yield studio


@pytest.fixture
def keyed(limited: FakeStudio, make_client: MakeClient) -> httpx.Client:
    return make_client(limited, headers={"x-api-key": KEY})


def test_studio_throttles_each_credential(
    limited: FakeStudio, keyed: httpx.Client, make_client: MakeClient, clock: FakeClock
) -> None:
    first, second, third = (keyed.get(METRICS) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert limit_headers(first) == ("1", "1", "0", None)
    assert limit_headers(second) == ("1", "0", "1", None)
    assert limit_headers(third) == ("1", "0", "1", "1")
    assert third.json() == {
        "success": False,
        "error": "Too many requests, please try again later",
    }
    # Another credential of the same organization has its own bucket.
    jwt = make_client(limited, headers={"x-jwt-token": "rate-jwt"})
    assert jwt.get(LIST).status_code == 200
    clock.advance(0.4)
    refused = keyed.get(LIST)
    assert limit_headers(refused) == ("1", "0", "0.6", "1")
    clock.advance(0.6)
    assert keyed.get(LIST).status_code == 200
    assert limited.rate_limited_count == 2
    assert [r.status for r in limited.requests] == [200, 200, 429, 200, 429, 200]
    assert limited.request_count == 6
    limited.reset()
    assert (limited.rate_limited_count, limited.request_count) == (0, 0)


def test_what_the_limit_does_not_touch(
    limited: FakeStudio, keyed: httpx.Client, http: httpx.Client
) -> None:
    for _ in range(5):
        assert http.get(limited.base_url + METRICS, headers={"x-api-key": "no"}).status_code == 401
        assert keyed.get("/api/organizations/1/nothing").status_code == 404
        assert keyed.post(METRICS).status_code == 405
    limited.inject(Fault.server_error(), times=3)
    assert [keyed.get(METRICS).status_code for _ in range(3)] == [500, 500, 500]
    unauthenticated = [r for r in limited.requests if r.status == 401]
    assert all("x-ratelimit-limit" not in r.headers for r in unauthenticated)
    # None of that took a token: the whole burst is still there.
    assert [keyed.get(METRICS).status_code for _ in range(3)] == [200, 200, 429]
    assert limited.rate_limited_count == 1


def test_errors_past_the_limiter_take_a_token_and_carry_the_headers(
    limited: FakeStudio, keyed: httpx.Client
) -> None:
    forbidden = keyed.get("/api/organizations/2/metrics")
    assert forbidden.status_code == 403
    assert limit_headers(forbidden) == ("1", "1", "0", None)
    invalid = keyed.get(LIST, params={"limit": "-1"})
    assert invalid.status_code == 400
    assert limit_headers(invalid)[1] == "0"
    assert keyed.get(METRICS).status_code == 429


def test_rate_limit_can_be_changed_and_lifted(
    limited: FakeStudio, keyed: httpx.Client, clock: FakeClock
) -> None:
    assert (limited.rate_limit, limited.burst) == (1, 2)
    assert [keyed.get(METRICS).status_code for _ in range(3)] == [200, 200, 429]
    limited.set_rate_limit(10)
    assert (limited.rate_limit, limited.burst) == (10, 10)
    statuses = [keyed.head(METRICS).status_code for _ in range(11)]  # HEAD counts too
    assert statuses == [200] * 10 + [429]
    limited.set_rate_limit(None)
    assert (limited.rate_limit, limited.burst) == (None, None)
    response = keyed.get(METRICS)
    assert response.status_code == 200
    assert "x-ratelimit-limit" not in response.headers
    with pytest.raises(ValueError, match="burst needs"):
        limited.set_rate_limit(None, 3)
    with pytest.raises(ValueError, match="burst"):
        limited.set_rate_limit(1, 0)


def test_no_limit_means_no_headers(client: httpx.Client, studio: FakeStudio) -> None:
    response = client.get(METRICS)
    assert "x-ratelimit-limit" not in response.headers
    assert "retry-after" not in response.headers
    assert (studio.rate_limit, studio.burst, studio.rate_limited_count) == (None, None, 0)


def test_revoked_credentials_are_401_not_429(limited: FakeStudio, keyed: httpx.Client) -> None:
    assert [keyed.get(METRICS).status_code for _ in range(3)] == [200, 200, 429]
    limited.revoke(Credential.api_key(KEY))
    assert keyed.get(METRICS).status_code == 401


# -- over real sockets and the real clock -------------------------------------------------------


def test_a_burst_beyond_the_limit_over_loopback(make_client: MakeClient) -> None:
    # A token every 100 s: the refill during the test cannot change the outcome.
    with FakeStudio(api_key=KEY, rate_limit=0.01, burst=3) as studio:
        client = make_client(studio, headers={"x-api-key": KEY})
        responses = [client.get(LIST, params={"limit": 5}) for _ in range(10)]
    assert [r.status_code for r in responses] == [200] * 3 + [429] * 7
    assert [r.headers["x-ratelimit-remaining"] for r in responses[:3]] == ["2", "1", "0"]
    for response in responses[3:]:
        assert response.headers["x-ratelimit-limit"] == "0.01"
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(response.headers["retry-after"]) <= 100
        reset = float(response.headers["x-ratelimit-reset"])
        assert 0 < reset <= 100
        assert int(response.headers["retry-after"]) >= reset
        assert response.json()["success"] is False
    assert studio.rate_limited_count == 7
    assert studio.request_count == 10
