"""The page's ?symbol= link: any case is accepted and the URL corrected; an unknown market is said
on the page (never silently replaced) and the URL shows what is on screen. UiOptions."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import panel as pn
import param
import pytest
from bokeh.document import Document
from panel.io.location import Location
from panel.io.state import set_curdoc

from dashboard.domain.fakes import FakeMarketFeed
from dashboard.hub import MarketHub
from dashboard.ui.app import create_app
from dashboard.ui.options import UiOptions
from dashboard.ui.symbol_link import SymbolLink, resolve_symbol

SYMBOLS = ("BTC-USDT", "ETH-USDT", "ETH-BTC")


class State(param.Parameterized):
    symbol = param.Selector(default="BTC-USDT", objects=list(SYMBOLS))


@pytest.mark.parametrize(("requested", "expected"), [
    ("ETH-USDT", "ETH-USDT"), ("eth-usdt", "ETH-USDT"), (" Eth-Btc ", "ETH-BTC"),
    ("NOPE-USDT", None), ("", None), ("ETHUSDT", None),
], ids=["exact", "lower", "mixed-spaces", "unknown", "empty", "no-dash"])
def test_resolve_symbol(requested, expected):
    """A link names a market whatever its case; anything else names none."""
    assert resolve_symbol(requested, SYMBOLS) == expected


def test_lower_case_link_shows_the_market_and_corrects_the_url():
    """?symbol=eth-usdt shows ETH-USDT and the URL says ETH-USDT, also after the browser reports its
    own (lower-case) URL once the page is up."""
    state, location = State(), Location(search="?symbol=eth-usdt")
    link = SymbolLink(state, SYMBOLS, "eth-usdt", location)
    assert state.symbol == "ETH-USDT" and location.search == "?symbol=ETH-USDT"
    location.search = "?symbol=eth-usdt"  # what BokehJS sends from window.location at start
    assert state.symbol == "ETH-USDT" and location.search == "?symbol=ETH-USDT"
    assert not link.notice.visible and link.unknown == ""


def test_unknown_link_is_said_on_the_page_and_the_url_shows_what_is_on_screen():
    """An unknown market keeps the default on screen, says so (escaped), and the URL follows; a
    market picked afterwards clears the note."""
    state, location = State(), Location(search="?symbol=%3Cb%3ENOPE")
    link = SymbolLink(state, SYMBOLS, "<b>NOPE", location)
    assert state.symbol == "BTC-USDT" and location.search == "?symbol=BTC-USDT"
    assert link.notice.visible and link.unknown == "<b>NOPE"
    assert "&lt;b&gt;NOPE" in link.notice.object and "<b>NOPE" not in link.notice.object
    assert "showing BTC-USDT" in link.notice.object and "ETH-BTC" in link.notice.object
    location.search = "?symbol=%3Cb%3ENOPE"  # the browser's own URL, reported once the page is up
    assert state.symbol == "BTC-USDT" and location.search == "?symbol=BTC-USDT"
    assert link.notice.visible
    state.symbol = "ETH-BTC"  # the user picks a market
    assert not link.notice.visible and location.search == "?symbol=ETH-BTC"


def test_no_link_is_no_note():
    """A page opened without ?symbol= shows the first market, without a note."""
    state, location = State(), Location()
    link = SymbolLink(state, SYMBOLS, "", location)
    assert state.symbol == "BTC-USDT" and not link.notice.visible
    assert location.search == "?symbol=BTC-USDT"


@pytest.fixture
async def served():
    """A hub on a fake feed and a document as Bokeh serves it for a request with ?symbol=."""
    feed = FakeMarketFeed(list(SYMBOLS), levels=50)
    hub = MarketHub(feed, tick_s=0.01)
    await hub.start()
    docs: list[Document] = []

    def open_page(query: bytes):
        doc = Document()
        session = SimpleNamespace(_lock=asyncio.Lock(), destroyed=False, connection_count=1,
                                  _subscribed_connections=set(), _pending_writes=None)
        request = SimpleNamespace(arguments={"symbol": [query]}, cookies={}, headers={})
        doc._session_context = lambda: SimpleNamespace(session=session, server_context=None,
                                                       id="s", request=request)
        docs.append(doc)
        with set_curdoc(doc):
            page = create_app(hub, UiOptions(symbols=SYMBOLS))
            return page, pn.state.location

    yield open_page
    for doc in docs:
        pn.state._locations.pop(doc, None)
        with set_curdoc(doc):
            for release in list(doc.callbacks.session_destroyed_callbacks):
                release(None)  # what Bokeh does when the session ends: clocks stop, unwatch
    await hub.close()


async def test_page_follows_a_lower_case_link(served):
    """create_app: ?symbol=eth-usdt builds every view on ETH-USDT and corrects the URL."""
    page, location = served(b"eth-usdt")
    assert page.app_state.symbol == "ETH-USDT" and location.search == "?symbol=ETH-USDT"
    views = ("header", "ladder", "depth", "tape", "candles", "ticket", "health")
    assert {page.components[name].symbol for name in views} == {"ETH-USDT"}
    assert not page.symbol_link.notice.visible


async def test_page_says_when_the_link_names_no_market(served):
    """create_app: an unknown ?symbol= shows the first market and a note naming the link's."""
    page, location = served(b"NOPE-USDT")
    assert page.app_state.symbol == "BTC-USDT" and location.search == "?symbol=BTC-USDT"
    assert page.symbol_link.notice.visible and "NOPE-USDT" in page.symbol_link.notice.object


def test_ui_options_keep_paths_off_the_page():
    """UiOptions carries a recording's file name only, never its directory; it needs a symbol."""
    assert UiOptions(SYMBOLS, replay_name="/data/rec/day1.rec.gz").replay_name == "day1.rec.gz"
    assert UiOptions(SYMBOLS, replay_name="C:\\rec\\day2.rec").replay_name == "day2.rec"
    with pytest.raises(ValueError):
        UiOptions(())
