"""The liquidity heatmap's arithmetic, apart from its view: where each history column goes in the
tiled image ring, the trade dots and best bid/ask of a block of columns, and the colour cut-offs.

A tile is ``width`` time columns on a fixed price grid of ``rows`` buckets. History columns each
carry their own grid (centred on their own mid, ``origin`` = bucket number of row 0), so a column
is shifted onto its tile's grid; the tile is ``margin`` buckets taller than a column on each side,
and a column whose mid drifted further than that starts a new tile: nothing is ever cut off.
Values are what the image shows: empty buckets and NaN (no book yet) become NaN (drawn
transparent), and the log scale is ``log1p`` of the size.

Imports numpy, the stdlib and ``dashboard.research.history_frames`` (plain data) only: no Panel,
no Bokeh, no hub.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dashboard.research.history_frames import HistoryColumns

TILE_COLUMNS = 120  # 30 s of 250 ms columns per tile: a patch recolours one tile of 120 x rows
MAX_SAMPLED_COLUMNS = 32  # the cut-off percentiles look at this many columns of the view at most


@dataclass(frozen=True, slots=True)
class Tile:
    """One image of the ring: columns ``start .. start + width - 1`` on rows from ``origin``."""

    start: int  # index of the tile's first history column
    origin: int  # bucket number of the tile's row 0


@dataclass(frozen=True, slots=True)
class TileWrite:
    """What a block of history columns does to the ring: ``patch`` = (first column in the current
    tile, values of shape (rows, k)) or None; then ``new`` tiles, each with its whole image."""

    patch: tuple[int, np.ndarray] | None
    new: tuple[tuple[Tile, np.ndarray], ...]


class TileLayout:
    """Places history columns into tiles (see the module docstring); remembers the current tile."""

    def __init__(self, column_rows: int, width: int = TILE_COLUMNS, margin: int | None = None,
                 log: bool = False) -> None:
        self.column_rows = column_rows
        self.margin = max(1, column_rows // 8) if margin is None else margin
        self.rows = column_rows + 2 * self.margin
        self.width = width
        self.log = log
        self.tile: Tile | None = None
        self.next_index: int | None = None  # the column the current tile expects next

    def fits(self, index: int, origin: int) -> bool:
        """Column ``index`` with grid ``origin`` goes into the current tile."""
        t = self.tile
        return (t is not None and index == self.next_index and index < t.start + self.width
                and 0 <= origin - t.origin <= 2 * self.margin)

    def write(self, cols: HistoryColumns) -> TileWrite:
        """Where ``cols`` go: first into the current tile while they fit, then into new tiles."""
        n, k = len(cols), 0
        while k < n and self.fits(int(cols.index[k]), int(cols.origin[k])):
            k += 1
            self.next_index = int(cols.index[k - 1]) + 1
        patch = None
        if k:
            assert self.tile is not None  # fits() held
            patch = (int(cols.index[0]) - self.tile.start, self._block(cols, 0, k, self.tile))
        new: list[tuple[Tile, np.ndarray]] = []
        while k < n:
            tile = Tile(int(cols.index[k]), int(cols.origin[k]) - self.margin)
            self.tile, self.next_index = tile, tile.start
            image = np.full((self.rows, self.width), np.nan, dtype=np.float32)
            start = k
            while k < n and self.fits(int(cols.index[k]), int(cols.origin[k])):
                k += 1
                self.next_index = int(cols.index[k - 1]) + 1
            image[:, : k - start] = self._block(cols, start, k, tile)
            new.append((tile, image))
        return TileWrite(patch, tuple(new))

    def _block(self, cols: HistoryColumns, lo: int, hi: int, tile: Tile) -> np.ndarray:
        """Columns ``lo..hi-1`` on ``tile``'s grid, transformed for the image: (rows, hi - lo)."""
        out = np.full((self.rows, hi - lo), np.nan, dtype=np.float32)
        for j, i in enumerate(range(lo, hi)):
            shift = int(cols.origin[i]) - tile.origin
            out[shift: shift + self.column_rows, j] = cols.sizes[i]
        return image_values(out, self.log)


