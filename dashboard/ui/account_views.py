"""The account views: open orders (cancel, cancel all), balances, fills, and the kill switch with
its confirmed reset. They read the hub's account (``domain.interfaces.OrderGatewayPort``) and show
every failure in words (``ticket_model.describe_error``). Imports ``domain``, ``hub`` and ``ui``
only, never ``kucoin``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import panel as pn
import param

from dashboard.domain.interfaces import OrderGatewayPort
from dashboard.domain.numbers import amount_text, currency_steps
from dashboard.domain.numbers import plain_or_dash as fmt
from dashboard.hub import MarketHub
from dashboard.ui.base import ASK, MUTED, LiveComponent

from .ticket import OrderTicket, panel_html
from .ticket_model import KILL_REASON, describe_error


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


class AccountComponent(LiveComponent):
    """Base of the account tables: ``tick`` reads the account (not a MarketView) and re-renders
    only on change."""

    rate_hz = param.Number(default=1.0, bounds=(0.2, 10.0), doc="Refresh rate of this view.")
    message = param.String(default="", doc="The last action's result or error, in words.")

    columns: tuple[str, ...] = ()
    css_class = "account-table"

    def __init__(self, hub: MarketHub, **params) -> None:
        super().__init__(hub, **params)
        self._table = pn.widgets.Tabulator(pd.DataFrame(columns=list(self.columns)),
                                           show_index=False, disabled=True, theme="midnight",
                                           height=220, sizing_mode="stretch_width",
                                           css_classes=[self.css_class], **self._table_options())
        self._message = pn.pane.HTML("", css_classes=[f"{self.css_class}-message"], visible=False)
        self.rows: tuple[tuple[str, ...], ...] = ()

    def _table_options(self) -> dict:
        return {}

    def tick(self, now: float | None = None) -> bool:
        """Read the account at ``rate_hz``; re-render only when the rows changed."""
        if not self._due(now):
            return False
        account = self.hub.account
        try:
            rows = tuple(self._rows(account)) if account is not None else ()
        except Exception as exc:  # a session clock boundary: one failing read must not stop others
            self.message = f"could not read the account: {describe_error(exc)}"
            return False
        version = hash(rows)
        if version == self._shown_version:
            return False
        self._shown_version = version
        self.rows = rows
        self._table.value = pd.DataFrame(list(rows), columns=list(self.columns))
        self.renders += 1
        return True

    def refresh(self) -> None:
        """Re-read now (after an action)."""
        self._gate.reset()
        self.tick()

    def _rows(self, account: OrderGatewayPort) -> Sequence[tuple[str, ...]]:  # pragma: no cover
        raise NotImplementedError

    @param.depends("message", watch=True)
    def _show_message(self) -> None:
        self._message.object = panel_html(html.escape(self.message), MUTED)
        self._message.visible = bool(self.message)

    def _controls(self) -> list:
        return []

    def __panel__(self):
        why = ("replay of recorded market data: no account" if self.hub.mode == "replay"
               else "read-only: no API key")
        read_only = pn.pane.HTML(panel_html(why, MUTED), visible=self.hub.account is None)
        return pn.Column(read_only, self._table, *self._controls(), self._message,
                         sizing_mode="stretch_width")


class OpenOrders(AccountComponent):
    """Open orders with a cancel button per row and Cancel all."""

    rate_hz = param.Number(default=2.0, bounds=(0.2, 10.0), doc="Refresh rate of the open orders.")
    all_symbols = param.Boolean(default=True,
                                doc="Show (and cancel) every symbol's orders, not just ``symbol``.")

    columns = ("time", "symbol", "side", "type", "price", "size", "filled", "status", "order id")
    css_class = "open-orders"

    def __init__(self, hub: MarketHub, **params) -> None:
        super().__init__(hub, **params)
        self._table.on_click(self._on_cell_click, column="cancel")
        self.cancel_all_button = pn.widgets.Button(label="Cancel all", color="warning",
                                                   css_classes=["cancel-all"],
                                                   disabled=hub.account is None)
        self.cancel_all_button.on_click(self._on_cancel_all)

    def _table_options(self) -> dict:
        return {"buttons": {"cancel": '<span title="cancel this order">✕</span>'}}

    def _rows(self, account: OrderGatewayPort) -> Sequence[tuple[str, ...]]:
        # oldest first: new orders append at the bottom, so a row does not move under the cursor
        orders = sorted(account.open_orders(), key=lambda o: (o.created_ms, o.order_id))
        return [(_utc(o.created_ms), o.symbol, o.side.value, o.type.value, fmt(o.price),
                 fmt(o.size), fmt(o.filled_size), o.status.value, o.order_id)
                for o in orders if self.all_symbols or o.symbol == self.symbol]

    @param.depends("all_symbols", watch=True)
    def _on_scope(self) -> None:
        self.refresh()

    def _controls(self) -> list:
        return [pn.Row(self.cancel_all_button)]

    async def _on_cell_click(self, event) -> None:
        if 0 <= event.row < len(self.rows):
            await self.cancel(self.rows[event.row][-1])

    async def _on_cancel_all(self, _event) -> None:
        await self.cancel_all()

    async def cancel(self, order_id: str) -> bool:
        """Cancel one open order by id; the result lands in ``message``."""
        account = self.hub.account
        if account is None:
            self.message = "read-only: no API key"
            return False
        order = next((o for o in account.open_orders() if o.order_id == order_id), None)
        if order is None:
            self.message = f"order {order_id} is no longer open"
            return False
        label = (f"{order.side.value} {fmt(order.size)} {order.symbol} @ {fmt(order.price)} "
                 f"({order_id})")
        try:
            await self.hub.call(account.cancel(order.symbol, order_id))
        except Exception as exc:  # UI boundary: show it
            self.message = f"cancel {label} failed — {describe_error(exc)}"
            return False
        self.message = f"cancel sent: {label}"
        self.refresh()
        return True

    async def cancel_all(self) -> bool:
        """Cancel every open order (of ``symbol`` only when ``all_symbols`` is off)."""
        account = self.hub.account
        if account is None:
            self.message = "read-only: no API key"
            return False
        scope = None if self.all_symbols else self.symbol
        try:
            await self.hub.call(account.cancel_all(scope))
        except Exception as exc:
            self.message = f"cancel all failed — {describe_error(exc)}"
            return False
        self.message = f"cancel all sent ({scope or 'every symbol'})"
        self.refresh()
        return True


class Balances(AccountComponent):
    """Balances per currency: available, on hold, total, each to the currency's precision."""

    hide_zero = param.Boolean(default=True, doc="Leave out currencies with a zero total.")

    columns = ("currency", "available", "hold", "total")
    css_class = "balances"

    def _rows(self, account: OrderGatewayPort) -> Sequence[tuple[str, ...]]:
        steps = currency_steps(self.hub.feed.instruments().values())
        rows = sorted(account.balances(), key=lambda b: b.currency)
        return [(b.currency, *(amount_text(v, b.currency, steps)
                               for v in (b.available, b.hold, b.total)))
                for b in rows if b.total or not self.hide_zero]


