"""TicketModel driven with no Panel at all: a fake feed and a fake account guarded by the real
OrderGuard; Review refuses what Confirm's submit would refuse."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from dashboard.domain.errors import OrderRuleError
from dashboard.domain.fakes import FakeAccount, FakeMarketFeed
from dashboard.domain.models import OrderRequest, OrderType, Side
from dashboard.domain.risk import RiskLimits
from dashboard.hub import MarketHub
from dashboard.ui.ticket_model import KILL_REASON, TicketModel

ETH = "ETH-USDT"
D = Decimal


@pytest.fixture
def feed() -> FakeMarketFeed:
    return FakeMarketFeed((ETH,), seed=3, mid=3000.0)


@pytest.fixture
def account(feed: FakeMarketFeed) -> FakeAccount:
    return FakeAccount(feed.instruments(), limits=RiskLimits(max_notional=D("50000")),
                       balances={"USDT": D("100000"), "ETH": D("100")})


@pytest.fixture
def model(feed: FakeMarketFeed, account: FakeAccount) -> TicketModel:
    hub = MarketHub(feed, account)
    ticket = TicketModel(hub, symbol=ETH)
    ticket.update(hub.view(ETH))
    return ticket


def test_the_model_module_imports_no_panel() -> None:
    """ui/ticket_model.py runs without Panel or Bokeh (a notebook or a test drives it alone)."""
    code = ("import sys, dashboard.ui.ticket_model; "
            "print(sorted(m for m in ('panel', 'bokeh') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_valid_order_reviews_and_confirms(model: TicketModel, account: FakeAccount) -> None:
    """A valid limit buy: preview shown, Review freezes it, Confirm sends exactly that."""
    model.param.update(price="2900", size="1.5")
    assert model.error == "" and model.can_review and '"price": "2900"' in model.preview_text
    assert model.review() and model.stage == "review"
    reviewed = model.pending
    assert await model.confirm() and model.outcome_ok is True
    assert account.submitted == [reviewed] and reviewed.size == D("1.5") and reviewed.client_oid


async def test_review_refuses_above_the_notional_cap(model: TicketModel,
                                                     account: FakeAccount) -> None:
    """20 ETH at 3000 is 60,000 USDT against a 50,000 cap: refused at Review, nothing sent."""
    model.param.update(price="3000", size="20")
    assert model.error_rule == "notionalCap" and "60000 USDT" in model.error
    assert not model.can_review and not model.review()
    assert not await model.confirm() and account.submitted == []


async def test_review_refuses_more_than_the_balance(model: TicketModel,
                                                    account: FakeAccount) -> None:
    """Selling 150 ETH with 100 ETH is refused at Review, naming the balance."""
    model.param.update(side="sell", price="300", size="150")
    assert model.error_rule == "balance" and "100 ETH available" in model.error
    assert not model.review() and account.submitted == []


def test_negative_price_shows_no_estimate(model: TicketModel) -> None:
    """A price of -5 is an error, and nothing claims it 'rests on the book at -5'."""
    model.param.update(price="-5", size="1")
    assert model.error_rule == "price"
    assert model.estimate_text == "" and model.preview_text == ""


def _limit(side: Side, price: str, size: str) -> OrderRequest:
    return OrderRequest(ETH, side, OrderType.LIMIT, size=D(size), price=D(price))


AGREE = [
    pytest.param({"price": "3000", "size": "20"}, _limit(Side.BUY, "3000", "20"), "notionalCap",
                 id="cap"),
    pytest.param({"side": "sell", "price": "300", "size": "150"}, _limit(Side.SELL, "300", "150"),
                 "balance", id="balance"),
    pytest.param({"order_type": "market", "size_mode": "funds", "funds": "60000"},
                 OrderRequest(ETH, Side.BUY, OrderType.MARKET, funds=D("60000")), "notionalCap",
                 id="market-funds-cap"),
    pytest.param({"order_type": "market", "size": "20"},
                 OrderRequest(ETH, Side.BUY, OrderType.MARKET, size=D("20")), "notionalCap",
                 id="market-size-cap-at-mid"),
    pytest.param({"price": "2900", "size": "1"}, _limit(Side.BUY, "2900", "1"), "", id="valid"),
]


@pytest.mark.parametrize(("inputs", "request_sent", "rule"), AGREE)
async def test_preview_and_submit_agree(model: TicketModel, account: FakeAccount, inputs: dict,
                                        request_sent: OrderRequest, rule: str) -> None:
    """What the preview refuses (and why) is what submit refuses; what it allows, submit sends."""
    model.param.update(**inputs)
    assert model.error_rule == rule
    if rule:
        with pytest.raises(OrderRuleError) as info:
            await account.submit(request_sent, reference_price=D("3000"))
        assert info.value.rule == rule
    else:
        assert (await account.submit(request_sent, reference_price=D("3000"))).order_id


async def test_kill_switch_blocks_and_its_reset_allows_entry(model: TicketModel,
                                                             account: FakeAccount) -> None:
    """The account's kill switch disables the ticket; after the reset the same order goes."""
    model.param.update(price="2900", size="1")
    await account.engage_kill_switch()
    model.refresh_disabled()
    assert model.disabled_reason == KILL_REASON and not model.review()
    await account.reset_kill_switch()
    model.refresh_disabled()
    assert model.disabled_reason == "" and model.review() and await model.confirm()
