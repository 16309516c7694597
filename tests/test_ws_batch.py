"""Batched websocket writes (dashboard.ui.ws_batch): the client receives exactly what Panel's own
dispatch sends (kept as a handle), and any connection the patch does not handle takes Panel's
way."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np
import panel.io.document as pdoc
import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div
from bokeh.protocol import Protocol
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application
from tornado.websocket import WebSocketHandler, WebSocketProtocol13, websocket_connect

from dashboard.ui import ws_batch
from dashboard.ui.fence import changed

from .conftest import eventually

STOCK = ws_batch.STOCK  # Panel's own dispatch_tornado, as imported before any install


class _Handler(WebSocketHandler):
    opened: asyncio.Queue

    def open(self):
        self.opened.put_nowait(self)

    def on_message(self, message):
        pass


@pytest.fixture
async def pair():
    """A real Tornado websocket: (server-side handler, client connection)."""
    opened: asyncio.Queue = asyncio.Queue()
    _Handler.opened = opened
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(Application([("/ws", _Handler)]))
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    client = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
    handler = await asyncio.wait_for(opened.get(), 5)
    yield handler, client
    client.close()
    server.stop()


def _message(with_buffers: bool):
    doc = Document()
    src = ColumnDataSource({"x": np.arange(5.0), "y": np.arange(5.0) ** 2})
    div = Div(text="a")
    doc.add_root(div)
    doc.add_root(src)
    doc.models.flush_synced()
    doc.callbacks.hold("collect")
    div.text = "héllo <b>wörld</b> " + "x" * 200  # > 125 bytes: the 16-bit length form
    if with_buffers:  # > 64 KiB: the 64-bit length form
        src.data = {"x": np.arange(40_000.0), "y": np.ones(40_000)}
    events = list(doc.callbacks._held_events)
    doc.callbacks._held_events = []
    doc.callbacks.unhold()
    return Protocol().create("PATCH-DOC", events)


async def _receive(client, n: int) -> list:
    return [await asyncio.wait_for(client.read_message(), 5) for _ in range(n)]


def _counters(handler) -> tuple[int, int]:
    ws = handler.ws_connection
    return ws._message_bytes_out, ws._wire_bytes_out


async def _sent(dispatch, handler, client, msg) -> tuple[list, tuple[int, int]]:
    """What the client receives for ``msg`` sent by ``dispatch``, and Tornado's byte counters."""
    conn = SimpleNamespace(_socket=handler, protocol=Protocol())
    before = _counters(handler)
    for fut in dispatch(conn, msg=msg):
        await fut
    received = await _receive(client, 3 + 2 * len(msg._buffers))
    after = _counters(handler)
    return received, (after[0] - before[0], after[1] - before[1])


@pytest.mark.parametrize("with_buffers", [False, True], ids=["text-only", "binary-buffers"])
async def test_client_receives_the_same_fragments_as_panel_stock(pair, with_buffers):
    handler, client = pair
    conn = SimpleNamespace(_socket=handler, protocol=Protocol())
    msg = _message(with_buffers)
    n = 3 + 2 * len(msg._buffers)
    assert (len(msg._buffers) > 0) == with_buffers

    stock_counts = _counters(handler)
    for fut in STOCK(conn, msg=msg):
        await fut
    stock = await _receive(client, n)
    stock_counts = tuple(b - a for a, b in zip(stock_counts, _counters(handler), strict=True))

    before, our_counts = ws_batch.stats["batched"], _counters(handler)
    futures = ws_batch.dispatch_tornado(conn, msg=msg)
    assert len(futures) == 1, "one stream write per message"
    await futures[0]
    ours = await _receive(client, n)
    assert ws_batch.stats["batched"] == before + 1
    our_counts = tuple(b - a for a, b in zip(our_counts, _counters(handler), strict=True))

    assert ours == stock
    assert [type(x) for x in ours] == [str, str, str] + [str, bytes] * len(msg._buffers)
    assert our_counts == stock_counts, "Tornado's byte counters move as with its own writes"


async def test_falls_back_to_panel_when_compression_is_negotiated(pair, monkeypatch):
    handler, _ = pair
    conn = SimpleNamespace(_socket=handler, protocol=Protocol())
    # as with permessage-deflate
    monkeypatch.setattr(handler.ws_connection, "_compressor", object())
    calls = []
    monkeypatch.setattr(ws_batch, "STOCK",
                        lambda conn, events=None, msg=None: calls.append(msg) or [])
    msg = _message(False)
    assert ws_batch.dispatch_tornado(conn, msg=msg) == []
    assert calls == [msg]


