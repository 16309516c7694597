"""Order endpoints of the simulator: HF orders (protocol.md §5) and the classic ("old") ones
that ccxt still calls, over the one engine.

Handlers of ``rest.ROUTES``. Imports the simulator's context and orders only; never ``server``
or ``rest``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol.numbers import fmt

from .context import Ctx
from .errors import SimError
from .orders import Order


async def post_hf_order(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.place(ctx.user, ctx.body)
    return {"orderId": order.id, "clientOid": order.client_oid}


async def post_hf_order_test(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.place(ctx.user, ctx.body, test=True)
    return {"orderId": order.id, "clientOid": order.client_oid}


async def post_hf_order_sync(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.place(ctx.user, ctx.body)
    return {"orderId": order.id, "clientOid": order.client_oid, "orderTime": order.created_at,
            "originSize": fmt(order.size), "dealSize": fmt(order.deal_size),
            "remainSize": fmt(order.remain_size), "canceledSize": fmt(order.cancelled_size),
            "status": "open" if order.active else "done", "matchTime": order.updated_at}


def _sync_cancel(order: Order) -> dict:
    return {"orderId": order.id, "originSize": fmt(order.size), "dealSize": fmt(order.deal_size),
            "remainSize": fmt(order.remain_size), "canceledSize": fmt(order.cancelled_size),
            "status": "open" if order.active else "done"}


async def delete_hf_order(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.cancel(ctx.user, ctx.symbol(), order_id=ctx.match("order_id"))
    return {"orderId": order.id}


async def delete_hf_order_sync(ctx: Ctx) -> dict:
    order_id = ctx.match("order_id")
    return _sync_cancel(ctx.sim.exchange.cancel(ctx.user, ctx.symbol(), order_id=order_id))


async def delete_hf_order_client(ctx: Ctx) -> dict:
    order = ctx.sim.exchange.cancel(ctx.user, ctx.symbol(), client_oid=ctx.match("client_oid"))
    return {"clientOid": order.client_oid}


async def delete_hf_order_client_sync(ctx: Ctx) -> dict:
    client_oid = ctx.match("client_oid")
    return _sync_cancel(ctx.sim.exchange.cancel(ctx.user, ctx.symbol(), client_oid=client_oid))


async def delete_hf_orders_symbol(ctx: Ctx) -> str:
    ctx.sim.exchange.cancel_all(ctx.user, ctx.symbol())
    return "success"


async def delete_hf_cancel_all(ctx: Ctx) -> dict:
    symbols = sorted({o.symbol for o in ctx.sim.exchange.active_orders(ctx.user)})
    ctx.sim.exchange.cancel_all(ctx.user, None)
    return {"succeedSymbols": symbols, "failedSymbols": []}


async def get_hf_order(ctx: Ctx) -> dict:
    order_id = ctx.match("order_id")
    return ctx.sim.exchange.get_order(ctx.user, ctx.symbol(), order_id=order_id).to_wire()


async def get_hf_order_client(ctx: Ctx) -> dict:
    client_oid = ctx.match("client_oid")
    return ctx.sim.exchange.get_order(ctx.user, ctx.symbol(), client_oid=client_oid).to_wire()


def _filter(ctx: Ctx, orders: list) -> list:
    side, type_ = ctx.q("side"), ctx.q("type")
    start, end = ctx.int_q("startAt", 0), ctx.int_q("endAt", 0)
    return [o for o in orders if side in (None, "", o.side) and type_ in (None, "", o.type)
            and (not start or o.created_at >= start) and (not end or o.created_at <= end)]


async def get_hf_active(ctx: Ctx) -> list:
    return [o.to_wire() for o in ctx.sim.exchange.active_orders(ctx.user, ctx.symbol())]


def _page(ctx: Ctx, rows: list, default_size: int, lo: int, hi: int) -> dict:
    page = ctx.int_q("currentPage", 0) or ctx.int_q("pageNum", 1, lo=1)
    size = ctx.int_q("pageSize", default_size, lo=lo, hi=hi)
    total = len(rows)
    return {"currentPage": page, "pageSize": size, "totalNum": total,
            "totalPage": (total + size - 1) // size, "items": rows[(page - 1) * size: page * size]}


async def get_hf_active_page(ctx: Ctx) -> dict:
    orders = ctx.sim.exchange.active_orders(ctx.user, ctx.symbol())
    return _page(ctx, [o.to_wire() for o in orders], 20, 1, 50)


async def get_hf_active_symbols(ctx: Ctx) -> dict:
    return {"symbols": sorted({o.symbol for o in ctx.sim.exchange.active_orders(ctx.user)})}


def _cursor(ctx: Ctx, rows: list, key: Callable[[Any], int]) -> dict:
    last_id = ctx.int_q("lastId", 0)
    limit = ctx.int_q("limit", 20, lo=1, hi=100)
    if last_id:
        rows = [r for r in rows if key(r) < last_id]
    rows = rows[:limit]
    return {"lastId": key(rows[-1]) if rows else 0, "items": [r.to_wire() for r in rows]}


async def get_hf_done(ctx: Ctx) -> dict:
    orders = _filter(ctx, ctx.sim.exchange.done_orders(ctx.user, ctx.symbol()))
    return _cursor(ctx, orders, lambda o: int(o.id[-12:], 16))


async def get_hf_fills(ctx: Ctx) -> dict:
    fills = ctx.sim.exchange.fills(ctx.user, ctx.symbol(), ctx.q("orderId"))
    side = ctx.q("side")
    fills = [f for f in fills if side in (None, "", f.side)]
    return _cursor(ctx, fills, lambda f: f.id)


# ---------------------------------------------------------------- classic ("old") endpoints


async def post_order_classic(ctx: Ctx) -> dict:
    if not ctx.body.get("clientOid"):
        raise SimError(kc.ERR_PARAMETER, "validation.createOrder.clientOidIsRequired")
    return {"orderId": ctx.sim.exchange.place(ctx.user, ctx.body).id}


async def post_order_classic_test(ctx: Ctx) -> dict:
    if not ctx.body.get("clientOid"):
        raise SimError(kc.ERR_PARAMETER, "validation.createOrder.clientOidIsRequired")
    return {"orderId": ctx.sim.exchange.place(ctx.user, ctx.body, test=True).id}


def _classic(order: Order) -> dict[str, Any]:
    wire = order.to_wire()
    wire["isActive"] = wire.pop("active")
    for k in ("remainSize", "remainFunds", "cancelledSize", "cancelledFunds", "inOrderBook",
              "lastUpdatedAt"):
        wire.pop(k, None)
    wire.update({"stop": "", "stopTriggered": False, "stopPrice": "0",
                 "cancelExist": order.cancelled_size > 0 or wire.get("cancelExist", False)})
    return wire


def _find_any(ctx: Ctx, order_id: str | None = None, client_oid: str | None = None) -> Order:
    return ctx.sim.exchange.get_order(ctx.user, None, order_id=order_id, client_oid=client_oid)


async def delete_order_classic(ctx: Ctx) -> dict:
    order = _find_any(ctx, order_id=ctx.match("order_id"))
    ctx.sim.exchange.cancel(ctx.user, order.symbol, order_id=order.id)
    return {"cancelledOrderIds": [order.id]}


async def delete_order_client_classic(ctx: Ctx) -> dict:
    order = _find_any(ctx, client_oid=ctx.match("client_oid"))
    ctx.sim.exchange.cancel(ctx.user, order.symbol, order_id=order.id)
    return {"cancelledOrderId": order.id, "clientOid": order.client_oid,
            "cancelledOcoOrderIds": None}


async def delete_orders_classic(ctx: Ctx) -> dict:
    cancelled = ctx.sim.exchange.cancel_all(ctx.user, ctx.symbol(required=False))
    return {"cancelledOrderIds": [o.id for o in cancelled]}


async def get_orders_classic(ctx: Ctx) -> dict:
    status = ctx.q("status", "active")
    symbol = ctx.symbol(required=False)
    ex = ctx.sim.exchange
    if status == "active":
        orders = ex.active_orders(ctx.user, symbol)
    else:
        orders = ex.done_orders(ctx.user, symbol)
    return _page(ctx, [_classic(o) for o in _filter(ctx, orders)], 50, 10, 500)


async def get_order_classic(ctx: Ctx) -> dict:
    return _classic(_find_any(ctx, order_id=ctx.match("order_id")))


async def get_order_client_classic(ctx: Ctx) -> dict:
    return _classic(_find_any(ctx, client_oid=ctx.match("client_oid")))


async def get_fills_classic(ctx: Ctx) -> dict:
    fills = ctx.sim.exchange.fills(ctx.user, ctx.symbol(required=False), ctx.q("orderId"))
    rows = []
    for f in fills:
        wire = f.to_wire()
        wire.pop("id", None)
        wire["tradeId"] = str(wire["tradeId"])
        rows.append(wire)
    return _page(ctx, rows, 50, 10, 500)
