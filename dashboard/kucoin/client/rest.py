"""``KucoinRestClient``: KuCoin's spot REST API over one aiohttp session (protocol.md §1-§5).

One ``request`` does everything the protocol asks: the query string is built once and the exact
bytes sent are the bytes signed (§2.2), the body is parsed whatever the HTTP status and judged by
``code`` (§1.4), the clock offset is measured before the first private call and after any 400002
(§2.4), quota headers pace each pool (§3) and only idempotent calls are retried. The typed
methods below it are thin. Imports aiohttp, the protocol layer, the domain and this package;
never the simulator, never panel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote, unquote

import aiohttp
from yarl import URL

from dashboard.domain.models import Balance, Candle, Fill, Instrument, Order, Ticker, Trade
from dashboard.kucoin.common.errors import (
    KucoinAPIError,
    KucoinAuthError,
    KucoinError,
    KucoinHTTPError,
    KucoinProtocolError,
    KucoinRateLimitError,
    KucoinTimeoutError,
    KucoinTransportError,
    api_error,
)
from dashboard.kucoin.common.ratelimit import POOL_MANAGEMENT, POOL_PUBLIC, POOL_SPOT, RateLimiter
from dashboard.kucoin.common.retry import backoff, is_retryable
from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import spot as c
from dashboard.kucoin.protocol.signing import Credentials, mask

from . import parse

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
Params = dict[str, str | int | Decimal | None]

_QUERY_SAFE = "-_.~,:"  # symbols, ids, numbers and comma lists go on the wire as they are (§2.2)
_IDEMPOTENT_METHODS = frozenset({"GET", "DELETE"})
_NOT_FOUND_HINTS = ("not exist", "not found")  # 400100 "order not exist." on HF GET (§11 item 17)


def build_query(params: Params | None) -> str:
    """``k=v&...`` in insertion order, None values dropped, percent-encoding only where needed."""
    if not params:
        return ""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        parts.append(f"{quote(key, safe='')}={quote(text, safe=_QUERY_SAFE)}")
    return "&".join(parts)


class KucoinRestClient:
    """Async KuCoin spot REST client. ``async with KucoinRestClient(url, creds) as client: ...``

    The constructor does no I/O. An injected ``session`` stays the caller's; otherwise one is
    created on first use and closed by ``close()``. ``clock`` returns epoch seconds (signing and
    pacing), ``sleep`` waits (retries and quota resets); both are injectable for tests.
    """

    def __init__(self, base_url: str = c.SPOT_REST_URL, credentials: Credentials | None = None, *,
                 session: aiohttp.ClientSession | None = None, timeout_s: float = 10.0, max_retries: int = 3,
                 clock: Clock = time.time, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self.key_version = credentials.key_version if credentials else None
        self._session = session
        self._owns_session = session is None
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.limiter = RateLimiter(clock, sleep)
        self.clock_offset_ms: int | None = None  # server minus local, measured lazily
        self.clock_syncs = 0
        self._closed = False

    def __repr__(self) -> str:
        key = mask(self._credentials.key) if self._credentials else None
        return f"KucoinRestClient(base_url={self.base_url!r}, key={key!r}, key_version={self.key_version!r})"

    __str__ = __repr__

    @property
    def has_credentials(self) -> bool:
        """True when private endpoints (and the full v3 book) are available."""
        return self._credentials is not None

    # ---- lifecycle
    async def __aenter__(self) -> KucoinRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it; safe to call twice."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise KucoinTransportError("the REST client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # ---- clock
    def now_ms(self) -> int:
        """KuCoin's time as far as we know: local clock plus the measured offset."""
        return int(self._clock() * 1000) + (self.clock_offset_ms or 0)

    async def sync_clock(self) -> int:
        """Measure the offset to KuCoin's clock with GET /api/v1/timestamp (midpoint of the call)."""
        before = self._clock()
        server_ms = await self.get_server_time()
        after = self._clock()
        self.clock_offset_ms = server_ms - int((before + after) * 500)
        self.clock_syncs += 1
        return self.clock_offset_ms

    # ---- the one request path
    async def request(self, method: str, path: str, *, params: Params | None = None, body: dict | None = None,
                      private: bool = False, idempotent: bool | None = None, pool: str = POOL_PUBLIC,
                      weight: int = 1) -> Any:
        """Send one KuCoin call and return its ``data``; raise the matching ``KucoinError``."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        if private and self._credentials is None:
            raise KucoinAuthError(kc.ERR_AUTH_HEADER_MISSING, "no API credentials configured", 0)
        query = build_query(params)
        path_with_query = f"{path}?{query}" if query else path
        body_text = "" if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        delays = backoff(rng=self._rng)
        retries = 0
        resynced = False
        while True:
            try:
                if private and self.clock_offset_ms is None:
                    await self.sync_clock()
                await self.limiter.acquire(pool, weight)
                return await self._send(method, path_with_query, body_text, private, pool)
            except KucoinAuthError as exc:
                if exc.code != kc.ERR_TIMESTAMP or not private or resynced:
                    raise
                resynced = True  # §2.4: re-measure the offset and try this call once more
                log.warning("KuCoin rejected the timestamp of %s %s; re-syncing the clock", method, path)
                await self.sync_clock()
            except KucoinError as exc:
                if not idempotent or retries >= self.max_retries or not is_retryable(exc, idempotent=True):
                    raise
                retries += 1
                delay = 0.0 if isinstance(exc, KucoinRateLimitError) else next(delays)  # limiter already waits
                log.info("retrying %s %s in %.2fs (%d/%d) after %s", method, path, delay, retries,
                         self.max_retries, type(exc).__name__)
                if delay:
                    await self._sleep(delay)

    async def _send(self, method: str, path_with_query: str, body_text: str, private: bool, pool: str) -> Any:
        headers = {"Content-Type": "application/json"}
        if private and self._credentials is not None:
            # Sign the un-URL-encoded path and query; send the encoded one (§2.2).
            headers.update(self._credentials.headers(self.now_ms(), method, unquote(path_with_query), body_text))
        url = URL(self.base_url + path_with_query, encoded=True)
        session = self._get_session()
        try:
            async with session.request(method, url, data=body_text.encode() if body_text else None,
                                       headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except TimeoutError as exc:
            raise KucoinTimeoutError(f"{method} {path_with_query}: no answer within {self.timeout_s}s") from exc
        except aiohttp.ClientError as exc:
            raise KucoinTransportError(f"{method} {path_with_query}: {type(exc).__name__}: {exc}") from exc
        return self._decode(status, resp_headers, raw, pool)

    def _decode(self, status: int, headers: Any, raw: bytes, pool: str) -> Any:
        """Judge by the JSON ``code`` whatever the HTTP status; the status only for non-JSON (§1.4)."""
        text = raw.decode("utf-8", errors="replace")
        try:
            payload = json.loads(text)
        except ValueError:
            if status == 429:
                self.limiter.on_rate_limited(pool, headers)
            raise KucoinHTTPError(status, text) from None
        if not isinstance(payload, dict) or "code" not in payload:
            if status >= 400:
                raise KucoinHTTPError(status, text)
            raise KucoinProtocolError(f"response without a KuCoin envelope: {text[:200]!r}")
        code = str(payload["code"])
        if code == kc.SUCCESS_CODE:
            self.limiter.update(pool, headers)
            return payload.get("data")
        msg = str(payload.get("msg") or "")
        error = api_error(code, msg, status)
        if status == 429 and not isinstance(error, KucoinRateLimitError):
            error = KucoinRateLimitError(code, msg, status)
        if isinstance(error, KucoinRateLimitError):
            error.retry_after_s = self.limiter.on_rate_limited(pool, headers)
        else:
            self.limiter.update(pool, headers)
        raise error

    # ---- public market data (§4)
    async def get_server_time(self) -> int:
        data = await self.request("GET", c.PATH_TIMESTAMP, pool=POOL_PUBLIC, weight=3)
        if isinstance(data, bool) or not isinstance(data, int):
            raise KucoinProtocolError(f"server time is not an integer: {data!r:.60}")
        return data

    async def get_status(self) -> dict:
        return await self.request("GET", c.PATH_STATUS, pool=POOL_PUBLIC, weight=3)

    async def get_symbols(self, market: str | None = None) -> list[Instrument]:
        data = await self.request("GET", c.PATH_SYMBOLS_V2, params={"market": market}, pool=POOL_PUBLIC, weight=4)
        return parse.parse_symbols(data)

    async def get_ticker(self, symbol: str) -> Ticker:
        data = await self.request("GET", c.PATH_LEVEL1, params={"symbol": symbol}, pool=POOL_PUBLIC, weight=2)
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
            data = await self.request("GET", c.PATH_LEVEL2_FULL_V3, params=params, private=True, pool=POOL_SPOT,
                                      weight=3)
        elif depth in (20, 100):
            path, weight = (c.PATH_LEVEL2_20, 2) if depth == 20 else (c.PATH_LEVEL2_100, 4)
            data = await self.request("GET", path, params=params, pool=POOL_PUBLIC, weight=weight)
        else:
            raise ValueError("depth must be 20, 100 or None (full book)")
        return parse.parse_book_snapshot(data)

    async def get_trade_history(self, symbol: str) -> list[Trade]:
        data = await self.request("GET", c.PATH_HISTORIES, params={"symbol": symbol}, pool=POOL_PUBLIC, weight=3)
        return parse.parse_trade_history(data, symbol)

    async def get_candles(self, symbol: str, interval: str, start_s: int | None = None,
                          end_s: int | None = None) -> list[Candle]:
        """Klines oldest first (KuCoin sends newest first); ``start_s``/``end_s`` in seconds (§4.10)."""
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
        return await self.request("POST", c.PATH_BULLET_PUBLIC, idempotent=True, pool=POOL_PUBLIC, weight=10)

    async def request_bullet(self, private: bool = False) -> parse.BulletToken:
        return parse.parse_bullet(await self.post_bullet(private))

    # ---- accounts (§5.1)
    async def get_accounts(self, currency: str | None = None) -> list[Balance]:
        """Spot balances (``type=trade``)."""
        data = await self.request("GET", c.PATH_ACCOUNTS, params={"currency": currency, "type": "trade"},
                                  private=True, pool=POOL_MANAGEMENT, weight=5)
        return parse.parse_accounts(data)

    async def get_trade_fees(self, symbols: list[str]) -> list[dict]:
        """[{symbol, takerFeeRate, makerFeeRate}] for at most 10 symbols (comma list, signed as is)."""
        return await self.request("GET", c.PATH_TRADE_FEES, params={"symbols": ",".join(symbols)}, private=True,
                                  pool=POOL_SPOT, weight=3)

    # ---- orders, HF family (§5.2-§5.7)
    async def place_order(self, order: dict) -> dict:
        """POST /api/v1/hf/orders -> {"orderId", "clientOid"}: accepted, nothing more (§5.3). Not
        idempotent: never resent here; the order gateway resolves unknown outcomes by clientOid."""
        return await self.request("POST", c.PATH_HF_ORDERS, body=order, private=True, idempotent=False,
                                  pool=POOL_SPOT, weight=1)

    async def place_order_test(self, order: dict) -> dict:
        """Validation and signature check only; nothing reaches the matching engine."""
        return await self.request("POST", c.PATH_HF_ORDERS_TEST, body=order, private=True, idempotent=True,
                                  pool=POOL_SPOT, weight=1)

    async def cancel_order(self, symbol: str, order_id: str) -> dict:
        return await self.request("DELETE", f"{c.PATH_HF_ORDERS}/{quote(order_id, safe='')}",
                                  params={"symbol": symbol}, private=True, pool=POOL_SPOT, weight=1)

    async def cancel_order_by_client_oid(self, symbol: str, client_oid: str) -> dict:
        return await self.request("DELETE", f"{c.PATH_HF_ORDERS}/client-order/{quote(client_oid, safe='')}",
                                  params={"symbol": symbol}, private=True, pool=POOL_SPOT, weight=1)

    async def cancel_all(self, symbol: str | None = None) -> Any:
        """One symbol -> "success"; all symbols -> {"succeedSymbols": [...], "failedSymbols": [...]}."""
        if symbol is None:
            return await self.request("DELETE", c.PATH_HF_ORDERS_CANCEL_ALL, private=True, pool=POOL_SPOT,
                                      weight=30)
        return await self.request("DELETE", c.PATH_HF_ORDERS, params={"symbol": symbol}, private=True,
                                  pool=POOL_SPOT, weight=2)

    async def get_order(self, symbol: str, order_id: str) -> Order | None:
        """The order, or None when KuCoin says it does not exist."""
        return await self._get_order_or_none(f"{c.PATH_HF_ORDERS}/{quote(order_id, safe='')}", symbol)

    async def get_order_by_client_oid(self, symbol: str, client_oid: str) -> Order | None:
        """How an unknown order outcome (timeout) is resolved: None means it never reached KuCoin."""
        return await self._get_order_or_none(f"{c.PATH_HF_ORDERS}/client-order/{quote(client_oid, safe='')}",
                                             symbol)

    async def _get_order_or_none(self, path: str, symbol: str) -> Order | None:
        try:
            data = await self.request("GET", path, params={"symbol": symbol}, private=True, pool=POOL_SPOT,
                                      weight=2)
        except KucoinAPIError as exc:
            if exc.code == kc.ERR_PARAMETER and any(hint in exc.msg.lower() for hint in _NOT_FOUND_HINTS):
                return None
            raise
        return None if data is None else parse.parse_order(data)

    async def get_open_orders(self, symbol: str) -> list[Order]:
        data = await self.request("GET", c.PATH_HF_ORDERS_ACTIVE, params={"symbol": symbol}, private=True,
                                  pool=POOL_SPOT, weight=2)
        return parse.parse_orders(data or [])

    async def get_fills(self, symbol: str, limit: int = 100, order_id: str | None = None) -> list[Fill]:
        """Newest HF fills of a symbol (limit 1..100)."""
        params = {"symbol": symbol, "orderId": order_id, "limit": limit}
        data = await self.request("GET", c.PATH_HF_FILLS, params=params, private=True, pool=POOL_SPOT, weight=2)
        return parse.parse_fills(data)
