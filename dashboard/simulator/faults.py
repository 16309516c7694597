"""Seeded, reproducible fault injection, switchable from the CLI and at run time.

Level-2 frame faults (drop, duplicate, reorder) are decided per connection and frame; forced
disconnects per connection per second; REST faults (429 bursts, 5xx and slow snapshots) per
request. Every injected fault is counted in ``counts`` so tests can relate faults to recoveries.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace


@dataclass(slots=True)
class FaultConfig:
    """Probabilities (0..1) per event, except where a unit is named."""

    l2_drop: float = 0.0  # a /market/level2 frame is never sent (a gap for the client)
    l2_duplicate: float = 0.0  # a level-2 frame is sent twice
    l2_reorder: float = 0.0  # a level-2 frame is held back and sent after the next one
    disconnect_per_s: float = 0.0  # chance per connection per second of a forced close
    rest_429: float = 0.0  # a REST request answered 429000 regardless of quota
    snapshot_5xx: float = 0.0  # an order-book snapshot answered 500000
    snapshot_delay_s: float = 0.0  # extra latency on every order-book snapshot
    token_ttl_s: float = 24 * 3600.0  # bullet token lifetime; connections are closed when it ends
    order_lost_request: float = 0.0  # an order request is dropped unprocessed (client sees a reset)
    order_lost_response: float = 0.0  # processed, but the connection drops before the answer
    order_delay_s: float = 0.0  # extra latency on order placement answers, after processing
    order_slow: float = 1.0  # share of order placements that get order_delay_s (1 = every one)

    def active(self) -> dict[str, float]:
        default = FaultConfig()
        return {k: v for k, v in asdict(self).items() if v != getattr(default, k)}


FAULT_NAMES = tuple(f.name for f in fields(FaultConfig))


class Faults:
    def __init__(self, config: FaultConfig | None = None, seed: int = 1) -> None:
        # A copy: run-time changes must not write back into the caller's (start-up) config.
        self.config = replace(config) if config is not None else FaultConfig()
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()

    def set(self, **changes: float) -> None:
        """Change fault settings at run time (unknown names raise)."""
        for name, value in changes.items():
            if name not in FAULT_NAMES:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
            setattr(self.config, name, float(value))

    def clear(self) -> None:
        self.config = FaultConfig()

    def _hit(self, name: str, p: float) -> bool:
        if p > 0 and self.rng.random() < p:
            self.counts[name] += 1
            return True
        return False

    def l2_action(self) -> str | None:
        cfg = self.config
        if self._hit("l2_drop", cfg.l2_drop):
            return "drop"
        if self._hit("l2_duplicate", cfg.l2_duplicate):
            return "duplicate"
        if self._hit("l2_reorder", cfg.l2_reorder):
            return "reorder"
        return None

    def disconnect(self) -> bool:
        return self._hit("disconnect", self.config.disconnect_per_s)

    def rest_429(self) -> bool:
        return self._hit("rest_429", self.config.rest_429)

    def order_fault(self) -> str | None:
        """For one order placement: "lost_request", "lost_response" or None."""
        if self._hit("order_lost_request", self.config.order_lost_request):
            return "lost_request"
        if self._hit("order_lost_response", self.config.order_lost_response):
            return "lost_response"
        return None

    def snapshot_5xx(self) -> bool:
        return self._hit("snapshot_5xx", self.config.snapshot_5xx)

    def snapshot_delay(self) -> float:
        """Seconds to hold one order-book snapshot back (counted as "snapshot_delay" if > 0)."""
        delay = self.config.snapshot_delay_s
        if delay > 0:
            self.counts["snapshot_delay"] += 1
        return delay

    def order_delay(self) -> float:
        """Seconds to hold one order placement's answer back: order_delay_s, for an order_slow
        share of placements."""
        cfg = self.config
        slow = cfg.order_delay_s > 0 and self._hit("order_delay", cfg.order_slow)
        return cfg.order_delay_s if slow else 0.0
