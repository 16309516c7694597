"""Client-side pacing for KuCoin's "rate limit 2.0" pools (shared/kucoin/protocol.md §3).

Each pool (public per IP; spot and management per UID) has a quota per fixed 30 s window and
each endpoint a weight (§3.3). KuCoin reports the state in ``gw-ratelimit-limit/remaining/reset``
(reset is a countdown in ms, not an epoch); those headers are used when present and never
required. Before a call, when the remaining quota is below the call's weight, ``acquire`` waits
for the countdown to end; after a 429000 the pool is blocked for the reset time, or for a growing
delay when the headers are absent (server overload, §3.1), instead of hammering. ``clock`` and
``sleep`` are injected so tests need no real waiting. No aiohttp here; headers are any mapping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from dashboard.kucoin.protocol import common as kc

POOL_PUBLIC = "public"
POOL_SPOT = "spot"
POOL_MANAGEMENT = "management"
POOLS = (POOL_PUBLIC, POOL_SPOT, POOL_MANAGEMENT)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


@dataclass(slots=True)
class PoolState:
    """What the last response said about one pool, in ``clock`` seconds."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # when the current window ends; None = unknown
    blocked_until: float = 0.0  # set by a 429
    strikes: int = 0  # consecutive 429s without quota headers


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class RateLimiter:
    """Per-pool quota tracking shared by every call of one client."""

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep, *,
                 overload_base_s: float = 0.25, overload_cap_s: float = 10.0) -> None:
        self._clock = clock
        self._sleep = sleep
        self._overload_base_s = overload_base_s
        self._overload_cap_s = overload_cap_s
        self.pools: dict[str, PoolState] = {}
        self.waited_s = 0.0  # total time spent waiting, for tests and the status line

    def state(self, pool: str) -> PoolState:
        return self.pools.setdefault(pool, PoolState())

    def _wait_needed(self, st: PoolState, weight: int, now: float) -> float:
        if st.blocked_until > now:
            return st.blocked_until - now
        if st.reset_at is not None and st.reset_at <= now:
            # The window ended: the whole quota is back; the next response tells the new countdown.
            st.remaining, st.reset_at = st.limit, None
        if st.remaining is not None and st.remaining < weight and st.reset_at is not None:
            return st.reset_at - now
        return 0.0

    async def acquire(self, pool: str, weight: int) -> float:
        """Wait until ``weight`` fits in the pool's known quota, then reserve it; returns seconds
        waited."""
        st = self.state(pool)
        waited = 0.0
        while (delay := self._wait_needed(st, weight, self._clock())) > 0:
            await self._sleep(delay)
            waited += delay
        if st.remaining is not None:
            st.remaining -= weight  # reserve now so concurrent callers see the same budget
        self.waited_s += waited
        return waited

    def update(self, pool: str, headers: Mapping[str, str]) -> None:
        """Take the quota headers of a successful (non-429) response into account."""
        st = self.state(pool)
        st.strikes = 0
        limit = _header_int(headers, kc.HDR_RL_LIMIT)
        remaining = _header_int(headers, kc.HDR_RL_REMAINING)
        reset_ms = _header_int(headers, kc.HDR_RL_RESET)
        if limit is not None:
            st.limit = limit
        if remaining is not None and reset_ms is not None:
            st.remaining = remaining
            st.reset_at = self._clock() + reset_ms / 1000

    def on_rate_limited(self, pool: str, headers: Mapping[str, str]) -> float:
        """A 429000 arrived: block the pool and return how long (the error's ``retry_after_s``)."""
        st = self.state(pool)
        reset_ms = _header_int(headers, kc.HDR_RL_RESET)
        if reset_ms is not None:
            delay = reset_ms / 1000
            st.remaining = 0
            limit = _header_int(headers, kc.HDR_RL_LIMIT)
            st.limit = limit if limit is not None else st.limit
            st.reset_at = self._clock() + delay
        else:  # overload 429 without quota headers (§3.1): back off, doubling per strike
            delay = min(self._overload_cap_s, self._overload_base_s * 2 ** st.strikes)
            st.strikes += 1
        st.blocked_until = max(st.blocked_until, self._clock() + delay)
        return delay
