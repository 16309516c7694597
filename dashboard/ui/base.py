"""What every live component shares: a hub, a symbol, a render rate, version-skipping updates.

Components build their Bokeh models once and then only update data. In the app one per-session
``SessionClock`` drives them all, each at its own rate, from the process-wide ``RenderLoop``,
always rendering the newest hub view (a burst never builds a queue). Alone in a notebook,
``start()`` gives a component its own periodic callback. Imports ``hub`` and Panel/Bokeh only
(never ``kucoin``, ``simulator``, ``recording`` or ``config``).
"""

from __future__ import annotations

import asyncio
import logging
import time

import panel as pn
import param
from bokeh.models import Div
from panel.io.document import unlocked
from panel.io.state import set_curdoc

from dashboard.hub import MarketHub, MarketView

log = logging.getLogger(__name__)

# A clean dark palette shared by every component.
BG = "#0f1419"
PANEL_BG = "#161c24"
GRID = "#243041"
TEXT = "#c9d1d9"
MUTED = "#7d8590"
BID = "#26a69a"
ASK = "#ef5350"
ACCENT = "#f0b90b"
STALE = "#8b949e"


def style_figure(fig) -> None:
    """Dark theme for a Bokeh figure, set on the model (no global theme needed)."""
    fig.background_fill_color = PANEL_BG
    fig.border_fill_color = PANEL_BG
    fig.outline_line_color = GRID
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_line_color = GRID
        axis.major_tick_line_color = GRID
        axis.minor_tick_line_color = None
        axis.major_label_text_color = MUTED
        axis.axis_label_text_color = MUTED
    for grid in (*fig.xgrid, *fig.ygrid):
        grid.grid_line_color = GRID
        grid.grid_line_alpha = 0.6
    fig.toolbar.logo = None
    if fig.title is not None:
        fig.title.text_color = TEXT


class LiveHTML(pn.viewable.Viewer):
    """An HTML block whose text changes several times a second: a plain Bokeh ``Div`` shown
    through ``pn.pane.Bokeh``. Setting ``object`` is one Bokeh property change; the same change on
    a ``pn.pane.HTML`` runs Panel's whole property pipeline (design stylesheets rebuilt, param
    watchers): the quote header alone was ~11% of the server's samples at 50 sessions (py-spy,
    benchmarks/dashboard_load.py). Like every model here, the Div belongs to one document (one
    session). An unchanged text sends nothing.
    """

    def __init__(self, html: str = "", *, css_classes: list[str] | None = None,
                 styles: dict | None = None, margin=(5, 10),
                 sizing_mode: str | None = "stretch_width") -> None:
        super().__init__()
        self.div = Div(text=html, css_classes=list(css_classes or []), styles=dict(styles or {}),
                       margin=margin, sizing_mode=sizing_mode)
        self._pane = pn.pane.Bokeh(self.div, sizing_mode=sizing_mode, margin=0)

    @property
    def object(self) -> str:
        return self.div.text

    @object.setter
    def object(self, html: str) -> None:
        if html != self.div.text:
            self.div.text = html

    @property
    def css_classes(self) -> list[str]:
        return list(self.div.css_classes)

    def __panel__(self):
        return self._pane


class RateGate:
    """The one render-rate gate: ``due(now, rate_hz)`` is True when a turn has come, and books
    the next.

    Every hub-driven component and the session's small pollers ask it, instead of each keeping its
    own copy of "if now < due: return; due = now + 1 / rate".
    """

    __slots__ = ("_next_s",)

    def __init__(self) -> None:
        self._next_s = 0.0

    def due(self, now: float | None, rate_hz: float) -> bool:
        now = time.monotonic() if now is None else now
        if now < self._next_s:
            return False
        self._next_s = now + 1.0 / rate_hz
        return True

    def reset(self) -> None:
        """The next ``due`` is True whatever the time (new symbol, new data to show)."""
        self._next_s = 0.0


