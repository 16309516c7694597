"""Domain models shared by the feed, the hub and the UI. Prices and sizes are exact Decimals;
times carry their unit in the name (``ts_ms``, ``ts_ns``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "GTC"
    GTT = "GTT"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    PENDING = "pending"  # sent, no answer yet
    NEW = "new"  # accepted by the exchange
    OPEN = "open"  # resting on the book
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # outcome not known yet (timeout); resolved by clientOid


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable pair and its order rules."""

    symbol: str
    base: str
    quote: str
    price_increment: Decimal
    base_increment: Decimal
    quote_increment: Decimal
    base_min_size: Decimal
    base_max_size: Decimal
    quote_min_size: Decimal
    quote_max_size: Decimal
    min_funds: Decimal
    enable_trading: bool = True


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    trade_id: str
    price: Decimal
    size: Decimal
    side: Side  # taker side
    ts_ns: int


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    best_bid: Decimal | None
    best_bid_size: Decimal | None
    best_ask: Decimal | None
    best_ask_size: Decimal | None
    last_price: Decimal | None
    last_size: Decimal | None
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Candle:
    symbol: str
    interval: str  # KuCoin's names: "1min", "1hour", ...
    start_s: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """An immutable view of a book: bids high->low, asks low->high."""

    symbol: str
    sequence: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the user asks for, before rounding and validation."""

    symbol: str
    side: Side
    type: OrderType
    size: Decimal | None = None
    price: Decimal | None = None
    funds: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    cancel_after_s: int | None = None
    client_oid: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    client_oid: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal
    size: Decimal
    funds: Decimal | None
    filled_size: Decimal
    filled_funds: Decimal
    fee: Decimal
    status: OrderStatus
    created_ms: int
    updated_ms: int
    time_in_force: str = "GTC"
    post_only: bool = False


@dataclass(frozen=True, slots=True)
class Submitted:
    """An order the venue has: its id, the clientOid it was sent with, and how it got there."""

    order_id: str
    client_oid: str
    attempts: int = 1
    resolved_by_query: bool = False  # the answer was lost; the order was found by clientOid


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    order_id: str
    trade_id: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str  # "maker" | "taker"
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    available: Decimal
    hold: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.hold


class FeedState(StrEnum):
    CONNECTING = "connecting"
    SYNCING = "syncing"  # subscribed, waiting for a snapshot that bridges the buffer
    LIVE = "live"
    STALE = "stale"  # no message for longer than expected on a channel that should be moving
    RESYNCING = "resyncing"  # gap or crossed book: rebuilding
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Health of one feed, as shown in the UI."""

    state: FeedState
    messages: int = 0
    msgs_per_s: float = 0.0
    last_msg_age_s: float | None = None
    gaps: int = 0
    resyncs: int = 0
    reconnects: int = 0
    bad_frames: int = 0
    latency_ms: float | None = None
    detail: str = ""  # the feed's remark on what it shows (partial depth, a replay's position)
    per_symbol: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # what is wrong and what is being retried, in words ("" when nothing is)
