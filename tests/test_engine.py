"""The Exchange facade end to end: long random streams keep the level-2 stream replayable and
value conserved (orders, matching, accounts and events together)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.simulator.catalog import DEFAULT_SYMBOLS
from dashboard.simulator.engine import EngineError, Exchange
from dashboard.simulator.flow import MarketFlow

from . import enginehelpers
from .enginehelpers import TST, Clock, Recorder, limit, market

D = Decimal
clock, rec = enginehelpers.clock, enginehelpers.rec  # the shared fixtures


def _replay(seq: int, book: dict[str, dict[Decimal, Decimal]], msgs: list[tuple]) -> int:
    """Apply level-2 messages to a snapshot the way a client does (protocol.md §8.2)."""
    for _, seq_start, seq_end, changes, _ in msgs:
        if seq_end <= seq:
            continue
        assert seq_start == seq + 1, "gap or overlap between messages"
        keys = [(side, price) for side, price, _, _ in changes]
        assert len(keys) == len(set(keys)), "a price appears twice in one message"
        assert max(c[3] for c in changes) == seq_end
        for side, price, size, change_seq in changes:
            assert seq_start <= change_seq <= seq_end
            if size == 0:
                book[side].pop(price, None)
            else:
                book[side][price] = size
        seq = seq_end
    return seq


def test_level2_replay_matches_snapshot(clock: Clock, rec: Recorder) -> None:
    """Snapshot + every later level-2 message rebuilds exactly the final snapshot, level by
    level."""
    ex = Exchange(DEFAULT_SYMBOLS, clock_ms=clock)
    ex.add_user("alice", {"USDT": D("10000000"), "BTC": D("100"), "ETH": D("1000")})
    flow = MarketFlow(ex, seed=7)
    flow.seed_books()
    ex.listeners.append(rec)
    snaps = {s: ex.snapshot(s) for s in ex.rules}
    for i in range(20):
        flow.step(400)
        clock.ms += 370
        bid, _ = ex.best_bid_ask("ETH-USDT")
        ex.place("alice", limit("buy", str(bid), "0.01", symbol="ETH-USDT", hidden=True))
        ex.place("alice", limit("buy", str(bid - D("0.05")), "0.02", symbol="ETH-USDT"))
        ex.place("alice", limit("buy", str(bid - D("0.1")), "0.03", symbol="ETH-USDT",
                                timeInForce="GTT",
                                cancelAfter=1))
        ex.place("alice", market("sell", symbol="BTC-USDT", size="0.001"))
        if i % 3 == 0:
            ex.cancel_all("alice", "ETH-USDT")
        ex.expire()
    assert len(rec.trades) > 100
    for sym, (seq, bids, asks) in snaps.items():
        book = {"bids": dict(bids), "asks": dict(asks)}
        final_seq = _replay(seq, book, [m for m in rec.books if m[0] == sym])
        end_seq, end_bids, end_asks = ex.snapshot(sym)
        assert final_seq == end_seq
        assert sorted(book["bids"].items(), reverse=True) == end_bids
        assert sorted(book["asks"].items()) == end_asks


OPS = st.lists(
    st.tuples(
        st.sampled_from(["limit", "market-size", "market-funds", "cancel", "cancel-all"]),
        st.integers(0, 2),  # user: 0, 1 limited; 2 unlimited agent
        st.booleans(),  # buy?
        st.integers(-4, 4),  # price offset in ticks from 100
        st.integers(1, 3000),  # size in base increments
        st.sampled_from([{}, {"timeInForce": "IOC"}, {"timeInForce": "FOK"}, {"postOnly": True},
                         {"hidden": True}]),
    ),
    max_size=40,
)


def _assert_invariants(ex: Exchange, users: list[str], initial: dict[str, Decimal]) -> None:
    totals = dict.fromkeys(initial, D(0))
    for user in users:
        held = {"USDT": D(0), "TST": D(0)}
        for o in ex.active_orders(user):
            held["USDT" if o.side == "buy" else "TST"] += o.hold_left
        for currency, (avail, hold) in ex.balances(user).items():
            assert avail >= 0 and hold >= 0
            assert hold == held[currency]
            totals[currency] += avail + hold
    for currency, amount in initial.items():
        extra = ex.fees_collected.get(currency, D(0)) + ex.agent_flows.get(currency, D(0))
        assert totals[currency] + extra == amount
    bid, ask = ex.best_bid_ask("TST-USDT")
    assert bid is None or ask is None or bid < ask


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_balances_conserved_and_never_negative(ops) -> None:
    """Random place/cancel sequences keep balances non-negative, holds exact and value conserved."""
    ex = Exchange([TST], clock_ms=Clock(), maker_fee=D("0.001"), taker_fee=D("0.002"))
    users = ["u0", "u1"]
    for user in users:
        ex.add_user(user, {"USDT": D("500"), "TST": D("3")})
    ex.add_user("agent", unlimited=True)
    for i in range(1, 4):
        ex.place("agent", limit("buy", str(100 - i), "1", symbol="TST-USDT"))
        ex.place("agent", limit("sell", str(100 + i), "1", symbol="TST-USDT"))
    initial = {"USDT": D("1000"), "TST": D("6")}
    names = [*users, "agent"]
    for kind, who, buy, offset, units, flags in ops:
        user, side = names[who], "buy" if buy else "sell"
        size = str(D(units) * D("0.001"))
        req: dict = {"limit": limit(side, str(100 + D(offset) / 2), size, symbol="TST-USDT",
                                    **flags),
                     "market-size": market(side, symbol="TST-USDT", size=size),
                     "market-funds": market(side, symbol="TST-USDT", funds=str(units / 10))
                     }.get(kind, {})
        try:
            if req:
                ex.place(user, req)
            elif kind == "cancel" and ex.active_orders(user):
                ex.cancel(user, "TST-USDT", order_id=ex.active_orders(user)[-1].id)
            elif kind == "cancel-all":
                ex.cancel_all(user)
        except EngineError as err:
            assert err.code in ("200004", "600100")
        _assert_invariants(ex, users, initial)
