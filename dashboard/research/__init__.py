"""Research views of the market (issue 9): book history for the liquidity heatmap, microstructure
series, DataFrames, HoloViews views, and the notebook API ``open_market``.

The cores (``history``, ``history_frames``, ``series``, ``measures``, ``collector``, ``frames``)
are computed once per process from the exact books and trades the hub already holds. They import
``domain`` (and numpy/pandas) only: never ``kucoin``, ``simulator``, ``recording``, ``config`` or
the UI, so they run on any feed, live, simulated, replayed or fake. ``api`` (the facade that builds
a feed, via ``dashboard.runtime``) and ``views`` (HoloViews) are the two modules allowed more
(tests/test_architecture.py).

This package stays light: the hub imports ``research.collector``, so ``open_market`` and
``Market`` are loaded from ``api`` only when first asked for (``from dashboard.research import
open_market``), never by importing the package.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Market", "open_market"]

_LAZY = {"Market": "api", "open_market": "api"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # not an import statement: the cores' import rule holds for this package's own module
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
