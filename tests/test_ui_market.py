"""Market components on a fake feed: models built once, data sent by replace/patch/stream, stale
marking; the hub's ladder rows and bucket rule."""

from __future__ import annotations

import itertools
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import panel as pn
import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnsPatchedEvent, ColumnsStreamedEvent

from dashboard.domain.fakes import FakeMarketFeed
from dashboard.domain.models import Candle, FeedState
from dashboard.hub import MarketHub
from dashboard.ui.base import STALE
from dashboard.ui.market import CandleChart, DepthChart, MarketHeader, OrderBookLadder, TradeTape

from .conftest import eventually

SYM, OTHER = "BTC-USDT", "ETH-USDT"
SOURCED = [DepthChart, OrderBookLadder, TradeTape, CandleChart]
ALL = [*SOURCED, MarketHeader]
_clock = itertools.count(1_000.0, 100.0)  # each tick is "much later": never throttled by rate_hz


@pytest.fixture
async def market():
    feed = FakeMarketFeed([SYM, OTHER], levels=400)
    feed.step(2)  # some trades on both markets from the start
    hub = MarketHub(feed, tick_s=0.005)
    await hub.start()
    hub.watch(SYM)
    yield feed, hub
    await hub.close()


def render(component) -> bool:
    return component.tick(next(_clock))


async def advance(feed, hub, steps: int = 1) -> None:
    version = hub.view(SYM).version
    feed.step(steps)
    await eventually(lambda: hub.view(SYM).version > version)


def shows_rows(component) -> bool:
    """Render if due, then say whether the main source has rows (a predicate for ``eventually``)."""
    render(component)
    return rows(component) > 0


async def ready(cls, hub, **params):
    """A component that has rendered once (candles: once their history has arrived)."""
    component = cls(hub, **params)
    render(component)
    if cls is CandleChart:
        await eventually(lambda: shows_rows(component))
    return component


def record(model) -> list:
    """Document events (replace, patch, stream) caused by later changes of ``model``."""
    doc, events = Document(), []
    doc.add_root(model)
    doc.on_change(events.append)
    return events


def rows(component) -> int:
    source = component.bids if isinstance(component, DepthChart) else component.source
    return len(source.data[next(iter(source.data))])


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
async def test_models_built_once(market, cls):
    """Updates reuse the Bokeh models and the layout built in __init__."""
    feed, hub = market
    component = await ready(cls, hub)
    plot, layout = getattr(component, "plot", None), component.__panel__()
    await advance(feed, hub)
    assert render(component)
    assert getattr(component, "plot", None) is plot
    assert component.__panel__() is layout


@pytest.mark.parametrize("cls", SOURCED, ids=lambda c: c.__name__)
async def test_sessions_own_their_models(market, cls):
    """Two instances (two sessions) share no Bokeh model: each goes into its own document."""
    _, hub = market
    first, second = await ready(cls, hub), await ready(cls, hub)
    record(first.plot)
    record(second.plot)
    assert first.plot.document is not second.plot.document


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
async def test_unchanged_version_is_not_rendered(market, cls):
    """A tick with the same hub version renders nothing."""
    _, hub = market
    component = await ready(cls, hub)
    before = component.renders
    assert not render(component)
    assert component.renders == before


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
async def test_stale_feed_marks_the_view(market, cls):
    """A disconnected feed sets ``stale`` and shows a STALE badge."""
    feed, hub = market
    component = await ready(cls, hub)
    feed.state = FeedState.DISCONNECTED
    await eventually(lambda: not hub.view(SYM).live)
    render(component)
    assert component.stale
    shown = component.pane.object if cls is MarketHeader else component.title.object
    assert "STALE" in shown


@pytest.mark.parametrize("cls", SOURCED, ids=lambda c: c.__name__)
async def test_symbol_change_resets(market, cls):
    """A new symbol clears the data shown, then renders the new market."""
    _, hub = market
    component = await ready(cls, hub)
    assert rows(component) > 0
    component.symbol = OTHER
    assert rows(component) == 0
    render(component)
    if cls is CandleChart:
        await eventually(lambda: shows_rows(component))
    assert rows(component) > 0 and OTHER in component.title.object


