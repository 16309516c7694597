"""The process-wide RenderLoop and SessionClock: every served session rendered in turn, never under
someone else's document lock, never before the page is ready, dropped when the session goes;
LiveHTML."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import Div

from dashboard.domain.fakes import FakeMarketFeed
from dashboard.hub import MarketHub
from dashboard.ui.base import LiveHTML, RenderLoop, SessionClock
from dashboard.ui.market import DepthChart

from .conftest import eventually


class Recorder:
    """A component that records when it was ticked."""

    def __init__(self, log: list, name: str) -> None:
        self.log, self.name = log, name

    def tick(self, now: float) -> bool:
        self.log.append(self.name)
        return True


def served_doc(connections: int = 1, loaded: bool = True) -> tuple[Document, SimpleNamespace]:
    """A document as Bokeh serves it: a session context with a session (lock, connections)."""
    doc = Document()
    session = SimpleNamespace(_lock=asyncio.Lock(), destroyed=False, connection_count=connections,
                              _subscribed_connections=set(), _pending_writes=None)
    doc._session_context = lambda: SimpleNamespace(session=session, server_context=None, id="s")
    if loaded:
        pn.state._loaded[doc] = True
    return doc, session


@pytest.fixture
def docs():
    made: list[Document] = []
    yield made
    for doc in made:
        pn.state._loaded.pop(doc, None)


def start_clock(doc: Document, log: list, name: str, period_ms: int = 20) -> SessionClock:
    clock = SessionClock([Recorder(log, name)], period_ms=period_ms)
    from panel.io.state import set_curdoc
    with set_curdoc(doc):
        clock.start()
    return clock


async def test_served_sessions_join_one_render_loop(docs):
    log: list = []
    (a, _), (b, _) = served_doc(), served_doc()
    docs += [a, b]
    first, second = start_clock(a, log, "a"), start_clock(b, log, "b")
    loop = RenderLoop.instance()
    # no per-session periodic callback
    assert first in loop and second in loop and first._callback is None
    await eventually(lambda: log.count("a") >= 3 and log.count("b") >= 3)
    first.stop()
    second.stop()
    assert len(loop) == 0
    n = len(log)
    await asyncio.sleep(0.15)
    assert len(log) == n, "a stopped clock renders nothing"


async def test_round_yields_to_the_event_loop_between_sessions(docs):
    """A round of many sessions is many short loop iterations, not one stall: other work runs in
    between."""
    log: list = []
    clocks = []
    for i in range(5):
        doc, _ = served_doc()
        docs.append(doc)
        clocks.append(start_clock(doc, log, f"s{i}"))
    loop = asyncio.get_running_loop()
    running = [True]

    # stands for any other ready callback: a websocket read, the lag probe's request
    def other() -> None:
        if running[0]:
            log.append("o")
            loop.call_soon(other)

    loop.call_soon(other)
    await eventually(lambda: log.count("s4") >= 2)
    running[0] = False
    for clock in clocks:
        clock.stop()
    first_round = log.index("s0"), log.index("s4")
    between = log[first_round[0]:first_round[1]]
    assert [x for x in between if x != "o"] == ["s0", "s1", "s2", "s3"]
    assert between.count("o") >= 4, f"no other work between the sessions of one round: {between}"


async def test_skips_while_the_document_lock_is_held_and_renders_after(docs):
    log: list = []
    doc, session = served_doc()
    docs.append(doc)
    await session._lock.acquire()  # e.g. Bokeh applying a browser patch on a worker thread
    clock = start_clock(doc, log, "a")
    await eventually(lambda: clock.busy_skips >= 2)
    assert log == []
    session._lock.release()
    await eventually(lambda: len(log) >= 2)
    clock.stop()


async def test_not_before_the_page_is_ready_and_not_for_nobody(docs):
    log: list = []
    doc, session = served_doc(loaded=False)
    docs.append(doc)
    clock = start_clock(doc, log, "a")
    await asyncio.sleep(0.1)
    # Bokeh accepts unlocked changes only once the page is ready
    assert log == [] and clock.ticks == 0
    pn.state._loaded[doc] = True
    await eventually(lambda: len(log) >= 1)
    # the browser went away; the session lingers until Bokeh discards it
    session.connection_count = 0
    idle = clock.idle_ticks
    await eventually(lambda: clock.idle_ticks > idle + 2)
    n = len(log)
    await asyncio.sleep(0.06)
    assert len(log) == n
    clock.stop()


async def test_destroyed_session_leaves_the_loop(docs):
    log: list = []
    doc, session = served_doc()
    docs.append(doc)
    clock = start_clock(doc, log, "a")
    loop = RenderLoop.instance()
    await eventually(lambda: len(log) >= 1)
    session.destroyed = True
    await eventually(lambda: clock not in loop)
    assert len(loop) == 0


async def test_without_a_served_session_falls_back_to_a_periodic_callback():
    clock = SessionClock([Recorder([], "nb")], period_ms=20)
    clock.start()  # no curdoc session context: a notebook or a script
    try:
        assert clock._callback is not None and clock._render_loop is None
    finally:
        clock.stop()


def test_live_html_sends_only_changes():
    pane = LiveHTML("<b>a</b>", css_classes=["x"])
    doc = Document()
    doc.add_root(pane.div)
    events: list = []
    doc.on_change(events.append)
    pane.object = "<b>a</b>"
    assert events == []
    pane.object = "<b>b</b>"
    assert pane.object == "<b>b</b>" and len(events) == 1
    assert isinstance(pane.div, Div) and pane.css_classes == ["x"]
    assert pane.__panel__().object is pane.div


async def test_depth_areas_hidden_while_empty():
    """BokehJS hangs the page drawing an empty visible VAreaStep: areas show only with points."""
    feed = FakeMarketFeed(["BTC-USDT"], levels=50)
    feed.step(1)
    hub = MarketHub(feed, tick_s=0.005)
    await hub.start()
    try:
        hub.watch("BTC-USDT")
        depth = DepthChart(hub)
        assert [r.visible for r in depth._areas] == [False, False]
        await eventually(
            lambda: depth.tick(time.monotonic() + 1e6) or len(depth.bids.data["price"]) > 0)
        assert [r.visible for r in depth._areas] == [True, True]
        depth.asks.data = {"price": np.array([]), "cum": np.array([])}
        depth._show_areas()
        assert [r.visible for r in depth._areas] == [True, False]
        depth.reset()
        assert [r.visible for r in depth._areas] == [False, False]
    finally:
        await hub.close()
