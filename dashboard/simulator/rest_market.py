"""Public market-data endpoints of the simulator (protocol.md §4) and the WebSocket bullets (§6.1).

Handlers of ``rest.ROUTES``: each takes a ``context.Ctx`` and returns the ``data`` of KuCoin's
envelope. Imports the simulator's context and catalog only; never ``server`` or ``rest``.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import spot as c
from dashboard.kucoin.protocol.numbers import fmt
from dashboard.kucoin.protocol.schemas import BulletData

from .catalog import CURRENCY_NAMES
from .context import Ctx, SimServices
from .errors import SimError


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
        "currency": code, "name": code, "fullName": CURRENCY_NAMES.get(code, code),
        "precision": precision, "confirms": None, "contractAddress": None,
        "isMarginEnabled": False, "isDebitEnabled": False,
        "chains": [{"chainName": code, "withdrawalMinSize": "0.001", "depositMinSize": None,
                    "withdrawFeeRate": "0", "withdrawalMinFee": "0.0005", "isWithdrawEnabled": True,
                    "isDepositEnabled": True, "confirms": 12, "preConfirms": 6,
                    "contractAddress": "",
                    "withdrawPrecision": precision, "maxWithdraw": None, "maxDeposit": None,
                    "needTag": False, "chainId": code.lower()}],
    }


def _currencies(sim: SimServices) -> list[str]:
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


def _ticker_fields(sim: SimServices, symbol: str) -> dict:
    now_s = sim.now_ms() // 1000
    stats = sim.market.stats_24h(symbol, now_s)
    bid, ask = sim.exchange.best_bid_ask(symbol)
    last, open_ = stats["last"], stats["open"]
    change = (last - open_) if (last is not None and open_) else None
    rate = (change / open_).quantize(Decimal("0.0001")) if change is not None and open_ else None
    vol, vol_value = stats["vol"], stats["volValue"]
    avg = (vol_value / vol).quantize(Decimal("0.00000001")) if vol and vol_value is not None \
        else None
    f = lambda x: None if x is None else fmt(x)  # noqa: E731
    fee = fmt(sim.exchange_fee)
    return {"symbol": symbol, "buy": f(bid), "sell": f(ask), "changeRate": f(rate),
            "changePrice": f(change), "high": f(stats["high"]), "low": f(stats["low"]),
            "vol": f(vol), "volValue": f(vol_value),
            "last": f(last), "averagePrice": f(avg), "takerFeeRate": fee, "makerFeeRate": fee,
            "takerCoefficient": "1", "makerCoefficient": "1"}


async def get_all_tickers(ctx: Ctx) -> dict:
    rows = []
    for symbol in ctx.sim.exchange.rules:
        row = _ticker_fields(ctx.sim, symbol)
        _, bids, asks = ctx.sim.exchange.snapshot(symbol, 1)
        row = {"symbol": symbol, "symbolName": symbol,
               **{k: v for k, v in row.items() if k != "symbol"}}
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
            "bestBid": fmt(bids[0][0]) if bids else None,
            "bestBidSize": fmt(bids[0][1]) if bids else None,
            "bestAsk": fmt(asks[0][0]) if asks else None,
            "bestAskSize": fmt(asks[0][1]) if asks else None}


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
            "bids": [[fmt(p), fmt(s)] for p, s in bids],
            "asks": [[fmt(p), fmt(s)] for p, s in asks]}


async def get_level2_20(ctx: Ctx) -> dict:
    return await _book(ctx, 20)


async def get_level2_100(ctx: Ctx) -> dict:
    return await _book(ctx, 100)


async def get_level2_full(ctx: Ctx) -> dict:
    return await _book(ctx, None)


async def get_histories(ctx: Ctx) -> list:
    symbol = ctx.symbol()
    return [{"sequence": str(t.sequence), "price": fmt(t.price), "size": fmt(t.size),
             "side": t.side, "time": t.time_ns} for t in ctx.sim.market.symbols[symbol].trades]


async def get_candles(ctx: Ctx) -> list:
    symbol = ctx.symbol()
    type_ = ctx.q("type")
    if type_ not in c.CANDLE_TYPES:
        raise SimError(kc.ERR_PARAMETER, f"type should be one of {', '.join(c.CANDLE_TYPES)}")
    start = ctx.int_q("startAt", 0, lo=0)
    end = ctx.int_q("endAt", 0, lo=0) or (ctx.sim.now_ms() // 1000 + 1)
    rows = ctx.sim.market.candles(symbol, type_, start, end, c.MAX_CANDLES_PER_REQUEST)
    return [r.to_wire() for r in rows]


async def post_bullet_public(ctx: Ctx) -> BulletData:
    return ctx.sim.bullet(ctx.request, None)


async def post_bullet_private(ctx: Ctx) -> BulletData:
    return ctx.sim.bullet(ctx.request, ctx.user_id)
