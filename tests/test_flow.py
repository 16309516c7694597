"""Synthetic market flow: determinism, sane books, bounded depth, the async driver."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from dashboard.simulator.catalog import DEFAULT_SYMBOLS
from dashboard.simulator.engine import Exchange
from dashboard.simulator.flow import MAKER, MarketFlow


class TradeCounter:
    def __init__(self) -> None:
        self.trades = 0

    def on_trade(self, symbol, trade) -> None:
        self.trades += 1


def make_flow(seed: int = 1, depth_levels: int = 40) -> tuple[Exchange, MarketFlow]:
    ex = Exchange(DEFAULT_SYMBOLS, clock_ms=lambda: 1_729_577_515_444)
    flow = MarketFlow(ex, seed=seed, depth_levels=depth_levels)
    flow.seed_books()
    return ex, flow


async def eventually(predicate, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("depth_levels", [10, 40], ids=["depth-10", "depth-40"])
def test_seed_books_fills_each_side(depth_levels: int) -> None:
    """seed_books puts depth_levels visible levels on each side of every symbol, near ref_price."""
    ex, _ = make_flow(depth_levels=depth_levels)
    for rules in DEFAULT_SYMBOLS:
        _, bids, asks = ex.snapshot(rules.symbol)
        assert len(bids) == len(asks) == depth_levels
        assert bids[0][0] < rules.ref_price < asks[0][0]
        assert abs(asks[0][0] - bids[0][0]) <= 6 * rules.price_increment


def test_same_seed_same_market() -> None:
    """Two flows with the same seed produce identical books after the same steps."""
    (ex1, f1), (ex2, f2) = make_flow(seed=5), make_flow(seed=5)
    f1.step(3000)
    f2.step(3000)
    for rules in DEFAULT_SYMBOLS:
        assert ex1.snapshot(rules.symbol) == ex2.snapshot(rules.symbol)


def test_different_seed_different_market() -> None:
    """A different seed gives a different market (the seed is really used)."""
    (ex1, f1), (ex2, f2) = make_flow(seed=5), make_flow(seed=6)
    f1.step(2000)
    f2.step(2000)
    assert ex1.snapshot("BTC-USDT") != ex2.snapshot("BTC-USDT")


def test_books_never_crossed_and_trades_happen() -> None:
    """After every batch of steps each book has both sides, best bid < best ask; trades occur."""
    ex, flow = make_flow(seed=2)
    counter = TradeCounter()
    ex.listeners.append(counter)
    for _ in range(40):
        flow.step(250)
        for rules in DEFAULT_SYMBOLS:
            bid, ask = ex.best_bid_ask(rules.symbol)
            assert bid is not None and ask is not None and bid < ask
    assert counter.trades > 300


def test_depth_bounded_over_long_run() -> None:
    """After 50,000 actions the books and the agent's resting orders stay bounded, prices sane."""
    ex, flow = make_flow(seed=3, depth_levels=40)
    flow.step(50_000)
    for rules in DEFAULT_SYMBOLS:
        _, bids, asks = ex.snapshot(rules.symbol)
        assert 0 < len(bids) <= 130 and 0 < len(asks) <= 130
        mid = (bids[0][0] + asks[0][0]) / 2
        assert abs(mid / rules.ref_price - 1) < Decimal("0.2")
    assert len(ex.active_orders(MAKER)) <= len(DEFAULT_SYMBOLS) * 2 * 125


async def test_run_steps_at_rate_and_pauses() -> None:
    """run() performs actions at rate_per_s, pauses at rate 0 and returns when stop is set."""
    _, flow = make_flow()
    flow.rate_per_s = 2000.0
    stop = asyncio.Event()
    task = asyncio.create_task(flow.run(stop, tick_s=0.01))
    await eventually(lambda: flow.actions >= 100)
    flow.rate_per_s = 0.0
    await asyncio.sleep(0.05)
    paused_at = flow.actions
    await asyncio.sleep(0.1)
    assert flow.actions == paused_at
    stop.set()
    await asyncio.wait_for(task, timeout=1.0)
