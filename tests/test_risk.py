"""The pre-trade guard (domain.risk) and the plain-decimal helpers (domain.numbers), pure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.domain.errors import OrderRuleError
from dashboard.domain.fakes import FakeMarketFeed, fake_instrument
from dashboard.domain.models import Balance, FeedState, OrderRequest, OrderType, Side
from dashboard.domain.numbers import amount_text, currency_steps, plain
from dashboard.domain.risk import OrderGuard, RiskLimits, mid_prices, value_in

D = Decimal
INSTRUMENTS = {s: fake_instrument(s, tick="0.00001", lot="0.0001")
               for s in ("ETH-BTC", "BTC-USDT", "ETH-USDT")}
PRICES = {"BTC-USDT": D("90000"), "ETH-USDT": D("3000")}


def _limit(symbol: str, side: Side, price: str, size: str) -> OrderRequest:
    return OrderRequest(symbol, side, OrderType.LIMIT, size=D(size), price=D(price))


def _rule(guard: OrderGuard, req: OrderRequest, reference_price: Decimal | None = None) -> str:
    try:
        guard.check(req, reference_price)
    except OrderRuleError as exc:
        return exc.rule
    return ""


@pytest.mark.parametrize(("amount", "currency", "target", "expected"), [
    ("2", "USDT", "USDT", "2"),
    ("0.5", "BTC", "USDT", "45000"),  # BTC-USDT exists: multiply
    ("45000", "USDT", "BTC", "0.5"),  # only BTC-USDT: divide
    ("1", "SOL", "USDT", None),  # no SOL market: cannot be valued
], ids=["same", "direct", "inverse", "unknown"])
def test_value_in(amount, currency, target, expected):
    """An amount is valued at the live price of CUR-TARGET, or the inverse of TARGET-CUR."""
    value = value_in(D(amount), currency, target, PRICES.get)
    assert (value if value is None else plain(value)) == expected


def test_cap_is_one_amount_in_one_currency_on_every_symbol():
    """A 50,000 USDT cap refuses 20 ETH on ETH-BTC at 0.0334 BTC (about 60,120 USDT)."""
    guard = OrderGuard(INSTRUMENTS, RiskLimits(max_notional=D("50000")), prices=PRICES.get)
    with pytest.raises(OrderRuleError) as info:
        guard.check(_limit("ETH-BTC", Side.BUY, "0.0334", "20"))
    assert info.value.rule == "notionalCap"
    assert info.value.message == ("order value 0.668 BTC (about 60120 USDT) is above the per-order "
                                  "cap of 50000 USDT")
    assert _rule(guard, _limit("ETH-BTC", Side.BUY, "0.0334", "10")) == ""


def test_cap_fails_closed_without_a_price():
    """No price to value an ETH-BTC order in USDT: refused, not waved through."""
    guard = OrderGuard(INSTRUMENTS, RiskLimits(max_notional=D("50000")), prices={}.get)
    assert _rule(guard, _limit("ETH-BTC", Side.BUY, "0.0334", "10")) == "notionalCap"
    assert _rule(guard, _limit("ETH-USDT", Side.BUY, "3000", "1")) == ""  # quoted in the cap's


def test_balance_checks_the_currency_the_order_spends():
    """A buy spends quote, a sell base; a market sell by funds is estimated at the price."""
    wallet = {"USDT": Balance("USDT", D("1000"), D(0)), "ETH": Balance("ETH", D("2"), D("5"))}
    guard = OrderGuard(INSTRUMENTS, balances=lambda: wallet)
    assert _rule(guard, _limit("ETH-USDT", Side.BUY, "3000", "0.3")) == ""
    assert _rule(guard, _limit("ETH-USDT", Side.BUY, "3000", "0.4")) == "balance"
    assert _rule(guard, _limit("ETH-USDT", Side.SELL, "3000", "2")) == ""
    assert _rule(guard, _limit("ETH-USDT", Side.SELL, "3000", "2.1")) == "balance"  # hold is not
    by_funds = OrderRequest("ETH-USDT", Side.SELL, OrderType.MARKET, funds=D("9000"))
    with pytest.raises(OrderRuleError, match="needs about 3 ETH; 2 ETH available"):
        guard.check(by_funds, D("3000"))
    assert _rule(guard, _limit("BTC-USDT", Side.SELL, "90000", "0.001")) == "balance"  # no BTC


def test_order_rate_counts_a_sliding_minute():
    """The 3rd order in a minute is refused; a minute later it goes."""
    now = [0.0]
    guard = OrderGuard(INSTRUMENTS, RiskLimits(max_orders_per_minute=2), clock=lambda: now[0])
    req = _limit("ETH-USDT", Side.BUY, "3000", "0.1")
    for _ in range(2):
        guard.check(req)
        guard.record_sent()
    assert _rule(guard, req) == "orderRate"
    now[0] = 60.5
    assert _rule(guard, req) == ""


def test_kill_switch_blocks_until_reset():
    """Engaged, every order is refused first; reset, the same order passes."""
    guard = OrderGuard(INSTRUMENTS)
    req = _limit("ETH-USDT", Side.BUY, "3000", "0.1")
    guard.engage_kill_switch()
    assert _rule(guard, req) == "killSwitch"
    guard.reset_kill_switch()
    assert _rule(guard, req) == ""


def test_amounts_to_the_currencys_precision():
    """An 18-decimal fee-laden balance is shown to the currency's finest step, rounded down."""
    steps = currency_steps(INSTRUMENTS.values())
    assert steps["ETH"] == D("0.0001") and steps["USDT"] == D("0.000001")
    assert amount_text(D("999949.949949949949949949"), "USDT", steps) == "999949.949949"
    assert amount_text(D("1.99999999"), "ETH", steps) == "1.9999"
    assert amount_text(D("123456789012345678901.123456789"), "XYZ", steps) == (
        "123456789012345678901.12345678")  # unknown currency: 8 decimals, no overflow
    assert amount_text(D("100000.000000"), "USDT", steps) == "100000"


def test_mid_prices_from_a_feed():
    """The feed's live mid values orders; None for an unknown symbol or a book not live."""
    feed = FakeMarketFeed(("BTC-USDT",), mid=90000.0)
    book = feed.book("BTC-USDT", 1)
    prices = mid_prices(feed)
    assert prices("BTC-USDT") == (book.bids[0][0] + book.asks[0][0]) / 2
    assert prices("SOL-USDT") is None
    feed.state = FeedState.RESYNCING
    assert prices("BTC-USDT") is None
