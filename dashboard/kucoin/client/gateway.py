"""Order gateway: validate, place with a clientOid, resolve unknown outcomes by clientOid.

Nothing lost, nothing doubled (shared/ARCHITECTURE.md, "The order path"): every order gets a
``clientOid`` before the first attempt and keeps it across retries. When an attempt ends without
an answer (timeout, reset, 5xx) the outcome is unknown: the gateway asks KuCoin for the order by
that clientOid and only sends again once KuCoin has said, twice and a moment apart, that no such
order exists. A rate-limit answer means the request was not processed, so it is sent again after
the advertised wait. Rule breaks and risk limits are refused before anything is sent.
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

from dashboard.domain.errors import OrderRuleError
from dashboard.domain.models import Instrument, Order, OrderRequest, OrderType
from dashboard.domain.rules import validate_request
from dashboard.kucoin.common.errors import (
    KucoinAPIError,
    KucoinError,
    KucoinHTTPError,
    KucoinRateLimitError,
    KucoinServerError,
    KucoinTransportError,
)
from dashboard.kucoin.protocol.numbers import fmt

log = logging.getLogger(__name__)


class OrderRest(Protocol):
    """The part of KucoinRestClient the gateway needs."""

    async def place_order(self, wire: dict) -> dict: ...
    async def get_order_by_client_oid(self, symbol: str, client_oid: str) -> Order | None: ...
    async def cancel_order(self, symbol: str, order_id: str) -> dict: ...
    async def cancel_all(self, symbol: str | None = None) -> object: ...


@dataclass(slots=True)
class RiskLimits:
    """Per-gateway safety limits for a shared server."""

    max_orders_per_minute: int = 60
    max_notional: Decimal | None = None  # in the quote currency, per order
    kill_switch: bool = False  # when on: no new orders


@dataclass(frozen=True, slots=True)
class Submitted:
    order_id: str
    client_oid: str
    attempts: int
    resolved_by_query: bool  # the answer was lost; the order was found by clientOid


class OrderOutcomeUnknown(KucoinError):
    """After every attempt and query the order's fate is still unknown; reconcile by ``client_oid`` later."""

    def __init__(self, client_oid: str, reason: str) -> None:
        super().__init__(f"order {client_oid}: outcome unknown ({reason}); it will be reconciled by clientOid")
        self.client_oid = client_oid


def _client_oid_exists(exc: KucoinAPIError) -> bool:
    """KuCoin's answer to a clientOid already in use (400100 "The clientOid already exists."): the message
    is the only mark, so this one check reads ``msg``."""
    msg = exc.msg.lower()
    return "clientoid" in msg and "exist" in msg


def new_client_oid() -> str:
    return uuid.uuid4().hex  # 32 chars of [0-9a-f]: within KuCoin's 40-char [A-Za-z0-9_-]


