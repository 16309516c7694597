"""parse.py on KuCoin's documented samples (exact Decimals) and fuzzed with hypothesis."""

from __future__ import annotations

import contextlib
import copy
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.domain.models import (
    Balance,
    Candle,
    Fill,
    Instrument,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
    Trade,
)
from dashboard.kucoin.client import parse as p
from dashboard.kucoin.common.errors import KucoinProtocolError

from .conftest import load_sample

D = Decimal


def data(rel: str):
    return load_sample(rel)["data"]


# ---------------------------------------------------------------- REST samples


def test_symbols_v2() -> None:
    """GET /api/v2/symbols -> Instrument with every rule exact."""
    [btc] = p.parse_symbols(data("rest/symbols_v2.json"))
    assert btc == Instrument(
        symbol="BTC-USDT", base="BTC", quote="USDT", price_increment=D("0.1"),
        base_increment=D("0.00000001"), quote_increment=D("0.000001"), base_min_size=D("0.00001"),
        base_max_size=D("10000000000"), quote_min_size=D("0.1"), quote_max_size=D("99999999"),
        min_funds=D("0.1"), enable_trading=True)
    assert p.parse_symbol(data("rest/symbol_v2_btc_usdt.json")).symbol == "BTC-USDT"


def test_level1_ticker() -> None:
    """GET level1: BBO and last trade, time in ms."""
    assert p.parse_ticker(data("rest/ticker_level1.json"), "BTC-USDT") == Ticker(
        "BTC-USDT", D("67267.5"), D("0.000025"), D("67267.6"), D("1.24808993"), D("67269"),
        D("0.000025"), 1729172965609)


def test_all_tickers() -> None:
    """allTickers: buy/sell are the best bid/ask; the snapshot time applies to every row."""
    [t] = p.parse_all_tickers(data("rest/all_tickers.json"))
    assert t == Ticker("BTC-USDT", D("67192.5"), D("0.000025"), D("67192.6"), D("1.24949204"),
                       D("67193"), None, 1729173207043)


@pytest.mark.parametrize("rel", ["rest/orderbook_level2_20.json", "rest/orderbook_full_v3.json"],
                         ids=["level2_20", "full_v3"])
def test_book_snapshot(rel: str) -> None:
    """Snapshots: integer sequence, rows kept as KuCoin's strings."""
    seq, bids, asks = p.parse_book_snapshot(data(rel))
    assert seq == 14610502970
    assert bids == [["66976.4", "0.69109872"], ["66976.3", "0.14377"]]
    assert asks == [["66976.5", "0.05408199"], ["66976.8", "0.0005"]]


def test_trade_history() -> None:
    """Histories: ns times, taker side, sequence as the trade id."""
    trades = p.parse_trade_history(data("rest/trade_histories.json"), "BTC-USDT")
    assert trades[0] == Trade("BTC-USDT", "10976028003549185", D("67122"), D("0.000025"), Side.BUY,
                              1729177117877000000)
    assert [t.size for t in trades] == [D("0.000025"), D("0.01792257"), D("0.05654289")]
    [sell] = p.parse_trade_history(data("rest/ccxt_histories.json"), "BTC-USDT")
    assert (sell.side, sell.size) == (Side.SELL, D("0.00453030"))


@pytest.mark.parametrize(("rel", "interval", "oldest"), [
    ("rest/candles_1min.json", "1min",
     Candle("BTC-USDT", "1min", 1566789600, D("10408.6"), D("10416"), D("10405.4"), D("10416"),
            D("12.45584973"), D("129666.51508559"))),
    ("rest/ccxt_candles_1hour.json", "1hour",
     Candle("BTC-USDT", "1hour", 1706630400, D("43383.7"), D("43521.9"), D("43222.8"), D("43501"),
            D("101.30420492"), D("4391287.808186813"))),
], ids=["1min-sdk", "1hour-ccxt"])
def test_candles_oldest_first_close_before_high_low(rel: str, interval: str,
                                                    oldest: Candle) -> None:
    """Rows [t, open, close, high, low, vol, turnover] arrive newest first and come back oldest
    first."""
    candles = p.parse_candles(data(rel), "BTC-USDT", interval)
    assert candles[0] == oldest
    assert [c.start_s for c in candles] == sorted(c.start_s for c in candles)


