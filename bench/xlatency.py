#!/usr/bin/python3
"""Cross-instance delivery latency and order: two chatd instances sharing one
MariaDB and one Redis.

Senders on instance A send into one room at a fixed total rate; receivers on
instance B (and, for reference, on A) record when each message arrives.  The
latency of a message is its arrival time minus the moment its sender handed
it to the socket (one clock: every client runs in this process).  Order: each
receiver must get the messages of the room in seq order, each once, without
gaps (no message is deleted); with a chatd that has no seq, in id order.

By default the script starts its own MariaDB and Redis (scripts/mariadb-temp.sh,
scripts/redis-temp.sh) in a temporary folder and two chatd instances on it,
and stops everything at the end.  --store/--redis use servers already running
(a fresh database is best).

  bench/xlatency.py [--chatd build-bench/chatd] [--rate 50] [--seconds 20]
                    [--senders 5] [--receivers 5] [--store URL --redis URL]

Output: one line per receiver group, e.g.
  B (cross-instance): 1000 msgs x 5 receivers: p50 2.1 ms  p99 6.0 ms  max 9.8 ms  order violations 0
and a final RESULT line that other scripts can read.
"""
import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import websockets

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
READY = re.compile(r"chatd listening on https?://127\.0\.0\.1:(\d+)")


