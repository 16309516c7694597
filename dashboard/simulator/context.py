"""What a REST handler of the simulator may use: the ``SimServices`` protocol and the per-request
``Ctx`` (query, path and body readers with KuCoin's parameter errors).

``server.Simulator`` satisfies ``SimServices`` structurally; handlers never see the whole
simulator, so this module and the handler modules import neither ``server`` nor ``rest``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol, overload

from aiohttp import web

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol.schemas import BulletData

from .auth import KeyStore
from .engine import Exchange
from .errors import SimError
from .faults import Faults
from .marketdata import MarketData
from .ratelimit import RateLimiter


class SimServices(Protocol):
    """Exactly what the REST layer (``rest.wrap`` and the handlers) reads from the simulator."""

    exchange: Exchange
    market: MarketData
    faults: Faults
    keys: KeyStore
    limiter: RateLimiter
    exchange_fee: Decimal
    status: str

    def now_ms(self) -> int:
        """The exchange clock in ms (wall time plus any test skew)."""
        ...

    def bullet(self, request: web.Request, user_id: str | None) -> BulletData:
        """A WebSocket token for ``user_id`` (None: public) and the endpoint to use it on."""
        ...


@dataclass(slots=True)
class Ctx:
    """One REST request as a handler sees it."""

    sim: SimServices
    request: web.Request
    body: dict[str, Any]
    user_id: str | None

    def q(self, name: str, default: str | None = None) -> str | None:
        return self.request.query.get(name, default)

    def match(self, name: str) -> str:
        return self.request.match_info[name]

    @property
    def user(self) -> str:
        """The user of a private route (``rest.wrap`` has verified its key)."""
        assert self.user_id is not None, "a private handler on a public route"
        return self.user_id

    @overload
    def symbol(self, required: Literal[True] = True) -> str: ...

    @overload
    def symbol(self, required: Literal[False]) -> str | None: ...

    def symbol(self, required: bool = True) -> str | None:
        """The ``symbol`` of the query or body; unknown -> 400100, missing -> 400100 if required."""
        symbol = self.q("symbol") or self.body.get("symbol")
        if symbol is None:
            if required:
                raise SimError(kc.ERR_PARAMETER, "symbol is required")
            return None
        if symbol not in self.sim.exchange.rules:
            raise SimError(kc.ERR_PARAMETER, "Unsupported trading pair.")
        return symbol

    def int_q(self, name: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SimError(kc.ERR_PARAMETER, f"{name} must be an integer") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise SimError(kc.ERR_PARAMETER, f"{name} should be between {lo} and {hi}")
        return value


Handler = Callable[[Ctx], Awaitable[Any]]