# ---- depth
@pytest.mark.parametrize("span_pct", [0.1, 0.3, 1.0], ids=["0.1%", "0.3%", "1%-thinned"])
async def test_depth_totals_within_span(market, span_pct):
    """The last cumulative value of each side is the sum of sizes within mid +- span; ranges fit."""
    _, hub = market
    depth = await ready(DepthChart, hub, span_pct=span_pct)
    view = hub.view(SYM)
    lo, hi = view.mid * (1 - span_pct / 100), view.mid * (1 + span_pct / 100)
    bids = sum(float(s) for p, s in view.book.bids if float(p) >= lo)
    asks = sum(float(s) for p, s in view.book.asks if float(p) <= hi)
    assert depth.bids.data["cum"][-1] == pytest.approx(bids)
    assert depth.asks.data["cum"][-1] == pytest.approx(asks)
    assert max(rows(depth), len(depth.asks.data["price"])) <= 300
    assert (depth.plot.x_range.start, depth.plot.x_range.end) == pytest.approx((lo, hi))
    assert depth.plot.y_range.start == 0 and depth.plot.y_range.end >= max(bids, asks)
    depth.span_pct = span_pct * 2
    assert render(depth), "a new span renders without waiting for the book to move"


async def test_depth_replaces_data_and_names_sources(market):
    """Each frame replaces the two named sources; the stale style greys them."""
    feed, hub = market
    depth = await ready(DepthChart, hub)
    events = record(depth.plot)
    await advance(feed, hub)
    render(depth)
    replaced = {e.model.name for e in events if getattr(e, "attr", None) == "data"}
    assert replaced == {"depth-bids", "depth-asks"}
    assert depth.plot.select_one({"name": "depth-bids"}) is depth.bids
    depth.stale = True
    assert {r.glyph.line_color for r in depth._lines} == {STALE}


# ---- ladder
@pytest.mark.parametrize(("group", "label"), [(1, "bucket 0.1 USDT"), (10, "bucket 1.0 USDT"),
                                              (100, "bucket 10.0 USDT")], ids=["x1", "x10", "x100"])
async def test_ladder_groups_bids_down_asks_up(market, group, label):
    """Best bid bucket rounds down, best ask bucket rounds up, sizes summed per bucket."""
    _, hub = market
    ladder = await ready(OrderBookLadder, hub, group=group, rows=5)
    book, bucket = hub.view(SYM).book, Decimal("0.1") * group
    bid = (book.bids[0][0] / bucket).to_integral_value(ROUND_FLOOR) * bucket
    ask = (book.asks[0][0] / bucket).to_integral_value(ROUND_CEILING) * bucket
    data, n = ladder.source.data, ladder.rows
    assert len(data["price"]) == 2 * n + 1 and data["side"][n] == "spread"
    assert (data["price"][n + 1], data["price"][n - 1]) == (format(bid, "f"), format(ask, "f"))
    assert data["size"][n + 1] == float(sum(s for p, s in book.bids if bid <= p < bid + bucket))
    assert data["size"][n - 1] == float(sum(s for p, s in book.asks if ask - bucket < p <= ask))
    assert ladder.bucket_label == label and label in ladder.title.object


async def test_ladder_patches_cells(market):
    """A new book patches cells of the fixed grid instead of replacing the table."""
    feed, hub = market
    ladder = await ready(OrderBookLadder, hub)
    events = record(ladder.plot)
    await advance(feed, hub)
    render(ladder)
    assert events and {type(e) for e in events} == {ColumnsPatchedEvent}


