"""Matching engine: holds, fees, balance events and unlimited agents (simulator/accounts.py)."""

from __future__ import annotations

from decimal import Decimal

from dashboard.simulator.engine import Exchange

from . import enginehelpers
from .enginehelpers import BTC, SYM, Clock, Recorder, limit

D = Decimal
clock, ex, rec = enginehelpers.clock, enginehelpers.ex, enginehelpers.rec  # the shared fixtures


def test_limit_buy_holds_and_cancel_releases(ex: Exchange, rec: Recorder) -> None:
    """A limit buy holds price*size*(1+fee) of quote; cancelling releases it exactly."""
    order = ex.place("alice", limit("buy", "90000", "0.1"))
    assert ex.balances("alice")["USDT"] == (D("1000000") - D("9009"), D("9009"))
    ex.cancel("alice", SYM, order_id=order.id)
    assert ex.balances("alice")["USDT"] == (D("1000000"), D(0))
    events = [d["relationEvent"] for _, d in rec.balances]
    assert events == ["trade.hold", "trade.other"]


def test_limit_sell_holds_base(ex: Exchange) -> None:
    """A limit sell holds its size of base currency."""
    ex.place("alice", limit("sell", "95000", "2"))
    assert ex.balances("alice")["BTC"] == (D("8"), D("2"))


def test_fees_charged_on_both_sides(clock: Clock) -> None:
    """Maker and taker pay their own rate on the trade funds, in quote currency."""
    ex = Exchange([BTC], clock_ms=clock, maker_fee=D("0.001"), taker_fee=D("0.002"))
    ex.add_user("m", {"BTC": D("1")})
    ex.add_user("t", {"USDT": D("100000")})
    ex.place("m", limit("sell", "90000", "1"))
    taker = ex.place("t", limit("buy", "90000", "1"))
    assert ex.balances("m") == {"BTC": (D(0), D(0)), "USDT": (D("89910"), D(0))}
    assert ex.balances("t") == {"USDT": (D("100000") - D("90180"), D(0)), "BTC": (D("1"), D(0))}
    maker_fill, taker_fill = ex.fills("m")[0], ex.fills("t")[0]
    assert (maker_fill.liquidity, maker_fill.fee, taker_fill.fee) == ("maker", D("90"), D("180"))
    assert taker.fee == D("180") and ex.fees_collected == {"USDT": D("270")}


def test_balance_event_shape(ex: Exchange, rec: Recorder) -> None:
    """Balance pushes carry absolute values, signed changes and time as a string of ms."""
    order = ex.place("alice", limit("buy", "100", "1", symbol="TST-USDT"))
    _, data = rec.balances[0]
    assert data["total"] == "1000000" and data["available"] == "999899.9" \
        and data["hold"] == "100.1"
    assert (data["holdChange"], data["relationContext"], data["time"]) == (
        "100.1", {"symbol": "TST-USDT", "orderId": order.id}, "1729577515444")


def test_unlimited_agent_keeps_no_history(ex: Exchange, rec: Recorder) -> None:
    """An unlimited agent trades without balance checks, history or private events."""
    ex.place("agent", limit("sell", "91000", "1000"))
    ex.place("agent", limit("buy", "91000", "1000"))
    assert ex.done_orders("agent") == [] and ex.fills("agent") == [] and ex.balances("agent") == {}
    assert rec.orders == [] and rec.balances == [] and len(rec.trades) == 1
