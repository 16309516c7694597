"""``python -m dashboard.kucoin verify-book SYMBOL --url URL --seconds N``.

Prints a one-line JSON summary and exits non-zero on any mismatch. Credentials, when wanted, come
from the environment: KUCOIN_API_KEY, KUCOIN_API_SECRET, KUCOIN_API_PASSPHRASE (never flags, so they
stay out of shell history and process lists).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

import aiohttp

from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.kucoin.protocol.signing import Credentials
from dashboard.kucoin.protocol.spot import SPOT_REST_URL

from .verify import BookVerifier


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dashboard.kucoin",
                                description="KuCoin adapter tools")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify-book", help="check a live level-2 book against fresh REST snapshots")
    v.add_argument("symbol", help="e.g. BTC-USDT")
    v.add_argument("--url", default=SPOT_REST_URL, help=f"REST base URL (default {SPOT_REST_URL})")
    v.add_argument("--seconds", type=float, default=30.0, help="how long to run (default 30)")
    v.add_argument("--every", type=float, default=1.0, help="seconds between checks (default 1)")
    v.add_argument("--public", action="store_true",
                   help="ignore credentials: use the public level2_100 snapshot"
                        " (top 100 levels compared)")
    v.add_argument("--log-level", default="WARNING")
    return p


async def verify_book(args: argparse.Namespace) -> dict:
    creds = None if args.public else Credentials.from_env(os.environ)
    async with aiohttp.ClientSession() as session:
        rest = KucoinRestClient(args.url, creds, session=session)
        verifier = BookVerifier(rest, args.symbol, session=session, check_every_s=args.every)
        summary = await verifier.run(args.seconds)
        await rest.close()
    return summary.as_dict()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = asyncio.run(verify_book(args))
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    ok = summary["mismatches"] == 0 and summary["checks"] > 0
    if summary["checks"] == 0:
        print("error: no check could be made (no live book or no snapshot)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