async def test_ladder_marks_own_orders_and_reports_clicks(market):
    """Own order prices are marked in their bucket; a clicked row sets selected_price and side."""
    _, hub = market
    ladder = await ready(OrderBookLadder, hub, rows=5)
    best_bid = hub.view(SYM).book.bids[0][0]
    ladder.own_prices = {best_bid}
    render(ladder)
    n = ladder.rows
    own = ladder.source.data["own"]
    assert own[n + 1] == "\u25cf" and own.count("\u25cf") == 1
    ladder.source.selected.indices = [n + 1]
    assert (ladder.selected_price, ladder.selected_side) == (format(best_bid, "f"), "bid")
    assert ladder.source.selected.indices == []


# ---- tape
async def test_tape_streams_only_new_trades_newest_first(market):
    """Only the trades since the last frame are streamed; the top row is the newest trade."""
    feed, hub = market
    tape = await ready(TradeTape, hub)
    shown = rows(tape)
    events = record(tape.plot)
    await advance(feed, hub, 3)
    render(tape)
    streamed = [e for e in events if isinstance(e, ColumnsStreamedEvent)]
    assert [len(e.data["y"]) for e in streamed] == [3]
    assert rows(tape) == shown + 3
    newest = hub.view(SYM).trades[-1]
    assert tape.displayed()[0]["trade_id"] == newest.trade_id
    assert tape.plot.y_range.end == max(tape.source.data["y"]) + 0.5


@pytest.mark.parametrize(("threshold", "weight"), [(0.0, "bold"), (1e12, "normal")],
                         ids=["large", "small"])
async def test_tape_flags_large_trades(market, threshold, weight):
    """Trades with a notional at or above large_threshold are bold on an accent band."""
    feed, hub = market
    await advance(feed, hub)
    tape = await ready(TradeTape, hub, large_threshold=threshold)
    assert set(tape.source.data["weight"]) == {weight}
    assert (tape.source.data["bg"][0] > 0) is (weight == "bold")


async def test_tape_threshold_follows_symbol(market):
    """The large-trade threshold defaults per symbol and is restored on a symbol change."""
    _, hub = market
    tape = TradeTape(hub)
    assert tape.large_threshold == 50_000
    tape.symbol = OTHER
    assert tape.large_threshold == 25_000


# ---- candles
async def test_candles_patch_last_and_stream_new(market):
    """A changed last bar is patched, a new bar is streamed."""
    feed, hub = market
    candles = await ready(CandleChart, hub)
    history = feed._candles[(SYM, "1min")]
    last = history[-1]
    history[-1] = Candle(SYM, "1min", last.start_s, last.open, last.high + 100, last.low,
                         last.high + 100,
                         last.volume + 1, last.turnover)
    history.append(Candle(SYM, "1min", last.start_s + 60, *[last.close] * 4, Decimal(2),
                          Decimal(1)))
    n, events = rows(candles), record(candles.plot)
    await advance(feed, hub)
    render(candles)
    kinds = [type(e) for e in events if isinstance(e, ColumnsPatchedEvent | ColumnsStreamedEvent)]
    assert kinds == [ColumnsPatchedEvent, ColumnsStreamedEvent]
    data = candles.source.data
    assert rows(candles) == n + 1 and data["close"][-2] == float(last.high + 100)
    assert data["time"][-1] == (last.start_s + 60) * 1000
    assert candles.price_figure.y_range.end >= float(last.high + 100)


async def test_candles_history_arriving_after_live_bars_replaces_them(market):
    """Live bars shown before the history loaded are replaced by the full history when it
    arrives."""
    feed, hub = market
    start = int(time.time()) // 60 * 60 - 60  # the same minute as the fake history's newest bar
    feed._candles[(SYM, "1min")] = [Candle(SYM, "1min", start, *[Decimal(100)] * 4, Decimal(1),
                                           Decimal(100))]
    candles = CandleChart(hub)
    render(candles)
    assert rows(candles) == 1  # the live bar, before the history task ran
    await eventually(lambda: render(candles) and rows(candles) == 120)


async def test_candles_interval_change_replaces(market):
    """A new interval clears the bars and loads that interval's history."""
    _, hub = market
    candles = await ready(CandleChart, hub)
    candles.interval = "5min"
    assert rows(candles) == 0
    await eventually(lambda: shows_rows(candles))
    assert "5min" in candles.title.object


