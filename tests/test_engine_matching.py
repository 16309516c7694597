"""Matching engine: price-time matching, time in force, post-only, market orders, hidden orders,
and level-2 sequence numbering (simulator/matching.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.simulator.engine import Exchange

from . import enginehelpers
from .enginehelpers import SYM, Clock, Recorder, limit, market

D = Decimal
clock, ex, rec = enginehelpers.clock, enginehelpers.ex, enginehelpers.rec  # the shared fixtures


def test_price_time_priority(ex: Exchange) -> None:
    """Better price first, then earlier orders at the same price."""
    a = ex.place("alice", limit("sell", "91251", "0.1"))
    b = ex.place("bob", limit("sell", "91251", "0.1"))
    c = ex.place("carol", limit("sell", "91250.5", "0.1"))
    ex.place("agent", limit("buy", "91252", "0.25"))
    assert (c.deal_size, a.deal_size, b.deal_size) == (D("0.1"), D("0.1"), D("0.05"))
    assert ex.snapshot(SYM)[2] == [(D("91251"), D("0.05"))]


def test_trade_price_is_maker_price(ex: Exchange, rec: Recorder) -> None:
    """A crossing buy trades at the resting ask's price; the trade's side is the taker's."""
    ask = ex.place("alice", limit("sell", "91000", "0.1"))
    bid = ex.place("bob", limit("buy", "92000", "0.1"))
    (trade,) = rec.trades
    assert (trade.price, trade.size, trade.side) == (D("91000"), D("0.1"), "buy")
    assert (trade.maker_order_id, trade.taker_order_id) == (ask.id, bid.id)
    assert bid.deal_funds == D("9100")


def test_partial_fill_keeps_maker_resting(ex: Exchange, rec: Recorder) -> None:
    """A smaller taker leaves the maker on the book with the remainder."""
    maker = ex.place("alice", limit("buy", "91000", "0.3"))
    taker = ex.place("bob", limit("sell", "91000", "0.1"))
    assert (maker.active, maker.in_book) == (True, True)
    assert (maker.remain_size, maker.deal_size) == (D("0.2"), D("0.1"))
    assert not taker.active and taker.deal_size == D("0.1")
    assert rec.order_types(maker.id) == [("received", "new"), ("open", "open"), ("match", "open")]
    assert rec.order_types(taker.id) == [("received", "new"), ("match", "match"),
                                         ("filled", "done")]
    assert ex.snapshot(SYM)[1] == [(D("91000"), D("0.2"))]


@pytest.mark.parametrize(
    ("tif", "extra", "resting", "deal", "cancelled"),
    [
        ("GTC", {}, D("0.1"), D("0.1"), D(0)),
        ("GTT", {"cancelAfter": 60}, D("0.1"), D("0.1"), D(0)),
        ("IOC", {}, D(0), D("0.1"), D("0.1")),
        ("FOK", {}, D(0), D(0), D("0.2")),
    ],
    ids=["gtc-rests", "gtt-rests", "ioc-cancels-rest", "fok-all-or-nothing"],
)
def test_time_in_force_remainder(ex: Exchange, rec: Recorder, tif, extra, resting, deal,
                                 cancelled) -> None:
    """Remainder after crossing: GTC/GTT rest, IOC cancels, FOK does not trade at all."""
    ex.place("alice", limit("sell", "91000", "0.1"))
    order = ex.place("bob", limit("buy", "91000", "0.2", timeInForce=tif, **extra))
    assert (order.deal_size, order.cancelled_size) == (deal, cancelled)
    bids = ex.snapshot(SYM)[1]
    assert sum((s for _, s in bids), D(0)) == resting
    assert len(rec.trades) == (0 if tif == "FOK" else 1)


def test_fok_fills_when_liquidity_suffices(ex: Exchange) -> None:
    """A FOK order with enough opposite liquidity fills completely across levels."""
    ex.place("alice", limit("sell", "91000", "0.1"))
    ex.place("alice", limit("sell", "91001", "0.1"))
    order = ex.place("bob", limit("buy", "91001", "0.2", timeInForce="FOK"))
    assert order.deal_size == D("0.2") and not order.active


def test_gtt_expires(ex: Exchange, clock: Clock, rec: Recorder) -> None:
    """expire() cancels GTT orders whose cancelAfter has passed, and only those."""
    gtt = ex.place("alice", limit("buy", "90000", "0.1", timeInForce="GTT", cancelAfter=5))
    gtc = ex.place("alice", limit("buy", "90000", "0.1"))
    clock.ms += 4_000
    assert ex.expire() == 0
    clock.ms += 1_000
    assert ex.expire() == 1
    assert (gtt.active, gtc.active) == (False, True)
    assert rec.order_types(gtt.id)[-1] == ("canceled", "done")


