"""OrderBook: an exact, venue-neutral price-level book (pure and synchronous).

Prices are integer ticks at a decimal scale (``"91249.9"`` at scale 1 -> ``912499``); the scale
grows by itself when a price with more decimals arrives. Sizes are kept as the exact strings
received and become Decimals only when read. Best bid/ask come from heaps with lazy deletion (O(1)
amortised). Imports nothing from ``dashboard`` except ``domain.models`` (and its own compiled
state holder).

The book's state (level maps, heaps, scale, sequence) lives in ``BookCore``, a compiled base class
with C struct fields (``_bookcore.c``), so that the compiled level-2 path
(``kucoin/client/_l2fast.c``) can update it without attribute look-ups. Every method is here, in
Python; without the compiled module (or with ``DASHBOARD_PURE_PYTHON=1``) a pure-Python base class
with the same slots takes its place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from heapq import heapify, heappop, heappush, nlargest, nsmallest
from os import environ
from typing import TYPE_CHECKING

from dashboard.domain.models import BookSnapshot

PURE_PYTHON = environ.get("DASHBOARD_PURE_PYTHON", "") not in ("", "0")


class _PyBookCore:
    """The pure-Python stand-in for the compiled ``BookCore`` (same slot names)."""

    __slots__ = ("_ask_heap", "_asks", "_bid_heap", "_bids", "_scale", "sequence")
    sequence: int
    _scale: int
    _bids: dict[int, str]
    _asks: dict[int, str]
    _bid_heap: list[int]  # negated ticks
    _ask_heap: list[int]


if TYPE_CHECKING or PURE_PYTHON:  # the type checker sees the slots as declared above
    BookCore = _PyBookCore
else:
    try:
        from dashboard.domain._bookcore import BookCore
    except ImportError:  # not compiled (e.g. a source checkout without ``pip install -e .``)
        BookCore = _PyBookCore

_POW10: list[int] = [10**i for i in range(40)]
_CACHE_MAX = 50_000  # price-string -> tick memo; cleared when it grows past this
_HEAP_SLACK = 64  # heaps are rebuilt once they hold more than 2 x live levels + this


def is_zero_size(size: str) -> bool:
    """True for "0", "0.0", "0.00000000" ... (KuCoin's "delete this level")."""
    return not size.strip("0.")


class OrderBook(BookCore):
    """Two price-level maps (tick -> size string) with O(1) amortised best bid/ask."""

    __slots__ = ("_cache", "symbol")

    def __init__(self, symbol: str, price_scale: int = 0) -> None:
        if not 0 <= price_scale < len(_POW10):
            raise ValueError(f"price_scale out of range: {price_scale}")
        self.symbol = symbol
        self.sequence = 0
        self._scale = price_scale
        self._bids = {}
        self._asks = {}
        self._bid_heap = []
        self._ask_heap = []
        self._cache: dict[str, int] = {}

    # -- prices ------------------------------------------------------------------------------------

    @property
    def price_scale(self) -> int:
        return self._scale

    def to_tick(self, price: str) -> int:
        """Integer tick of a price string at the current scale (growing the scale if needed)."""
        tick = self._cache.get(price)
        if tick is None:
            tick = self._tick_slow(price)
        return tick

    def _tick_slow(self, price: str) -> int:
        if type(price) is not str:
            raise ValueError(f"price must be a string: {price!r}")
        whole, _, frac = price.partition(".")
        frac = frac.rstrip("0")
        if not (
            whole.isascii() and whole.isdigit()
            and (not frac or (frac.isascii() and frac.isdigit()))
        ):
            whole, frac = self._split_decimal(price)
        if len(frac) > self._scale:
            self._rescale(len(frac))
        tick = int(whole + frac) * _POW10[self._scale - len(frac)]
        cache = self._cache
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[price] = tick
        return tick

    @staticmethod
    def _split_decimal(price: str) -> tuple[str, str]:
        """Rare forms ("1E-5", "+2"): exact via Decimal; refuses negative, non-finite, non-ASCII."""
        if not price.isascii():
            raise ValueError(f"not a decimal price: {price!r}")
        try:
            value = Decimal(price)
        except (InvalidOperation, TypeError):
            raise ValueError(f"not a decimal price: {price!r}") from None
        if not value.is_finite() or value < 0:
            raise ValueError(f"not a valid price: {price!r}")
        text = format(value, "f")
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0")
        if len(frac) >= len(_POW10):
            raise ValueError(f"too many decimals: {price!r}")
        return whole, frac

    def _rescale(self, scale: int) -> None:
        if scale >= len(_POW10):
            raise ValueError(f"too many decimals: scale {scale}")
        mult = _POW10[scale - self._scale]
        self._bids = {t * mult: s for t, s in self._bids.items()}
        self._asks = {t * mult: s for t, s in self._asks.items()}
        self._scale = scale
        self._cache.clear()
        self._rebuild_heaps()

    def _rebuild_heaps(self) -> None:
        self._bid_heap = [-t for t in self._bids]
        heapify(self._bid_heap)
        self._ask_heap = list(self._asks)
        heapify(self._ask_heap)

    def _price(self, tick: int) -> Decimal:
        return Decimal(tick).scaleb(-self._scale) if self._scale else Decimal(tick)

    # -- writes ------------------------------------------------------------------------------------

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._bid_heap.clear()
        self._ask_heap.clear()

    def load(
        self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]], sequence: int
    ) -> None:
        """Replace the book with a snapshot of [price, size] string rows."""
        self.clear()
        for price, size in bids:
            self.set_bid(price, size)
        for price, size in asks:
            self.set_ask(price, size)
        self.sequence = sequence

    def set_bid(self, price: str, size: str) -> None:
        """Set the bid level at price to size; a zero size ("0", "0.0", ...) deletes it."""
        tick = self._cache.get(price)
        if tick is None:
            tick = self._tick_slow(price)
        if not (size.isascii() and size.replace(".", "", 1).isdigit()):
            raise ValueError(f"not a plain decimal size: {size!r}")
        levels = self._bids
        if not size.strip("0."):
            levels.pop(tick, None)
        elif tick in levels:
            levels[tick] = size
        else:
            levels[tick] = size
            heap = self._bid_heap
            heappush(heap, -tick)
            if len(heap) > 2 * len(levels) + _HEAP_SLACK:
                self._bid_heap = heap = [-t for t in levels]
                heapify(heap)

    def set_ask(self, price: str, size: str) -> None:
        """Set the ask level at price to size; a zero size ("0", "0.0", ...) deletes it."""
        tick = self._cache.get(price)
        if tick is None:
            tick = self._tick_slow(price)
        if not (size.isascii() and size.replace(".", "", 1).isdigit()):
            raise ValueError(f"not a plain decimal size: {size!r}")
        levels = self._asks
        if not size.strip("0."):
            levels.pop(tick, None)
        elif tick in levels:
            levels[tick] = size
        else:
            levels[tick] = size
            heap = self._ask_heap
            heappush(heap, tick)
            if len(heap) > 2 * len(levels) + _HEAP_SLACK:
                self._ask_heap = heap = list(levels)
                heapify(heap)

    # -- reads -------------------------------------------------------------------------------------

    def best_bid_tick(self) -> int | None:
        heap, bids = self._bid_heap, self._bids
        while heap and -heap[0] not in bids:
            heappop(heap)
        return -heap[0] if heap else None

    def best_ask_tick(self) -> int | None:
        heap, asks = self._ask_heap, self._asks
        while heap and heap[0] not in asks:
            heappop(heap)
        return heap[0] if heap else None

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        tick = self.best_bid_tick()
        return None if tick is None else (self._price(tick), Decimal(self._bids[tick]))

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        tick = self.best_ask_tick()
        return None if tick is None else (self._price(tick), Decimal(self._asks[tick]))

    def top_key(self) -> tuple[int | None, str | None, int | None, str | None]:
        """The best tick and size text of each side: equal keys, equal tops (cheap: no Decimals)."""
        bid, ask = self.best_bid_tick(), self.best_ask_tick()
        return (bid, None if bid is None else self._bids[bid],
                ask, None if ask is None else self._asks[ask])

    def crossed(self) -> bool:
        """True when best bid >= best ask (a corrupt book)."""
        bid = self.best_bid_tick()
        if bid is None:
            return False
        ask = self.best_ask_tick()
        return ask is not None and bid >= ask

    def depth(
        self, n: int | None = None
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Top n levels per side as Decimals: bids high->low, asks low->high."""
        price = self._price
        bids = [(price(t), Decimal(self._bids[t])) for t in self._top(self._bids, n, reverse=True)]
        asks = [(price(t), Decimal(self._asks[t])) for t in self._top(self._asks, n, reverse=False)]
        return bids, asks

    @staticmethod
    def _top(side: dict[int, str], n: int | None, *, reverse: bool) -> list[int]:
        if n is None or n >= len(side):
            return sorted(side, reverse=reverse)
        return nlargest(n, side) if reverse else nsmallest(n, side)

    def snapshot(self, n: int | None = None, ts_ms: int = 0) -> BookSnapshot:
        bids, asks = self.depth(n)
        return BookSnapshot(self.symbol, self.sequence, tuple(bids), tuple(asks), ts_ms)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def levels(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """Every level, exact: ({price: size} bids, {price: size} asks)."""
        price = self._price
        return ({price(t): Decimal(s) for t, s in self._bids.items()},
                {price(t): Decimal(s) for t, s in self._asks.items()})

    def top_arrays(self, n: int) -> tuple[list[float], list[float], list[float], list[float]]:
        """Top n levels as floats (bid prices, bid sizes, ask prices, ask sizes); plotting only."""
        div = float(_POW10[self._scale])
        bt = self._top(self._bids, n, reverse=True)
        at = self._top(self._asks, n, reverse=False)
        return ([t / div for t in bt], [float(self._bids[t]) for t in bt],
                [t / div for t in at], [float(self._asks[t]) for t in at])

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol!r}, seq={self.sequence}, "
            f"bids={len(self._bids)}, asks={len(self._asks)})"
        )