async def test_closed_connection_sends_nothing(pair):
    handler, client = pair
    conn = SimpleNamespace(_socket=handler, protocol=Protocol())
    client.close()
    await eventually(lambda: handler.ws_connection is None or handler.ws_connection.is_closing())
    assert ws_batch.dispatch_tornado(conn, msg=_message(False)) == []


def test_frame_lengths():
    assert ws_batch.frame(0x1, b"a" * 125)[:2] == bytes([0x81, 125])
    assert ws_batch.frame(0x2, b"a" * 126)[:4] == bytes([0x82, 126, 0, 126])
    # minimal length encoding
    assert ws_batch.frame(0x1, b"a" * 65_535)[:4] == bytes([0x81, 126, 0xFF, 0xFF])
    assert ws_batch.frame(0x1, b"a" * 70_000)[:2] == bytes([0x81, 127])
    assert len(ws_batch.frame(0x1, b"a" * 70_000)) == 70_000 + 10


def test_install_routes_panel_dispatch():
    assert ws_batch.install() and ws_batch.install()
    assert pdoc.dispatch_tornado is ws_batch.dispatch_tornado
    assert STOCK.__module__ == "panel.io.document" and STOCK is not ws_batch.dispatch_tornado
    handler = WebSocketHandler.__new__(WebSocketHandler)
    assert pdoc._socket_dispatcher(handler) is ws_batch.dispatch_tornado


async def test_other_protocol_class_takes_panels_path_and_sends_the_same(pair):
    """A connection of another class (as a Tornado with a new protocol version would make) goes
    Panel's way: the client receives the same fragments as from Panel, the counters move alike."""
    handler, client = pair
    msg = _message(True)
    stock = await _sent(STOCK, handler, client, msg)

    class WebSocketProtocolNext(WebSocketProtocol13):
        pass

    handler.ws_connection.__class__ = WebSocketProtocolNext
    before = ws_batch.stats["fallback"]
    assert await _sent(ws_batch.dispatch_tornado, handler, client, msg) == stock
    assert ws_batch.stats["fallback"] == before + 1


async def test_connection_lacking_an_attribute_read_takes_panels_path(pair, monkeypatch):
    """A connection without one of the attributes the patch reads (as after a rename upstream)
    goes Panel's way, and the client receives the same bytes."""
    handler, client = pair
    msg = _message(True)
    stock = await _sent(STOCK, handler, client, msg)
    assert ws_batch.plain(handler.ws_connection)
    monkeypatch.setattr(ws_batch, "READS", (*ws_batch.READS, "_frame_writer_of_tornado_7"))
    assert not ws_batch.plain(handler.ws_connection)
    before = ws_batch.stats["fallback"]
    assert await _sent(ws_batch.dispatch_tornado, handler, client, msg) == stock
    assert ws_batch.stats["fallback"] == before + 1


def test_checked_code_and_probe_on_this_panel_and_tornado():
    """The functions stood in for are the code checked, and Panel's own dispatch hands Tornado the
    payloads the patch frames."""
    assert changed(ws_batch.CHECKED) == []
    assert ws_batch._probe_payloads() and ws_batch.supported()


def test_changed_panel_function_is_left_stock(monkeypatch):
    """A Panel whose dispatch_tornado differs from the code checked: not supported."""
    func, _ = ws_batch.CHECKED["panel dispatch_tornado"]
    monkeypatch.setitem(ws_batch.CHECKED, "panel dispatch_tornado", (func, "0" * 16))
    assert not ws_batch.supported()


def test_dispatcher_that_does_not_look_the_name_up_leaves_panel_stock(monkeypatch):
    """If Panel's dispatcher stops resolving dispatch_tornado at call time, install() backs out."""
    was = ws_batch.installed()
    ws_batch.uninstall()
    try:
        monkeypatch.setattr(pdoc, "_socket_dispatcher", lambda socket: STOCK)
        monkeypatch.setitem(ws_batch.CHECKED, "panel _socket_dispatcher",
                            (STOCK, ws_batch.CHECKED["panel dispatch_tornado"][1]))
        assert not ws_batch.install()
        assert pdoc.dispatch_tornado is STOCK and not ws_batch.installed()
    finally:
        monkeypatch.undo()
        if was:
            assert ws_batch.install()
