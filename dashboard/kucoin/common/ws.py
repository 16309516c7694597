"""KuCoin WebSocket connection: token handshake, keep-alive, acks and reconnects (protocol.md §6).

One ``KucoinWebSocket`` is one logical connection (public or private). Every connect attempt
fetches a fresh bullet token, connects to the advertised ``instanceServers`` endpoint with a
``connectId``, waits for ``welcome``, then resubscribes everything it was asked for, in batches
within KuCoin's per-request and per-connection topic limits, tracking each ack. A JSON ping goes
out every ``pingInterval``; when nothing at all arrives for ``pingInterval + pingTimeout`` the
connection is dropped and rebuilt with backoff and jitter.

Frames are handed to ``on_frame(text)`` as raw text, so the level-2 hot path can parse once. What is
private is the product's to say (``private_topics``): nothing here knows spot or futures topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

import aiohttp
import orjson

from dashboard.aio import cancel_and_wait
from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import messages as m

from .errors import KucoinError, KucoinProtocolError, SubscribeError
from .retry import backoff

log = logging.getLogger(__name__)


class ConnState(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"


@dataclass(slots=True)
class WsStats:
    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    bad_frames: int = 0
    pongs: int = 0
    silent_drops: int = 0  # dropped because nothing arrived for pingInterval + pingTimeout
    last_frame_monotonic: float | None = None
    last_error: str = ""
    last_failure: BaseException | None = None  # why the last connect failed; None once connected
    last_connect_id: str = ""
    ping_rtt_ms: float | None = None
    subscribe_errors: list[str] = field(default_factory=list)


BulletFetcher = Callable[[bool], Awaitable[dict]]


class KucoinWebSocket:
    """A self-healing KuCoin WebSocket. The constructor does no I/O; ``start()`` spawns the task."""

    def __init__(self, session: aiohttp.ClientSession, fetch_bullet: BulletFetcher, *,
                 private: bool = False, private_topics: frozenset[str] = frozenset(),
                 on_frame: Callable[[str], None] | None = None,
                 on_connected: Callable[[], None] | None = None,
                 on_disconnected: Callable[[str], None] | None = None,
                 max_topics_per_request: int = kc.MAX_TOPICS_PER_SUBSCRIBE,
                 max_topics_per_connection: int = kc.MAX_TOPICS_PER_CONNECTION,
                 welcome_timeout_s: float = 5.0, ack_timeout_s: float = 5.0,
                 connect_timeout_s: float = 10.0, backoff_base_s: float = 0.25,
                 backoff_cap_s: float = 10.0, rng: random.Random | None = None,
                 name: str = "kucoin-ws") -> None:
        self._session = session
        self._fetch_bullet = fetch_bullet
        self.private = private
        self.private_topics = private_topics  # the product's topic prefixes sent as privateChannel
        self.on_frame = on_frame or (lambda text: None)
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.max_topics_per_request = max_topics_per_request
        self.max_topics_per_connection = max_topics_per_connection
        self.welcome_timeout_s = welcome_timeout_s
        self.ack_timeout_s = ack_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._backoff_args = (backoff_base_s, backoff_cap_s)
        self._rng = rng or random.Random()
        self.name = name
        self.state = ConnState.IDLE
        self.stats = WsStats()
        self._topics: dict[str, list[str]] = {}  # prefix -> args wanted (ordered, unique)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._connected = asyncio.Event()
        self._ping_interval_s = kc.PING_INTERVAL_MS / 1000
        self._ping_timeout_s = kc.PING_TIMEOUT_MS / 1000
        self._ping_sent: dict[str, float] = {}
        self._kick = asyncio.Event()

    def __repr__(self) -> str:
        return (f"KucoinWebSocket(name={self.name!r}, private={self.private}, "
                f"state={self.state.value})")

    # ---- lifecycle
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        """Stop for good; idempotent."""
        self.state = ConnState.CLOSED
        task, self._task = self._task, None
        await cancel_and_wait([task])
        await self._close_socket()

    async def __aenter__(self) -> KucoinWebSocket:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    def reconnect(self, reason: str = "requested") -> None:
        """Drop the current socket; the run loop reconnects (used by staleness detection)."""
        self.stats.last_error = reason
        self._kick.set()

    # ---- subscriptions
    def topics(self) -> list[str]:
        return [m.topic(p, a) if a else p
                for p, args in self._topics.items() for a in (args or [""])]

    async def subscribe(self, prefix: str, args: list[str] | None = None) -> None:
        """Want ``prefix:args``: sent now if connected (awaiting acks), and after each reconnect."""
        args = list(args or [])
        known = prefix in self._topics
        wanted = self._topics.get(prefix, [])
        new = [a for a in args if a not in wanted]
        total = (sum(max(1, len(v)) for v in self._topics.values())
                 + max(len(new), 0 if known else 1))
        if total > self.max_topics_per_connection:
            # refused before anything is remembered: a refused prefix must not be sent on reconnect
            raise SubscribeError(m.topic(prefix, *new), 509,
                                 f"more than {self.max_topics_per_connection} topics "
                                 "on one connection; use another connection")
        self._topics[prefix] = wanted
        wanted.extend(new)
        if self.state is ConnState.CONNECTED and (new or not args):
            try:
                await self._send_subscriptions(prefix, new if args else [], subscribe=True)
            except SubscribeError as exc:
                # refused by the server: forget it, or every reconnect would send it again
                if exc.code:
                    self._forget(prefix, new, whole=not args)
                raise

    def _forget(self, prefix: str, args: list[str], *, whole: bool) -> None:
        wanted = self._topics.get(prefix, [])
        for a in args:
            if a in wanted:
                wanted.remove(a)
        if whole or not wanted:
            self._topics.pop(prefix, None)

    async def unsubscribe(self, prefix: str, args: list[str] | None = None) -> None:
        wanted = self._topics.get(prefix, [])
        gone = [a for a in (args or []) if a in wanted]
        self._forget(prefix, gone, whole=not args)
        if self.state is ConnState.CONNECTED:
            await self._send_subscriptions(prefix, gone if args else [], subscribe=False)

    async def resubscribe(self, prefix: str, args: list[str]) -> None:
        """Unsubscribe and subscribe again (recovers a channel that went silent)."""
        if self.state is ConnState.CONNECTED:
            await self._send_subscriptions(prefix, args, subscribe=False)
            await self._send_subscriptions(prefix, args, subscribe=True)

    async def _send_subscriptions(self, prefix: str, args: list[str], *, subscribe: bool) -> None:
        step = self.max_topics_per_request
        batches = [args[i:i + step] for i in range(0, len(args), step)]
        for batch in batches or [[]]:
            topic = m.topic(prefix, *batch)
            req_id = str(next(self._ids))
            build = m.subscribe if subscribe else m.unsubscribe
            fut = asyncio.get_running_loop().create_future()
            self._pending[req_id] = fut
            try:
                await self._send(build(req_id, topic, private=prefix in self.private_topics))
                await asyncio.wait_for(fut, self.ack_timeout_s)
            except TimeoutError:
                raise SubscribeError(topic, 0, f"no ack within {self.ack_timeout_s} s") from None
            except SubscribeError as exc:  # the error frame knows only the request id: name it
                raise SubscribeError(topic, exc.code, exc.text) from None
            finally:
                self._pending.pop(req_id, None)
                if fut.done() and not fut.cancelled():
                    # retrieved: a socket closed before the ack was awaited is not "never retrieved"
                    fut.exception()
                else:
                    fut.cancel()

    async def _send(self, payload: dict) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise ConnectionResetError("websocket is not connected")
        await ws.send_str(orjson.dumps(payload).decode())

    # ---- the connection loop
    async def _run(self) -> None:
        delays = backoff(*self._backoff_args, rng=self._rng)
        while self.state is not ConnState.CLOSED:
            reason = "closed"
            try:
                await self._connect_once()
                delays = backoff(*self._backoff_args, rng=self._rng)  # healthy: reset the backoff
                reason = await self._read_loop()
            except asyncio.CancelledError:
                raise
            except (KucoinError, aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self.stats.last_failure = exc
                log.warning("%s: connection failed: %s", self.name, reason)
            finally:
                was_connected = self.state is ConnState.CONNECTED
                await self._close_socket()
                if self.state is not ConnState.CLOSED:
                    self.state = ConnState.DISCONNECTED
                self._connected.clear()
                self.stats.last_error = reason
                if was_connected and self.on_disconnected is not None:
                    self.on_disconnected(reason)
            self.stats.reconnects += 1
            await asyncio.sleep(next(delays))

    async def _connect_once(self) -> None:
        self.state = ConnState.CONNECTING
        bullet = await self._fetch_bullet(self.private)  # a fresh token on every attempt
        server = bullet["instanceServers"][0]
        self._ping_interval_s = server.get("pingInterval", kc.PING_INTERVAL_MS) / 1000
        self._ping_timeout_s = server.get("pingTimeout", kc.PING_TIMEOUT_MS) / 1000
        connect_id = f"{time.time_ns()}{self._rng.randrange(1000):03d}"
        sep = "&" if "?" in server["endpoint"] else "?"
        url = f"{server['endpoint']}{sep}token={bullet['token']}&connectId={connect_id}"
        timeout = aiohttp.ClientWSTimeout(ws_close=5.0)
        self._ws = await self._session.ws_connect(url, timeout=timeout, max_msg_size=16 << 20,
                                                  autoping=True)
        msg = await asyncio.wait_for(self._ws.receive(), self.welcome_timeout_s)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise KucoinProtocolError(f"expected welcome, got {msg.type.name}")
        frame = orjson.loads(msg.data)
        if frame.get("type") == kc.WS_TYPE_ERROR:
            raise KucoinProtocolError(
                f"connection refused: {frame.get('code')} {frame.get('data')}")
        if frame.get("type") != kc.WS_TYPE_WELCOME:
            raise KucoinProtocolError(f"expected welcome, got {frame.get('type')!r}")
        self.stats.connects += 1
        self.stats.last_failure = None
        self.stats.last_connect_id = connect_id
        self.stats.last_frame_monotonic = time.monotonic()
        self.state = ConnState.CONNECTED
        self._kick.clear()

    async def _read_loop(self) -> str:
        ws = self._ws
        assert ws is not None
        pinger = asyncio.create_task(self._pinger(), name=f"{self.name}-ping")
        try:
            # subscribe after the reader runs, so acks can be received
            resub = asyncio.create_task(self._resubscribe_all(), name=f"{self.name}-resubscribe")
            reader = asyncio.create_task(self._receive(ws), name=f"{self.name}-reader")
            kick = asyncio.create_task(self._kick.wait(), name=f"{self.name}-kick")
            try:
                # One wait for the whole connection, not one per frame: the reader loops.
                await asyncio.wait({reader, kick}, return_when=asyncio.FIRST_COMPLETED)
                if reader.done():
                    return reader.result()
                return self.stats.last_error or "reconnect requested"
            finally:
                await cancel_and_wait((resub, reader, kick), report=False)
        finally:
            await cancel_and_wait([pinger])

    async def _resubscribe_all(self) -> None:
        for prefix, args in list(self._topics.items()):
            try:
                await self._send_subscriptions(prefix, list(args), subscribe=True)
            except SubscribeError as exc:
                self.stats.subscribe_errors.append(str(exc))
                log.warning("%s: %s", self.name, exc)
                if exc.code == 0:  # no ack: the connection is not healthy
                    self.reconnect("subscribe ack timeout")
                    return
                # refused by the server (e.g. 404 for one topic): the other topics still go out
        self._connected.set()
        if self.on_connected is not None:
            self.on_connected()

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        """The hot loop: one ``await receive()`` per frame, nothing else (l2_throughput.py)."""
        stats, on_text, receive, now = self.stats, self._handle_text, ws.receive, time.monotonic
        text_type = aiohttp.WSMsgType.TEXT
        while True:
            msg = await receive()
            if msg.type is text_type:
                stats.frames += 1
                stats.last_frame_monotonic = now()
                on_text(msg.data)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                              aiohttp.WSMsgType.CLOSED):
                return f"server closed the connection ({ws.close_code})"
            elif msg.type == aiohttp.WSMsgType.ERROR:
                return f"websocket error: {ws.exception()}"
            else:
                stats.bad_frames += 1

    def _handle_text(self, text: str) -> None:
        # Hot path: data messages go straight to the handler as raw text.
        if '"type":"message"' in text:
            self.on_frame(text)
            return
        try:
            frame = orjson.loads(text)
            kind = frame.get("type")
        except (orjson.JSONDecodeError, AttributeError):
            self.stats.bad_frames += 1
            log.warning("%s: malformed frame ignored: %.200s", self.name, text)
            return
        if kind == kc.WS_TYPE_MESSAGE:
            self.on_frame(text)
        elif kind == kc.WS_TYPE_PONG:
            self.stats.pongs += 1
            sent = self._ping_sent.pop(str(frame.get("id")), None)
            if sent is not None:
                self.stats.ping_rtt_ms = (time.monotonic() - sent) * 1000
        elif kind == kc.WS_TYPE_ACK:
            fut = self._pending.get(str(frame.get("id")))
            if fut is not None and not fut.done():
                fut.set_result(True)
        elif kind == kc.WS_TYPE_ERROR:
            req_id = str(frame.get("id"))
            fut = self._pending.get(req_id)
            code, text_ = frame.get("code", 0), str(frame.get("data", ""))
            if fut is not None and not fut.done():
                fut.set_exception(SubscribeError("?", code if isinstance(code, int) else 0, text_))
            else:
                self.stats.last_error = f"server error {code}: {text_}"
                log.warning("%s: server error %s: %s", self.name, code, text_)
                if code in (401, 400) and ("token" in text_ or "ping timeout" in text_):
                    self.reconnect(text_)
        elif kind == kc.WS_TYPE_WELCOME:
            pass
        else:
            self.stats.bad_frames += 1

    async def _pinger(self) -> None:
        """JSON ping every pingInterval; drop the socket after interval + timeout of silence."""
        interval = max(0.05, self._ping_interval_s)
        limit = self._ping_interval_s + self._ping_timeout_s
        step = min(interval, max(0.05, self._ping_timeout_s / 4))
        next_ping = time.monotonic() + interval
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            last = self.stats.last_frame_monotonic or now
            if now - last > limit:
                self.stats.silent_drops += 1
                self.reconnect(f"no message for {now - last:.1f} s "
                               f"(pingInterval + pingTimeout = {limit:.1f} s)")
                return
            if now >= next_ping:
                next_ping = now + interval
                ping_id = str(next(self._ids))
                self._ping_sent[ping_id] = now
                if len(self._ping_sent) > 16:
                    self._ping_sent.pop(next(iter(self._ping_sent)))
                with contextlib.suppress(ConnectionResetError, RuntimeError):
                    await self._send(m.ping(ping_id))

    async def _close_socket(self) -> None:
        ws, self._ws = self._ws, None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionResetError("connection closed"))
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()
