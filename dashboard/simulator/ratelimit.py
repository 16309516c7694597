"""KuCoin "rate limit 2.0": resource pools with fixed 30 s windows and per-endpoint weights (§3)."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.kucoin.protocol import common as kc

from .errors import SimError

POOL_PUBLIC = "public"
POOL_SPOT = "spot"
POOL_MANAGEMENT = "management"

DEFAULT_QUOTAS = {POOL_PUBLIC: 2000, POOL_SPOT: 4000, POOL_MANAGEMENT: 2000}


@dataclass(slots=True)
class _Window:
    start_ms: int
    used: int


class RateLimiter:
    """Fixed windows per (pool, identity); identity is the client IP for public, the user for
    others."""

    def __init__(self, quotas: dict[str, int] | None = None,
                 window_ms: int = kc.RATE_WINDOW_MS) -> None:
        self.quotas = dict(DEFAULT_QUOTAS if quotas is None else quotas)
        self.window_ms = window_ms
        self._windows: dict[tuple[str, str], _Window] = {}

    def charge(self, pool: str, identity: str, weight: int, now_ms: int) -> dict[str, str]:
        """Consume weight; return the quota headers, or raise 429000 carrying them."""
        limit = self.quotas[pool]
        win = self._windows.get((pool, identity))
        if win is None or now_ms - win.start_ms >= self.window_ms:
            if len(self._windows) > 10_000:  # keep memory flat with many clients
                self._windows = {k: w for k, w in self._windows.items()
                                 if now_ms - w.start_ms < self.window_ms}
            win = self._windows[(pool, identity)] = _Window(now_ms, 0)
        reset = max(0, self.window_ms - (now_ms - win.start_ms))
        if win.used + weight > limit:
            headers = _headers(limit, limit - win.used, reset)
            raise SimError(kc.ERR_TOO_MANY_REQUESTS, "Too Many Requests", 429, headers)
        win.used += weight
        return _headers(limit, limit - win.used, reset)


def _headers(limit: int, remaining: int, reset_ms: int) -> dict[str, str]:
    return {kc.HDR_RL_LIMIT: str(limit), kc.HDR_RL_REMAINING: str(remaining),
            kc.HDR_RL_RESET: str(reset_ms)}
