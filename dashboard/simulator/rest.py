"""REST endpoints of the simulator in KuCoin's paths, envelope, codes and quota headers (§4, §5).

``ROUTES`` is the whole surface: method, path, pool, weight, private or not, handler. The wrapper
applies faults, rate limits and signature checks in KuCoin's order, and turns every failure
into KuCoin's error envelope; a traceback never reaches the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import futures as kf
from dashboard.kucoin.protocol import messages as m
from dashboard.kucoin.protocol import spot as c
from dashboard.kucoin.protocol.numbers import fmt

from .catalog import CURRENCY_NAMES
from .engine import EngineError
from .errors import SimError
from .ratelimit import POOL_MANAGEMENT, POOL_PUBLIC, POOL_SPOT

if TYPE_CHECKING:
    from .server import Simulator

log = logging.getLogger(__name__)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(slots=True)
class Ctx:
    sim: Simulator
    request: web.Request
    body: dict[str, Any]
    user_id: str | None

    def q(self, name: str, default: str | None = None) -> str | None:
        return self.request.query.get(name, default)

    def match(self, name: str) -> str:
        return self.request.match_info[name]

    def symbol(self, required: bool = True) -> str | None:
        symbol = self.q("symbol") or self.body.get("symbol")
        if symbol is None:
            if required:
                raise SimError(kc.ERR_PARAMETER, "symbol is required")
            return None
        if symbol not in self.sim.exchange.rules:
            raise SimError(kc.ERR_PARAMETER, "Unsupported trading pair.")
        return symbol

    def int_q(self, name: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SimError(kc.ERR_PARAMETER, f"{name} must be an integer") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise SimError(kc.ERR_PARAMETER, f"{name} should be between {lo} and {hi}")
        return value


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    pool: str
    weight: int
    private: bool = False
    trade: bool = False  # needs the trading permission


# ---------------------------------------------------------------- public market data


async def get_timestamp(ctx: Ctx) -> int:
    return ctx.sim.now_ms()


async def get_status(ctx: Ctx) -> dict:
    return {"status": ctx.sim.status, "msg": ""}


async def get_symbols(ctx: Ctx) -> list:
    market = ctx.q("market")
    return [r.to_wire() for r in ctx.sim.exchange.rules.values() if market in (None, r.market)]


async def get_symbols_v1(ctx: Ctx) -> list:
    rows = await get_symbols(ctx)
    for row in rows:
        row.pop("st", None)
    return rows


async def get_symbol(ctx: Ctx) -> dict:
    rules = ctx.sim.exchange.rules.get(ctx.match("symbol"))
    if rules is None:
        raise SimError(kc.ERR_PARAMETER, "Unsupported trading pair.")
    return rules.to_wire()


def _currency(code: str) -> dict:
    precision = 8 if code != "USDT" else 6
    return {
        "currency": code, "name": code, "fullName": CURRENCY_NAMES.get(code, code), "precision": precision,
        "confirms": None, "contractAddress": None, "isMarginEnabled": False, "isDebitEnabled": False,
        "chains": [{"chainName": code, "withdrawalMinSize": "0.001", "depositMinSize": None,
                    "withdrawFeeRate": "0", "withdrawalMinFee": "0.0005", "isWithdrawEnabled": True,
                    "isDepositEnabled": True, "confirms": 12, "preConfirms": 6, "contractAddress": "",
                    "withdrawPrecision": precision, "maxWithdraw": None, "maxDeposit": None,
                    "needTag": False, "chainId": code.lower()}],
    }


def _currencies(sim: Simulator) -> list[str]:
    seen: dict[str, None] = {}
    for r in sim.exchange.rules.values():
        seen[r.base] = seen[r.quote] = None
    return list(seen)


async def get_currencies(ctx: Ctx) -> list:
    return [_currency(code) for code in _currencies(ctx.sim)]


async def get_currency(ctx: Ctx) -> dict:
    code = ctx.match("currency")
    if code not in _currencies(ctx.sim):
        raise SimError(kc.ERR_PARAMETER, "Currency not exists")
    return _currency(code)


async def get_markets(ctx: Ctx) -> list:
    return sorted({r.market for r in ctx.sim.exchange.rules.values()})


def _ticker_fields(sim: Simulator, symbol: str) -> dict:
    now_s = sim.now_ms() // 1000
    stats = sim.market.stats_24h(symbol, now_s)
    bid, ask = sim.exchange.best_bid_ask(symbol)
    last, open_ = stats["last"], stats["open"]
    change = (last - open_) if (last is not None and open_) else None
    rate = (change / open_).quantize(Decimal("0.0001")) if change is not None else None
    vol, vol_value = stats["vol"], stats["volValue"]
    avg = (vol_value / vol).quantize(Decimal("0.00000001")) if vol else None
    f = lambda x: None if x is None else fmt(x)  # noqa: E731
    fee = fmt(sim.exchange_fee)
    return {"symbol": symbol, "buy": f(bid), "sell": f(ask), "changeRate": f(rate), "changePrice": f(change),
            "high": f(stats["high"]), "low": f(stats["low"]), "vol": f(vol), "volValue": f(vol_value),
            "last": f(last), "averagePrice": f(avg), "takerFeeRate": fee, "makerFeeRate": fee,
            "takerCoefficient": "1", "makerCoefficient": "1"}


async def get_all_tickers(ctx: Ctx) -> dict:
    rows = []
    for symbol in ctx.sim.exchange.rules:
        row = _ticker_fields(ctx.sim, symbol)
        _, bids, asks = ctx.sim.exchange.snapshot(symbol, 1)
        row = {"symbol": symbol, "symbolName": symbol, **{k: v for k, v in row.items() if k != "symbol"}}
        row["bestBidSize"] = fmt(bids[0][1]) if bids else None
        row["bestAskSize"] = fmt(asks[0][1]) if asks else None
        rows.append(row)
    return {"time": ctx.sim.now_ms(), "ticker": rows}


async def get_stats(ctx: Ctx) -> dict:
    symbol = ctx.symbol()
    return {"time": ctx.sim.now_ms(), **_ticker_fields(ctx.sim, symbol)}


async def get_level1(ctx: Ctx) -> dict:
    symbol = ctx.symbol()
    seq, bids, asks = ctx.sim.exchange.snapshot(symbol, 1)
    data = ctx.sim.market.symbols[symbol]
    return {"time": ctx.sim.now_ms(), "sequence": str(seq),
            "price": fmt(data.last_price) if data.last_price is not None else None,
            "size": fmt(data.last_size) if data.last_size is not None else None,
            "bestBid": fmt(bids[0][0]) if bids else None, "bestBidSize": fmt(bids[0][1]) if bids else None,
            "bestAsk": fmt(asks[0][0]) if asks else None, "bestAskSize": fmt(asks[0][1]) if asks else None}


async def _book(ctx: Ctx, depth: int | None) -> dict:
    symbol = ctx.symbol()
    sim = ctx.sim
    if delay := sim.faults.snapshot_delay():
        await asyncio.sleep(delay)
    if sim.faults.snapshot_5xx():
        raise SimError(kc.ERR_INTERNAL, "Internal Server Error", 500)
    # Read after any delay: the snapshot and its sequence come from one synchronous engine read.
    seq, bids, asks = sim.exchange.snapshot(symbol, depth)
    return {"time": sim.now_ms(), "sequence": str(seq),
            "bids": [[fmt(p), fmt(s)] for p, s in bids], "asks": [[fmt(p), fmt(s)] for p, s in asks]}


async def get_level2_20(ctx: Ctx) -> dict:
    return await _book(ctx, 20)


async def get_level2_100(ctx: Ctx) -> dict:
    return await _book(ctx, 100)


async def get_level2_full(ctx: Ctx) -> dict:
    return await _book(ctx, None)


async def get_histories(ctx: Ctx) -> list:
    symbol = ctx.symbol()
    return [{"sequence": str(t.sequence), "price": fmt(t.price), "size": fmt(t.size), "side": t.side,
             "time": t.time_ns} for t in ctx.sim.market.symbols[symbol].trades]


async def get_candles(ctx: Ctx) -> list:
    symbol = ctx.symbol()
    type_ = ctx.q("type")
    if type_ not in c.CANDLE_TYPES:
        raise SimError(kc.ERR_PARAMETER, f"type should be one of {', '.join(c.CANDLE_TYPES)}")
    start = ctx.int_q("startAt", 0, lo=0)
    end = ctx.int_q("endAt", 0, lo=0) or (ctx.sim.now_ms() // 1000 + 1)
    rows = ctx.sim.market.candles(symbol, type_, start, end, c.MAX_CANDLES_PER_REQUEST)
    return [r.to_wire() for r in rows]


async def post_bullet_public(ctx: Ctx) -> dict:
    return ctx.sim.bullet(ctx.request, None)


async def post_bullet_private(ctx: Ctx) -> dict:
    return ctx.sim.bullet(ctx.request, ctx.user_id)


# ---------------------------------------------------------------- accounts


def _account_id(user_id: str, currency: str) -> str:
    """Stable across restarts (not ``hash()``, which is salted per process)."""
    digest = hashlib.sha256(f"{user_id}/{currency}".encode()).hexdigest()
    return f"{int(digest[:12], 16) % 10**12:012d}"


def _accounts(ctx: Ctx) -> list[dict]:
    rows = []
    for currency, (avail, hold) in sorted(ctx.sim.exchange.balances(ctx.user_id).items()):
        rows.append({"id": _account_id(ctx.user_id, currency), "currency": currency, "type": "trade",
                     "balance": fmt(avail + hold), "available": fmt(avail), "holds": fmt(hold)})
    return rows


async def get_accounts(ctx: Ctx) -> list:
    """Spot balances live in one account per currency. HF clients (ccxt) ask for ``type=trade_hf``;
    the same balances answer under the type that was asked for. ``main`` (funding) accounts are empty."""
    currency, type_ = ctx.q("currency"), ctx.q("type") or "trade"
    if type_ not in ("trade", "trade_hf"):
        return []
    return [{**a, "type": type_} for a in _accounts(ctx) if currency in (None, a["currency"])]


async def get_account(ctx: Ctx) -> dict:
    for a in _accounts(ctx):
        if a["id"] == ctx.match("account_id"):
            return {k: a[k] for k in ("currency", "balance", "available", "holds")}
    raise SimError(kc.ERR_PARAMETER, "account not exist")


async def get_hf_opened(ctx: Ctx) -> bool:
    return True


async def get_account_mode(ctx: Ctx) -> dict:
    """The simulator only has classic (non-unified) spot accounts."""
    return {"selfAccountMode": "CLASSIC"}


async def get_margin_symbols(ctx: Ctx) -> dict:
    """No margin trading here: an empty list in KuCoin's v3 shape."""
    return {"timestamp": ctx.sim.now_ms(), "items": []}