@pytest.mark.parametrize("rel", ["rest/bullet_public.json", "rest/bullet_private.json"],
                         ids=["public", "private"])
def test_bullet(rel: str) -> None:
    """Bullet: token plus the first instance server's endpoint and ping interval; token not in
    repr."""
    token = p.parse_bullet(data(rel))
    assert token.endpoint == "wss://ws-api-spot.kucoin.com/" and token.ping_interval_ms == 18000
    assert token.ping_timeout_ms == 10000 and token.token and token.token not in repr(token)
    assert token.url("c1") == f"wss://ws-api-spot.kucoin.com/?token={token.token}&connectId=c1"


def test_accounts_keep_spot_only() -> None:
    """Accounts: only type trade (not main), ``holds`` -> hold."""
    assert p.parse_accounts(data("rest/accounts.json")) == [
        Balance("USDT", D("26.66759503"), D("0"))]


def test_hf_order_filled() -> None:
    """HF order object: not active, nothing cancelled -> FILLED, every amount exact."""
    order = p.parse_order(data("rest/hf_order_get_response.json"))
    assert order == Order(
        order_id="6717422bd51c29000775ea03", client_oid="5c52e11203aa677f33e493fb",
        symbol="BTC-USDT", side=Side.BUY, type=OrderType.LIMIT, price=D("70000"),
        size=D("0.00001"), funds=D("0.7"), filled_size=D("0.00001"), filled_funds=D("0.677176"),
        fee=D("0.000677176"), status=OrderStatus.FILLED, created_ms=1729577515444,
        updated_ms=1729577515481, time_in_force="GTC", post_only=False)


@pytest.mark.parametrize(("rel", "status"), [
    ("rest/hf_orders_active.json", OrderStatus.OPEN),
    ("rest/hf_orders_done.json", OrderStatus.FILLED),
], ids=["active-list", "done-cursor"])
def test_order_lists(rel: str, status: OrderStatus) -> None:
    """Bare lists and cursor envelopes both parse; status per §5.5."""
    [order] = p.parse_orders(data(rel))
    assert order.status is status


def test_classic_order_uses_is_active_and_cancel_exist() -> None:
    """The classic order object (isActive, cancelExist, no lastUpdatedAt) -> CANCELLED."""
    order = p.parse_order(data("rest/classic_order_get_response.json"))
    assert order.status is OrderStatus.CANCELLED
    assert order.updated_ms == order.created_ms == 1732941791518


@pytest.mark.parametrize(("active", "deal", "cancelled", "status"), [
    (True, "0", "0", OrderStatus.OPEN),
    (True, "0.5", "0", OrderStatus.PARTIALLY_FILLED),
    (False, "0", "1", OrderStatus.CANCELLED),
    (False, "0.5", "0.5", OrderStatus.CANCELLED),
    (False, "1", "0", OrderStatus.FILLED),
], ids=["open", "partial", "cancelled", "partial-then-cancelled", "filled"])
def test_order_status_derivation(active: bool, deal: str, cancelled: str,
                                  status: OrderStatus) -> None:
    """active -> open/partial; done with cancelledSize > 0 -> cancelled; else filled."""
    wire = {**data("rest/hf_order_get_response.json"), "active": active, "dealSize": deal,
            "cancelledSize": cancelled}
    assert p.parse_order(wire).status is status


@pytest.mark.parametrize(("rel", "fill_id", "trade_id"), [
    ("rest/hf_fills.json", "19814995255305", "11029373945659392"),
    ("rest/classic_fills.json", "10862827223795713", "10862827223795713"),
], ids=["hf-int-ids", "classic-string-ids"])
def test_fills(rel: str, fill_id: str, trade_id: str) -> None:
    """HF fill ids are JSON integers beyond 2**53, classic ones strings; both become exact text."""
    [fill] = p.parse_fills(data(rel))
    assert (fill.fill_id, fill.trade_id) == (fill_id, trade_id)
    if rel == "rest/hf_fills.json":
        assert fill == Fill("19814995255305", "6717422bd51c29000775ea03", "11029373945659392",
                            "BTC-USDT", Side.BUY, D("67717.6"), D("0.00001"), D("0.000677176"),
                            "USDT", "taker", 1729577515473)