class Fills(AccountComponent):
    """Recent fills, newest first; the fee to its currency's precision."""

    max_rows = param.Integer(default=200, bounds=(10, 5000), doc="How many fills to show.")

    columns = ("time", "symbol", "side", "price", "size", "fee", "liquidity")
    css_class = "fills"

    def _rows(self, account: OrderGatewayPort) -> Sequence[tuple[str, ...]]:
        steps = currency_steps(self.hub.feed.instruments().values())
        fills = sorted(account.fills(), key=lambda f: (f.ts_ms, f.fill_id), reverse=True)
        return [(_utc(f.ts_ms), f.symbol, f.side.value, fmt(f.price), fmt(f.size),
                 f"{amount_text(f.fee, f.fee_currency, steps)} {f.fee_currency}", f.liquidity)
                for f in fills[: self.max_rows]]


class KillSwitch(LiveComponent):
    """One red button (with a confirmation): cancel everything and block order entry, for every
    session. Once engaged, a reset button (with its own confirmation) allows entry again."""

    rate_hz = param.Number(default=1.0, bounds=(0.2, 10.0), doc="How often the state is read.")
    engaged = param.Boolean(default=False, doc="True once the kill switch has fired (anywhere).")
    confirming = param.Boolean(default=False, doc="True while the kill confirmation is shown.")
    confirming_reset = param.Boolean(default=False, doc="True while the reset confirmation shows.")
    message = param.String(default="", doc="What the kill switch did, in words.")

    def __init__(self, hub: MarketHub, tickets: Sequence[OrderTicket] = (), **params) -> None:
        super().__init__(hub, **params)
        self.tickets = list(tickets)
        self._from_account = False  # engaged as the account says (not only blocked here)
        no_account = hub.account is None
        self.button = pn.widgets.Button(label="Kill switch: cancel all and block entry",
                                        color="danger", css_classes=["kill-switch"],
                                        disabled=no_account)
        self.confirm_button = pn.widgets.Button(label="Yes: cancel all and block", color="danger",
                                                css_classes=["kill-confirm"])
        self.keep_button = pn.widgets.Button(label="Keep trading", css_classes=["kill-keep"])
        self.reset_button = pn.widgets.Button(label="Reset kill switch: allow order entry",
                                              color="warning", css_classes=["kill-reset"],
                                              visible=False)
        self.reset_confirm_button = pn.widgets.Button(label="Yes: allow order entry again",
                                                      color="warning",
                                                      css_classes=["kill-reset-confirm"])
        self.reset_keep_button = pn.widgets.Button(label="Keep blocked",
                                                   css_classes=["kill-reset-keep"])
        self._wire_buttons()
        self._confirm_row = pn.Row(self.confirm_button, self.keep_button, visible=False)
        self._reset_row = pn.Row(self.reset_confirm_button, self.reset_keep_button, visible=False)
        self._message = pn.pane.HTML("", css_classes=["kill-message"], visible=False)

    def _wire_buttons(self) -> None:
        self.button.on_click(lambda _event: self.arm())
        self.keep_button.on_click(lambda _event: self.disarm())
        self.confirm_button.on_click(self._on_confirm)
        self.reset_button.on_click(lambda _event: self.arm_reset())
        self.reset_keep_button.on_click(lambda _event: self.disarm())
        self.reset_confirm_button.on_click(self._on_confirm_reset)

    def __panel__(self):
        return pn.Column(self.button, self._confirm_row, self.reset_button, self._reset_row,
                         self._message)

    def tick(self, now: float | None = None) -> bool:
        """Pick up a kill fired, or a reset made, in another session (the account is shared by
        the process)."""
        account = self.hub.account
        if not self._due(now) or account is None:
            return False
        on_account = account.kill_switch_engaged()
        if on_account and not self.engaged:
            self._engage("kill switch engaged (by another session)")
            return True
        if not on_account and self.engaged and self._from_account:
            self._release("kill switch reset (by another session): order entry allowed again")
            return True
        return False

    def arm(self) -> None:
        self.confirming = True

    def arm_reset(self) -> None:
        self.confirming_reset = self.engaged

    def disarm(self) -> None:
        self.param.update(confirming=False, confirming_reset=False)

    async def _on_confirm(self, _event) -> None:
        await self.kill()

    async def _on_confirm_reset(self, _event) -> None:
        await self.reset_kill_switch()

    async def kill(self) -> bool:
        """Fire: the account blocks new orders and cancels everything; this session's tickets
        block too."""
        self.confirming = False
        account = self.hub.account
        if account is None:
            self.message = "read-only: no API key, nothing to cancel"
            return False
        try:
            await self.hub.call(account.engage_kill_switch())
        except Exception as exc:  # block locally anyway: stopping is always the safe side
            self._engage(f"kill switch: cancelling failed — {describe_error(exc)}; entry is "
                         "blocked here, retry")
            return False
        self._engage("kill switch engaged: all open orders cancelled, order entry blocked")
        return True

    async def reset_kill_switch(self) -> bool:
        """Allow order entry again, for every session: only after the confirmation. (Not
        ``reset``: that is LiveComponent's "forget what was shown".)"""
        account, confirmed = self.hub.account, self.confirming_reset
        self.confirming_reset = False
        if account is None or not confirmed or not self.engaged:
            return False
        try:
            await self.hub.call(account.reset_kill_switch())
        except Exception as exc:  # UI boundary: stay blocked, say why
            self.message = f"kill switch reset failed — {describe_error(exc)}; entry stays blocked"
            return False
        self._release("kill switch reset: order entry allowed again (open orders stay cancelled)")
        return True

    def _engage(self, text: str) -> None:
        self._from_account = bool(self.hub.account and self.hub.account.kill_switch_engaged())
        self.param.update(engaged=True, message=text)
        for ticket in self.tickets:
            ticket.block(KILL_REASON)

    def _release(self, text: str) -> None:
        self._from_account = False
        self.param.update(engaged=False, message=text)
        for ticket in self.tickets:
            ticket.unblock()

    @param.depends("engaged", "confirming", "confirming_reset", "message", watch=True)
    def _sync(self) -> None:
        self._confirm_row.visible = self.confirming and not self.engaged
        self._reset_row.visible = self.confirming_reset
        self.button.visible = not self.engaged
        self.reset_button.visible = self.engaged
        self._message.object = panel_html(html.escape(self.message), ASK)
        self._message.visible = bool(self.message)
