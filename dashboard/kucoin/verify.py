"""``verify-book``: keep a live level-2 book and check it against fresh REST snapshots.

For each check the verifier stops applying increments (it buffers them) and asks for a snapshot.
When the snapshot (sequence S) arrives, buffered increments are applied up to S exactly (the
changes of a message that straddles S are split by their own sequence numbers, §8.1), the book is
compared level by level with the snapshot, and the rest of the buffer is applied. A snapshot older
than the book cannot be compared and is counted as skipped. Works against the simulator and
api.kucoin.com (without a key, against the public ``level2_100`` snapshot: only the price range
that snapshot covers is compared).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from decimal import Decimal

import aiohttp

from dashboard.aio import TaskOwner
from dashboard.kucoin.client.book_sync import L2BookSync
from dashboard.kucoin.client.parse_l2 import decode_l2
from dashboard.kucoin.client.rest import KucoinRestClient
from dashboard.kucoin.common.errors import KucoinError, KucoinProtocolError
from dashboard.kucoin.common.ws import KucoinWebSocket
from dashboard.kucoin.protocol import spot as c

log = logging.getLogger(__name__)


@dataclass(slots=True)
class VerifySummary:
    symbol: str
    seconds: float
    messages: int = 0
    bad_frames: int = 0
    gaps: int = 0
    resyncs: int = 0
    reconnects: int = 0
    checks: int = 0
    mismatches: int = 0
    skipped: int = 0
    crossed_book_events: int = 0
    snapshot_errors: int = 0
    full_book: bool = True
    first_mismatch: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class BookVerifier:
    def __init__(self, rest: KucoinRestClient, symbol: str, *, session: aiohttp.ClientSession,
                 full_book: bool | None = None, check_every_s: float = 1.0) -> None:
        self.rest = rest
        self.symbol = symbol
        self.full_book = rest.has_credentials if full_book is None else full_book
        self.check_every_s = check_every_s
        self.sync = L2BookSync(symbol)
        self.summary = VerifySummary(symbol, 0.0, full_book=self.full_book)
        self._held: list[tuple[int, int, list, list]] | None = (
            None  # increments held back during a check
        )
        self._snap_task: asyncio.Task | None = None
        self._tasks = TaskOwner("verify-book")  # owns the snapshot task: cancelled and awaited
        self.ws = KucoinWebSocket(session, rest.post_bullet, on_frame=self._on_frame,
                                  on_disconnected=self._on_disconnected, name="verify-book")

    # ---- frames
    def _on_frame(self, text: str) -> None:
        try:
            fields = decode_l2(text)
        except KucoinProtocolError:
            self.summary.bad_frames += 1
            return
        if fields is None or fields[0] != self.symbol:
            return
        self.summary.messages += 1
        _, start, end, asks, bids, _ = fields
        if self._held is not None:
            self._held.append((start, end, asks, bids))
            return
        self._feed(start, end, asks, bids)

    def _feed(self, start: int, end: int, asks: list, bids: list) -> None:
        before = self.sync.stats
        action = self.sync.feed(start, end, asks, bids)
        after = self.sync.stats
        self.summary.crossed_book_events += after.crossed - before.crossed
        if action is not None:
            self._want_snapshot()

    def _want_snapshot(self) -> None:
        if self._snap_task is None or self._snap_task.done():
            self._snap_task = self._tasks.spawn(self._sync_snapshot(), name="verify-snapshot")

    async def _sync_snapshot(self) -> None:
        while not self.sync.live:
            try:
                seq, bids, asks = await self._snapshot()
            except KucoinError as exc:
                self.summary.snapshot_errors += 1
                log.info("snapshot failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if self.sync.on_snapshot(seq, bids, asks) is not None:
                await asyncio.sleep(0.2)

    async def _snapshot(self) -> tuple[int, list, list]:
        return await self.rest.get_level2_snapshot(self.symbol, None if self.full_book else 100)

    def _on_disconnected(self, reason: str) -> None:
        self.summary.reconnects += 1
        self.sync.reset()
        self._held = None

    # ---- checks
    async def check_once(self) -> None:
        """Hold increments, fetch a snapshot, bring the book exactly to its sequence, compare."""
        if not self.sync.live:
            return
        self._held = []
        try:
            seq, bids, asks = await self._snapshot()
        except KucoinError as exc:
            self.summary.snapshot_errors += 1
            log.info("check snapshot failed: %s", exc)
            self._release()
            return
        held, self._held = self._held or [], None
        ours = self.sync.stats.last_sequence
        if not self.sync.live or ours is None or ours > seq:
            self.summary.skipped += 1
        else:
            rest = self._compare_at(seq, held, bids, asks)
            held = rest
        for item in held:
            self._feed(*item)

    def _release(self) -> None:
        held, self._held = self._held or [], None
        for item in held:
            self._feed(*item)

    def _compare_at(self, seq: int, held: list, bids: list, asks: list) -> list:
        """Apply held increments up to ``seq``; compare; return what is left to apply."""
        i = 0
        while i < len(held) and held[i][1] <= seq and self.sync.live:
            self._feed(*held[i])
            i += 1
        if not self.sync.live:
            self.summary.skipped += 1
            return held[i:]
        our_bids, our_asks = self.sync.book.levels()
        ours = self.sync.stats.last_sequence or 0
        if i < len(held) and held[i][0] <= seq:  # straddles the snapshot: split by change sequence
            _, _, s_asks, s_bids = held[i]
            for side, changes in ((our_asks, s_asks), (our_bids, s_bids)):
                for price, size, change_seq in changes:
                    if ours < int(change_seq) <= seq and Decimal(price) != 0:
                        if Decimal(size) == 0:
                            side.pop(Decimal(price), None)
                        else:
                            side[Decimal(price)] = Decimal(size)
        elif ours != seq:
            self.summary.skipped += 1  # the stream has not reached the snapshot yet
            return held[i:]
        self.summary.checks += 1
        snap_bids = {Decimal(p): Decimal(s) for p, s in bids}
        snap_asks = {Decimal(p): Decimal(s) for p, s in asks}
        if not self.full_book:  # public top-100: compare the price range it covers
            if snap_bids:
                low = min(snap_bids)
                our_bids = {p: s for p, s in our_bids.items() if p >= low}
            if snap_asks:
                high = max(snap_asks)
                our_asks = {p: s for p, s in our_asks.items() if p <= high}
        if our_bids != snap_bids or our_asks != snap_asks:
            self.summary.mismatches += 1
            if not self.summary.first_mismatch:
                diff = _first_difference(our_bids, snap_bids) or _first_difference(
                    our_asks, snap_asks
                )
                self.summary.first_mismatch = f"at sequence {seq}: {diff}"
        return held[i:]

    # ---- run
    async def run(self, seconds: float) -> VerifySummary:
        started = time.monotonic()
        await self.ws.subscribe(c.TOPIC_LEVEL2, [self.symbol])
        self.ws.start()
        try:
            while time.monotonic() - started < seconds:
                await asyncio.sleep(self.check_every_s)
                if self.sync.live:
                    await self.check_once()
                elif self.ws.stats.connects:
                    self._want_snapshot()
        finally:
            await self.ws.close()
            await self._tasks.close()
        stats = self.sync.stats
        self.summary.gaps = stats.gaps
        self.summary.resyncs = stats.resyncs
        self.summary.seconds = round(time.monotonic() - started, 2)
        return self.summary


def _first_difference(ours: dict, theirs: dict) -> str:
    for price in sorted(set(ours) | set(theirs)):
        if ours.get(price) != theirs.get(price):
            return f"price {price}: ours {ours.get(price)} vs snapshot {theirs.get(price)}"
    return ""
