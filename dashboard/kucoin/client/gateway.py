"""Order gateway: check, place with a clientOid, resolve unknown outcomes by clientOid.

Nothing lost, nothing doubled (docs/architecture.md, "The order path"): every order gets a
``clientOid`` before the first attempt and keeps it across retries. Whether a failed attempt may be
repeated is ``retry.is_retryable``'s answer, with ``idempotent=True`` because the clientOid makes a
resend safe once KuCoin has said the order does not exist: a rate-limit answer means the request
was not processed, so it goes again after the advertised wait; an attempt that ends without an
answer (timeout, reset, 5xx) has an unknown outcome, so the gateway first asks KuCoin for the
order by that clientOid and sends again only once KuCoin has said, twice and a moment apart, that
no such order exists. Everything else (a rejection, a refused key) is raised as is.

Rule breaks, risk limits, the balance and the kill switch are the ``domain.risk.OrderGuard``'s,
checked before anything is sent; ``preview`` asks the same guard. Raises the client's
``KucoinError``s and the domain's ``OrderRuleError``/``OrderOutcomeUnknown``; ``KucoinAccount``
turns the rest into domain errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from dashboard.domain.errors import OrderOutcomeUnknown
from dashboard.domain.models import Instrument, Order, OrderRequest, OrderType, Submitted
from dashboard.domain.risk import BalancesOf, OrderGuard, PriceOf, RiskLimits
from dashboard.kucoin.common.errors import KucoinAPIError, KucoinError, KucoinRateLimitError
from dashboard.kucoin.common.retry import is_retryable
from dashboard.kucoin.protocol.numbers import fmt

log = logging.getLogger(__name__)

__all__ = ["GatewayStats", "OrderGateway", "OrderOutcomeUnknown", "RiskLimits", "Submitted",
           "new_client_oid", "to_wire"]


class OrderRest(Protocol):
    """The part of KucoinRestClient the gateway needs."""

    async def place_order(self, wire: dict) -> dict: ...
    async def get_order_by_client_oid(self, symbol: str, client_oid: str) -> Order | None: ...
    async def cancel_order(self, symbol: str, order_id: str) -> dict: ...
    async def cancel_all(self, symbol: str | None = None) -> object: ...


def _client_oid_exists(exc: KucoinError) -> bool:
    """KuCoin's answer to a clientOid already in use (400100 "The clientOid already exists."): the
    message is the only mark, so this one check reads ``msg``."""
    if not isinstance(exc, KucoinAPIError):
        return False
    msg = exc.msg.lower()
    return "clientoid" in msg and "exist" in msg


def new_client_oid() -> str:
    return uuid.uuid4().hex  # 32 chars of [0-9a-f]: within KuCoin's 40-char [A-Za-z0-9_-]


def to_wire(req: OrderRequest, client_oid: str) -> dict:
    """The HF order body in KuCoin's spelling, numbers as strings (the one home of the body)."""
    wire: dict = {"clientOid": client_oid, "symbol": req.symbol, "side": req.side.value,
                  "type": req.type.value}
    if req.type is OrderType.LIMIT and req.price is not None and req.size is not None:
        wire.update(price=fmt(req.price), size=fmt(req.size), timeInForce=req.time_in_force.value)
        if req.post_only:
            wire["postOnly"] = True
        if req.cancel_after_s is not None:
            wire["cancelAfter"] = req.cancel_after_s
    elif req.size is not None:
        wire["size"] = fmt(req.size)
    elif req.funds is not None:
        wire["funds"] = fmt(req.funds)
    return wire


@dataclass(slots=True)
class GatewayStats:
    submitted: int = 0
    accepted: int = 0
    rejected: int = 0
    resolved_by_query: int = 0
    resent_after_not_found: int = 0
    unknown: int = 0
    rate_limited: int = 0
    recent: deque = field(default_factory=lambda: deque(maxlen=1000))


