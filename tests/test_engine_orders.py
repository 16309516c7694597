"""Matching engine: order validation with KuCoin's codes, test orders, queries and wire shapes
(simulator/orders.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.kucoin.protocol.spot import MSG_CANCEL_NOT_EXIST
from dashboard.simulator.catalog import SymbolRules
from dashboard.simulator.engine import EngineError, Exchange, Order

from . import enginehelpers
from .enginehelpers import SYM, TST, Recorder, limit

D = Decimal
clock, ex, rec = enginehelpers.clock, enginehelpers.ex, enginehelpers.rec  # the shared fixtures


VALIDATION = [
    ("unknown-symbol", {"symbol": "FOO-USDT"}, "400100", "Unsupported trading pair."),
    ("trading-disabled", {"symbol": "OFF-USDT"}, "400600",
     "validation.createOrder.symbolNotAvailable"),
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
    ("funds-below-min", {"price": "1", "size": "0.00001"}, "600100",
     "Funds below the minimum requirement."),
    ("market-size-and-funds", {"type": "market", "price": None, "funds": "10"}, "400100", None),
    ("market-neither", {"type": "market", "price": None, "size": None}, "400100", None),
    ("market-funds-increment", {"type": "market", "size": None, "funds": "1.0000001"}, "400100",
     None),
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
    req = {k: v for k, v in {**limit("buy", "91250", "0.001"), **overrides}.items()
           if v is not None}
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


def test_cancel_unknown_is_400100_with_http_200(ex: Exchange) -> None:
    """Cancelling an unknown or finished order fails like KuCoin: 400100, HTTP 200."""
    with pytest.raises(EngineError) as err:
        ex.cancel("alice", SYM, order_id="0" * 24)
    assert (err.value.code, err.value.msg, err.value.http_status) == (
        "400100", MSG_CANCEL_NOT_EXIST, 200)


def test_get_order_not_found_is_404(ex: Exchange) -> None:
    """get_order on an unknown id raises 400100 'order not exist.' with HTTP 404."""
    with pytest.raises(EngineError) as err:
        ex.get_order("alice", SYM, order_id="nope")
    assert (err.value.code, err.value.msg, err.value.http_status) == (
        "400100", "order not exist.", 404)


def test_order_queries(ex: Exchange) -> None:
    """Active orders newest update first; done orders and fills newest first; lookup by
    clientOid."""
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


def test_order_ids_are_unique_hex(ex: Exchange) -> None:
    """Order ids are 24 lowercase hex characters and unique."""
    ids = {ex.place("agent", limit("buy", "90000", "0.001")).id for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 24 and int(i, 16) >= 0 and i == i.lower() for i in ids)


def test_order_is_mutable_state() -> None:
    """Order compares by identity (it is live engine state)."""
    a = Order("x", "", "u", SYM, "buy", "limit", D(1), D(1), None)
    b = Order("x", "", "u", SYM, "buy", "limit", D(1), D(1), None)
    assert a != b and a == a


def test_symbol_rules_type() -> None:
    """The fixtures use real SymbolRules (guards against catalog drift)."""
    assert isinstance(TST, SymbolRules) and TST.price_increment == D("0.5")
