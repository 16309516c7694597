"""Synthetic market: unlimited agent users that quote, cancel and take on every symbol of an
Exchange.

Seeded and deterministic (``random.Random(seed)``, no wall clock inside ``step``), so tests can
replay it. Each symbol has a fair price that random-walks in ticks and slowly reverts to the
catalog's reference price; agents quote around it and the engine's matching keeps the book
uncrossed. The number of agent orders per side is bounded (far orders are cancelled first), so
memory stays flat for hours.
Imports the engine only; never ``dashboard.kucoin.client``.
"""

from __future__ import annotations

import asyncio
import math
import random
from decimal import Decimal

from dashboard.simulator.catalog import SymbolRules
from dashboard.simulator.engine import EngineError, Exchange, Order

MAKER = "sim-market-maker"
TAKER = "sim-taker"
TAKE_PROB = 0.12  # share of actions that are marketable (the trades on the tape)
MIN_NOTIONAL_USD, MAX_NOTIONAL_USD = 50.0, 50_000.0
MAX_TAKE_USD = 25_000.0


class _SymbolFlow:
    """Per-symbol agent state: fair price in ticks, and the agent orders resting on each side."""

    __slots__ = ("asks", "base_units_min", "bids", "fair", "gap", "quote_usd", "ref", "rules",
                 "sigma", "tick", "unit")

    def __init__(self, rules: SymbolRules, quote_usd: float) -> None:
        self.rules = rules
        self.tick = float(rules.price_increment)
        self.unit = float(rules.base_increment)
        self.ref = float(rules.ref_price) / self.tick  # fair and ref are in ticks
        self.fair = self.ref
        self.gap = max(1, round(self.ref * 0.0001))  # about 1 bp between seeded levels
        self.sigma = max(0.05, self.ref * 0.00003)  # about 0.3 bp per action on this symbol
        self.quote_usd = quote_usd
        self.base_units_min = math.ceil(rules.base_min_size / rules.base_increment)
        self.bids: list[Order] = []
        self.asks: list[Order] = []


