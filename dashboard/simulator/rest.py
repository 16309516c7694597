"""REST surface of the simulator in KuCoin's paths, envelope, codes and quota headers (§4, §5).

``ROUTES`` is the whole surface: method, path, pool, weight, private or not, handler (the
handlers live by area in ``rest_market``, ``rest_account`` and ``rest_orders``). The wrapper
applies faults, rate limits and signature checks in KuCoin's order, and turns every failure
into KuCoin's error envelope; a traceback never reaches the client. Handlers see the simulator
only through ``context.SimServices``; this module never imports ``server``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import futures as kf
from dashboard.kucoin.protocol import messages as m
from dashboard.kucoin.protocol import spot as c

from .context import Ctx, Handler, SimServices
from .errors import SimError
from .orders import EngineError
from .ratelimit import POOL_MANAGEMENT, POOL_PUBLIC, POOL_SPOT
from .rest_account import (
    get_account,
    get_account_mode,
    get_accounts,
    get_base_fee,
    get_empty_list,
    get_hf_opened,
    get_margin_symbols,
    get_trade_fees,
)
from .rest_market import (
    get_all_tickers,
    get_candles,
    get_currencies,
    get_currency,
    get_histories,
    get_level1,
    get_level2_20,
    get_level2_100,
    get_level2_full,
    get_markets,
    get_stats,
    get_status,
    get_symbol,
    get_symbols,
    get_symbols_v1,
    get_timestamp,
    post_bullet_private,
    post_bullet_public,
)
from .rest_orders import (
    delete_hf_cancel_all,
    delete_hf_order,
    delete_hf_order_client,
    delete_hf_order_client_sync,
    delete_hf_order_sync,
    delete_hf_orders_symbol,
    delete_order_classic,
    delete_order_client_classic,
    delete_orders_classic,
    get_fills_classic,
    get_hf_active,
    get_hf_active_page,
    get_hf_active_symbols,
    get_hf_done,
    get_hf_fills,
    get_hf_order,
    get_hf_order_client,
    get_order_classic,
    get_order_client_classic,
    get_orders_classic,
    post_hf_order,
    post_hf_order_sync,
    post_hf_order_test,
    post_order_classic,
    post_order_classic_test,
)

__all__ = ["ROUTES", "Ctx", "Route", "envelope_middleware", "error_response", "json_response",
           "wrap"]

log = logging.getLogger(__name__)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    pool: str
    weight: int
    private: bool = False
    trade: bool = False  # needs the trading permission


P, S, M = POOL_PUBLIC, POOL_SPOT, POOL_MANAGEMENT

ROUTES: tuple[Route, ...] = (
    Route("GET", c.PATH_TIMESTAMP, get_timestamp, P, 3),
    Route("GET", c.PATH_STATUS, get_status, P, 3),
    Route("GET", c.PATH_SYMBOLS_V2, get_symbols, P, 4),
    Route("GET", c.PATH_SYMBOLS_V2 + "/{symbol}", get_symbol, P, 4),
    Route("GET", c.PATH_SYMBOLS_V1, get_symbols_v1, P, 4),
    Route("GET", c.PATH_CURRENCIES_V3, get_currencies, P, 3),
    Route("GET", c.PATH_CURRENCIES_V3 + "/{currency}", get_currency, P, 3),
    Route("GET", c.PATH_CURRENCIES_V1, get_currencies, P, 3),
    Route("GET", c.PATH_MARKETS, get_markets, P, 3),
    Route("GET", c.PATH_ALL_TICKERS, get_all_tickers, P, 15),
    Route("GET", c.PATH_STATS, get_stats, P, 15),
    Route("GET", c.PATH_LEVEL1, get_level1, P, 2),
    Route("GET", c.PATH_LEVEL2_20, get_level2_20, P, 2),
    Route("GET", c.PATH_LEVEL2_100, get_level2_100, P, 4),
    Route("GET", c.PATH_HISTORIES, get_histories, P, 3),
    Route("GET", c.PATH_CANDLES, get_candles, P, 3),
    Route("POST", c.PATH_BULLET_PUBLIC, post_bullet_public, P, 10),
    Route("POST", c.PATH_BULLET_PRIVATE, post_bullet_private, S, 10, private=True),
    Route("GET", c.PATH_LEVEL2_FULL_V3, get_level2_full, S, 3, private=True),
    Route("GET", c.PATH_ACCOUNTS, get_accounts, M, 5, private=True),
    Route("GET", c.PATH_ACCOUNTS + "/{account_id}", get_account, M, 5, private=True),
    Route("GET", c.PATH_HF_ACCOUNTS_OPENED, get_hf_opened, S, 30, private=True),
    Route("GET", c.PATH_UA_ACCOUNT_MODE, get_account_mode, M, 30, private=True),
    Route("GET", c.PATH_MARGIN_SYMBOLS_V3, get_margin_symbols, S, 3, private=True),
    Route("GET", c.PATH_ISOLATED_SYMBOLS, get_empty_list, S, 3, private=True),
    Route("GET", kf.PATH_FUTURES_CONTRACTS_ACTIVE, get_empty_list, P, 3),
    Route("GET", c.PATH_BASE_FEE, get_base_fee, S, 3, private=True),
    Route("GET", c.PATH_TRADE_FEES, get_trade_fees, S, 3, private=True),
    Route("POST", c.PATH_HF_ORDERS, post_hf_order, S, 1, private=True, trade=True),
    Route("POST", c.PATH_HF_ORDERS_TEST, post_hf_order_test, S, 1, private=True, trade=True),
    Route("POST", c.PATH_HF_ORDERS_SYNC, post_hf_order_sync, S, 1, private=True, trade=True),
    Route("DELETE", c.PATH_HF_ORDERS_CANCEL_ALL, delete_hf_cancel_all, S, 30, private=True,
          trade=True),
    Route("DELETE", c.PATH_HF_ORDERS + "/sync/client-order/{client_oid}",
          delete_hf_order_client_sync, S, 1, private=True, trade=True),
    Route("DELETE", c.PATH_HF_ORDERS + "/sync/{order_id}", delete_hf_order_sync, S, 1, private=True,
          trade=True),
    Route("DELETE", c.PATH_HF_ORDERS + "/client-order/{client_oid}", delete_hf_order_client, S, 1,
          private=True, trade=True),
    Route("DELETE", c.PATH_HF_ORDERS + "/{order_id}", delete_hf_order, S, 1, private=True,
          trade=True),
    Route("DELETE", c.PATH_HF_ORDERS, delete_hf_orders_symbol, S, 2, private=True, trade=True),
    Route("GET", c.PATH_HF_ORDERS_ACTIVE, get_hf_active, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS_ACTIVE_PAGE, get_hf_active_page, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS_ACTIVE_SYMBOLS, get_hf_active_symbols, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS_DONE, get_hf_done, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS + "/client-order/{client_oid}", get_hf_order_client, S, 2,
          private=True),
    Route("GET", c.PATH_HF_ORDERS + "/{order_id}", get_hf_order, S, 2, private=True),
    Route("GET", c.PATH_HF_FILLS, get_hf_fills, S, 2, private=True),
    Route("POST", c.PATH_ORDERS, post_order_classic, S, 2, private=True, trade=True),
    Route("POST", c.PATH_ORDERS_TEST, post_order_classic_test, S, 2, private=True, trade=True),
    Route("DELETE", c.PATH_ORDERS + "/{order_id}", delete_order_classic, S, 3, private=True,
          trade=True),
    Route("DELETE", c.PATH_ORDER_CLIENT + "/{client_oid}", delete_order_client_classic, S, 3,
          private=True, trade=True),
    Route("DELETE", c.PATH_ORDERS, delete_orders_classic, S, 20, private=True, trade=True),
    Route("GET", c.PATH_ORDERS, get_orders_classic, S, 2, private=True),
    Route("GET", c.PATH_ORDERS + "/{order_id}", get_order_classic, S, 2, private=True),
    Route("GET", c.PATH_ORDER_CLIENT + "/{client_oid}", get_order_client_classic, S, 2,
          private=True),
    Route("GET", c.PATH_FILLS, get_fills_classic, S, 10, private=True),
)


def json_response(payload: dict, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=_dumps(payload), status=status, headers=headers,
                        content_type="application/json")


def error_response(exc: SimError | EngineError,
                   headers: dict[str, str] | None = None) -> web.Response:
    merged = {**(headers or {}), **getattr(exc, "headers", {})}
    return json_response(m.error(exc.code, exc.msg), exc.http_status, merged)


def wrap(sim: SimServices, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    """One aiohttp handler for a route: fault, body, auth, rate limit, handler, envelope."""

    async def handler(request: web.Request) -> web.Response:
        headers: dict[str, str] = {}
        try:
            if sim.faults.rest_429():
                # server overload style 429: no quota headers, no quota consumed (§3.1)
                raise SimError(kc.ERR_TOO_MANY_REQUESTS, "Too Many Requests", 429)
            raw_body = await request.text() if request.body_exists else ""
            body = _parse_body(request, raw_body)
            user_id = None
            now = sim.now_ms()
            if route.private:
                key = sim.keys.verify(route.method, unquote(request.raw_path), request.headers,
                                      raw_body, now)
                if route.trade and not key.can_trade:
                    raise SimError(kc.ERR_ACCESS_DENIED, "Access denied: this API key has no Spot "
                                   "trading permission", 401)
                user_id = key.user_id
                identity = user_id
            else:
                identity = request.remote or "?"
            headers = sim.limiter.charge(route.pool, identity, route.weight, now)
            fault = sim.faults.order_fault() if route.method == "POST" and route.trade else None
            if fault == "lost_request":
                _drop_connection(request)
                raise web.HTTPServiceUnavailable()  # never delivered: the socket is already gone
            data = await route.handler(Ctx(sim, request, body, user_id))
            if route.method == "POST" and route.trade and (delay := sim.faults.order_delay()):
                await asyncio.sleep(delay)
            if fault == "lost_response":
                _drop_connection(request)
                raise web.HTTPServiceUnavailable()
            return json_response(m.ok(data), 200, headers)
        except (SimError, EngineError) as exc:
            return error_response(exc, headers)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("simulator: unexpected failure in %s %s", route.method, route.path)
            return json_response(m.error(kc.ERR_INTERNAL, "Internal Server Error"), 500, headers)

    return handler


def _drop_connection(request: web.Request) -> None:
    """Fault: cut the TCP connection, as a network failure would."""
    transport = request.transport
    if transport is not None:
        transport.abort()


def _parse_body(request: web.Request, raw: str) -> dict[str, Any]:
    if request.method != "POST" or not raw.strip():
        return {}
    ctype = request.headers.get("Content-Type", "application/json")
    if "json" not in ctype:
        raise SimError(kc.ERR_UNSUPPORTED_MEDIA,
                       "Unsupported Media Type: send Content-Type: application/json", 415)
    try:
        body = json.loads(raw)
    except ValueError:
        raise SimError(kc.ERR_PARAMETER, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise SimError(kc.ERR_PARAMETER, "Request body must be a JSON object")
    return body


@web.middleware
async def envelope_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Unknown paths and methods get KuCoin's envelope instead of aiohttp's text pages."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return json_response(m.error(kc.ERR_NOT_FOUND, "Url Not Found"), 404)
    except web.HTTPMethodNotAllowed:
        return json_response(m.error("405000", "Method Not Allowed"), 405)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("simulator: unexpected failure in %s %s", request.method, request.path)
        return json_response(m.error(kc.ERR_INTERNAL, "Internal Server Error"), 500)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
