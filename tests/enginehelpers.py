"""Shared pieces of the matching-engine tests: a settable clock, a recording listener, order
bodies and the ``clock``/``rec``/``ex`` fixtures (three funded users and one unlimited agent)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from dashboard.simulator.catalog import DEFAULT_SYMBOLS
from dashboard.simulator.engine import Exchange

D = Decimal
BTC = DEFAULT_SYMBOLS[0]
SYM = BTC.symbol
OFF = dataclasses.replace(BTC, symbol="OFF-USDT", base="OFF", enable_trading=False)
TST = dataclasses.replace(
    BTC, symbol="TST-USDT", base="TST", price_increment=D("0.5"), base_increment=D("0.001"),
    base_min_size=D("0.001"), min_funds=D("0.1"), ref_price=D("100"),
)


class Clock:
    def __init__(self) -> None:
        self.ms = 1_729_577_515_444

    def __call__(self) -> int:
        return self.ms


class Recorder:
    """A listener keeping every callback it receives."""

    def __init__(self) -> None:
        self.books: list[tuple] = []
        self.trades: list = []
        self.orders: list[tuple[str, dict]] = []
        self.balances: list[tuple[str, dict]] = []

    def on_book_changes(self, symbol, seq_start, seq_end, changes, time_ms) -> None:
        self.books.append((symbol, seq_start, seq_end, list(changes), time_ms))

    def on_trade(self, symbol, trade) -> None:
        self.trades.append(trade)

    def on_order_event(self, user_id, data) -> None:
        self.orders.append((user_id, data))

    def on_balance(self, user_id, data) -> None:
        self.balances.append((user_id, data))

    def order_types(self, order_id: str) -> list[tuple[str, str]]:
        return [(d["type"], d["status"]) for _, d in self.orders if d["orderId"] == order_id]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def ex(clock: Clock, rec: Recorder) -> Exchange:
    exchange = Exchange([BTC, OFF, TST], clock_ms=clock)
    for user in ("alice", "bob", "carol"):
        exchange.add_user(user, {"USDT": D("1000000"), "BTC": D("10"), "TST": D("1000")})
    exchange.add_user("agent", unlimited=True)
    exchange.listeners.append(rec)
    return exchange


def limit(side: str, price: str, size: str, symbol: str = SYM, **kw) -> dict:
    return {"symbol": symbol, "side": side, "type": "limit", "price": price, "size": size, **kw}


def market(side: str, symbol: str = SYM, **kw) -> dict:
    return {"symbol": symbol, "side": side, "type": "market", **kw}
