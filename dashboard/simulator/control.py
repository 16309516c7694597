"""``/sim/v1``: run-time control of the simulator for tests and benchmarks in another process.

Not KuCoin paths, so none of ``rest.wrap``'s signature, quota or fault handling applies; answers
still use KuCoin's envelope. ``GET /sim/v1/faults`` shows the fault settings and counts,
``POST /sim/v1/faults {"l2_drop": 0.01}`` changes them, ``POST /sim/v1/expire-tokens`` ends every
bullet token and ``POST /sim/v1/rate {"rate_per_s": 0}`` sets the synthetic order flow.
Imports ``rest`` for the envelope only; never ``server``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Protocol

from aiohttp import web

from dashboard.kucoin.protocol import common as kc
from dashboard.kucoin.protocol import messages as m

from .faults import Faults
from .flow import MarketFlow
from .rest import json_response
from .ws import WsHub


class ControlServices(Protocol):
    """What the control endpoints touch."""

    faults: Faults
    hub: WsHub
    flow: MarketFlow


class SimControl:
    """The ``/sim/v1`` handlers over one simulator."""

    def __init__(self, sim: ControlServices) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/sim/v1/faults", self.get_faults),
            web.post("/sim/v1/faults", self.post_faults),
            web.post("/sim/v1/expire-tokens", self.post_expire_tokens),
            web.post("/sim/v1/rate", self.post_rate),
        ]

    async def get_faults(self, request: web.Request) -> web.Response:
        faults = self.sim.faults
        return json_response(m.ok({"config": asdict(faults.config), "counts": dict(faults.counts),
                                   "malformedFrames": self.sim.hub.frames_malformed}))

    async def post_faults(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object of fault name -> value")
            self.sim.faults.set(**changes)
        except (ValueError, TypeError) as exc:
            return json_response(m.error(kc.ERR_PARAMETER, str(exc)), 400)
        return await self.get_faults(request)

    async def post_expire_tokens(self, request: web.Request) -> web.Response:
        self.sim.hub.expire_all_tokens()
        return json_response(m.ok(True))

    async def post_rate(self, request: web.Request) -> web.Response:
        try:
            rate = float((await request.json())["rate_per_s"])
            if rate < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return json_response(
                m.error(kc.ERR_PARAMETER, 'body must be {"rate_per_s": number >= 0}'), 400)
        self.sim.flow.rate_per_s = rate
        return json_response(m.ok({"rate_per_s": rate}))
