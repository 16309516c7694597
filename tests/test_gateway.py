"""The gateway's retry decisions follow kucoin/common/retry.is_retryable, and KucoinAccount's port
speaks domain errors: a scripted fake REST (no network, no sleeping)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.domain.errors import (
    CredentialsRefused,
    ExchangeUnavailable,
    OrderOutcomeUnknown,
    OrderRejected,
)
from dashboard.domain.fakes import fake_instrument
from dashboard.domain.models import Order, OrderRequest, OrderStatus, OrderType, Side
from dashboard.kucoin.client.account import in_domain_terms
from dashboard.kucoin.client.gateway import OrderGateway
from dashboard.kucoin.common.errors import (
    KucoinAuthError,
    KucoinError,
    KucoinHTTPError,
    KucoinOrderRejected,
    KucoinRateLimitError,
    KucoinServerError,
    KucoinTimeoutError,
)

D = Decimal
REQ = OrderRequest("BTC-USDT", Side.BUY, OrderType.LIMIT, size=D("0.01"), price=D("50000"),
                   client_oid="c-1")


class ScriptedRest:
    """Answers ``place_order`` from a script (an exception or None for success) and holds the
    order it accepted, as KuCoin would when asked by clientOid."""

    def __init__(self, *placements: KucoinError | None) -> None:
        self.placements = list(placements)
        self.placed: list[dict] = []
        self.queries = 0
        self.landed: Order | None = None

    async def place_order(self, wire: dict) -> dict:
        self.placed.append(wire)
        outcome = self.placements.pop(0)
        if outcome is not None:
            raise outcome
        return {"orderId": f"id-{len(self.placed)}"}

    async def get_order_by_client_oid(self, symbol: str, client_oid: str) -> Order | None:
        self.queries += 1
        return self.landed

    async def cancel_order(self, symbol: str, order_id: str) -> dict:
        return {}

    async def cancel_all(self, symbol: str | None = None) -> object:
        return {}


def _gateway(rest: ScriptedRest) -> tuple[OrderGateway, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    instruments = {"BTC-USDT": fake_instrument("BTC-USDT")}
    return OrderGateway(rest, instruments, not_found_recheck_s=0.5, sleep=sleep), slept


@pytest.mark.parametrize("error", [
    KucoinHTTPError(403, "<html>Forbidden by the CDN</html>"),
    KucoinOrderRejected("200004", "Balance insufficient!"),
    KucoinAuthError("400005", "Invalid KC-API-SIGN"),
], ids=["proxy-403", "rejected", "auth"])
async def test_not_retryable_is_raised_at_once(error):
    """is_retryable says no: raised after one attempt, nothing queried, nothing resent."""
    rest = ScriptedRest(error)
    gateway, _ = _gateway(rest)
    with pytest.raises(type(error)):
        await gateway.submit(REQ)
    assert (len(rest.placed), rest.queries, gateway.stats.rejected) == (1, 0, 1)


async def test_rate_limit_waits_then_sends_the_same_request():
    """A 429 was not processed: wait the advertised time, send the same body (same clientOid)."""
    rest = ScriptedRest(KucoinRateLimitError("429000", "Too many requests", retry_after_s=1.5),
                        None)
    gateway, slept = _gateway(rest)
    submitted = await gateway.submit(REQ)
    assert submitted.order_id == "id-2" and submitted.attempts == 2
    assert rest.placed[0] == rest.placed[1] and rest.placed[0]["clientOid"] == "c-1"
    assert slept == [1.5] and rest.queries == 0


@pytest.mark.parametrize("error", [
    KucoinTimeoutError("no answer"),
    KucoinServerError("500000", "Internal error", 500),
    KucoinHTTPError(502, "<html>Bad gateway</html>"),
], ids=["timeout", "5xx-api", "5xx-proxy"])
async def test_unknown_outcome_asks_by_client_oid_before_resending(error):
    """No answer: ask twice by clientOid (a moment apart), then resend the same body."""
    rest = ScriptedRest(error, None)
    gateway, slept = _gateway(rest)
    submitted = await gateway.submit(REQ)
    assert (rest.queries, len(rest.placed), slept) == (2, 2, [0.5])
    assert submitted.order_id == "id-2" and gateway.stats.resent_after_not_found == 1


async def test_unknown_outcome_that_landed_is_adopted():
    """The lost attempt is found by clientOid: adopted, never sent twice."""
    rest = ScriptedRest(KucoinTimeoutError("no answer"))
    rest.landed = Order("found-1", "c-1", "BTC-USDT", Side.BUY, OrderType.LIMIT, D("50000"),
                        D("0.01"), None, D(0), D(0), D(0), OrderStatus.OPEN, 0, 0)
    gateway, _ = _gateway(rest)
    submitted = await gateway.submit(REQ)
    assert submitted.order_id == "found-1" and submitted.resolved_by_query
    assert len(rest.placed) == 1


async def test_giving_up_is_outcome_unknown():
    """Every attempt unanswered: OrderOutcomeUnknown with the clientOid, counted as unknown."""
    rest = ScriptedRest(*[KucoinTimeoutError("no answer")] * 4)
    gateway, _ = _gateway(rest)
    with pytest.raises(OrderOutcomeUnknown) as info:
        await gateway.submit(REQ)
    assert info.value.client_oid == "c-1" and gateway.stats.unknown == 1


@pytest.mark.parametrize(("error", "domain", "words"), [
    (KucoinOrderRejected("200004", "Balance insufficient!"), OrderRejected,
     "200004: Balance insufficient!"),
    (KucoinAuthError("400004", "Invalid KC-API-PASSPHRASE"), CredentialsRefused,
     "KUCOIN_API_PASSPHRASE"),
    (KucoinRateLimitError("429000", "Too many requests", retry_after_s=3), ExchangeUnavailable,
     "rate limited by KuCoin (429000); try again in 3 s"),
    (KucoinServerError("500000", "Internal error"), ExchangeUnavailable, "KuCoin failed"),
    (KucoinTimeoutError("no answer"), ExchangeUnavailable, "did not answer in time"),
    (KucoinHTTPError(403, "<html>"), ExchangeUnavailable, "HTTP 403"),
], ids=["rejected", "auth", "rate-limit", "server", "timeout", "proxy"])
def test_port_errors_are_domain_errors_from_the_venues(error, domain, words):
    """Each client error becomes its domain error, ``from`` the original, saying what happened."""
    with pytest.raises(domain) as info, in_domain_terms("cancel all"):
        raise error
    assert words in str(info.value) and info.value.__cause__ is error