class LiveComponent(pn.viewable.Viewer):
    """Base of the hub-driven components: ``update(view)`` is called at ``rate_hz`` with the
    newest view."""

    symbol = param.String(default="BTC-USDT", doc="The market shown.")
    rate_hz = param.Number(default=5.0, bounds=(0.2, 30.0), doc="Render rate of this component.")
    stale = param.Boolean(default=False, doc="True while the data shown is not live.")

    def __init__(self, hub: MarketHub, **params) -> None:
        super().__init__(**params)
        self.hub = hub
        self._shown_version = -1
        self._gate = RateGate()
        self._callback = None
        self.renders = 0

    def tick(self, now: float | None = None) -> bool:
        """Render if due and if the hub has something newer; returns True when it rendered."""
        if not self._due(now):
            return False
        view = self.hub.view(self.symbol)
        if view is None:
            return False
        stale = not view.live
        if stale != self.stale:
            self.stale = stale
        if view.version == self._shown_version and not self._always_render():
            return False
        self._shown_version = view.version
        self.update(view)
        self.renders += 1
        return True

    def _due(self, now: float | None) -> bool:
        """This component's turn at ``rate_hz`` (see ``RateGate``)."""
        return self._gate.due(now, self.rate_hz)

    def _always_render(self) -> bool:
        return False

    def update(self, view: MarketView) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @param.depends("symbol", watch=True)
    def _on_symbol(self) -> None:
        self._shown_version = -1
        self._gate.reset()
        self.reset()

    def reset(self) -> None:
        """Forget what was shown (new symbol); subclasses clear their sources."""

    def start(self, period_ms: int | None = None) -> None:
        """Standalone use (notebook): own periodic callback at this component's rate."""
        if self._callback is None:
            period = period_ms or int(1000 / self.rate_hz)
            self._callback = pn.state.add_periodic_callback(self.tick, period=period)

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None


class SessionClock:
    """Drives one browser session's components, each at its own rate, always with the newest hub
    view.

    In a served session the clock joins the process-wide ``RenderLoop``: one asyncio task renders
    every session in turn, a session per loop iteration. A Bokeh periodic callback per session (the
    previous design) costs, in this Bokeh/Panel, a document lock, a thread-pool hop and Panel's
    busy-counter bookkeeping per tick; dropping it took the server from ~2.3 to ~1.1 ms CPU per
    session-frame (benchmarks/dashboard_load.py). The render loop runs at its own ``period_s``
    (50 ms); ``period_ms`` is used by the fallback only. Without a served session (a notebook, a
    test) it falls back to a Panel periodic callback.
    """

    def __init__(self, components: list[LiveComponent], period_ms: int = 50) -> None:
        self.components = components
        self.period_ms = period_ms
        self._callback = None
        self._doc = None  # the session's document while registered with the render loop
        self._render_loop: RenderLoop | None = None
        self.ticks = 0
        self.idle_ticks = 0
        self.busy_skips = 0  # rounds skipped: something else held the session's document lock

    def tick(self) -> None:
        session = getattr(getattr(pn.state.curdoc, "session_context", None), "session", None)
        if session is not None and session.connection_count == 0:
            # The browser went away; Bokeh destroys the session only after its unused lifetime.
            # Rendering for nobody in the meantime would cost CPU and memory
            # (benchmarks/dashboard_load.py --churn). Reads Bokeh's connection_count (README,
            # "Internals the app relies on").
            self.idle_ticks += 1
            return
        now = time.monotonic()
        self.ticks += 1
        # Everything this tick changes goes out as one message per session, not one per model change
        # (measured: 52 -> 8.5 messages/s per session, 4.5 -> ~2.8 ms CPU per session-frame).
        with unlocked():
            for component in self.components:
                try:
                    component.tick(now)
                except Exception:  # one failing view must not stop the others; logged with context
                    log.exception("render of %s failed", type(component).__name__)

    def render_round(self) -> bool:
        """One render-loop round for this session, on the server's event loop; False once it is
        gone.

        Renders only when nothing else holds the session's document lock: Bokeh applies browser
        patches and runs locked callbacks (on a worker thread) under that lock, and this round runs
        without it -- it cannot be interleaved with them because it never awaits, and it skips
        while they are in flight. Until the page reports ``document_ready`` (``pn.state.loaded``)
        nothing is rendered: before that Bokeh accepts document changes only under the lock. The
        lock is Bokeh's private ``session._lock`` (README, "Internals the app relies on").
        """
        doc = self._doc
        context = getattr(doc, "session_context", None)
        if doc is None or context is None:
            return False
        session = getattr(context, "session", None)
        if session is None:  # the session is still being created
            return True
        if session.destroyed:
            return False
        lock = getattr(session, "_lock", None)
        if lock is not None and lock.locked():
            self.busy_skips += 1
            return True
        with set_curdoc(doc):
            if not pn.state.loaded:
                return True
            self.tick()
        return True

    def start(self) -> None:
        if self._callback is not None or self._render_loop is not None:
            return
        doc = pn.state.curdoc
        if getattr(doc, "session_context", None) is not None and RenderLoop.available():
            self._doc = doc
            self._render_loop = RenderLoop.instance()
            self._render_loop.add(self)
            return
        self._callback = pn.state.add_periodic_callback(self.tick, period=self.period_ms)

    def stop(self) -> None:
        if self._render_loop is not None:
            self._render_loop.remove(self)
            self._render_loop = None
            self._doc = None
        if self._callback is not None:
            self._callback.stop()
            self._callback = None


