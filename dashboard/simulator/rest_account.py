"""Private account and fee endpoints of the simulator (protocol.md §4.12-§4.14).

Handlers of ``rest.ROUTES``; spot balances come from the engine, one account per currency.
Imports the simulator's context only; never ``server`` or ``rest``.
"""

from __future__ import annotations

import hashlib

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol.numbers import fmt

from .context import Ctx
from .errors import SimError


def _account_id(user_id: str, currency: str) -> str:
    """Stable across restarts (not ``hash()``, which is salted per process)."""
    digest = hashlib.sha256(f"{user_id}/{currency}".encode()).hexdigest()
    return f"{int(digest[:12], 16) % 10**12:012d}"


def _accounts(ctx: Ctx) -> list[dict]:
    rows = []
    for currency, (avail, hold) in sorted(ctx.sim.exchange.balances(ctx.user).items()):
        rows.append({"id": _account_id(ctx.user, currency), "currency": currency,
                     "type": "trade", "balance": fmt(avail + hold), "available": fmt(avail),
                     "holds": fmt(hold)})
    return rows


async def get_accounts(ctx: Ctx) -> list:
    """Spot balances live in one account per currency. HF clients (ccxt) ask for
    ``type=trade_hf``; the same balances answer under the type that was asked for. ``main``
    (funding) accounts are empty."""
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
