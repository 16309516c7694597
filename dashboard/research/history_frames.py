"""What ``BookHistory`` hands out: a block of heatmap columns as numpy arrays (copies, safe to
keep), with the exact price grid and a pandas long form. ``Period`` now lives in ``periods``.

Imports the stdlib, numpy, pandas and ``research.periods`` only (``history.py`` builds these).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the venv

from dashboard.research.periods import PERIOD_KINDS, Period  # re-exported: their old home

__all__ = ["PERIOD_KINDS", "HistoryColumns", "Period"]


@dataclass(frozen=True, slots=True)
class HistoryColumns:
    """``n`` consecutive final columns of ``rows`` buckets each, oldest first.

    ``sizes[i, r]`` is the resting size in the bucket ``(origin[i] + r) * bucket`` at the end of
    column ``index[i]`` (NaN before the first book); rows at or below the best bid's bucket are
    bids, rows at or above the best ask's bucket are asks. ``buy_volume``/``sell_volume`` are by
    taker side. ``ts_ns`` is each column's start; it covers ``[ts_ns, ts_ns + column_ns)``.
    """

    index: np.ndarray  # int64 (n,), the column numbers (ts_ns // column_ns)
    ts_ns: np.ndarray  # int64 (n,)
    origin: np.ndarray  # int64 (n,), bucket number of row 0 (its price / bucket)
    sizes: np.ndarray  # float32 (n, rows)
    buy_volume: np.ndarray  # float32 (n, rows)
    sell_volume: np.ndarray  # float32 (n, rows)
    best_bid: np.ndarray  # float64 (n,), NaN when that side is empty
    best_ask: np.ndarray  # float64 (n,)
    sequence: np.ndarray  # int64 (n,), the sequence of the book each column shows
    bucket: Decimal
    next_cursor: int  # pass to ``BookHistory.columns`` for the columns after these

    def __len__(self) -> int:
        return len(self.index)

    @property
    def prices(self) -> np.ndarray:
        """float64 (n, rows): each cell's bucket price, for drawing (exact: ``price``)."""
        rows = np.arange(self.sizes.shape[1], dtype=np.int64)
        return (self.origin[:, None] + rows[None, :]) * float(self.bucket)

    def price(self, i: int, row: int) -> Decimal:
        """The exact bucket price of cell ``(i, row)``."""
        return (int(self.origin[i]) + row) * self.bucket

    def to_frame(self) -> pd.DataFrame:
        """Long form, one row per non-empty cell: ts (UTC), price, size, buy_volume, sell_volume."""
        sizes = np.nan_to_num(self.sizes, nan=0.0)
        i, r = np.nonzero((sizes > 0) | (self.buy_volume > 0) | (self.sell_volume > 0))
        return pd.DataFrame({
            "ts": pd.to_datetime(self.ts_ns[i], unit="ns", utc=True),
            "price": self.prices[i, r],
            "size": sizes[i, r],
            "buy_volume": self.buy_volume[i, r],
            "sell_volume": self.sell_volume[i, r],
        })
