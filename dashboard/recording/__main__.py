"""``python -m dashboard.recording record|info``.

    python -m dashboard.recording record --url https://api.kucoin.com --symbols BTC-USDT,ETH-USDT \\
        --seconds 600 --out btc.rec.gz          # record a live (or simulated) market
    python -m dashboard.recording info btc.rec.gz   # play it back at once: one JSON summary

``record`` runs a ``KucoinMarketFeed`` with a ``Recorder``: level-2 (full v3 snapshots when
KUCOIN_API_KEY, KUCOIN_API_SECRET and KUCOIN_API_PASSPHRASE are set, else public level2_100),
trades, tickers and 1-minute candles. Replay it in the dashboard with
``KUCOIN_MODE=replay KUCOIN_REPLAY=btc.rec.gz panel serve app.py``.
``info`` exits non-zero when the recording cannot be read or a book never went live; a damaged file
is played up to the damage, and one line on stderr says where it is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

import aiohttp

from dashboard.kucoin.client.feed import KucoinMarketFeed
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.kucoin.protocol.signing import Credentials
from dashboard.kucoin.protocol.spot import SPOT_REST_URL

from .format import RecordingError
from .recorder import Recorder
from .replay import ReplayMarketFeed


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dashboard.recording", description="record and inspect market data"
    )
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="record a market to a file")
    r.add_argument("--url", default=SPOT_REST_URL, help=f"REST base URL (default {SPOT_REST_URL})")
    r.add_argument("--symbols", required=True, help="comma-separated, e.g. BTC-USDT,ETH-USDT")
    r.add_argument("--seconds", type=float, default=60.0, help="how long to record (default 60)")
    r.add_argument("--out", required=True, help="file to write (.gz: compressed)")
    r.add_argument(
        "--public", action="store_true", help="ignore credentials (public level2_100 snapshots)"
    )
    i = sub.add_parser("info", help="replay a recording as fast as possible and summarise it")
    i.add_argument("path")
    p.add_argument("--log-level", default=None,
                   help="WARNING for record; ERROR for info, whose summary counts what was skipped")
    return p


async def record(args: argparse.Namespace) -> dict:
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    creds = None if args.public else Credentials.from_env(os.environ)
    recorder = Recorder(args.out, source=args.url, symbols=symbols)
    async with aiohttp.ClientSession() as session:
        rest = KucoinRestClient(args.url, creds, session=session)
        feed = KucoinMarketFeed(
            rest, symbols, session=session, candle_intervals=("1min",), recorder=recorder
        )
        try:
            await feed.start()
            for symbol in symbols:
                await feed.load_candles(symbol, "1min")
            await asyncio.sleep(args.seconds)
            status = feed.status()
        finally:
            await feed.close()
            recorder.close()
    return {
        "out": args.out,
        "frames": recorder.frames,
        "lines": recorder.lines,
        "error": recorder.error,
        "state": status.state.value,
        "gaps": status.gaps,
        "resyncs": status.resyncs,
    }


async def info(path: str) -> dict:
    feed = ReplayMarketFeed(path, speed=0)
    await feed.start()
    try:
        await feed.wait_finished()
        status = feed.status()
        books = {}
        for symbol, sync in feed.router.syncs.items():
            bid, ask = sync.book.best_bid(), sync.book.best_ask()
            books[symbol] = {
                "live": sync.live,
                "sequence": sync.book.sequence if sync.live else None,
                "best_bid": str(bid[0]) if bid else None,
                "best_ask": str(ask[0]) if ask else None,
                "levels": len(sync.book),
                "trades": len(feed.trades(symbol, 10**9)),
            }
    finally:
        await feed.close()
    damage = feed.damage
    return {
        "path": path,
        "source": feed.header.get("source"),
        "created": feed.header.get("created"),
        "damaged": None if damage is None else {"line": damage.line, "byte": damage.offset},
        "events": feed.lines,
        "frames": feed.counters.frames,
        "snapshots": feed.counters.snapshots,
        "bad_lines": feed.bad_lines,
        "bad_frames": status.bad_frames,
        "gaps": status.gaps,
        "resyncs": status.resyncs,
        "error": feed.error,
        "books": books,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = args.log_level or ("ERROR" if args.command == "info" else "WARNING")
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "record":
            summary = asyncio.run(record(args))
            ok = summary["error"] is None
        else:
            summary = asyncio.run(info(args.path))
            ok = summary["error"] is None and all(b["live"] for b in summary["books"].values())
    except (RecordingError, OSError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps(summary))
    if summary["error"]:  # the one clear line, besides the summary
        print(f"{args.command}: {summary['error']}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
