"""Level-2 book synchronisation (protocol.md §8.2/§8.3): a sans-I/O state machine per symbol.

The I/O driver feeds it decoded increments and REST snapshots; it answers with an ``Action`` when
the driver must fetch a snapshot. Every gap, stale-snapshot and resync path is testable without a
loop. ``L2Router.apply_frame`` is the one Python entry point of a raw level-2 frame; the compiled
``_l2fast.apply_frame`` is its only (deliberate) twin, held equal by tests/test_l2fast.py. Clocks
are passed in. Must not import aiohttp or anything above ``kucoin.client``.
"""

from __future__ import annotations

import importlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType

from dashboard.domain.book import PURE_PYTHON, OrderBook
from dashboard.kucoin.client.parse_l2 import SEQ_MAX, Change, L2Update, decode_l2, decode_l2_fast

# The compiled hot path (``_l2fast.c``): ``SyncCore`` keeps L2BookSync's hot counters in C struct
# fields and ``apply_frame`` handles the common live frame in one call, falling back to the Python
# path (below) for everything else. Without it (or with DASHBOARD_PURE_PYTHON=1) the Python path
# does all of the work.
_l2fast: ModuleType | None
if PURE_PYTHON:
    _l2fast = None
else:
    try:
        # imported by name: a compiled module, which a type checker cannot read
        _l2fast = importlib.import_module("dashboard.kucoin.client._l2fast")
    except ImportError:  # not compiled (a source checkout without ``pip install -e .``)
        _l2fast = None

NATIVE = _l2fast is not None
_SyncBase: type = _l2fast.SyncCore if _l2fast is not None else object
_native_apply = _l2fast.apply_frame if _l2fast is not None else None
# "not handled: run the Python path"
FALLBACK: object = _l2fast.FALLBACK if _l2fast is not None else object()


class SyncState(StrEnum):
    BUFFERING = "buffering"  # collecting increments, no snapshot asked for yet
    WAITING_SNAPSHOT = "waiting_snapshot"  # snapshot asked for, still buffering
    LIVE = "live"  # book valid and published


class ActionKind(StrEnum):
    NEED_SNAPSHOT = "need_snapshot"


NEED_SNAPSHOT = ActionKind.NEED_SNAPSHOT


@dataclass(frozen=True, slots=True)
class Action:
    """What the I/O driver must do next for ``symbol``; ``reason`` says why (for logs and stats)."""

    kind: ActionKind
    symbol: str
    reason: str  # "initial" | "gap" | "crossed" | "stale_snapshot" | "overflow" | "bad_change"


@dataclass(slots=True)
class SyncStats:
    state: SyncState
    last_sequence: int | None
    messages: int = 0
    applied: int = 0
    stale_skipped: int = 0
    gaps: int = 0
    resyncs: int = 0
    crossed: int = 0
    price0_skipped: int = 0
    snapshots: int = 0
    stale_snapshots: int = 0
    buffer_overflows: int = 0
    bad_changes: int = 0
    buffered: int = 0


_Buffered = tuple[int, int, list[Change], list[Change]]


