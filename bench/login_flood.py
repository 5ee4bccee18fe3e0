#!/usr/bin/python3
"""Login flood: what a stream of bogus logins does to a connected user.

One user is logged in with a WebSocket in the lobby and sends a message at a
steady pace, timing each send until its ack.  First alone (the baseline),
then while N clients (in a process of their own) keep N logins in flight
with made-up usernames and wrong passwords (each one an argon2id
verification on the server).  It
prints the send->ack percentiles of both phases, how the logins were
answered, and chatd's peak resident memory.  Nothing is asserted: it prints
figures (the machine is shared; compare the two phases of one run).

    bench/login_flood.py --chatd build-bench/chatd            # starts its own chatd
    bench/login_flood.py --url http://127.0.0.1:8080 --pid N  # an existing one

A chatd it starts gets a fresh database in a temporary folder and
--login-ip-limit 0 and --ws-rate 0 (every login comes from 127.0.0.1, the
user sends faster than the flood limit allows, and the point is the hashing,
not those limits), plus any --chatd-arg.  Needs
python3-websockets (Debian).
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
READY_RE = re.compile(r"chatd listening on http://([0-9.]+):(\d+)")


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def summary(name, lat):
    return "%-9s sends %5d  p50 %8.2f ms  p90 %8.2f ms  p99 %8.2f ms  max %8.2f ms" % (
        name, len(lat), percentile(lat, 50), percentile(lat, 90), percentile(lat, 99),
        max(lat) if lat else float("nan"))


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ---- a small HTTP/1.1 client on asyncio streams ----------------------------

async def http_request(reader, writer, host, method, path, body=None, cookie=None):
    data = json.dumps(body).encode() if body is not None else b""
    head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    if cookie:
        head += "Cookie: %s\r\n" % cookie
    writer.write(head.encode() + b"\r\n" + data)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    n = int(headers.get("content-length", ["0"])[0])
    payload = await reader.readexactly(n) if n else b""
    return status, headers, payload


async def one_shot(host, port, method, path, body=None, cookie=None):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        return await http_request(reader, writer, "%s:%d" % (host, port), method, path, body, cookie)
    finally:
        writer.close()


# ---- the phases -------------------------------------------------------------

async def login_worker(host, port, stop, counts, pause_s):
    """Keeps one bogus login in flight (keep-alive, reconnecting when the
    server closes)."""
    reader = writer = None
    while not stop.is_set():
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            name = "x" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
            status, headers, _ = await http_request(
                reader, writer, "%s:%d" % (host, port), "POST", "/api/login",
                {"username": name, "password": "not-the-password-%d" % random.randrange(10**9)})
            counts[status] = counts.get(status, 0) + 1
            if "close" in ",".join(headers.get("connection", [])).lower():
                writer.close()
                writer = None
            if status in (429, 503):
                await asyncio.sleep(pause_s)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            counts["error"] = counts.get("error", 0) + 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


def flood_process(host, port, logins, pause_s, stop, result):
    """The login flood, in a process of its own so that its event loop does
    not delay the measuring one: keeps `logins` logins in flight until stop
    is set, then puts the answers' counts in result."""
    async def main():
        done = asyncio.Event()
        counts = {}
        workers = [asyncio.ensure_future(login_worker(host, port, done, counts, pause_s))
                   for _ in range(logins)]
        while not stop.is_set():
            await asyncio.sleep(0.05)
        done.set()
        await asyncio.gather(*workers, return_exceptions=True)
        return counts
    result.put(asyncio.run(main()))


async def sender(ws, room, seconds, every_s, lat):
    """Sends one message at a time until seconds pass; appends each send->ack
    time (ms) to lat."""
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        cid = "b%d-%d" % (os.getpid(), i)
        t0 = time.perf_counter()
        await ws.send(json.dumps({"type": "send", "room": room, "text": "ping %d" % i, "cid": cid}))
        while True:
            f = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if f.get("cid") == cid and f.get("type") in ("ack", "error"):
                break
        if f["type"] == "ack":
            lat.append((time.perf_counter() - t0) * 1000.0)
        else:
            print("send refused: %r" % f, file=sys.stderr)
        await asyncio.sleep(every_s)


