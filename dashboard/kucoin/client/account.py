"""``KucoinAccount``: balances, open orders and fills from the private channels, reconciled by
REST, plus order entry through the ``OrderGateway``. Implements
``domain.interfaces.OrderGatewayPort`` and speaks only domain errors there: every ``KucoinError``
of a port method is raised again as ``OrderRejected``, ``CredentialsRefused`` or
``ExchangeUnavailable``, ``from`` the original (``in_domain_terms``).

State comes from ``/spotMarket/tradeOrdersV2`` and ``/account/balance`` (§7.8, §7.9). On every
(re)connect the private pushes that may have been missed are made good by a REST reconciliation
(balances, open orders, recent fills), so a disconnect never leaves a stale order on screen. A
match push triggers a (debounced) fills refresh, because pushes carry no fee.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal

import aiohttp
import orjson

from dashboard.aio import cancel_and_wait
from dashboard.domain.errors import (
    CredentialsRefused,
    DomainError,
    ExchangeUnavailable,
    OrderRejected,
)
from dashboard.domain.models import (
    Balance,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Submitted,
)
from dashboard.domain.risk import PriceOf, RiskLimits
from dashboard.kucoin.common.errors import (
    KucoinAPIError,
    KucoinAuthError,
    KucoinError,
    KucoinProtocolError,
    KucoinRateLimitError,
    KucoinServerError,
    KucoinTimeoutError,
)
from dashboard.kucoin.common.ws import KucoinWebSocket
from dashboard.kucoin.protocol import spot as c

from . import parse
from .gateway import OrderGateway
from .rest import KucoinRestClient

log = logging.getLogger(__name__)

_DONE = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


@contextmanager
def in_domain_terms(action: str) -> Iterator[None]:
    """KuCoin's errors raised again as the domain's (``from`` them): the port speaks no venue."""
    try:
        yield
    except DomainError:
        raise
    except KucoinAuthError as exc:
        raise CredentialsRefused(exc.explanation) from exc
    except KucoinRateLimitError as exc:
        raise ExchangeUnavailable(f"{action}: rate limited by KuCoin ({exc.code}); try again in "
                                  f"{exc.retry_after_s:.0f} s") from exc
    except KucoinServerError as exc:
        raise ExchangeUnavailable(f"{action}: KuCoin failed ({exc.code}: {exc.msg})") from exc
    except KucoinAPIError as exc:
        raise OrderRejected(exc.code, exc.msg) from exc
    except KucoinTimeoutError as exc:
        raise ExchangeUnavailable(f"{action}: KuCoin did not answer in time") from exc
    except KucoinError as exc:
        raise ExchangeUnavailable(f"{action}: {exc}") from exc


class KucoinAccount:
    """Private state for one API key. Constructing it does no I/O."""

    def __init__(self, rest: KucoinRestClient, session: aiohttp.ClientSession,
                 instruments: Mapping[str, Instrument], *, symbols: Sequence[str],
                 limits: RiskLimits | None = None, prices: PriceOf | None = None,
                 fills_kept: int = 500) -> None:
        if not rest.has_credentials:
            raise KucoinError("the account view needs an API key "
                              "(KUCOIN_API_KEY/SECRET/PASSPHRASE)")
        self.rest = rest
        self._symbols = list(symbols)
        # ``prices`` values orders for the notional cap; the balances here feed the balance check.
        self.gateway = OrderGateway(rest, instruments, limits=limits, prices=prices,
                                    balances=lambda: self._balances)
        self._orders: dict[str, Order] = {}
        self._balances: dict[str, Balance] = {}
        self._fills: deque[Fill] = deque(maxlen=fills_kept)
        self._fill_ids: set[str] = set()
        self.bad_frames = 0
        self.reconciliations = 0
        self.last_error = ""
        self._tasks: set[asyncio.Task] = set()
        self._fills_dirty = asyncio.Event()
        self.ws = KucoinWebSocket(session, rest.post_bullet, private=True,
                                  private_topics=c.PRIVATE_TOPICS, on_frame=self.on_frame,
                                  on_connected=self._on_connected, name="kucoin-private")

    # ---- lifecycle
    async def start(self) -> None:
        await self.reconcile()
        with in_domain_terms("account start"):
            await self.ws.subscribe(c.TOPIC_ORDERS_V2)
            await self.ws.subscribe(c.TOPIC_BALANCE)
        self.ws.start()
        self._spawn(self._fills_refresher(), "account-fills")

    async def close(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        await cancel_and_wait(tasks)
        await self.ws.close()

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_connected(self) -> None:
        if self.ws.stats.connects > 1:  # pushes may have been missed while we were away
            self._spawn(self.reconcile(), "account-reconcile")

    @property
    def symbols(self) -> list[str]:
        """The asked-for symbols the exchange knows (``instruments`` is the feed's live mapping):
        one unknown symbol in the settings must not make every reconciliation fail with 400100.
        Before the instruments are known, all of them."""
        known = self.gateway.instruments
        return [s for s in self._symbols if s in known] if len(known) else list(self._symbols)

    async def reconcile(self) -> None:
        """Replace local state with what REST says now."""
        try:
            balances = await self.rest.get_accounts()
            orders: dict[str, Order] = {}
            for symbol in self.symbols:
                for order in await self.rest.get_open_orders(symbol):
                    orders[order.order_id] = order
            fills = [f for symbol in self.symbols
                     for f in await self.rest.get_fills(symbol, limit=50)]
        except KucoinError as exc:
            self.last_error = f"reconciliation failed: {exc}"
            log.warning("account: %s", self.last_error)
            return
        self._balances = {b.currency: b for b in balances}
        self._orders = orders
        for fill in sorted(fills, key=lambda f: f.ts_ms):
            self._add_fill(fill)
        self.reconciliations += 1

    # ---- pushes
    def on_frame(self, text: str) -> None:
        try:
            frame = orjson.loads(text)
            topic, data = frame.get("topic"), frame["data"]
            if topic == c.TOPIC_ORDERS_V2:
                self._on_order_event(parse.parse_order_change(data))
            elif topic == c.TOPIC_BALANCE:
                event = parse.parse_balance_push(data)
                if event.is_spot:
                    self._balances[event.balance.currency] = event.balance
        except (KucoinProtocolError, orjson.JSONDecodeError, KeyError, TypeError,
                AttributeError) as exc:
            self.bad_frames += 1
            log.warning("account: bad private frame counted and skipped (%s)", exc)

    def _on_order_event(self, ev: parse.OrderEvent) -> None:
        known = self._orders.get(ev.order_id)
        if ev.status in _DONE:
            self._orders.pop(ev.order_id, None)
            if ev.type != "received":
                self._fills_dirty.set()
            return
        if known is None:
            known = Order(order_id=ev.order_id, client_oid=ev.client_oid, symbol=ev.symbol,
                          side=ev.side, type=OrderType.LIMIT, price=Decimal(0),
                          size=ev.filled_size + (ev.remain_size or 0), funds=None,
                          filled_size=ev.filled_size, filled_funds=Decimal(0), fee=Decimal(0),
                          status=ev.status, created_ms=ev.order_time_ms or ev.ts_ns // 1_000_000,
                          updated_ms=ev.ts_ns // 1_000_000)
            self._spawn(self._refresh_order(ev.symbol, ev.order_id), "account-order")
        else:
            known = dataclasses.replace(known, filled_size=ev.filled_size, status=ev.status,
                                        updated_ms=ev.ts_ns // 1_000_000)
        self._orders[ev.order_id] = known
        if ev.type == "match":
            self._fills_dirty.set()

    async def _refresh_order(self, symbol: str, order_id: str) -> None:
        """A push carries no price/type: take the full order object once."""
        try:
            order = await self.rest.get_order(symbol, order_id)
        except KucoinError as exc:
            log.info("account: order refresh failed: %s", exc)
            return
        if order is None:
            return
        if order.status in _DONE:
            self._orders.pop(order.order_id, None)
        else:
            self._orders[order.order_id] = order

    async def _fills_refresher(self) -> None:
        while True:
            await self._fills_dirty.wait()
            await asyncio.sleep(0.2)  # coalesce a burst of matches into one query per symbol
            self._fills_dirty.clear()
            for symbol in self.symbols:
                try:
                    for fill in reversed(await self.rest.get_fills(symbol, limit=50)):
                        self._add_fill(fill)
                except KucoinError as exc:
                    log.info("account: fills refresh failed: %s", exc)

    def _add_fill(self, fill: Fill) -> None:
        if fill.fill_id not in self._fill_ids:
            if len(self._fills) == self._fills.maxlen:
                self._fill_ids.discard(self._fills[0].fill_id)
            self._fills.append(fill)
            self._fill_ids.add(fill.fill_id)

    # ---- OrderGatewayPort
    def kill_switch_engaged(self) -> bool:
        """True once the kill switch blocked order entry (shared by every session)."""
        return self.gateway.guard.kill_switch_engaged

    async def submit(self, req: OrderRequest, reference_price: Decimal | None = None) -> Submitted:
        with in_domain_terms(f"{req.side.value} {req.symbol}"):
            submitted = await self.gateway.submit(req, reference_price)
        # Show it at once, whatever the private channel is doing (it may still be connecting).
        self._spawn(self._refresh_order(req.symbol, submitted.order_id), "account-order")
        return submitted

    def preview(self, req: OrderRequest, reference_price: Decimal | None = None) -> dict:
        """The exact HF order body ``submit`` would send, after the same checks."""
        return self.gateway.preview(req, reference_price)

    async def cancel(self, symbol: str, order_id: str) -> None:
        with in_domain_terms(f"cancel {order_id}"):
            await self.gateway.cancel(symbol, order_id)

    async def cancel_all(self, symbol: str | None = None) -> None:
        with in_domain_terms("cancel all"):
            await self.gateway.cancel_all(symbol)

    async def engage_kill_switch(self) -> None:
        with in_domain_terms("kill switch: cancel all"):
            await self.gateway.engage_kill_switch()

    async def reset_kill_switch(self) -> None:
        self.gateway.reset_kill_switch()

    def open_orders(self) -> Sequence[Order]:
        return sorted(self._orders.values(), key=lambda o: o.created_ms, reverse=True)

    def balances(self) -> Sequence[Balance]:
        return sorted(self._balances.values(), key=lambda b: b.currency)

    def fills(self) -> Sequence[Fill]:
        return list(reversed(self._fills))
