"""What the research collector costs the feed: the same recorded stream of level-2 frames through
``KucoinMarketState.on_frame``, without a listener and with a ``ResearchCollector`` attached
(every top-of-book change noted, one deep book per symbol per 250 ms column), side by side in one
run. The frames carry a synthetic clock advancing ``--frame-us`` per frame, so the collector
closes as many columns as it would live at that message rate.

Not a test: run it by hand and read the table::

    .venv/bin/python benchmarks/research_collector.py                 # ~1 minute
    .venv/bin/python benchmarks/research_collector.py --frames 50000 --runs 3 --frame-us 333

``--frame-us 333`` is 3,000 frames/s, the simulator at 3,000 order-flow actions/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from l2_throughput import generate_sim_stream

from dashboard.kucoin.client.market_state import KucoinMarketState
from dashboard.kucoin.client.state_reads import StateReads
from dashboard.research.collector import ResearchCollector


class _Clock:
    def __init__(self) -> None:
        self.t = 1_790_000_000.0

    def __call__(self) -> float:
        return self.t


class _Reads(StateReads):
    """Just enough of a driver for the collector: the core's reads (what both drivers inherit)."""

    def __init__(self, state: KucoinMarketState) -> None:
        self.state = state
        self.symbols = state.symbols

    def status(self):
        return self.state.status()


def run_once(stream, frame_s: float, with_collector: bool) -> tuple[float, float, dict]:
    clock = _Clock()
    state = KucoinMarketState(list(stream.snapshots), clock=clock, wall_clock=clock)
    for symbol, snap in stream.snapshots.items():
        state.on_snapshot(symbol, snap["sequence"], snap["bids"], snap["asks"])
    collector = None
    if with_collector:
        collector = ResearchCollector(_Reads(state))  # type: ignore[arg-type]
        collector.attach()
        collector.tick()
    frames = stream.frames
    cpu0, t0 = time.process_time(), time.perf_counter()
    for text in frames:
        clock.t += frame_s
        state.on_frame(text)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    info = {}
    if collector is not None:
        s = collector.stats
        info = {"columns": s.columns_sampled, "tops": s.top_changes,
                "sample_ms_max": s.sample_ms_max, "errors": s.errors}
    return wall, cpu, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frame-us", type=float, default=333.0,
                        help="synthetic time between frames (333 us = 3,000 frames/s)")
    args = parser.parse_args()
    stream = generate_sim_stream(args.frames, seed=7)
    frame_s = args.frame_us / 1e6
    rows = []
    for label, on in (("feed alone", False), ("feed + research collector", True)):
        best = min((run_once(stream, frame_s, on) for _ in range(args.runs)), key=lambda r: r[1])
        rows.append((label, *best))
    base_cpu = rows[0][2]
    print(f"\n{len(stream.frames)} level-2 frames, {len(stream.snapshots)} symbols, "
          f"{args.frame_us:g} us apart ({1e6 / args.frame_us:,.0f} frames/s); best of {args.runs}")
    print(f"{'':28} {'frames/s':>12} {'us/frame':>9} {'extra us':>9} {'CPU at rate':>12}"
          f" {'columns':>8} {'tops':>7} {'col ms max':>10}")
    for label, _wall, cpu, info in rows:
        per = cpu / len(stream.frames) * 1e6
        extra = per - base_cpu / len(stream.frames) * 1e6
        at_rate = per / args.frame_us * 100
        print(f"{label:28} {len(stream.frames) / cpu:>12,.0f} {per:>9.2f} {extra:>9.2f}"
              f" {at_rate:>11.1f}% {info.get('columns', ''):>8} {info.get('tops', ''):>7}"
              f" {info.get('sample_ms_max', 0):>10.2f}")
    print("\nCPU at rate: the share of one core this costs at the frame rate above.")


if __name__ == "__main__":
    main()