class L2BookSync(_SyncBase):
    """Buffer -> snapshot -> bridge -> live, with gap/crossed/overflow resync, for one symbol."""

    def __init__(self, symbol: str, *, price_scale: int = 0, max_buffer: int = 10_000,
                 snapshot_after: int = 1) -> None:
        if max_buffer < 1 or snapshot_after < 1:
            raise ValueError("max_buffer and snapshot_after must be >= 1")
        self.symbol = symbol
        self.book = OrderBook(symbol, price_scale)
        self.max_buffer = max_buffer
        self.snapshot_after = snapshot_after
        self._state = SyncState.BUFFERING
        self._live = False
        self._seq = -1
        self._buffer: deque[_Buffered] = deque()
        self._overflowed = False
        # counters live as plain attributes (hot path); ``stats`` assembles them
        self._messages = self._applied = self._stale = self._gaps = self._resyncs = 0
        self._crossed = self._price0 = self._snapshots = self._stale_snapshots = 0
        self._overflows = self._bad = 0
        # receive bookkeeping for the feed's health view (not part of the sync's logic or stats)
        self._last_rx = 0.0  # monotonic clock of the last frame of this symbol
        self._latency_ms = math.nan  # EWMA of wall-clock receive time - data.time

    # -- public API ------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._live

    @property
    def state(self) -> SyncState:
        return self._state

    @property
    def stats(self) -> SyncStats:
        return SyncStats(
            state=self._state, last_sequence=self._seq if self._live else None,
            messages=self._messages, applied=self._applied, stale_skipped=self._stale,
            gaps=self._gaps, resyncs=self._resyncs, crossed=self._crossed,
            price0_skipped=self._price0, snapshots=self._snapshots,
            stale_snapshots=self._stale_snapshots, buffer_overflows=self._overflows,
            bad_changes=self._bad, buffered=len(self._buffer))

    @property
    def last_receive(self) -> float:
        """``time.monotonic()`` when the last frame of this symbol arrived (0.0: none yet)."""
        return self._last_rx

    @property
    def latency_ms(self) -> float | None:
        """EWMA of receive time minus the frame's ``data.time`` (None until a timed frame came)."""
        lat = self._latency_ms
        return None if lat != lat else lat

    def note_receive(self, time_ms: int, now_s: float, wall_ms: float) -> None:
        """Record a frame's arrival at ``now_s`` (monotonic) and ``wall_ms`` (epoch ms); the
        compiled path does the same in C, on CLOCK_MONOTONIC and CLOCK_REALTIME, for its frames."""
        self._last_rx = now_s
        if time_ms:
            lat = wall_ms - time_ms
            old = self._latency_ms
            self._latency_ms = lat if old != old else old * 0.99 + lat * 0.01

    def on_update(self, upd: L2Update) -> Action | None:
        """Feed one increment of this symbol."""
        return self.feed(upd.sequence_start, upd.sequence_end, upd.asks, upd.bids)

    def feed(self, start: int, end: int, asks: list[Change], bids: list[Change]) -> Action | None:
        """``on_update`` without the L2Update wrapper (the router's fast path)."""
        self._messages += 1
        if self._live:
            seq = self._seq
            if end <= seq:  # §8.2 step 6: stale or duplicate
                self._stale += 1
                return None
            if start > seq + 1:
                return self._on_gap(start, end, asks, bids)
            return self._apply(start, end, asks, bids)
        return self._buffer_update((start, end, asks, bids))

    def on_snapshot(self, sequence: int | str, bids: Iterable[Sequence[str]],
                    asks: Iterable[Sequence[str]]) -> Action | None:
        """Deliver a REST snapshot (sequence as int or KuCoin's string, rows [[price, size]])."""
        if self._live:
            return None  # unsolicited: the live book is already continuous
        snap_seq = int(sequence)
        self._snapshots += 1
        if not 0 <= snap_seq <= SEQ_MAX:  # the book holds 64 bits; KuCoin never sends more
            self._bad += 1
            return self._request("bad_change")
        self._overflowed = False
        buf = self._buffer
        while buf and buf[0][1] <= snap_seq:  # §8.2 step 3: entirely before the snapshot
            buf.popleft()
            self._stale += 1
        if buf and buf[0][0] > snap_seq + 1:  # §8.2 step 4: the snapshot cannot bridge the buffer
            self._stale_snapshots += 1
            return self._request("stale_snapshot")
        try:
            self.book.load(bids, asks, snap_seq)
        except ValueError:
            self._bad += 1
            self.book.clear()
            return self._request("bad_change")
        self._seq = snap_seq
        if self.book.crossed():
            self._crossed += 1
            return self._resync("crossed")
        self._live = True
        self._state = SyncState.LIVE
        while buf:  # §8.2 step 5: replay with the live rule; a resync keeps the rest buffered
            start, end, b_asks, b_bids = buf.popleft()
            action = self.feed(start, end, b_asks, b_bids)
            self._messages -= 1  # counted when buffered
            if action is not None:
                return action
        return None

    def reset(self) -> None:
        """Forget everything (e.g. on reconnect, §8.3): back to buffering with an empty book."""
        self.book.clear()
        self._buffer.clear()
        self._live = False
        self._seq = -1
        self._overflowed = False
        self._state = SyncState.BUFFERING

    # -- internals -------------------------------------------------------------------------------

    def _apply(self, start: int, end: int, asks: list[Change], bids: list[Change]) -> Action | None:
        """§8.2 step 6 for a continuous increment: per-change filter, price-0 skip, size-0 delete.

        Every change of a message has a sequence within [start, end], so the per-change filter only
        matters for a message that straddles the book's sequence (start <= seq, §8.3); the common
        contiguous message (start == seq + 1) skips it."""
        seq = self._seq
        book = self.book
        straddles = start <= seq
        touched = False
        try:
            if asks:
                set_ask = book.set_ask
                for price, size, change_seq in asks:
                    if straddles and int(change_seq) <= seq:  # already in the book (§8.3)
                        continue
                    if price == "0":  # a pure sequence bump (§8.1 rule 5)
                        self._price0 += 1
                        continue
                    set_ask(price, size)
                    touched = True
            if bids:
                set_bid = book.set_bid
                for price, size, change_seq in bids:
                    if straddles and int(change_seq) <= seq:
                        continue
                    if price == "0":
                        self._price0 += 1
                        continue
                    set_bid(price, size)
                    touched = True
        except (ValueError, TypeError, AttributeError):  # a change the book cannot hold
            self._bad += 1
            return self._resync("bad_change")
        self._seq = book.sequence = end
        self._applied += 1
        if touched and book.crossed():  # §8.2 step 7: corruption
            self._crossed += 1
            return self._resync("crossed")
        return None

    def _on_gap(self, start: int, end: int, asks: list[Change],
                bids: list[Change]) -> Action | None:
        self._gaps += 1
        self._go_buffering()
        self._buffer.append((start, end, asks, bids))
        self._resyncs += 1
        return self._request("gap")

    def _resync(self, reason: str) -> Action:
        self._resyncs += 1
        self._go_buffering()
        return self._request(reason)

    def _go_buffering(self) -> None:
        self.book.clear()
        self._live = False
        self._seq = -1
        self._state = SyncState.BUFFERING

    def _buffer_update(self, item: _Buffered) -> Action | None:
        buf = self._buffer
        buf.append(item)
        if len(buf) > self.max_buffer:
            buf.popleft()
            self._overflows += 1
            if not self._overflowed:  # once per episode; the next snapshot clears it
                self._overflowed = True
                return self._request("overflow")
            return None
        if self._state is SyncState.BUFFERING and len(buf) >= self.snapshot_after:
            return self._request("initial")
        return None

    def _request(self, reason: str) -> Action:
        self._state = SyncState.WAITING_SNAPSHOT
        return Action(NEED_SNAPSHOT, self.symbol, reason)


