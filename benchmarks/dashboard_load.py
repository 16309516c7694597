"""Load benchmark of the served dashboard: N concurrent Bokeh sessions against one `panel serve` process.

The server is the real app (``panel serve app.py --num-procs 1``) with its embedded simulator at a firehose
(``KUCOIN_SIM_RATE``). The sessions are real Bokeh server sessions opened the way a browser opens them:
``GET /app`` (the server runs app.py and builds the session's document), then a WebSocket to ``/app/ws``
with the ``bokeh`` subprotocol and the page's token, ``PULL-DOC-REQ``, and the ``document_ready`` event that
BokehJS sends once the page is up. After that each client receives every ``PATCH-DOC`` the server pushes and
counts messages, bytes and update bursts, but does not decode or render them: on the server this costs exactly
what a browser costs (minus the browser's range traffic, which this app avoids with server-set ranges), and on
the client it is cheap enough that 50-100 sessions fit in one worker process.

Processes (2 cores): the server (one core by design), ``--workers`` client processes (asyncio + uvloop), and
this orchestrator, which samples the server's CPU (``/proc/PID/stat``) and RSS, and probes the server's event
loop lag with a tiny ``GET /`` (a 302 from Tornado) every 100 ms on a keep-alive connection: its latency is the
time the request waits for the loop, plus about a millisecond of handling.

    .venv/bin/python benchmarks/dashboard_load.py                       # ramp 1,10,25,50,75 sessions, ~3 min
    .venv/bin/python benchmarks/dashboard_load.py --sessions 50,75,100 --seconds 20
    .venv/bin/python benchmarks/dashboard_load.py --minutes 10 --churn  # memory run, sessions come and go
    .venv/bin/python benchmarks/dashboard_load.py --py-spy /tmp/x.txt   # profile the server at the last step
    .venv/bin/python benchmarks/dashboard_load.py --tree /tmp/patched   # serve DIR/app.py with DIR/dashboard
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
NOMINAL_HZ = 10.0  # the issue's "frame": one 10 Hz render cycle of one session
TOKEN_RE = re.compile(r'"token"\s*:\s*"([^"]+)"')
HUB_LAG_RE = re.compile(rb"loop lag\D{0,60}?(\d+) ms")
BURST_GAP_S = 0.015  # messages closer than this belong to one render (the session clock ticks every 50 ms)


# ---------------------------------------------------------------- client worker (its own process)
def _bokeh_msg(msgtype: str, content: dict) -> list[str]:
    header = {"msgid": f"{random.getrandbits(48):x}", "msgtype": msgtype}
    return [json.dumps(header), "{}", json.dumps(content)]


DOCUMENT_READY = {"events": [{"kind": "MessageSent", "msg_type": "bokeh_event",
                              "msg_data": {"type": "event", "name": "document_ready", "values": {"type": "map"}}}]}


class ClientSession:
    """One Bokeh session, opened like a browser opens it; counts what the server sends."""

    def __init__(self, sid: int, probe_hub_lag: bool) -> None:
        self.sid = sid
        self.probe_hub_lag = probe_hub_lag
        self.bytes = self.msgs = self.patches = self.bursts = 0
        self.last_t = 0.0
        self.opened_s: float | None = None  # GET /app -> PULL-DOC-REPLY received
        self.error = ""
        self.closed = False
        self.hub_lag: list[int] = []
        self.ws = None
        self.task: asyncio.Task | None = None

    async def run(self, http, base: str) -> None:
        import orjson
        t0 = time.monotonic()
        try:
            async with http.get(base + "/app") as r:
                page = await r.text()
            token = TOKEN_RE.search(page).group(1)
            ws_url = base.replace("http://", "ws://") + "/app/ws"
            self.ws = ws = await http.ws_connect(ws_url, protocols=("bokeh", token), max_msg_size=0, autoping=True,
                                                 compress=0, heartbeat=None)
            need, header = 0, None  # fragments still expected for the message being assembled
            async for msg in ws:
                data = msg.data
                if not isinstance(data, (str, bytes)):
                    continue
                now = time.monotonic()
                self.bytes += len(data)
                if need == 0:
                    header = orjson.loads(data)
                    need = 2 + 2 * header.get("num_buffers", 0)
                    continue
                if self.probe_hub_lag and isinstance(data, str) and "loop lag" in data:
                    m = HUB_LAG_RE.search(data.encode())
                    if m:
                        self.hub_lag.append(int(m.group(1)))
                need -= 1
                if need:
                    continue
                self.msgs += 1
                kind = header["msgtype"]
                if kind == "PATCH-DOC":
                    self.patches += 1
                    if now - self.last_t > BURST_GAP_S:
                        self.bursts += 1
                    self.last_t = now
                elif kind == "ACK":  # the server is ready for messages (like BokehJS, wait for it)
                    for part in _bokeh_msg("PULL-DOC-REQ", {}):
                        await ws.send_str(part)
                elif kind == "PULL-DOC-REPLY":
                    self.opened_s = now - t0
                    for part in _bokeh_msg("PATCH-DOC", DOCUMENT_READY):
                        await ws.send_str(part)
                elif kind == "ERROR":
                    self.error = "server ERROR message"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported in the stats, the run goes on
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.closed = True

    def snapshot(self) -> dict:
        lag, self.hub_lag = self.hub_lag, []
        return {"sid": self.sid, "bytes": self.bytes, "msgs": self.msgs, "patches": self.patches,
                "bursts": self.bursts, "opened_s": self.opened_s, "error": self.error, "closed": self.closed,
                "hub_lag": lag}


def worker_main(conn, base: str, worker_id: int) -> None:
    with contextlib.suppress(ImportError):
        import uvloop
        uvloop.install()
    asyncio.run(_worker(conn, base, worker_id))


async def _worker(conn, base: str, worker_id: int) -> None:
    import aiohttp
    loop = asyncio.get_running_loop()
    sessions: dict[int, ClientSession] = {}
    commands: asyncio.Queue = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as http:
        while True:
            cmd, arg = await commands.get()
            if cmd == "open":  # arg: list of session ids
                for sid in arg:
                    s = sessions[sid] = ClientSession(sid, probe_hub_lag=True)
                    s.task = asyncio.create_task(s.run(http, base))
                conn.send(("ok", None))
            elif cmd == "close":  # arg: list of session ids
                for sid in arg:
                    s = sessions.pop(sid, None)
                    if s is not None:
                        if s.ws is not None:
                            await s.ws.close()
                        s.task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await s.task
                conn.send(("ok", None))
            elif cmd == "stats":
                t = os.times()
                snaps = [s.snapshot() for s in sessions.values()]
                conn.send(("stats", {"cpu_s": t.user + t.system, "sessions": snaps}))
            elif cmd == "quit":
                for s in sessions.values():
                    if s.ws is not None:
                        await s.ws.close()
                    s.task.cancel()
                conn.send(("ok", None))
                return


class Workers:
    def __init__(self, n: int, base: str) -> None:
        ctx = mp.get_context("spawn")
        self.pipes, self.procs = [], []
        for i in range(n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(child, base, i), daemon=True)
            p.start()
            self.pipes.append(parent)
            self.procs.append(p)
        self.owner: dict[int, int] = {}  # session id -> worker
        self.next_sid = 0
        self.opened = self.closed = 0

    def _call(self, i: int, cmd: str, arg=None):
        self.pipes[i].send((cmd, arg))
        return self.pipes[i].recv()[1]

    @property
    def open_ids(self) -> list[int]:
        return sorted(self.owner)

    def open(self, n: int) -> None:
        per: dict[int, list[int]] = {}
        for _ in range(n):
            load = {i: 0 for i in range(len(self.pipes))}
            for w in self.owner.values():
                load[w] += 1
            w = min(load, key=load.get)
            self.owner[self.next_sid] = w
            per.setdefault(w, []).append(self.next_sid)
            self.next_sid += 1
        for w, ids in per.items():
            self._call(w, "open", ids)
        self.opened += n

    def close(self, ids: list[int]) -> None:
        per: dict[int, list[int]] = {}
        for sid in ids:
            per.setdefault(self.owner.pop(sid), []).append(sid)
        for w, sids in per.items():
            self._call(w, "close", sids)
        self.closed += len(ids)

    def stats(self) -> tuple[float, dict[int, dict]]:
        cpu, sessions = 0.0, {}
        for i in range(len(self.pipes)):
            st = self._call(i, "stats")
            cpu += st["cpu_s"]
            sessions.update({s["sid"]: s for s in st["sessions"]})
        return cpu, sessions

    def worker_cpu_s(self) -> float:
        return sum(_proc_cpu_s(p.pid) for p in self.procs)

    def quit(self) -> None:
        for i, p in enumerate(self.procs):
            with contextlib.suppress(Exception):
                self._call(i, "quit")
            p.join(5)
            if p.is_alive():
                p.terminate()


# ---------------------------------------------------------------- server, probes, sampling
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _machine_busy_s() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK  # all but idle and iowait


class LagProbe(threading.Thread):
    """``GET /`` (Tornado's 302 to /app) every ``period`` s on a keep-alive connection; latency in ms."""

    def __init__(self, port: int, period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.port, self.period = port, period
        self.samples: list[tuple[float, float]] = []  # (monotonic, ms)
        self.errors = 0
        self._stop = threading.Event()

    def run(self) -> None:
        conn = None
        nxt = time.monotonic()
        while not self._stop.is_set():
            nxt += self.period
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    conn.connect()
                    t0 = time.monotonic()  # connect is not loop lag
                conn.request("GET", "/")
                conn.getresponse().read()
                self.samples.append((t0, (time.monotonic() - t0) * 1000))
            except Exception:
                self.errors += 1
                conn = None
            self._stop.wait(max(0.0, nxt - time.monotonic()))
            nxt = max(nxt, time.monotonic() - self.period)

    def window(self, t0: float, t1: float) -> list[float]:
        return [ms for t, ms in list(self.samples) if t0 <= t < t1]

    def stop(self) -> None:
        self._stop.set()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(q / 100 * len(v)) - 1))]


