"""KuCoin wire protocol: constants, schemas, signing and message builders.

Pure code, no I/O. Shared by the client (``dashboard.kucoin.client``) and the simulator
(``dashboard.simulator``); it must not import either of them, nor aiohttp, panel or bokeh.
"""
