"""``python -m dashboard.simulator``: serve the KuCoin-compatible exchange on a local port."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .faults import FaultConfig
from .server import SimConfig, Simulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dashboard.simulator",
        description="A local KuCoin-compatible spot exchange (REST + WebSocket) with a synthetic "
                    "market. "
                    "Point any KuCoin client at the printed base URL; use the printed demo key for "
                    "private endpoints. Faults can also be changed at run time with "
                    "POST /sim/v1/faults {\"l2_drop\": 0.01, ...} and POST /sim/v1/expire-tokens.")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080,
                   help="TCP port (default 8080; 0 picks a free one)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed for the market, the demo key and the faults")
    p.add_argument("--rate", type=float, default=20.0,
                   help="synthetic order-flow actions per second, 0 freezes the market "
                        "(default 20)")
    p.add_argument("--firehose", action="store_true",
                   help="shortcut for --rate 10000: thousands of level-2 messages per second, "
                        "for benchmarks")
    p.add_argument("--api-key", help="demo API key (default: derived from --seed)")
    p.add_argument("--api-secret", help="demo API secret (default: derived from --seed)")
    p.add_argument("--api-passphrase", help="demo API passphrase (default: sim-passphrase)")
    p.add_argument("--ping-interval-ms", type=int, default=18000,
                   help="pingInterval advertised in bullets")
    p.add_argument("--ping-timeout-ms", type=int, default=10000,
                   help="pingTimeout advertised in bullets")
    p.add_argument("--no-history", action="store_true",
                   help="start without synthetic candle history")
    f = p.add_argument_group("faults (probabilities 0..1, seeded by --seed)")
    f.add_argument("--l2-drop", type=float, default=0.0, help="drop a /market/level2 frame")
    f.add_argument("--l2-duplicate", type=float, default=0.0, help="send a level-2 frame twice")
    f.add_argument("--l2-reorder", type=float, default=0.0,
                   help="send a level-2 frame after the next one")
    f.add_argument("--disconnect-per-s", type=float, default=0.0,
                   help="chance per connection per second of a forced close")
    f.add_argument("--rest-429", type=float, default=0.0, help="answer a REST request with 429000")
    f.add_argument("--snapshot-5xx", type=float, default=0.0,
                   help="answer an order-book snapshot with 500000")
    f.add_argument("--snapshot-delay", type=float, default=0.0,
                   help="seconds of delay on order-book snapshots")
    f.add_argument("--token-ttl", type=float, default=86400.0,
                   help="bullet token lifetime in seconds; connections close when their token "
                        "expires")
    p.add_argument("--log-level", default="WARNING", help="Python logging level (default WARNING)")
    return p


def config_from_args(args: argparse.Namespace) -> SimConfig:
    faults = FaultConfig(l2_drop=args.l2_drop, l2_duplicate=args.l2_duplicate,
                         l2_reorder=args.l2_reorder,
                         disconnect_per_s=args.disconnect_per_s, rest_429=args.rest_429,
                         snapshot_5xx=args.snapshot_5xx, snapshot_delay_s=args.snapshot_delay,
                         token_ttl_s=args.token_ttl)
    return SimConfig(host=args.host, port=args.port, seed=args.seed,
                     rate_per_s=10_000.0 if args.firehose else args.rate, api_key=args.api_key,
                     api_secret=args.api_secret, api_passphrase=args.api_passphrase,
                     ping_interval_ms=args.ping_interval_ms, ping_timeout_ms=args.ping_timeout_ms,
                     faults=faults, history=not args.no_history)


async def serve(config: SimConfig) -> None:
    sim = Simulator(config)
    await sim.start()
    d = sim.demo
    print(f"KuCoin simulator serving {sim.base_url}", flush=True)
    print(f"  REST base URL : {sim.base_url}")
    print(f"  symbols       : {', '.join(sim.exchange.rules)}")
    print(f"  demo API key  : {d.key}")
    print(f"  demo secret   : {d.secret}")
    print(f"  demo passphrase: {d.passphrase}  (KC-API-KEY-VERSION 2 or 3)")
    active = config.faults.active()
    print(f"  faults        : {active or 'none'}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(config_from_args(args)))
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