@contextlib.contextmanager
def serve(tree: Path, port: int, rate: float, log_path: Path):
    env = {**os.environ, "KUCOIN_SIM_RATE": str(rate)}
    if tree != ROOT:
        env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "panel", "serve", str(tree / "app.py"), "--port", str(port), "--address",
           "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}", "--num-procs", "1"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"panel serve did not come up:\n{log_path.read_text()[-3000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/")
                c.getresponse().read()
                c.close()
                break
            except OSError:
                time.sleep(0.1)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class Meter:
    """Deltas of server CPU, worker CPU, machine CPU and per-session counters between two marks."""

    def __init__(self, server_pid: int, workers: Workers) -> None:
        self.pid, self.workers = server_pid, workers

    def mark(self) -> dict:
        _, sessions = self.workers.stats()
        return {"t": time.monotonic(), "cpu": _proc_cpu_s(self.pid), "wcpu": self.workers.worker_cpu_s(),
                "busy": _machine_busy_s(), "rss": _rss_mb(self.pid), "sessions": sessions}


def window_stats(a: dict, b: dict, probe: LagProbe, base_cpu_rate: float) -> dict:
    dt = b["t"] - a["t"]
    ids = [sid for sid in b["sessions"] if sid in a["sessions"]]
    n = len(ids)
    d = {k: [b["sessions"][i][k] - a["sessions"][i][k] for i in ids] for k in ("bytes", "msgs", "patches", "bursts")}
    server_cpu = b["cpu"] - a["cpu"]
    worker_cpu = b["wcpu"] - a["wcpu"]
    other = max(0.0, (b["busy"] - a["busy"]) - server_cpu - worker_cpu)
    lag = probe.window(a["t"], b["t"])
    session_cpu_ms = max(0.0, server_cpu - base_cpu_rate * dt) * 1000
    bursts = sum(d["bursts"])
    hub_lag = [x for i in ids for x in b["sessions"][i]["hub_lag"]]
    errors = [s["error"] for s in b["sessions"].values() if s["error"]]
    dead = sum(1 for i in ids if b["sessions"][i]["closed"])
    return {
        "n": n, "dt": dt, "server_pct": 100 * server_cpu / dt, "worker_pct": 100 * worker_cpu / dt,
        "other_pct": 100 * other / dt,
        "ms_per_frame": session_cpu_ms / (n * dt * NOMINAL_HZ) if n else float("nan"),
        "ms_per_update": session_cpu_ms / bursts if bursts else float("nan"),
        "ms_per_msg": session_cpu_ms / sum(d["msgs"]) if n and sum(d["msgs"]) else float("nan"),
        "updates_s": bursts / n / dt if n else 0.0, "msgs_s": sum(d["msgs"]) / n / dt if n else 0.0,
        "kb_s": sum(d["bytes"]) / n / dt / 1024 if n else 0.0,
        "kb_s_min": min(d["bytes"]) / dt / 1024 if n else 0.0,
        "lag50": pct(lag, 50), "lag99": pct(lag, 99), "lagmax": max(lag) if lag else float("nan"),
        "hub_lag_max": max(hub_lag) if hub_lag else float("nan"),
        "rss": b["rss"], "errors": errors, "dead": dead,
    }