class RenderLoop:
    """One task per process (per event loop) that renders every registered session, one at a time.

    Each round visits every session once (``SessionClock.render_round``) and yields to the event
    loop after each, so a round of 50 sessions is 50 short loop iterations, never one long stall:
    websocket writes, the feed and the lag probe get in between. Rounds start every ``period_s``;
    an overrunning round is followed by the next one at once (no catch-up burst).
    """

    _instances: dict[int, RenderLoop] = {}  # id(event loop) -> its render loop

    def __init__(self, loop: asyncio.AbstractEventLoop, period_s: float = 0.05) -> None:
        self.loop = loop
        self.period_s = period_s
        self._clocks: dict[SessionClock, None] = {}  # ordered set
        self._task: asyncio.Task | None = None
        self.rounds = 0
        self.round_ms_last = 0.0

    @staticmethod
    def available() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    @classmethod
    def instance(cls) -> RenderLoop:
        loop = asyncio.get_running_loop()
        inst = cls._instances.get(id(loop))
        if inst is None or inst.loop is not loop:
            for key in [k for k, v in cls._instances.items() if v.loop.is_closed()]:
                del cls._instances[key]
            inst = cls._instances[id(loop)] = cls(loop)
        return inst

    def __len__(self) -> int:
        return len(self._clocks)

    def __contains__(self, clock: SessionClock) -> bool:
        return clock in self._clocks

    def add(self, clock: SessionClock) -> None:
        self._clocks[clock] = None
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._run(), name="dashboard-render-loop")

    def remove(self, clock: SessionClock) -> None:
        self._clocks.pop(clock, None)

    async def _run(self) -> None:
        loop = self.loop
        start = loop.time()
        while self._clocks:
            t0 = time.perf_counter()
            for clock in list(self._clocks):
                if clock not in self._clocks:  # stopped during this round
                    continue
                try:
                    alive = clock.render_round()
                except Exception:
                    log.exception("render loop: a session round failed")
                    alive = True
                if not alive:
                    self.remove(clock)
                await asyncio.sleep(0)
            self.rounds += 1
            self.round_ms_last = (time.perf_counter() - t0) * 1000
            start += self.period_s
            now = loop.time()
            if start < now:
                start = now
            await asyncio.sleep(start - now)
        self._task = None
