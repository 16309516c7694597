"""In-memory MarketFeed and OrderGatewayPort for UI tests and notebooks (no network, deterministic).

``FakeMarketFeed.step()`` moves a random-walk book and prints trades; ``FakeAccount`` keeps orders
in memory and refuses what the symbol rules refuse. Pure domain code: the UI runs on it unchanged.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal

from .book import OrderBook
from .errors import OrderRuleError
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
    Ticker,
    Trade,
)
from .rules import validate_request

D = Decimal


def fake_instrument(symbol: str = "BTC-USDT", tick: str = "0.1", lot: str = "0.00000001") -> Instrument:
    base, quote = symbol.split("-")
    return Instrument(symbol, base, quote, D(tick), D(lot), D("0.000001"), D("0.00001"), D("10000000000"),
                      D("0.1"), D("99999999"), D("0.1"))


class FakeMarketFeed:
    """A deterministic market: call ``step()`` (or let the UI's hub tick) to move it."""

    def __init__(self, symbols: Sequence[str] = ("BTC-USDT",), *, seed: int = 1, mid: float = 50_000.0,
                 levels: int = 60) -> None:
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
                self._trades[symbol].append(Trade(symbol, str(self._trade_id), price,
                                                  D(f"{self._rng.uniform(0.001, 1.5):.4f}"), side, time.time_ns()))

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
        return Ticker(symbol, bb[0] if bb else None, bb[1] if bb else None, ba[0] if ba else None,
                      ba[1] if ba else None, last.price if last else None, last.size if last else None,
                      int(time.time() * 1000))

    def candles(self, symbol: str, interval: str) -> Sequence[Candle]:
        return list(self._candles.get((symbol, interval), ()))

    async def load_candles(self, symbol: str, interval: str) -> None:
        now = int(time.time()) // 60 * 60
        rows, price = [], self._mid[symbol]
        for i in range(120, 0, -1):
            o = price
            price += self._rng.uniform(-20, 20)
            rows.append(Candle(symbol, interval, now - i * 60, D(f"{o:.1f}"), D(f"{max(o, price) + 5:.1f}"),
                               D(f"{min(o, price) - 5:.1f}"), D(f"{price:.1f}"), D("1.5"), D("75000")))
        self._candles[(symbol, interval)] = rows

    def status(self) -> FeedStatus:
        return FeedStatus(state=self.state, messages=self._trade_id, msgs_per_s=10.0, last_msg_age_s=0.1,
                          per_symbol={s: self.state.value for s in self.symbols})


class FakeAccount:
    """Orders kept in memory; the symbol rules apply as they would on the exchange."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments = instruments
        self._orders: dict[str, Order] = {}
        self._balances = {"USDT": Balance("USDT", D("100000"), D(0)), "BTC": Balance("BTC", D("2"), D(0))}
        self._fills: list[Fill] = []
        self.submitted: list[OrderRequest] = []
        self.kill_switch = False
        self._n = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def preview(self, req: OrderRequest) -> dict[str, object]:
        """What a fake "sends": the request's fields in the exchange's usual spelling (a fake has no wire)."""
        def text(value: Decimal | None) -> str:
            return "-" if value is None else (format(value.normalize(), "f") if value else "0")

        body: dict[str, object] = {"clientOid": req.client_oid} if req.client_oid else {}
        body.update(symbol=req.symbol, side=req.side.value, type=req.type.value)
        if req.type is OrderType.LIMIT:
            body.update(price=text(req.price), size=text(req.size), timeInForce=req.time_in_force.value,
                        postOnly=req.post_only)
            if req.cancel_after_s is not None:
                body["cancelAfter"] = req.cancel_after_s
        elif req.size is not None:
            body["size"] = text(req.size)
        else:
            body["funds"] = text(req.funds)
        return body

    async def submit(self, req: OrderRequest, reference_price: Decimal | None = None) -> Order:
        if self.kill_switch:
            raise OrderRuleError("killSwitch", "order entry is blocked by the kill switch")
        validate_request(req, self.instruments[req.symbol], reference_price)
        self.submitted.append(req)
        self._n += 1
        now = int(time.time() * 1000)
        order = Order(f"fake{self._n:020d}", req.client_oid or f"c{self._n}", req.symbol, req.side, req.type,
                      req.price or D(0), req.size or D(0), req.funds, D(0), D(0), D(0), OrderStatus.OPEN, now, now)
        if req.type is OrderType.LIMIT:
            self._orders[order.order_id] = order
        return order

    async def cancel(self, symbol: str, order_id: str) -> None:
        self._orders.pop(order_id, None)

    async def cancel_all(self, symbol: str | None = None) -> None:
        for oid in [o.order_id for o in self._orders.values() if symbol in (None, o.symbol)]:
            del self._orders[oid]

    async def kill(self) -> None:
        self.kill_switch = True
        await self.cancel_all()

    def open_orders(self) -> Sequence[Order]:
        return list(self._orders.values())

    def balances(self) -> Sequence[Balance]:
        return list(self._balances.values())

    def fills(self) -> Sequence[Fill]:
        return list(self._fills)
