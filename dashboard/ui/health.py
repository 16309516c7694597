"""Always-visible status: the feed's health in one header row, and a banner naming the exchange.

Reads ``hub`` state only (FeedStatus, hub stats, mode); imports ``domain``, ``hub`` and ``ui.base``,
never ``kucoin`` or ``simulator``.
"""

from __future__ import annotations

import html

import panel as pn
import param

from dashboard.domain.models import FeedState, FeedStatus
from dashboard.hub import MarketHub, MarketView
from dashboard.ui.base import (
    ACCENT,
    ASK,
    BID,
    MUTED,
    PANEL_BG,
    STALE,
    TEXT,
    LiveComponent,
    LiveHTML,
)

STATE_COLOURS = {
    FeedState.LIVE: BID,
    FeedState.CONNECTING: ACCENT,
    FeedState.SYNCING: ACCENT,
    FeedState.RESYNCING: ACCENT,
    FeedState.STALE: STALE,
    FeedState.DISCONNECTED: ASK,
}


def _num(value: float | None, unit: str, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def health_items(
    status: FeedStatus, loop_lag_ms: float, loop_lag_ms_max: float
) -> list[tuple[str, str]]:
    """The health figures as (label, value) pairs, in display order."""
    items = [
        ("msg/s", _num(status.msgs_per_s, "")),
        ("last msg", _num(status.last_msg_age_s, " s")),
        ("gaps", str(status.gaps)),
        ("resyncs", str(status.resyncs)),
        ("reconnects", str(status.reconnects)),
        ("bad frames", str(status.bad_frames)),
        ("latency", _num(status.latency_ms, " ms", 0)),
        ("loop lag", f"{loop_lag_ms:.0f} ms (max {loop_lag_ms_max:.0f})"),
    ]
    if status.per_symbol:
        items.append(
            ("symbols", ", ".join(f"{s} {st}" for s, st in sorted(status.per_symbol.items())))
        )
    return items


class FeedHealth(LiveComponent):
    """One compact row for a header bar: a coloured dot with the state in words, what is wrong
    (if anything), then the figures."""

    rate_hz = param.Number(default=1.0, bounds=(0.2, 5.0), doc="Refresh rate of the health row.")
    state_text = param.String(
        default="", doc="The feed state in words: live, syncing, resyncing, stale, ..."
    )
    detail = param.String(default="", doc="The feed's own remark (e.g. a partial-depth warning), "
                          "or a hub error.")
    problem = param.String(default="", doc="What is wrong with the feed and what is being retried, "
                           "in words (empty when nothing is).")
    summary = param.String(default="", doc="The whole row as plain text.")

    def __init__(self, hub: MarketHub, **params) -> None:
        super().__init__(hub, **params)
        self._pane = LiveHTML(
            "", css_classes=["feed-health"], styles={"background": PANEL_BG}, margin=(0, 5)
        )
        self.tick()

    def __panel__(self):
        return self._pane

    def tick(self, now: float | None = None) -> bool:
        """At ``rate_hz``: the feed's status (process-wide, whether or not a symbol is watched)."""
        if not self._due(now):
            return False
        self.show(self.hub.feed.status())
        return True

    def update(self, view: MarketView) -> None:
        self.show(view.status)

    def show(self, status: FeedStatus) -> None:
        stats = self.hub.stats
        items = health_items(status, stats.loop_lag_ms, stats.loop_lag_ms_max)
        detail = " · ".join(x for x in (status.detail, self.hub.error) if x)
        state = status.state.value
        words = [x for x in (status.problem, detail) if x]
        summary = " · ".join([state, *words[:1], *(f"{k} {v}" for k, v in items), *words[1:]])
        if summary == self.summary:
            return  # nothing changed: send nothing to the browser
        self.param.update(state_text=state, detail=detail, problem=status.problem, summary=summary)
        self.stale = status.state is not FeedState.LIVE
        self.renders += 1
        self._pane.object = self._html(status.state, items, detail, status.problem)

    @staticmethod
    def _html(
        state: FeedState, items: list[tuple[str, str]], detail: str, problem: str = ""
    ) -> str:
        colour = STATE_COLOURS.get(state, MUTED)
        dot = f'<span style="color:{colour};font-size:15px">●</span>'
        parts = [f'{dot} <b style="color:{colour}">{html.escape(state.value)}</b>']
        if problem:  # first, beside the state it explains
            parts.append(f'<span style="color:{ASK}">{html.escape(problem)}</span>')
        parts += [
            f'<span style="color:{MUTED}">{html.escape(k)}</span> {html.escape(v)}'
            for k, v in items
        ]
        if detail:
            parts.append(f'<span style="color:{ACCENT}">⚠ {html.escape(detail)}</span>')
        row = " &nbsp;·&nbsp; ".join(parts)
        style = f"color:{TEXT};font-size:12px;white-space:normal;line-height:1.5"
        return f'<div style="{style}">{row}</div>'


class ModeBanner(pn.viewable.Viewer):
    """Which exchange this is: loud for live money, calm for the simulator, plain for a replay."""

    mode = param.Selector(default="sim", objects=["sim", "live", "replay"], doc="The run mode.")
    trading_enabled = param.Boolean(default=False, doc="Whether order entry is on.")
    venue = param.String(
        default="api.kucoin.com", doc="The live exchange's host, shown in the live banner."
    )
    source = param.String(default="", doc="Replay: the recording being replayed.")
    text = param.String(default="", doc="The banner as plain text.")

    def __init__(self, hub: MarketHub | None = None, **params) -> None:
        if hub is not None:
            params.setdefault("mode", hub.mode)
            params.setdefault("trading_enabled", hub.trading_enabled)
        super().__init__(**params)
        self._pane = pn.pane.HTML(
            "", css_classes=["mode-banner"], sizing_mode="stretch_width", margin=0
        )
        self._render()

    def __panel__(self):
        return self._pane

    @param.depends("mode", "trading_enabled", "venue", "source", watch=True)
    def _render(self) -> None:
        trading = "trading enabled" if self.trading_enabled else "trading disabled"
        if self.mode == "live":
            text = f"LIVE — {self.venue} — real money — {trading}"
            fg, bg = "#ffffff", "#b71c1c" if self.trading_enabled else "#b26a00"
        elif self.mode == "replay":
            text = "REPLAY — recorded market data, no orders" + (
                f" — {self.source}" if self.source else ""
            )
            fg, bg = TEXT, "#263238"
        else:
            text = "SIMULATOR — paper trading on the embedded exchange"
            fg, bg = MUTED, PANEL_BG
        self.text = text
        weight = "700" if self.mode == "live" else "400"
        self._pane.object = (
            f'<div style="background:{bg};color:{fg};font-weight:{weight};padding:3px 10px;'
            f'font-size:13px;letter-spacing:0.03em">{html.escape(text)}</div>'
        )
