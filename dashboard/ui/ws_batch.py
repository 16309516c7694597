"""One socket write per Bokeh message instead of one per fragment; installed once by the app (``install()``).

A Bokeh protocol message goes out as 3 websocket messages (header, metadata, content) plus 2 per binary buffer
(the depth chart's numpy columns: 4 buffers, so 11). Panel's ``dispatch_tornado`` writes each with
``WebSocketHandler.write_message``, which is one ``send()`` on the socket and one asyncio Task per fragment.
Under load that was ~20% of the server's time at 50 sessions (py-spy, benchmarks/dashboard_load.py).

``dispatch_tornado`` here builds the same websocket frames (RFC 6455, unmasked server frames, same order, same
payloads) and hands them to the connection's stream in one write: one ``send()`` and no Task per message. It
falls back to Panel's own function whenever the connection is not the plain case it handles: compression
negotiated (permessage-deflate), masking, or a Tornado without the expected attributes.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Sequence

import tornado
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketHandler, WebSocketProtocol13

log = logging.getLogger(__name__)

_stock = None  # Panel's dispatch_tornado, kept for the fallback
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


def _plain(ws_conn) -> bool:
    return (type(ws_conn) is WebSocketProtocol13 and ws_conn._compressor is None and not ws_conn.mask_outgoing
            and getattr(ws_conn, "stream", None) is not None)


def message_frames(msg) -> list[bytes]:
    """The websocket frames of one Bokeh message, in Bokeh's order: header, metadata, content, buffers."""
    parts = [frame(0x1, msg.header_json.encode()), frame(0x1, msg.metadata_json.encode()),
             frame(0x1, msg.content_json.encode())]
    for buffer in msg._buffers:
        parts.append(frame(0x1, json.dumps(buffer.ref).encode()))
        parts.append(frame(0x2, buffer.to_bytes()))
    return parts


def dispatch_tornado(conn, events=None, msg=None) -> Sequence:
    """Drop-in for ``panel.io.document.dispatch_tornado``: same messages, one stream write."""
    socket = conn._socket
    ws_conn = getattr(socket, "ws_connection", None)
    if not ws_conn or ws_conn.is_closing():
        return []
    if not _plain(ws_conn):
        stats["fallback"] += 1
        return _stock(conn, events=events, msg=msg)
    if msg is None:
        if not events:
            return []
        msg = conn.protocol.create("PATCH-DOC", events)
    data = b"".join(message_frames(msg))
    ws_conn._wire_bytes_out += len(data)
    try:
        future = ws_conn.stream.write(data)
    except StreamClosedError:
        return []
    stats["batched"] += 1
    return [future]


def supported() -> bool:
    import panel.io.document as pdoc
    return (tornado.version_info[0] == 6 and callable(getattr(pdoc, "dispatch_tornado", None))
            and callable(getattr(pdoc, "_socket_dispatcher", None))
            and all(hasattr(WebSocketProtocol13, a) for a in ("_write_frame", "is_closing", "write_message"))
            and callable(getattr(WebSocketHandler, "get_websocket_protocol", None)))


def install() -> bool:
    """Route Panel's direct writes through ``dispatch_tornado`` above (idempotent); False leaves Panel stock."""
    global _stock, _installed
    if _installed:
        return True
    import panel.io.document as pdoc
    if not supported():
        log.warning("tornado %s: batched websocket writes not installed", tornado.version)
        return False
    _stock = pdoc.dispatch_tornado
    pdoc.dispatch_tornado = dispatch_tornado  # _socket_dispatcher looks the name up at call time
    _installed = True
    return True
