"""The dashboard page: header with symbol, mode and feed health; ladder, depth, candles, tape and the
order ticket; orders, balances and fills below. One ``create_app`` call per browser session: each
session owns its components and Bokeh models, and releases them when it closes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import panel as pn
import param

from dashboard.config import Settings
from dashboard.hub import MarketHub

from .account_views import Balances, Fills, KillSwitch, OpenOrders
from .base import BG, MUTED, PANEL_BG, TEXT, RateGate, SessionClock
from .health import FeedHealth, ModeBanner
from .market import CandleChart, DepthChart, MarketHeader, OrderBookLadder, TradeTape
from .ticket import OrderTicket

CSS = f"""
body, .bk-root {{ background: {BG}; color: {TEXT}; }}
.dash-card {{ background: {PANEL_BG}; border-radius: 6px; padding: 4px 8px; }}
.dash-title {{ font-size: 18px; font-weight: 600; color: {TEXT}; }}
.dash-muted {{ color: {MUTED}; }}
"""


TABS_CSS = f"""
.bk-header .bk-tab {{ color: {MUTED}; background: {BG}; border-color: {PANEL_BG}; }}
.bk-header .bk-tab.bk-active {{ color: {TEXT}; background: {PANEL_BG}; border-color: #3a4656; }}
"""


class AppState(param.Parameterized):
    """What the URL reflects, so a link can be shared."""

    symbol = param.Selector(default="BTC-USDT", objects=["BTC-USDT"], doc="The market on screen.")


class _OwnOrders:
    """Keeps the ladder's own-order marks in step with the account's open orders (2 Hz)."""

    rate_hz = 2.0

    def __init__(self, hub: MarketHub, ladder: OrderBookLadder) -> None:
        self.hub, self.ladder = hub, ladder
        self._gate = RateGate()

    def tick(self, now: float) -> None:
        if self.hub.account is None or not self._gate.due(now, self.rate_hz):
            return
        prices = {o.price for o in self.hub.account.open_orders() if o.symbol == self.ladder.symbol}
        if prices != self.ladder.own_prices:
            self.ladder.own_prices = prices


def create_app(hub: MarketHub, settings: Settings) -> pn.viewable.Viewable:
    # No notifications=True: nothing here uses pn.state.notifications, and Panel 1.10 keeps each session's
    # NotificationArea (and through it the destroyed Document) in pn.state._views after the session is gone --
    # a leak of one entry per session (found with benchmarks/dashboard_load.py --churn and a gc census).
    pn.extension(raw_css=[CSS], theme="dark")
    symbols = list(settings.symbols)
    # Build the components for the symbol in the link right away: the location sync below arrives later,
    # and switching symbol then would reset whatever the user had started typing in the ticket.
    requested = _query_arg("symbol")
    state = AppState()
    state.param.symbol.objects = symbols
    state.symbol = requested if requested in symbols else symbols[0]
    if pn.state.location is not None:
        pn.state.location.sync(state, {"symbol": "symbol"})
        if state.symbol not in symbols:
            state.symbol = symbols[0]

    header = MarketHeader(hub, symbol=state.symbol)
    ladder = OrderBookLadder(hub, symbol=state.symbol)
    depth = DepthChart(hub, symbol=state.symbol)
    tape = TradeTape(hub, symbol=state.symbol)
    candles = CandleChart(hub, symbol=state.symbol)
    ticket = OrderTicket(hub, symbol=state.symbol)
    health = FeedHealth(hub, symbol=state.symbol)
    orders, balances, fills = OpenOrders(hub), Balances(hub), Fills(hub)
    kill = KillSwitch(hub, tickets=[ticket])
    market = [header, ladder, depth, tape, candles, ticket, health]
    clock = SessionClock([*market, orders, balances, fills, _OwnOrders(hub, ladder)])

    def on_symbol(event) -> None:
        hub.unwatch(event.old)
        hub.watch(event.new)
        for component in market:
            component.symbol = event.new

    state.param.watch(on_symbol, "symbol")
    ladder.param.watch(lambda e: e.new and ticket.set_price(str(e.new)), "selected_price")
    hub.watch(state.symbol)
    clock.start()

    def release(session_context) -> None:
        clock.stop()
        hub.unwatch(state.symbol)

    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(release)

    picker = pn.widgets.Select.from_param(state.param.symbol, name="", width=140)
    top = pn.Column(
        pn.Row(pn.pane.HTML("<span class='dash-title'>KuCoin Research Dashboard</span>", margin=(8, 12)),
               picker, ModeBanner(hub, source=_replay_source(settings)), sizing_mode="stretch_width"),
        pn.Row(health, sizing_mode="stretch_width", margin=(0, 12)),
        sizing_mode="stretch_width", styles={"background": PANEL_BG})
    left = pn.Column(header, ladder, width=380)
    centre = pn.Column(depth, candles, sizing_mode="stretch_width")
    right = pn.Column(ticket, tape, width=400)
    # dynamic: only the visible tab's models are in the document (every message costs per model)
    bottom = pn.Tabs(("Open orders", orders), ("Balances", balances), ("Fills", fills), dynamic=True,
                     sizing_mode="stretch_width", stylesheets=[TABS_CSS])
    page = pn.Column(top, pn.Row(left, centre, right, sizing_mode="stretch_width"),
                     pn.Row(bottom, kill, sizing_mode="stretch_width"),
                     sizing_mode="stretch_width", styles={"background": BG})
    page.app_state = state  # for tests
    page.components = {"header": header, "ladder": ladder, "depth": depth, "tape": tape, "candles": candles,
                       "ticket": ticket, "health": health, "orders": orders, "balances": balances,
                       "fills": fills, "kill": kill}
    return page


def _replay_source(settings: Settings) -> str:
    """The recording's file name for the replay banner (never its directory: paths stay off the page)."""
    if settings.mode != "replay" or not settings.replay_path:
        return ""
    return settings.replay_path.replace("\\", "/").rsplit("/", 1)[-1]


def _query_arg(name: str) -> str:
    args = getattr(pn.state, "session_args", None) or {}
    values = args.get(name) or []
    return values[0].decode(errors="replace") if values and isinstance(values[0], bytes) else ""


def error_page(message: str, problems: Sequence[str] = ()) -> pn.viewable.Viewable:
    """Why the dashboard cannot start, on the page (never a spinner): the message, then each
    problem (a bad setting: its name, what it accepts, what it got) on its own line."""
    pn.extension(raw_css=[CSS], theme="dark")
    items = "".join(f"<li><code>{html.escape(p)}</code></li>" for p in problems)
    body = f"<b>The dashboard cannot start:</b> {html.escape(message)}"
    alert = pn.pane.Alert(body + (f"<ul>{items}</ul>" if items else ""), alert_type="danger",
                          css_classes=["start-error"], sizing_mode="stretch_width")
    return pn.Column(alert, sizing_mode="stretch_width")
