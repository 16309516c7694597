"""KucoinAccount against the simulator: private pushes, REST reconciliation, order entry."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import aiohttp
import pytest

from dashboard.domain.errors import (
    CredentialsRefused,
    ExchangeUnavailable,
    OrderRejected,
    OrderRuleError,
)
from dashboard.domain.models import OrderRequest, OrderType, Side
from dashboard.domain.risk import RiskLimits
from dashboard.kucoin.client.account import KucoinAccount
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.kucoin.common.errors import (
    KucoinAuthError,
    KucoinError,
    KucoinOrderRejected,
    KucoinTransportError,
)
from dashboard.simulator.server import SimConfig, Simulator

from .conftest import eventually

SYMBOLS = ["BTC-USDT", "SOL-USDT"]


@pytest.fixture
async def sim():
    async with Simulator(SimConfig(port=0, rate_per_s=0, history=False)) as s:
        yield s


@pytest.fixture
async def account(sim):
    async with aiohttp.ClientSession() as session:
        rest = KucoinRestClient(sim.base_url, sim.demo, session=session)
        instruments = {i.symbol: i for i in await rest.get_symbols()}
        acct = KucoinAccount(rest, session, instruments, symbols=SYMBOLS,
                             limits=RiskLimits(max_orders_per_minute=100,
                                               max_notional=Decimal("100000")))
        await acct.start()
        await acct.ws.wait_connected()
        yield acct
        await acct.close()
        await rest.close()


def _limit(price: str, size: str, side: Side = Side.BUY, symbol: str = "SOL-USDT") -> OrderRequest:
    return OrderRequest(symbol, side, OrderType.LIMIT, size=Decimal(size), price=Decimal(price))


async def test_requires_credentials(sim):
    """Without a key the account view refuses to start, saying why."""
    async with aiohttp.ClientSession() as session:
        rest = KucoinRestClient(sim.base_url, None, session=session)
        with pytest.raises(KucoinError, match="API key"):
            KucoinAccount(rest, session, {}, symbols=SYMBOLS)


async def test_balances_loaded_and_updated_by_pushes(account):
    """Balances come from REST at start and follow the hold pushed when an order rests."""
    usdt = {b.currency: b for b in account.balances()}["USDT"]
    assert usdt.available == Decimal("1000000") and usdt.hold == 0
    await account.submit(_limit("10", "5"))
    await eventually(lambda: {b.currency: b for b in account.balances()}["USDT"].hold > 0)


async def test_order_appears_then_cancel_removes_it(account):
    """A resting order shows in open orders with its price; cancelling removes it."""
    sub = await account.submit(_limit("11.5", "2"))
    await eventually(lambda: any(o.order_id == sub.order_id and o.price == Decimal("11.5")
                                 for o in account.open_orders()))
    await account.cancel("SOL-USDT", sub.order_id)
    await eventually(lambda: all(o.order_id != sub.order_id for o in account.open_orders()))


async def test_market_order_fill_with_fee(sim, account):
    """A market order that trades shows up in fills with KuCoin's fee."""
    by_funds = OrderRequest("SOL-USDT", Side.BUY, OrderType.MARKET, funds=Decimal("100"))
    sub = await account.submit(by_funds)
    await eventually(lambda: any(f.order_id == sub.order_id for f in account.fills()), timeout_s=5)
    fill = next(f for f in account.fills() if f.order_id == sub.order_id)
    assert fill.fee > 0 and fill.liquidity == "taker"


async def test_rules_refused_before_sending(sim, account):
    """An order breaking a symbol rule or a risk limit is refused locally, naming the rule."""
    with pytest.raises(OrderRuleError) as info:
        await account.submit(_limit("10.005", "1"))
    assert info.value.rule == "priceIncrement"
    with pytest.raises(OrderRuleError) as info:
        await account.submit(_limit("100", "2000"))
    assert info.value.rule == "notionalCap"
    assert sim.exchange.active_orders(sim.demo_user_id) == []


