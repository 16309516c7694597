"""Embedded KuCoin-compatible exchange: matching engine, synthetic market, REST + WebSocket server.

Imports ``dashboard.kucoin.protocol``, ``dashboard.domain`` and ``dashboard.aio`` only; never
``dashboard.kucoin.client`` (so a bug in the client's book sync cannot hide behind the same bug
here). Where things live:

- ``engine.Exchange``: the thin facade over the exchange's rooms, sans-I/O and synchronous:
  ``orders`` (order/fill/trade records, request checks with KuCoin's codes), ``matching``
  (books, matching, GTT expiry, and where book changes get their level-2 sequence numbers),
  ``accounts`` (balances, holds, fees, settlement, conservation) and ``events`` (every pushed
  payload, and the outbox that delivers engine events to listeners);
- ``flow`` (synthetic order flow), ``marketdata`` (trade history, candles, 24 h stats),
  ``catalog`` (symbols and demo balances), ``faults`` (seeded fault injection);
- ``server.Simulator``: composes the parts on one aiohttp app; ``rest`` (``ROUTES``, ``wrap``)
  with handlers in ``rest_market``, ``rest_account`` and ``rest_orders``, which see the simulator
  only as ``context.SimServices``; ``ws`` (tokens, subscriptions, pushes); ``control``
  (``/sim/v1``); ``auth`` and ``ratelimit``.
"""
