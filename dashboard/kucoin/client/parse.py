"""Wire -> domain conversions for KuCoin REST ``data`` payloads and WebSocket push ``data``.

Pure functions: KuCoin's spelling goes in, snake_case domain objects with exact Decimals come out.
Unknown keys are ignored (KuCoin adds fields often, protocol.md §1.3); a missing or ill-typed
required field raises ``KucoinProtocolError`` naming it. Never float. Imports only the protocol
layer, the domain and ``kucoin.common`` (its errors and field readers): no I/O, no aiohttp, never
the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dashboard.domain.models import (
    Balance,
    Candle,
    Fill,
    Instrument,
    Order,
    OrderStatus,
    Side,
    Ticker,
    Trade,
)
from dashboard.kucoin.common import fields as fd
from dashboard.kucoin.common.errors import KucoinProtocolError

ZERO = Decimal(0)
_NS_THRESHOLD = 10**17  # orderTime: ms in current docs, ns in older pushes (§7.8)

Row = list[str]


# ---------------------------------------------------------------- field readers (kucoin.common)
_obj, _seq, _get, _str, _opt_str = fd.obj, fd.seq, fd.get, fd.text, fd.opt_text
_to_dec, _dec, _opt_dec, _to_int, _int = fd.to_dec, fd.dec, fd.opt_dec, fd.to_int, fd.integer
_bool, _side, _order_type, _id_text = fd.boolean, fd.side, fd.order_type, fd.id_text


# ---------------------------------------------------------------- REST: market data (§4)


def parse_symbol(row: object) -> Instrument:
    """GET /api/v2/symbols element: {"symbol":"BTC-USDT","baseCurrency":"BTC",
    "priceIncrement":"0.1",...}"""
    d = _obj(row, "symbol")
    return Instrument(
        symbol=_str(d, "symbol"), base=_str(d, "baseCurrency"), quote=_str(d, "quoteCurrency"),
        price_increment=_dec(d, "priceIncrement"), base_increment=_dec(d, "baseIncrement"),
        quote_increment=_dec(d, "quoteIncrement"), base_min_size=_dec(d, "baseMinSize"),
        base_max_size=_dec(d, "baseMaxSize"), quote_min_size=_dec(d, "quoteMinSize"),
        quote_max_size=_dec(d, "quoteMaxSize"),
        min_funds=_opt_dec(d, "minFunds") or ZERO,  # null for some symbols in older data (§4.3)
        enable_trading=_bool(d, "enableTrading"),
    )


def parse_symbols(data: object) -> list[Instrument]:
    return [parse_symbol(row) for row in _seq(data, "symbols")]


def parse_ticker(data: object, symbol: str) -> Ticker:
    """REST level1 and the WS ``/market/ticker:{symbol}`` push share one shape; the symbol comes
    from the request or the topic: {"bestAsk":"62163","bestAskSize":"0.99","bestBid":"62162.9",
    "bestBidSize":"0.04","price":"62162.9","sequence":"1621383371852","size":"0.008","time":1634641987564}"""
    d = _obj(data, "ticker")
    return Ticker(
        symbol=symbol,
        best_bid=_opt_dec(d, "bestBid"),
        best_bid_size=_opt_dec(d, "bestBidSize"),
        best_ask=_opt_dec(d, "bestAsk"),
        best_ask_size=_opt_dec(d, "bestAskSize"),
        last_price=_opt_dec(d, "price"),
        last_size=_opt_dec(d, "size"),
        ts_ms=_int(d, "time"),
    )


def parse_all_tickers(data: object) -> list[Ticker]:
    """GET /api/v1/market/allTickers: {"time":ms,"ticker":[{"symbol":..,"buy":..,"sell":..,
    "last":..}]}"""
    d = _obj(data, "allTickers")
    ts_ms = _int(d, "time")
    out = []
    for row in _seq(_get(d, "ticker"), "ticker"):
        r = _obj(row, "ticker")
        out.append(Ticker(symbol=_str(r, "symbol"), best_bid=_opt_dec(r, "buy"),
                          best_bid_size=_opt_dec(r, "bestBidSize"), best_ask=_opt_dec(r, "sell"),
                          best_ask_size=_opt_dec(r, "bestAskSize"), last_price=_opt_dec(r, "last"),
                          last_size=None, ts_ms=ts_ms))
    return out


def _levels(value: object, name: str) -> list[Row]:
    rows = _seq(value, name)
    for row in rows:
        if not (
            isinstance(row, list)
            and len(row) >= 2
            and isinstance(row[0], str)
            and isinstance(row[1], str)
        ):
            raise KucoinProtocolError(
                f"field {name!r}: a level must be [price, size] strings: {row!r:.60}"
            )
    return rows


def parse_book_snapshot(data: object) -> tuple[int, list[Row], list[Row]]:
    """level2_20/100 and v3 full book -> (sequence, bids, asks); rows keep KuCoin's strings so the
    book code converts them once: {"time":ms,"sequence":"14610502970","bids":[["66976.4","0.69"]],
    ...}"""
    d = _obj(data, "orderbook")
    return _int(d, "sequence"), _levels(_get(d, "bids"), "bids"), _levels(_get(d, "asks"), "asks")


def parse_trade_history(data: object, symbol: str) -> list[Trade]:
    """GET /api/v1/market/histories: [{"sequence":"1097...","price":"67122","size":"0.000025",
    "side":"buy","time":1729177117877000000}] (time in ns, side = taker)."""
    out = []
    for row in _seq(data, "histories"):
        d = _obj(row, "trade")
        out.append(Trade(symbol=symbol, trade_id=_id_text(d, "sequence"), price=_dec(d, "price"),
                         size=_dec(d, "size"), side=_side(d), ts_ns=_int(d, "time")))
    return out


def parse_candle_row(row: object, symbol: str, interval: str) -> Candle:
    """[start_s, open, close, high, low, volume, turnover]: close comes BEFORE high and low
    (§4.10)."""
    r = _seq(row, "candle")
    if len(r) < 7:
        raise KucoinProtocolError(f"field 'candles': a row needs 7 values, got {len(r)}")
    names = ("start", "open", "close", "high", "low", "volume", "turnover")
    start_s = _to_int(r[0], "start")
    o, c, h, lo, v, t = (
        _to_dec(value, name) for value, name in zip(r[1:7], names[1:], strict=True)
    )
    return Candle(
        symbol=symbol,
        interval=interval,
        start_s=start_s,
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        turnover=t,
    )


def parse_candles(data: object, symbol: str, interval: str) -> list[Candle]:
    """GET /api/v1/market/candles rows arrive newest first; returned oldest first."""
    candles = [parse_candle_row(row, symbol, interval) for row in _seq(data, "candles")]
    candles.sort(key=lambda candle: candle.start_s)
    return candles


@dataclass(frozen=True, slots=True)
class BulletToken:
    """POST /api/v1/bullet-public|private: where and how to connect (§6.1). Fetch one per
    connect."""

    token: str = ""
    endpoint: str = ""
    ping_interval_ms: int = 0
    ping_timeout_ms: int = 0

    def __repr__(self) -> str:  # the token is a credential for the WebSocket: keep it out of logs
        return f"BulletToken(endpoint={self.endpoint!r}, ping_interval_ms={self.ping_interval_ms})"

    def url(self, connect_id: str) -> str:
        return f"{self.endpoint}?token={self.token}&connectId={connect_id}"


def parse_bullet(data: object) -> BulletToken:
    d = _obj(data, "bullet")
    servers = _seq(_get(d, "instanceServers"), "instanceServers")
    if not servers:
        raise KucoinProtocolError("field 'instanceServers': empty")
    s = _obj(servers[0], "instanceServers")
    return BulletToken(
        token=_str(d, "token"),
        endpoint=_str(s, "endpoint"),
        ping_interval_ms=_int(s, "pingInterval"),
        ping_timeout_ms=_int(s, "pingTimeout"),
    )


# -------------------------------------------- REST: accounts, orders, fills (§5)

SPOT_ACCOUNT_TYPES = frozenset({"trade", "trade_hf"})


def parse_accounts(data: object) -> list[Balance]:
    """GET /api/v1/accounts: spot ("trade", tolerating "trade_hf") rows only; note ``holds``
    (plural)."""
    out = []
    for row in _seq(data, "accounts"):
        d = _obj(row, "account")
        if _str(d, "type") in SPOT_ACCOUNT_TYPES:
            out.append(
                Balance(
                    currency=_str(d, "currency"),
                    available=_dec(d, "available"),
                    hold=_dec(d, "holds"),
                )
            )
    return out


def order_status(active: bool, deal_size: Decimal, cancelled: bool) -> OrderStatus:
    """§5.5: active -> open (partially filled when dealSize > 0); done and cancelled -> cancelled;
    otherwise filled."""
    if active:
        return OrderStatus.PARTIALLY_FILLED if deal_size > 0 else OrderStatus.OPEN
    return OrderStatus.CANCELLED if cancelled else OrderStatus.FILLED


def parse_order(data: object) -> Order:
    """HF order object (classic tolerated: ``isActive``/``cancelExist``):
    {"id":"6717422bd51c29000775ea03","clientOid":"5c52...","symbol":"BTC-USDT","type":"limit","side":"buy",
    "price":"70000","size":"0.00001","dealSize":"0.00001","cancelledSize":"0","active":false,...}"""
    d = _obj(data, "order")
    active = _bool(d, "active" if "active" in d else "isActive")
    deal_size = _dec(d, "dealSize")
    if d.get("cancelledSize") is not None:
        cancelled = _dec(d, "cancelledSize") > 0
    else:
        cancelled = _bool(d, "cancelExist")
    created_ms = _int(d, "createdAt")
    updated = d.get("lastUpdatedAt")
    return Order(
        order_id=_str(d, "id"),
        client_oid=_opt_str(d, "clientOid"),
        symbol=_str(d, "symbol"),
        side=_side(d),
        type=_order_type(d, "type"),
        price=_dec(d, "price"),
        size=_dec(d, "size"),
        funds=_opt_dec(d, "funds"),
        filled_size=deal_size,
        filled_funds=_dec(d, "dealFunds"),
        fee=_dec(d, "fee"),
        status=order_status(active, deal_size, cancelled),
        created_ms=created_ms,
        updated_ms=created_ms if updated is None else _to_int(updated, "lastUpdatedAt"),
        time_in_force=_opt_str(d, "timeInForce") or "GTC",
        post_only=d.get("postOnly") is True,
    )


def parse_orders(data: object) -> list[Order]:
    """HF open orders (a bare list) or any page/cursor envelope with ``items``."""
    rows = _get(data, "items") if isinstance(data, dict) else data
    return [parse_order(row) for row in _seq(rows, "orders")]


def parse_fill(data: object) -> Fill:
    """HF fill: {"id":19814995255305,"orderId":"6717...","tradeId":11029373945659392,
    "symbol":"BTC-USDT",
    "side":"buy","liquidity":"taker","price":"67717.6","size":"0.00001","fee":"0.000677176",
    "feeCurrency":"USDT","createdAt":1729577515473} (ids are integers here, strings on classic
    fills)."""
    d = _obj(data, "fill")
    trade_id = _id_text(d, "tradeId")
    return Fill(fill_id=_id_text(d, "id") if "id" in d else trade_id, order_id=_str(d, "orderId"),
                trade_id=trade_id, symbol=_str(d, "symbol"), side=_side(d), price=_dec(d, "price"),
                size=_dec(d, "size"), fee=_dec(d, "fee"), fee_currency=_str(d, "feeCurrency"),
                liquidity=_str(d, "liquidity"), ts_ms=_int(d, "createdAt"))


def parse_fills(data: object) -> list[Fill]:
    rows = _get(data, "items") if isinstance(data, dict) else data
    return [parse_fill(row) for row in _seq(rows, "fills")]


# ---------------------------------------------------------------- WebSocket pushes (§7)


def parse_match(data: object) -> Trade:
    """/market/match: {"price":"67523","sequence":"1106...","side":"buy","size":"0.003",
    "symbol":"BTC-USDT",
    "time":"1729843222921000000","tradeId":"1106...","type":"match"} (time: ns as a STRING)."""
    d = _obj(data, "match")
    return Trade(symbol=_str(d, "symbol"), trade_id=_id_text(d, "tradeId"), price=_dec(d, "price"),
                 size=_dec(d, "size"), side=_side(d), ts_ns=_int(d, "time"))


def parse_candle_push(data: object, interval: str) -> Candle:
    """/market/candles:{symbol}_{type}: {"symbol":"BTC-USDT","candles":["1729839600","67644.9",...],
    "time":1729842192785164840}; the interval comes from the topic."""
    d = _obj(data, "candles")
    return parse_candle_row(_get(d, "candles"), _str(d, "symbol"), interval)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One ``orderChange`` push in domain terms. ``type`` is KuCoin's event (received, open, match,
    update, filled, canceled); ``status`` the order's state after it."""

    order_id: str
    client_oid: str
    symbol: str
    side: Side
    type: str
    status: OrderStatus
    filled_size: Decimal  # cumulative
    remain_size: Decimal | None
    match_price: Decimal | None  # this fill only (type == "match")
    match_size: Decimal | None
    trade_id: str | None
    liquidity: str | None
    ts_ns: int
    order_time_ms: int | None


