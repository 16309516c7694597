"""Recording and replay of market data (ARCHITECTURE.md, run mode ``replay``).

``Recorder`` writes what a ``KucoinMarketFeed`` receives -- every raw WebSocket frame, every REST
level-2 snapshot at the point it was applied, reconnects and resubscriptions, instruments and candle
history -- to one file. ``ReplayMarketFeed`` plays such a file back through the same frame parsing
and book code, so a replayed book goes through exactly the states the live one went through.
"""
