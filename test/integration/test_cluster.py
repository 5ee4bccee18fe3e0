"""Two chatd instances sharing one MariaDB store and one Redis.

The class starts its own redis-server and MariaDB with scripts/redis-temp.sh
and scripts/mariadb-temp.sh in a temporary folder (so that a test can stop
and restart them), creates a fresh database for the run, and starts two
chatd instances (A and B) on different ports with --store and --redis.

A watchdog process holds a pipe to this process; when the pipe closes (a
normal end, or this process dying without cleaning up) it stops both
servers and removes the folder, so nothing outlives the run.

Cases:
  1. messages from both instances reach both users once, in id order
  2. presence, the online list and room counts are global
  2b. `joined` on a freshly started instance lists members present elsewhere
  3. a SIGKILLed instance's users go offline and leave their rooms
  4. Redis stops and comes back: local service goes on, sharing resumes
  5. MariaDB stops and comes back: 503 / store_unavailable, then recovery,
     no acked message lost
  6. rooms created on one instance are joinable on the other at once;
     deleting on the other reaches the members on the first
"""

import asyncio
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

from chatlib import WS, Client, Server, ServerTestCase, aeventually, eventually, match, run_async, uniq

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.abspath(os.path.join(HERE, "..", "..", "scripts"))
REDIS_TEMP = os.path.join(SCRIPTS, "redis-temp.sh")
MARIADB_TEMP = os.path.join(SCRIPTS, "mariadb-temp.sh")

ADMIN = ("clusteradmin", "cluster-admin-secret", "clusteradmin@example.org")

SCRIPT_TIMEOUT = 60.0       # one start/stop of a private server
CASE_TIMEOUT = 90.0         # one asynchronous test body
REAP_BOUND = 30.0           # a killed instance's users are gone within this
RECOVER_BOUND = 15.0        # Redis / MariaDB back: service restored within this


def _find(name, *fallbacks):
    path = shutil.which(name)
    if path:
        return path
    for f in fallbacks:
        if os.path.isfile(f) and os.access(f, os.X_OK):
            return f
    return None


def missing_tools():
    """Names of the programs the class needs and this machine lacks."""
    need = {
        "redis-server": _find("redis-server", "/usr/bin/redis-server"),
        "mariadbd": _find("mariadbd", "/usr/sbin/mariadbd"),
        "mariadb-install-db": _find("mariadb-install-db", "/usr/bin/mariadb-install-db"),
        "mariadb-admin": _find("mariadb-admin", "/usr/bin/mariadb-admin"),
        "mariadb": _find("mariadb", "/usr/bin/mariadb"),
    }
    return [k for k, v in need.items() if v is None]