Clock = Callable[[], float]


class L2Router:
    """One ``L2BookSync`` per symbol; ``apply_frame`` takes every raw level-2 frame.

    ``native=False`` keeps the compiled path out (the tests compare both on the same frames).
    ``fixed=True`` ignores symbols not given here (else a sync is created on first sight);
    ``validate=True`` checks every change before the sync sees it (a malformed one is a bad
    frame, not a resync). ``clock`` (monotonic s) and ``wall_clock`` (epoch s) stamp receipts and
    must be the clocks of ``time.monotonic`` and ``time.time`` while the compiled path is on.
    """

    def __init__(self, symbols: Iterable[str] = (), *, price_scale: int = 0,
                 max_buffer: int = 10_000, snapshot_after: int = 1, native: bool = True,
                 fixed: bool = False, validate: bool = False, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time) -> None:
        self._opts = {"price_scale": price_scale, "max_buffer": max_buffer,
                      "snapshot_after": snapshot_after}
        self._native = _native_apply if native else None
        self._fixed = fixed
        self._decode = decode_l2 if validate else decode_l2_fast
        self._clock = clock
        self._wall_clock = wall_clock
        self.syncs: dict[str, L2BookSync] = {}
        for symbol in symbols:
            self.get(symbol)

    def get(self, symbol: str) -> L2BookSync:
        sync = self.syncs.get(symbol)
        if sync is None:
            sync = self.syncs[symbol] = L2BookSync(symbol, **self._opts)
        return sync

    def __getitem__(self, symbol: str) -> L2BookSync:
        return self.syncs[symbol]

    def on_update(self, upd: L2Update) -> Action | None:
        return self.get(upd.symbol).feed(upd.sequence_start, upd.sequence_end, upd.asks, upd.bids)

    def on_snapshot(self, symbol: str, sequence: int | str, bids: Iterable[Sequence[str]],
                    asks: Iterable[Sequence[str]]) -> Action | None:
        return self.get(symbol).on_snapshot(sequence, bids, asks)

    def apply_frame(self, text: str | bytes) -> Action | None:
        """Raw frame text -> updated book: decode, route by ``data.symbol`` (§8.3), sync.

        The compiled path takes the common live frame (applied, or stale) and hands back everything
        else untouched; the validating Python path below owns those outcomes (buffering, gaps, bad
        frames). Returns None for non-level2 frames and, when ``fixed``, for symbols not ours;
        raises ``KucoinProtocolError`` for malformed ones.
        """
        if self._native is not None:  # checked here: the pure path pays no call for it
            done = self.apply_native(text)
            if done is not FALLBACK:
                return done  # type: ignore[return-value]
        fields = self._decode(text)
        if fields is None:
            return None
        symbol, start, end, asks, bids, time_ms = fields
        sync = self.syncs.get(symbol)
        if sync is None:
            if self._fixed:
                return None
            sync = self.get(symbol)
        sync.note_receive(time_ms, self._clock(), self._wall_clock() * 1000)
        return sync.feed(start, end, asks, bids)

    def apply_native(self, text: str | bytes) -> Action | object | None:
        """The compiled path alone: None when it handled the frame, an Action when it handled it
        and the book must be resynced (crossed), ``FALLBACK`` when it did not handle it (nothing
        was changed: run the Python path). Always ``FALLBACK`` without the compiled module or with
        ``native=False``."""
        native = self._native
        if native is None:
            return FALLBACK
        done = native(text, self.syncs)
        if done is None or done is FALLBACK:
            return done
        done._crossed += 1
        return done._resync("crossed")

    def reset(self) -> None:
        """Reconnect: every symbol's state is void (§8.3)."""
        for sync in self.syncs.values():
            sync.reset()
