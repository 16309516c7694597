"""``StateReads``: the reads both feed drivers (live ``feed.py`` and the replay) answer from their
``KucoinMarketState`` core -- the ``MarketFeed`` reads and the ``ObservedFeed`` ones -- inherited
instead of each keeping a copy of the same delegations. Imports nothing above ``kucoin.client``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from dashboard.domain.interfaces import FeedListener
from dashboard.domain.models import BookSnapshot, Candle, Instrument, Ticker, Trade

from .book_sync import L2Router
from .market_state import FeedCounters, KucoinMarketState


class StateReads:
    """The reads of a driver whose core is ``self.state``."""

    state: KucoinMarketState

    @property
    def router(self) -> L2Router:
        return self.state.router

    @property
    def book_source(self) -> str:
        return self.state.book_source

    @property
    def counters(self) -> FeedCounters:
        return self.state.counters

    # ---- MarketFeed
    def instruments(self) -> Mapping[str, Instrument]:
        return self.state.instruments()

    def book(self, symbol: str, depth: int | None = None) -> BookSnapshot | None:
        return self.state.book(symbol, depth)

    def trades(self, symbol: str, limit: int = 100) -> Sequence[Trade]:
        return self.state.trades(symbol, limit)

    def ticker(self, symbol: str) -> Ticker | None:
        return self.state.ticker(symbol)

    def candles(self, symbol: str, interval: str) -> Sequence[Candle]:
        return self.state.candles(symbol, interval)

    # ---- ObservedFeed
    def add_listener(self, listener: FeedListener) -> None:
        self.state.listeners.append(listener)

    def remove_listener(self, listener: FeedListener) -> None:
        if listener in self.state.listeners:
            self.state.listeners.remove(listener)

    def clock_ns(self) -> int:
        return self.state.clock_ns()

    def book_sequences(self) -> Mapping[str, int | None]:
        return self.state.book_sequences()

    def top_key(self, symbol: str) -> Hashable:
        return self.state.top_key(symbol)

    def top_of_book(self, symbol: str) -> BookSnapshot | None:
        return self.state.top_of_book(symbol)

    def trades_seen(self) -> Mapping[str, int]:
        return self.state.trades_seen()
