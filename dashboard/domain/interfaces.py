"""What the hub and the UI know of a market source and an order path (typing.Protocol only).

Any feed works: the KuCoin client against api.kucoin.com or the simulator, a replay, or a fake in
a notebook or test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from .models import Balance, BookSnapshot, Candle, FeedStatus, Fill, Instrument, Order, OrderRequest, Ticker, Trade


@runtime_checkable
class MarketFeed(Protocol):
    """Live market data for a set of symbols. Reads are synchronous views of the newest state."""

    symbols: Sequence[str]

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def instruments(self) -> Mapping[str, Instrument]: ...
    def book(self, symbol: str, depth: int | None = None) -> BookSnapshot | None:
        """The synced book, or None while it is not trustworthy (syncing, gap, stale)."""
    def trades(self, symbol: str, limit: int = 100) -> Sequence[Trade]:
        """Most recent trades, oldest first."""
    def ticker(self, symbol: str) -> Ticker | None: ...
    def candles(self, symbol: str, interval: str) -> Sequence[Candle]:
        """History then live, oldest first (empty until loaded with ``load_candles``)."""
    async def load_candles(self, symbol: str, interval: str) -> None: ...
    def status(self) -> FeedStatus: ...


@runtime_checkable
class OrderGatewayPort(Protocol):
    """Placing and watching orders; every refusal names its rule."""

    def preview(self, req: OrderRequest) -> Mapping[str, object]:
        """The request body ``submit`` would send for ``req`` (shown in the ticket before confirming)."""
        ...

    async def submit(self, req: OrderRequest, reference_price: Decimal | None = None) -> object: ...
    async def cancel(self, symbol: str, order_id: str) -> None: ...
    async def cancel_all(self, symbol: str | None = None) -> None: ...
    async def kill(self) -> None: ...
    def open_orders(self) -> Sequence[Order]: ...
    def balances(self) -> Sequence[Balance]: ...
    def fills(self) -> Sequence[Fill]: ...
