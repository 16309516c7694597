"""The simulator's WebSocket side: tokens, connections, subscriptions, pushes (protocol.md §6-§7).

Every push is serialised once and queued to each subscribed connection; each connection has one
writer task draining its queue, so a slow client never delays the others and is cut off (with an
error frame) when its backlog passes ``max_backlog``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from dashboard.aio import cancel_and_wait
from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import messages as m
from dashboard.kucoin.protocol import spot as c

from .faults import Faults

log = logging.getLogger(__name__)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(slots=True)
class Token:
    value: str
    user_id: str | None  # None for a public token
    expires_at: float  # time.monotonic()


@dataclass(eq=False, slots=True)
class Connection:
    ws: web.WebSocketResponse
    token: Token
    connect_id: str
    topics: set[str] = field(default_factory=set)
    queue: deque = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    last_client_msg: float = field(default_factory=time.monotonic)
    recent_msgs: deque = field(default_factory=deque)
    held: str | None = None  # a level-2 frame held back by the reorder fault
    closing: bool = False
    sent: int = 0

    def send(self, text: str) -> None:
        self.queue.append(text)
        self.wake.set()


class WsHub:
    """Tokens, live connections and the topic -> connections index."""

    def __init__(self, symbols: set[str], faults: Faults, *,
                 ping_interval_ms: int = kc.PING_INTERVAL_MS,
                 ping_timeout_ms: int = kc.PING_TIMEOUT_MS,
                 max_topics_per_request: int = kc.MAX_TOPICS_PER_SUBSCRIBE,
                 max_topics_per_connection: int = kc.MAX_TOPICS_PER_CONNECTION,
                 max_msgs_per_10s: int = kc.MAX_CLIENT_MESSAGES_PER_10S,
                 max_backlog: int = 100_000) -> None:
        self.symbols = symbols
        self.faults = faults
        self.ping_interval_ms = ping_interval_ms
        self.ping_timeout_ms = ping_timeout_ms
        self.max_topics_per_request = max_topics_per_request
        self.max_topics_per_connection = max_topics_per_connection
        self.max_msgs_per_10s = max_msgs_per_10s
        self.max_backlog = max_backlog
        self.tokens: dict[str, Token] = {}
        self.connections: set[Connection] = set()
        self.subs: dict[str, set[Connection]] = {}
        self.candle_types: dict[str, set[str]] = {}  # symbol -> candle types with subscribers
        self.frames_malformed = 0

    # ---- tokens
    def issue_token(self, user_id: str | None) -> str:
        now = time.monotonic()
        if len(self.tokens) > 10_000:
            self.tokens = {k: t for k, t in self.tokens.items() if t.expires_at > now}
        value = secrets.token_urlsafe(96) + ".=" + secrets.token_urlsafe(12) + "=="
        self.tokens[value] = Token(value, user_id, now + self.faults.config.token_ttl_s)
        return value

    def expire_all_tokens(self) -> None:
        """Fault: every issued token ends now; connections using them are closed by the sweeper."""
        for tok in self.tokens.values():
            tok.expires_at = 0.0
        self.faults.counts["token_expiry"] += 1

    # ---- publishing
    def has_subscribers(self, topic: str) -> bool:
        return bool(self.subs.get(topic))

    def publish(self, topic: str, payload: dict) -> None:
        conns = self.subs.get(topic)
        if conns:
            text = _dumps(payload)
            for conn in conns:
                conn.send(text)

    def publish_level2(self, topic: str, payload: dict) -> None:
        """Level-2 increments go through the per-connection frame faults."""
        conns = self.subs.get(topic)
        if not conns:
            return
        text = _dumps(payload)
        faults = self.faults
        for conn in conns:
            action = faults.l2_action() if faults.config.l2_drop or faults.config.l2_duplicate or \
                faults.config.l2_reorder else None
            if action is None:
                conn.send(text)
                if conn.held is not None:
                    conn.send(conn.held)
                    conn.held = None
            elif action == "duplicate":
                conn.send(text)
                conn.send(text)
            elif action == "reorder" and conn.held is None:
                conn.held = text
            elif action == "reorder":
                conn.send(text)
            # "drop": nothing is sent

    def publish_private(self, topic: str, user_id: str, payload: dict) -> None:
        conns = self.subs.get(topic)
        if conns:
            text = None
            for conn in conns:
                if conn.token.user_id == user_id:
                    text = text or _dumps(payload)
                    conn.send(text)

    # ---- connection handling
    async def handle(self, request: web.Request) -> web.StreamResponse:
        # no permessage-deflate: compressing every frame for every client costs far more CPU
        # than it saves
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20, compress=False)
        await ws.prepare(request)
        connect_id = request.query.get("connectId") or secrets.token_hex(8)
        token = self.tokens.get(request.query.get("token", ""))
        if token is None or token.expires_at <= time.monotonic():
            text = "token is expired" if token is not None else "token is invalid"
            await ws.send_str(_dumps(m.ws_error(connect_id, 401, text)))
            await ws.close()
            return ws
        conn = Connection(ws, token, connect_id)
        self.connections.add(conn)
        writer = asyncio.create_task(self._writer(conn), name=f"ws-writer-{connect_id}")
        conn.send(_dumps(m.welcome(connect_id)))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_client_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self.frames_malformed += 1
                    conn.send(_dumps(m.ws_error(connect_id, 415,
                                                "binary frames are not supported")))
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.detach(conn)
            await cancel_and_wait([writer])
        return ws

    async def _writer(self, conn: Connection) -> None:
        ws = conn.ws
        try:
            while True:
                await conn.wake.wait()
                conn.wake.clear()
                queue = conn.queue
                if len(queue) > self.max_backlog:
                    queue.clear()
                    await ws.send_str(_dumps(m.ws_error(conn.connect_id, 509,
                                                        "client too slow, disconnected")))
                    await ws.close()
                    return
                while queue:
                    await ws.send_str(queue.popleft())
                    conn.sent += 1
        except (ConnectionResetError, RuntimeError):
            # the peer went away mid-send; the reader loop ends and cleans up
            return

    def detach(self, conn: Connection) -> None:
        """Forget a connection's subscriptions now (it receives nothing more); used on close and
        by tests."""
        self.connections.discard(conn)
        for topic in conn.topics:
            conns = self.subs.get(topic)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self.subs[topic]
                    self._forget_candles(topic)
        conn.topics.clear()

    async def close(self, conn: Connection, code: int | None = None, text: str = "") -> None:
        if conn.closing:
            return
        conn.closing = True
        if code is not None:
            with contextlib.suppress(Exception):
                await conn.ws.send_str(_dumps(m.ws_error(conn.connect_id, code, text)))
        with contextlib.suppress(Exception):
            await conn.ws.close()

    async def sweep(self) -> None:
        """Once a second: ping timeouts, expired tokens and the forced-disconnect fault."""
        now = time.monotonic()
        idle_limit = (self.ping_interval_ms + self.ping_timeout_ms) / 1000
        for conn in list(self.connections):
            if now - conn.last_client_msg > idle_limit:
                await self.close(conn, 400, "ping timeout")
            elif conn.token.expires_at <= now:
                await self.close(conn, 401, "token is expired")
            elif self.faults.disconnect():
                await self.close(conn)

    # ---- client messages
    def _on_client_text(self, conn: Connection, text: str) -> None:
        now = time.monotonic()
        conn.last_client_msg = now
        recent = conn.recent_msgs
        recent.append(now)
        while recent and now - recent[0] > 10:
            recent.popleft()
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            self.frames_malformed += 1
            conn.send(_dumps(m.ws_error(conn.connect_id, 400,
                                        "message is not a valid JSON object")))
            return
        req_id = msg.get("id")
        valid_id = isinstance(req_id, (str, int)) and not isinstance(req_id, bool)
        req_id = str(req_id) if valid_id else ""
        if len(recent) > self.max_msgs_per_10s:
            conn.send(_dumps(m.ws_error(req_id, 509, "exceed max permits per second")))
            return
        kind = msg.get("type")
        if kind == kc.WS_TYPE_PING:
            conn.send(_dumps(m.pong(req_id)))
        elif kind in (kc.WS_TYPE_SUBSCRIBE, kc.WS_TYPE_UNSUBSCRIBE):
            self._on_subscription(conn, req_id, msg, kind == kc.WS_TYPE_SUBSCRIBE)
        else:
            self.frames_malformed += 1
            conn.send(_dumps(m.ws_error(req_id, 415, "type is not supported")))

    def _on_subscription(self, conn: Connection, req_id: str, msg: dict, subscribe: bool) -> None:
        topic = msg.get("topic")
        if not isinstance(topic, str) or not topic:
            conn.send(_dumps(m.ws_error(req_id, 406, "topic is required")))
            return
        try:
            concrete = self._expand(conn, topic)
        except _TopicError as exc:
            conn.send(_dumps(m.ws_error(req_id, exc.code, exc.text)))
            return
        if subscribe:
            new = [t for t in concrete if t not in conn.topics]
            if len(conn.topics) + len(new) > self.max_topics_per_connection:
                conn.send(_dumps(m.ws_error(
                    req_id, 509, "exceed max subscription count limitation of "
                    f"{self.max_topics_per_connection} per session")))
                return
            for t in new:
                conn.topics.add(t)
                self.subs.setdefault(t, set()).add(conn)
                self._note_candles(t)
        else:
            for t in concrete:
                if t in conn.topics:
                    conn.topics.discard(t)
                    conns = self.subs.get(t)
                    if conns is not None:
                        conns.discard(conn)
                        if not conns:
                            del self.subs[t]
                            self._forget_candles(t)
        if _truthy(msg.get("response", False)):
            conn.send(_dumps(m.ack(req_id)))

    def _expand(self, conn: Connection, topic: str) -> list[str]:
        """Validate a (comma-batched) topic and return the concrete per-argument topics."""
        if " " in topic or not topic.startswith("/"):
            raise _TopicError(400, f"topic {topic} is invalid")
        prefix, args = m.split_topic(topic)
        if prefix in c.PRIVATE_TOPICS:
            if conn.token.user_id is None:
                raise _TopicError(403, "login is required")
            if args:
                raise _TopicError(400, f"topic {topic} is invalid")
            return [prefix]
        if prefix not in c.PUBLIC_TOPICS:
            raise _TopicError(404, f"topic {topic} does not exist")
        if not args or any(not a for a in args):
            raise _TopicError(400, f"topic {topic} is invalid")
        if len(args) > self.max_topics_per_request:
            raise _TopicError(509, "exceed max subscription count limitation of "
                              f"{self.max_topics_per_request} per time")
        for arg in args:
            symbol = arg
            if prefix == c.TOPIC_CANDLES:
                symbol, _, type_ = arg.rpartition("_")
                if type_ not in c.CANDLE_TYPES:
                    raise _TopicError(400, f"topic {topic} is invalid")
            if symbol not in self.symbols:
                raise _TopicError(404, f"topic {prefix}:{arg} does not exist")
        return [f"{prefix}:{a}" for a in args]

    def _note_candles(self, topic: str) -> None:
        if topic.startswith(c.TOPIC_CANDLES + ":"):
            symbol, _, type_ = topic.partition(":")[2].rpartition("_")
            self.candle_types.setdefault(symbol, set()).add(type_)

    def _forget_candles(self, topic: str) -> None:
        if topic.startswith(c.TOPIC_CANDLES + ":"):
            symbol, _, type_ = topic.partition(":")[2].rpartition("_")
            self.candle_types.get(symbol, set()).discard(type_)


class _TopicError(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def _truthy(value: object) -> bool:
    """KuCoin accepts booleans or the strings "true"/"false" (§7.9)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")
