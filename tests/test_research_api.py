"""``open_market`` on the real simulator (127.0.0.1) and the real client: the series' OFI equals an
independent pandas computation from ``top_of_book_df``; ``trades_df`` equals the simulator's own
trades; ``book_df`` equals the simulator's book when the flow is frozen; the heatmap renders; a
recording collected through ``open_market(path)`` equals what the collector saw live; a plain
script (no Jupyter) works; importing the package stays light."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
from bokeh.models import GlyphRenderer, Image

from dashboard.research import Market, open_market

from .conftest import eventually, kucoin_reachable

ROOT = Path(__file__).resolve().parent.parent
SYMBOL = "BTC-USDT"


class SimTrades:
    """The simulator's own trade record (an engine listener), apart from the client's."""

    def __init__(self) -> None:
        self.trades: list = []

    def on_trade(self, symbol: str, trade) -> None:
        if symbol == SYMBOL:
            self.trades.append(trade)


@pytest.fixture
async def market():
    m = await open_market(symbols=[SYMBOL], rate_per_s=400, plotting=None)
    try:
        yield m
    finally:
        await m.close()


def cks_ofi(tops: pd.DataFrame) -> pd.Series:
    """OFI per 1 s from the top-of-book changes, in plain pandas: e_n with the non-strict
    inequalities of Cont, Kukanov and Stoikov (2014), summed by ``ts.dt.floor('1s')``. The first
    change has no predecessor (NaN comparisons are False: it adds 0)."""
    prev = tops.shift(1)
    e = ((tops.best_bid >= prev.best_bid) * tops.bid_size
         - (tops.best_bid <= prev.best_bid) * prev.bid_size.fillna(0)
         - (tops.best_ask <= prev.best_ask) * tops.ask_size
         + (tops.best_ask >= prev.best_ask) * prev.ask_size.fillna(0))
    return e.groupby(tops.ts.dt.floor("1s")).sum()


async def test_series_ofi_equals_pandas_from_top_of_book(market: Market):
    """Every closed interval's ``ofi`` equals the pandas sum of e_n over the same interval."""
    await market.collect(seconds=4, progress=False)
    tops, series = market.top_of_book_df(SYMBOL), market.series_df(SYMBOL)
    assert len(tops) > 20 and len(series) >= 3
    assert not series.gap.any()
    expected = cks_ofi(tops).reindex(series.index, fill_value=0.0)
    np.testing.assert_allclose(series.ofi.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-12)
    assert (series.ofi != 0).sum() >= 2  # not a comparison of zeros
    assert series.top_changes.sum() == (tops.ts < series.index[-1] + pd.Timedelta("1s")).sum()


async def test_trades_df_equals_the_simulators_trades(market: Market):
    """Each trade the simulator made (once listened to) is listed once, with its id, exact
    price and size, taker side and time."""
    own = SimTrades()
    market.sim.exchange.listeners.append(own)
    await market.collect(seconds=3, progress=False)
    await eventually(lambda: len(own.trades) > 20, timeout_s=10)
    made = own.trades[:-5]  # the newest may still be on the wire
    await eventually(lambda: set(market.trades_df(SYMBOL).trade_id)
                     >= {str(t.trade_id) for t in made}, timeout_s=5)
    df = market.trades_df(SYMBOL).set_index("trade_id")
    assert df.index.is_unique
    for t in made:
        row = df.loc[str(t.trade_id)]
        assert Decimal(row.price_exact) == t.price and Decimal(row.size_exact) == t.size
        assert row.side == t.side and row.ts.value == t.time_ns
        assert row.price == float(t.price)


async def test_book_df_equals_the_simulators_book_when_frozen(market: Market):
    """With the flow stopped, once the client caught up, ``book_df`` is the exchange's book."""
    market.sim.flow.rate_per_s = 0
    exchange = market.sim.exchange
    await eventually(lambda: market.feed.book_sequences().get(SYMBOL) is not None
                     and market.feed.book(SYMBOL).sequence == exchange.sequence(SYMBOL),
                     timeout_s=10)
    seq, bids, asks = exchange.snapshot(SYMBOL)
    df = market.book_df(SYMBOL, levels=None)
    assert df.attrs["sequence"] == seq
    ours = [(r.side, r.level, Decimal(r.price_exact), Decimal(r.size_exact))
            for r in df.itertuples()]
    theirs = ([("bid", i, p, s) for i, (p, s) in enumerate(bids)]
              + [("ask", i, p, s) for i, (p, s) in enumerate(asks)])
    assert ours == theirs and len(theirs) > 20
    top = market.book_df(SYMBOL, levels=5)
    assert top.groupby("side").size().to_dict() == {"ask": 5, "bid": 5}


