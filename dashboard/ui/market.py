"""The hot market views, one module each: ``depth``, ``ladder``, ``tape``, ``candles`` and
``header`` (shared pieces in ``cards``). This module gathers them for the page and for notebooks.

Each component builds its Bokeh models once in ``__init__`` and afterwards only sends data: the
depth chart replaces two small sources, the ladder patches the cells that changed on a fixed grid
of rows, the tape streams the new trades, the candles patch the last bar and stream new ones.
Ranges are set by the server (``Range1d``), never auto-ranged, so browsers send no range traffic
back. Imports ``hub`` and ``domain`` only (never ``kucoin``, ``simulator`` or ``config``).
"""

from __future__ import annotations

from .candles import INTERVALS, CandleChart
from .depth import DepthChart
from .header import MarketHeader
from .ladder import GROUPS, OrderBookLadder
from .tape import TradeTape, default_large_threshold

__all__ = ["GROUPS", "INTERVALS", "CandleChart", "DepthChart", "MarketHeader", "OrderBookLadder",
           "TradeTape", "default_large_threshold"]