async def test_exchange_rejection_surfaces(account):
    """An order KuCoin refuses (insufficient balance) raises OrderRejected with its code, from the
    client's KucoinOrderRejected. 1,000,000 USDT is exactly the balance, so the local check lets it
    through; the exchange also holds the fee and refuses."""
    account.gateway.guard.limits = RiskLimits(max_orders_per_minute=100, max_notional=None)
    with pytest.raises(OrderRejected) as info:
        await account.submit(_limit("100", "10000"))
    assert info.value.rule_or_code == "200004" and not info.value.before_sending
    assert isinstance(info.value.__cause__, KucoinOrderRejected)


async def test_kill_switch_cancels_all_and_blocks(sim, account):
    """The kill switch cancels every open order and blocks new ones."""
    await account.submit(_limit("10", "1"))
    await account.submit(_limit("20000", "0.001", symbol="BTC-USDT"))
    await account.engage_kill_switch()
    assert sim.exchange.active_orders(sim.demo_user_id) == []
    with pytest.raises(OrderRuleError) as info:
        await account.submit(_limit("10", "1"))
    assert info.value.rule == "killSwitch"


async def test_kill_switch_reset_allows_orders_again(sim, account):
    """After a deliberate reset the same order goes through; the preview agrees at each step."""
    await account.engage_kill_switch()
    assert account.kill_switch_engaged()
    with pytest.raises(OrderRuleError, match="kill switch"):
        account.preview(_limit("10", "1"))
    await account.reset_kill_switch()
    assert not account.kill_switch_engaged()
    assert account.preview(_limit("10", "1"))["price"] == "10"
    sub = await account.submit(_limit("10", "1"))
    assert [o.id for o in sim.exchange.active_orders(sim.demo_user_id)] == [sub.order_id]


def _mid(sim: Simulator):
    """The simulator's own mid price of a symbol: an independent price source for valuing orders."""
    def price_of(symbol: str) -> Decimal | None:
        if symbol not in sim.exchange.rules:
            return None
        bid, ask = sim.exchange.best_bid_ask(symbol)
        return (bid + ask) / 2 if bid is not None and ask is not None else None
    return price_of


@pytest.mark.parametrize(("eth", "refused"), [("40", True), ("10", False)],
                         ids=["above-cap", "below-cap"])
async def test_cap_means_the_same_money_on_eth_btc(sim, account, eth, refused):
    """The 100,000 USDT cap values an ETH-BTC order (priced in BTC) at the live BTC-USDT price."""
    account.gateway.guard.prices = _mid(sim)
    bid, _ = sim.exchange.best_bid_ask("ETH-BTC")
    req = _limit(str(bid), eth, symbol="ETH-BTC")
    usdt = Decimal(eth) * bid * _mid(sim)("BTC-USDT")
    assert (usdt > 100_000) is refused  # the independent computation agrees with the parameters
    if refused:
        with pytest.raises(OrderRuleError) as info:
            await account.submit(req)
        assert info.value.rule == "notionalCap" and "USDT" in info.value.message
        assert sim.exchange.active_orders(sim.demo_user_id) == []
    else:
        assert (await account.submit(req)).order_id


async def test_cap_refuses_what_it_cannot_value(sim, account):
    """Without a BTC-USDT price an ETH-BTC order cannot be valued in USDT, so it is refused."""
    bid, _ = sim.exchange.best_bid_ask("ETH-BTC")
    with pytest.raises(OrderRuleError, match="cannot value") as info:
        account.preview(_limit(str(bid), "1", symbol="ETH-BTC"))
    assert info.value.rule == "notionalCap"


async def test_balance_refused_before_sending(sim, account):
    """Selling 150 ETH with 100 ETH is refused locally, naming the balance; nothing reaches the
    exchange."""
    account.gateway.guard.limits = RiskLimits(max_orders_per_minute=100, max_notional=None)
    _, ask = sim.exchange.best_bid_ask("ETH-USDT")
    req = _limit(str(ask), "150", side=Side.SELL, symbol="ETH-USDT")
    with pytest.raises(OrderRuleError) as info:
        account.preview(req)
    assert info.value.rule == "balance" and "100 ETH available" in info.value.message
    with pytest.raises(OrderRuleError):
        await account.submit(req)
    assert sim.exchange.active_orders(sim.demo_user_id) == []


