"""Chaos for the order path: lost requests, lost answers, slow answers and 429 bursts; nothing
lost or doubled.

Every order carries its own clientOid. At the end the simulator's orders of the demo user (active
and done) are the ground truth: each clientOid appears at most once, every order the gateway
reported as placed is there under the reported id, and every unknown outcome is settled by asking
for the clientOid.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import aiohttp
import pytest

from dashboard.domain.errors import OrderOutcomeUnknown
from dashboard.domain.models import OrderRequest, OrderType, Side, Submitted, TimeInForce
from dashboard.domain.risk import RiskLimits
from dashboard.kucoin.client.gateway import OrderGateway
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.kucoin.common.errors import KucoinTimeoutError
from dashboard.simulator.server import SimConfig, Simulator

from .conftest import eventually

N_ORDERS = 300
CONCURRENCY = 10
CLIENT_TIMEOUT_S = 0.3
ORDER_FAULTS = {"order_lost_request": 0.12, "order_lost_response": 0.08, "order_delay_s": 0.6,
                "order_slow": 0.1}
BURST_EVERY, BURST_429S, BURST_P = 30, 5, 0.5  # a 429 burst after every 30 finished orders
SIZES = {"BTC-USDT": Decimal("0.001"), "ETH-USDT": Decimal("0.01")}


def _request(i: int, sim: Simulator) -> OrderRequest:
    """A buy far below the market, so it never trades: every third one IOC (done at once), the
    rest resting."""
    symbol = ("BTC-USDT", "ETH-USDT")[i % 2]
    tick = sim.exchange.rules[symbol].price_increment
    bid, _ = sim.exchange.best_bid_ask(symbol)
    price = (bid * Decimal("0.95")).quantize(tick)
    tif = TimeInForce.IOC if i % 3 == 0 else TimeInForce.GTC
    client_oid = f"chaos-{i:04d}-{random.randrange(16**8):08x}"
    return OrderRequest(symbol, Side.BUY, OrderType.LIMIT, size=SIZES[symbol], price=price,
                        time_in_force=tif, client_oid=client_oid)


async def _burst_429s(sim: Simulator, done: Callable[[], int]) -> None:
    """After every ``BURST_EVERY`` finished orders, answer 429 (with probability) until
    ``BURST_429S`` more."""
    next_at = 0
    while True:
        await eventually(lambda n=next_at: done() >= n, 60.0, 0.005)
        target = sim.faults.counts["rest_429"] + BURST_429S
        sim.faults.set(rest_429=BURST_P)
        await eventually(lambda t=target: sim.faults.counts["rest_429"] >= t, 60.0, 0.005)
        sim.faults.set(rest_429=0.0)
        next_at = done() + BURST_EVERY


@pytest.mark.parametrize(("max_attempts", "query_attempts"), [(4, 5), (2, 2)],
                         ids=["default-gateway", "impatient-gateway"])
async def test_orders_are_never_lost_or_doubled_under_faults(max_attempts, query_attempts,
                                                             record_property):
    """300 orders through lost requests/answers, slow answers and 429 bursts: each lands at most
    once, and every reported or unknown outcome agrees with the simulator."""
    async with Simulator(SimConfig(port=0, rate_per_s=50, history=False)) as sim, \
            aiohttp.ClientSession() as session:
        rest = KucoinRestClient(sim.base_url, sim.demo, session=session, timeout_s=CLIENT_TIMEOUT_S)
        instruments = {i.symbol: i for i in await rest.get_symbols()}
        gateway = OrderGateway(rest, instruments,
                               limits=RiskLimits(max_orders_per_minute=10 * N_ORDERS),
                               max_attempts=max_attempts, query_attempts=query_attempts)
        requests = [_request(i, sim) for i in range(N_ORDERS)]
        outcomes: dict[str, Submitted | OrderOutcomeUnknown] = {}
        gate = asyncio.Semaphore(CONCURRENCY)

        async def place(req: OrderRequest) -> None:
            async with gate:
                try:
                    outcomes[req.client_oid] = await gateway.submit(req)
                except OrderOutcomeUnknown as exc:
                    outcomes[req.client_oid] = exc

        sim.faults.set(**ORDER_FAULTS)
        bursts = asyncio.create_task(_burst_429s(sim, lambda: len(outcomes)))
        try:
            async with asyncio.TaskGroup() as tg:
                for req in requests:
                    tg.create_task(place(req))
        finally:
            bursts.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bursts
        faults = Counter(sim.faults.counts)
        sim.faults.clear()

        # Reconcile every unknown outcome by clientOid, with the faults off.
        unknown = [oid for oid, out in outcomes.items() if isinstance(out, OrderOutcomeUnknown)]
        queried = {oid: await rest.get_order_by_client_oid(req.symbol, oid)
                   for req in requests if (oid := req.client_oid) in unknown}

        user = sim.demo_user_id
        sim_orders = sim.exchange.active_orders(user) + sim.exchange.done_orders(user)

    by_oid: dict[str, list] = {}
    for order in sim_orders:
        by_oid.setdefault(order.client_oid, []).append(order)
    ours = {req.client_oid for req in requests}
    duplicates = {oid: len(v) for oid, v in by_oid.items() if len(v) > 1}
    strangers = set(by_oid) - ours
    accepted = {oid: out for oid, out in outcomes.items() if isinstance(out, Submitted)}
    lost = [oid for oid in accepted if len(by_oid.get(oid, ())) != 1]
    wrong_id = [oid for oid, out in accepted.items()
                if oid in by_oid and by_oid[oid][0].id != out.order_id]
    unknown_landed = [oid for oid, order in queried.items() if order is not None]
    unreconciled = [oid for oid, order in queried.items()
                    if len(by_oid.get(oid, ())) != (order is not None)
                    or (order is not None and by_oid[oid][0].id != order.order_id)]
    stats = gateway.stats
    report = (f"orders={N_ORDERS} accepted={len(accepted)} unknown={len(unknown)} "
              f"(landed {len(unknown_landed)}, absent {len(unknown) - len(unknown_landed)}) "
              f"resolved_by_query={stats.resolved_by_query} "
              f"resent_after_not_found={stats.resent_after_not_found} "
              f"rate_limited={stats.rate_limited} sim_orders={len(sim_orders)} "
              f"duplicates={len(duplicates)} lost={len(lost)} wrong_id={len(wrong_id)} "
              f"limiter_waited_s={rest.limiter.waited_s:.1f} "
              f"faults={dict(faults)}")
    print(report)
    record_property("chaos_orders_report", report)
    assert len(outcomes) == N_ORDERS, report  # every submit: Submitted or OrderOutcomeUnknown
    assert not duplicates, (duplicates, report)
    assert not strangers, (strangers, report)
    assert not lost and not wrong_id, (lost, wrong_id, report)
    assert not unreconciled, (unreconciled, report)
    # every order in the simulator is explained
    assert set(by_oid) == set(accepted) | set(unknown_landed), report
    assert stats.resolved_by_query >= 20 and stats.resent_after_not_found >= 10, report
    assert stats.rate_limited >= 5, report
    if max_attempts == 2:  # the impatient gateway gives up often enough to exercise reconciliation
        assert len(unknown) >= 5, report
    kinds = ("order_lost_request", "order_lost_response", "order_delay", "rest_429")
    assert all(faults[k] >= 10 for k in kinds), report


class LateLandingRest:
    """The real client, except that the first placement 'times out' and only lands after two
    queries."""

    def __init__(self, rest: KucoinRestClient) -> None:
        self.rest = rest
        self.in_flight: dict | None = None
        self.queries = 0

    async def place_order(self, wire: dict) -> dict:
        if self.in_flight is None:
            self.in_flight = wire
            raise KucoinTimeoutError("POST /api/v1/hf/orders: no answer (the request is still on "
                                     "its way)")
        return await self.rest.place_order(wire)

    async def get_order_by_client_oid(self, symbol: str, client_oid: str):
        order = await self.rest.get_order_by_client_oid(symbol, client_oid)
        self.queries += 1
        if self.queries == 2 and self.in_flight is not None:
            await self.rest.place_order(self.in_flight)  # the first attempt arrives after all
        return order


async def test_a_first_attempt_that_lands_late_is_adopted_not_rejected():
    """After two 'not found' answers the resend meets "clientOid already exists": the gateway
    adopts the order."""
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=False)) as sim, \
            aiohttp.ClientSession() as session:
        rest = KucoinRestClient(sim.base_url, sim.demo, session=session)
        instruments = {i.symbol: i for i in await rest.get_symbols()}
        gateway = OrderGateway(LateLandingRest(rest), instruments, not_found_recheck_s=0.0)
        submitted = await gateway.submit(_request(1, sim))
        orders = [o for o in sim.exchange.active_orders(sim.demo_user_id)
                  if o.client_oid == submitted.client_oid]
    assert [o.id for o in orders] == [submitted.order_id]
    assert submitted.resolved_by_query and gateway.stats.rejected == 0
