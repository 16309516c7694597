"""``KucoinHttp``: the product-neutral signed HTTP core of every KuCoin REST client (§1-§3).

One ``request`` does everything the protocol asks of any KuCoin host, spot or futures: the query
string is built once and the exact bytes sent are the bytes signed (§2.2), the body is parsed
whatever the HTTP status and judged by ``code`` (§1.4), the clock offset is measured before the
first private call and after any 400002 (§2.4), quota headers pace each pool (§3) and only
idempotent calls are retried. A product client (``kucoin/client/rest.py``) adds typed endpoints.
Imports aiohttp, yarl, ``dashboard.kucoin.protocol`` and this package; never a product client.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp
from yarl import URL

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol.signing import Credentials, mask

from .errors import (
    KucoinAuthError,
    KucoinError,
    KucoinHTTPError,
    KucoinProtocolError,
    KucoinRateLimitError,
    KucoinTimeoutError,
    KucoinTransportError,
    api_error,
)
from .ratelimit import POOL_PUBLIC, RateLimiter
from .retry import backoff, is_retryable

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
Params = Mapping[str, str | int | Decimal | None]

_QUERY_SAFE = "-_.~,:"  # symbols, ids, numbers and comma lists go on the wire as they are (§2.2)
_IDEMPOTENT_METHODS = frozenset({"GET", "DELETE"})
TIMESTAMP_PATH = "/api/v1/timestamp"  # the same path on every KuCoin host (spot §4.1, futures)


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


def transport_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words, judged by the exception's type and errno."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "DNS lookup failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if exc.os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        return "cannot connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return "connection lost"
    return type(exc).__name__


class KucoinHttp:
    """Signed, paced, retrying HTTP to one KuCoin host. The constructor does no I/O.

    An injected ``session`` stays the caller's; otherwise one is created on first use and closed by
    ``close()``. ``clock`` returns epoch seconds (signing and pacing), ``sleep`` waits (retries and
    quota resets); both are injectable for tests. ``limiter`` paces the host's pools.
    """

    def __init__(self, base_url: str, credentials: Credentials | None = None, *,
                 session: aiohttp.ClientSession | None = None, timeout_s: float = 10.0,
                 max_retries: int = 3, clock: Clock = time.time, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None, limiter: RateLimiter | None = None,
                 time_path: str = TIMESTAMP_PATH) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).hostname or self.base_url
        self._credentials = credentials
        self.key_version = credentials.key_version if credentials else None
        self._session = session
        self._owns_session = session is None
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.limiter = limiter or RateLimiter(clock, sleep)
        self.time_path = time_path
        self.clock_offset_ms: int | None = None  # server minus local, measured lazily
        self.clock_syncs = 0
        self._closed = False

    def __repr__(self) -> str:
        key = mask(self._credentials.key) if self._credentials else None
        return (f"KucoinHttp(base_url={self.base_url!r}, key={key!r}, "
                f"key_version={self.key_version!r})")

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    async def __aenter__(self) -> KucoinHttp:
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

    # ---- clock (§2.4)
    def now_ms(self) -> int:
        """KuCoin's time as far as we know: local clock plus the measured offset."""
        return int(self._clock() * 1000) + (self.clock_offset_ms or 0)

    async def get_server_time(self) -> int:
        data = await self.request("GET", self.time_path, pool=POOL_PUBLIC, weight=3)
        if isinstance(data, bool) or not isinstance(data, int):
            raise KucoinProtocolError(f"server time is not an integer: {data!r:.60}")
        return data

    async def sync_clock(self) -> int:
        """Measure the offset to KuCoin's clock with GET /api/v1/timestamp (call midpoint)."""
        before = self._clock()
        server_ms = await self.get_server_time()
        after = self._clock()
        self.clock_offset_ms = server_ms - int((before + after) * 500)
        self.clock_syncs += 1
        return self.clock_offset_ms

    # ---- the one request path
    async def request(self, method: str, path: str, *, params: Params | None = None,
                      body: dict | None = None, private: bool = False,
                      idempotent: bool | None = None, pool: str = POOL_PUBLIC,
                      weight: int = 1) -> Any:
        """Send one KuCoin call and return its ``data``; raise the matching ``KucoinError``."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        if private and self._credentials is None:
            raise KucoinAuthError(kc.ERR_AUTH_HEADER_MISSING, "no API credentials configured", 0)
        query = build_query(params)
        path_with_query = f"{path}?{query}" if query else path
        body_text = "" if body is None else json.dumps(body, separators=(",", ":"),
                                                        ensure_ascii=False)
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
                log.warning("KuCoin rejected the timestamp of %s %s; re-syncing the clock",
                            method, path)
                await self.sync_clock()
            except KucoinError as exc:
                retryable = idempotent and retries < self.max_retries
                if not retryable or not is_retryable(exc, idempotent=True):
                    raise
                retries += 1
                await self._wait_to_retry(exc, delays, f"{method} {path}", retries)

    async def _wait_to_retry(self, exc: KucoinError, delays: Iterator[float], call: str,
                             n: int) -> None:
        # the limiter already waits out a rate limit
        delay = 0.0 if isinstance(exc, KucoinRateLimitError) else next(delays)
        log.info("retrying %s in %.2fs (%d/%d) after %s", call, delay, n, self.max_retries,
                 type(exc).__name__)
        if delay:
            await self._sleep(delay)

    async def _send(self, method: str, path_with_query: str, body_text: str, private: bool,
                    pool: str) -> Any:
        headers = {"Content-Type": "application/json"}
        if private and self._credentials is not None:
            # Sign the un-URL-encoded path and query; send the encoded one (§2.2).
            headers.update(self._credentials.headers(self.now_ms(), method,
                                                     unquote(path_with_query), body_text))
        url = URL(self.base_url + path_with_query, encoded=True)
        session = self._get_session()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with session.request(method, url, data=body_text.encode() if body_text else None,
                                       headers=headers, timeout=timeout) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except TimeoutError as exc:
            raise KucoinTimeoutError(
                f"{method} {path_with_query}: no answer within {self.timeout_s}s",
                host=self.host, reason="no answer in time") from exc
        except aiohttp.ClientError as exc:
            raise KucoinTransportError(f"{method} {path_with_query}: {type(exc).__name__}: {exc}",
                                       host=self.host, reason=transport_reason(exc)) from exc
        return self._decode(status, resp_headers, raw, pool)

    def _decode(self, status: int, headers: Any, raw: bytes, pool: str) -> Any:
        """Judge by the JSON ``code`` whatever the status; HTTP status only for non-JSON (§1.4)."""
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
