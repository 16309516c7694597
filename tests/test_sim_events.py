"""The simulator's push payloads (simulator/events.py) against real KuCoin samples and schemas."""

from __future__ import annotations

import json
import typing
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard.kucoin.protocol import schemas
from dashboard.simulator import events
from dashboard.simulator.marketdata import Candle
from dashboard.simulator.orders import Order, Trade

D = Decimal
SAMPLES = Path(__file__).parent / "fixtures" / "shared" / "kucoin" / "samples" / "ws"


def _data(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())["data"]


def _keys(schema: type) -> tuple[set[str], set[str]]:
    """(required, optional) keys; read from the hints, as PEP 563 hides NotRequired."""
    hints = typing.get_type_hints(schema, include_extras=True)
    optional = {k for k, t in hints.items() if typing.get_origin(t) is typing.NotRequired}
    return set(hints) - optional, optional


def _fits(payload: dict, schema: type) -> bool:
    required, optional = _keys(schema)
    return required <= set(payload) <= required | optional


def _order(**kw) -> Order:
    fields = {"id": "6720ecd9ec71f4000747731a", "client_oid": "5c52e11203aa677f33e493fb",
              "user_id": "u", "symbol": "BTC-USDT", "side": "buy", "type": "limit",
              "price": D("50000"), "size": D("0.00001"), "funds": None,
              "remain_size": D("0.00001"), "created_at": 1730211033305, "active": True, **kw}
    return Order(**fields)


def test_level2_increment_is_the_real_frame() -> None:
    """A three-change action gives KuCoin's multi-change level-2 data, byte for byte."""
    changes = [("asks", D("18906"), D("0.00331"), 14103845),
               ("asks", D("18907.3"), D("0.58751503"), 14103844),
               ("bids", D("18891.9"), D("0.15688"), 14103847)]
    data = events.level2_increment("BTC-USDT", 14103844, 14103847, changes, 1663747970273)
    assert data == _data("level2_increment_multi.json")
    assert _fits(data, schemas.Level2Increment)


def test_match_is_the_real_frame() -> None:
    """A trade gives the /market/match data with ns time and ids as strings."""
    trade = Trade(11067996711960577, 11067996711960577, "BTC-USDT", D("67523"), D("0.003"), "buy",
                  "671b5007389355000701b1d3", "671b50161777ff00074c168d", 1729843222921000000)
    data = events.match(trade)
    assert data == _data("match.json") and _fits(data, schemas.MatchData)


def test_depth5_is_the_real_frame() -> None:
    """Top-of-book levels give the level2Depth5 data (``timestamp``, not ``time``)."""
    sample = _data("level2_depth5.json")
    bids = [(D(p), D(s)) for p, s in sample["bids"]]
    asks = [(D(p), D(s)) for p, s in sample["asks"]]
    data = events.depth(bids, asks, 1729822226746)
    assert data == sample and _fits(data, schemas.DepthSnapshot)


def test_ticker_and_level1_are_the_real_frames() -> None:
    """Best bid/ask plus the last trade give the ticker data; the pair alone gives level1."""
    ticker = events.ticker((D("62162.9"), D("0.04794181")), (D("62163"), D("0.99011388")),
                           D("62162.9"), D("0.00832274"), 1621383371852, 1634641987564)
    assert ticker == _data("ticker.json") and _fits(ticker, schemas.TickerData)
    level1 = events.level1((D("68145.7"), D("1.29267802")), (D("68145.8"), D("0.51987471")),
                           1729816058766)
    assert level1 == _data("level1.json") and _fits(level1, schemas.Level1Data)


def test_empty_book_sides_are_null_and_empty() -> None:
    """With no order on a side the ticker says null and level1 an empty pair."""
    ticker = events.ticker(None, None, None, None, 7, 1)
    assert ticker["bestAsk"] is None and ticker["bestBidSize"] is None and ticker["price"] is None
    assert events.level1(None, None, 1) == {"asks": [], "bids": [], "timestamp": 1}


