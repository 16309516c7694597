"""Matching engine: matching rules, validation codes, balances, events and level-2 sequencing."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.kucoin.protocol.spot import MSG_CANCEL_NOT_EXIST
from dashboard.simulator.catalog import DEFAULT_SYMBOLS, SymbolRules
from dashboard.simulator.engine import EngineError, Exchange, Order
from dashboard.simulator.flow import MarketFlow

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


# ---------------------------------------------------------------------------- matching


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
    assert rec.order_types(taker.id) == [("received", "new"), ("match", "match"), ("filled", "done")]
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
def test_time_in_force_remainder(ex: Exchange, rec: Recorder, tif, extra, resting, deal, cancelled) -> None:
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
    """A crossing post-only order is accepted then cancelled; it never trades or touches the book."""
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
    assert (order.deal_size, order.deal_funds, order.cancelled_size) == (D("0.2"), D("18210"), D("0.1"))
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


# ---------------------------------------------------------------------------- validation


VALIDATION = [
    ("unknown-symbol", {"symbol": "FOO-USDT"}, "400100", "Unsupported trading pair."),
    ("trading-disabled", {"symbol": "OFF-USDT"}, "400600", "validation.createOrder.symbolNotAvailable"),
    ("bad-side", {"side": "hold"}, "400100", None),
    ("bad-type", {"type": "stop"}, "400100", None),
    ("client-oid-too-long", {"clientOid": "x" * 41}, "400100", None),
    ("client-oid-bad-chars", {"clientOid": "a b"}, "400100", None),
    ("price-unparseable", {"price": "abc"}, "400100", None),
    ("price-missing", {"price": None}, "400100", None),
    ("price-zero", {"price": "0"}, "400100", None),
    ("price-increment", {"price": "91250.05"}, "400100", "Price increment invalid."),
    ("size-missing", {"size": None}, "400100", None),
    ("size-increment", {"size": "0.000000001"}, "400100", "Order size increment invalid."),
    ("size-below-min", {"size": "0.000001"}, "400100", "Order size below the minimum requirement."),
    ("size-above-max", {"size": "20000000000"}, "400100", None),
    ("funds-below-min", {"price": "1", "size": "0.00001"}, "600100", "Funds below the minimum requirement."),
    ("market-size-and-funds", {"type": "market", "price": None, "funds": "10"}, "400100", None),
    ("market-neither", {"type": "market", "price": None, "size": None}, "400100", None),
    ("market-funds-increment", {"type": "market", "size": None, "funds": "1.0000001"}, "400100", None),
    ("market-funds-below-min", {"type": "market", "size": None, "funds": "0.01"}, "600100", None),
    ("bad-time-in-force", {"timeInForce": "DAY"}, "400100", None),
    ("post-only-ioc", {"timeInForce": "IOC", "postOnly": True}, "400100", None),
    ("post-only-fok", {"timeInForce": "FOK", "postOnly": True}, "400100", None),
    ("cancel-after-without-gtt", {"cancelAfter": 10}, "400100", None),
    ("gtt-cancel-after-zero", {"timeInForce": "GTT", "cancelAfter": 0}, "400100", None),
    ("balance-insufficient", {"size": "100"}, "200004", "Balance insufficient!"),
]


@pytest.mark.parametrize(("overrides", "code", "msg"), [v[1:] for v in VALIDATION],
                         ids=[v[0] for v in VALIDATION])
def test_validation_errors(ex: Exchange, rec: Recorder, overrides, code, msg) -> None:
    """Each invalid request is refused with KuCoin's code and changes nothing."""
    ex.place("agent", limit("sell", "92000", "1"))
    seq, books = ex.sequence(SYM), len(rec.books)
    req = {k: v for k, v in {**limit("buy", "91250", "0.001"), **overrides}.items() if v is not None}
    with pytest.raises(EngineError) as err:
        ex.place("alice", req)
    assert err.value.code == code
    assert msg is None or err.value.msg == msg
    assert (ex.sequence(SYM), len(rec.books), rec.orders) == (seq, books, [])
    assert ex.active_orders("alice") == [] and ex.balances("alice")["USDT"] == (D("1000000"), D(0))


def test_duplicate_client_oid_among_active_orders(ex: Exchange) -> None:
    """A clientOid already used by an active order is refused; once done it may be reused."""
    first = ex.place("alice", limit("buy", "90000", "0.1", clientOid="abc-1"))
    with pytest.raises(EngineError) as err:
        ex.place("alice", limit("buy", "90000", "0.1", clientOid="abc-1"))
    assert (err.value.code, err.value.msg) == ("400100", "The clientOid already exists.")
    ex.cancel("alice", SYM, client_oid="abc-1")
    assert ex.place("alice", limit("buy", "90000", "0.1", clientOid="abc-1")).id != first.id


def test_test_order_never_touches_the_book(ex: Exchange, rec: Recorder) -> None:
    """place(test=True) validates and returns an order without any effect."""
    order = ex.place("alice", limit("buy", "91000", "0.1"), test=True)
    assert len(order.id) == 24 and not order.active
    assert (ex.snapshot(SYM)[1], rec.orders, ex.active_orders("alice")) == ([], [], [])


