#!/usr/bin/python3
"""Soak: two chatd instances under churn, traffic, restarts and a Redis outage.

For --minutes (default 5) it runs, against two chatd instances that share one
MariaDB and one Redis:

  * steady traffic: "stayer" clients (half on each instance) send to their
    rooms and to a friend by DM at --rate messages a second in all;
  * connection churn: "churner" clients log in (again), connect to either
    instance, join rooms (sometimes with `since`), send a few messages, leave,
    and disconnect (cleanly or by dropping the TCP connection);
  * restarts: every --restart-every seconds one instance (in turn) is
    stopped, with SIGTERM or, one time in --kill-every, SIGKILL, and started
    again on the same port;
  * Redis outages: Redis is stopped for --redis-down seconds, then started
    again on the same port (--redis-outages times, at least once).

The clients behave as a real client does: a send is repeated with the same
cid until it is acknowledged (after a reconnect, an error, or no ack in
time), and a client that reconnects joins its rooms again with `since` = the
newest id it has, pages back through GET /api/rooms/{id}/messages when
`joined` holds only the newest part of the gap ("partial": true, or 200
messages when the server does not say), and catches up on its DMs over HTTP.
Where message objects carry a per-room `seq`, a jump in it is a gap that the
client fetches from the store.

At the end every acknowledged message must be in the store (read back
through GET history) exactly once, with the id of its ack, and no cid may be
stored twice: otherwise the exit status is 1.  For each stayer and each of
its conversations the messages it should have seen are counted as
delivered live, recovered (by resume or gap fetch) or never seen; live gaps
across a restart or an outage are expected, messages never seen are
reported (and fail the run with --strict-delivery).  RSS (VmRSS) and open fd
count of each instance are printed at the start, every --report-every
seconds and at the end, per process: a restarted instance is a new process
compared with its own baseline (taken --baseline-after seconds after it
started); the idle figures compare a fresh process before any client with
the same instance after every client has gone.

    bench/soak.py                         # private MariaDB + Redis, build/chatd (or build-test/chatd)
    bench/soak.py --minutes 30 --rate 150 --chatd build/chatd
    bench/soak.py --store mysql://... --redis redis://HOST:PORT/0    # existing servers; chatd started here
    bench/soak.py --url http://127.0.0.1:8080 --url http://127.0.0.1:8081 --pid 123 --pid 124
                                          # existing instances: no restarts, no outage

Every chatd it starts gets --ws-rate 0 --register-limit 0 --login-ip-limit 0
--max-conns-ip 0: one process sends for many users from 127.0.0.1.  Traffic
goes to 127.0.0.1 only.  Needs python3-websockets (Debian), as the
integration tests do, and for the private servers redis-server and
mariadb-server.  Not run by CI.
"""

import argparse
import asyncio
import collections
import concurrent.futures
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

import websockets
import websockets.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = os.path.join(ROOT, "scripts")
READY_RE = re.compile(r"chatd listening on http://127\.0\.0\.1:(\d+)")
JOIN_SINCE_MAX = 200        # what `joined` holds at most after `since` (CHAT_JOIN_SINCE_MAX)
PAGE_MAX = 200              # the largest history page (CHAT_PAGE_MAX)
ACK_TIMEOUT = 15.0          # a send without an ack by then is sent again (same cid)
HTTP_TIMEOUT = 15.0
PASSWORD = "soak-password-1"
LIMIT_ARGS = ["--ws-rate", "0", "--register-limit", "0", "--login-ip-limit", "0", "--max-conns-ip", "0"]

T0 = time.monotonic()
# chatd is started and stopped from this one thread, which lives until the
# end: a child's PR_SET_PDEATHSIG fires when the thread that forked it ends.
PROCS = concurrent.futures.ThreadPoolExecutor(max_workers=1)


def log(msg):
    print("[%7.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def die_with_parent():
    # In the child between fork and exec: SIGKILL when the soak process dies.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


# ---------------------------------------------------------------------------
# Process figures

def proc_figures(pid):
    """(VmRSS in KiB, open fds) of pid, or (None, None) if it is gone."""
    rss = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    break
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, ValueError):
        return None, None
    return rss, fds


def mib(kib):
    return "-" if kib is None else "%.1f MiB" % (kib / 1024.0)


class ProcLife:
    """One process of an instance, from its start to its end.  Its figures
    are sampled every few seconds; a login's password hash (argon2id, 64 MiB
    for a moment) makes RSS jump while it runs, so the baseline and the last
    figure are each the smallest RSS over a window of samples (WINDOW s)."""

    WINDOW = 30.0

    def __init__(self, pid):
        self.pid = pid
        self.started = time.monotonic()
        self.ended = None
        self.how = "running"
        self.first = proc_figures(pid)      # right after readiness (idle only for the first)
        self.samples = []                   # (time, rss, fds)
        self.peak_rss = self.first[0] or 0
        self.peak_at = self.started
        self.idle_end = None                # after every client left (end of the run)
        self.exit_code = None
        self.baseline_after = 20.0

    def sample(self, baseline_after):
        self.baseline_after = baseline_after
        rss, fds = proc_figures(self.pid)
        if rss is None:
            return
        now = time.monotonic()
        self.samples.append((now, rss, fds))
        if rss > self.peak_rss:
            self.peak_rss = rss
            self.peak_at = now

    def _window(self, t0, t1):
        got = [(rss, fds) for t, rss, fds in self.samples if t0 <= t <= t1]
        return min(got) if got else None

    def baseline(self):
        t0 = self.started + self.baseline_after
        return self._window(t0, t0 + self.WINDOW)

    def last(self):
        if not self.samples:
            return self.first
        t1 = self.samples[-1][0]
        return self._window(max(t1 - self.WINDOW, self.started + self.baseline_after), t1) or self.samples[-1][1:]

    def describe(self):
        life = (self.ended or time.monotonic()) - self.started
        base = self.baseline()
        last = self.last()
        if base is None:
            return "pid %d %s, %.0fs: too short for a baseline; last %s %s fds, peak %s" % (
                self.pid, self.how, life, mib(last[0]), last[1], mib(self.peak_rss))
        return "pid %d %s, %.0fs: baseline %s %d fds, end %s %d fds (%+.1f MiB, %+d fds), peak %s at %.0fs" % (
            self.pid, self.how, life, mib(base[0]), base[1], mib(last[0]), last[1],
            (last[0] - base[0]) / 1024.0, last[1] - base[1], mib(self.peak_rss), self.peak_at - T0)


# ---------------------------------------------------------------------------
# Private MariaDB and Redis (scripts/mariadb-temp.sh, scripts/redis-temp.sh)