async def test_cancel_refusal_is_an_order_rejected(account):
    """KuCoin's refusal to cancel an unknown order arrives as OrderRejected with its code."""
    with pytest.raises(OrderRejected) as info:
        await account.cancel("SOL-USDT", "0123456789abcdef01234567")
    assert info.value.rule_or_code == "400100" and isinstance(info.value.__cause__, KucoinError)


async def test_refused_key_is_credentials_refused(sim):
    """A wrong passphrase arrives as CredentialsRefused saying what to fix, from KucoinAuthError."""
    async with aiohttp.ClientSession() as session:
        creds = dataclasses.replace(sim.demo, passphrase="not-the-passphrase")
        rest = KucoinRestClient(sim.base_url, creds, session=session)
        acct = KucoinAccount(rest, session, {}, symbols=SYMBOLS)
        with pytest.raises(CredentialsRefused) as info:
            await acct.cancel_all()
    assert "KUCOIN_API_PASSPHRASE" in info.value.explanation
    assert isinstance(info.value.__cause__, KucoinAuthError)


async def test_unreachable_exchange_is_exchange_unavailable(sim):
    """No server behind the URL: ExchangeUnavailable, from the transport error."""
    async with aiohttp.ClientSession() as session:
        rest = KucoinRestClient("http://127.0.0.1:9", sim.demo, session=session, max_retries=0)
        acct = KucoinAccount(rest, session, {}, symbols=SYMBOLS)
        with pytest.raises(ExchangeUnavailable) as info:
            await acct.cancel_all()
    assert "cancel all" in info.value.message
    assert isinstance(info.value.__cause__, KucoinTransportError)


async def test_reconnect_reconciles_missed_changes(sim, account):
    """An order cancelled while the private socket was down disappears after the reconnect."""
    sub = await account.submit(_limit("12", "1"))
    await eventually(lambda: any(o.order_id == sub.order_id for o in account.open_orders()))
    before = account.reconciliations
    private = [conn for conn in sim.hub.connections if conn.token.user_id]
    for conn in private:
        sim.hub.detach(conn)  # from here on the pushes are lost, as in a network outage
    sim.exchange.cancel(sim.demo_user_id, "SOL-USDT", order_id=sub.order_id)
    for conn in private:
        await sim.hub.close(conn)
    await eventually(lambda: account.reconciliations > before, timeout_s=10)
    assert all(o.order_id != sub.order_id for o in account.open_orders())


def test_preview_is_the_exact_body_sent(account):
    """preview() renders the HF order body the gateway sends, in KuCoin's spelling."""
    req = OrderRequest("SOL-USDT", Side.SELL, OrderType.LIMIT, size=Decimal("2.5"),
                       price=Decimal("150.10"), client_oid="abc123")
    assert account.preview(req) == {"clientOid": "abc123", "symbol": "SOL-USDT", "side": "sell",
                                    "type": "limit", "price": "150.1", "size": "2.5",
                                    "timeInForce": "GTC"}


async def test_an_unknown_symbol_does_not_stop_reconciliation(sim):
    """NOPE-USDT beside BTC-USDT in the settings: balances and orders still load (no 400100)."""
    async with aiohttp.ClientSession() as session:
        rest = KucoinRestClient(sim.base_url, sim.demo, session=session)
        instruments = {i.symbol: i for i in await rest.get_symbols()}
        acct = KucoinAccount(rest, session, instruments, symbols=["NOPE-USDT", "BTC-USDT"])
        assert acct.symbols == ["BTC-USDT"]
        await acct.reconcile()
        assert acct.last_error == ""
        assert any(b.currency == "USDT" for b in acct.balances())