def test_candle_is_the_real_frame_with_time_in_ns() -> None:
    """The open candle is pushed in the REST row layout, stamped in nanoseconds."""
    sample = _data("candles.json")
    row = Candle(1729839600, D("67644.9"), D("67437.6"), D("67724.8"), D("67243.8"),
                 D("44.88321441"), D("3027558.991928447"))
    data = events.candle("BTC-USDT", row, 1729842192785)
    assert {**data, "time": sample["time"]} == sample and data["time"] == 1729842192785000000
    assert _fits(data, schemas.CandleData)


def test_order_change_is_the_real_v2_open_frame() -> None:
    """A resting limit order's ``open`` event is KuCoin's V2 open data, key for key."""
    data = events.order_change(_order(), "open", "open", 1730211033335)
    assert data == _data("order_v2_open.json") and _fits(data, schemas.OrderChange)


def test_order_match_carries_the_fill() -> None:
    """A taker fill adds matchPrice/Size, tradeId, liquidity and feeType to the V1 sample's keys."""
    sample = _data("order_v1_match.json")
    order = _order(id=sample["orderId"], client_oid=sample["clientOid"], symbol="KCS-USDT",
                   side="sell", price=D("0.938"), size=D("0.1"), deal_size=D("0.1"),
                   remain_size=D(0), created_at=1670329987026)
    data = events.order_match(order, D("0.96738"), D("0.1"), 42, "taker", 1670329987311)
    assert {k: data[k] for k in sample if k != "tradeId"} == {k: v for k, v in sample.items()
                                                              if k != "tradeId"}
    assert data["tradeId"] == "42" and _fits(data, schemas.OrderChange)
    maker = events.order_match(order, D("0.96738"), D("0.1"), 42, "maker", 1670329987311)
    assert (maker["status"], maker["feeType"]) == ("open", "makerFee")


def test_market_order_by_funds_reports_funds() -> None:
    """An order by funds also carries originFunds and, while live, the funds left."""
    order = _order(type="market", price=D(0), size=D(0), funds=D("100"), deal_funds=D("40"),
                   fee=D("0.04"))
    data = events.order_change(order, "match", "match", 1)
    assert (data["originFunds"], data["remainFunds"]) == ("100", "59.96")
    assert _fits(data, schemas.OrderChange)


def test_balance_change_is_the_real_frame() -> None:
    """A hold gives the /account/balance data: absolute values, signed changes, time as a string."""
    sample = _data("account_balance.json")
    order = _order(id="6721d0632db25b0007071fdc")
    data = events.balance_change("u", order, "USDT", (D("20.132773386762"), D("1.001")),
                                 (D("-0.5005"), D("0.5005")), "trade.hold", "354689988084000",
                                 1730269283892)
    assert {**data, "accountId": sample["accountId"]} == sample
    assert _fits(data, schemas.BalanceChange)


class _Listener:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def on_book_changes(self, *args: object) -> None:
        self.calls.append("book")
        if self.fail:
            raise RuntimeError("boom")

    def on_order_event(self, user_id: str, data: dict) -> None:
        self.calls.append(f"order:{data['type']}")


class _Owner:
    def __init__(self, unlimited: bool) -> None:
        self.id = "u"
        self.unlimited = unlimited


@pytest.mark.parametrize("unlimited", [False, True], ids=["limited", "agent"])
def test_outbox_delivers_book_first_and_skips_agents(unlimited: bool) -> None:
    """The book change goes out before the queued events; agents get no private events."""
    outbox = events.Outbox()
    broken, listener = _Listener(fail=True), _Listener()
    outbox.listeners.extend([broken, listener])
    outbox.order(_Owner(unlimited), _order(), "received", "new", 1)
    outbox.deliver(("BTC-USDT", 1, 1, [], 1))
    assert listener.calls == (["book"] if unlimited else ["book", "order:received"])
    outbox.deliver(None)  # nothing queued, no book change: nothing delivered
    assert len(listener.calls) == (1 if unlimited else 2)
