"""Async KuCoin adapter: REST, WebSocket, level-2 book sync, market feed and order gateway.

Uses aiohttp and ``dashboard.kucoin.protocol`` / ``dashboard.domain``; never panel, param, bokeh,
holoviews, nor the simulator.
"""
