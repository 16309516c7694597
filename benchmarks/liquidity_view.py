"""Server cost of the liquidity view per session per heatmap update: CPU (the component's own work
plus building the PATCH-DOC message) and the bytes that message puts on the WebSocket, for N real
page documents, beside the depth chart's update of the same documents (the peer: the view the page
already had).

In this process, no server, no browser: each round the market moves, the clock advances one
heatmap column (250 ms), the research collector closes that column, and every session renders it.
The per-session numbers are what ``panel serve`` pays per update per session on top of the hub.

    .venv/bin/python benchmarks/liquidity_view.py                  # 20 sessions, 120 columns
    .venv/bin/python benchmarks/liquidity_view.py --sessions 50 --columns 240

Targets (issue 9): under 0.5 ms and under 4 KiB per column update per session.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _message_bytes(msg) -> int:
    """What Message.send writes: header, metadata, content, then each buffer (header + data)."""
    size = len(msg.header_json) + len(msg.metadata_json) + len(msg.content_json)
    for buffer in msg.buffers:
        size += len(json.dumps(buffer.ref)) + len(buffer.to_bytes())
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--columns", type=int, default=120, help="column updates measured")
    parser.add_argument("--history-columns", type=int, default=1200,
                        help="columns collected before the sessions open (their catch-up)")
    args = parser.parse_args()

    from bokeh.document import Document
    from bokeh.protocol.messages.patch_doc import patch_doc
    from panel.io.state import set_curdoc

    from dashboard.domain.fakes import FakeMarketFeed
    from dashboard.hub import MarketHub
    from dashboard.research.collector import ResearchCollector
    from dashboard.ui import bokeh_patches
    from dashboard.ui.app import create_app
    from dashboard.ui.options import UiOptions

    bokeh_patches.install()
    clock = [1_790_000_000 * 10**9]
    feed = FakeMarketFeed(["BTC-USDT"], levels=400)
    collector = ResearchCollector(feed, clock_ns=lambda: clock[0])
    hub = MarketHub(feed, research=collector)

    def advance() -> None:
        feed.step(1)
        clock[0] += collector.column_ns
        collector.tick()
        hub._build("BTC-USDT")

    for _ in range(args.history_columns):
        advance()
    docs = []
    t0 = time.process_time()
    for _ in range(args.sessions):
        doc = Document()
        with set_curdoc(doc):
            page = create_app(hub, UiOptions(("BTC-USDT",)))
            page.server_doc(doc)
        doc.models.flush_synced()
        docs.append((doc, page.components["liquidity"], page.components["depth"]))
    print(f"{args.sessions} page documents of {len(docs[0][0].models)} models built in "
          f"{time.process_time() - t0:.1f} s; {args.history_columns} columns of history each")

    results: dict[str, dict[str, list[float]]] = {
        name: {"ms": [], "bytes": []} for name in ("liquidity", "depth")}
    start = time.monotonic() + 1e6
    for r in range(args.columns + 2):
        advance()
        for name, pick in (("liquidity", 1), ("depth", 2)):
            for entry in docs:
                doc, comp = entry[0], entry[pick]
                c0 = time.process_time()
                doc.hold("collect")
                comp.tick(start + r * collector.column_ns / 1e9)  # real time per column
                events = list(doc.callbacks._held_events)
                doc.callbacks._held_events = []
                doc.unhold()
                size = 0
                if events:
                    msg = patch_doc.create(events)
                    size = _message_bytes(msg)
                spent = (time.process_time() - c0) * 1000
                if r >= 2:  # the first two: the sessions' catch-up render
                    results[name]["ms"].append(spent)
                    results[name]["bytes"].append(size)
    print(f"\nper session per column update, {args.columns} updates x {args.sessions} sessions")
    print(f"{'view':<12} {'ms mean':>8} {'ms p95':>8} {'bytes mean':>11} {'bytes max':>10}"
          f" {'KiB/s/sess at 4 Hz':>19}")
    for name, res in results.items():
        ms, size = res["ms"], res["bytes"]
        p95 = statistics.quantiles(ms, n=20)[-1]
        print(f"{name:<12} {statistics.fmean(ms):>8.3f} {p95:>8.3f} "
              f"{statistics.fmean(size):>11,.0f} {max(size):>10,} "
              f"{statistics.fmean(size) * 4 / 1024:>19.1f}")
    print("\nliquidity: one heatmap column (patch), trade dots and best bid/ask (stream), periods; "
          "depth: the depth chart's update of the same documents, for scale. Targets: < 0.5 ms and "
          "< 4 KiB per column update per session.")


if __name__ == "__main__":
    main()
