"""One socket write per Bokeh message instead of one per fragment; installed once by the app
(``install()``).

A Bokeh protocol message goes out as 3 websocket messages (header, metadata, content) plus 2 per
binary buffer. Panel's ``dispatch_tornado`` writes each with ``WebSocketHandler.write_message``,
which is one ``send()`` on the socket and one asyncio Task per fragment.

``dispatch_tornado`` here builds the same websocket frames (RFC 6455, unmasked server frames, same
order, same payloads) and hands them to the connection's stream in one write: one ``send()`` and no
Task per message. The fence: ``supported()`` checks Tornado 6, the fingerprints of the functions it
stands in for (``CHECKED``), that Panel's dispatcher looks the name up at call time, and that the
frames' payloads are the ones Panel's own function hands to Tornado for a probe message. Every
message checks its connection (``READS``) and falls back to Panel's function (``STOCK``) whenever
the connection is not the plain case handled: compression negotiated (permessage-deflate), masking,
another protocol class, or an attribute missing. Imports Tornado, Panel and ``ui.fence`` only.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Sequence
from concurrent.futures import Future

import panel.io.document as pdoc
import tornado
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketHandler, WebSocketProtocol13

from .fence import changed

log = logging.getLogger(__name__)

STOCK = pdoc.dispatch_tornado  # Panel's own function, kept for the fallback and the tests
# name -> (function stood in for, fingerprint of the code checked: panel 1.10.0, tornado 6.6.1)
CHECKED = {"panel dispatch_tornado": (STOCK, "d579ca7b40d7027c"),
           "panel _socket_dispatcher": (pdoc._socket_dispatcher, "8642379a5c4fb262"),
           "tornado write_message": (WebSocketProtocol13.write_message, "8cf9acce1cee7ee8"),
           "tornado _write_frame": (WebSocketProtocol13._write_frame, "f91d27c49f35ee74")}
# What is read on each connection (besides its type and ``is_closing``); any missing: stock.
READS = ("_compressor", "mask_outgoing", "_wire_bytes_out", "_message_bytes_out", "stream")
_MISSING = object()
_installed = False
stats = {"batched": 0, "fallback": 0}


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked websocket frame (what a server sends): RFC 6455 section 5.2."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def plain(ws_conn) -> bool:
    """The connection is the case handled here: Tornado 6's protocol class, every attribute in
    ``READS`` present, no compression, no masking, an open stream."""
    if type(ws_conn) is not WebSocketProtocol13:
        return False
    if any(getattr(ws_conn, name, _MISSING) is _MISSING for name in READS):
        return False
    return (ws_conn._compressor is None and not ws_conn.mask_outgoing
            and isinstance(ws_conn._wire_bytes_out, int)
            and isinstance(ws_conn._message_bytes_out, int) and ws_conn.stream is not None)


def payloads(msg) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each fragment of one Bokeh message, in Bokeh's order: header, metadata,
    content, then each buffer's header (text) and bytes (binary)."""
    parts = [(0x1, msg.header_json.encode()), (0x1, msg.metadata_json.encode()),
             (0x1, msg.content_json.encode())]
    for buffer in msg._buffers:
        parts += [(0x1, json.dumps(buffer.ref).encode()), (0x2, buffer.to_bytes())]
    return parts


def message_frames(msg) -> list[bytes]:
    """The websocket frames of one Bokeh message."""
    return [frame(opcode, payload) for opcode, payload in payloads(msg)]


def dispatch_tornado(conn, events=None, msg=None) -> Sequence:
    """Drop-in for ``panel.io.document.dispatch_tornado``: same messages, one stream write."""
    ws_conn = getattr(conn._socket, "ws_connection", None)
    if not ws_conn or ws_conn.is_closing():
        return []
    if not plain(ws_conn):
        stats["fallback"] += 1
        return STOCK(conn, events=events, msg=msg)
    if msg is None:
        if not events:
            return []
        msg = conn.protocol.create("PATCH-DOC", events)
    parts = payloads(msg)
    data = b"".join(frame(opcode, payload) for opcode, payload in parts)
    # Tornado's own byte counters, as its write_message and _write_frame keep them
    ws_conn._message_bytes_out += sum(len(payload) for _, payload in parts)
    ws_conn._wire_bytes_out += len(data)
    try:
        future = ws_conn.stream.write(data)
    except StreamClosedError:
        return []
    stats["batched"] += 1
    return [future]


def supported() -> bool:
    """Tornado 6 and Panel 1.10 as checked: the code stood in for, and a probe message."""
    if tornado.version_info[0] != 6 or not callable(getattr(pdoc, "_socket_dispatcher", None)):
        return False
    stale = changed(CHECKED)
    if stale:
        log.warning("panel/tornado: %s changed since checked", ", ".join(stale))
        return False
    return _probe_payloads()


class _Recorder:
    """Stands for a Tornado connection: records what Panel's own function asks it to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes]] = []

    def is_closing(self) -> bool:
        return False

    def write_message(self, message, binary: bool = False) -> Future:
        data = message if isinstance(message, bytes) else message.encode()
        self.sent.append((0x2 if binary else 0x1, data))
        done: Future = Future()
        done.set_result(None)
        return done


def _probe_payloads() -> bool:
    """Panel's own dispatch_tornado, run on a recording connection for a message with a binary
    buffer, hands Tornado exactly the payloads ``payloads`` frames."""
    import numpy as np
    from bokeh.document import Document
    from bokeh.models import ColumnDataSource
    from bokeh.protocol import Protocol

    doc = Document()
    source = ColumnDataSource({"x": np.arange(2.0)})
    doc.add_root(source)
    doc.models.flush_synced()
    doc.callbacks.hold("collect")
    source.data = {"x": np.arange(4.0)}
    events = list(doc.callbacks._held_events)
    doc.callbacks._held_events = []
    doc.callbacks.unhold()
    msg = Protocol().create("PATCH-DOC", events)
    socket = WebSocketHandler.__new__(WebSocketHandler)  # no request: only its ws_connection
    socket.ws_connection = recorder = _Recorder()
    conn = type("Conn", (), {"_socket": socket, "protocol": Protocol()})()
    try:
        STOCK(conn, msg=msg)
        return bool(msg._buffers) and recorder.sent == payloads(msg)
    except Exception:  # any surprise in the internals read: stock
        log.exception("ws_batch probe failed")
        return False


def install() -> bool:
    """Route Panel's direct writes through ``dispatch_tornado`` above (idempotent); False leaves
    Panel stock."""
    global _installed
    if _installed:
        return True
    if not supported():
        log.warning("tornado %s: batched websocket writes not installed", tornado.version)
        return False
    pdoc.dispatch_tornado = dispatch_tornado  # _socket_dispatcher looks the name up at call time
    probe = WebSocketHandler.__new__(WebSocketHandler)
    if pdoc._socket_dispatcher(probe) is not dispatch_tornado:
        pdoc.dispatch_tornado = STOCK
        log.warning("panel: dispatch_tornado is not looked up at call time; writes left stock")
        return False
    _installed = True
    return True


def uninstall() -> None:
    """Panel's own ``dispatch_tornado`` again (tests, benchmarks)."""
    global _installed
    pdoc.dispatch_tornado = STOCK
    _installed = False


def installed() -> bool:
    return _installed