# ---------------------------------------------------------------- WebSocket samples


@pytest.mark.parametrize(("rel", "expected"), [
    ("ws/ticker.json", Ticker("BTC-USDT", D("62162.9"), D("0.04794181"), D("62163"),
                              D("0.99011388"), D("62162.9"), D("0.00832274"), 1634641987564)),
    ("ws/ticker_all.json", Ticker("BTC-USDT", D("67218.6"), D("0.01045638"), D("67218.7"),
                                  D("1.92318539"), D("67220"), D("0.00004316"), 1729757723612)),
], ids=["ticker", "ticker-all"])
def test_ws_ticker(rel: str, expected: Ticker) -> None:
    """Ticker pushes: the symbol comes from the topic (or the subject for ticker:all)."""
    assert p.parse_ticker(load_sample(rel)["data"], "BTC-USDT") == expected


def test_ws_match() -> None:
    """Match: time is a ns STRING, side the taker's."""
    assert p.parse_match(load_sample("ws/match.json")["data"]) == Trade(
        "BTC-USDT", "11067996711960577", D("67523"), D("0.003"), Side.BUY, 1729843222921000000)


def test_ws_candle_push() -> None:
    """Candle push: REST row layout, close before high/low."""
    assert p.parse_candle_push(load_sample("ws/candles.json")["data"], "1hour") == Candle(
        "BTC-USDT", "1hour", 1729839600, D("67644.9"), D("67724.8"), D("67243.8"), D("67437.6"),
        D("44.88321441"), D("3027558.991928447"))


@pytest.mark.parametrize(("rel", "type_", "status", "filled", "remain", "order_time_ms"), [
    ("ws/order_v2_received.json", "received", OrderStatus.NEW, D(0), None, 1730206271588),
    ("ws/order_v2_open.json", "open", OrderStatus.OPEN, D(0), D("0.00001"), 1730211033305),
    ("ws/order_v1_match.json", "match", OrderStatus.PARTIALLY_FILLED, D("0.1"), D("0"),
     1670329987026),
    ("ws/order_v1_filled.json", "filled", OrderStatus.FILLED, D("0.1"), D("0"), 1670329987026),
    ("ws/order_v1_canceled.json", "canceled", OrderStatus.CANCELLED, D("0"), D("0"), 1593487481683),
], ids=["v2-received", "v2-open", "v1-match", "v1-filled", "v1-canceled-ns-ordertime"])
def test_ws_order_change(rel, type_, status, filled, remain, order_time_ms) -> None:
    """orderChange -> OrderEvent: event type, derived status, cumulative fill, orderTime normalised
    to ms."""
    event = p.parse_order_change(load_sample(rel)["data"])
    got = (event.type, event.status, event.filled_size, event.remain_size)
    assert got == (type_, status, filled, remain)
    assert event.order_time_ms == order_time_ms and event.ts_ns > 10**18


def test_ws_order_match_carries_the_fill() -> None:
    """A match event carries this fill's price/size, trade id and liquidity."""
    event = p.parse_order_change(load_sample("ws/order_v1_match.json")["data"])
    assert (event.match_price, event.match_size, event.trade_id, event.liquidity) == (
        D("0.96738"), D("0.1"), "5efab07a4ee4c7000a82d6d9", "taker")
    assert (event.order_id, event.client_oid, event.symbol, event.side) == (
        "5efab07953bdea00089965fa", "1593487481000313", "KCS-USDT", Side.SELL)


def test_ws_balance_push() -> None:
    """account.balance: ``hold`` (singular), time as a ms STRING, the account from relationEvent."""
    event = p.parse_balance_push(load_sample("ws/account_balance.json")["data"])
    assert event.balance == Balance("USDT", D("20.132773386762"), D("1.001"))
    assert event.balance.total == D("21.133773386762")
    assert (event.relation_event, event.account, event.is_spot, event.ts_ms) == (
        "trade.hold", "trade", True, 1730269283892)


# ---------------------------------------------------------------- errors name the field