class OrderGateway:
    def __init__(self, rest: OrderRest, instruments: Mapping[str, Instrument], *,
                 limits: RiskLimits | None = None, prices: PriceOf | None = None,
                 balances: BalancesOf | None = None, max_attempts: int = 4,
                 not_found_recheck_s: float = 0.25, query_attempts: int = 5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rest = rest
        self.instruments = instruments
        self.guard = OrderGuard(instruments, limits, prices=prices, balances=balances, clock=clock)
        self.max_attempts = max_attempts
        self.not_found_recheck_s = not_found_recheck_s
        self.query_attempts = query_attempts
        self._sleep = sleep
        self.stats = GatewayStats()

    @property
    def limits(self) -> RiskLimits:
        return self.guard.limits

    # ---- checks before sending
    def check(self, req: OrderRequest, reference_price: Decimal | None = None) -> None:
        """Symbol rules, risk limits, balance, kill switch; OrderRuleError names the rule."""
        self.guard.check(req, reference_price)

    def preview(self, req: OrderRequest, reference_price: Decimal | None = None) -> dict:
        """The exact body ``submit`` would send, after the same checks (clientOid as given, or a
        placeholder: the real one is drawn when the order is sent)."""
        self.guard.check(req, reference_price)
        return to_wire(req, req.client_oid or "<clientOid>")

    # ---- placing
    async def submit(self, req: OrderRequest, reference_price: Decimal | None = None) -> Submitted:
        """Check and place; returns once KuCoin has the order (or raises a definitive error)."""
        self.guard.check(req, reference_price)
        client_oid = req.client_oid or new_client_oid()
        self.guard.record_sent()
        self.stats.submitted += 1
        try:
            return await self._place(req.symbol, to_wire(req, client_oid), client_oid)
        except OrderOutcomeUnknown:  # from the loop or from a query that never got an answer
            self.stats.unknown += 1
            raise

    async def _place(self, symbol: str, wire: dict, client_oid: str) -> Submitted:
        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                data = await self.rest.place_order(wire)
            except KucoinError as exc:
                found = await self._after_failure(exc, symbol, client_oid, attempt)
                if found is not None:
                    return self._adopted(found, client_oid, attempt)
                reason = (f"rate limited ({exc.code})" if isinstance(exc, KucoinRateLimitError)
                          else f"{type(exc).__name__}: {exc}")
                continue
            self.stats.accepted += 1
            return Submitted(str(data["orderId"]), client_oid, attempt, False)
        raise OrderOutcomeUnknown(client_oid, reason)

    async def _after_failure(self, exc: KucoinError, symbol: str, client_oid: str,
                             attempt: int) -> Order | None:
        """The order, when an earlier attempt landed after all; None when the next attempt is safe
        (a rate limit waited out, or KuCoin has said twice it has no such order); raises ``exc``
        when no attempt can help (``is_retryable``)."""
        if _client_oid_exists(exc):  # 400100 "The clientOid already exists.": adopt that order
            found = await self._resolve(symbol, client_oid)
            if found is not None:
                return found
        if not is_retryable(exc, idempotent=True):
            self.stats.rejected += 1
            raise exc
        if isinstance(exc, KucoinRateLimitError):  # not processed: the same request may go again
            self.stats.rate_limited += 1
            await self._sleep(exc.retry_after_s)
            return None
        log.warning("order %s attempt %d: outcome unknown (%s: %s); asking KuCoin by clientOid",
                    client_oid, attempt, type(exc).__name__, exc)
        found = await self._resolve(symbol, client_oid)
        if found is None:
            self.stats.resent_after_not_found += 1
        return found

    def _adopted(self, found: Order, client_oid: str, attempt: int) -> Submitted:
        self.stats.accepted += 1
        self.stats.resolved_by_query += 1
        return Submitted(found.order_id, client_oid, attempt, True)

    async def _resolve(self, symbol: str, client_oid: str) -> Order | None:
        """The order KuCoin has under this clientOid, or None once it has said 'not found' twice."""
        not_found = 0
        for attempt in range(self.query_attempts):
            try:
                order = await self.rest.get_order_by_client_oid(symbol, client_oid)
            except KucoinError as exc:
                if not is_retryable(exc, idempotent=True):  # a query is idempotent
                    raise
                log.info("query for %s failed (%s); retrying", client_oid, exc)
                await self._sleep(min(2.0, 0.1 * 2 ** attempt))
                continue
            if order is not None:
                return order
            not_found += 1
            if not_found >= 2:
                return None
            await self._sleep(self.not_found_recheck_s)  # an in-flight request may still land
        raise OrderOutcomeUnknown(client_oid, "could not query the order by clientOid")

    # ---- cancelling and the kill switch
    async def cancel(self, symbol: str, order_id: str) -> None:
        await self.rest.cancel_order(symbol, order_id)

    async def cancel_all(self, symbol: str | None = None) -> None:
        await self.rest.cancel_all(symbol)

    async def engage_kill_switch(self) -> None:
        """Block new orders, then cancel everything open."""
        self.guard.engage_kill_switch()
        await self.rest.cancel_all(None)

    def reset_kill_switch(self) -> None:
        """Allow order entry again."""
        self.guard.reset_kill_switch()