def to_wire(req: OrderRequest, client_oid: str) -> dict:
    """The HF order body in KuCoin's spelling, numbers as strings."""
    wire: dict = {"clientOid": client_oid, "symbol": req.symbol, "side": req.side.value, "type": req.type.value}
    if req.type is OrderType.LIMIT:
        wire.update(price=fmt(req.price), size=fmt(req.size), timeInForce=req.time_in_force.value)
        if req.post_only:
            wire["postOnly"] = True
        if req.cancel_after_s is not None:
            wire["cancelAfter"] = req.cancel_after_s
    elif req.size is not None:
        wire["size"] = fmt(req.size)
    else:
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
    def __init__(self, rest: OrderRest, instruments: Mapping[str, Instrument], *, limits: RiskLimits | None = None,
                 max_attempts: int = 4, not_found_recheck_s: float = 0.25, query_attempts: int = 5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rest = rest
        self.instruments = instruments
        self.limits = limits or RiskLimits()
        self.max_attempts = max_attempts
        self.not_found_recheck_s = not_found_recheck_s
        self.query_attempts = query_attempts
        self._sleep = sleep
        self._clock = clock
        self._sent_at: deque[float] = deque()
        self.stats = GatewayStats()

    # ---- checks before sending
    def check(self, req: OrderRequest, reference_price: Decimal | None = None) -> None:
        """Symbol rules and risk limits; raises OrderRuleError naming the rule."""
        if self.limits.kill_switch:
            raise OrderRuleError("killSwitch", "order entry is blocked by the kill switch")
        inst = self.instruments.get(req.symbol)
        if inst is None:
            raise OrderRuleError("symbol", f"unknown symbol {req.symbol}")
        validate_request(req, inst, reference_price)
        cap = self.limits.max_notional
        if cap is not None:
            notional = self._notional(req, reference_price)
            if notional is not None and notional > cap:
                raise OrderRuleError("notionalCap", f"order value {fmt(notional)} {inst.quote} is above the "
                                     f"per-order cap of {fmt(cap)} {inst.quote}")
        now = self._clock()
        while self._sent_at and now - self._sent_at[0] > 60:
            self._sent_at.popleft()
        if len(self._sent_at) >= self.limits.max_orders_per_minute:
            raise OrderRuleError("orderRate", f"more than {self.limits.max_orders_per_minute} orders in a minute; "
                                 "wait a moment")

    @staticmethod
    def _notional(req: OrderRequest, reference_price: Decimal | None) -> Decimal | None:
        if req.funds is not None:
            return req.funds
        price = req.price if req.type is OrderType.LIMIT else reference_price
        return price * req.size if price is not None and req.size is not None else None

    # ---- placing
    async def submit(self, req: OrderRequest, reference_price: Decimal | None = None) -> Submitted:
        """Validate and place; returns once KuCoin has the order (or raises a definitive error)."""
        self.check(req, reference_price)
        client_oid = req.client_oid or new_client_oid()
        wire = to_wire(req, client_oid)
        self._sent_at.append(self._clock())
        self.stats.submitted += 1
        reason = ""
        try:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    data = await self.rest.place_order(wire)
                except KucoinRateLimitError as exc:  # not processed: the same request may go again
                    self.stats.rate_limited += 1
                    reason = f"rate limited ({exc.code})"
                    await self._sleep(exc.retry_after_s)
                    continue
                except (KucoinTransportError, KucoinServerError, KucoinHTTPError) as exc:
                    # no answer, a 5xx or a proxy page: the order may or may not be at KuCoin
                    reason = f"{type(exc).__name__}: {exc}"
                    log.warning("order %s attempt %d: outcome unknown (%s); asking KuCoin by clientOid",
                                client_oid, attempt, reason)
                    found = await self._resolve(req.symbol, client_oid)
                    if found is not None:
                        return self._adopted(found, client_oid, attempt)
                    self.stats.resent_after_not_found += 1
                    continue
                except KucoinAPIError as exc:
                    # Checked before the rejection branch: "The clientOid already exists." comes as 400100,
                    # a KucoinOrderRejected, when an earlier attempt landed after all. Adopt that order.
                    found = await self._resolve(req.symbol, client_oid) if _client_oid_exists(exc) else None
                    if found is not None:
                        return self._adopted(found, client_oid, attempt)
                    self.stats.rejected += 1
                    raise
                self.stats.accepted += 1
                return Submitted(str(data["orderId"]), client_oid, attempt, False)
            raise OrderOutcomeUnknown(client_oid, reason)
        except OrderOutcomeUnknown:  # from the loop or from a query that never got an answer
            self.stats.unknown += 1
            raise

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
            except (KucoinTransportError, KucoinServerError, KucoinRateLimitError, KucoinHTTPError) as exc:
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

    # ---- cancelling
    async def cancel(self, symbol: str, order_id: str) -> None:
        await self.rest.cancel_order(symbol, order_id)

    async def cancel_all(self, symbol: str | None = None) -> None:
        await self.rest.cancel_all(symbol)

    async def kill(self) -> None:
        """Kill switch: block new orders, then cancel everything open."""
        self.limits.kill_switch = True
        await self.rest.cancel_all(None)