# ---- header and HTML
async def test_header_shows_quote(market):
    """The header shows best bid, best ask and the spread in bps."""
    _, hub = market
    header = await ready(MarketHeader, hub)
    view = hub.view(SYM)
    assert str(view.best_bid) in header.pane.object and str(view.best_ask) in header.pane.object
    assert f"{view.spread_bps:.2f} bps" in header.pane.object


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
async def test_renders_to_html(market, cls, tmp_path):
    """Each component serialises to a standalone HTML page."""
    _, hub = market
    component = await ready(cls, hub)
    pn.panel(component).save(tmp_path / "x.html")
    assert (tmp_path / "x.html").stat().st_size > 1000


async def test_ladder_rows_built_once_per_view_and_sessions_keep_their_own_lists(market,
                                                                                monkeypatch):
    """Two sessions on the same view: the rows are built once (by the hub, cached on the view), each
    source owns its lists (a patch to one leaves the other and the shared rows alone)."""
    from dashboard import market_view
    feed, hub = market
    built = []
    original = market_view._ladder_table
    monkeypatch.setattr(market_view, "_ladder_table",
                        lambda *args: built.append(1) or original(*args))
    first, second = OrderBookLadder(hub, symbol=SYM), OrderBookLadder(hub, symbol=SYM)
    assert render(first) and render(second)
    assert len(built) == 1
    shared = hub.view(SYM).ladder_rows(first.group, first.rows, first.own_prices)
    assert first.source.data["price"] == second.source.data["price"] == list(shared["price"])
    assert first.source.data["price"] is not shared["price"]
    assert second.source.data["price"] is not shared["price"]
    before = list(second.source.data["size"])
    first.source.patch({"size": [(0, -1.0)]})
    assert second.source.data["size"] == before and list(shared["size"]) == before
    await advance(feed, hub)
    assert render(first) and render(second)
    assert len(built) == 2
    assert first.source.data["price"] == second.source.data["price"]


@pytest.mark.parametrize(("own", "marks"), [
    ("49990.35", {("bid", "49990.0"), ("ask", "49991.0")}),  # inside: bid floors, ask ceils
    ("49990", {("bid", "49990.0")}),  # on an edge: bucket 49990 on both sides, no ask row there
], ids=["inside", "edge"])
def test_hub_bucket_rule_for_rows_and_own_marks(own, marks):
    """One bucket rule in the hub: bids floored, asks ceiled, own orders marked in that bucket."""
    from dashboard.domain.fakes import fake_instrument
    from dashboard.domain.models import BookSnapshot, FeedStatus
    from dashboard.market_view import OWN_MARK, make_view
    d = Decimal
    book = BookSnapshot(SYM, 1, ((d("49990.9"), d(1)), (d("49990.1"), d(2)), (d("49989.5"), d(4))),
                        ((d("49990.95"), d(1)), (d("49991.4"), d(8))))
    view = make_view(SYM, 1, True, book, (), 0, fake_instrument(SYM), None,
                     FeedStatus(FeedState.LIVE))
    rows = view.ladder_rows(group=10, rows=3, own_prices={own})
    assert rows["price"] == ("", "49992.0", "49991.0", "0.05 (0.0 bps)", "49990.0", "49989.0", "")
    assert rows["side"] == ("ask",) * 3 + ("spread",) + ("bid",) * 3
    assert rows["size"] == (None, 8.0, 1.0, None, 3.0, 4.0, None)
    assert rows["cum"] == (None, 9.0, 1.0, None, 3.0, 7.0, None)
    assert rows["bar"] == (0, 100, 12, 0, 38, 50, 0)
    shown = {(side, price) for side, price, mark in zip(rows["side"], rows["price"], rows["own"],
                                                        strict=True) if mark == OWN_MARK}
    assert shown == marks
    assert view.ladder_rows(10, 3, {own}) is rows, "cached on the view"
    assert view.bucket(10) == d(1)
