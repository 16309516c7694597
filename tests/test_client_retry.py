"""Retry policy (is_retryable, backoff) and the client-side rate limiter, with a fake clock and
sleep."""

from __future__ import annotations

import random

import pytest

from dashboard.kucoin.common.errors import (
    KucoinAPIError,
    KucoinAuthError,
    KucoinError,
    KucoinHTTPError,
    KucoinOrderRejected,
    KucoinProtocolError,
    KucoinRateLimitError,
    KucoinServerError,
    KucoinTimeoutError,
    KucoinTransportError,
)
from dashboard.kucoin.common.ratelimit import POOL_PUBLIC, POOL_SPOT, RateLimiter
from dashboard.kucoin.common.retry import backoff, is_retryable

RL_HEADERS = ("gw-ratelimit-limit", "gw-ratelimit-remaining", "gw-ratelimit-reset")


def quota(limit: int, remaining: int, reset_ms: int) -> dict[str, str]:
    return dict(zip(RL_HEADERS, (str(limit), str(remaining), str(reset_ms)), strict=True))


CASES = [
    # exc, retryable when idempotent, retryable when not idempotent
    (KucoinTransportError("reset"), True, False),
    (KucoinTimeoutError("slow"), True, False),
    (KucoinServerError("500000", "Internal Server Error", 500), True, False),
    (KucoinServerError("503000", "busy", 503), True, False),
    (KucoinRateLimitError("429000", "Too Many Requests", 429), True, True),
    (KucoinAuthError("400005", "Invalid KC-API-SIGN", 401), False, False),
    (KucoinAuthError("400002", "Invalid KC-API-TIMESTAMP", 401), False, False),
    (KucoinOrderRejected("400100", "Order size below the minimum requirement.", 400), False, False),
    (KucoinOrderRejected("200004", "Balance insufficient!", 400), False, False),
    (KucoinAPIError("404000", "Url Not Found", 404), False, False),
    (KucoinHTTPError(502, "<html>Bad gateway</html>"), True, False),
    (KucoinHTTPError(429, "error code: 1015"), True, False),
    (KucoinHTTPError(403, "<html>Forbidden</html>"), False, False),
    (KucoinProtocolError("no envelope"), False, False),
    (ValueError("not ours"), False, False),
]
IDS = ["transport", "timeout", "500000", "503000", "429000", "auth-sign", "auth-timestamp",
       "reject-size", "reject-balance", "404000", "http-502", "http-429", "http-403", "protocol",
       "foreign"]


@pytest.mark.parametrize(("exc", "idempotent_ok", "order_ok"), CASES, ids=IDS)
def test_is_retryable(exc: Exception, idempotent_ok: bool, order_ok: bool) -> None:
    """Transport/5xx retry only when idempotent; 429 always (not processed); auth and rejections
    never."""
    assert is_retryable(exc, idempotent=True) is idempotent_ok
    assert is_retryable(exc, idempotent=False) is order_ok


def test_timeout_is_a_transport_error_and_a_timeout() -> None:
    """Callers can catch a client timeout either as KucoinTransportError or as TimeoutError."""
    exc = KucoinTimeoutError("slow")
    assert isinstance(exc, KucoinTransportError) and isinstance(exc, TimeoutError)
    assert isinstance(exc, KucoinError)


def test_backoff_full_jitter_within_growing_ceiling() -> None:
    """Each delay lies in [0, min(cap, base * factor**n)]."""
    gen = backoff(base_s=0.5, cap_s=4.0, factor=2.0, rng=random.Random(7))
    delays = [next(gen) for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(0.0 <= d <= ceil for d, ceil in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not a fixed ladder


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    """The same seed gives the same delays (tests can pin them)."""
    a, b = backoff(rng=random.Random(3)), backoff(rng=random.Random(3))
    assert [next(a) for _ in range(5)] == [next(b) for _ in range(5)]


def test_backoff_reaches_the_cap() -> None:
    """Late delays use the whole [0, cap] range, never more."""
    gen = backoff(base_s=0.25, cap_s=10.0, rng=random.Random(1))
    late = [next(gen) for _ in range(200)][20:]
    assert max(late) <= 10.0 and max(late) > 5.0


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def limiter(fake: FakeTime) -> RateLimiter:
    return RateLimiter(fake.clock, fake.sleep)


async def test_limiter_unknown_quota_never_waits(limiter: RateLimiter, fake: FakeTime) -> None:
    """Without quota headers the limiter lets calls through (the headers are never required)."""
    for _ in range(50):
        assert await limiter.acquire(POOL_PUBLIC, 15) == 0
    assert fake.sleeps == []


async def test_limiter_waits_for_reset_when_remaining_below_weight(limiter: RateLimiter,
                                                                   fake: FakeTime) -> None:
    """remaining < weight -> wait exactly the reset countdown, then the full quota is back."""
    limiter.update(POOL_PUBLIC, quota(10, 1, 1500))
    assert await limiter.acquire(POOL_PUBLIC, 2) == pytest.approx(1.5)
    assert fake.sleeps == [pytest.approx(1.5)]
    assert limiter.state(POOL_PUBLIC).remaining == 8  # 10 after the reset, minus this call


async def test_limiter_enough_remaining_no_wait(limiter: RateLimiter, fake: FakeTime) -> None:
    """remaining >= weight -> no wait, and the weight is reserved locally for concurrent callers."""
    limiter.update(POOL_SPOT, quota(4000, 5, 20_000))
    assert await limiter.acquire(POOL_SPOT, 3) == 0
    assert limiter.state(POOL_SPOT).remaining == 2
    assert await limiter.acquire(POOL_SPOT, 3) == pytest.approx(20.0)


async def test_limiter_pools_are_independent(limiter: RateLimiter, fake: FakeTime) -> None:
    """An exhausted public pool does not slow the spot pool."""
    limiter.update(POOL_PUBLIC, quota(10, 0, 5000))
    assert await limiter.acquire(POOL_SPOT, 1) == 0
    assert fake.sleeps == []


@pytest.mark.parametrize(("headers", "expected_s"), [
    (quota(10, 0, 2500), 2.5),
    ({}, 0.25),
], ids=["with-reset-header", "overload-no-headers"])
async def test_limiter_429_blocks_the_pool(limiter: RateLimiter, fake: FakeTime, headers,
                                           expected_s) -> None:
    """After a 429 the next call waits for the reset (or a backoff) instead of hammering."""
    assert limiter.on_rate_limited(POOL_PUBLIC, headers) == pytest.approx(expected_s)
    assert await limiter.acquire(POOL_PUBLIC, 1) == pytest.approx(expected_s)


async def test_limiter_overload_429_backs_off_exponentially(limiter: RateLimiter) -> None:
    """Repeated header-less 429s double the block (capped); a success resets the count."""
    delays = [limiter.on_rate_limited(POOL_SPOT, {}) for _ in range(8)]
    assert delays[:4] == [0.25, 0.5, 1.0, 2.0] and delays[-1] == 10.0
    limiter.update(POOL_SPOT, {})
    assert limiter.on_rate_limited(POOL_SPOT, {}) == 0.25


async def test_limiter_ignores_malformed_headers(limiter: RateLimiter, fake: FakeTime) -> None:
    """Garbage quota headers are treated as absent."""
    limiter.update(POOL_PUBLIC, {"gw-ratelimit-remaining": "lots", "gw-ratelimit-reset": "soon"})
    assert await limiter.acquire(POOL_PUBLIC, 100) == 0
