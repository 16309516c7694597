"""Market data derived from the engine's trades: trade history, candles, ticker and 24 h stats.

A listener on ``engine.Exchange``; the REST and WebSocket layers read from it. Candles are kept
in two stores, minutes (recent) and hours (long history), each bounded, so memory stays flat.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from dashboard.kucoin.protocol.numbers import fmt
from dashboard.kucoin.protocol.spot import CANDLE_TYPES

from .catalog import SymbolRules

MINUTES_KEPT = 3 * 24 * 60
HOURS_KEPT = 180 * 24
HISTORY_KEPT = 100


@dataclass(slots=True)
class Candle:
    """One OHLCV bucket; start in seconds."""

    start: int
    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal = Decimal(0)
    turnover: Decimal = Decimal(0)

    def add(self, price: Decimal, size: Decimal) -> None:
        self.close = price
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.volume += size
        self.turnover += price * size

    def merge(self, other: Candle) -> None:
        self.close = other.close
        self.high = max(self.high, other.high)
        self.low = min(self.low, other.low)
        self.volume += other.volume
        self.turnover += other.turnover

    def to_wire(self) -> list[str]:
        """KuCoin row order: [start(s), open, close, high, low, volume, turnover] (§4.10)."""
        return [str(self.start), fmt(self.open), fmt(self.close), fmt(self.high), fmt(self.low),
                fmt(self.volume), fmt(self.turnover)]


def bucket_start(ts_s: int, type_: str) -> int:
    """Start of the KuCoin candle containing ts_s (weeks start on Monday, as on KuCoin)."""
    width = CANDLE_TYPES[type_]
    if type_ == "1week":
        return (ts_s - 4 * 86400) // width * width + 4 * 86400  # 1970-01-05 was a Monday
    return ts_s // width * width


class _Store:
    """Candles of one width, bounded, keyed by start."""

    def __init__(self, width_s: int, keep: int) -> None:
        self.width_s = width_s
        self.rows: dict[int, Candle] = {}
        self.order: deque[int] = deque()
        self.keep = keep

    def add(self, ts_s: int, price: Decimal, size: Decimal) -> None:
        start = ts_s // self.width_s * self.width_s
        row = self.rows.get(start)
        if row is None:
            prev = self.rows[self.order[-1]].close if self.order else price
            row = Candle(start, prev, prev, max(prev, price), min(prev, price))
            self.put(row)
        row.add(price, size)

    def put(self, row: Candle) -> None:
        if self.order and row.start <= self.order[-1]:
            self.rows[row.start] = row
            return
        self.rows[row.start] = row
        self.order.append(row.start)
        while len(self.order) > self.keep:
            self.rows.pop(self.order.popleft(), None)


@dataclass(slots=True)
class SymbolData:
    rules: SymbolRules
    trades: deque = field(default_factory=lambda: deque(maxlen=HISTORY_KEPT))
    minutes: _Store = field(default_factory=lambda: _Store(60, MINUTES_KEPT))
    hours: _Store = field(default_factory=lambda: _Store(3600, HOURS_KEPT))
    last_price: Decimal | None = None
    last_size: Decimal | None = None
    last_sequence: int = 0
    last_time_ms: int = 0


class MarketData:
    """Trade-derived state for every symbol. Listener methods are called by the engine."""

    def __init__(self, symbols: list[SymbolRules]) -> None:
        self.symbols = {r.symbol: SymbolData(r) for r in symbols}
        self.trade_listeners: list = []

    # ---- engine listener
    def on_trade(self, symbol: str, trade) -> None:
        data = self.symbols[symbol]
        data.trades.append(trade)
        ts_s = trade.time_ns // 1_000_000_000
        data.minutes.add(ts_s, trade.price, trade.size)
        data.hours.add(ts_s, trade.price, trade.size)
        data.last_price, data.last_size = trade.price, trade.size
        data.last_sequence, data.last_time_ms = trade.sequence, trade.time_ns // 1_000_000

    # ---- synthetic history so charts have something to show at start
    def seed_history(self, now_s: int, seed: int = 1) -> None:
        """Random-walk candles ending at each symbol's reference price: hours for 180 days,
        minutes for 3."""
        rng = random.Random(seed)
        for data in self.symbols.values():
            ref = float(data.rules.ref_price)
            inc = data.rules.price_increment
            stores = ((data.hours, HOURS_KEPT, 0.006), (data.minutes, MINUTES_KEPT, 0.0008))
            for store, count, vol in stores:
                end = now_s // store.width_s * store.width_s
                closes = [ref]
                for _ in range(count - 1):
                    closes.append(closes[-1] * (1 - rng.gauss(0, vol)))
                closes.reverse()  # walk backwards from ref so the newest close is near ref
                prev = closes[0]
                for i, close in enumerate(closes):
                    start = end - (count - 1 - i) * store.width_s
                    hi = max(prev, close) * (1 + abs(rng.gauss(0, vol / 2)))
                    lo = min(prev, close) * (1 - abs(rng.gauss(0, vol / 2)))
                    o, c, h, low = (_q(x, inc) for x in (prev, close, hi, lo))
                    volume = Decimal(str(round(
                        rng.lognormvariate(0, 1) * 20000 / ref * store.width_s / 60, 8)))
                    store.put(Candle(start, o, c, max(h, o, c), min(low, o, c), volume, volume * c))
                    prev = close
            data.last_price = data.minutes.rows[data.minutes.order[-1]].close

    # ---- queries
    def candles(self, symbol: str, type_: str, start_s: int, end_s: int,
                limit: int = 1500) -> list[Candle]:
        """Rows with start_s <= t < end_s, newest first, aggregated from the best store."""
        data = self.symbols[symbol]
        width = CANDLE_TYPES[type_]
        store = data.hours if width >= 3600 else data.minutes
        out: dict[int, Candle] = {}
        # the rows in range, found from the newest end: the live candle's push asks for the last
        # minute or so, and a scan of the whole store (days of rows) per push was 8 % of a served
        # app's CPU at 50 sessions (py-spy). A row before start_s lies in a bucket before it too.
        starts: list[int] = []
        for start in reversed(store.order):
            if start < start_s:
                break
            starts.append(start)
        for start in reversed(starts):  # oldest first: open from the first row, close the last
            b = bucket_start(start, type_)
            if not (start_s <= b < end_s):
                continue
            row = store.rows[start]
            agg = out.get(b)
            if agg is None:
                out[b] = Candle(b, row.open, row.close, row.high, row.low, row.volume, row.turnover)
            else:
                agg.merge(row)
        return [out[k] for k in sorted(out, reverse=True)[:limit]]

    def current_candle(self, symbol: str, type_: str, now_s: int) -> Candle | None:
        rows = self.candles(symbol, type_, bucket_start(now_s, type_), now_s + 1, 1)
        return rows[0] if rows else None

    def stats_24h(self, symbol: str, now_s: int) -> dict[str, Decimal | None]:
        data = self.symbols[symbol]
        since = now_s - 86400
        rows = [data.minutes.rows[s] for s in data.minutes.order if s >= since]
        if not rows:
            return {"open": None, "high": None, "low": None, "vol": Decimal(0),
                    "volValue": Decimal(0),
                    "last": data.last_price}
        return {
            "open": rows[0].open, "high": max(r.high for r in rows),
            "low": min(r.low for r in rows),
            "vol": sum((r.volume for r in rows), Decimal(0)),
            "volValue": sum((r.turnover for r in rows), Decimal(0)), "last": data.last_price,
        }


def _q(x: float, inc: Decimal) -> Decimal:
    return (Decimal(repr(x)) / inc).quantize(Decimal(1)) * inc
