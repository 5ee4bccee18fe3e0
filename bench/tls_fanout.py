#!/usr/bin/python3
"""What TLS costs chatd for fan-out: the same broadcast over ws:// and wss://.

For each of plain and TLS, a fresh chatd (--ws-rate 0, a temporary SQLite
database, a certificate made by scripts/make-cert.sh) gets N receiving
WebSockets (one user, N connections, all in the lobby) and one sender who
sends M messages of B bytes, at most W unacknowledged.  The numbers are
chatd's own CPU time (user + system, from /proc) for opening the N
connections and for the whole fan-out (N x M deliveries), so the Python
client's own cost does not count.  A shared, noisy machine: compare the two
modes of one run, never absolute numbers.

  bench/tls_fanout.py [--chatd build-bench/chatd] [--receivers 200] [--messages 200]
                      [--size 64] [--window 16]
"""
import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

import websockets

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
READY = re.compile(r"chatd listening on (https?)://127\.0\.0\.1:(\d+)")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Chatd:
    def __init__(self, binary, tmp, tls_files):
        self.tmp = tmp
        args = [binary, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "chat.db"),
                "--public", os.path.join(ROOT, "public"), "--ws-rate", "0"]
        if tls_files:
            args += ["--tls-cert", tls_files[0], "--tls-key", tls_files[1]]
        self.log = open(os.path.join(tmp, "chatd.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            line = self.proc.stdout.readline().decode()
            m = READY.search(line)
            if m:
                self.port = int(m.group(2))
                break
            if not line or time.monotonic() > deadline:
                raise RuntimeError("chatd did not start (see %s)" % self.log.name)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def http_call(port, ctx, method, path, body):
    conn = (http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60) if ctx
            else http.client.HTTPConnection("127.0.0.1", port, timeout=60))
    conn.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    cookie = resp.getheader("Set-Cookie") or ""
    conn.close()
    if resp.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, resp.status, data[:200]))
    m = re.search(r"sid=([^;]+)", cookie)
    return json.loads(data) if data else None, m.group(1) if m else None


def user(port, ctx, name):
    pw = "benchmark password " + name
    http_call(port, ctx, "POST", "/api/register",
              {"username": name, "password": pw, "email": name + "@example.org"})
    return http_call(port, ctx, "POST", "/api/login", {"username": name, "password": pw})[1]


async def run_mode(srv, ctx, args):
    scheme = "wss" if ctx else "ws"
    url = "%s://127.0.0.1:%d/ws" % (scheme, srv.port)
    recv_sid = user(srv.port, ctx, "recv")
    send_sid = user(srv.port, ctx, "send")
    kw = {"ssl": ctx} if ctx else {}

    async def connect(sid):
        return await websockets.connect(url, extra_headers={"Cookie": "sid=" + sid},
                                        max_size=None, max_queue=None, ping_interval=None,
                                        compression=None, **kw)

    async def join(ws):
        await ws.send(json.dumps({"type": "join", "room": 1}))
        while '"joined"' not in await ws.recv():
            pass

    cpu0 = cpu_seconds(srv.proc.pid)
    receivers = await asyncio.gather(*(connect(recv_sid) for _ in range(args.receivers)))
    cpu_connect = cpu_seconds(srv.proc.pid) - cpu0
    await asyncio.gather(*(join(ws) for ws in receivers))
    sender = await connect(send_sid)
    await join(sender)
    await asyncio.sleep(0.5)   # presence frames settle

    got = [0] * len(receivers)
    done = asyncio.Event()
    remaining = [len(receivers)]

    async def receive(i, ws):
        while got[i] < args.messages:
            frame = await ws.recv()
            if '"type":"message"' in frame:
                got[i] += 1
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set()

    text = "x" * args.size
    cpu0 = cpu_seconds(srv.proc.pid)
    t0 = time.monotonic()
    tasks = [asyncio.create_task(receive(i, ws)) for i, ws in enumerate(receivers)]
    sem = asyncio.Semaphore(args.window)

    async def acks():
        n = 0
        while n < args.messages:
            frame = await sender.recv()
            if '"type":"ack"' in frame:
                n += 1
                sem.release()

    ack_task = asyncio.create_task(acks())
    for i in range(args.messages):
        await sem.acquire()
        await sender.send(json.dumps({"type": "send", "room": 1, "text": text, "cid": "b%d" % i}))
    await asyncio.wait_for(done.wait(), 600)
    await ack_task
    wall = time.monotonic() - t0
    cpu_fanout = cpu_seconds(srv.proc.pid) - cpu0
    for t in tasks:
        await t
    for ws in receivers + [sender]:
        await ws.close()
    return cpu_connect, cpu_fanout, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chatd", default=os.path.join(ROOT, "build-bench", "chatd"))
    ap.add_argument("--receivers", type=int, default=200)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--window", type=int, default=16)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="chatd-tlsbench-")
    try:
        subprocess.run([os.path.join(ROOT, "scripts", "make-cert.sh"), tmp, "chatd bench"],
                       check=True)
        files = (os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem"))
        ctx = ssl.create_default_context(cafile=files[0])
        results = {}
        for mode in ("plain", "tls"):
            d = os.path.join(tmp, mode)
            os.makedirs(d)
            srv = Chatd(args.chatd, d, files if mode == "tls" else None)
            try:
                results[mode] = asyncio.run(run_mode(srv, ctx if mode == "tls" else None, args))
            finally:
                srv.stop()
        deliveries = args.receivers * args.messages
        print("%d receivers x %d messages of %d bytes = %d deliveries" % (
            args.receivers, args.messages, args.size, deliveries))
        for mode, (conn_cpu, fan_cpu, wall) in results.items():
            print("RESULT mode=%s connect_cpu_ms=%.1f fanout_cpu_ms=%.1f cpu_us_per_delivery=%.2f "
                  "wall_s=%.2f" % (mode, conn_cpu * 1e3, fan_cpu * 1e3, fan_cpu * 1e6 / deliveries,
                                   wall))
        p, t = results["plain"], results["tls"]
        if p[1] > 0:
            print("tls/plain fan-out CPU: %.2fx" % (t[1] / p[1]))
        print("tls connect CPU per connection: %.2f ms" % (t[0] * 1e3 / args.receivers))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