# Reads its stdin until EOF (this process ended, however), then stops the
# private servers and removes the folder; in its own session so that a
# Ctrl-C to the soak's process group does not stop it before that.
WATCHDOG = r"""
import os, shutil, subprocess, sys
scripts, redis_dir, mariadb_dir, top, keep = sys.argv[1:6]
try:
    while sys.stdin.buffer.read(65536):
        pass
except Exception:
    pass
for script, d in (("redis-temp.sh", redis_dir), ("mariadb-temp.sh", mariadb_dir)):
    try:
        subprocess.run([os.path.join(scripts, script), "stop", d], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=90)
    except Exception:
        pass
if keep != "1":
    shutil.rmtree(top, ignore_errors=True)
"""


def run_script(name, cmd, folder, timeout=120):
    cp = subprocess.run([os.path.join(SCRIPTS, name), cmd, folder], stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if cp.returncode != 0:
        raise RuntimeError("%s %s failed:\n%s" % (name, cmd, cp.stderr.decode("utf-8", "replace")))
    return cp.stdout.decode().strip()


class Infra:
    """The work folder and, unless given, a private MariaDB and Redis."""

    def __init__(self, args):
        self.top = tempfile.mkdtemp(prefix="chatd-soak-")
        self.keep = args.keep
        self.redis_dir = os.path.join(self.top, "redis")
        self.mariadb_dir = os.path.join(self.top, "mariadb")
        self.store_url = args.store
        self.redis_url = args.redis
        self.own_redis = args.redis is None and not args.url
        self.own_mariadb = args.store is None and not args.url
        self.redis_port = None
        self.redis_child = None
        self.watchdog = None

    def start(self):
        if self.own_redis or self.own_mariadb:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-c", WATCHDOG, SCRIPTS, self.redis_dir, self.mariadb_dir, self.top,
                 "1" if self.keep else "0"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        if self.own_redis:
            self.redis_url = run_script("redis-temp.sh", "start", self.redis_dir)
            log("redis: private server on port %d" % urllib.parse.urlsplit(self.redis_url).port)
        if self.own_mariadb:
            self.store_url = run_script("mariadb-temp.sh", "start", self.mariadb_dir)
            log("mariadb: private server (%s)" % self.mariadb_dir)
        if self.redis_url:
            self.redis_port = urllib.parse.urlsplit(self.redis_url).port

    def redis_pid(self):
        try:
            with open(os.path.join(self.redis_dir, "redis-server.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def redis_stop(self):
        run_script("redis-temp.sh", "stop", self.redis_dir)
        if self.redis_child is not None:
            try:
                self.redis_child.wait(15)
            except subprocess.TimeoutExpired:
                self.redis_child.kill()
                self.redis_child.wait(10)
            self.redis_child = None

    def redis_start_same_port(self, timeout=15.0):
        """redis-temp.sh picks a new port on every start; chatd keeps its URL,
        so Redis comes back on its port with the script's settings (and its
        pid file, so that `redis-temp.sh stop` stops it too)."""
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        logf = open(os.path.join(self.redis_dir, "redis.log"), "ab")
        try:
            proc = subprocess.Popen(
                [binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", self.redis_dir,
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        finally:
            logf.close()
        with open(os.path.join(self.redis_dir, "redis-server.pid"), "w") as f:
            f.write("%d\n" % proc.pid)
        self.redis_child = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("redis-server did not come back on port %d" % self.redis_port)

    def stop(self):
        if self.watchdog is not None:
            self.watchdog.stdin.close()      # the watchdog stops the servers and removes the folder
            try:
                self.watchdog.wait(180)
            except subprocess.TimeoutExpired:
                pass
            if self.redis_child is not None:
                try:
                    self.redis_child.wait(5)
                except subprocess.TimeoutExpired:
                    self.redis_child.kill()
        elif not self.keep:
            shutil.rmtree(self.top, ignore_errors=True)


# ---------------------------------------------------------------------------
# chatd instances

class Instance:
    """One chatd (started here, or an existing one given by --url)."""

    def __init__(self, name, args, infra, url=None, pid=None):
        self.name = name
        self.binary = args.chatd
        self.infra = infra
        self.public = os.path.join(ROOT, "public")
        self.port = urllib.parse.urlsplit(url).port if url else 0
        self.external = url is not None
        self.ext_pid = pid
        self.proc = None
        self.lives = []
        self.up = self.external
        self.log_path = os.path.join(infra.top, "chatd-%s.log" % name)
        self.baseline_after = args.baseline_after

    @property
    def pid(self):
        if self.external:
            return self.ext_pid
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self, timeout=60.0):
        args = [self.binary, "--listen", "127.0.0.1:%d" % self.port, "--store", self.infra.store_url,
                "--redis", self.infra.redis_url, "--public", self.public] + LIMIT_ARGS
        logf = open(self.log_path, "ab")
        logf.write(("\n=== start %d ===\n" % (len(self.lives) + 1)).encode())
        logf.flush()
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        try:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=logf,
                                    env=env, preexec_fn=die_with_parent)
        finally:
            logf.close()
        found = {}
        ready = threading.Event()

        def reader():
            # The readiness line, then whatever chatd prints later (dropped).
            for raw in iter(proc.stdout.readline, b""):
                m = READY_RE.search(raw.decode("utf-8", "replace"))
                if m and "port" not in found:
                    found["port"] = int(m.group(1))
                    ready.set()
            proc.stdout.close()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(timeout) or "port" not in found:
            proc.kill()
            proc.wait()
            raise RuntimeError("chatd %s did not start; see %s" % (self.name, self.log_path))
        self.proc = proc
        self.port = found["port"]
        self.lives.append(ProcLife(proc.pid))
        self.up = True

    def stop(self, kill=False, timeout=30.0):
        """SIGTERM (or SIGKILL); returns the exit status."""
        self.up = False
        proc = self.proc
        life = self.lives[-1]
        life.sample(self.baseline_after)
        if kill:
            proc.kill()
        else:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            life.how = "did not exit on SIGTERM"
        else:
            life.how = "SIGKILLed" if kill else "stopped (exit %d)" % proc.returncode
        life.ended = time.monotonic()
        life.exit_code = proc.returncode
        self.proc = None
        return proc.returncode

    def sample(self):
        if self.external:
            if self.ext_pid:
                if not self.lives:
                    self.lives.append(ProcLife(self.ext_pid))
                self.lives[-1].sample(self.baseline_after)
            return
        if self.proc is not None and self.lives:
            self.lives[-1].sample(self.baseline_after)

    def figures(self):
        pid = self.pid
        return proc_figures(pid) if pid else (None, None)


# ---------------------------------------------------------------------------
# A small HTTP/1.1 client on asyncio streams (one request per connection)

class HTTPError(Exception):
    pass


async def http(port, method, path, body=None, cookie=None, timeout=HTTP_TIMEOUT):
    """Returns (status, JSON body or None, sid from Set-Cookie or None)."""
    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            data = json.dumps(body).encode() if body is not None else b""
            head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (method, path, port)
            if body is not None:
                head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
            if cookie:
                head += "Cookie: sid=%s\r\n" % cookie
            writer.write(head.encode() + b"\r\n" + data)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("iso-8859-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3})", lines[0] if lines else "")
        if not m:
            raise HTTPError("bad response %r" % raw[:80])
        status = int(m.group(1))
        sid = None
        chunked = False
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            if k == "set-cookie":
                mm = re.match(r"\s*sid=([^;]*)", v)
                if mm:
                    sid = mm.group(1)
            elif k == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
        if chunked:
            out = b""
            while rest:
                size_line, _, rest = rest.partition(b"\r\n")
                n = int(size_line.split(b";")[0], 16)
                if n == 0:
                    break
                out += rest[:n]
                rest = rest[n + 2:]
            rest = out
        try:
            obj = json.loads(rest.decode("utf-8")) if rest else None
        except ValueError:
            obj = None
        return status, obj, sid
    try:
        return await asyncio.wait_for(go(), timeout)
    except (OSError, asyncio.TimeoutError) as e:
        raise HTTPError("%s %s: %s" % (method, path, e or type(e).__name__))


# ---------------------------------------------------------------------------
# The books

class Stats:
    def __init__(self):
        self.c = collections.Counter()
        self.errors = collections.Counter()     # error frames by code, failures by kind

    def inc(self, key, n=1):
        self.c[key] += n

    def err(self, key, n=1):
        self.errors[key] += n


STATS = Stats()
FAULTS = []    # [kind, start, end] in wall-clock ms (message ts are wall-clock ms)


def wall_ms():
    return int(time.time() * 1000)


class Send:
    __slots__ = ("cid", "conv", "sender", "text", "acked", "ack_ids", "tries", "sent_at", "state")

    def __init__(self, cid, conv, sender, text):
        self.cid = cid
        self.conv = conv          # ("room", id) or ("dm", frozenset of both usernames)
        self.sender = sender
        self.text = text
        self.acked = None         # the first acked id
        self.ack_ids = set()
        self.tries = 0
        self.sent_at = 0.0
        self.state = "new"        # new | inflight | wait (retry later) | acked


class Ledger:
    """Every send by cid."""

    def __init__(self):
        self.sends = {}

    def new(self, cid, conv, sender, text):
        s = Send(cid, conv, sender, text)
        self.sends[cid] = s
        STATS.inc("sent")
        return s

    def ack(self, cid, mid):
        s = self.sends.get(cid)
        if s is None or not isinstance(mid, int):
            STATS.err("ack for an unknown cid")
            return None
        if s.acked is None:
            s.acked = mid
            STATS.inc("acked")
        elif mid != s.acked:
            STATS.err("ack id changed for a cid")
        s.ack_ids.add(mid)
        s.state = "acked"
        return s


LEDGER = Ledger()


def text_for(cid, where):
    return "soak %s %s %s" % (cid, where, random.choice(["hello", "你好", "ok", "lorem ipsum dolor", "收到"]))


def cid_of(text):
    parts = (text or "").split(" ")
    return parts[1] if len(parts) >= 2 and parts[0] == "soak" else None


class Track:
    """What one stayer saw of one conversation."""

    def __init__(self):
        self.expect_after = None  # ids above this one are expected (set at the first join)
        self.got = {}             # id -> "live" | "resume" | "gap"
        self.last_id = 0
        self.live_last = 0
        self.dups = 0
        self.late_live = 0
        self.out_of_order = 0
        self.seq = {}             # seq -> id (when messages carry seq)
        self.seq_top = 0          # highest seq up to which everything is here
        self.gap_task = None

    def add(self, mid, how):
        if mid in self.got:
            if how == "live":
                if self.got[mid] == "live":
                    self.dups += 1          # the same message live twice
                else:
                    self.late_live += 1     # live after a resume or gap fetch already brought it
            return False
        self.got[mid] = how
        if mid > self.last_id:
            self.last_id = mid
        return True


# ---------------------------------------------------------------------------
# Clients

class World:
    """What every client shares: the instances, the rooms, the clock."""

    def __init__(self, args, instances):
        self.args = args
        self.instances = instances
        self.rooms = []
        self.stop = asyncio.Event()          # no new sends, no churn
        self.closing = asyncio.Event()       # clients disconnect
        self.seq_seen = False
        self.partial_seen = 0
        self.rng = random.Random(args.seed)

    def live_instances(self):
        return [i for i in self.instances if i.up]

    def pick(self, prefer=None):
        live = self.live_instances()
        if prefer is not None and prefer in live:
            return prefer
        return self.rng.choice(live) if live else None


async def page_back(port, cookie, base, before, stop_at):
    """Messages with stop_at < id < before (before None: from the newest),
    read newest page first through `base?before=&limit=`; ascending."""
    got = []
    while True:
        q = "limit=%d" % PAGE_MAX + ("&before=%d" % before if before else "")
        status, body, _ = await http(port, "GET", "%s?%s" % (base, q), cookie=cookie)
        if status != 200 or not isinstance(body, dict):
            raise HTTPError("GET %s: %s" % (base, status))
        msgs = body.get("messages") or []
        STATS.inc("history pages")
        newer = [m for m in msgs if m.get("id", 0) > stop_at]
        got = newer + got
        if len(newer) < len(msgs) or len(msgs) < PAGE_MAX or not msgs:
            return got
        before = min(m["id"] for m in msgs)


async def register(world, username, port):
    status, body, _ = await http(port, "POST", "/api/register",
                                 {"username": username, "password": PASSWORD,
                                  "email": "%s@example.org" % username})
    if status != 201:
        raise RuntimeError("register %s: %s %r" % (username, status, body))


async def login(world, username, prefer=None):
    """Logs in through a live instance; returns the session id."""
    for attempt in range(60):
        inst = world.pick(prefer)
        if inst is None:
            await asyncio.sleep(0.5)
            continue
        try:
            status, body, sid = await http(inst.port, "POST", "/api/login",
                                           {"username": username, "password": PASSWORD})
        except HTTPError:
            STATS.err("login: connection failed")
            await asyncio.sleep(0.5)
            continue
        if status == 200 and sid:
            STATS.inc("logins")
            return sid
        STATS.err("login: HTTP %d" % status)
        await asyncio.sleep(0.5 + attempt * 0.1)
    raise RuntimeError("cannot log in %s" % username)


class Stayer:
    """A user who stays: one WebSocket (reconnected when it drops), rooms and
    a DM partner, sending at a steady pace, tracking every message it sees."""

    def __init__(self, world, name, home, rooms, partner):
        self.w = world
        self.name = name
        self.home = home
        self.rooms = rooms
        self.partner = partner
        self.sid = None
        self.ws = None
        self.inst = None
        self.joined = set()
        self.join_since = {}                       # room -> the since of the join in flight
        self.tracks = {("room", r): Track() for r in rooms}
        if partner:
            self.tracks[("dm", partner)] = Track()
        self.pending = collections.OrderedDict()   # cid -> Send not yet acked
        self.n = 0
        self.connected_once = asyncio.Event()
        self.ready = asyncio.Event()               # joined everything on the current socket
        self.interval = 1.0
        self.nap_until = 0.0
        self.away = []                             # [from, to] wall-clock ms without a joined socket
        self.rng = random.Random("%s-%s" % (world.args.seed, name))

    # -- connection ------------------------------------------------------
    async def run(self):
        if self.sid is None:
            self.sid = await login(self.w, self.name, self.home)
        backoff = 0.25
        down_since = None
        while not self.w.closing.is_set():
            # Prefer the home instance; another one only when home stays down.
            prefer = self.home if (down_since is None or time.monotonic() - down_since < 5) else None
            inst = self.w.pick(prefer)
            if inst is None:
                await asyncio.sleep(0.3)
                continue
            try:
                await self.session(inst)
                backoff = 0.25
                down_since = None
            except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake,
                    websockets.exceptions.ConnectionClosed, HTTPError) as e:
                if isinstance(e, websockets.exceptions.InvalidStatusCode) and e.status_code == 401:
                    STATS.err("stayer: session refused (401), logging in again")
                    self.sid = await login(self.w, self.name, self.home)
                else:
                    STATS.inc("connect failures")
                if down_since is None:
                    down_since = time.monotonic()
            except Exception:
                STATS.err("stayer: unexpected exception (see stderr)")
                traceback.print_exc()
                if down_since is None:
                    down_since = time.monotonic()
            if self.w.closing.is_set():
                break
            if self.nap_until > time.monotonic():
                try:
                    await asyncio.wait_for(self.w.closing.wait(), self.nap_until - time.monotonic())
                except asyncio.TimeoutError:
                    pass
                continue
            await asyncio.sleep(backoff * (0.5 + self.rng.random()))
            backoff = min(backoff * 2, 4.0)

    async def session(self, inst):
        ws = await asyncio.wait_for(
            websockets.connect("ws://127.0.0.1:%d/ws" % inst.port, extra_headers={"Cookie": "sid=" + self.sid},
                               max_size=None, max_queue=None, ping_interval=None, close_timeout=3,
                               open_timeout=8), 10)
        first = not self.connected_once.is_set()
        if not first:
            STATS.inc("stayer reconnects")
        self.ws, self.inst = ws, inst
        self.joined = set()
        self.ready.clear()
        try:
            for r in self.rooms:
                tr = self.tracks[("room", r)]
                frame = {"type": "join", "room": r}
                if tr.last_id:
                    frame["since"] = tr.last_id
                self.join_since[r] = tr.last_id
                await ws.send(json.dumps(frame))
            closer = asyncio.ensure_future(self.w.closing.wait())
            catchup = asyncio.ensure_future(self.catch_up_dm(first))
            # Away from home (it was down): back there a while after it is up
            # again, as a load balancer spreads reconnecting clients.
            home_at = time.monotonic() + 10 + 20 * self.rng.random() if inst is not self.home else None
            nap_every = self.w.args.nap_every
            nap_at = time.monotonic() + self.rng.expovariate(1.0 / nap_every) if nap_every > 0 else None
            try:
                while True:
                    recv = asyncio.ensure_future(ws.recv())
                    done, _ = await asyncio.wait({recv, closer}, return_when=asyncio.FIRST_COMPLETED,
                                                 timeout=1.0)
                    if recv in done:
                        raw = recv.result()    # never dropped: a frame read is handled first
                        try:
                            f = json.loads(raw)
                        except ValueError:
                            STATS.err("frame is not JSON")
                        else:
                            await self.on_frame(f)
                    else:
                        recv.cancel()
                    if closer in done:
                        await ws.close()
                        return
                    if home_at and time.monotonic() >= home_at and self.home.up:
                        STATS.inc("stayers moved back home")
                        await ws.close()
                        return
                    if nap_at and time.monotonic() >= nap_at and not self.w.stop.is_set():
                        # Offline for a while (a laptop lid, a tunnel): back with `since` later.
                        STATS.inc("stayer naps")
                        self.nap_until = time.monotonic() + self.rng.uniform(*self.w.args.nap_length)
                        await ws.close()
                        return
            finally:
                closer.cancel()
                catchup.cancel()
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else 1006
            STATS.inc("stayer closes (%d)" % code)
            raise
        finally:
            self.ws = None
            if self.ready.is_set():
                self.away.append([wall_ms(), None])
            self.ready.clear()
            for s in self.pending.values():
                if s.state == "inflight":
                    s.state = "new"      # sent again (same cid) on the next socket

    async def on_frame(self, f):
        t = f.get("type")
        STATS.inc("frames")
        if t == "message":
            self.on_message(("room", f.get("room")), f)
        elif t == "dm":
            peer = f.get("to") if f.get("sender") == self.name else f.get("sender")
            self.on_message(("dm", peer), f)
        elif t == "ack":
            s = LEDGER.ack(f.get("cid"), f.get("id"))
            if s is not None:
                self.pending.pop(s.cid, None)
        elif t == "joined":
            await self.on_joined(f)
        elif t == "error":
            code = f.get("code")
            STATS.err("error frame %s" % code)
            s = self.pending.get(f.get("cid"))
            if s is not None:
                s.state = "wait"
                s.sent_at = time.monotonic() + 1.0 + self.rng.random()   # sent again after this
        elif t == "ping":
            pass

    def on_message(self, key, f):
        tr = self.tracks.get(key)
        mid = f.get("id")
        if tr is None or not isinstance(mid, int):
            return
        if tr.add(mid, "live"):
            STATS.inc("delivered live")
            if mid < tr.live_last:
                tr.out_of_order += 1
            tr.live_last = max(tr.live_last, mid)
        self.note_seq(key, tr, f)

    def note_seq(self, key, tr, m, how="live"):
        seq = m.get("seq")
        if not isinstance(seq, int) or key[0] != "room":
            return
        self.w.seq_seen = True
        tr.seq[seq] = m["id"]
        if tr.seq_top == 0:
            tr.seq_top = seq
            return
        while tr.seq_top + 1 in tr.seq:
            tr.seq_top += 1
        if seq > tr.seq_top + 1 and how == "live" and tr.gap_task is None:
            tr.gap_task = asyncio.ensure_future(self.fill_seq_gap(key, tr))

    async def fill_seq_gap(self, key, tr):
        """A jump in seq: wait a little for the missing messages, then read them from the store."""
        try:
            await asyncio.sleep(1.0)
            top = tr.seq_top
            while tr.seq_top + 1 in tr.seq:
                tr.seq_top += 1
            if not any(s > tr.seq_top + 1 for s in tr.seq):
                return
            STATS.inc("seq gaps fetched")
            after = tr.seq.get(tr.seq_top, 0)
            inst = self.inst or self.w.pick()
            if inst is None:
                return
            msgs = await page_back(inst.port, self.sid, "/api/rooms/%d/messages" % key[1], None, after)
            for m in msgs:
                if tr.add(m["id"], "gap"):
                    STATS.inc("recovered by gap fetch")
                self.note_seq(key, tr, m, how="gap")
            if tr.seq_top == top:
                tr.seq_top = max(tr.seq)   # what the store has is all there is
        except (HTTPError, OSError):
            STATS.err("seq gap fetch failed")
        finally:
            tr.gap_task = None

    async def on_joined(self, f):
        r = f.get("room")
        tr = self.tracks.get(("room", r))
        if tr is None:
            return
        hist = [m for m in (f.get("history") or []) if isinstance(m.get("id"), int)]
        since = self.join_since.get(r, tr.last_id)
        if tr.expect_after is None:
            tr.expect_after = max([m["id"] for m in hist] or [0])
            for m in hist:
                tr.add(m["id"], "initial")
                self.note_seq(("room", r), tr, m, how="initial")
        else:
            for m in hist:
                if tr.add(m["id"], "resume"):
                    STATS.inc("recovered by resume")
                self.note_seq(("room", r), tr, m, how="resume")
            partial = f.get("partial")
            if partial is True:
                self.w.partial_seen += 1
            if hist and (partial is True or (partial is None and len(hist) >= JOIN_SINCE_MAX)):
                # Only the newest part of the gap: the rest from history.
                STATS.inc("resumes paged")
                msgs = await page_back(self.inst.port, self.sid, "/api/rooms/%d/messages" % r,
                                       min(m["id"] for m in hist), since)
                for m in msgs:
                    if tr.add(m["id"], "resume"):
                        STATS.inc("recovered by resume")
                    self.note_seq(("room", r), tr, m, how="resume")
        self.joined.add(r)
        if self.joined >= set(self.rooms) and not self.ready.is_set():
            if self.away and self.away[-1][1] is None:
                self.away[-1][1] = wall_ms()
            self.ready.set()
            self.connected_once.set()

    async def catch_up_dm(self, first):
        """After a reconnect: the DMs missed meanwhile, over HTTP (the socket has no `since` for DMs)."""
        if not self.partner or first:
            return
        tr = self.tracks[("dm", self.partner)]
        try:
            inst = self.inst
            msgs = await page_back(inst.port, self.sid, "/api/dm/%s/messages" % urllib.parse.quote(self.partner),
                                   None, tr.last_id)
            for m in msgs:
                if tr.add(m["id"], "resume"):
                    STATS.inc("recovered by resume")
        except (HTTPError, OSError):
            STATS.err("DM catch-up failed")

    # -- sending ---------------------------------------------------------
    async def sender(self, rate):
        self.interval = 1.0 / rate if rate > 0 else 1e9
        await self.connected_once.wait()
        while True:
            await asyncio.sleep(self.rng.expovariate(1.0 / self.interval))
            if self.w.stop.is_set():
                if not self.pending:
                    return
            elif self.ready.is_set() and len(self.pending) < 8:
                self.n += 1
                cid = "%s-%d" % (self.name, self.n)
                if self.partner and self.rng.random() < self.w.args.dm_share:
                    conv = ("dm", frozenset((self.name, self.partner)))
                else:
                    conv = ("room", self.rng.choice(self.rooms))
                s = LEDGER.new(cid, conv, self.name, text_for(cid, "dm" if conv[0] == "dm" else "r%d" % conv[1]))
                self.pending[cid] = s
            await self.flush()

    async def flush(self):
        ws = self.ws
        if ws is None or not self.ready.is_set():
            return
        now = time.monotonic()
        for s in list(self.pending.values()):
            due = (s.state == "new" or (s.state == "wait" and now >= s.sent_at)
                   or (s.state == "inflight" and now - s.sent_at > ACK_TIMEOUT))
            if not due:
                continue
            if s.tries:
                STATS.inc("sends repeated (same cid)")
            s.tries += 1
            s.state = "inflight"
            s.sent_at = now
            if s.conv[0] == "room":
                frame = {"type": "send", "room": s.conv[1], "text": s.text, "cid": s.cid}
            else:
                frame = {"type": "dm", "to": self.partner, "text": s.text, "cid": s.cid}
            try:
                await ws.send(json.dumps(frame, ensure_ascii=False))
            except websockets.exceptions.ConnectionClosed:
                s.state = "new"
                return


class Churner:
    """A user who comes and goes."""

    def __init__(self, world, name):
        self.w = world
        self.name = name
        self.sid = None
        self.n = 0
        self.last_ids = {}
        self.rng = random.Random("%s-%s" % (world.args.seed, name))

    async def run(self):
        while not self.w.stop.is_set():
            try:
                await self.cycle()
            except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake,
                    websockets.exceptions.ConnectionClosed, HTTPError) as e:
                STATS.inc("churn cycles cut short")
                if isinstance(e, websockets.exceptions.InvalidStatusCode) and e.status_code == 401:
                    self.sid = None
            except RuntimeError as e:
                STATS.err("churn: %s" % e)
            except Exception:
                STATS.err("churn: unexpected exception (see stderr)")
                traceback.print_exc()
            await asyncio.sleep(0.3 + self.rng.random() * 1.5)

    async def cycle(self):
        r = self.rng.random()
        if self.sid is None or r < 0.25:
            if self.sid is not None and r < 0.08:
                inst = self.w.pick()
                if inst is not None:
                    await http(inst.port, "POST", "/api/logout", cookie=self.sid)
                    STATS.inc("logouts")
            self.sid = await login(self.w, self.name)
        inst = self.w.pick()
        if inst is None:
            return
        ws = await asyncio.wait_for(
            websockets.connect("ws://127.0.0.1:%d/ws" % inst.port, extra_headers={"Cookie": "sid=" + self.sid},
                               max_size=None, max_queue=None, ping_interval=None, close_timeout=2,
                               open_timeout=8), 10)
        STATS.inc("churn connections")
        acked_pending = {}
        try:
            rooms = self.rng.sample(self.w.rooms, self.rng.randint(1, min(3, len(self.w.rooms))))
            for room in rooms:
                frame = {"type": "join", "room": room}
                if room in self.last_ids and self.rng.random() < 0.5:
                    frame["since"] = self.last_ids[room]
                await ws.send(json.dumps(frame))
            joined = set()
            deadline = time.monotonic() + 10
            while joined != set(rooms) and time.monotonic() < deadline:
                f = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
                if f.get("type") == "joined":
                    joined.add(f.get("room"))
                    ids = [m.get("id", 0) for m in f.get("history") or []]
                    if ids:
                        self.last_ids[f["room"]] = max(ids)
            for _ in range(self.rng.randint(0, 3)):
                if self.w.stop.is_set():
                    break
                self.n += 1
                cid = "%s-%d" % (self.name, self.n)
                room = self.rng.choice(rooms)
                s = LEDGER.new(cid, ("room", room), self.name, text_for(cid, "r%d" % room))
                acked_pending[cid] = s
                s.tries += 1
                s.state = "inflight"
                await ws.send(json.dumps({"type": "send", "room": room, "text": s.text, "cid": cid},
                                         ensure_ascii=False))
                if self.rng.random() < 0.3:
                    await ws.send(json.dumps({"type": "typing", "room": room}))
            deadline = time.monotonic() + 10
            while acked_pending and time.monotonic() < deadline:
                f = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
                if f.get("type") == "ack":
                    LEDGER.ack(f.get("cid"), f.get("id"))
                    acked_pending.pop(f.get("cid"), None)
                elif f.get("type") == "error":
                    STATS.err("error frame %s" % f.get("code"))
                    acked_pending.pop(f.get("cid"), None)
            if acked_pending:
                STATS.inc("churn sends left without ack")
            await asyncio.sleep(self.rng.random() * 2)
            for room in rooms:
                if self.rng.random() < 0.5:
                    await ws.send(json.dumps({"type": "leave", "room": room}))
        finally:
            # Sends without an ack here are abandoned (counted at the end).
            if self.rng.random() < 0.3:
                ws.transport.abort()          # the TCP connection just drops
                STATS.inc("churn aborts")
            else:
                await ws.close()


# ---------------------------------------------------------------------------
# Faults

async def chaos(world, infra, args, end_at):
    """Restarts (one instance at a time) and Redis outages, one fault at a time."""
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    run_len = end_at - start
    n_out = args.redis_outages
    outages = [start + run_len * (i + 0.5) / n_out for i in range(n_out)] if infra.redis_port else []
    if args.url:
        outages = []
    targets = [i for i in world.instances if i.name in args.restart_targets] if not args.url else []
    next_restart = start + args.restart_every
    k = 0
    while True:
        now = time.monotonic()
        if outages and now >= outages[0]:
            outages.pop(0)
            if end_at - now > args.redis_down + 10:
                log("fault: Redis down for %.0f s" % args.redis_down)
                fault = ["Redis outage", wall_ms(), None]
                FAULTS.append(fault)
                await loop.run_in_executor(PROCS, infra.redis_stop)
                STATS.inc("redis outages")
                await asyncio.sleep(args.redis_down)
                await loop.run_in_executor(PROCS, infra.redis_start_same_port)
                fault[2] = wall_ms()
                log("fault: Redis is back")
                next_restart = max(next_restart, time.monotonic() + 15)
            continue
        if targets and now >= next_restart and end_at - now > 20:
            inst = targets[k % len(targets)]
            k += 1
            kill = args.kill_every > 0 and k % args.kill_every == 0
            log("fault: %s %s" % ("SIGKILL" if kill else "SIGTERM", inst.name))
            fault = ["%s of %s" % ("SIGKILL" if kill else "SIGTERM", inst.name), wall_ms(), None]
            FAULTS.append(fault)
            rc = await loop.run_in_executor(PROCS, lambda: inst.stop(kill=kill))
            if not kill and rc != 0:
                STATS.err("instance exit status %s on SIGTERM" % rc)
            STATS.inc("restarts (SIGKILL)" if kill else "restarts (SIGTERM)")
            await asyncio.sleep(args.down_time)
            await loop.run_in_executor(PROCS, inst.start)
            fault[2] = wall_ms()
            log("fault: %s is back (pid %d)" % (inst.name, inst.pid))
            next_restart = time.monotonic() + args.restart_every
            continue
        if now >= end_at:
            return
        await asyncio.sleep(min(1.0, end_at - now))


def fault_of(ts):
    """The fault a message sent at ts (wall-clock ms) fell into, if any."""
    for kind, t0, t1 in FAULTS:
        if t0 - 1000 <= ts <= (t1 or wall_ms()) + 5000:
            return "during %s (+-1/5 s)" % kind
    return "outside any fault"


def report_figures(world, label):
    parts = []
    for inst in world.instances:
        inst.sample()
        rss, fds = inst.figures()
        parts.append("%s pid %s: RSS %s, fds %s" % (inst.name, inst.pid, mib(rss), fds))
    c = STATS.c
    log("%s: %s" % (label, "; ".join(parts)))
    log("  sent %d, acked %d, delivered live %d, recovered %d, stayer reconnects %d, churn connections %d, "
        "errors %d" % (c["sent"], c["acked"], c["delivered live"],
                       c["recovered by resume"] + c["recovered by gap fetch"], c["stayer reconnects"],
                       c["churn connections"], sum(STATS.errors.values())))


async def sampler(world, args):
    last_report = time.monotonic()
    while True:
        await asyncio.sleep(5)
        for inst in world.instances:
            inst.sample()
        if time.monotonic() - last_report >= args.report_every:
            last_report = time.monotonic()
            report_figures(world, "figures")


# ---------------------------------------------------------------------------
# Accounting at the end

async def read_all(world, sid, base):
    inst = world.pick()
    return await page_back(inst.port, sid, base, None, 0)


async def account(world, stayers, admin_sid):
    """Reads every conversation back from the store and checks the books.
    Returns the number of failures."""
    failures = 0
    stored = {}            # conv -> list of message objects
    for r in world.rooms:
        stored[("room", r)] = await read_all(world, admin_sid, "/api/rooms/%d/messages" % r)
    pairs = {}
    for s in stayers:
        if s.partner and frozenset((s.name, s.partner)) not in pairs:
            pairs[frozenset((s.name, s.partner))] = s
    for pair, s in pairs.items():
        stored[("dm", pair)] = await read_all(world, s.sid, "/api/dm/%s/messages" % urllib.parse.quote(s.partner))

    by_cid = collections.defaultdict(list)
    total = 0
    for conv, msgs in stored.items():
        ids = [m["id"] for m in msgs]
        if len(ids) != len(set(ids)):
            log("FAIL: %s: an id appears twice in history" % (conv,))
            failures += 1
        if ids != sorted(ids):
            log("FAIL: %s: history is not in id order" % (conv,))
            failures += 1
        for m in msgs:
            total += 1
            by_cid[(conv, cid_of(m.get("text")))].append(m["id"])

    lost = dup = mismatch = stored_unacked = abandoned = 0
    examples = []
    for s in LEDGER.sends.values():
        ids = by_cid.get((s.conv, s.cid), [])
        if len(ids) > 1:
            dup += 1
            examples.append("cid %s stored %d times: %s" % (s.cid, len(ids), ids))
        if s.acked is not None:
            if not ids:
                lost += 1
                examples.append("cid %s acked as %d, not in history" % (s.cid, s.acked))
            elif s.acked not in ids or len(s.ack_ids) > 1:
                mismatch += 1
                examples.append("cid %s acked as %s, stored as %s" % (s.cid, sorted(s.ack_ids), ids))
        else:
            if ids:
                stored_unacked += 1
            else:
                abandoned += 1
    foreign = sum(1 for (conv, cid) in by_cid if cid is None or cid not in LEDGER.sends)
    c = STATS.c
    log("messages: sent %d (unique cids), acked %d, stored %d, duplicates %d, lost %d, ack/store id "
        "mismatches %d" % (len(LEDGER.sends), c["acked"], total, dup, lost, mismatch))
    log("  not acked: stored anyway %d (ack lost to a restart or a drop), never stored %d (abandoned); "
        "stored without a known cid %d; sends repeated with the same cid %d"
        % (stored_unacked, abandoned, foreign, c["sends repeated (same cid)"]))
    for e in examples[:10]:
        log("  FAIL: " + e)
    failures += lost + dup + mismatch

    # Delivery to the stayers, per conversation.
    live = rec = never = expected = dups = late = ooo = 0
    never_examples = []
    never_by = collections.Counter()
    ooo_by = collections.Counter()
    dups_by = collections.Counter()
    for st in stayers:
        for key, tr in st.tracks.items():
            conv = key if key[0] == "room" else ("dm", frozenset((st.name, st.partner)))
            msgs = stored.get(conv, [])
            after = tr.expect_after if tr.expect_after is not None else 0
            exp = [m["id"] for m in msgs if m["id"] > after]
            expected += len(exp)
            ts = {m["id"]: m.get("ts", 0) for m in msgs}
            for mid in exp:
                how = tr.got.get(mid)
                if how == "live":
                    live += 1
                elif how in ("resume", "gap", "initial"):
                    rec += 1
                else:
                    never += 1
                    t = ts.get(mid, 0)
                    away = any(a - 1000 <= t <= (b or wall_ms()) + 1000 for a, b in st.away)
                    never_by["%s, %s, %s" % ("in a room" if key[0] == "room" else "by DM", fault_of(t),
                                             "the client away (resumed after it)" if away
                                             else "the client connected")] += 1
                    if len(never_examples) < 5:
                        never_examples.append("%s in %s: id %d" % (st.name, key, mid))
            dups += tr.dups
            late += tr.late_live
            ooo += tr.out_of_order
            ooo_by["in rooms" if key[0] == "room" else "in DMs"] += tr.out_of_order
            dups_by["in rooms" if key[0] == "room" else "in DMs"] += tr.dups
    log("delivery to stayers: expected %d, live %d, recovered %d (live gaps %d), never seen %d; "
        "live frames out of id order %d, the same id live twice %d, live after its resume %d"
        % (expected, live, rec, expected - live, never, ooo, dups, late))
    log("  recovered by resume %d, by seq gap fetch %d; resumes that paged history %d; `partial` seen %d; "
        "`seq` on messages: %s" % (c["recovered by resume"], c["recovered by gap fetch"], c["resumes paged"],
                                   world.partial_seen, "yes" if world.seq_seen else "no"))
    log("  live frames out of id order: " + (", ".join("%d %s" % (v, k) for k, v in sorted(ooo_by.items()))
                                              or "none"))
    log("  the same id live twice: " + (", ".join("%d %s" % (v, k) for k, v in sorted(dups_by.items()))
                                        or "none"))
    for k, v in sorted(never_by.items()):
        log("  never seen: %d %s" % (v, k))
    for e in never_examples:
        log("  never seen, e.g.: " + e)
    return failures, never


# ---------------------------------------------------------------------------
# The run

def default_chatd():
    for p in ("build/chatd", "build-test/chatd"):
        full = os.path.join(ROOT, p)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return full
    return os.path.join(ROOT, "build", "chatd")


def add_admin(args, infra, name):
    cp = subprocess.run([args.chatd, "user", "add", name, "--admin", "--email", name + "@example.org",
                         "--store", infra.store_url], input=(PASSWORD + "\n").encode(),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if cp.returncode != 0:
        raise RuntimeError("chatd user add failed: %s" % cp.stderr.decode("utf-8", "replace"))


async def main_async(args, infra, instances):
    world = World(args, instances)
    tag = "%04x" % random.Random().randrange(1 << 16)
    admin = "soakadm" + tag
    a0 = instances[0]
    if not args.url:
        await asyncio.get_running_loop().run_in_executor(PROCS, add_admin, args, infra, admin)
    else:
        await register(world, admin, a0.port)
    admin_sid = await login(world, admin)
    for i in range(args.rooms):
        status, body, _ = await http(a0.port, "POST", "/api/rooms", {"name": "soak-%s-%d" % (tag, i), "topic": "soak"},
                                     cookie=admin_sid)
        if status != 201:
            # --url against a server where this user is not an administrator: the lobby only.
            log("cannot create rooms (HTTP %d); using the lobby only" % status)
            break
        world.rooms.append(body["room"]["id"])
    if not world.rooms:
        status, body, _ = await http(a0.port, "GET", "/api/rooms", cookie=admin_sid)
        world.rooms = [r["id"] for r in body["rooms"] if r["name"] == "lobby"]

    rng = world.rng
    names = ["s%s%02d" % (tag, i) for i in range(args.stayers)]
    churn_names = ["c%s%02d" % (tag, i) for i in range(args.churners)]
    log("setup: registering %d users, %d rooms" % (len(names) + len(churn_names), len(world.rooms)))
    for i, n in enumerate(names + churn_names):
        await register(world, n, instances[i % len(instances)].port)
    stayers = []
    for i, n in enumerate(names):
        partner = names[i ^ 1] if (i ^ 1) < len(names) else None
        rooms = rng.sample(world.rooms, min(len(world.rooms), args.rooms_per_stayer))
        stayers.append(Stayer(world, n, instances[i % len(instances)], rooms, partner))
    # Friends, for the DMs.
    for s in stayers:
        s.sid = await login(world, s.name, s.home)
    for s in stayers[::2]:
        if s.partner:
            p = next(x for x in stayers if x.name == s.partner)
            for a, b in ((s, p), (p, s)):
                status, _, _ = await http(a.home.port, "POST", "/api/friends", {"username": b.name}, cookie=a.sid)
                if status not in (200, 201, 204):
                    raise RuntimeError("friend request %s -> %s: %d" % (a.name, b.name, status))

    tasks = [asyncio.ensure_future(s.run()) for s in stayers]
    await asyncio.wait_for(asyncio.gather(*(s.connected_once.wait() for s in stayers)), 120)
    log("setup: %d stayers connected and joined" % len(stayers))
    report_figures(world, "start (stayers connected, before traffic)")

    per = args.rate * 0.9 / max(1, len(stayers))
    senders = [asyncio.ensure_future(s.sender(per)) for s in stayers]
    churners = [asyncio.ensure_future(Churner(world, n).run()) for n in churn_names]
    samp = asyncio.ensure_future(sampler(world, args))
    end_at = time.monotonic() + args.minutes * 60
    log("run: %.1f minutes, %.0f msg/s, %d stayers, %d churners, restarts every %.0f s of %s, %d Redis outage(s)"
        % (args.minutes, args.rate, len(stayers), len(churn_names), args.restart_every,
           "+".join(args.restart_targets) if not args.url else "none", 0 if args.url else args.redis_outages))
    await chaos(world, infra, args, end_at)
    rem = end_at - time.monotonic()
    if rem > 0:
        await asyncio.sleep(rem)

    log("end: stopping traffic; waiting for every send to be acknowledged")
    world.stop.set()
    await asyncio.wait(churners, timeout=30)
    try:
        await asyncio.wait_for(asyncio.gather(*senders), 90)
    except asyncio.TimeoutError:
        log("  some sends were still unacknowledged after 90 s")
    # Deliveries settle: wait until no frame arrives for 3 s (at most 30 s).
    deadline = time.monotonic() + 30
    last = -1
    while time.monotonic() < deadline:
        if STATS.c["frames"] == last:
            break
        last = STATS.c["frames"]
        await asyncio.sleep(3)
    for inst in instances:
        inst.sample()
    report_figures(world, "end (under load, before the clients leave)")
    failures, never = await account(world, stayers, admin_sid)

    world.closing.set()
    await asyncio.wait(tasks, timeout=30)
    for t in tasks + senders + churners:
        t.cancel()
    samp.cancel()
    await asyncio.sleep(5)       # closes finish on the server
    for inst in instances:
        if inst.lives:
            inst.sample()
            inst.lives[-1].idle_end = inst.figures()
    return failures, never


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--minutes", type=float, default=5.0, help="how long the faults and traffic run (default 5)")
    ap.add_argument("--chatd", default=default_chatd(), help="the chatd binary (default build/chatd, else build-test/chatd)")
    ap.add_argument("--store", help="a MySQL/MariaDB store URL to use instead of a private MariaDB")
    ap.add_argument("--redis", help="a Redis URL to use instead of a private Redis (outages need the private one)")
    ap.add_argument("--url", action="append", default=[], help="an existing instance (twice); no restarts, no outage")
    ap.add_argument("--pid", action="append", type=int, default=[], help="the pid of each --url instance, for RSS and fds")
    ap.add_argument("--rate", type=float, default=100.0, help="messages a second in all (default 100)")
    ap.add_argument("--stayers", type=int, default=20, help="clients that stay connected (default 20)")
    ap.add_argument("--churners", type=int, default=8, help="clients that come and go (default 8)")
    ap.add_argument("--rooms", type=int, default=6, help="rooms made for the run (default 6)")
    ap.add_argument("--rooms-per-stayer", type=int, default=3)
    ap.add_argument("--dm-share", type=float, default=0.1, help="share of a stayer's sends that are DMs")
    ap.add_argument("--nap-every", type=float, default=180.0,
                    help="a stayer goes offline about once in this many seconds (default 180; 0 never)")
    ap.add_argument("--nap-length", default="5-20", help="seconds a stayer stays offline (default 5-20)")
    ap.add_argument("--restart-every", type=float, default=60.0, help="seconds between restarts (default 60)")
    ap.add_argument("--restart-targets", default="AB", help="instances restarted in turn (default AB; B keeps A for the whole run)")
    ap.add_argument("--kill-every", type=int, default=3, help="every Nth restart is a SIGKILL (default 3; 0 never)")
    ap.add_argument("--down-time", type=float, default=2.0, help="seconds an instance stays down (default 2)")
    ap.add_argument("--redis-outages", type=int, default=0, help="Redis outages (default one per 15 minutes, at least 1)")
    ap.add_argument("--redis-down", type=float, default=15.0, help="seconds Redis stays down (default 15)")
    ap.add_argument("--report-every", type=float, default=120.0, help="seconds between figure reports (default 120)")
    ap.add_argument("--baseline-after", type=float, default=20.0,
                    help="a process's baseline figures are taken this long after it started (default 20)")
    ap.add_argument("--strict-delivery", action="store_true", help="also fail when a stayer never saw a message")
    ap.add_argument("--seed", default="soak", help="random seed of the clients' choices")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases)")
    args = ap.parse_args()
    if args.redis_outages <= 0:
        args.redis_outages = max(1, int(args.minutes // 15))
    try:
        lo, _, hi = args.nap_length.partition("-")
        args.nap_length = (float(lo), float(hi or lo))
    except ValueError:
        ap.error("--nap-length is SECONDS or MIN-MAX")
    args.restart_targets = [c for c in args.restart_targets.upper() if c in "AB"]
    if args.url and len(args.url) != 2:
        ap.error("--url is given twice, once per instance")
    if not args.url and not (os.path.isfile(args.chatd) and os.access(args.chatd, os.X_OK)):
        ap.error("chatd binary not found: %s (build it, or give --chatd)" % args.chatd)
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass

    infra = Infra(args)
    instances = []
    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    failures, never = 1, 0
    try:
        infra.start()
        if args.url:
            pids = args.pid + [None, None]
            instances = [Instance(n, args, infra, url=u, pid=p) for n, u, p in zip("AB", args.url, pids)]
        else:
            instances = [Instance(n, args, infra) for n in "AB"]
            for inst in instances:
                inst.start()
            log("chatd %s: A on port %d (pid %d), B on port %d (pid %d)" % (
                args.chatd, instances[0].port, instances[0].pid, instances[1].port, instances[1].pid))
        for inst in instances:
            inst.sample()
        fresh = [inst.figures() for inst in instances]
        log("start (idle, no client): " + "; ".join("%s RSS %s, fds %s" % (i.name, mib(f[0]), f[1])
                                                     for i, f in zip(instances, fresh)))
        failures, never = asyncio.run(main_async(args, infra, instances))
        log("per process (RSS: the smallest over %.0f s, from %.0f s after its start, and over its last %.0f s):"
            % (ProcLife.WINDOW, args.baseline_after, ProcLife.WINDOW))
        for inst in instances:
            for life in inst.lives:
                log("  %s %s" % (inst.name, life.describe()))
        log("idle: fresh process before any client vs the same instance after every client left:")
        for inst, f in zip(instances, fresh):
            end = inst.lives[-1].idle_end if inst.lives else None
            if end:
                log("  %s: RSS %s -> %s, fds %s -> %s" % (inst.name, mib(f[0]), mib(end[0]), f[1], end[1]))
        if STATS.errors:
            log("errors and failures seen by the clients (expected around faults):")
            for k, v in sorted(STATS.errors.items()):
                log("  %6d  %s" % (v, k))
        c = STATS.c
        log("faults: restarts SIGTERM %d, SIGKILL %d, Redis outages %d; stayer reconnects %d (naps %d, moved "
            "back home %d), connect failures %d; churn: connections %d, logins %d, logouts %d, dropped TCP %d"
            % (c["restarts (SIGTERM)"], c["restarts (SIGKILL)"], c["redis outages"], c["stayer reconnects"],
               c["stayer naps"], c["stayers moved back home"], c["connect failures"], c["churn connections"],
               c["logins"], c["logouts"], c["churn aborts"]))
    except KeyboardInterrupt:
        log("interrupted")
        failures = 1
    finally:
        for inst in instances:
            if not inst.external and inst.proc is not None:
                rc = inst.stop()
                if rc != 0:
                    log("chatd %s exited with %s on SIGTERM (see its log)" % (inst.name, rc))
        if args.keep:
            log("work folder kept: %s" % infra.top)
        infra.stop()
    bad = failures + (never if args.strict_delivery else 0)
    log("RESULT: %s" % ("FAIL" if bad else "PASS"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