def test_post_only_cross_is_cancelled_without_trade(ex: Exchange, rec: Recorder) -> None:
    """A crossing post-only order is accepted then cancelled; it never trades or touches the
    book."""
    ex.place("alice", limit("sell", "91000", "0.1"))
    seq = ex.sequence(SYM)
    order = ex.place("bob", limit("buy", "91000", "0.1", postOnly=True))
    assert rec.trades == [] and ex.sequence(SYM) == seq
    assert rec.order_types(order.id) == [("received", "new"), ("canceled", "done")]
    assert ex.balances("bob")["USDT"] == (D("1000000"), D(0))


def test_post_only_rests_when_not_crossing(ex: Exchange) -> None:
    """A non-crossing post-only order rests like a normal limit order."""
    order = ex.place("bob", limit("buy", "90000", "0.1", postOnly=True))
    assert order.in_book and ex.best_bid_ask(SYM) == (D("90000"), None)


def test_market_by_size_walks_the_book(ex: Exchange) -> None:
    """A market buy by size consumes levels from the best ask upwards; the rest is cancelled."""
    ex.place("alice", limit("sell", "91000", "0.1"))
    ex.place("alice", limit("sell", "91100", "0.1"))
    order = ex.place("bob", market("buy", size="0.3"))
    assert (order.deal_size, order.deal_funds, order.cancelled_size) == (
        D("0.2"), D("18210"), D("0.1"))
    assert order.to_wire()["price"] == "0"
    usdt = ex.balances("bob")["USDT"]
    assert usdt == (D("1000000") - D("18210") * D("1.001"), D(0))


def test_market_by_funds_spends_up_to_funds(ex: Exchange, rec: Recorder) -> None:
    """A market buy by funds buys whole base increments; trade funds plus fee never exceed funds."""
    ex.place("alice", limit("sell", "100", "50", symbol="TST-USDT"))
    order = ex.place("bob", market("buy", symbol="TST-USDT", funds="1000"))
    assert order.deal_size == D("9.99")  # 1000 / (100 * 1.001) = 9.99000999 -> 9.99
    assert order.deal_funds + order.fee <= D("1000")
    assert rec.order_types(order.id)[-1] == ("filled", "done")
    avail, hold = ex.balances("bob")["USDT"]
    assert (avail, hold) == (D("1000000") - order.deal_funds - order.fee, D(0))


def test_market_sell_by_funds(ex: Exchange) -> None:
    """A market sell by funds sells just enough base for the quote amount."""
    ex.place("alice", limit("buy", "100", "50", symbol="TST-USDT"))
    order = ex.place("bob", market("sell", symbol="TST-USDT", funds="250"))
    assert (order.deal_size, order.deal_funds) == (D("2.5"), D("250"))
    assert ex.balances("bob")["TST"] == (D("997.5"), D(0))


def test_hidden_orders_match_but_are_not_shown(ex: Exchange, rec: Recorder) -> None:
    """Hidden orders are absent from snapshots and level-2 events but still trade."""
    ex.place("alice", limit("sell", "91000", "0.1", hidden=True))
    assert ex.snapshot(SYM)[2] == [] and rec.books == []
    order = ex.place("bob", limit("buy", "91000", "0.1"))
    assert order.deal_size == D("0.1") and len(rec.trades) == 1


def test_raising_listener_does_not_corrupt(ex: Exchange, rec: Recorder) -> None:
    """A listener that raises is logged and skipped; later listeners and the engine carry on."""

    class Bad:
        def on_book_changes(self, *args) -> None:
            raise RuntimeError("boom")

    ex.listeners.insert(0, Bad())
    ex.place("alice", limit("buy", "90000", "0.1"))
    assert len(rec.books) == 1 and ex.snapshot(SYM)[1] == [(D("90000"), D("0.1"))]


# ---------------------------------------------------------------------------- sequences


def test_sequence_contiguity_and_one_entry_per_price(ex: Exchange, rec: Recorder) -> None:
    """Each action is one message; messages are contiguous; each price appears once with its
    last seq."""
    start = ex.sequence(SYM)
    ex.place("alice", limit("sell", "91000", "0.1"))
    ex.place("alice", limit("sell", "91000", "0.2"))
    ex.place("bob", limit("buy", "91000", "0.25"))  # two fills at one price, one message
    ex.cancel_all("alice", SYM)
    ex.cancel_all("alice", SYM)  # nothing left: no message, no sequence
    msgs = [m for m in rec.books if m[0] == SYM]
    assert [(m[1], m[2]) for m in msgs] == [(start + 1, start + 1), (start + 2, start + 2),
                                            (start + 3, start + 4), (start + 5, start + 5)]
    assert msgs[2][3] == [("asks", D("91000"), D("0.05"), start + 4)]
    assert msgs[3][3] == [("asks", D("91000"), D(0), start + 5)]
    assert ex.sequence(SYM) == ex.snapshot(SYM)[0] == start + 5
