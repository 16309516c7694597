"""What the hub and the UI know of a market source and an order path (typing.Protocol only).

Any feed works: the KuCoin client against api.kucoin.com or the simulator, a replay, or a fake in
a notebook or test. Any account works the same way: its methods raise only ``domain.errors``.
Imports only ``domain``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
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


class FeedListener(Protocol):
    """Told around every input a feed's core takes (a frame, a snapshot, a disconnect), with the
    feed's own clock (``ObservedFeed.clock_ns``): ``before_event`` sees the state the input is
    about to change, ``after_event`` the state it left. Both run on the feed's loop, in the hot
    path: they must be cheap and must not raise."""

    def before_event(self, ts_ns: int) -> None: ...
    def after_event(self, ts_ns: int) -> None: ...


@runtime_checkable
class ObservedFeed(Protocol):
    """A ``MarketFeed`` that says when it changes, cheaply enough to be asked on every input:
    what the research collector (``dashboard.research.collector``) needs to see every change of
    the top of book and every trade, and the book exactly at each column boundary."""

    def add_listener(self, listener: FeedListener) -> None: ...
    def remove_listener(self, listener: FeedListener) -> None: ...

    def clock_ns(self) -> int:
        """Epoch ns on the feed's clock: the wall clock live, the recorded clock in a replay."""
        ...

    def book_sequences(self) -> Mapping[str, int | None]:
        """Per symbol, a number that changes whenever its book does; None while it is not valid
        (one call for every symbol: asked after every input)."""
        ...

    def top_key(self, symbol: str) -> Hashable:
        """Equal while the best price and size of each side stay the same (cheaper than
        ``top_of_book``, which is asked only when this changed); None while not valid."""
        ...

    def top_of_book(self, symbol: str) -> BookSnapshot | None:
        """The best level of each side (O(1), unlike ``book(symbol, 1)``); None while not valid."""
        ...

    def trades_seen(self) -> Mapping[str, int]:
        """Per symbol, how many trades have arrived so far (``trades`` keeps only the newest)."""
        ...
