"""What the hub and the UI know of a market source and an order path (typing.Protocol only).

Any feed works: the KuCoin client against api.kucoin.com or the simulator, a replay, or a fake in
a notebook or test. Any account works the same way: its methods raise only ``domain.errors``.
Imports only ``domain``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from .models import (
    Balance,
    BookSnapshot,
    Candle,
    FeedStatus,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    Submitted,
    Ticker,
    Trade,
)


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
    """Placing and watching orders for one account, shared by every session of the process.

    Refusals raise ``OrderRejected`` (``OrderRuleError`` when refused before sending, naming the
    rule); an order whose fate is unknown raises ``OrderOutcomeUnknown``; an unreachable venue
    ``ExchangeUnavailable``; a refused key ``CredentialsRefused``. Nothing else is raised.
    """

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    def preview(self, req: OrderRequest, reference_price: Decimal | None = None
                ) -> Mapping[str, object]:
        """The body ``submit`` would send for ``req``, after every check ``submit`` makes (the same
        guard): raises OrderRuleError for what ``submit`` would refuse before sending."""
        ...

    async def submit(self, req: OrderRequest, reference_price: Decimal | None = None
                     ) -> Submitted: ...
    async def cancel(self, symbol: str, order_id: str) -> None: ...
    async def cancel_all(self, symbol: str | None = None) -> None: ...

    def kill_switch_engaged(self) -> bool:
        """True while the kill switch blocks order entry (for every session)."""
        ...

    async def engage_kill_switch(self) -> None:
        """Block new orders, then cancel every open order."""
    async def reset_kill_switch(self) -> None:
        """Allow order entry again: a deliberate, confirmed act of whoever operates the server."""
    def open_orders(self) -> Sequence[Order]: ...
    def balances(self) -> Sequence[Balance]: ...
    def fills(self) -> Sequence[Fill]: ...