def wait_docs(workers: Workers, timeout: float) -> tuple[int, list[float]]:
    """Wait until every open session has its document; returns (sessions ready, open times)."""
    deadline = time.monotonic() + timeout
    while True:
        _, sessions = workers.stats()
        ready = [s["opened_s"] for s in sessions.values() if s["opened_s"] is not None]
        done = sum(1 for s in sessions.values() if s["opened_s"] is not None or s["closed"])
        if done == len(sessions) or time.monotonic() > deadline:
            return len(ready), ready
        time.sleep(0.25)


# ---------------------------------------------------------------- runs
def _fmt(v: float, spec: str) -> str:
    return "-" if v != v else format(v, spec)  # NaN -> '-'


HEAD = (f"{'sessions':>8} {'srv CPU%':>8} {'ms/sess/frame':>13} {'ms/update':>9} {'upd/s':>6} {'msgs/s':>6} "
        f"{'KB/s/sess':>9} {'lag p50':>7} {'lag p99':>7} {'lag max':>7} {'hub lag':>7} {'RSS MB':>7} "
        f"{'clients%':>8} {'other%':>6}  verdict")


def row(w: dict) -> str:
    ok = w["lag99"] < 50 and w["server_pct"] < 95 and not w["dead"]
    verdict = "holds" if ok else ("SATURATED" if w["server_pct"] >= 95 or w["lag99"] >= 200 else "lag>50ms")
    if w["dead"]:
        verdict += f" ({w['dead']} sessions died)"
    return (f"{w['n']:>8} {w['server_pct']:>8.1f} {_fmt(w['ms_per_frame'], '.3f'):>13} "
            f"{_fmt(w['ms_per_update'], '.3f'):>9} {w['updates_s']:>6.1f} {w['msgs_s']:>6.1f} {w['kb_s']:>9.1f} "
            f"{_fmt(w['lag50'], '.1f'):>7} {_fmt(w['lag99'], '.1f'):>7} {_fmt(w['lagmax'], '.0f'):>7} "
            f"{_fmt(w['hub_lag_max'], '.0f'):>7} {w['rss']:>7.1f} {w['worker_pct']:>8.1f} {w['other_pct']:>6.1f}  "
            f"{verdict}")