_EVENT_STATUS = {
    "received": OrderStatus.NEW,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
}


def _event_status(event: str, wire_status: str, filled: Decimal) -> OrderStatus:
    if event in _EVENT_STATUS:
        return _EVENT_STATUS[event]
    if wire_status == "done":  # an "update" that ended the order: the unfilled rest was cancelled
        return OrderStatus.CANCELLED
    return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN


def parse_order_change(data: object) -> OrderEvent:
    """/spotMarket/tradeOrdersV2 (and V1): {"orderId":"6720...","clientOid":"5c52...",
    "symbol":"BTC-USDT",
    "side":"buy","type":"open","status":"open","filledSize":"0","remainSize":"0.00001",
    "ts":1730211033335000000,"orderTime":1730211033305}"""
    d = _obj(data, "orderChange")
    event, wire_status = _str(d, "type"), _str(d, "status")
    filled = _opt_dec(d, "filledSize") or ZERO
    order_time = d.get("orderTime")
    order_time_ms = None if order_time is None else _to_int(order_time, "orderTime")
    if order_time_ms is not None and abs(order_time_ms) >= _NS_THRESHOLD:  # older pushes: ns (§7.8)
        order_time_ms //= 1_000_000
    trade_id = d.get("tradeId")
    return OrderEvent(
        order_id=_str(d, "orderId"),
        client_oid=_opt_str(d, "clientOid"),
        symbol=_str(d, "symbol"),
        side=_side(d),
        type=event,
        status=_event_status(event, wire_status, filled),
        filled_size=filled,
        remain_size=_opt_dec(d, "remainSize"),
        match_price=_opt_dec(d, "matchPrice"),
        match_size=_opt_dec(d, "matchSize"),
        trade_id=None if trade_id is None else _id_text(d, "tradeId"),
        liquidity=_opt_str(d, "liquidity") or None,
        ts_ns=_int(d, "ts"),
        order_time_ms=order_time_ms,
    )


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    """One ``account.balance`` push: the absolute balance after the change and what caused it."""

    balance: Balance
    relation_event: str  # "<account>.<event>", e.g. "trade.hold", "trade_hf.setted", "main.deposit"
    ts_ms: int

    @property
    def account(self) -> str:
        return self.relation_event.split(".", 1)[0]

    @property
    def is_spot(self) -> bool:
        return self.account in SPOT_ACCOUNT_TYPES


def parse_balance_push(data: object) -> BalanceEvent:
    """/account/balance: {"currency":"USDT","total":"21.13","available":"20.13","hold":"1.001",
    "relationEvent":"trade.hold","time":"1730269283892"} (``hold`` singular; time: ms as a
    STRING)."""
    d = _obj(data, "balance")
    balance = Balance(
        currency=_str(d, "currency"), available=_dec(d, "available"), hold=_dec(d, "hold")
    )
    return BalanceEvent(
        balance=balance, relation_event=_opt_str(d, "relationEvent"), ts_ms=_int(d, "time")
    )
