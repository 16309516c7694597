"""Every push payload the simulator emits, built in one place, and the outbox that delivers the
engine's events to its listeners at the end of each action.

Each builder returns the ``data`` of one WebSocket push as the matching TypedDict of
``kucoin/protocol/schemas.py`` (the server wraps it in ``messages.push``), and quotes one trimmed
real payload (``tests/fixtures/shared/kucoin/samples/ws/``). Pure: imports
``dashboard.kucoin.protocol`` and the simulator's record types only; never the server or any I/O.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol, cast

from dashboard.kucoin.protocol.numbers import fmt
from dashboard.kucoin.protocol.schemas import (
    BalanceChange,
    CandleData,
    DepthSnapshot,
    Level1Data,
    Level2Increment,
    MatchData,
    OrderChange,
    PriceLevel,
    Side,
    TickerData,
)

from .marketdata import Candle
from .orders import Order, Trade

logger = logging.getLogger(__name__)

Level = tuple[Decimal, Decimal]  # (price, size)
BookChange = tuple[str, Decimal, Decimal, int]  # ("bids" | "asks", price, new size, sequence)


# ---------------------------------------------------------------- public market data


def level2_increment(symbol: str, seq_start: int, seq_end: int, changes: Iterable[BookChange],
                     time_ms: int) -> Level2Increment:
    """/market/level2 data (§7.4): one engine action; sequences are ints, change sequences strings.

    ``{"changes":{"asks":[["67993.3","1.21427407","14701689783"]],"bids":[]},
    "sequenceEnd":14701689783,"sequenceStart":14701689783,"symbol":"BTC-USDT","time":1729816425625}``
    """
    asks: list[list[str]] = []
    bids: list[list[str]] = []
    for side, price, size, seq in changes:
        (asks if side == "asks" else bids).append([fmt(price), fmt(size), str(seq)])
    return {"changes": {"asks": asks, "bids": bids}, "sequenceEnd": seq_end,
            "sequenceStart": seq_start, "symbol": symbol, "time": time_ms}


def match(trade: Trade) -> MatchData:
    """/market/match data (§7.6): ``side`` is the taker's, ``time`` a nanosecond string.

    ``{"makerOrderId":"671b5007389355000701b1d3","price":"67523","sequence":"11067996711960577",
    "side":"buy","size":"0.003","symbol":"BTC-USDT","takerOrderId":"671b50161777ff00074c168d",
    "time":"1729843222921000000","tradeId":"11067996711960577","type":"match"}``
    """
    return {"makerOrderId": trade.maker_order_id, "price": fmt(trade.price),
            "sequence": str(trade.sequence), "side": cast(Side, trade.side),
            "size": fmt(trade.size),
            "symbol": trade.symbol, "takerOrderId": trade.taker_order_id,
            "time": str(trade.time_ns), "tradeId": str(trade.trade_id), "type": "match"}


def depth(bids: Iterable[Level], asks: Iterable[Level], now_ms: int) -> DepthSnapshot:
    """/spotMarket/level2Depth5|50 data (§7.5): the top levels, no sequence; note ``timestamp``.

    ``{"asks":[["67996.7","1.14213262"],["67996.8","0.21748212"]],
    "bids":[["67996.6","0.37969491"],["67995.3","0.20779746"]],"timestamp":1729822226746}``
    """
    return {"asks": [[fmt(p), fmt(s)] for p, s in asks],
            "bids": [[fmt(p), fmt(s)] for p, s in bids], "timestamp": now_ms}


def ticker(bid: Level | None, ask: Level | None, last_price: Decimal | None,
           last_size: Decimal | None, sequence: int, now_ms: int) -> TickerData:
    """/market/ticker data (§7.2): best bid/ask and the last trade; ``sequence`` a string.

    ``{"bestAsk":"62163","bestAskSize":"0.99011388","bestBid":"62162.9","bestBidSize":"0.04794181",
    "price":"62162.9","sequence":"1621383371852","size":"0.00832274","time":1634641987564}``
    """
    return {"bestAsk": _opt(ask[0]) if ask else None, "bestAskSize": _opt(ask[1]) if ask else None,
            "bestBid": _opt(bid[0]) if bid else None, "bestBidSize": _opt(bid[1]) if bid else None,
            "price": _opt(last_price), "sequence": str(sequence), "size": _opt(last_size),
            "time": now_ms}


def level1(bid: Level | None, ask: Level | None, now_ms: int) -> Level1Data:
    """/spotMarket/level1 data (§7.5): flat pairs, ``[]`` for an empty side.

    ``{"asks":["68145.8","0.51987471"],"bids":["68145.7","1.29267802"],"timestamp":1729816058766}``
    """
    return {"asks": _pair(ask), "bids": _pair(bid), "timestamp": now_ms}


def candle(symbol: str, row: Candle, now_ms: int) -> CandleData:
    """/market/candles data (§7.7): the open candle in the REST row layout; ``time`` in ns.

    ``{"symbol":"BTC-USDT","candles":["1729839600","67644.9","67437.6","67724.8","67243.8",
    "44.88321441","3027558.991928447"],"time":1729842192785164840}``
    """
    return {"symbol": symbol, "candles": row.to_wire(), "time": now_ms * 1_000_000}


def _opt(x: Decimal | None) -> str | None:
    return fmt(x) if x is not None else None


def _pair(level: Level | None) -> PriceLevel:
    return [fmt(level[0]), fmt(level[1])] if level else []


# ---------------------------------------------------------------- private


def order_change(order: Order, type_: str, status: str, now_ms: int) -> OrderChange:
    """/spotMarket/tradeOrdersV2 data (§7.8): one lifecycle event; ``ts`` ns, ``orderTime`` ms.

    ``{"canceledSize":"0","clientOid":"5c52e11203aa677f33e493fb","filledSize":"0",
    "orderId":"6720ecd9ec71f4000747731a","orderTime":1730211033305,"orderType":"limit",
    "originSize":"0.00001","price":"50000","remainSize":"0.00001","side":"buy","size":"0.00001",
    "status":"open","symbol":"BTC-USDT","ts":1730211033335000000,"type":"open"}``
    """
    data: OrderChange = {
        "symbol": order.symbol, "orderType": order.type, "side": cast(Side, order.side),
        "orderId": order.id, "clientOid": order.client_oid, "type": type_, "status": status,
        "orderTime": order.created_at, "originSize": fmt(order.size), "size": fmt(order.size),
        "filledSize": fmt(order.deal_size), "remainSize": fmt(order.remain_size),
        "canceledSize": fmt(order.cancelled_size), "price": fmt(order.price),
        "ts": now_ms * 1_000_000,
    }
    if order.funds is not None:
        data["originFunds"] = fmt(order.funds)
        left = order.funds - order.deal_funds - order.fee
        data["remainFunds"] = fmt(left) if order.active else "0"
    return data


def order_match(order: Order, price: Decimal, size: Decimal, trade_id: int, liquidity: str,
                now_ms: int) -> OrderChange:
    """A ``match`` event: status ``match`` for the taker, ``open`` for a maker that keeps resting.

    ``{..., "liquidity":"taker","type":"match","feeType":"takerFee","matchPrice":"0.96738",
    "matchSize":"0.1","tradeId":"5efab07a4ee4c7000a82d6d9","status":"match", ...}``
    """
    status = "match" if liquidity == "taker" else "open"
    data = order_change(order, "match", status, now_ms)
    data["matchPrice"] = fmt(price)
    data["matchSize"] = fmt(size)
    data["tradeId"] = str(trade_id)
    data["liquidity"] = liquidity
    data["feeType"] = f"{liquidity}Fee"
    return data


def balance_change(user_id: str, order: Order, currency: str, balance: Sequence[Decimal],
                   changes: tuple[Decimal, Decimal], event: str, event_id: str,
                   now_ms: int) -> BalanceChange:
    """/account/balance data (§7.9): absolute values after the change, signed changes, ms string.

    ``balance`` is ``(available, hold)`` after the change, ``changes`` their signed changes.
    ``{"accountId":"548674591753","currency":"USDT","total":"21.133773386762",
    "available":"20.132773386762","hold":"1.001","availableChange":"-0.5005","holdChange":"0.5005",
    "relationContext":{"symbol":"BTC-USDT","orderId":"6721d0632db25b0007071fdc"},
    "relationEvent":"trade.hold","relationEventId":"354689988084000","time":"1730269283892"}``
    """
    available, hold = balance
    return {
        "accountId": f"{user_id}-{currency}-trade", "currency": currency,
        "total": fmt(available + hold), "available": fmt(available), "hold": fmt(hold),
        "availableChange": fmt(changes[0]), "holdChange": fmt(changes[1]),
        "relationContext": {"symbol": order.symbol, "orderId": order.id},
        "relationEvent": event, "relationEventId": event_id, "time": str(now_ms),
    }


# ---------------------------------------------------------------- delivery


class Recipient(Protocol):
    """The owner of an order, as the outbox needs it (``accounts.User`` is one)."""

    id: str
    unlimited: bool


class Outbox:
    """Engine events of the action in progress, delivered to ``listeners`` when it ends.

    A listener is any object with some of ``on_book_changes(symbol, seq_start, seq_end, changes,
    time_ms)``, ``on_trade(symbol, Trade)``, ``on_order_event(user_id, OrderChange)`` and
    ``on_balance(user_id, BalanceChange)``. One that raises is logged and skipped, so it cannot
    leave the engine half way through an action. Unlimited (market-making) agents get no private
    events.
    """

    def __init__(self) -> None:
        self.listeners: list[object] = []
        self._queued: list[tuple[str, tuple[Any, ...]]] = []
        self._balance_ids = itertools.count(354_689_988_084_000)

    def trade(self, symbol: str, trade: Trade) -> None:
        if self.listeners:
            self._queued.append(("on_trade", (symbol, trade)))

    def order(self, user: Recipient, order: Order, type_: str, status: str, now_ms: int) -> None:
        if not user.unlimited:  # checked first: agents place most orders, build nothing for them
            self._queued.append(("on_order_event", (user.id, order_change(order, type_, status,
                                                                          now_ms))))

    def order_match(self, user: Recipient, order: Order, price: Decimal, size: Decimal,
                    trade_id: int, liquidity: str, now_ms: int) -> None:
        if not user.unlimited:
            data = order_match(order, price, size, trade_id, liquidity, now_ms)
            self._queued.append(("on_order_event", (user.id, data)))

    def balance(self, user_id: str, order: Order, currency: str, balance: Sequence[Decimal],
                changes: tuple[Decimal, Decimal], event: str, now_ms: int) -> None:
        data = balance_change(user_id, order, currency, balance, changes, event,
                              str(next(self._balance_ids)), now_ms)
        self._queued.append(("on_balance", (user_id, data)))

    def deliver(self, book_changes: tuple[str, int, int, list[BookChange], int] | None) -> None:
        """End of an action: one book-change callback first, then the queued events in order."""
        if book_changes is not None:
            self._call("on_book_changes", book_changes)
        queued, self._queued = self._queued, []
        for name, args in queued:
            self._call(name, args)

    def _call(self, name: str, args: tuple[Any, ...]) -> None:
        for listener in self.listeners:
            fn = getattr(listener, name, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except Exception:
                logger.exception("engine listener %r failed in %s", listener, name)