# ---------------------------------------------------------------------------- balances, fees, cancel


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


def test_cancel_unknown_is_400100_with_http_200(ex: Exchange) -> None:
    """Cancelling an unknown or finished order fails like KuCoin: 400100, HTTP 200."""
    with pytest.raises(EngineError) as err:
        ex.cancel("alice", SYM, order_id="0" * 24)
    assert (err.value.code, err.value.msg, err.value.http_status) == ("400100", MSG_CANCEL_NOT_EXIST, 200)


def test_get_order_not_found_is_404(ex: Exchange) -> None:
    """get_order on an unknown id raises 400100 'order not exist.' with HTTP 404."""
    with pytest.raises(EngineError) as err:
        ex.get_order("alice", SYM, order_id="nope")
    assert (err.value.code, err.value.msg, err.value.http_status) == ("400100", "order not exist.", 404)


def test_order_queries(ex: Exchange) -> None:
    """Active orders newest update first; done orders and fills newest first; lookup by clientOid."""
    a = ex.place("alice", limit("buy", "90000", "0.1", clientOid="a1"))
    b = ex.place("alice", limit("buy", "90001", "0.1"))
    assert ex.active_orders("alice", SYM) == [b, a]
    ex.place("bob", limit("sell", "90000", "0.1"))  # fills b
    assert ex.active_orders("alice") == [a] and ex.done_orders("alice") == [b]
    assert [f.order_id for f in ex.fills("alice", SYM)] == [b.id]
    assert ex.get_order("alice", None, client_oid="a1") is a
    assert ex.get_order("alice", SYM, order_id=b.id) is b
    assert [o.id for o in ex.cancel_all("alice")] == [a.id]


def test_wire_shapes(ex: Exchange) -> None:
    """Order and fill objects use KuCoin's spelling and types (protocol.md §5.5, §5.7)."""
    ex.place("alice", limit("sell", "70000", "0.00001"))
    order = ex.place("bob", limit("buy", "70000", "0.00001", clientOid="c1", remark="r"))
    wire = order.to_wire()
    assert wire["dealFunds"] == "0.7" and wire["fee"] == "0.0007" and wire["feeCurrency"] == "USDT"
    assert (wire["active"], wire["inOrderBook"], wire["opType"], wire["createdAt"]) == (
        False, False, "DEAL", 1_729_577_515_444)
    fill = ex.fills("bob")[0].to_wire()
    assert isinstance(fill["tradeId"], int) and isinstance(fill["id"], int)
    assert (fill["price"], fill["liquidity"], fill["feeRate"]) == ("70000", "taker", "0.001")


def test_balance_event_shape(ex: Exchange, rec: Recorder) -> None:
    """Balance pushes carry absolute values, signed changes and time as a string of ms."""
    order = ex.place("alice", limit("buy", "100", "1", symbol="TST-USDT"))
    _, data = rec.balances[0]
    assert data["total"] == "1000000" and data["available"] == "999899.9" and data["hold"] == "100.1"
    assert (data["holdChange"], data["relationContext"], data["time"]) == (
        "100.1", {"symbol": "TST-USDT", "orderId": order.id}, "1729577515444")


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
    """Each action is one message; messages are contiguous; each price appears once with its last seq."""
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
    """Snapshot + every later level-2 message rebuilds exactly the final snapshot, level by level."""
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
        ex.place("alice", limit("buy", str(bid - D("0.1")), "0.03", symbol="ETH-USDT", timeInForce="GTT",
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


# ---------------------------------------------------------------------------- property


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
        req: dict = {"limit": limit(side, str(100 + D(offset) / 2), size, symbol="TST-USDT", **flags),
                     "market-size": market(side, symbol="TST-USDT", size=size),
                     "market-funds": market(side, symbol="TST-USDT", funds=str(units / 10))}.get(kind, {})
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


def test_order_ids_are_unique_hex(ex: Exchange) -> None:
    """Order ids are 24 lowercase hex characters and unique."""
    ids = {ex.place("agent", limit("buy", "90000", "0.001")).id for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 24 and int(i, 16) >= 0 and i == i.lower() for i in ids)


def test_unlimited_agent_keeps_no_history(ex: Exchange, rec: Recorder) -> None:
    """An unlimited agent trades without balance checks, history or private events."""
    ex.place("agent", limit("sell", "91000", "1000"))
    ex.place("agent", limit("buy", "91000", "1000"))
    assert ex.done_orders("agent") == [] and ex.fills("agent") == [] and ex.balances("agent") == {}
    assert rec.orders == [] and rec.balances == [] and len(rec.trades) == 1


def test_order_is_mutable_state() -> None:
    """Order compares by identity (it is live engine state)."""
    a = Order("x", "", "u", SYM, "buy", "limit", D(1), D(1), None)
    b = Order("x", "", "u", SYM, "buy", "limit", D(1), D(1), None)
    assert a != b and a == a


def test_symbol_rules_type() -> None:
    """The fixtures use real SymbolRules (guards against catalog drift)."""
    assert isinstance(TST, SymbolRules) and TST.price_increment == D("0.5")