async def get_empty_list(ctx: Ctx) -> list:
    """Isolated margin symbols / futures contracts: none on this spot-only simulator."""
    return []


async def get_base_fee(ctx: Ctx) -> dict:
    fee = fmt(ctx.sim.exchange_fee)
    return {"takerFeeRate": fee, "makerFeeRate": fee}


async def get_trade_fees(ctx: Ctx) -> list:
    symbols = (ctx.q("symbols") or "").split(",")
    if not symbols or symbols == [""] or len(symbols) > 10:
        raise SimError(kc.ERR_PARAMETER, "symbols is required (at most 10)")
    fee = fmt(ctx.sim.exchange_fee)
    return [{"symbol": s, "takerFeeRate": fee, "makerFeeRate": fee} for s in symbols
            if s in ctx.sim.exchange.rules]


# ---------------------------------------------------------------- orders (HF)


async def post_hf_order(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.place(ctx.user_id, ctx.body)
    return {"orderId": order.id, "clientOid": order.client_oid}


async def post_hf_order_test(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.place(ctx.user_id, ctx.body, test=True)
    return {"orderId": order.id, "clientOid": order.client_oid}


async def post_hf_order_sync(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.place(ctx.user_id, ctx.body)
    return {"orderId": order.id, "clientOid": order.client_oid, "orderTime": order.created_at,
            "originSize": fmt(order.size), "dealSize": fmt(order.deal_size),
            "remainSize": fmt(order.remain_size), "canceledSize": fmt(order.cancelled_size),
            "status": "open" if order.active else "done", "matchTime": order.updated_at}


def _sync_cancel(order) -> dict:
    return {"orderId": order.id, "originSize": fmt(order.size), "dealSize": fmt(order.deal_size),
            "remainSize": fmt(order.remain_size), "canceledSize": fmt(order.cancelled_size),
            "status": "open" if order.active else "done"}


async def delete_hf_order(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.cancel(ctx.user_id, ctx.symbol(), order_id=ctx.match("order_id"))
    return {"orderId": order.id}


async def delete_hf_order_sync(ctx: Ctx) -> dict:
    return _sync_cancel(ctx.sim.exchange.cancel(ctx.user_id, ctx.symbol(), order_id=ctx.match("order_id")))


async def delete_hf_order_client(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.cancel(ctx.user_id, ctx.symbol(), client_oid=ctx.match("client_oid"))
    return {"clientOid": order.client_oid}


async def delete_hf_order_client_sync(ctx: Ctx) -> dict:
    return _sync_cancel(ctx.sim.exchange.cancel(ctx.user_id, ctx.symbol(), client_oid=ctx.match("client_oid")))


async def delete_hf_orders_symbol(ctx: Ctx) -> str:
    ctx.sim.exchange.cancel_all(ctx.user_id, ctx.symbol())
    return "success"


async def delete_hf_cancel_all(ctx: Ctx) -> dict:
    symbols = sorted({o.symbol for o in ctx.sim.exchange.active_orders(ctx.user_id)})
    ctx.sim.exchange.cancel_all(ctx.user_id, None)
    return {"succeedSymbols": symbols, "failedSymbols": []}


async def get_hf_order(ctx: Ctx) -> dict:
    return ctx.sim.exchange.get_order(ctx.user_id, ctx.symbol(), order_id=ctx.match("order_id")).to_wire()


async def get_hf_order_client(ctx: Ctx) -> dict:
    return ctx.sim.exchange.get_order(ctx.user_id, ctx.symbol(), client_oid=ctx.match("client_oid")).to_wire()


def _filter(ctx: Ctx, orders: list) -> list:
    side, type_ = ctx.q("side"), ctx.q("type")
    start, end = ctx.int_q("startAt", 0), ctx.int_q("endAt", 0)
    return [o for o in orders if side in (None, "", o.side) and type_ in (None, "", o.type)
            and (not start or o.created_at >= start) and (not end or o.created_at <= end)]


async def get_hf_active(ctx: Ctx) -> list:
    return [o.to_wire() for o in ctx.sim.exchange.active_orders(ctx.user_id, ctx.symbol())]


def _page(ctx: Ctx, rows: list, default_size: int, lo: int, hi: int) -> dict:
    page = ctx.int_q("currentPage", 0) or ctx.int_q("pageNum", 1, lo=1)
    size = ctx.int_q("pageSize", default_size, lo=lo, hi=hi)
    total = len(rows)
    return {"currentPage": page, "pageSize": size, "totalNum": total, "totalPage": (total + size - 1) // size,
            "items": rows[(page - 1) * size: page * size]}


async def get_hf_active_page(ctx: Ctx) -> dict:
    orders = ctx.sim.exchange.active_orders(ctx.user_id, ctx.symbol())
    return _page(ctx, [o.to_wire() for o in orders], 20, 1, 50)


async def get_hf_active_symbols(ctx: Ctx) -> dict:
    return {"symbols": sorted({o.symbol for o in ctx.sim.exchange.active_orders(ctx.user_id)})}


def _cursor(ctx: Ctx, rows: list, key) -> dict:
    last_id = ctx.int_q("lastId", 0)
    limit = ctx.int_q("limit", 20, lo=1, hi=100)
    if last_id:
        rows = [r for r in rows if key(r) < last_id]
    rows = rows[:limit]
    return {"lastId": key(rows[-1]) if rows else 0, "items": [r.to_wire() for r in rows]}


async def get_hf_done(ctx: Ctx) -> dict:
    orders = _filter(ctx, ctx.sim.exchange.done_orders(ctx.user_id, ctx.symbol()))
    return _cursor(ctx, orders, lambda o: int(o.id[-12:], 16))


async def get_hf_fills(ctx: Ctx) -> dict:
    fills = ctx.sim.exchange.fills(ctx.user_id, ctx.symbol(), ctx.q("orderId"))
    side = ctx.q("side")
    fills = [f for f in fills if side in (None, "", f.side)]
    return _cursor(ctx, fills, lambda f: f.id)


# ---------------------------------------------------------------- classic ("old") endpoints


async def post_order_classic(ctx: Ctx) -> dict:
    if not ctx.body.get("clientOid"):
        raise SimError(kc.ERR_PARAMETER, "validation.createOrder.clientOidIsRequired")
    return {"orderId": ctx.sim.exchange.place(ctx.user_id, ctx.body).id}


async def post_order_classic_test(ctx: Ctx) -> dict:
    if not ctx.body.get("clientOid"):
        raise SimError(kc.ERR_PARAMETER, "validation.createOrder.clientOidIsRequired")
    return {"orderId": ctx.sim.exchange.place(ctx.user_id, ctx.body, test=True).id}


def _classic(order) -> dict:
    wire = order.to_wire()
    wire["isActive"] = wire.pop("active")
    for k in ("remainSize", "remainFunds", "cancelledSize", "cancelledFunds", "inOrderBook", "lastUpdatedAt"):
        wire.pop(k, None)
    wire.update({"stop": "", "stopTriggered": False, "stopPrice": "0",
                 "cancelExist": order.cancelled_size > 0 or wire.get("cancelExist", False)})
    return wire


def _find_any(ctx: Ctx, order_id: str | None = None, client_oid: str | None = None):
    return ctx.sim.exchange.get_order(ctx.user_id, None, order_id=order_id, client_oid=client_oid)


async def delete_order_classic(ctx: Ctx) -> dict:
    order = _find_any(ctx, order_id=ctx.match("order_id"))
    ctx.sim.exchange.cancel(ctx.user_id, order.symbol, order_id=order.id)
    return {"cancelledOrderIds": [order.id]}


async def delete_order_client_classic(ctx: Ctx) -> dict:
    order = _find_any(ctx, client_oid=ctx.match("client_oid"))
    ctx.sim.exchange.cancel(ctx.user_id, order.symbol, order_id=order.id)
    return {"cancelledOrderId": order.id, "clientOid": order.client_oid, "cancelledOcoOrderIds": None}


async def delete_orders_classic(ctx: Ctx) -> dict:
    cancelled = ctx.sim.exchange.cancel_all(ctx.user_id, ctx.symbol(required=False))
    return {"cancelledOrderIds": [o.id for o in cancelled]}


async def get_orders_classic(ctx: Ctx) -> dict:
    status = ctx.q("status", "active")
    symbol = ctx.symbol(required=False)
    ex = ctx.sim.exchange
    orders = ex.active_orders(ctx.user_id, symbol) if status == "active" else ex.done_orders(ctx.user_id, symbol)
    return _page(ctx, [_classic(o) for o in _filter(ctx, orders)], 50, 10, 500)


async def get_order_classic(ctx: Ctx) -> dict:
    return _classic(_find_any(ctx, order_id=ctx.match("order_id")))


async def get_order_client_classic(ctx: Ctx) -> dict:
    return _classic(_find_any(ctx, client_oid=ctx.match("client_oid")))


async def get_fills_classic(ctx: Ctx) -> dict:
    fills = ctx.sim.exchange.fills(ctx.user_id, ctx.symbol(required=False), ctx.q("orderId"))
    rows = []
    for f in fills:
        wire = f.to_wire()
        wire.pop("id", None)
        wire["tradeId"] = str(wire["tradeId"])
        rows.append(wire)
    return _page(ctx, rows, 50, 10, 500)


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
    Route("DELETE", c.PATH_HF_ORDERS_CANCEL_ALL, delete_hf_cancel_all, S, 30, private=True, trade=True),
    Route("DELETE", c.PATH_HF_ORDERS + "/sync/client-order/{client_oid}", delete_hf_order_client_sync, S, 1,
          private=True, trade=True),
    Route("DELETE", c.PATH_HF_ORDERS + "/sync/{order_id}", delete_hf_order_sync, S, 1, private=True, trade=True),
    Route("DELETE", c.PATH_HF_ORDERS + "/client-order/{client_oid}", delete_hf_order_client, S, 1,
          private=True, trade=True),
    Route("DELETE", c.PATH_HF_ORDERS + "/{order_id}", delete_hf_order, S, 1, private=True, trade=True),
    Route("DELETE", c.PATH_HF_ORDERS, delete_hf_orders_symbol, S, 2, private=True, trade=True),
    Route("GET", c.PATH_HF_ORDERS_ACTIVE, get_hf_active, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS_ACTIVE_PAGE, get_hf_active_page, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS_ACTIVE_SYMBOLS, get_hf_active_symbols, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS_DONE, get_hf_done, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS + "/client-order/{client_oid}", get_hf_order_client, S, 2, private=True),
    Route("GET", c.PATH_HF_ORDERS + "/{order_id}", get_hf_order, S, 2, private=True),
    Route("GET", c.PATH_HF_FILLS, get_hf_fills, S, 2, private=True),
    Route("POST", c.PATH_ORDERS, post_order_classic, S, 2, private=True, trade=True),
    Route("POST", c.PATH_ORDERS_TEST, post_order_classic_test, S, 2, private=True, trade=True),
    Route("DELETE", c.PATH_ORDERS + "/{order_id}", delete_order_classic, S, 3, private=True, trade=True),
    Route("DELETE", c.PATH_ORDER_CLIENT + "/{client_oid}", delete_order_client_classic, S, 3, private=True,
          trade=True),
    Route("DELETE", c.PATH_ORDERS, delete_orders_classic, S, 20, private=True, trade=True),
    Route("GET", c.PATH_ORDERS, get_orders_classic, S, 2, private=True),
    Route("GET", c.PATH_ORDERS + "/{order_id}", get_order_classic, S, 2, private=True),
    Route("GET", c.PATH_ORDER_CLIENT + "/{client_oid}", get_order_client_classic, S, 2, private=True),
    Route("GET", c.PATH_FILLS, get_fills_classic, S, 10, private=True),
)


def json_response(payload: dict, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=_dumps(payload), status=status, headers=headers,
                        content_type="application/json")


def error_response(exc: SimError | EngineError, headers: dict[str, str] | None = None) -> web.Response:
    merged = {**(headers or {}), **getattr(exc, "headers", {})}
    return json_response(m.error(exc.code, exc.msg), exc.http_status, merged)


def wrap(sim: Simulator, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    """One aiohttp handler for a route: fault -> body -> auth -> rate limit -> handler -> envelope."""

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
                key = sim.keys.verify(route.method, unquote(request.raw_path), request.headers, raw_body, now)
                if route.trade and not key.can_trade:
                    raise SimError(kc.ERR_ACCESS_DENIED, "Access denied: this API key has no Spot trading "
                                   "permission", 401)
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
        raise SimError(kc.ERR_UNSUPPORTED_MEDIA, "Unsupported Media Type: send Content-Type: application/json",
                       415)
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