def image_values(sizes: np.ndarray, log: bool) -> np.ndarray:
    """Sizes as the image shows them: empty (0 or NaN) -> NaN, transparent; ``log1p`` if log."""
    with np.errstate(invalid="ignore"):
        out = np.where(sizes > 0, sizes, np.nan).astype(np.float32)
    return np.log1p(out) if log else out


def tile_geometry(tile: Tile, rows: int, width: int, column_ms: float,
                  bucket: float) -> dict[str, float]:
    """The image's placement: x, dw in epoch ms; y, dh in price (cells centred on bucket prices)."""
    return {"x": tile.start * column_ms, "dw": width * column_ms,
            "y": (tile.origin - 0.5) * bucket, "dh": rows * bucket}


def trade_dots(cols: HistoryColumns, column_ms: float, bucket: float) -> dict[str, list]:
    """One dot per (column, bucket) with traded volume: x at the column's middle, y the bucket
    price, volume, its square root (dot area grows with volume) and the buyers' share."""
    buy, sell = cols.buy_volume, cols.sell_volume
    total = buy + sell
    i, r = np.nonzero(total > 0)
    vol = total[i, r].astype(np.float64)
    return {"x": ((cols.index[i] + 0.5) * column_ms).tolist(),
            "y": ((cols.origin[i] + r) * bucket).tolist(),
            "volume": vol.tolist(), "root": np.sqrt(vol).tolist(),
            "buy_share": (buy[i, r] / vol).tolist()}


def top_lines(cols: HistoryColumns, column_ms: float) -> dict[str, np.ndarray]:
    """Best bid and ask per column (NaN where a side was empty), x at the column's start."""
    return {"x": cols.index * column_ms, "bid": cols.best_bid.copy(),
            "ask": cols.best_ask.copy()}


def cutoffs(images: list[np.ndarray], geometry: list[tuple[float, float]],
            view: tuple[float, float], low_pct: float, high_pct: float,
            max_columns: int = MAX_SAMPLED_COLUMNS) -> tuple[float, float] | None:
    """The colour mapper's low/high: the ``low_pct``/``high_pct`` percentiles of the non-empty
    cells in the view (x from ``view[0]`` to ``view[1]``, epoch ms). Tiles are given with their
    (x, dw); at most ``max_columns`` columns are sampled, evenly, so the cost stays flat however
    wide the view. None when the view holds no cell."""
    picks = []
    for image, (x, dw) in zip(images, geometry, strict=True):
        width = image.shape[1]
        step = dw / width
        lo = max(0, int((view[0] - x) // step))
        hi = min(width, int(np.ceil((view[1] - x) / step)))
        if hi > lo:
            picks.append((image, lo, hi))
    total = sum(hi - lo for _, lo, hi in picks)
    if not total:
        return None
    stride = max(1, -(-total // max_columns))
    sample = [image[:, lo:hi:stride] for image, lo, hi in picks]
    values = np.concatenate([s.ravel() for s in sample])
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    lo_v, hi_v = np.percentile(values, [low_pct, high_pct])
    if not hi_v > lo_v:
        hi_v = lo_v + max(abs(lo_v) * 1e-6, 1e-12)
    return float(lo_v), float(hi_v)


def largest_in_view(xs, values, view: tuple[float, float]) -> float:
    """The largest of ``values`` whose x lies in the view (0.0 when none)."""
    if not len(xs):
        return 0.0
    x, v = np.asarray(xs), np.asarray(values)
    inside = (x >= view[0]) & (x <= view[1])
    return float(v[inside].max()) if inside.any() else 0.0


def book_reach(column: np.ndarray, y0: float, bucket: float, mid: float) -> float | None:
    """How far from ``mid`` the bulk of one image column's book reaches: the rows holding 98 %
    of its (shown) size, padded by 10 %, so a thin far tail does not set the price scale. ``y0``
    is the image's bottom edge. None for an empty column."""
    weights = np.nan_to_num(column, nan=0.0).astype(np.float64)
    total = weights.sum()
    if not total > 0:
        return None
    rows = np.searchsorted(np.cumsum(weights) / total, [0.01, 0.99])
    prices = y0 + (rows + 0.5) * bucket
    return 1.1 * max(abs(prices[0] - mid), abs(prices[1] - mid), 2 * bucket)