def baseline(meter: Meter, probe: LagProbe, workers: Workers, seconds: float) -> float:
    """Boot the runtime with one session (the simulator starts with the first session), close it, then measure
    the server with no session: the simulator at the firehose plus the feed. Returns CPU-s per s."""
    workers.open(1)
    _, opened = wait_docs(workers, 60)
    print(f"first session: document in {opened[0]:.2f} s (runtime boot + simulator start)" if opened
          else "first session: no document!", flush=True)
    time.sleep(3)
    workers.close(workers.open_ids)
    time.sleep(2)
    a = meter.mark()
    time.sleep(seconds)
    b = meter.mark()
    dt = b["t"] - a["t"]
    rate = (b["cpu"] - a["cpu"]) / dt
    lag = probe.window(a["t"], b["t"])
    print(f"baseline, 0 sessions (simulator + feed at the firehose): server CPU {100 * rate:.1f}% of a core, "
          f"lag p50 {pct(lag, 50):.1f} ms p99 {pct(lag, 99):.1f} ms, RSS {b['rss']:.1f} MB", flush=True)
    return rate


def ramp(args, meter: Meter, probe: LagProbe, workers: Workers, base_rate: float, pid: int) -> list[dict]:
    results = []
    steps = [int(x) for x in args.sessions.split(",")]
    t_start = time.monotonic()
    print(f"\nramp: {steps} sessions, {args.warmup:.0f} s warm-up + {args.seconds:.0f} s window each; "
          f"RSS/CPU every ~10 s:", flush=True)
    for k, n in enumerate(steps):
        cur = len(workers.open_ids)
        if n > cur:
            workers.open(n - cur)
        elif n < cur:
            workers.close(workers.open_ids[: cur - n])
        t_open = time.monotonic()
        ready, _ = wait_docs(workers, 120)
        open_s = time.monotonic() - t_open
        time.sleep(args.warmup)
        spy = None
        if args.py_spy and k == len(steps) - 1:
            spy = subprocess.Popen(["py-spy" if not (ROOT / ".venv/bin/py-spy").exists() else
                                    str(ROOT / ".venv/bin/py-spy"), "record", "-p", str(pid), "-d",
                                    str(int(args.seconds)), "-r", "200", "--nonblocking", "-f",
                                    "raw" if args.py_spy.endswith(".txt") else "flamegraph", "-o", args.py_spy],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        a = meter.mark()
        t_end = a["t"] + args.seconds
        while time.monotonic() < t_end:
            time.sleep(min(10.0, max(0.0, t_end - time.monotonic())))
            print(f"  t={time.monotonic() - t_start:6.1f}s sessions={n:>4} server CPU "
                  f"{100 * (_proc_cpu_s(pid) - a['cpu']) / max(1e-9, time.monotonic() - a['t']):5.1f}% "
                  f"RSS {_rss_mb(pid):7.1f} MB", flush=True)
        b = meter.mark()
        if spy is not None:
            spy.wait(30)
        w = window_stats(a, b, probe, base_rate)
        w["open_s"], w["ready"] = open_s, ready
        results.append(w)
        print(f"  -> {n} sessions: {ready}/{n} documents in {open_s:.1f} s; " + row(w).split(None, 1)[1],
              flush=True)
        if w["server_pct"] >= 98 and w["lag99"] > 1000:
            print("  server saturated: stopping the ramp", flush=True)
            break
    return results


def churn(args, meter: Meter, probe: LagProbe, workers: Workers, base_rate: float, pid: int) -> None:
    n, k, every = args.churn_sessions, args.churn_size, args.churn_every
    print(f"\nchurn: about {n} sessions for {args.minutes:g} min; every {every:g} s {k} close and {k} open. "
          f"A row every {args.report_every:g} s:", flush=True)
    print(f"{'t min':>6} {'open':>5} {'opened':>6} {'closed':>6} {'srv CPU%':>8} {'lag p50':>7} {'lag p99':>7} "
          f"{'KB/s/sess':>9} {'RSS MB':>7}", flush=True)
    workers.open(n)
    wait_docs(workers, 120)
    t0 = time.monotonic()
    end = t0 + args.minutes * 60
    rss: list[tuple[float, float]] = []
    a = meter.mark()
    next_churn, next_report = t0 + every, t0 + args.report_every
    rnd = random.Random(1)
    while time.monotonic() < end:
        time.sleep(max(0.0, min(next_churn, next_report, end) - time.monotonic()))
        now = time.monotonic()
        if now >= next_churn:
            ids = workers.open_ids
            workers.close(rnd.sample(ids, min(k, len(ids))))
            workers.open(max(0, n - len(workers.open_ids)))
            next_churn += every
        if now >= next_report or now >= end:
            b = meter.mark()
            w = window_stats(a, b, probe, base_rate)
            rss.append(((now - t0) / 60, b["rss"]))
            print(f"{(now - t0) / 60:>6.1f} {len(workers.open_ids):>5} {workers.opened:>6} {workers.closed:>6} "
                  f"{w['server_pct']:>8.1f} {_fmt(w['lag50'], '.1f'):>7} {_fmt(w['lag99'], '.1f'):>7} "
                  f"{w['kb_s']:>9.1f} {b['rss']:>7.1f}", flush=True)
            a = b
            next_report += args.report_every
    # slope over the second half (the first half includes warm-up: caches, first candles, allocator arenas)
    tail = [p for p in rss if p[0] >= args.minutes / 2] or rss
    if len(tail) >= 2:
        slope = statistics.linear_regression([p[0] for p in tail], [p[1] for p in tail]).slope
        whole = statistics.linear_regression([p[0] for p in rss], [p[1] for p in rss]).slope if len(rss) > 1 else 0
        print(f"\nRSS: first {rss[0][1]:.1f} MB, max {max(p[1] for p in rss):.1f} MB, last {rss[-1][1]:.1f} MB; "
              f"slope {whole:+.2f} MB/min over the whole run, {slope:+.2f} MB/min over the second half "
              f"({'flat' if abs(slope) < 1.0 else 'NOT flat'}: target |slope| < 1 MB/min); "
              f"{workers.opened} sessions opened, {workers.closed} closed", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", default="1,10,25,50,75", help="ramp steps (default 1,10,25,50,75)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window per step")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after the step's documents are in")
    p.add_argument("--baseline-seconds", type=float, default=8.0)
    p.add_argument("--rate", type=float, default=5000.0, help="KUCOIN_SIM_RATE, simulator actions/s (firehose)")
    p.add_argument("--workers", type=int, default=1, help="client processes")
    p.add_argument("--minutes", type=float, default=0.0, help="with --churn: length of the memory run")
    p.add_argument("--churn", action="store_true", help="memory run: sessions come and go (instead of the ramp)")
    p.add_argument("--churn-sessions", type=int, default=40, help="sessions kept open during the churn run")
    p.add_argument("--churn-size", type=int, default=3, help="sessions closed and opened at each churn step")
    p.add_argument("--churn-every", type=float, default=5.0, help="seconds between churn steps")
    p.add_argument("--report-every", type=float, default=30.0, help="churn: seconds between rows")
    p.add_argument("--py-spy", metavar="OUT", help="py-spy record the server during the last ramp step "
                   "(OUT.txt = collapsed stacks, else an SVG flame graph)")
    p.add_argument("--tree", type=Path, default=ROOT, help="serve TREE/app.py with TREE/dashboard (a patched copy)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--keep-log", action="store_true", help="print the path of the server log and keep it")
    args = p.parse_args()
    if args.churn and not args.minutes:
        args.minutes = 10.0

    port = args.port or _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkstemp(prefix="loadbench-server-", suffix=".log")[1])
    print(f"dashboard load benchmark: {args.tree / 'app.py'}, KUCOIN_SIM_RATE={args.rate:g}, "
          f"{args.workers} client process(es), {os.cpu_count()} CPUs", flush=True)
    workers = Workers(args.workers, base)  # before any thread exists in this process
    probe = None
    t_run = time.monotonic()
    try:
        with serve(args.tree.resolve(), port, args.rate, log_path) as proc:
            print(f"server pid {proc.pid} at {base}/app (up in {time.monotonic() - t_run:.1f} s)", flush=True)
            probe = LagProbe(port)
            probe.start()
            meter = Meter(proc.pid, workers)
            base_rate = baseline(meter, probe, workers, args.baseline_seconds)
            if args.churn:
                churn(args, meter, probe, workers, base_rate, proc.pid)
            else:
                results = ramp(args, meter, probe, workers, base_rate, proc.pid)
                print(f"\nserver CPU per session per frame = (server CPU - {100 * base_rate:.1f}% baseline) / "
                      f"(sessions x {NOMINAL_HZ:g} Hz x s); ms/update = per burst of messages actually received "
                      f"(one session-clock tick that sent something); lag = GET / latency every 100 ms; "
                      f"hub lag = the hub's own tick lag as shown on the page (max of 1 Hz samples)\n")
                print(HEAD)
                for w in results:
                    print(row(w))
                held = [w["n"] for w in results if w["lag99"] < 50 and w["server_pct"] < 95 and not w["dead"]]
                best = max(held, default=0)
                print(f"\ntarget: >= 50 sessions on one core with loop lag p99 < 50 ms -> "
                      f"{'MET' if best >= 50 else 'NOT MET'} (largest step that held: {best}); "
                      f"Bokeh's floor on this machine is about 0.75 ms per session per frame", flush=True)
                errs = sorted({e for w in results for e in w["errors"]})
                if errs:
                    print("client errors:", *errs[:5], sep="\n  ")
            if args.py_spy:
                print(f"py-spy profile of the last step: {args.py_spy}")
            print(f"wall time {time.monotonic() - t_run:.0f} s; lag probe errors: {probe.errors}")
    finally:
        if probe is not None:
            probe.stop()
        workers.quit()
        if args.keep_log:
            print(f"server log: {log_path}")
        else:
            log_path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
