"""KuCoin wire schemas in KuCoin's spelling (shared/kucoin/protocol.md §4-§7).

Numbers stay strings where KuCoin sends strings; times keep KuCoin's units (ms, trade and
match times in nanoseconds, candle starts in seconds). TypedDicts document and type-check
the payloads both the simulator emits and the client parses.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

Side = Literal["buy", "sell"]
PriceLevel = list[str]  # [price, size]
L2Change = list[str]  # [price, size, sequence]


class SymbolV2(TypedDict):
    """GET /api/v2/symbols element: {"symbol":"BTC-USDT","priceIncrement":"0.1",...}"""

    symbol: str
    name: str
    baseCurrency: str
    quoteCurrency: str
    feeCurrency: str
    market: str
    baseMinSize: str
    quoteMinSize: str
    baseMaxSize: str
    quoteMaxSize: str
    baseIncrement: str
    quoteIncrement: str
    priceIncrement: str
    priceLimitRate: str
    minFunds: str
    isMarginEnabled: bool
    enableTrading: bool
    feeCategory: int
    makerFeeCoefficient: str
    takerFeeCoefficient: str
    st: bool


class OrderBookSnapshot(TypedDict):
    """level2_20 / level2_100 / v3 full:
    {"time":ms,"sequence":"1461...","bids":[[p,s]],"asks":[[p,s]]}"""

    time: int
    sequence: str
    bids: list[PriceLevel]
    asks: list[PriceLevel]


class Level2Changes(TypedDict):
    asks: list[L2Change]
    bids: list[L2Change]


class Level2Increment(TypedDict):
    """/market/level2 data: sequenceStart/End are ints, change sequences strings (§7.4)."""

    changes: Level2Changes
    sequenceStart: int
    sequenceEnd: int
    symbol: str
    time: int


class DepthSnapshot(TypedDict):
    """/spotMarket/level2Depth5|50 data: {"asks":[[p,s]],"bids":[[p,s]],"timestamp":ms}"""

    asks: list[PriceLevel]
    bids: list[PriceLevel]
    timestamp: int


class MatchData(TypedDict):
    """/market/match data; time is a nanosecond *string* (§7.6)."""

    makerOrderId: str
    price: str
    sequence: str
    side: Side
    size: str
    symbol: str
    takerOrderId: str
    time: str
    tradeId: str
    type: Literal["match"]


class TradeHistory(TypedDict):
    """GET /api/v1/market/histories element; time is an int in nanoseconds (§4.9)."""

    sequence: str
    price: str
    size: str
    side: Side
    time: int


class TickerData(TypedDict):
    """/market/ticker data (§7.2); a side with no order is null, as is a last trade not yet made."""

    bestAsk: str | None
    bestAskSize: str | None
    bestBid: str | None
    bestBidSize: str | None
    price: str | None
    sequence: str
    size: str | None
    time: int


class Level1Data(TypedDict):
    """/spotMarket/level1 data (§7.5): flat [price, size] pairs, empty when that side is empty."""

    asks: PriceLevel
    bids: PriceLevel
    timestamp: int


class CandleData(TypedDict):
    """/market/candles data: candles = [start s, open, close, high, low, volume, turnover]."""

    symbol: str
    candles: list[str]
    time: int


class InstanceServer(TypedDict):
    endpoint: str
    encrypt: bool
    protocol: str
    pingInterval: int
    pingTimeout: int


class BulletData(TypedDict):
    token: str
    instanceServers: list[InstanceServer]


class OrderChange(TypedDict):
    """/spotMarket/tradeOrdersV2 data (§7.8); ``ts`` in ns, ``orderTime`` in ms."""

    symbol: str
    orderType: str
    side: Side
    orderId: str
    clientOid: str
    type: str
    status: str
    orderTime: int
    originSize: str
    originFunds: NotRequired[str]  # market orders by funds
    size: NotRequired[str]
    filledSize: NotRequired[str]
    remainSize: NotRequired[str]
    remainFunds: NotRequired[str]
    canceledSize: NotRequired[str]
    price: NotRequired[str]
    ts: int
    matchPrice: NotRequired[str]
    matchSize: NotRequired[str]
    tradeId: NotRequired[str]
    liquidity: NotRequired[str]
    feeType: NotRequired[str]
    oldSize: NotRequired[str]


class BalanceChange(TypedDict):
    """/account/balance data; time is a ms *string* (§7.9)."""

    accountId: str
    currency: str
    total: str
    available: str
    hold: str
    availableChange: str
    holdChange: str
    relationContext: dict[str, str]
    relationEvent: str
    relationEventId: str
    time: str