def run_script(script, cmd, folder, timeout=SCRIPT_TIMEOUT):
    """Runs script cmd folder; returns its stdout (stripped).  Fails with the
    script's stderr."""
    try:
        cp = subprocess.run([script, cmd, folder], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s %s did not finish within %.0fs" % (os.path.basename(script), cmd, timeout))
    if cp.returncode != 0:
        raise AssertionError("%s %s %s failed (exit %d):\n%s" % (
            os.path.basename(script), cmd, folder, cp.returncode, cp.stderr.decode("utf-8", "replace")))
    return cp.stdout.decode().strip()


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def redis_cmd(port, *args, timeout=5.0):
    """One Redis command over RESP; returns the reply (int, bytes, list or
    None).  Raises on an error reply."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s, s.makefile("rb") as f:
        s.sendall(out)

        def read():
            line = f.readline()
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest
            if kind == b"-":
                raise AssertionError("redis: %s" % rest.decode())
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                if n < 0:
                    return None
                data = f.read(n + 2)
                return data[:-2]
            if kind == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise AssertionError("redis: unexpected reply %r" % line)
        return read()


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


# The watchdog: reads its stdin until EOF, then stops the private servers and
# removes the folder.  It runs in its own session, so a signal to this
# process group does not stop it before it has cleaned up.
WATCHDOG = r"""
import os, shutil, subprocess, sys
redis_temp, mariadb_temp, redis_dir, mariadb_dir, top = sys.argv[1:6]
try:
    while sys.stdin.buffer.read(65536):
        pass
except Exception:
    pass
for script, d in ((redis_temp, redis_dir), (mariadb_temp, mariadb_dir)):
    try:
        subprocess.run([script, "stop", d], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    except Exception:
        pass
if not os.environ.get("CHAT_KEEP_TMP"):
    shutil.rmtree(top, ignore_errors=True)
"""


class Infra:
    """The private Redis and MariaDB servers of the class and their folder."""

    def __init__(self):
        # A short path: the MariaDB socket lives in it (at most ~100 bytes).
        self.top = tempfile.mkdtemp(prefix="chatcl-", dir="/tmp")
        self.redis_dir = os.path.join(self.top, "redis")
        self.mariadb_dir = os.path.join(self.top, "db")
        self.redis_url = None
        self.redis_port = None
        self.redis_child = None     # a redis-server restarted by redis_restart_same_port
        self.mysql_url = None       # the script's URL (database chat_test)
        self.store_url = None       # the run's own database
        self.watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, REDIS_TEMP, MARIADB_TEMP, self.redis_dir,
             self.mariadb_dir, self.top],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    # -- Redis ------------------------------------------------------------------
    def redis_start(self):
        self.redis_url = run_script(REDIS_TEMP, "start", self.redis_dir)
        self.redis_port = urllib.parse.urlsplit(self.redis_url).port
        return self.redis_url

    def redis_pid(self):
        return read_pid(os.path.join(self.redis_dir, "redis-server.pid"))

    def redis_running(self):
        pid = self.redis_pid()
        return pid is not None and pid_alive(pid)

    def redis_stop(self):
        run_script(REDIS_TEMP, "stop", self.redis_dir)
        if self.redis_child is not None:
            # A server restarted by this process is its child: reap it.
            try:
                self.redis_child.wait(10)
            except subprocess.TimeoutExpired:
                self.redis_child.kill()
                self.redis_child.wait(10)
            self.redis_child = None

    def redis_restart_same_port(self, timeout=10.0):
        """Starts redis-server again on its previous port with the script's
        settings.  (redis-temp.sh picks a new random port on every start, and
        chatd was given the old URL.)  The pid goes into the script's pid file,
        so `redis-temp.sh stop` stops this server too."""
        assert not self.redis_running(), "redis-server is still running"
        binary = _find("redis-server", "/usr/bin/redis-server")
        log = open(os.path.join(self.redis_dir, "redis.log"), "ab")
        try:
            proc = subprocess.Popen(
                [binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", self.redis_dir,
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        with open(os.path.join(self.redis_dir, "redis-server.pid"), "w") as f:
            f.write("%d\n" % proc.pid)
        self.redis_child = proc

        def pong():
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(64).startswith(b"+PONG")
            except OSError:
                return False
        eventually(pong, timeout=timeout, interval=0.05,
                   desc="redis-server restarted on port %d to answer PING" % self.redis_port)

    # -- MariaDB ------------------------------------------------------------------
    def mariadb_start(self):
        self.mysql_url = run_script(MARIADB_TEMP, "start", self.mariadb_dir)
        return self.mysql_url

    def mariadb_running(self):
        pid = read_pid(os.path.join(self.mariadb_dir, "mariadbd.pid"))
        return pid is not None and pid_alive(pid)

    def mariadb_stop(self):
        run_script(MARIADB_TEMP, "stop", self.mariadb_dir)

    def create_database(self):
        """Creates a fresh database through the URL's account (it may create
        databases named chat_test*); returns the store URL naming it."""
        u = urllib.parse.urlsplit(self.mysql_url)
        name = "chat_test_cluster_%d_%s" % (os.getpid(), os.urandom(3).hex())
        cnf = os.path.join(self.top, "client.cnf")
        # The password goes through an option file, not the command line.
        fd = os.open(cnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[client]\nuser=%s\npassword=%s\nhost=%s\nport=%d\nprotocol=tcp\n" % (
                urllib.parse.unquote(u.username), urllib.parse.unquote(u.password),
                u.hostname, u.port))
        try:
            cp = subprocess.run(
                [_find("mariadb", "/usr/bin/mariadb"), "--defaults-file=" + cnf, "--batch",
                 "-e", "CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" % name],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        finally:
            os.unlink(cnf)
        if cp.returncode != 0:
            raise AssertionError("CREATE DATABASE %s failed: %s" % (name, cp.stderr.decode("utf-8", "replace")))
        self.store_url = urllib.parse.urlunsplit(u._replace(path="/" + name))
        return self.store_url

    # -- the end -------------------------------------------------------------------
    def shutdown(self):
        """Stops both servers (errors are collected, not raised at once) and
        lets the watchdog remove the folder."""
        errors = []
        for stop in (self.redis_stop, self.mariadb_stop):
            try:
                stop()
            except Exception as e:
                errors.append(str(e))
        if self.watchdog is not None:
            try:
                self.watchdog.stdin.close()
                self.watchdog.wait(90)
            except Exception as e:
                errors.append("watchdog: %s" % e)
            self.watchdog = None
        if errors:
            raise AssertionError("stopping the private servers: %s" % "; ".join(errors))


def cluster_test(timeout=CASE_TIMEOUT):
    """Decorator for an `async def` test: runs it bounded by timeout and, on
    failure, appends the end of both instances' stderr to the message."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *args, **kw):
            t0 = time.monotonic()
            try:
                return run_async(fn(self, *args, **kw), timeout)
            except AssertionError as e:
                raise AssertionError("%s\n(after %.1fs)%s" % (e, time.monotonic() - t0, self.cluster_diag())) from None
        return wrapper
    return deco


class ClusterCase(ServerTestCase):
    """Two chatd instances (a, b; server is a) on one private MariaDB
    database and one private Redis, with the helpers the cluster tests
    share.  No tests of its own: other files base their cluster classes on
    it.  What a subclass may change:
      CLUSTER_ADMIN      the admin account added on a before the first start
                         (admin_on logs in with it)
      RESTART_DEAD       true: setUp restarts an instance that is not running;
                         false: the case fails instead (an earlier case's
                         crash is not hidden)
      cluster_sink()     a receiver the instances send to (SMTP, webhook),
                         anything with close(), or None; it is cls.sink,
                         made once the private servers are up (before
                         cluster_args() and cluster_env(), which may name
                         it) and closed after they stop
      cluster_args()     extra arguments of both instances (cls.infra exists)
      cluster_env()      extra environment of both instances (None: none)"""
    CLUSTER_ADMIN = ADMIN
    RESTART_DEAD = True
    infra = None
    sink = None
    a = None
    b = None

    @classmethod
    def cluster_sink(cls):
        return None

    @classmethod
    def cluster_args(cls):
        return []

    @classmethod
    def cluster_env(cls):
        return None

    @classmethod
    def setUpClass(cls):
        missing = missing_tools()
        if missing:
            raise unittest.SkipTest("needs %s (Debian packages redis-server, mariadb-server, "
                                    "mariadb-client; scripts/deps.sh test installs them)" % ", ".join(missing))
        unittest.TestCase.setUpClass()
        cls.infra = Infra()
        try:
            cls.infra.redis_start()
            cls.infra.mariadb_start()
            store = cls.infra.create_database()
            cls.sink = cls.cluster_sink()
            extra = ["--redis", cls.infra.redis_url] + cls.cluster_args()
            env = cls.cluster_env()
            cls.a = Server(store=store, extra_args=extra, env=env)
            cls.b = Server(store=store, extra_args=extra, env=env)
            cls.server = cls.a
            cls.a.add_user(*cls.CLUSTER_ADMIN, admin=True)
            cls.a.start()
            cls.b.start()
        except BaseException:
            cls._teardown_all()
            raise

    @classmethod
    def _teardown_all(cls):
        errors = []
        for srv in (cls.a, cls.b):
            if srv is None:
                continue
            try:
                if srv.alive():
                    rc = srv.stop()
                    if rc != 0:
                        errors.append("chatd exited with %r on SIGTERM%s" % (rc, srv.diag()))
            except Exception as e:
                errors.append(str(e))
            finally:
                srv.cleanup()
        if cls.infra is not None:
            try:
                cls.infra.shutdown()
            except Exception as e:
                errors.append(str(e))
        if cls.sink is not None:
            try:
                cls.sink.close()
            except Exception as e:
                errors.append(str(e))
        cls.a = cls.b = cls.server = cls.infra = cls.sink = None
        if errors:
            raise AssertionError("\n".join(errors))

    @classmethod
    def tearDownClass(cls):
        try:
            cls._teardown_all()
        finally:
            unittest.TestCase.tearDownClass()

    def setUp(self):
        """Every case starts from a whole cluster: both private servers up,
        both instances running (see RESTART_DEAD) and reporting store and
        Redis ok."""
        unittest.TestCase.setUp(self)
        infra = self.infra
        if not infra.redis_running():
            infra.redis_restart_same_port()
        if not infra.mariadb_running():
            infra.mariadb_start()
        for srv in (self.a, self.b):
            if not srv.alive():
                if not self.RESTART_DEAD:
                    self.fail("chatd is not running%s" % srv.diag())
                srv.kill()
                srv.start()
        for srv in (self.a, self.b):
            self.wait_health(srv, "ok", "ok", timeout=25, what="setUp: a healthy cluster")

    def cluster_diag(self):
        out = []
        for label, srv in (("A", self.a), ("B", self.b)):
            if srv is not None:
                out.append("\n--- chatd %s (port %s) stderr tail ---\n%s" % (
                    label, srv.port, srv.stderr_text(3000)))
        return "".join(out)

    # -- helpers --------------------------------------------------------------------
    def client(self, srv=None, sid=None):
        return Client(srv or self.a, sid=sid)

    def on(self, srv, client):
        """The same user agent (session) talking to another instance."""
        return Client(srv, sid=client.sid)

    def admin_on(self, srv):
        c = Client(srv)
        r = c.login(self.CLUSTER_ADMIN[0], self.CLUSTER_ADMIN[1])
        self.assertEqual(r.status, 200, r.describe())
        return c

    def health(self, srv):
        r = Client(srv).get("/healthz")
        try:
            body = r.json()
        except AssertionError:
            body = r.text()
        return r.status, body

    def wait_health(self, srv, store, redis, timeout, what):
        label = "A" if srv is self.a else "B"
        want_status = 200 if store == "ok" else 503

        def check():
            status, body = self.health(srv)
            if status == want_status and isinstance(body, dict) and body.get("store") == store \
                    and body.get("redis") == redis:
                return body
            raise AssertionError("GET /healthz on %s -> %s %r" % (label, status, body))
        t0 = time.monotonic()
        body = eventually(check, timeout=timeout, interval=0.1,
                          desc="%s: /healthz on %s with store %r, redis %r" % (what, label, store, redis))
        return body, time.monotonic() - t0

    async def await_health(self, srv, store, redis, timeout, what):
        label = "A" if srv is self.a else "B"
        want_status = 200 if store == "ok" else 503
        t0 = time.monotonic()

        def check():
            status, body = self.health(srv)
            if status == want_status and isinstance(body, dict) and body.get("store") == store \
                    and body.get("redis") == redis:
                return body
            raise AssertionError("GET /healthz on %s -> %s %r" % (label, status, body))
        body = await aeventually(check, timeout=timeout, interval=0.1,
                                 desc="%s: /healthz on %s with store %r, redis %r" % (what, label, store, redis))
        return body, time.monotonic() - t0

    def online_names(self, client):
        r = client.get("/api/users/online")
        self.assertEqual(r.status, 200, r.describe())
        return {u["username"] for u in r.json()["users"]}

    def room_online(self, client, room_id):
        r = client.get("/api/rooms")
        self.assertEqual(r.status, 200, r.describe())
        for room in r.json()["rooms"]:
            if room["id"] == room_id:
                return room["online"]
        raise AssertionError("room %r not in %s" % (room_id, r.describe()))

    async def wait_online(self, client, label, present=(), absent=(), timeout=10.0, what=""):
        """Waits until GET /api/users/online through client lists every name
        of present and none of absent; returns the seconds it took."""
        t0 = time.monotonic()

        def check():
            names = self.online_names(client)
            if all(n in names for n in present) and not any(n in names for n in absent):
                return True
            raise AssertionError("GET /api/users/online on %s lists %s" % (label, sorted(names)))
        await aeventually(check, timeout=timeout, interval=0.1,
                          desc="%s: online list on %s with %s and without %s" % (
                              what, label, sorted(present), sorted(absent)))
        return time.monotonic() - t0

    async def wait_room_online(self, client, label, room_id, count, timeout=10.0, what=""):
        def check():
            n = self.room_online(client, room_id)
            if n != count:
                raise AssertionError("online of room %d on %s is %r" % (room_id, label, n))
            return True
        await aeventually(check, timeout=timeout, interval=0.1,
                          desc="%s: GET /api/rooms on %s: online of room %d == %d" % (what, label, room_id, count))

    async def ws_user(self, srv, base="cu", label=None):
        """A fresh user (registered and logged in on srv) with a WebSocket on
        srv.  Returns (ws, name, client)."""
        c = Client(srv)
        name = uniq(base)
        pw = "pw-%s-secret" % name
        r = c.register(name, pw, "%s@example.org" % name)
        self.assertEqual(r.status, 201, r.describe())
        r = c.login(name, pw)
        self.assertEqual(r.status, 200, r.describe())
        ws = await WS.connect(srv, client=c, label="%s@%s" % (name, label or ("A" if srv is self.a else "B")))
        return ws, name, c

    async def join_ok(self, ws, room, timeout=10.0, retry_unknown=0.0):
        """Joins and asserts `joined`.  retry_unknown: seconds during which a
        no_such_room answer is retried (a room created on the other instance
        reaches this one through Redis)."""
        deadline = time.monotonic() + retry_unknown
        while True:
            f = await ws.join(room, timeout=timeout)
            if f.get("type") == "joined":
                return f
            if f.get("code") == "no_such_room" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                continue
            raise AssertionError("%s: join of room %r answered %r" % (ws.label, room, f))

    def lobby(self):
        return self.lobby_id(self.admin_on(self.a))

    def create_room_on(self, srv, name=None):
        admin = self.admin_on(srv)
        name = name or uniq("cr-")
        r = admin.post("/api/rooms", {"name": name, "topic": "cluster"})
        self.assertEqual(r.status, 201, r.describe())
        return r.json()["room"]

    def history_ids(self, client, room, limit=200):
        r = client.get("/api/rooms/%d/messages?limit=%d" % (room, limit))
        self.assertEqual(r.status, 200, r.describe())
        return {m["id"]: m for m in r.json()["messages"]}



class ClusterTest(ClusterCase):
    """Messages, presence, rooms, friends and sessions across the two
    instances, and Redis and store outages."""

    # -- 1 ------------------------------------------------------------------------------
    @cluster_test()
    async def test_1_messages_cross_instances_once_in_order(self):
        room = self.lobby()
        wa, na, ca = await self.ws_user(self.a, "ma")
        wb, nb, cb = await self.ws_user(self.b, "mb")
        await self.join_ok(wa, room)
        await self.join_ok(wb, room)
        n = 30
        texts = {}   # cid -> (sender, text)

        async def sender(ws, name, tag):
            for i in range(n):
                cid = "%s-%s-%02d" % (tag, name, i)
                text = "%s says %d 你好" % (name, i)
                texts[cid] = (name, text)
                await ws.send({"type": "send", "room": room, "text": text, "cid": cid})
                if i % 3 == 2:
                    await asyncio.sleep(0)   # let the other sender interleave
        await asyncio.gather(sender(wa, na, "x"), sender(wb, nb, "y"))

        async def collect(ws, name, tag):
            """Acks for the user's own cids and every message frame for our
            senders, until 2n messages and n acks are in (or time runs out)."""
            acks, msgs = {}, []
            deadline = time.monotonic() + 20
            while (len(acks) < n or len(msgs) < 2 * n) and time.monotonic() < deadline:
                f = await ws.expect(lambda f: f.get("type") in ("ack", "error")
                                    or (f.get("type") == "message" and f.get("room") == room
                                        and f.get("sender") in (na, nb)),
                                    timeout=max(0.1, deadline - time.monotonic()),
                                    desc="ack or message (have %d acks, %d messages)" % (len(acks), len(msgs)))
                if f["type"] == "error":
                    raise AssertionError("%s: error frame %r" % (ws.label, f))
                if f["type"] == "ack":
                    self.assertTrue(f.get("cid", "").startswith(tag + "-"), "%s: ack for a foreign cid %r" % (ws.label, f))
                    self.assertNotIn(f["cid"], acks, "%s: second ack for cid %r" % (ws.label, f["cid"]))
                    acks[f["cid"]] = f["id"]
                else:
                    msgs.append(f)
            # Anything more (a duplicate) would show up here.
            await ws.collect(0.5)
            extra = ws.take(lambda f: f.get("type") == "message" and f.get("room") == room
                            and f.get("sender") in (na, nb))
            msgs.extend(extra)
            return acks, msgs

        (acks_a, msgs_a), (acks_b, msgs_b) = await asyncio.gather(collect(wa, na, "x"), collect(wb, nb, "y"))
        self.assertEqual(len(acks_a), n, "A's user got %d of %d acks" % (len(acks_a), n))
        self.assertEqual(len(acks_b), n, "B's user got %d of %d acks" % (len(acks_b), n))
        acked = dict(acks_a)
        acked.update(acks_b)
        self.assertEqual(len(set(acked.values())), 2 * n, "ack ids are not distinct: %r" % acked)
        by_id = {mid: cid for cid, mid in acked.items()}

        for label, msgs in (("A's user %s" % na, msgs_a), ("B's user %s" % nb, msgs_b)):
            ids = [m["id"] for m in msgs]
            dups = sorted({i for i in ids if ids.count(i) > 1})
            self.assertFalse(dups, "%s received ids %s more than once; ids in arrival order: %s" % (label, dups, ids))
            missing = sorted(set(by_id) - set(ids))
            self.assertFalse(missing, "%s never received acked ids %s (cids %s); got %d messages" % (
                label, missing, [by_id[i] for i in missing], len(ids)))
            unexpected = sorted(set(ids) - set(by_id))
            self.assertFalse(unexpected, "%s received ids nobody was acked for: %s" % (label, unexpected))
            out_of_order = [(ids[i], ids[i + 1]) for i in range(len(ids) - 1) if ids[i] >= ids[i + 1]]
            self.assertFalse(out_of_order, "%s received messages out of id order at %s; arrival order %s" % (
                label, out_of_order, ids))
            for m in msgs:
                sender, text = texts[by_id[m["id"]]]
                self.assertEqual((m["sender"], m["text"]), (sender, text),
                                 "%s: message %d does not match the send acked with that id" % (label, m["id"]))

        for label, c in (("A", ca), ("B", self.on(self.b, ca))):
            hist = self.history_ids(c, room)
            missing = sorted(set(by_id) - set(hist))
            self.assertFalse(missing, "history on %s lacks acked ids %s" % (label, missing))
            for mid, cid in by_id.items():
                self.assertEqual((hist[mid]["sender"], hist[mid]["text"]), texts[cid],
                                 "history on %s: message %d" % (label, mid))

    # -- 2 ------------------------------------------------------------------------------
    @cluster_test()
    async def test_2_presence_is_global(self):
        room = self.create_room_on(self.a)["id"]
        # The observer is on B before A's user comes.
        wb, nb, cb = await self.ws_user(self.b, "pb")
        cb_a = self.on(self.a, cb)
        c0 = Client(self.a)
        name = uniq("pa")
        pw = "pw-%s-secret" % name
        self.assertEqual(c0.register(name, pw, name + "@example.org").status, 201)
        r = c0.login(name, pw)
        self.assertEqual(r.status, 200, r.describe())
        self.assertNotIn(name, self.online_names(cb), "%s is online on B before connecting" % name)
        wa = await WS.connect(self.a, client=c0, label="%s@A" % name)

        await wb.expect(match(type="online", user=name, online=True), timeout=5,
                        desc="online true frame for %s (connected on A) on B" % name)
        await self.wait_online(cb, "B", present=[name, nb], timeout=5, what="A's user connected")
        await self.wait_online(cb_a, "A", present=[name, nb], timeout=5, what="B's user connected")

        # A's user joins first; once B counts them in the room, B's user
        # sees them in `joined`.
        ja = await self.join_ok(wa, room, retry_unknown=5)
        self.assertIn(name, ja["members"], "joined on A: %r" % ja)
        await self.wait_room_online(cb, "B", room, 1, timeout=5, what="A's user in the room")
        jb = await self.join_ok(wb, room, retry_unknown=5)
        self.assertEqual(sorted(jb["members"]), sorted([name, nb]),
                         "joined on B must list the member present through A: %r" % jb)
        await wa.expect(match(type="presence", room=room, user=nb, event="join"), timeout=5,
                        desc="presence join of %s (B) on A" % nb)
        for label, c in (("A", cb_a), ("B", cb)):
            await self.wait_room_online(c, label, room, 2, timeout=5, what="both users in the room")

        # A third user, on B, joins: A's user hears it.
        w3, n3, c3 = await self.ws_user(self.b, "pc")
        await wa.expect(match(type="online", user=n3, online=True), timeout=5,
                        desc="online true frame for %s (connected on B) on A" % n3)
        j3 = await self.join_ok(w3, room, retry_unknown=5)
        self.assertEqual(sorted(j3["members"]), sorted([name, nb, n3]), "joined on B: %r" % j3)
        await wa.expect(match(type="presence", room=room, user=n3, event="join"), timeout=5,
                        desc="presence join of %s (B) on A" % n3)
        for label, c in (("A", cb_a), ("B", cb)):
            await self.wait_room_online(c, label, room, 3, timeout=5, what="three users in the room")

        # Leaving crosses too.
        await wa.send({"type": "leave", "room": room})
        await wb.expect(match(type="presence", room=room, user=name, event="leave"), timeout=5,
                        desc="presence leave of %s (A) on B" % name)
        await w3.expect(match(type="presence", room=room, user=name, event="leave"), timeout=5,
                        desc="presence leave of %s (A) on B's second user" % name)
        await w3.send({"type": "leave", "room": room})
        await wb.expect(match(type="presence", room=room, user=n3, event="leave"), timeout=5,
                        desc="presence leave of %s (B) on B" % n3)
        for label, c in (("A", cb_a), ("B", cb)):
            await self.wait_room_online(c, label, room, 1, timeout=5, what="one user left in the room")

        # A's user disconnects: offline everywhere.
        await wa.close()
        await wb.expect(match(type="online", user=name, online=False), timeout=5,
                        desc="online false frame for %s (disconnected from A) on B" % name)
        await w3.expect(match(type="online", user=name, online=False), timeout=5,
                        desc="online false frame for %s on B's second user" % name)
        await self.wait_online(cb, "B", present=[nb, n3], absent=[name], timeout=5, what="A's user gone")
        await self.wait_online(cb_a, "A", present=[nb, n3], absent=[name], timeout=5, what="A's user gone")

    # -- 2b -----------------------------------------------------------------------------
    @cluster_test()
    async def test_2b_joined_on_restarted_instance_lists_remote_members(self):
        room = self.create_room_on(self.a)["id"]
        wa, na, ca = await self.ws_user(self.a, "ra")
        await self.join_ok(wa, room, retry_unknown=5)
        # B starts after A's user joined the room.
        self.b.stop()
        self.b.start()
        await self.await_health(self.b, "ok", "ok", timeout=10, what="B restarted")
        wb, nb, cb = await self.ws_user(self.b, "rb")
        await self.wait_online(cb, "B", present=[na, nb], timeout=10, what="B restarted")
        await self.wait_room_online(cb, "B", room, 1, timeout=10, what="B restarted, A's user in the room")
        jb = await self.join_ok(wb, room)
        late = None
        if na not in jb["members"]:
            # Not listed: a presence join arriving right after would at least
            # tell the user (it is reported either way).
            got = await wb.collect(2.0)
            late = [f for f in got if f.get("type") == "presence" and f.get("user") == na]
        self.assertEqual(sorted(jb["members"]), sorted([na, nb]),
                         "B restarted while %s (on A) was in room %d; B's GET /api/rooms counts 1 user in "
                         "it, yet `joined` on B omits %s: %r; presence frames for %s in the next 2 s: %r" % (
                             na, room, na, jb, na, late))

    # -- 2c ------------------------------------------------------------------------------
    @cluster_test()
    async def test_2c_presence_frames_heard_twice_count_once(self):
        """A room's count follows its members, not the number of frames: a
        heartbeat's snapshot and the frames of the same change arrive on two
        connections in either order, so one change may be heard twice (or
        a leave of somebody the snapshot already dropped)."""
        room = self.create_room_on(self.a)["id"]
        wa, na, ca = await self.ws_user(self.a, "ta")
        wb, nb, cb = await self.ws_user(self.b, "tb")
        await self.join_ok(wa, room, retry_unknown=5)
        await self.wait_room_online(cb, "B", room, 1, timeout=5, what="A's user in the room")
        await self.join_ok(wb, room, retry_unknown=5)
        await self.wait_room_online(cb, "B", room, 2, timeout=5, what="both users in the room")
        channel = "chat:room:%d" % room
        ghost = uniq("ghost")
        for user, event, what in ((ghost, "leave", "a leave of somebody not in the room"),
                                  (na, "join", "a second join of a member"),
                                  (nb, "join", "a second join of B's own member")):
            # The room_online frames of earlier changes (sent within 200 ms)
            # are read and dropped first: the next one is this step's.
            await wb.collect(0.6)
            wb.take(lambda f: f.get("type") == "room_online")
            frame = json.dumps({"type": "presence", "room": room, "user": user, "event": event})
            redis_cmd(self.infra.redis_port, "PUBLISH", channel, "-\n" + frame)
            if user != nb:  # (nobody hears their own join)
                await wb.expect(match(type="presence", room=room, user=user, event=event), timeout=5,
                                desc="%s, heard on B" % what)
            f = await wb.expect(match(type="room_online", room=room), timeout=5,
                                desc="room_online on B after %s" % what)
            self.assertEqual(f["online"], 2, "B counts room %d after %s: %r" % (room, what, f))
        await self.wait_room_online(cb, "B", room, 2, timeout=5, what="after frames heard twice")
        # A real leave still counts.
        await wa.send({"type": "leave", "room": room})
        await self.wait_room_online(cb, "B", room, 1, timeout=5, what="A's user left")

    # -- 3 ------------------------------------------------------------------------------
    @cluster_test()
    async def test_3_killed_instance_users_go_offline(self):
        room = self.create_room_on(self.b)["id"]
        wa, na, ca = await self.ws_user(self.a, "ka")
        wb, nb, cb = await self.ws_user(self.b, "kb")
        await self.join_ok(wa, room, retry_unknown=5)
        await self.wait_room_online(cb, "B", room, 1, timeout=5, what="A's user in the room")
        jb = await self.join_ok(wb, room, retry_unknown=5)
        self.assertIn(na, jb["members"], "joined on B: %r" % jb)
        await wa.expect(match(type="presence", room=room, user=nb, event="join"), timeout=5,
                        desc="presence join of %s (B) on A" % nb)
        await self.wait_online(cb, "B", present=[na, nb], timeout=5, what="before the kill")
        await self.wait_room_online(cb, "B", room, 2, timeout=5, what="before the kill")

        t_kill = time.monotonic()
        self.a.kill()   # SIGKILL
        f = await wb.expect(match(type="online", user=na, online=False), timeout=REAP_BOUND,
                            desc="online false frame for %s after SIGKILL of A (bound %.0fs)" % (na, REAP_BOUND))
        t_offline = time.monotonic() - t_kill
        remaining = max(1.0, REAP_BOUND - (time.monotonic() - t_kill))
        await wb.expect(match(type="presence", room=room, user=na, event="leave"), timeout=remaining,
                        desc="presence leave of %s after SIGKILL of A" % na)
        t_leave = time.monotonic() - t_kill
        await self.wait_online(cb, "B", present=[nb], absent=[na], timeout=max(1.0, REAP_BOUND - t_leave),
                               what="after SIGKILL of A")
        await self.wait_room_online(cb, "B", room, 1, timeout=5, what="after SIGKILL of A")
        self.assertLessEqual(t_offline, REAP_BOUND)
        # The survivor still serves.
        ack = await wb.send_msg(room, "still here")
        self.assertEqual(ack.get("type"), "ack", "send on B after A died: %r" % ack)
        sys.stderr.write("[cluster] A killed: offline after %.1fs, room leave after %.1fs\n" % (t_offline, t_leave))

    # -- 4 ------------------------------------------------------------------------------
    @cluster_test(timeout=100)
    async def test_4_redis_outage(self):
        room = self.create_room_on(self.a)["id"]
        wa, na, ca = await self.ws_user(self.a, "da")
        wa2, na2, ca2 = await self.ws_user(self.a, "da")
        wb, nb, cb = await self.ws_user(self.b, "db")
        wb2, nb2, cb2 = await self.ws_user(self.b, "db")
        for ws in (wa, wa2, wb, wb2):
            await self.join_ok(ws, room, retry_unknown=5)
        cb_a = self.on(self.a, cb)
        await self.wait_online(cb, "B", present=[na, na2, nb, nb2], timeout=5, what="before the outage")

        self.infra.redis_stop()
        t_down = time.monotonic()
        for srv in (self.a, self.b):
            await self.await_health(srv, "ok", "down", timeout=10, what="Redis stopped")

        # Each instance still serves its own users.
        sent_down = {}
        for label, (s1, s2, n1) in (("A", (wa, wa2, na)), ("B", (wb, wb2, nb))):
            text = "local on %s while Redis is down" % label
            ack = await s1.send_msg(room, text)
            sent_down[label] = (ack.get("id"), n1, text)
            self.assertEqual(ack.get("type"), "ack", "%s: send while Redis is down answered %r" % (label, ack))
            for ws in (s1, s2):
                m = await ws.expect(match(type="message", room=room, id=ack["id"]), timeout=5,
                                    desc="message %d from %s on %s while Redis is down" % (ack["id"], n1, label))
                self.assertEqual((m["sender"], m["text"]), (n1, text))
            hist = self.history_ids(self.on(self.a if label == "A" else self.b, ca), room)
            self.assertIn(ack["id"], hist, "history on %s while Redis is down" % label)
        # ... and, with no publish reaching them, the other instance's sockets get each message
        # anyway: the periodic last_seq check finds the gap and reads it from the store.
        for label, dsts in (("A", (wb, wb2)), ("B", (wa, wa2))):
            mid, sender, text = sent_down[label]
            for ws in dsts:
                m = await ws.expect(match(type="message", room=room, id=mid), timeout=10,
                                    desc="message %d from %s (on %s) on the other instance while "
                                         "Redis is down" % (mid, sender, label))
                self.assertEqual((m["sender"], m["text"]), (sender, text))
        status, body = self.health(self.a)
        self.assertEqual((status, body), (200, {"status": "ok", "store": "ok", "redis": "down"}))

        # Redis back on the same port.
        self.infra.redis_restart_same_port()
        t_up = time.monotonic()
        took = {}
        for label, srv in (("A", self.a), ("B", self.b)):
            _, took[label] = await self.await_health(srv, "ok", "ok", timeout=RECOVER_BOUND,
                                                     what="Redis restarted after %.1fs down" % (t_up - t_down))
        left = max(2.0, RECOVER_BOUND - (time.monotonic() - t_up))
        await self.wait_online(cb, "B", present=[na, na2, nb, nb2], timeout=left, what="Redis back")
        await self.wait_online(cb_a, "A", present=[na, na2, nb, nb2], timeout=left, what="Redis back")
        t_shared = time.monotonic() - t_up

        # Messages cross again, both ways.
        for src, sname, dsts, label in ((wa, na, (wb, wb2), "A->B"), (wb, nb, (wa, wa2), "B->A")):
            text = "crossing %s after Redis came back" % label
            ack = await src.send_msg(room, text)
            self.assertEqual(ack.get("type"), "ack", "%s: send after Redis came back answered %r" % (label, ack))
            for ws in dsts:
                m = await ws.expect(match(type="message", room=room, id=ack["id"]), timeout=5,
                                    desc="message %d (%s) after Redis came back" % (ack["id"], label))
                self.assertEqual((m["sender"], m["text"]), (sname, text))
        sys.stderr.write("[cluster] Redis back: healthz ok after A %.1fs / B %.1fs, presence shared after %.1fs\n" % (
            took["A"], took["B"], t_shared))

    # -- 4b -----------------------------------------------------------------------------
    @cluster_test(timeout=120)
    async def test_4b_redis_outage_dms_caught_up_once(self):
        """DMs stored while Redis is down reach the sockets on the other
        instance once it is back (the catch-up, docs/PROTOCOL.md section 7),
        and no socket gets any DM twice."""
        wx, nx, cx = await self.ws_user(self.a, "dx")
        wy, ny, cy = await self.ws_user(self.b, "dy")
        r = cx.post("/api/friends", {"username": ny})
        self.assertEqual((r.status, r.json().get("state")), (200, "outgoing"), r.describe())
        r = self.on(self.b, cy).post("/api/friends", {"username": nx})
        self.assertEqual((r.status, r.json().get("state")), (200, "friends"), r.describe())
        # X's second socket, on B.
        wxb = await WS.connect(self.b, client=cx, label="%s@B" % nx)
        socks = {"X@A": wx, "X@B": wxb, "Y@B": wy}
        seq = [0]

        async def dm(ws, text):
            seq[0] += 1
            cid = "dmc%d" % seq[0]
            await ws.send({"type": "dm", "to": ny, "text": text, "cid": cid})
            ack = await ws.expect(lambda f: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                                  timeout=10, desc="the answer to dm %s" % cid)
            self.assertEqual(ack.get("type"), "ack", "dm %r answered %r" % (text, ack))
            return ack["id"]

        def dm_ids(ws):
            return [f["id"] for f in ws.pending if f.get("type") == "dm"]

        async def wait_ids(label, ws, ids, timeout):
            deadline = time.monotonic() + timeout
            while not set(ids) <= set(dm_ids(ws)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s: DMs %s never arrived (got %s)" % (
                        label, sorted(set(ids) - set(dm_ids(ws))), dm_ids(ws)))
                await ws._read(min(left, 0.5))

        # Before the outage: one DM, seen everywhere (it must not come again later).
        before = await dm(wx, "before the outage")
        for label, ws in socks.items():
            await wait_ids(label, ws, [before], 10)

        self.infra.redis_stop()
        for srv in (self.a, self.b):
            await self.await_health(srv, "ok", "down", timeout=10, what="Redis stopped")
        on_a = [await dm(wx, "from A while Redis is down %d" % i) for i in range(4)]
        on_b = [await dm(wxb, "from B while Redis is down %d" % i) for i in range(2)]
        # What each instance delivers itself arrives at once.
        await wait_ids("X@A", wx, on_a, 10)
        for label in ("X@B", "Y@B"):
            await wait_ids(label, socks[label], on_b, 10)

        self.infra.redis_restart_same_port()
        t_up = time.monotonic()
        for srv in (self.a, self.b):
            await self.await_health(srv, "ok", "ok", timeout=RECOVER_BOUND, what="Redis back")
        everything = [before] + on_a + on_b
        for label, ws in socks.items():
            await wait_ids(label, ws, everything, max(2.0, RECOVER_BOUND - (time.monotonic() - t_up)))
        took = time.monotonic() - t_up
        # After Redis: one DM crosses as usual.
        after = await dm(wx, "after Redis came back")
        everything.append(after)
        for label, ws in socks.items():
            await wait_ids(label, ws, [after], 10)
        # Anything sent twice would arrive within a few more seconds.
        for ws in socks.values():
            await ws.collect(1.0)
        await wy.collect(3.0)
        for label, ws in socks.items():
            ids = dm_ids(ws)
            dups = sorted({i for i in ids if ids.count(i) > 1})
            self.assertEqual(dups, [], "%s got DMs twice: %s" % (label, ids))
            self.assertEqual(sorted(ids), sorted(everything), "%s: DMs %s" % (label, ids))
        sys.stderr.write("[cluster] DMs of a Redis outage caught up %.1fs after it was back\n" % took)

    # -- 5 ------------------------------------------------------------------------------
    @cluster_test(timeout=100)
    async def test_5_store_outage(self):
        room = self.create_room_on(self.b)["id"]
        wa, na, ca = await self.ws_user(self.a, "sa")
        wb, nb, cb = await self.ws_user(self.b, "sb")
        await self.join_ok(wa, room, retry_unknown=5)
        await self.join_ok(wb, room, retry_unknown=5)
        acked = {}   # id -> (sender, text)

        async def send_ok(ws, sender, text, what):
            ack = await ws.send_msg(room, text)
            self.assertEqual(ack.get("type"), "ack", "%s: send answered %r" % (what, ack))
            acked[ack["id"]] = (sender, text)
            return ack

        for i in range(3):
            await send_ok(wa, na, "before outage A %d" % i, "before the outage")
            await send_ok(wb, nb, "before outage B %d" % i, "before the outage")

        t_stop = time.monotonic()
        self.infra.mariadb_stop()
        t_down = time.monotonic()

        # The API answers 503 store_unavailable.
        for label, srv in (("A", self.a), ("B", self.b)):
            c = self.on(srv, ca)
            for path in ("/api/rooms", "/api/me", "/api/users/online", "/api/rooms/%d/messages" % room):
                r = c.get(path)
                self.assert_api_error(r, 503, "store_unavailable")
            r = Client(srv).login(na, "pw-%s-secret" % na)
            self.assert_api_error(r, 503, "store_unavailable")
            status, body = self.health(srv)
            self.assertEqual(status, 503, "GET /healthz on %s with MariaDB down: %s %r" % (label, status, body))
            self.assertEqual(body.get("store"), "down", "GET /healthz on %s: %r" % (label, body))

        # send: an error frame with store_unavailable, never an ack.
        failed = []
        for label, ws in (("A", wa), ("B", wb)):
            cid = uniq("down")
            t0 = time.monotonic()
            f = await ws.send_msg(room, "during the outage on %s" % label, cid=cid, timeout=15)
            self.assertEqual((f.get("type"), f.get("code"), f.get("cid")), ("error", "store_unavailable", cid),
                             "%s: send while MariaDB is down answered %r after %.1fs" % (
                                 label, f, time.monotonic() - t0))
            failed.append((ws, cid))

        # MariaDB back (same folder and port); chatd reconnects by itself.
        t_start = time.monotonic()
        self.infra.mariadb_start()
        t_up = time.monotonic()
        sys.stderr.write("[cluster] MariaDB: stop took %.1fs, checks while down %.1fs, start took %.1fs\n" % (
            t_down - t_stop, t_start - t_down, t_up - t_start))
        recovered = {}
        for label, ws, sender in (("A", wa, na), ("B", wb, nb)):
            # A client resends with the same cid until it is acked.
            cid = uniq("retry")
            text = "first after the outage on %s" % label
            deadline = t_up + RECOVER_BOUND
            answers = []
            while True:
                f = await ws.send_msg(room, text, cid=cid, timeout=12)
                answers.append(f.get("type") if f.get("type") == "ack" else f.get("code"))
                if f.get("type") == "ack":
                    acked[f["id"]] = (sender, text)
                    break
                self.assertEqual(f.get("code"), "store_unavailable", "%s: resend answered %r" % (label, f))
                if time.monotonic() > deadline:
                    raise AssertionError("%s: sends still fail %.1fs after MariaDB came back; answers %s" % (
                        label, time.monotonic() - t_up, answers))
                await asyncio.sleep(0.25)
            recovered[label] = time.monotonic() - t_up
        sys.stderr.write("[cluster] MariaDB back: sends acked after A %.1fs / B %.1fs\n" % (
            recovered["A"], recovered["B"]))

        for i in range(3):
            await send_ok(wa, na, "after outage A %d" % i, "after the outage")
            await send_ok(wb, nb, "after outage B %d" % i, "after the outage")

        # No ack ever came for the sends refused during the outage.
        for ws, cid in failed:
            await ws.collect(0.3)
            late = ws.peek(lambda f: f.get("type") == "ack" and f.get("cid") == cid)
            self.assertFalse(late, "%s: ack for cid %r that was refused with store_unavailable: %r" % (
                ws.label, cid, late))

        # Every acked message, before and after, is in the history on both.
        for label, srv in (("A", self.a), ("B", self.b)):
            c = self.on(srv, ca)

            def hist():
                r = c.get("/api/rooms/%d/messages?limit=200" % room)
                if r.status != 200:
                    raise AssertionError(r.describe())
                return r
            r = eventually(hist, timeout=RECOVER_BOUND, desc="history on %s after MariaDB came back" % label)
            got = {m["id"]: (m["sender"], m["text"]) for m in r.json()["messages"]}
            missing = {i: acked[i] for i in acked if i not in got}
            self.assertFalse(missing, "history on %s lacks acked messages %r" % (label, missing))
            for i, v in acked.items():
                self.assertEqual(got[i], v, "history on %s: message %d" % (label, i))

        # And the members on the other instance got the messages sent after.
        for label, ws in (("A", wa), ("B", wb)):
            for i, (sender, text) in acked.items():
                if text.startswith("after outage"):
                    await ws.expect(match(type="message", room=room, id=i), timeout=5,
                                    desc="message %d (%r from %s) on %s" % (i, text, sender, label))

    # -- 6 ------------------------------------------------------------------------------
    @cluster_test()
    async def test_6_rooms_created_and_deleted_across_instances(self):
        wa, na, ca = await self.ws_user(self.a, "ya")
        wb, nb, cb = await self.ws_user(self.b, "yb")
        admin_a = self.admin_on(self.a)
        admin_b = self.admin_on(self.b)
        late = []   # joins on B refused right after the 201 on A
        for attempt in range(10):
            name = uniq("x-")
            r = admin_a.post("/api/rooms", {"name": name, "topic": "made on A"})
            self.assertEqual(r.status, 201, r.describe())
            room = r.json()["room"]["id"]
            # At once: no waiting between the 201 on A and the join on B.
            t0 = time.monotonic()
            jb = await wb.join(room, timeout=5)
            if jb.get("type") != "joined":
                first = jb
                # Go on with the rest of the case once B knows the room.
                jb = await self.join_ok(wb, room, retry_unknown=5)
                late.append("round %d: room %d created on A (201 received), the join sent to B at once "
                            "answered %r; B accepted the join %.3fs after the 201" % (
                                attempt + 1, room, first, time.monotonic() - t0))
            await self.wait_room_online(admin_a, "A", room, 1, timeout=5, what="B's user in the new room")
            ja = await self.join_ok(wa, room)
            self.assertEqual(sorted(ja["members"]), sorted([na, nb]), "joined on A: %r" % ja)
            await wb.expect(match(type="presence", room=room, user=na, event="join"), timeout=5,
                            desc="presence join of %s (A) on B" % na)
            # It is listed on B too.
            self.assertIsNotNone(self.room_by_name(admin_b, name), "room %r not listed on B" % name)
            ack = await wa.send_msg(room, "hello in %s" % name)
            self.assertEqual(ack.get("type"), "ack", repr(ack))
            await wb.expect(match(type="message", room=room, id=ack["id"]), timeout=5,
                            desc="message %d in the new room on B" % ack["id"])

            # Deleted on B: the members on A (and on B) hear of it.
            r = admin_b.delete("/api/rooms/%d" % room)
            self.assertEqual(r.status, 204, r.describe())
            await wa.expect(match(type="room_deleted", room=room), timeout=5,
                            desc="room_deleted for room %d (deleted on B) on A" % room)
            await wb.expect(match(type="room_deleted", room=room), timeout=5,
                            desc="room_deleted for room %d on B" % room)
            self.assertIsNone(self.room_by_name(admin_a, name), "deleted room %r still listed on A" % name)
            # Neither instance accepts it any more.
            for label, ws in (("A", wa), ("B", wb)):
                f = await ws.send_msg(room, "into the void", timeout=5)
                self.assertTrue(f.get("type") == "error" and f.get("code") in ("no_such_room", "not_member"),
                                "%s: send to the room deleted on B answered %r" % (label, f))
                f = await ws.join(room, timeout=5)
                self.assertEqual((f.get("type"), f.get("code")), ("error", "no_such_room"),
                                 "%s: join of the room deleted on B answered %r" % (label, f))
        self.assertFalse(late, "a room created on A was not joinable on B at once:\n" + "\n".join(late))

    # -- 7 ------------------------------------------------------------------------------
    @cluster_test()
    async def test_7_friends_dms_deletes_and_bans_cross_instances(self):
        wa, na, ca = await self.ws_user(self.a, "fa")
        wb, nb, cb = await self.ws_user(self.b, "fb")
        admin_a = self.admin_on(self.a)

        # A friend request made on A reaches B's socket; the answer on B reaches A's.
        r = ca.post("/api/friends", {"username": nb})
        self.assertEqual((r.status, r.json().get("state")), (200, "outgoing"), r.describe())
        await wb.expect(match(type="friend", user=na, state="incoming"), timeout=5,
                        desc="friend request of %s (A) on B" % na)
        r = cb.post("/api/friends", {"username": na})
        self.assertEqual((r.status, r.json().get("state")), (200, "friends"), r.describe())
        await wa.expect(match(type="friend", user=nb, state="friends"), timeout=5,
                        desc="accepted friendship of %s (B) on A" % nb)

        # A direct message from A's user reaches B's user once, and the sender's socket too.
        await wa.send({"type": "dm", "to": nb, "text": "跨实例私信", "cid": "x1"})
        ack = await wa.expect(lambda f: f.get("type") in ("ack", "error"), timeout=5)
        self.assertEqual(ack.get("type"), "ack", ack)
        got = await wb.expect(match(type="dm", id=ack["id"]), timeout=5, desc="the dm on B")
        self.assertEqual((got["sender"], got["to"], got["text"]), (na, nb, "跨实例私信"))
        await wa.expect(match(type="dm", id=ack["id"]), timeout=5, desc="the dm echoed on A")
        extra = await wb.collect(0.5)
        self.assertFalse([f for f in extra if f.get("type") == "dm"], "dm delivered twice: %r" % extra)

        # A message deleted through A disappears for B's user.
        lobby = self.lobby()
        await self.join_ok(wa, lobby)
        await self.join_ok(wb, lobby)
        ack = await wb.send_msg(lobby, "to be deleted")
        self.assertEqual(ack.get("type"), "ack", ack)
        await wa.expect(match(type="message", id=ack["id"]), timeout=5, desc="message on A")
        r = admin_a.delete("/api/rooms/%d/messages/%d" % (lobby, ack["id"]))
        self.assertEqual(r.status, 204, r.describe())
        for label, ws in (("A", wa), ("B", wb)):
            await ws.expect(match(type="message_deleted", room=lobby, id=ack["id"]), timeout=5,
                            desc="message_deleted on %s" % label)

        # A ban made on A closes the banned user's socket on B at once.
        r = admin_a.post("/api/admin/users/%s/ban" % urllib.parse.quote(nb))
        self.assertEqual(r.status, 204, r.describe())
        code = await wb.closed(timeout=5)
        self.assertEqual(code, 1008, "the banned user's socket on B closed with %r" % code)
        self.assertEqual(cb.get("/api/me").status, 401)
        await wa.close()


    # -- 8 ------------------------------------------------------------------------------
    @cluster_test()
    async def test_8_logout_and_password_change_close_sockets_on_other_instances(self):
        name = uniq("rv")
        pw = "pw-%s-secret" % name
        c1 = Client(self.a)
        r = c1.register(name, pw, "%s@example.org" % name)
        self.assertEqual(r.status, 201, r.describe())
        self.assertEqual(c1.login(name, pw).status, 200)
        c2 = Client(self.b)
        self.assertEqual(c2.login(name, pw).status, 200)
        # A socket on B with session 1: logging session 1 out through A closes it.
        w1 = await WS.connect(self.b, sid=c1.sid, label="s1@B")
        r = c1.post("/api/logout")
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(await w1.closed(timeout=5), 1008)
        # A socket on B with session 2: a password change through A (session 3) closes it.
        c3 = Client(self.a)
        self.assertEqual(c3.login(name, pw).status, 200)
        w2 = await WS.connect(self.b, sid=c2.sid, label="s2@B")
        r = c3.post("/api/password", {"old_password": pw, "new_password": pw + "-new"})
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(await w2.closed(timeout=5), 1008)
        self.assertEqual(c3.get("/api/me").status, 200)


if __name__ == "__main__":
    unittest.main()