@pytest.mark.parametrize(("func", "payload", "field"), [
    (lambda d: p.parse_match(d), {**load_sample("ws/match.json")["data"], "price": 67523.0},
     "price"),
    (lambda d: p.parse_match(d),
     {k: v for k, v in load_sample("ws/match.json")["data"].items() if k != "time"}, "time"),
    (lambda d: p.parse_order(d), {**data("rest/hf_order_get_response.json"), "active": "false"},
     "active"),
    (lambda d: p.parse_symbol(d), {**data("rest/symbol_v2_btc_usdt.json"), "priceIncrement": "NaN"},
     "priceIncrement"),
    (lambda d: p.parse_balance_push(d),
     {**load_sample("ws/account_balance.json")["data"], "time": "17e5"}, "time"),
    (lambda d: p.parse_match(d), {**load_sample("ws/match.json")["data"], "side": "short"}, "side"),
], ids=["float-price", "missing-time", "string-bool", "nan-increment", "time-not-digits",
        "unknown-side"])
def test_bad_field_is_named(func, payload, field) -> None:
    """A missing or ill-typed required field raises KucoinProtocolError naming it."""
    with pytest.raises(KucoinProtocolError, match=repr(field)):
        func(payload)


def test_unknown_keys_are_ignored() -> None:
    """KuCoin adds fields often; extra keys change nothing."""
    wire = data("rest/hf_order_get_response.json")
    assert p.parse_order({**wire, "callauctionNew": [1, {"x": None}]}) == p.parse_order(wire)


# ---------------------------------------------------------------- fuzzing

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["0", "1.5", "-3", "1e400", "NaN", "Infinity", "", "١٢٣", "9" * 5000]),
    lambda children: (st.lists(children, max_size=5)
                      | st.dictionaries(st.text(max_size=8), children, max_size=5)),
    max_leaves=20,
)

PARSERS = {
    "symbol": (p.parse_symbol, "rest/symbol_v2_btc_usdt.json"),
    "symbols": (p.parse_symbols, "rest/symbols_v2.json"),
    "ticker": (lambda d: p.parse_ticker(d, "BTC-USDT"), "rest/ticker_level1.json"),
    "all_tickers": (p.parse_all_tickers, "rest/all_tickers.json"),
    "book": (p.parse_book_snapshot, "rest/orderbook_level2_20.json"),
    "trades": (lambda d: p.parse_trade_history(d, "BTC-USDT"), "rest/trade_histories.json"),
    "candles": (lambda d: p.parse_candles(d, "BTC-USDT", "1min"), "rest/candles_1min.json"),
    "bullet": (p.parse_bullet, "rest/bullet_public.json"),
    "accounts": (p.parse_accounts, "rest/accounts.json"),
    "order": (p.parse_order, "rest/hf_order_get_response.json"),
    "orders": (p.parse_orders, "rest/hf_orders_done.json"),
    "fills": (p.parse_fills, "rest/hf_fills.json"),
    "match": (p.parse_match, "ws/match.json"),
    "candle_push": (lambda d: p.parse_candle_push(d, "1hour"), "ws/candles.json"),
    "order_change": (p.parse_order_change, "ws/order_v1_match.json"),
    "balance_push": (p.parse_balance_push, "ws/account_balance.json"),
    "ws_ticker": (lambda d: p.parse_ticker(d, "BTC-USDT"), "ws/ticker.json"),
}


def _call(func, payload) -> None:
    with contextlib.suppress(KucoinProtocolError):
        assert func(payload) is not None


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", list(PARSERS))
@FUZZ
@given(payload=JSON)
def test_fuzz_arbitrary_json(name: str, payload) -> None:
    """Arbitrary JSON-ish input: a domain object or KucoinProtocolError, never another exception."""
    _call(PARSERS[name][0], payload)


def _paths(value, prefix=()):
    """Every (container path) inside a sample, so mutations reach nested fields."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@pytest.mark.parametrize("name", list(PARSERS))
@FUZZ
@given(pick=st.integers(min_value=0), replacement=JSON, delete=st.booleans())
def test_fuzz_mutated_samples(name: str, pick: int, replacement, delete: bool) -> None:
    """A real sample with one nested value replaced or deleted still yields a result or
    KucoinProtocolError."""
    func, rel = PARSERS[name]
    payload = copy.deepcopy(load_sample(rel)["data"])
    paths = [path for path in _paths(payload) if path]
    path = paths[pick % len(paths)]
    parent = payload
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    _call(func, payload)