class MarketFlow:
    """Drives an Exchange as agent users so books and the tape move like a real market."""

    def __init__(self, exchange: Exchange, *, seed: int = 1, rate_per_s: float = 20.0,
                 depth_levels: int = 40) -> None:
        self.exchange = exchange
        self.rate_per_s = rate_per_s
        self.depth_levels = depth_levels
        self._rng = random.Random(seed)
        usd = {r.base: float(r.ref_price) for r in exchange.rules.values() if r.quote == "USDT"}
        usd["USDT"] = 1.0
        self._symbols = [_SymbolFlow(r, usd.get(r.quote, 1.0)) for r in exchange.rules.values()
                         if r.enable_trading]
        self._target = max(4, int(depth_levels * 1.5))  # agent orders kept per side
        self.actions = 0

    # ------------------------------------------------------------------ setup
    def seed_books(self) -> None:
        """Add the agent users and fill every symbol with ``depth_levels`` levels per side."""
        self.exchange.add_user(MAKER, unlimited=True)
        self.exchange.add_user(TAKER, unlimited=True)
        rng = self._rng
        for st in self._symbols:
            mid = round(st.fair)
            half = rng.randint(1, 3)
            bid, ask = mid - half, mid + half
            for i in range(self.depth_levels):
                grow = 1.0 + i / 8.0  # larger further out
                self._quote(st, "buy", bid, self._notional() * grow)
                self._quote(st, "sell", ask, self._notional() * grow)
                bid -= rng.randint(1, st.gap)
                ask += rng.randint(1, st.gap)

    # ------------------------------------------------------------------ driving
    def step(self, n_actions: int) -> None:
        """Perform ``n_actions`` random agent actions (quote, cancel or take) across symbols."""
        rng = self._rng
        symbols = self._symbols
        for _ in range(n_actions):
            st = symbols[int(rng.random() * len(symbols))]
            st.fair += rng.gauss(0.0, st.sigma) + 0.0005 * (st.ref - st.fair)
            if rng.random() < TAKE_PROB:
                self._take(st)
                continue
            buy = rng.random() < 0.5
            orders = st.bids if buy else st.asks
            n = len(orders)
            place_prob = 0.5 * self._target / (n + 1)
            if n <= 2 * self._target and rng.random() < place_prob:
                self._place_near(st, buy)
            else:
                self._cancel_far(st, orders)
        self.actions += n_actions

    async def run(self, stop: asyncio.Event | None = None, *, tick_s: float = 0.05) -> None:
        """Call ``step`` at ``rate_per_s`` actions per second (read every tick; 0 pauses) until
        stopped."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        carry = 0.0
        while stop is None or not stop.is_set():
            await asyncio.sleep(tick_s)
            now = loop.time()
            carry += max(self.rate_per_s, 0.0) * min(now - last, 1.0)
            last = now
            n = int(carry)
            carry -= n
            if n:
                self.step(n)

    # ------------------------------------------------------------------ actions
    def _notional(self) -> float:
        """A quote-size in USD: log-normal around a few hundred, clamped to a sane range."""
        x = self._rng.lognormvariate(6.0, 1.3)
        return min(max(x, MIN_NOTIONAL_USD), MAX_NOTIONAL_USD)

    def _size(self, st: _SymbolFlow, price_ticks: int, notional_usd: float) -> Decimal:
        price = price_ticks * st.tick
        units = int(notional_usd / st.quote_usd / (price * st.unit))
        min_funds_units = math.ceil(float(st.rules.min_funds) / (price * st.unit)) + 1
        units = max(units, st.base_units_min, min_funds_units)
        return units * st.rules.base_increment

    def _quote(self, st: _SymbolFlow, side: str, price_ticks: int,
               notional_usd: float) -> Order | None:
        price_ticks = max(price_ticks, 1)
        req = {"symbol": st.rules.symbol, "side": side, "type": "limit",
               "price": price_ticks * st.rules.price_increment,
               "size": self._size(st, price_ticks, notional_usd)}
        try:
            order = self.exchange.place(MAKER, req)
        except EngineError:  # e.g. a size above baseMaxSize at an extreme price: skip the quote
            return None
        if order.deal_size:  # it crossed: some resting agent orders on the other side are gone
            other = st.asks if side == "buy" else st.bids
            other[:] = [o for o in other if o.active]
        if order.in_book:
            (st.bids if side == "buy" else st.asks).append(order)
        return order

    def _place_near(self, st: _SymbolFlow, buy: bool) -> None:
        """A new quote near the touch: geometric distance from the fair price, most within a few
        gaps."""
        rng = self._rng
        offset = 1 + int(rng.expovariate(1.0 / (st.gap * self.depth_levels / 4)))
        price = math.floor(st.fair) - offset + 1 if buy else math.ceil(st.fair) + offset - 1
        if buy and price >= st.fair:
            price = math.ceil(st.fair) - 1
        self._quote(st, "buy" if buy else "sell", price, self._notional())

    def _cancel_far(self, st: _SymbolFlow, orders: list[Order]) -> None:
        """Cancel the farthest-from-fair of a few random agent orders (dropping finished ones)."""
        rng = self._rng
        pick: Order | None = None
        worst = -1.0
        for _ in range(3):
            if not orders:
                break
            i = int(rng.random() * len(orders))
            o = orders[i]
            if not o.active:
                orders[i] = orders[-1]
                orders.pop()
                continue
            dist = abs(float(o.price) / st.tick - st.fair)
            if dist > worst:
                pick, worst = o, dist
        if pick is not None:
            self.exchange.cancel(MAKER, st.rules.symbol, order_id=pick.id)

    def _take(self, st: _SymbolFlow) -> None:
        """A market order by size, leaning towards the fair price so the book follows it."""
        rng = self._rng
        bid, ask = self.exchange.best_bid_ask(st.rules.symbol)
        if bid is None or ask is None:
            buy = ask is not None
        else:
            mid = float(bid + ask) / 2 / st.tick
            lean = max(-0.4, min(0.4, (st.fair - mid) / (5 * st.gap)))
            buy = rng.random() < 0.5 + lean
        ref = ask if buy else bid
        if ref is None:
            return
        ticks = round(float(ref) / st.tick)
        notional = min(max(rng.lognormvariate(5.0, 1.2), MIN_NOTIONAL_USD), MAX_TAKE_USD)
        req = {"symbol": st.rules.symbol, "side": "buy" if buy else "sell", "type": "market",
               "size": self._size(st, ticks, notional)}
        try:
            self.exchange.place(TAKER, req)
        except EngineError:
            return
        other = st.asks if buy else st.bids
        other[:] = [o for o in other if o.active]
