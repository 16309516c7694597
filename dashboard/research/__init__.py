"""Research views of the market (issue 9): book history for the liquidity heatmap, microstructure
series, and, later, the notebook API (``open_market``) with pandas DataFrames and HoloViews views.

Computed once per process from the exact books and trades the hub already holds. Imports ``domain``
(and numpy/pandas) only: never ``kucoin``, ``simulator``, ``recording``, ``config`` or the UI, so it
runs on any feed, live, simulated, replayed or fake.
"""
