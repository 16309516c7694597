"""pandas DataFrames of what the research collector keeps: trades, top-of-book changes, the book
now. One home for the float-plus-exact rule: every price and size is a float64 column for
analysis and, beside it, an ``*_exact`` column of the exact decimal strings the book holds (the
book behind them stays exact). Times are a ``ts`` column of UTC nanosecond datetimes on the feed's
clock (the series' frame, ``series.series_frame``, is indexed by ``ts`` instead).

Pure functions of their arguments. Imports ``dashboard.domain``, the research cores and pandas
only: never ``kucoin``, ``simulator``, ``recording``, ``config``, the hub or the UI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the venv

from dashboard.domain.models import BookSnapshot, Trade
from dashboard.research.measures import TopOfBook

__all__ = ["BOOK_COLUMNS", "TOP_COLUMNS", "TRADE_COLUMNS", "book_frame", "top_of_book_frame",
           "trades_frame"]

TRADE_COLUMNS = ("ts", "price", "size", "side", "trade_id", "price_exact", "size_exact")
TOP_COLUMNS = ("ts", "best_bid", "bid_size", "best_ask", "ask_size", "best_bid_exact",
               "bid_size_exact", "best_ask_exact", "ask_size_exact")
BOOK_COLUMNS = ("side", "level", "price", "size", "price_exact", "size_exact")


def _float(value: Decimal | None) -> float:
    return math.nan if value is None else float(value)


def _exact(value: Decimal | None) -> str | None:
    """The exact decimal as KuCoin writes it (``format(d, 'f')``: no exponent); None for none."""
    return None if value is None else format(value, "f")


def _ts(ns: Sequence[int]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(ns), unit="ns", utc=True), dtype="datetime64[ns, UTC]")


def _frame(data: Mapping[str, object], columns: Sequence[str]) -> pd.DataFrame:
    """The columns in order; the exact strings as Python ``str`` objects with None for a missing
    value (pandas' own string dtype would turn None into NaN, which ``Decimal()`` cannot read)."""
    exact = {c: pd.Series(list(data[c]), dtype="object")  # type: ignore[call-overload]
             for c in columns if c.endswith("_exact")}
    return pd.DataFrame({**data, **exact}, columns=list(columns))


def trades_frame(trades: Iterable[Trade]) -> pd.DataFrame:
    """One row per trade, oldest first: ts (the exchange's trade time), price, size, side (the
    taker's: "buy" or "sell"), trade_id, and the exact price and size."""
    rows = list(trades)
    return _frame({
        "ts": _ts([t.ts_ns for t in rows]),
        "price": pd.Series([float(t.price) for t in rows], dtype="float64"),
        "size": pd.Series([float(t.size) for t in rows], dtype="float64"),
        "side": [t.side.value for t in rows],
        "trade_id": [str(t.trade_id) for t in rows],
        "price_exact": [_exact(t.price) for t in rows],
        "size_exact": [_exact(t.size) for t in rows],
    }, TRADE_COLUMNS)


def top_of_book_frame(tops: Iterable[TopOfBook]) -> pd.DataFrame:
    """One row per change of the best bid or ask (price or size), in order: ts (the feed's time
    of the input that made it), the four floats (NaN for an empty side) and their exact strings."""
    rows = list(tops)
    data: dict[str, object] = {"ts": _ts([t.ts_ns for t in rows])}
    for name in ("best_bid", "bid_size", "best_ask", "ask_size"):
        values = [getattr(t, name) for t in rows]
        data[name] = pd.Series([_float(v) for v in values], dtype="float64")
        data[f"{name}_exact"] = [_exact(v) for v in values]
    return _frame(data, TOP_COLUMNS)


def book_frame(book: BookSnapshot | None, levels: int | None = None) -> pd.DataFrame:
    """The book as rows: bids best first (level 0 the best bid), then asks best first; at most
    ``levels`` per side. ``attrs`` carries the book's ``symbol`` and ``sequence``; an absent
    book (not synced) gives an empty frame with the same columns."""
    data: dict[str, list[object]] = {c: [] for c in BOOK_COLUMNS}
    if book is not None:
        for side, ladder in (("bid", book.bids), ("ask", book.asks)):
            for level, (price, size) in enumerate(ladder[:levels]):
                data["side"].append(side)
                data["level"].append(level)
                data["price"].append(float(price))
                data["size"].append(float(size))
                data["price_exact"].append(_exact(price))
                data["size_exact"].append(_exact(size))
    frame = _frame(data, BOOK_COLUMNS).astype({"level": "int64", "price": "float64",
                                               "size": "float64"})
    frame.attrs = {"symbol": None if book is None else book.symbol,
                   "sequence": None if book is None else book.sequence}
    return frame