async def run(args, host, port, pid):
    # The user who chats.
    name = "bench%06d" % random.randrange(10**6)
    pw = "a bench password"
    st, _, body = await one_shot(host, port, "POST", "/api/register",
                                 {"username": name, "password": pw, "email": name + "@example.org"})
    if st != 201:
        sys.exit("register: %d %s" % (st, body[:200]))
    st, headers, body = await one_shot(host, port, "POST", "/api/login", {"username": name, "password": pw})
    if st != 200:
        sys.exit("login: %d %s" % (st, body[:200]))
    sid = None
    for sc in headers.get("set-cookie", []):
        if sc.startswith("sid="):
            sid = sc.split(";")[0][4:]
    st, _, body = await one_shot(host, port, "GET", "/api/rooms", cookie="sid=" + sid)
    lobby = next(r["id"] for r in json.loads(body)["rooms"] if r["name"] == "lobby")
    ws = await websockets.connect("ws://%s:%d/ws" % (host, port), extra_headers={"Cookie": "sid=" + sid},
                                  max_size=None)
    await ws.send(json.dumps({"type": "join", "room": lobby}))
    while json.loads(await ws.recv()).get("type") != "joined":
        pass

    peak = {"rss": rss_kb(pid) if pid else None}

    async def sample_rss(stop):
        while not stop.is_set():
            r = rss_kb(pid)
            if r and (peak["rss"] is None or r > peak["rss"]):
                peak["rss"] = r
            await asyncio.sleep(0.1)

    every = args.send_every_ms / 1000.0
    base = []
    await sender(ws, lobby, args.baseline_seconds, every, base)
    rss_before = rss_kb(pid) if pid else None

    stop = asyncio.Event()
    sampler = asyncio.ensure_future(sample_rss(stop)) if pid else None
    ctx = multiprocessing.get_context("fork")
    flood_stop = ctx.Event()
    result = ctx.Queue()
    proc = ctx.Process(target=flood_process,
                       args=(host, port, args.logins, args.refused_pause_ms / 1000.0, flood_stop, result))
    proc.start()
    await asyncio.sleep(1.0)  # let the flood build up
    flood = []
    t0 = time.monotonic()
    await sender(ws, lobby, args.seconds, every, flood)
    elapsed = time.monotonic() - t0 + 1.0
    flood_stop.set()
    counts = await asyncio.get_running_loop().run_in_executor(None, result.get)
    proc.join()
    stop.set()
    if sampler:
        await sampler
    await ws.close()

    print("login flood: %d logins in flight, %.0f s, a send every %d ms, refused logins retried after %d ms"
          % (args.logins, args.seconds, args.send_every_ms, args.refused_pause_ms))
    print(summary("baseline", base))
    print(summary("flood", flood))
    total = sum(v for k, v in counts.items() if k != "error")
    print("logins answered: %d (%.0f/s): %s" % (
        total, total / elapsed, ", ".join("%s: %d" % (k, v) for k, v in sorted(counts.items(), key=str))))
    if pid:
        print("chatd RSS: %.1f MB before the flood, %.1f MB at its peak" % (
            (rss_before or 0) / 1024.0, (peak["rss"] or 0) / 1024.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chatd", help="start this chatd binary (fresh database)")
    ap.add_argument("--url", help="use the chatd at this URL instead (http://HOST:PORT)")
    ap.add_argument("--pid", type=int, help="with --url: chatd's pid, for its memory")
    ap.add_argument("--chatd-arg", action="append", default=[], help="more chatd arguments (repeatable)")
    ap.add_argument("--plain", action="store_true",
                    help="start chatd without --login-ip-limit 0 --ws-rate 0 (for builds without them)")
    ap.add_argument("--logins", type=int, default=200, help="logins kept in flight (default 200)")
    ap.add_argument("--seconds", type=float, default=20, help="length of the flood phase (default 20)")
    ap.add_argument("--baseline-seconds", type=float, default=5, help="length of the baseline (default 5)")
    ap.add_argument("--send-every-ms", type=int, default=20, help="pause between sends (default 20)")
    ap.add_argument("--refused-pause-ms", type=int, default=250,
                    help="a login client refused with 429/503 waits this long (default 250)")
    args = ap.parse_args()
    if bool(args.chatd) == bool(args.url):
        ap.error("give --chatd or --url")

    proc = tmp = None
    pid = args.pid
    if args.chatd:
        tmp = tempfile.mkdtemp(prefix="login-flood-")
        cmd = [args.chatd, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "chat.db"),
               "--public", os.path.join(HERE, "..", "public")]
        if not args.plain:
            cmd += ["--login-ip-limit", "0", "--ws-rate", "0"]
        cmd += args.chatd_arg
        print("chatd: %s" % " ".join(cmd[1:]))
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "stderr.log"), "wb"))
        host = port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                break
            m = READY_RE.search(line)
            if m:
                host, port = m.group(1), int(m.group(2))
                break
        if port is None:
            proc.kill()
            sys.exit("chatd did not start; see %s/stderr.log" % tmp)
        pid = proc.pid
    else:
        m = re.match(r"http://([^:/]+):(\d+)", args.url)
        if not m:
            ap.error("--url http://HOST:PORT")
        host, port = m.group(1), int(m.group(2))
    try:
        asyncio.run(run(args, host, port, pid))
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(15)
                if rc != 0:
                    print("chatd exited with %d" % rc, file=sys.stderr)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
