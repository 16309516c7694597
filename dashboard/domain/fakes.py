"""In-memory MarketFeed and OrderGatewayPort for UI tests and notebooks (no network, deterministic).

``FakeMarketFeed.step()`` moves a random-walk book and prints trades; ``FakeAccount`` keeps orders
in memory and refuses what the real gateway refuses (the same ``risk.OrderGuard``). Pure domain
code: the UI runs on it unchanged.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from .book import OrderBook
from .models import (
    Balance,
    BookSnapshot,
    Candle,
    FeedState,
    FeedStatus,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Submitted,
    Ticker,
    Trade,
)
from .numbers import plain
from .risk import OrderGuard, PriceOf, RiskLimits

D = Decimal


def fake_instrument(symbol: str = "BTC-USDT", tick: str = "0.1",
                    lot: str = "0.00000001") -> Instrument:
    base, quote = symbol.split("-")
    return Instrument(symbol, base, quote, D(tick), D(lot), D("0.000001"), D("0.00001"),
                      D("10000000000"), D("0.1"), D("99999999"), D("0.1"))


class FakeMarketFeed:
    """A deterministic market: call ``step()`` (or let the UI's hub tick) to move it."""

    def __init__(self, symbols: Sequence[str] = ("BTC-USDT",), *, seed: int = 1,
                 mid: float = 50_000.0, levels: int = 60) -> None:
        self.symbols = list(symbols)
        self._rng = random.Random(seed)
        self._instruments = {s: fake_instrument(s) for s in self.symbols}
        self._books = {s: OrderBook(s, 1) for s in self.symbols}
        self._mid = {s: mid for s in self.symbols}
        self._trades: dict[str, deque[Trade]] = {s: deque(maxlen=500) for s in self.symbols}
        self._candles: dict[tuple[str, str], list[Candle]] = {}
        self._seq = 1000
        self._trade_id = 0
        self.state = FeedState.LIVE
        self.levels = levels
        for s in self.symbols:
            self._rebuild(s)

    def _rebuild(self, symbol: str) -> None:
        book, mid = self._books[symbol], self._mid[symbol]
        book.clear()
        for i in range(1, self.levels + 1):
            size = f"{self._rng.uniform(0.01, 2):.4f}"
            book.set_bid(f"{mid - i * 0.5 - 0.05:.1f}", size)
            book.set_ask(f"{mid + i * 0.5 + 0.05:.1f}", f"{self._rng.uniform(0.01, 2):.4f}")
        self._seq += 1
        book.sequence = self._seq

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            for symbol in self.symbols:
                self._mid[symbol] += self._rng.choice((-0.5, 0, 0.5))
                self._rebuild(symbol)
                self._trade_id += 1
                side = self._rng.choice((Side.BUY, Side.SELL))
                price = D(f"{self._mid[symbol]:.1f}")
                size = D(f"{self._rng.uniform(0.001, 1.5):.4f}")
                self._trades[symbol].append(Trade(symbol, str(self._trade_id), price, size, side,
                                                  time.time_ns()))

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    def book(self, symbol: str, depth: int | None = None) -> BookSnapshot | None:
        if self.state is not FeedState.LIVE:
            return None
        return self._books[symbol].snapshot(depth, int(time.time() * 1000))

    def trades(self, symbol: str, limit: int = 100) -> Sequence[Trade]:
        return list(self._trades[symbol])[-limit:]

    def ticker(self, symbol: str) -> Ticker | None:
        bb, ba = self._books[symbol].best_bid(), self._books[symbol].best_ask()
        last = self._trades[symbol][-1] if self._trades[symbol] else None
        return Ticker(symbol, bb[0] if bb else None, bb[1] if bb else None,
                      ba[0] if ba else None, ba[1] if ba else None,
                      last.price if last else None, last.size if last else None,
                      int(time.time() * 1000))

    def candles(self, symbol: str, interval: str) -> Sequence[Candle]:
        return list(self._candles.get((symbol, interval), ()))

    async def load_candles(self, symbol: str, interval: str) -> None:
        now = int(time.time()) // 60 * 60
        rows, price = [], self._mid[symbol]
        for i in range(120, 0, -1):
            o = price
            price += self._rng.uniform(-20, 20)
            rows.append(Candle(symbol, interval, now - i * 60, D(f"{o:.1f}"),
                               D(f"{max(o, price) + 5:.1f}"), D(f"{min(o, price) - 5:.1f}"),
                               D(f"{price:.1f}"), D("1.5"), D("75000")))
        self._candles[(symbol, interval)] = rows

    def status(self) -> FeedStatus:
        per_symbol = {s: self.state.value for s in self.symbols}
        return FeedStatus(state=self.state, messages=self._trade_id, msgs_per_s=10.0,
                          last_msg_age_s=0.1, per_symbol=per_symbol)


BodyOf = Callable[[OrderRequest, str], Mapping[str, object]]


def request_fields(req: OrderRequest, client_oid: str) -> dict[str, object]:
    """A fake has no wire: its preview is the request's own fields (inject a venue's body builder,
    e.g. ``kucoin.client.gateway.to_wire``, to preview that venue's exact body)."""
    fields: dict[str, object] = {"client_oid": client_oid, "symbol": req.symbol,
                                 "side": req.side.value, "type": req.type.value}
    for name in ("price", "size", "funds"):
        value = getattr(req, name)
        if value is not None:
            fields[name] = plain(value)
    return fields


class FakeAccount:
    """Orders kept in memory; the real gateway's ``OrderGuard`` decides what is refused."""

    def __init__(self, instruments: Mapping[str, Instrument], *, limits: RiskLimits | None = None,
                 balances: Mapping[str, Decimal] | None = None, body: BodyOf = request_fields,
                 prices: PriceOf | None = None) -> None:
        self.instruments = instruments
        self._orders: dict[str, Order] = {}
        funded = balances if balances is not None else {"USDT": D("100000"), "BTC": D("2")}
        self._balances = {c: Balance(c, amount, D(0)) for c, amount in funded.items()}
        self._fills: list[Fill] = []
        self.submitted: list[OrderRequest] = []
        self._body = body
        self.guard = OrderGuard(instruments, limits or RiskLimits(max_orders_per_minute=10_000),
                                prices=prices, balances=lambda: self._balances)
        self._n = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def preview(self, req: OrderRequest, reference_price: Decimal | None = None
                ) -> Mapping[str, object]:
        self.guard.check(req, reference_price)
        return self._body(req, req.client_oid or "<clientOid>")

    async def submit(self, req: OrderRequest, reference_price: Decimal | None = None) -> Submitted:
        self.guard.check(req, reference_price)
        self.guard.record_sent()
        self.submitted.append(req)
        self._n += 1
        now = int(time.time() * 1000)
        order = Order(f"fake{self._n:020d}", req.client_oid or f"c{self._n}", req.symbol, req.side,
                      req.type, req.price or D(0), req.size or D(0), req.funds, D(0), D(0), D(0),
                      OrderStatus.OPEN, now, now)
        if req.type is OrderType.LIMIT:
            self._orders[order.order_id] = order
        return Submitted(order.order_id, order.client_oid)

    async def cancel(self, symbol: str, order_id: str) -> None:
        self._orders.pop(order_id, None)

    async def cancel_all(self, symbol: str | None = None) -> None:
        for oid in [o.order_id for o in self._orders.values() if symbol in (None, o.symbol)]:
            del self._orders[oid]

    def kill_switch_engaged(self) -> bool:
        return self.guard.kill_switch_engaged

    async def engage_kill_switch(self) -> None:
        self.guard.engage_kill_switch()
        await self.cancel_all()

    async def reset_kill_switch(self) -> None:
        self.guard.reset_kill_switch()

    def open_orders(self) -> Sequence[Order]:
        return list(self._orders.values())

    def balances(self) -> Sequence[Balance]:
        return list(self._balances.values())

    def fills(self) -> Sequence[Fill]:
        return list(self._fills)
