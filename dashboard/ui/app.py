"""The dashboard page: header with symbol, mode and feed health; the ladder on the left; the
liquidity heatmap with the account tabs under it in the centre; the order ticket, kill switch and
tape on the right; depth and candles below. One ``create_app`` call per browser session: each
session owns its components and Bokeh models, and releases them when it closes.

Gets the hub and ``UiOptions`` from the composition root; never imports ``dashboard.config``,
``kucoin``, ``simulator`` or ``recording``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import panel as pn
import param

from dashboard.hub import MarketHub

from .account_views import Balances, Fills, KillSwitch, OpenOrders
from .base import BG, MUTED, PANEL_BG, TEXT, RateGate, SessionClock
from .health import FeedHealth, ModeBanner
from .liquidity import LiquidityView
from .market import CandleChart, DepthChart, MarketHeader, OrderBookLadder, TradeTape
from .options import UiOptions
from .symbol_link import SymbolLink
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


# these follow the page's symbol
MARKET_VIEWS = ("header", "ladder", "depth", "tape", "candles", "ticket", "health", "liquidity")


def create_app(hub: MarketHub, options: UiOptions) -> pn.viewable.Viewable:
    # No notifications=True: nothing here uses pn.state.notifications, and Panel 1.10 keeps each
    # session's NotificationArea (and through it the destroyed Document) in pn.state._views after
    # the session is gone -- a leak of one entry per session (benchmarks/dashboard_load.py --churn
    # and a gc census).
    pn.extension(raw_css=[CSS], theme="dark")
    state, link = _symbol_state(options)
    c = _components(hub, state.symbol)
    market = [c[name] for name in MARKET_VIEWS]
    clock = SessionClock([*market, c["orders"], c["balances"], c["fills"],
                          _OwnOrders(hub, c["ladder"])])

    def on_symbol(event) -> None:
        hub.unwatch(event.old)
        hub.watch(event.new)
        for component in market:
            component.symbol = event.new

    state.param.watch(on_symbol, "symbol")
    c["ladder"].param.watch(lambda e: e.new and c["ticket"].set_price(str(e.new)), "selected_price")
    hub.watch(state.symbol)
    clock.start()

    def release(session_context) -> None:
        clock.stop()
        hub.unwatch(state.symbol)

    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(release)
    page = _layout(_top(hub, state, link, c["health"], options), c)
    page.app_state, page.symbol_link, page.components = state, link, c  # for tests
    return page


def _symbol_state(options: UiOptions) -> tuple[AppState, SymbolLink]:
    """The page's symbol, taken from the link before the views are built: the location sync
    arrives later, and switching symbol then would reset what the user had started typing."""
    state = AppState()
    state.param.symbol.objects = list(options.symbols)
    state.symbol = options.symbols[0]
    link = SymbolLink(state, options.symbols, _query_arg("symbol"), pn.state.location)
    return state, link


def _components(hub: MarketHub, symbol: str) -> dict:
    """This session's components, by name (each owns its Bokeh models)."""
    ticket = OrderTicket(hub, symbol=symbol)
    return {"header": MarketHeader(hub, symbol=symbol),
            "ladder": OrderBookLadder(hub, symbol=symbol), "depth": DepthChart(hub, symbol=symbol),
            "tape": TradeTape(hub, symbol=symbol), "candles": CandleChart(hub, symbol=symbol),
            "ticket": ticket, "health": FeedHealth(hub, symbol=symbol), "orders": OpenOrders(hub),
            "balances": Balances(hub), "fills": Fills(hub),
            "liquidity": LiquidityView(hub, symbol=symbol),
            "kill": KillSwitch(hub, tickets=[ticket])}


def _top(hub: MarketHub, state: AppState, link: SymbolLink, health: FeedHealth,
         options: UiOptions) -> pn.Column:
    """Title, symbol picker and mode banner; the link's note when there is one; feed health."""
    picker = pn.widgets.Select.from_param(state.param.symbol, name="", width=140)
    title = pn.pane.HTML("<span class='dash-title'>KuCoin Research Dashboard</span>",
                         margin=(8, 12))
    return pn.Column(
        pn.Row(title, picker, ModeBanner(hub, source=options.replay_name),
               sizing_mode="stretch_width"),
        link.notice,
        pn.Row(health, sizing_mode="stretch_width", margin=(0, 12)),
        sizing_mode="stretch_width", styles={"background": PANEL_BG})


def _layout(top: pn.Column, c: dict) -> pn.Row:
    """The order entry runs the page's full height on the right (ticket, kill switch, tape);
    left of it the header over ladder | liquidity and account tabs, depth and candles below.
    Sized so that at 1280x800 the trading controls (the ticket down to its Confirm button, the
    kill switch, the account tabs) and the liquidity view are on screen without scrolling
    (README, "Screenshots")."""
    left = pn.Column(c["header"], c["ladder"], width=320)
    # dynamic: only the visible tab's models are in the document (every message costs per model)
    tabs = pn.Tabs(("Open orders", c["orders"]), ("Balances", c["balances"]),
                   ("Fills", c["fills"]), dynamic=True, sizing_mode="stretch_width",
                   stylesheets=[TABS_CSS])
    charts = pn.Row(c["depth"], c["candles"], sizing_mode="stretch_width")
    centre = pn.Column(c["liquidity"], tabs, charts, sizing_mode="stretch_width")
    main = pn.Column(top, pn.Row(left, centre, sizing_mode="stretch_width"),
                     sizing_mode="stretch_width")
    right = pn.Column(c["ticket"], c["kill"], c["tape"], width=380,
                      styles={"background": PANEL_BG})
    return pn.Row(main, right, sizing_mode="stretch_width", styles={"background": BG})


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
