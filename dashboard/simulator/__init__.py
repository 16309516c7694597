"""Embedded KuCoin-compatible exchange: matching engine, synthetic market, REST + WebSocket server.

Imports ``dashboard.kucoin.protocol`` and ``dashboard.domain`` only; never ``dashboard.kucoin.client``
(so a bug in the client's book sync cannot hide behind the same bug here).
"""
