"""Batched websocket writes (dashboard.ui.ws_batch): the client receives exactly what Panel's own dispatch sends."""

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
from tornado.websocket import WebSocketHandler, websocket_connect

from dashboard.ui import ws_batch

STOCK = pdoc.dispatch_tornado if not ws_batch._installed else ws_batch._stock


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
    if with_buffers:
        src.data = {"x": np.arange(40_000.0), "y": np.ones(40_000)}  # > 64 KiB: the 64-bit length form
    events = list(doc.callbacks._held_events)
    doc.callbacks._held_events = []
    doc.callbacks.unhold()
    return Protocol().create("PATCH-DOC", events)


async def _receive(client, n: int) -> list:
    return [await asyncio.wait_for(client.read_message(), 5) for _ in range(n)]


@pytest.mark.parametrize("with_buffers", [False, True], ids=["text-only", "binary-buffers"])
async def test_client_receives_the_same_fragments_as_panel_stock(pair, with_buffers):
    handler, client = pair
    conn = SimpleNamespace(_socket=handler, protocol=Protocol())
    msg = _message(with_buffers)
    n = 3 + 2 * len(msg._buffers)
    assert (len(msg._buffers) > 0) == with_buffers

    for fut in STOCK(conn, msg=msg):
        await fut
    stock = await _receive(client, n)

    before = ws_batch.stats["batched"]
    futures = ws_batch.dispatch_tornado(conn, msg=msg)
    assert len(futures) == 1, "one stream write per message"
    await futures[0]
    ours = await _receive(client, n)
    assert ws_batch.stats["batched"] == before + 1

    assert ours == stock
    assert [type(x) for x in ours] == [str, str, str] + [str, bytes] * len(msg._buffers)


async def test_falls_back_to_panel_when_compression_is_negotiated(pair, monkeypatch):
    handler, _ = pair
    conn = SimpleNamespace(_socket=handler, protocol=Protocol())
    monkeypatch.setattr(handler.ws_connection, "_compressor", object())  # as with permessage-deflate
    calls = []
    monkeypatch.setattr(ws_batch, "_stock", lambda conn, events=None, msg=None: calls.append(msg) or [])
    msg = _message(False)
    assert ws_batch.dispatch_tornado(conn, msg=msg) == []
    assert calls == [msg]


async def test_closed_connection_sends_nothing(pair):
    handler, client = pair
    conn = SimpleNamespace(_socket=handler, protocol=Protocol())
    client.close()
    await asyncio.sleep(0.1)
    assert ws_batch.dispatch_tornado(conn, msg=_message(False)) == []


def test_frame_lengths():
    assert ws_batch.frame(0x1, b"a" * 125)[:2] == bytes([0x81, 125])
    assert ws_batch.frame(0x2, b"a" * 126)[:4] == bytes([0x82, 126, 0, 126])
    assert ws_batch.frame(0x1, b"a" * 65_535)[:4] == bytes([0x81, 126, 0xFF, 0xFF])  # minimal length encoding
    assert ws_batch.frame(0x1, b"a" * 70_000)[:2] == bytes([0x81, 127])
    assert len(ws_batch.frame(0x1, b"a" * 70_000)) == 70_000 + 10


def test_install_routes_panel_dispatch():
    assert ws_batch.install() and ws_batch.install()
    assert pdoc.dispatch_tornado is ws_batch.dispatch_tornado
    assert ws_batch._stock is STOCK
