"""Product-neutral KuCoin I/O shared by the spot client (``kucoin/client``) and, later, the Futures
client (``kucoin/futures``): the signed HTTP core, the WebSocket client, the rate limiter, retry and
the error tree.

Imports aiohttp and ``dashboard.kucoin.protocol``; never a product client, the simulator or panel.
"""