def script(name, cmd, folder):
    cp = subprocess.run([os.path.join(ROOT, "scripts", name), cmd, folder], stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if cp.returncode != 0:
        raise RuntimeError("%s %s failed: %s" % (name, cmd, cp.stderr.decode("utf-8", "replace")))
    return cp.stdout.decode().strip()


class Chatd:
    def __init__(self, binary, tmp, label, store, redis):
        args = [binary, "--listen", "127.0.0.1:0", "--store", store, "--redis", redis,
                "--public", os.path.join(ROOT, "public"), "--ws-rate", "0",
                "--register-limit", "0", "--login-ip-limit", "0"]
        self.log = open(os.path.join(tmp, "chatd-%s.log" % label), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            line = self.proc.stdout.readline().decode()
            m = READY.search(line)
            if m:
                self.port = int(m.group(1))
                break
            if not line or time.monotonic() > deadline:
                raise RuntimeError("chatd %s did not start (see %s)" % (label, self.log.name))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def http_call(port, method, path, body=None, sid=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if sid:
        headers["Cookie"] = "sid=" + sid
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    resp = conn.getresponse()
    data = resp.read()
    cookie = resp.getheader("Set-Cookie") or ""
    conn.close()
    if resp.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, resp.status, data[:200]))
    m = re.search(r"sid=([^;]+)", cookie)
    return (json.loads(data) if data else None), (m.group(1) if m else None)


def user(port, name):
    pw = "bench-password-" + name
    http_call(port, "POST", "/api/register", {"username": name, "password": pw, "email": name + "@example.org"})
    return http_call(port, "POST", "/api/login", {"username": name, "password": pw})[1]


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


async def run(args, port_a, port_b):
    tag = os.urandom(3).hex()
    rooms, _ = http_call(port_a, "GET", "/api/rooms", sid=user(port_a, "xl%s-probe" % tag))
    room = next(r["id"] for r in rooms["rooms"] if r["name"] == "lobby")

    async def connect(port, name):
        sid = user(port, name)
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % port, extra_headers={"Cookie": "sid=" + sid},
                                      max_size=None, max_queue=None, ping_interval=None)
        await ws.send(json.dumps({"type": "join", "room": room}))
        while True:
            f = json.loads(await ws.recv())
            if f.get("type") == "joined":
                return ws
    senders = [await connect(port_a, "xl%s-s%d" % (tag, i)) for i in range(args.senders)]
    groups = {"B (cross-instance)": [await connect(port_b, "xl%s-b%d" % (tag, i)) for i in range(args.receivers)],
              "A (same instance)": [await connect(port_a, "xl%s-a%d" % (tag, i)) for i in range(args.receivers)]}
    total = int(args.rate * args.seconds)
    sent_at = {}          # text -> monotonic time of the send
    lat = {g: [] for g in groups}
    when = {g: [] for g in groups}    # send time (s after the start) of each sample
    first = {g: {} for g in groups}   # text -> the first arrival in the group
    violations = {g: 0 for g in groups}
    got = {g: 0 for g in groups}
    done = asyncio.Event()

    async def receive(g, ws):
        last_seq = last_id = None
        n = 0
        while n < total:
            f = json.loads(await ws.recv())
            if f.get("type") != "message" or f.get("room") != room or not f.get("text", "").startswith("xl" + tag):
                continue
            now = time.monotonic()
            n += 1
            lat[g].append((now - sent_at[f["text"]]) * 1000.0)
            first[g].setdefault(f["text"], now)
            when[g].append(sent_at[f["text"]] - t0)
            seq = f.get("seq")
            if seq is not None:
                if last_seq is not None and seq != last_seq + 1:
                    violations[g] += 1
                last_seq = seq
            elif last_id is not None and f["id"] <= last_id:
                violations[g] += 1
            last_id = f["id"]
        got[g] += n

    async def acks(ws):
        while not done.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                pass
            except websockets.exceptions.ConnectionClosed:
                return

    t0 = time.monotonic() + 0.2
    readers = [asyncio.ensure_future(receive(g, ws)) for g, wss in groups.items() for ws in wss]
    drains = [asyncio.ensure_future(acks(ws)) for ws in senders]
    for i in range(total):
        due = t0 + i / args.rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        text = "xl%s-%06d" % (tag, i)
        sent_at[text] = time.monotonic()
        await senders[i % len(senders)].send(json.dumps({"type": "send", "room": room, "text": text}))
    try:
        await asyncio.wait_for(asyncio.gather(*readers), args.seconds + 60)
    except asyncio.TimeoutError:
        print("timed out waiting for deliveries", file=sys.stderr)
    done.set()
    await asyncio.gather(*drains, return_exceptions=True)
    for ws in senders + [w for wss in groups.values() for w in wss]:
        await ws.close()
    result = {}
    if args.verbose:
        for g in groups:
            worst = sorted(zip(lat[g], when[g]), reverse=True)[:10]
            print("%s: slowest (ms @ s): %s" % (g, ", ".join("%.0f@%.1f" % w for w in worst)))
    for g in groups:
        v = lat[g]
        print("%s: %d msgs x %d receivers (%d received): p50 %.1f ms  p99 %.1f ms  max %.1f ms  "
              "order violations %d" % (g, total, args.receivers, got[g], pct(v, 50), pct(v, 99),
                                       max(v) if v else float("nan"), violations[g]))
        result[g.split()[0]] = (pct(v, 50), pct(v, 99), max(v) if v else float("nan"), violations[g],
                                total * args.receivers - got[g])
    b, a = result["B"], result["A"]
    # What the second instance adds: the first arrival on B minus the first
    # on A of the same message (a commit stall delays both alike).
    fb, fa = first["B (cross-instance)"], first["A (same instance)"]
    extra = [(fb[t] - fa[t]) * 1000.0 for t in fb if t in fa]
    print("B minus A, per message: p50 %.1f ms  p99 %.1f ms  max %.1f ms" % (
        pct(extra, 50), pct(extra, 99), max(extra) if extra else float("nan")))
    print("RESULT xlatency rate=%g msgs=%d cross_p50_ms=%.2f cross_p99_ms=%.2f cross_max_ms=%.2f "
          "cross_order_violations=%d cross_missing=%d local_p50_ms=%.2f local_p99_ms=%.2f "
          "extra_p50_ms=%.2f extra_p99_ms=%.2f"
          % (args.rate, total, b[0], b[1], b[2], b[3], b[4], a[0], a[1], pct(extra, 50), pct(extra, 99)))
    return 0 if b[3] == 0 and b[4] == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chatd", default=os.path.join(ROOT, "build-bench", "chatd"))
    ap.add_argument("--rate", type=float, default=50.0, help="messages a second, all senders together")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--senders", type=int, default=5)
    ap.add_argument("--receivers", type=int, default=5, help="per instance")
    ap.add_argument("--verbose", action="store_true", help="also print the slowest deliveries")
    ap.add_argument("--store", help="mysql:// URL of a database to use (default: a private MariaDB)")
    ap.add_argument("--redis", help="redis:// URL to use (default: a private Redis)")
    args = ap.parse_args()
    if not os.access(args.chatd, os.X_OK):
        sys.exit("xlatency: no chatd at %s (build it, or pass --chatd)" % args.chatd)
    tmp = tempfile.mkdtemp(prefix="xlatency-", dir="/tmp")
    started = []
    servers = []
    try:
        store, redis = args.store, args.redis
        if not store:
            store = script("mariadb-temp.sh", "start", os.path.join(tmp, "db"))
            started.append(("mariadb-temp.sh", os.path.join(tmp, "db")))
        if not redis:
            redis = script("redis-temp.sh", "start", os.path.join(tmp, "redis"))
            started.append(("redis-temp.sh", os.path.join(tmp, "redis")))
        servers.append(Chatd(args.chatd, tmp, "A", store, redis))
        servers.append(Chatd(args.chatd, tmp, "B", store, redis))
        return asyncio.run(run(args, servers[0].port, servers[1].port))
    finally:
        for s in servers:
            s.stop()
        for name, folder in reversed(started):
            try:
                script(name, "stop", folder)
            except Exception as e:
                print("stopping %s: %s" % (name, e), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