async def test_heatmap_renders_what_was_collected(market: Market):
    """``heatmap`` is a HoloViews overlay that renders with Bokeh; its image spans the columns
    collected and its colour scale the sizes seen."""
    await market.collect(seconds=2, progress=False)
    overlay = market.heatmap(SYMBOL)
    assert isinstance(overlay, hv.Overlay)
    history = market.collector.history(SYMBOL)
    cols = history.columns(0)
    image = overlay.Image.I
    assert image.data.shape[1] == len(cols)
    fig = hv.render(overlay, backend="bokeh")
    assert any(isinstance(r.glyph, Image) for r in fig.renderers if isinstance(r, GlyphRenderer))
    summary = market.summary()
    assert summary.loc[SYMBOL, "heatmap_columns"] >= len(cols)
    long = market.history_df(SYMBOL)
    assert len(long) > 0 and set(long.columns) >= {"ts", "price", "size"}


async def test_unknown_symbol_is_named():
    """Asking for a symbol that is not collected says which ones are."""
    async with await open_market(symbols=[SYMBOL], rate_per_s=0, plotting=None) as m:
        with pytest.raises(KeyError, match="BTC-USDT"):
            m.trades_df("DOGE-USDT")
        with pytest.raises(ValueError, match="seconds"):
            await m.collect()


async def test_a_recording_replays_to_what_the_collector_saw_live(tmp_path):
    """Record with the project's recorder while collecting live, then ``open_market(path)``:
    the same trades, the same top-of-book changes (times within the recorder's stamping), the
    same taker volume per interval."""
    path = tmp_path / "btc.rec.gz"
    live = await open_market(symbols=[SYMBOL], rate_per_s=300, record=str(path), plotting=None)
    try:
        await live.collect(seconds=3, progress=False)
        live.sim.flow.rate_per_s = 0  # quiet, so the file holds everything the collector saw
        exchange = live.sim.exchange
        await eventually(lambda: live.feed.book(SYMBOL).sequence == exchange.sequence(SYMBOL),
                         timeout_s=10)
        trades, tops = live.trades_df(SYMBOL), live.top_of_book_df(SYMBOL)
        series = live.series_df(SYMBOL)
    finally:
        await live.close()
    async with await open_market(str(path), plotting=None) as replay:
        assert replay.mode == "replay" and replay.symbols == [SYMBOL]
        await replay.collect(progress=False)
        assert replay.feed.finished and replay.feed.error is None
        r_trades, r_tops = replay.trades_df(SYMBOL), replay.top_of_book_df(SYMBOL)
        r_series = replay.series_df(SYMBOL)
    cols = ["trade_id", "ts", "price_exact", "size_exact", "side"]
    pd.testing.assert_frame_equal(r_trades[cols], trades[cols])
    values = [c for c in tops.columns if c.endswith("_exact")]
    pd.testing.assert_frame_equal(r_tops[values], tops[values])
    stamp_ms = (r_tops.ts - tops.ts).abs().max() / pd.Timedelta("1ms")
    assert stamp_ms < 50
    both = series.index.intersection(r_series.index)
    assert len(both) >= 2
    for column in ("buy_volume", "sell_volume", "trades"):
        pd.testing.assert_series_equal(r_series.loc[both, column], series.loc[both, column])


def test_open_market_works_in_a_plain_script():
    """No Jupyter: ``asyncio.run`` of open, collect, DataFrames, close exits 0."""
    code = textwrap.dedent("""
        import asyncio
        from dashboard.research import open_market

        async def main():
            async with await open_market(symbols=["BTC-USDT"], rate_per_s=200) as m:
                await m.collect(seconds=1.5)
                print("trades", len(m.trades_df("BTC-USDT")))
                print("tops", len(m.top_of_book_df("BTC-USDT")))
                print("book", len(m.book_df("BTC-USDT", levels=5)))
                print("series", len(m.series_df("BTC-USDT")))
                print("heatmap", type(m.heatmap("BTC-USDT")).__name__)

        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-W", "error::ResourceWarning", "-c", code], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    lines = dict(line.split() for line in out.stdout.splitlines())
    assert int(lines["tops"]) > 0 and lines["book"] == "10" and int(lines["series"]) >= 1
    assert lines["heatmap"] == "Overlay"
    assert "collecting" in out.stderr  # the progress bar, on stderr


def test_the_package_stays_light():
    """Importing the research package and the hub loads neither the facade nor an adapter."""
    code = ("import sys, dashboard.hub, dashboard.research\n"
            "heavy = [m for m in ('dashboard.research.api', 'dashboard.runtime', 'holoviews',\n"
            "         'dashboard.simulator', 'dashboard.kucoin') if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


async def test_a_missing_recording_is_named(tmp_path):
    """A path that is not there says what ``source`` accepts; nothing is left running."""
    with pytest.raises(FileNotFoundError, match="'sim', 'live' or a path"):
        await open_market(str(tmp_path / "nothing.rec.gz"), plotting=None)




@pytest.mark.skipif(not kucoin_reachable(), reason="offline: api.kucoin.com is not reachable")
async def test_open_market_live_collects_public_data():
    """``open_market("live")``: api.kucoin.com's public book and trades, no key."""
    async with await open_market("live", symbols=["BTC-USDT"], plotting=None) as m:
        await m.collect(seconds=5, progress=False)
        assert len(m.top_of_book_df("BTC-USDT")) > 0
        book = m.book_df("BTC-USDT", levels=5)
        assert book[book.side == "bid"].price.max() < book[book.side == "ask"].price.min()
