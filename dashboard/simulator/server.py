"""The simulator as one object: engine + synthetic flow + REST + WebSocket on one aiohttp app.

``async with Simulator(SimConfig(port=0)) as sim:`` serves on 127.0.0.1 and exposes
``sim.base_url`` and the funded demo credentials ``sim.demo``; ``sim.faults.set(...)`` switches
faults at run time. This module composes the parts and wires each engine event to a ``ws.py``
publish call; the payloads come from ``events.py``, the REST handlers see the simulator only as
``context.SimServices``. It is the only module that imports ``rest`` and ``control`` together.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from dataclasses import dataclass, field
from decimal import Decimal

from aiohttp import web

from dashboard.aio import cancel_and_wait
from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import messages as m
from dashboard.kucoin.protocol import spot as c
from dashboard.kucoin.protocol.schemas import BalanceChange, BulletData, OrderChange
from dashboard.kucoin.protocol.signing import Credentials

from . import events, rest
from .auth import KeyStore
from .catalog import DEFAULT_SYMBOLS, DEMO_BALANCES, SymbolRules
from .control import SimControl
from .engine import Exchange
from .faults import FaultConfig, Faults
from .flow import MarketFlow
from .marketdata import MarketData
from .orders import Trade
from .ratelimit import RateLimiter
from .ws import WsHub

log = logging.getLogger(__name__)

DEMO_USER_ID = "6560d5f1c1e2a30001d0e0a1"
PUSH_INTERVAL_S = 0.1


def _demo_credentials(seed: int) -> tuple[str, str, str]:
    rng = random.Random(f"demo-key-{seed}")
    key = "".join(rng.choice("0123456789abcdef") for _ in range(24))
    secret = "-".join("".join(rng.choice("0123456789abcdef") for _ in range(n))
                      for n in (8, 4, 4, 4, 12))
    return key, secret, "sim-passphrase"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Start-up settings (built once, e.g. by the CLI); what changes at run time lives on the
    ``Simulator`` (``faults``, ``flow.rate_per_s``, ``clock_skew_ms``, ``status``)."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 1
    rate_per_s: float = 20.0  # synthetic order-flow actions per second (0 = frozen market)
    symbols: tuple[SymbolRules, ...] = DEFAULT_SYMBOLS
    api_key: str | None = None
    api_secret: str | None = None
    api_passphrase: str | None = None
    quotas: dict[str, int] | None = None
    ping_interval_ms: int = kc.PING_INTERVAL_MS
    ping_timeout_ms: int = kc.PING_TIMEOUT_MS
    faults: FaultConfig = field(default_factory=FaultConfig)
    history: bool = True  # synthetic candle history so charts start full
    depth_levels: int = 40


class Simulator:
    """A KuCoin-compatible exchange on a loopback port. Constructing it does no I/O."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = cfg = config or SimConfig()
        self.status = "open"
        self.clock_skew_ms = 0
        self.exchange_fee = Decimal("0.001")
        self.exchange = Exchange(cfg.symbols, clock_ms=self.now_ms, maker_fee=self.exchange_fee,
                                 taker_fee=self.exchange_fee)
        self.market = MarketData(list(cfg.symbols))
        self.faults = Faults(cfg.faults, seed=cfg.seed)
        self.keys = KeyStore()
        self.limiter = RateLimiter(cfg.quotas)
        self.hub = WsHub({r.symbol for r in cfg.symbols}, self.faults,
                         ping_interval_ms=cfg.ping_interval_ms,
                         ping_timeout_ms=cfg.ping_timeout_ms)
        self.flow = MarketFlow(self.exchange, seed=cfg.seed, rate_per_s=cfg.rate_per_s,
                               depth_levels=cfg.depth_levels)
        key, secret, passphrase = _demo_credentials(cfg.seed)
        self.demo = Credentials(cfg.api_key or key, cfg.api_secret or secret,
                                cfg.api_passphrase or passphrase)
        self.demo_user_id = DEMO_USER_ID
        self.exchange.add_user(DEMO_USER_ID, DEMO_BALANCES)
        self.keys.add(self.demo, DEMO_USER_ID)
        self.exchange.listeners.append(self.market)
        self.exchange.listeners.append(self)
        self._dirty: set[str] = set()
        self._traded: set[str] = set()
        self._last_bbo: dict[str, tuple] = {}
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self._tasks: list[asyncio.Task] = []
        self.base_url = ""
        self.app = self._make_app()
        self._seeded = False

    # ---- lifecycle
    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[rest.envelope_middleware])
        for route in rest.ROUTES:
            app.router.add_route(route.method, route.path, rest.wrap(self, route))
        app.router.add_get("/ws", self.hub.handle)
        app.router.add_get("/ws/", self.hub.handle)
        app.router.add_routes(SimControl(self).routes())  # /sim/v1: not KuCoin paths
        return app

    def seed_market(self) -> None:
        """Fill the books and the candle history (idempotent)."""
        if not self._seeded:
            self._seeded = True
            if self.config.history:
                self.market.seed_history(self.now_ms() // 1000, self.config.seed)
            self.flow.seed_books()

    def bind(self) -> str:
        """Bind the listening socket now (synchronously) and return the base URL, so clients can
        be configured before ``start()`` runs -- e.g. when the dashboard wires itself up at
        import time."""
        if self._sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.config.host, self.config.port))
            sock.listen(128)
            sock.setblocking(False)
            self._sock = sock
            self.base_url = f"http://{self.config.host}:{sock.getsockname()[1]}"
        return self.base_url

    async def start(self) -> str:
        self.seed_market()
        self.bind()
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        assert self._sock is not None  # bound just above
        site = web.SockSite(self._runner, self._sock)
        await site.start()
        self._tasks = [
            asyncio.create_task(self.flow.run(), name="sim-flow"),
            asyncio.create_task(self._pusher(), name="sim-pusher"),
            asyncio.create_task(self._sweeper(), name="sim-sweeper"),
        ]
        return self.base_url

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)
        for conn in list(self.hub.connections):
            await self.hub.close(conn)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- helpers used by the REST layer
    def now_ms(self) -> int:
        """The exchange clock: wall time plus ``clock_skew_ms`` (tests shift it for 400002)."""
        return time.time_ns() // 1_000_000 + self.clock_skew_ms

    def bullet(self, request: web.Request, user_id: str | None) -> BulletData:
        """POST /api/v1/bullet-public|private data (§6.1): a fresh token and this server's URL."""
        scheme = "wss" if request.secure else "ws"
        return {"token": self.hub.issue_token(user_id),
                "instanceServers": [{"endpoint": f"{scheme}://{request.host}/ws",
                                     "encrypt": request.secure, "protocol": "websocket",
                                     "pingInterval": self.hub.ping_interval_ms,
                                     "pingTimeout": self.hub.ping_timeout_ms}]}

    def add_user(self, user_id: str, balances: dict[str, Decimal], credentials: Credentials,
                 can_trade: bool = True) -> None:
        self.exchange.add_user(user_id, balances)
        self.keys.add(credentials, user_id, can_trade)

    # ---- engine listener: each engine event to its push (payloads built in events.py)
    def on_book_changes(self, symbol: str, seq_start: int, seq_end: int,
                        changes: list[events.BookChange], time_ms: int) -> None:
        self._dirty.add(symbol)
        topic = f"{c.TOPIC_LEVEL2}:{symbol}"
        if self.hub.has_subscribers(topic):
            data = events.level2_increment(symbol, seq_start, seq_end, changes, time_ms)
            self.hub.publish_level2(topic, m.push(topic, c.SUBJECT_L2UPDATE, data))

    def on_trade(self, symbol: str, trade: Trade) -> None:
        self._traded.add(symbol)
        topic = f"{c.TOPIC_MATCH}:{symbol}"
        if self.hub.has_subscribers(topic):
            self.hub.publish(topic, m.push(topic, c.SUBJECT_MATCH, events.match(trade)))

    def on_order_event(self, user_id: str, data: OrderChange) -> None:
        hub = self.hub
        hub.publish_private(c.TOPIC_ORDERS_V2, user_id,
                            m.push(c.TOPIC_ORDERS_V2, c.SUBJECT_ORDER_CHANGE, data, user_id))
        if data.get("type") != "received":  # the V1 topic has no "received" (protocol.md §7.8)
            hub.publish_private(c.TOPIC_ORDERS_V1, user_id,
                                m.push(c.TOPIC_ORDERS_V1, c.SUBJECT_ORDER_CHANGE, data, user_id))

    def on_balance(self, user_id: str, data: BalanceChange) -> None:
        self.hub.publish_private(c.TOPIC_BALANCE, user_id,
                                 m.push(c.TOPIC_BALANCE, c.SUBJECT_BALANCE, data, user_id))

    # ---- periodic pushes (≤ every 100 ms, as KuCoin's depth/ticker topics)
    async def _pusher(self) -> None:
        while True:
            await asyncio.sleep(PUSH_INTERVAL_S)
            try:
                self.push_periodic()
            except Exception:
                log.exception("simulator: periodic push failed")

    def push_periodic(self) -> None:
        """Depth, ticker/level1 and candle pushes for the symbols changed since the last call."""
        now = self.now_ms()
        dirty, self._dirty = self._dirty, set()
        traded, self._traded = self._traded, set()
        for symbol in dirty:
            self._push_depth(symbol, now)
        for symbol in dirty | traded:
            self._push_top(symbol, symbol in traded, now)
        for symbol in traded:
            self._push_candles(symbol, now)

    def _push_depth(self, symbol: str, now: int) -> None:
        for prefix, depth in ((c.TOPIC_DEPTH5, 5), (c.TOPIC_DEPTH50, 50)):
            topic = f"{prefix}:{symbol}"
            if self.hub.has_subscribers(topic):
                _, bids, asks = self.exchange.snapshot(symbol, depth)
                self.hub.publish(topic, m.push(topic, c.SUBJECT_DEPTH,
                                               events.depth(bids, asks, now)))

    def _push_top(self, symbol: str, traded: bool, now: int) -> None:
        """Ticker and level1, when the best bid/ask moved or a trade printed."""
        hub = self.hub
        ticker_topic = f"{c.TOPIC_TICKER}:{symbol}"
        level1_topic = f"{c.TOPIC_LEVEL1}:{symbol}"
        if not (hub.has_subscribers(ticker_topic) or hub.has_subscribers(level1_topic)):
            return
        seq, bids, asks = self.exchange.snapshot(symbol, 1)
        bbo = (bids[0] if bids else None, asks[0] if asks else None)
        if not traded and self._last_bbo.get(symbol) == bbo:
            return
        self._last_bbo[symbol] = bbo
        bid, ask = bbo
        last = self.market.symbols[symbol]
        ticker = events.ticker(bid, ask, last.last_price, last.last_size, seq, now)
        hub.publish(ticker_topic, m.push(ticker_topic, c.SUBJECT_TICKER, ticker))
        hub.publish(level1_topic, m.push(level1_topic, c.SUBJECT_LEVEL1,
                                         events.level1(bid, ask, now)))

    def _push_candles(self, symbol: str, now: int) -> None:
        for type_ in self.hub.candle_types.get(symbol, ()):
            topic = f"{c.TOPIC_CANDLES}:{symbol}_{type_}"
            candle = self.market.current_candle(symbol, type_, now // 1000)
            if candle is not None:
                self.hub.publish(topic, m.push(topic, c.SUBJECT_CANDLES,
                                               events.candle(symbol, candle, now)))

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.exchange.expire()
                await self.hub.sweep()
            except Exception:
                log.exception("simulator: sweep failed")
