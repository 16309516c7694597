"""Panel UI: param state + Viewer components and the app layout.

Imports ``domain``, ``hub``, ``market_view`` and the research cores (the liquidity view reads the
collector's history and series) -- never ``kucoin``, ``simulator``, ``recording`` or ``config`` --
so every component runs in a notebook on a fake or replayed feed.
"""
