"""``KucoinRestClient``: KuCoin's spot REST API, typed endpoint methods (protocol.md §4-§5).

Everything about talking to a KuCoin host (signing the exact bytes, the clock offset and its 400002
re-sync, quota pools, retries of idempotent calls) is ``kucoin.common.http.KucoinHttp``; this module
adds the spot paths, pools and weights and converts answers with ``parse``. Imports aiohttp, the
protocol layer, the domain and ``kucoin.common``; never the simulator, never panel.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

from dashboard.domain.models import Balance, Candle, Fill, Instrument, Order, Ticker, Trade
from dashboard.kucoin.common.errors import KucoinAPIError
from dashboard.kucoin.common.http import Clock, KucoinHttp, Params, Sleep, build_query
from dashboard.kucoin.common.ratelimit import POOL_MANAGEMENT, POOL_PUBLIC, POOL_SPOT, RateLimiter
from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import spot as c
from dashboard.kucoin.protocol.signing import Credentials

from . import parse

__all__ = ["KucoinRestClient", "Params", "build_query"]  # build_query: the transport's, re-exported

_NOT_FOUND_HINTS = ("not exist", "not found")  # 400100 "order not exist." on HF GET (§11 item 17)


class KucoinRestClient:
    """Async KuCoin spot REST client. ``async with KucoinRestClient(url, creds) as client: ...``

    The constructor does no I/O. ``http`` is the shared transport (session ownership, ``clock``
    and ``sleep`` injection as ``KucoinHttp`` documents); ``request`` is its one request path.
    """

    def __init__(self, base_url: str = c.SPOT_REST_URL, credentials: Credentials | None = None, *,
                 session: aiohttp.ClientSession | None = None, timeout_s: float = 10.0,
                 max_retries: int = 3, clock: Clock = time.time, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None) -> None:
        self.http = KucoinHttp(base_url, credentials, session=session, timeout_s=timeout_s,
                               max_retries=max_retries, clock=clock, sleep=sleep, rng=rng,
                               time_path=c.PATH_TIMESTAMP)
        self.request = self.http.request

    def __repr__(self) -> str:
        return repr(self.http).replace("KucoinHttp", "KucoinRestClient", 1)

    __str__ = __repr__

    @property
    def base_url(self) -> str:
        return self.http.base_url

    @property
    def has_credentials(self) -> bool:
        """True when private endpoints (and the full v3 book) are available."""
        return self.http.has_credentials

    @property
    def key_version(self) -> str | None:
        return self.http.key_version

    @property
    def limiter(self) -> RateLimiter:
        return self.http.limiter

    @property
    def clock_offset_ms(self) -> int | None:
        return self.http.clock_offset_ms

    @property
    def clock_syncs(self) -> int:
        return self.http.clock_syncs

    def now_ms(self) -> int:
        return self.http.now_ms()

    async def sync_clock(self) -> int:
        return await self.http.sync_clock()

    # ---- lifecycle
    async def __aenter__(self) -> KucoinRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it; safe to call twice."""
        await self.http.close()

    # ---- public market data (§4)
    async def get_server_time(self) -> int:
        return await self.http.get_server_time()

    async def get_status(self) -> dict:
        return await self.request("GET", c.PATH_STATUS, pool=POOL_PUBLIC, weight=3)

    async def get_symbols(self, market: str | None = None) -> list[Instrument]:
        data = await self.request(
            "GET", c.PATH_SYMBOLS_V2, params={"market": market}, pool=POOL_PUBLIC, weight=4
        )
        return parse.parse_symbols(data)

    async def get_ticker(self, symbol: str) -> Ticker:
        data = await self.request(
            "GET", c.PATH_LEVEL1, params={"symbol": symbol}, pool=POOL_PUBLIC, weight=2
        )
        return parse.parse_ticker(data, symbol)

    async def get_all_tickers(self) -> list[Ticker]:
        data = await self.request("GET", c.PATH_ALL_TICKERS, pool=POOL_PUBLIC, weight=15)
        return parse.parse_all_tickers(data)

    async def get_level2_snapshot(self, symbol: str, depth: Literal[20, 100] | None = 20,
                                  ) -> tuple[int, list[list[str]], list[list[str]]]:
        """(sequence, bids, asks) with KuCoin's strings. ``depth=None``: the full book, which is
        authenticated (v3, spot pool, §4.8); 20 and 100 are public."""
        params = {"symbol": symbol}
        if depth is None:
            data = await self.request(
                "GET", c.PATH_LEVEL2_FULL_V3, params=params, private=True, pool=POOL_SPOT, weight=3
            )
        elif depth in (20, 100):
            path, weight = (c.PATH_LEVEL2_20, 2) if depth == 20 else (c.PATH_LEVEL2_100, 4)
            data = await self.request("GET", path, params=params, pool=POOL_PUBLIC, weight=weight)
        else:
            raise ValueError("depth must be 20, 100 or None (full book)")
        return parse.parse_book_snapshot(data)

    async def get_trade_history(self, symbol: str) -> list[Trade]:
        data = await self.request(
            "GET", c.PATH_HISTORIES, params={"symbol": symbol}, pool=POOL_PUBLIC, weight=3
        )
        return parse.parse_trade_history(data, symbol)

    async def get_candles(self, symbol: str, interval: str, start_s: int | None = None,
                          end_s: int | None = None) -> list[Candle]:
        """Klines oldest first (KuCoin sends newest first); ``start_s``/``end_s`` in s (§4.10)."""
        if interval not in c.CANDLE_TYPES:
            raise ValueError(f"unknown candle interval {interval!r}")
        params = {"symbol": symbol, "type": interval, "startAt": start_s, "endAt": end_s}
        data = await self.request("GET", c.PATH_CANDLES, params=params, pool=POOL_PUBLIC, weight=3)
        return parse.parse_candles(data, symbol, interval)

    async def post_bullet(self, private: bool = False) -> dict:
        """A fresh WebSocket token and instance servers (wire dict); POST without a body (§6.1)."""
        if private:
            return await self.request("POST", c.PATH_BULLET_PRIVATE, private=True, idempotent=True,
                                      pool=POOL_SPOT, weight=10)
        return await self.request(
            "POST", c.PATH_BULLET_PUBLIC, idempotent=True, pool=POOL_PUBLIC, weight=10
        )

    async def request_bullet(self, private: bool = False) -> parse.BulletToken:
        return parse.parse_bullet(await self.post_bullet(private))

    # ---- accounts (§5.1)
    async def get_accounts(self, currency: str | None = None) -> list[Balance]:
        """Spot balances (``type=trade``)."""
        data = await self.request(
            "GET",
            c.PATH_ACCOUNTS,
            params={"currency": currency, "type": "trade"},
            private=True,
            pool=POOL_MANAGEMENT,
            weight=5,
        )
        return parse.parse_accounts(data)

    async def get_trade_fees(self, symbols: list[str]) -> list[dict]:
        """[{symbol, takerFeeRate, makerFeeRate}] for at most 10 symbols (comma list)."""
        return await self.request(
            "GET",
            c.PATH_TRADE_FEES,
            params={"symbols": ",".join(symbols)},
            private=True,
            pool=POOL_SPOT,
            weight=3,
        )

    # ---- orders, HF family (§5.2-§5.7)
    async def place_order(self, order: dict) -> dict:
        """POST /api/v1/hf/orders -> {"orderId", "clientOid"}: accepted, nothing more (§5.3). Not
        idempotent: never resent here; the order gateway resolves unknown outcomes by clientOid."""
        return await self.request(
            "POST",
            c.PATH_HF_ORDERS,
            body=order,
            private=True,
            idempotent=False,
            pool=POOL_SPOT,
            weight=1,
        )

    async def place_order_test(self, order: dict) -> dict:
        """Validation and signature check only; nothing reaches the matching engine."""
        return await self.request(
            "POST",
            c.PATH_HF_ORDERS_TEST,
            body=order,
            private=True,
            idempotent=True,
            pool=POOL_SPOT,
            weight=1,
        )

    async def cancel_order(self, symbol: str, order_id: str) -> dict:
        return await self.request("DELETE", f"{c.PATH_HF_ORDERS}/{quote(order_id, safe='')}",
                                  params={"symbol": symbol}, private=True, pool=POOL_SPOT, weight=1)

    async def cancel_order_by_client_oid(self, symbol: str, client_oid: str) -> dict:
        return await self.request(
            "DELETE",
            f"{c.PATH_HF_ORDERS}/client-order/{quote(client_oid, safe='')}",
            params={"symbol": symbol},
            private=True,
            pool=POOL_SPOT,
            weight=1,
        )

    async def cancel_all(self, symbol: str | None = None) -> Any:
        """One symbol -> "success"; all -> {"succeedSymbols": [...], "failedSymbols": [...]}."""
        if symbol is None:
            return await self.request(
                "DELETE", c.PATH_HF_ORDERS_CANCEL_ALL, private=True, pool=POOL_SPOT, weight=30
            )
        return await self.request(
            "DELETE",
            c.PATH_HF_ORDERS,
            params={"symbol": symbol},
            private=True,
            pool=POOL_SPOT,
            weight=2,
        )

    async def get_order(self, symbol: str, order_id: str) -> Order | None:
        """The order, or None when KuCoin says it does not exist."""
        return await self._get_order_or_none(
            f"{c.PATH_HF_ORDERS}/{quote(order_id, safe='')}", symbol
        )

    async def get_order_by_client_oid(self, symbol: str, client_oid: str) -> Order | None:
        """How an unknown outcome (timeout) is resolved: None means it never reached KuCoin."""
        return await self._get_order_or_none(
            f"{c.PATH_HF_ORDERS}/client-order/{quote(client_oid, safe='')}", symbol
        )

    async def _get_order_or_none(self, path: str, symbol: str) -> Order | None:
        try:
            data = await self.request(
                "GET", path, params={"symbol": symbol}, private=True, pool=POOL_SPOT, weight=2
            )
        except KucoinAPIError as exc:
            if exc.code == kc.ERR_PARAMETER and any(
                hint in exc.msg.lower() for hint in _NOT_FOUND_HINTS
            ):
                return None
            raise
        return None if data is None else parse.parse_order(data)

    async def get_open_orders(self, symbol: str) -> list[Order]:
        data = await self.request(
            "GET",
            c.PATH_HF_ORDERS_ACTIVE,
            params={"symbol": symbol},
            private=True,
            pool=POOL_SPOT,
            weight=2,
        )
        return parse.parse_orders(data or [])

    async def get_fills(
        self, symbol: str, limit: int = 100, order_id: str | None = None
    ) -> list[Fill]:
        """Newest HF fills of a symbol (limit 1..100)."""
        params = {"symbol": symbol, "orderId": order_id, "limit": limit}
        data = await self.request(
            "GET", c.PATH_HF_FILLS, params=params, private=True, pool=POOL_SPOT, weight=2
        )
        return parse.parse_fills(data)
