"""Helpers for the chatd integration tests.

The tests start the real chatd binary (path in $CHATD, static files in
$CHAT_PUBLIC) on an ephemeral loopback port with a database in a fresh
temporary folder, and talk to it with independent clients:

  * Server      starts/stops/restarts chatd and creates users with the CLI.
  * Client      an HTTP client (http.client) with a small cookie jar.
  * RawHTTP     a plain-socket HTTP connection for malformed requests.
  * WS          a WebSocket client on top of python3-websockets 10.4 (asyncio).
  * RawWS       a WebSocket client over a plain socket with its own handshake,
                frame encoder and decoder, for protocol violations.

Every wait is bounded by a timeout.
"""

import asyncio
import atexit
import base64
import ctypes
import functools
import hashlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import websockets
import websockets.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
READY_RE = re.compile(r"chatd listening on https?://127\.0\.0\.1:(\d+)")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

START_TIMEOUT = 20.0      # seconds until the readiness line must appear
STOP_TIMEOUT = 15.0       # seconds a SIGTERM'd server may take to exit
HTTP_TIMEOUT = 15.0       # per HTTP request
FRAME_TIMEOUT = 10.0      # default wait for one expected WebSocket frame
TEST_TIMEOUT = 150.0      # default bound for one asynchronous test body


def chatd_path():
    path = os.environ.get("CHATD") or os.path.join(HERE, "..", "..", "build", "chatd")
    path = os.path.abspath(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError("chatd binary not found or not executable: %s (set CHATD)" % path)
    return path


def public_path():
    path = os.environ.get("CHAT_PUBLIC") or os.path.join(HERE, "..", "..", "public")
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise RuntimeError("public folder not found: %s (set CHAT_PUBLIC)" % path)
    return path


# ---------------------------------------------------------------------------
# Unique names and small utilities

_counter = itertools.count(1)


def uniq(base="u"):
    """A name that is unique within this test process (short enough to be a
    valid username when base is short)."""
    return "%s%02d" % (base, next(_counter))


def now_ms():
    return int(time.time() * 1000)


def eventually(fn, timeout=10.0, interval=0.05, desc="condition"):
    """Calls fn until it returns a truthy value; returns that value.  Fails
    with the last value (or exception) after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except AssertionError as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, desc, last))
        time.sleep(interval)


async def aeventually(fn, timeout=10.0, interval=0.05, desc="condition"):
    """Like eventually(), for use inside coroutines (fn is synchronous)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except AssertionError as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, desc, last))
        await asyncio.sleep(interval)


def match(**fields):
    """A predicate on a JSON frame: every given field has the given value."""
    def pred(frame):
        return isinstance(frame, dict) and all(k in frame and frame[k] == v for k, v in fields.items())
    pred.desc = "frame with %r" % (fields,)
    return pred


# ---------------------------------------------------------------------------
# The server process

_live_servers = set()


def _kill_live_servers():
    for srv in list(_live_servers):
        try:
            srv.kill()
        except Exception:
            pass


atexit.register(_kill_live_servers)


def _die_with_parent():
    # Runs in the child between fork and exec: ask the kernel to SIGKILL chatd
    # if the test process dies, so that no server outlives an aborted run.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


DEFAULT_ENV = {"CHAT_REGISTER_LIMIT": "0", "CHAT_LOGIN_IP_LIMIT": "0"}


class Server:
    """One chatd process with its own temporary folder and database.

    store: a store URL (e.g. mysql://...) used instead of the SQLite file in
    the temporary folder; extra_args: more chatd arguments (e.g. --redis URL)
    appended to every start; env: environment variables added to (or, with
    the value None, removed from) the test's environment for chatd."""

    def __init__(self, store=None, extra_args=None, env=None):
        self.binary = chatd_path()
        self.public = public_path()
        self.tmp = tempfile.mkdtemp(prefix="chatd-it-")
        self.db = os.path.join(self.tmp, "chat.db")
        self.store = store
        self.extra_args = list(extra_args or [])
        # Every test client comes from 127.0.0.1: the per-address limits on
        # registrations and failed logins are off unless a test turns them on
        # (its flags win over these).
        self.env = dict(DEFAULT_ENV)
        self.env.update(env or {})
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.port = None
        self.ssl_context = None    # set for a chatd with TLS: clients use https and wss
        self.proc = None
        self.stdout_lines = []
        self._stdout_thread = None
        self._ready = None
        self.starts = 0

    # -- properties -----------------------------------------------------------
    @property
    def origin(self):
        return "%s://127.0.0.1:%d" % ("https" if self.ssl_context else "http", self.port)

    @property
    def ws_url(self):
        return "%s://127.0.0.1:%d/ws" % ("wss" if self.ssl_context else "ws", self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self, tail=6000):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-tail:].decode("utf-8", "replace")

    def diag(self):
        return "\n--- chatd stderr (tail) ---\n%s\n--- chatd stdout ---\n%s" % (
            self.stderr_text(), "".join(self.stdout_lines[-40:]))

    def store_args(self):
        """The chatd arguments that name the store."""
        return ["--store", self.store] if self.store else ["--db", self.db]

    # -- CLI ------------------------------------------------------------------
    def add_user(self, name, password, email, admin=True, timeout=30):
        """Creates a user with `chatd user add` (the password is read as one
        line from stdin).  Returns the CompletedProcess; asserts exit 0."""
        args = [self.binary, "user", "add", name, "--email", email] + self.store_args()
        if admin:
            args.insert(4, "--admin")
        cp = subprocess.run(args, input=(password + "\n").encode("utf-8"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=timeout, preexec_fn=_die_with_parent)
        if cp.returncode != 0:
            raise AssertionError("chatd user add %s failed (exit %d):\nstdout: %s\nstderr: %s" % (
                name, cp.returncode, cp.stdout.decode("utf-8", "replace"),
                cp.stderr.decode("utf-8", "replace")))
        return cp

    # -- lifecycle ------------------------------------------------------------
    def start(self, port=None, timeout=START_TIMEOUT):
        """Starts chatd (on port, or an ephemeral one) and waits for the
        readiness line; returns the port."""
        assert not self.alive(), "server already running"
        listen = "127.0.0.1:%d" % (port if port is not None else 0)
        args = ([self.binary, "--listen", listen] + self.store_args() + ["--public", self.public]
                + self.extra_args)
        errf = open(self.stderr_path, "ab")
        # The store URL may hold a password: the log names only the options.
        shown = ["<url>" if a.startswith(("mysql:", "redis:")) else a for a in args]
        errf.write(("\n=== start %d: %s ===\n" % (self.starts + 1, " ".join(shown))).encode())
        errf.flush()
        env = None
        if self.env:
            env = dict(os.environ)
            for k, v in self.env.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=errf, cwd=self.tmp, env=env,
                                         preexec_fn=_die_with_parent)
        finally:
            errf.close()
        _live_servers.add(self)
        self.starts += 1
        self._ready = threading.Event()
        found = {}
        proc = self.proc

        def reader():
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace")
                self.stdout_lines.append(line)
                if "port" not in found:
                    m = READY_RE.search(line)
                    if m:
                        found["port"] = int(m.group(1))
                        self._ready.set()
            proc.stdout.close()
            self._ready.set()

        self._stdout_thread = threading.Thread(target=reader, daemon=True)
        self._stdout_thread.start()
        ok = self._ready.wait(timeout)
        if not ok or "port" not in found:
            rc = self.proc.poll()
            self.kill()
            raise AssertionError("chatd did not become ready within %.0fs (exit code %r)%s" % (
                timeout, rc, self.diag()))
        if port is not None and found["port"] != port:
            self.kill()
            raise AssertionError("chatd listens on %d, asked for %d" % (found["port"], port))
        self.port = found["port"]
        return self.port

    def stop(self, timeout=STOP_TIMEOUT):
        """Sends SIGTERM and waits for the exit; returns the exit code.  If
        the process does not exit in time it is killed and AssertionError is
        raised."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("chatd did not exit within %.0fs of SIGTERM%s" % (timeout, self.diag()))
        rc = self.proc.returncode
        self._reap()
        return rc

    def kill(self):
        """SIGKILL (if still running) and reap."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        rc = self.proc.returncode
        self._reap()
        return rc

    def _reap(self):
        if self._stdout_thread is not None:
            self._stdout_thread.join(5)
            self._stdout_thread = None
        _live_servers.discard(self)

    def restart(self, kill=False):
        """Stops (SIGTERM, or SIGKILL if kill) and starts again on the same
        database and port.  Returns the exit code of the stopped process."""
        port = self.port
        rc = self.kill() if kill else self.stop()
        self.start(port=port)
        return rc

    def cleanup(self):
        self.kill()
        if os.environ.get("CHAT_KEEP_TMP"):
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


class ServerTestCase(unittest.TestCase):
    """A test class with its own chatd.  Subclasses may set ADMINS, a list of
    (username, password, email) created with `chatd user add --admin` before
    the first start."""

    ADMINS = []
    SERVER_ARGS = None  # extra chatd arguments for the class's server
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(extra_args=cls.SERVER_ARGS)
        try:
            for name, password, email in cls.ADMINS:
                cls.server.add_user(name, password, email, admin=True)
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        try:
            if srv.alive():
                rc = srv.stop()
                if rc != 0:
                    raise AssertionError("chatd exited with %r on SIGTERM%s" % (rc, srv.diag()))
        finally:
            srv.cleanup()
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        if not self.server.alive():
            self.fail("chatd is not running (exit code %r)%s" % (
                self.server.proc.returncode if self.server.proc else None, self.server.diag()))

    # -- helpers shared by all tests -----------------------------------------
    def client(self):
        return Client(self.server)

    def new_user(self, base="u", password=None, email=None, login=True):
        """Registers a fresh user; returns (client, username, password, user)
        with client logged in when login is true."""
        name = uniq(base)
        password = password or ("pw-" + name + "-secret")
        email = email or ("%s@example.org" % name.lower())
        c = self.client()
        r = c.register(name, password, email)
        self.assertEqual(r.status, 201, r.describe())
        user = r.json()["user"]
        if login:
            r = c.login(name, password)
            self.assertEqual(r.status, 200, r.describe())
        return c, name, password, user

    def admin_client(self, index=0):
        name, password, _ = self.ADMINS[index]
        c = self.client()
        r = c.login(name, password)
        self.assertEqual(r.status, 200, r.describe())
        return c

    def assert_api_error(self, resp, status, code):
        """Asserts an API error response: status, JSON body with error.code
        and a non-empty error.message."""
        self.assertEqual(resp.status, status, resp.describe())
        ctype = resp.header("Content-Type") or ""
        self.assertTrue(ctype.startswith("application/json"), "Content-Type %r; %s" % (ctype, resp.describe()))
        body = resp.json()
        self.assertIsInstance(body, dict, resp.describe())
        self.assertIn("error", body, resp.describe())
        err = body["error"]
        self.assertEqual(err.get("code"), code, resp.describe())
        self.assertIsInstance(err.get("message"), str, resp.describe())
        self.assertTrue(err["message"], resp.describe())
        return err

    def assert_healthy(self):
        r = self.client().get("/healthz")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"status": "ok", "store": "ok", "redis": "off"})

    def room_by_name(self, client, name):
        r = client.get("/api/rooms")
        self.assertEqual(r.status, 200, r.describe())
        for room in r.json()["rooms"]:
            if room["name"] == name:
                return room
        return None

    def lobby_id(self, client):
        room = self.room_by_name(client, "lobby")
        self.assertIsNotNone(room, "no room named lobby")
        return room["id"]

    def create_room(self, admin, name=None, topic="t"):
        name = name or uniq("room-")
        r = admin.post("/api/rooms", {"name": name, "topic": topic})
        self.assertEqual(r.status, 201, r.describe())
        return r.json()["room"]

    def history(self, client, room, **params):
        q = "&".join("%s=%s" % (k, v) for k, v in params.items())
        r = client.get("/api/rooms/%s/messages%s" % (room, ("?" + q) if q else ""))
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["messages"]

    def arun(self, coro, timeout=TEST_TIMEOUT):
        return run_async(coro, timeout)


# ---------------------------------------------------------------------------
# HTTP client with a cookie jar


def mariadb_exec(url, sql, top):
    """Runs sql with the mariadb client on url's server and account (a
    client.cnf with the password is written under top for the call)."""
    u = urllib.parse.urlsplit(url)
    cnf = os.path.join(top, "client.cnf")
    fd = os.open(cnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("[client]\nuser=%s\npassword=%s\nhost=%s\nport=%d\nprotocol=tcp\n" % (
            urllib.parse.unquote(u.username or ""), urllib.parse.unquote(u.password or ""),
            u.hostname, u.port or 3306))
    try:
        cp = subprocess.run(["mariadb", "--defaults-file=" + cnf, "--batch", "-e", sql],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=30)
    finally:
        os.unlink(cnf)
    if cp.returncode != 0:
        raise AssertionError("mariadb: %s: %s" % (sql, cp.stderr.decode("utf-8", "replace")))


class StoreTestCase(ServerTestCase):
    """A ServerTestCase whose chatd runs on SQLite or, in a subclass that sets
    MYSQL = True (and is skipped without CHAT_TEST_MYSQL_URL), on a MariaDB
    database of its own, made for the class on that server and dropped after
    it.  cls.tmp is a folder of the class's (removed after it).  Subclasses
    may override server_args() (extra chatd arguments; cls.tmp exists) and
    prepare() (runs once the server has started)."""

    MYSQL = False

    @classmethod
    def server_args(cls):
        return cls.SERVER_ARGS

    @classmethod
    def prepare(cls):
        pass

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.db_name = None
        cls.tmp = tempfile.mkdtemp(prefix="chatd-%s-" % cls.__name__.lower())
        try:
            store = None
            if cls.MYSQL:
                url = os.environ["CHAT_TEST_MYSQL_URL"]
                cls.db_name = "chat_test_%s_%d_%s" % (
                    cls.__name__.lower()[:24], os.getpid(), os.urandom(3).hex())
                mariadb_exec(url, "CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE "
                             "utf8mb4_unicode_ci" % cls.db_name, cls.tmp)
                u = urllib.parse.urlsplit(url)
                store = urllib.parse.urlunsplit(u._replace(path="/" + cls.db_name))
            cls.server = Server(store=store, extra_args=cls.server_args())
            try:
                for name, password, email in cls.ADMINS:
                    cls.server.add_user(name, password, email, admin=True)
                cls.server.start()
                cls.prepare()
            except BaseException:
                cls.server.cleanup()
                raise
        except BaseException:
            cls._drop_db()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls._drop_db()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _drop_db(cls):
        if cls.db_name:
            mariadb_exec(os.environ["CHAT_TEST_MYSQL_URL"],
                         "DROP DATABASE IF EXISTS `%s`" % cls.db_name, cls.tmp)
            cls.db_name = None


class Response:
    def __init__(self, method, path, status, reason, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (name, value)
        self.body = body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise AssertionError("response is not JSON (%s): %s" % (e, self.describe()))

    def text(self):
        return self.body.decode("utf-8", "replace")

    def describe(self):
        body = self.body[:600].decode("utf-8", "replace")
        return "%s %s -> %s %s %r body=%r" % (self.method, self.path, self.status, self.reason,
                                             self.headers, body)


def parse_set_cookie(value):
    """Parses one Set-Cookie value into (name, value, attrs) with attrs a dict
    of lower-cased attribute names (flags map to True)."""
    parts = [p.strip() for p in value.split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), val.strip(), attrs


_NO_BODY = object()


class Client:
    """HTTP/1.1 client for one user agent: keeps cookies between requests."""

    def __init__(self, server, sid=None):
        self.server = server
        self.cookies = {}
        self.last_set_cookies = []
        if sid is not None:
            self.cookies["sid"] = sid

    @property
    def sid(self):
        return self.cookies.get("sid")

    def request(self, method, path, body=_NO_BODY, headers=None, raw_body=None, origin=None,
                timeout=HTTP_TIMEOUT):
        hdrs = {}
        data = None
        if raw_body is not None:
            data = raw_body if isinstance(raw_body, bytes) else raw_body.encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif body is not _NO_BODY:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        if self.cookies:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if origin is not None:
            hdrs["Origin"] = origin
        if headers:
            hdrs.update(headers)
        if self.server.ssl_context is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=timeout,
                                               context=self.server.ssl_context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            body_bytes = resp.read()
            result = Response(method, path, resp.status, resp.reason, resp.getheaders(), body_bytes)
        finally:
            conn.close()
        self.last_set_cookies = []
        for sc in result.header_all("Set-Cookie"):
            name, val, attrs = parse_set_cookie(sc)
            self.last_set_cookies.append((name, val, attrs))
            expired = False
            if "max-age" in attrs:
                try:
                    expired = int(attrs["max-age"]) <= 0
                except ValueError:
                    pass
            if expired or val == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = val
        return result

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=_NO_BODY, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=_NO_BODY, **kw):
        return self.request("PATCH", path, body, **kw)

    def put(self, path, body=_NO_BODY, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def register(self, username, password, email, **kw):
        return self.post("/api/register", {"username": username, "password": password, "email": email}, **kw)

    def login(self, username, password, **kw):
        return self.post("/api/login", {"username": username, "password": password}, **kw)


# ---------------------------------------------------------------------------
# Raw HTTP over a plain socket

class RawResponse:
    def __init__(self, status, reason, headers, body, raw):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw = raw

    header = Response.header
    header_all = Response.header_all
    json = Response.json

    def describe(self):
        return "raw -> %s %s %r body=%r" % (self.status, self.reason, self.headers,
                                            self.body[:600].decode("utf-8", "replace"))


class RawHTTP:
    """A plain TCP connection to the server for hand-made requests."""

    def __init__(self, port, timeout=HTTP_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""

    def send(self, data):
        """Sends bytes; returns False if the peer already closed or reset."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out reading an HTTP response; got %r" % self.buf[:300])
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("timed out reading an HTTP response; got %r" % self.buf[:300])
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_response(self, timeout=None, head=False):
        """Reads one response (Content-Length or chunked body; a body that
        ends at close when neither is given).  head: no body expected."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise AssertionError("connection closed before a full response header; got %r" % self.buf[:300])
        head_bytes, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head_bytes.decode("iso-8859-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        status, reason = int(m.group(1)), m.group(2)
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        resp = RawResponse(status, reason, headers, b"", head_bytes)
        if head or status in (204, 304) or 100 <= status < 200:
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        if "chunked" in te:
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill(deadline):
                        raise AssertionError("closed inside a chunked body")
                size_line, _, self.buf = self.buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    if not self._fill(deadline):
                        raise AssertionError("closed inside a chunked body")
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
            resp.body = body
        elif cl is not None:
            n = int(cl)
            while len(self.buf) < n:
                if not self._fill(deadline):
                    raise AssertionError("connection closed after %d of %d body bytes" % (len(self.buf), n))
            resp.body, self.buf = self.buf[:n], self.buf[n:]
        else:
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def request(self, data, timeout=None):
        self.send(data)
        return self.read_response(timeout)

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection (EOF or reset) within
        timeout; extra bytes received meanwhile are discarded."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, OSError):
                return True
            if not chunk:
                return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def raw_request(port, data, timeout=HTTP_TIMEOUT):
    """Sends one hand-made request on a new connection and returns
    (response, connection); the caller closes the connection."""
    c = RawHTTP(port, timeout)
    c.send(data)
    return c.read_response(timeout), c


# ---------------------------------------------------------------------------
# WebSocket client on python3-websockets (asyncio)

_open_ws = []


class WS:
    """A JSON WebSocket client.  Received frames are kept in `pending` until a
    test takes them with expect(); frames that do not match stay there."""

    def __init__(self, conn, label):
        self.conn = conn
        self.label = label
        self.pending = []

    @classmethod
    async def connect(cls, server, client=None, sid=None, origin=None, label=None, timeout=10.0):
        headers = {}
        sid = sid if sid is not None else (client.sid if client is not None else None)
        if sid is not None:
            headers["Cookie"] = "sid=%s" % sid
        tls = {"ssl": server.ssl_context} if server.ssl_context is not None else {}
        conn = await asyncio.wait_for(
            websockets.connect(server.ws_url, extra_headers=headers, origin=origin, max_size=None,
                               max_queue=None, ping_interval=None, open_timeout=timeout,
                               close_timeout=5, **tls),
            timeout + 1)
        ws = cls(conn, label or "ws%d" % len(_open_ws))
        _open_ws.append(ws)
        return ws

    async def send(self, obj, ensure_ascii=False):
        await self.conn.send(json.dumps(obj, ensure_ascii=ensure_ascii))

    async def send_text(self, text):
        await self.conn.send(text)

    async def _read(self, timeout):
        """Reads one frame into pending.  Returns False on timeout."""
        try:
            data = await asyncio.wait_for(self.conn.recv(), timeout)
        except asyncio.TimeoutError:
            return False
        except websockets.exceptions.ConnectionClosed:
            raise AssertionError("%s: connection closed (code %r, reason %r); pending frames: %s" % (
                self.label, self.conn.close_code, self.conn.close_reason, self._pending_desc()))
        if isinstance(data, bytes):
            self.pending.append({"__binary__": data})
        else:
            try:
                self.pending.append(json.loads(data))
            except ValueError:
                self.pending.append({"__text__": data})
        return True

    def _pending_desc(self, limit=12):
        items = [json.dumps(f, ensure_ascii=False)[:200] for f in self.pending[-limit:]]
        return "[%d] %s" % (len(self.pending), "; ".join(items))

    def take(self, pred):
        """Removes and returns every pending frame matching pred."""
        got = [f for f in self.pending if pred(f)]
        self.pending = [f for f in self.pending if not pred(f)]
        return got

    def peek(self, pred):
        return [f for f in self.pending if pred(f)]

    async def expect(self, pred, timeout=FRAME_TIMEOUT, desc=None):
        """Returns (and removes) the first frame that matches pred, reading
        more frames as needed; fails after timeout seconds."""
        deadline = time.monotonic() + timeout
        scanned = 0
        while True:
            for i in range(scanned, len(self.pending)):
                if pred(self.pending[i]):
                    return self.pending.pop(i)
            scanned = len(self.pending)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self._read(remaining):
                raise AssertionError("%s: no %s within %.1fs; pending frames: %s" % (
                    self.label, desc or getattr(pred, "desc", "matching frame"), timeout,
                    self._pending_desc()))

    async def expect_match(self, timeout=FRAME_TIMEOUT, **fields):
        return await self.expect(match(**fields), timeout)

    async def collect(self, duration):
        """Reads everything that arrives within duration seconds (used only
        to prove that something does NOT arrive)."""
        deadline = time.monotonic() + duration
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self.pending
            if not await self._read(remaining):
                return self.pending

    async def closed(self, timeout=FRAME_TIMEOUT):
        """Waits until the server closes the connection; returns the close
        code the server sent (1006 when it closed without a close frame)."""
        try:
            await asyncio.wait_for(self.conn.wait_closed(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError("%s: still open after %.1fs" % (self.label, timeout))
        return self.conn.close_code

    async def close(self):
        try:
            await asyncio.wait_for(self.conn.close(), 8)
        except Exception:
            pass
        if self in _open_ws:
            _open_ws.remove(self)

    # -- chat operations --------------------------------------------------
    async def join(self, room, since=None, timeout=FRAME_TIMEOUT):
        """Sends join and returns the `joined` reply, or the `error` frame."""
        obj = {"type": "join", "room": room}
        if since is not None:
            obj["since"] = since
        await self.send(obj)
        return await self.expect(
            lambda f: (f.get("type") == "joined" and f.get("room") == room) or f.get("type") == "error",
            timeout, desc="joined/error for room %r" % room)

    async def send_msg(self, room, text, cid=None, timeout=FRAME_TIMEOUT, retry_rate_limited=True,
                       ensure_ascii=False):
        """Sends a message and returns the ack, or the error frame for it.
        A rate_limited error is retried with a growing pause (bounded)."""
        cid = cid if cid is not None else uniq("c")
        pause = 0.2
        deadline = time.monotonic() + 60
        while True:
            await self.send({"type": "send", "room": room, "text": text, "cid": cid}, ensure_ascii=ensure_ascii)
            f = await self.expect(
                lambda f: (f.get("type") == "ack" and f.get("cid") == cid)
                or (f.get("type") == "error" and f.get("cid", cid) == cid),
                timeout, desc="ack/error for cid %r" % cid)
            if (retry_rate_limited and f.get("type") == "error" and f.get("code") == "rate_limited"
                    and time.monotonic() < deadline):
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            return f


async def close_all_ws():
    for ws in list(_open_ws):
        await ws.close()
    _open_ws.clear()


def run_async(coro, timeout=TEST_TIMEOUT):
    """Runs a coroutine in a new event loop, bounded by timeout seconds; every
    WS opened meanwhile is closed before the loop ends."""
    async def main():
        try:
            return await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            raise AssertionError("test body exceeded %.0fs" % timeout)
        finally:
            await close_all_ws()
    return asyncio.run(main())


def async_test(timeout=TEST_TIMEOUT):
    """Decorator: an `async def test_x(self)` runs with run_async()."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *args, **kw):
            return run_async(fn(self, *args, **kw), timeout)
        return wrapper
    return deco


# ---------------------------------------------------------------------------
# Raw WebSocket client over a plain socket

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeRefused(Exception):
    def __init__(self, response):
        super().__init__("handshake refused: %s" % response.describe())
        self.response = response


def encode_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None):
    """Encodes one client frame (masked unless mask is false).  rsv is the
    three reserved bits as a number 0..7."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, key)
    return hdr + key + masked


def _mask_fast(payload, key):
    n = len(payload)
    k = int.from_bytes((key * ((n + 3) // 4))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


class RawWS:
    """A WebSocket client written on a plain socket: handshake, masked frame
    encoder and a decoder for the server's frames."""

    def __init__(self, port, sid=None, origin=None, timeout=FRAME_TIMEOUT, label="raw",
                 ssl_context=None):
        self.label = label
        self.timeout = timeout
        self.pending = []
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET /ws HTTP/1.1", "Host: 127.0.0.1:%d" % port, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if sid is not None:
            lines.append("Cookie: sid=%s" % sid)
        if origin is not None:
            lines.append("Origin: " + origin)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                self.close()
                raise AssertionError("%s: closed during the handshake; got %r" % (label, self.buf[:300]))
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        hl = head.decode("iso-8859-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) ?(.*)$", hl[0])
        if not m:
            self.close()
            raise AssertionError("%s: bad status line %r" % (label, hl[0]))
        headers = [(k.strip(), v.strip()) for k, _, v in (l.partition(":") for l in hl[1:])]
        status = int(m.group(1))
        self.response = RawResponse(status, m.group(2), headers, b"", head)
        if status != 101:
            cl = self.response.header("Content-Length")
            if cl:
                n = int(cl)
                while len(self.buf) < n and self._fill(deadline):
                    pass
                self.response.body = self.buf[:n]
            self.close()
            raise HandshakeRefused(self.response)
        expect_accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if self.response.header("Sec-WebSocket-Accept") != expect_accept:
            self.close()
            raise AssertionError("%s: bad Sec-WebSocket-Accept in %s" % (label, self.response.describe()))
        if (self.response.header("Upgrade") or "").lower() != "websocket":
            self.close()
            raise AssertionError("%s: bad Upgrade header in %s" % (label, self.response.describe()))

    # -- bytes ----------------------------------------------------------------
    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return False
        if not chunk:
            return False
        self.buf += chunk
        return True

    def send_bytes(self, data):
        """Sends raw bytes; returns False if the peer has closed/reset."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True):
        return self.send_bytes(encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask))

    def send_json(self, obj):
        return self.send_frame(OP_TEXT, json.dumps(obj, ensure_ascii=False))

    # -- frames ---------------------------------------------------------------
    def recv_frame(self, timeout=None):
        """Returns (fin, opcode, payload) of the next server frame.  Raises
        AssertionError on timeout, on EOF ('eof') and on a masked server
        frame or a frame with reserved bits."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            r = self._fill(deadline)
            if r is None:
                raise AssertionError("%s: timed out waiting for a frame" % self.label)
            if r is False:
                raise EOFError("%s: connection closed by the server" % self.label)

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        b0, b1 = b[0], b[1]
        if b1 & 0x80:
            raise AssertionError("%s: server frame is masked" % self.label)
        if b0 & 0x70:
            raise AssertionError("%s: server frame has reserved bits set" % self.label)
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = struct.unpack("!H", b[2:4])[0]
            pos = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = struct.unpack("!Q", b[2:10])[0]
            pos = 10
        if len(b) < pos + n:
            return None
        payload = b[pos:pos + n]
        self.buf = b[pos + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_json(self, timeout=None):
        """The next text message as JSON (answers pings, fails on close)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            remaining = max(0.001, deadline - time.monotonic())
            fin, op, payload = self.recv_frame(remaining)
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise AssertionError("%s: server closed with %r %r; pending %r" % (
                    self.label, code, payload[2:], self.pending[-5:]))
            if op != OP_TEXT or not fin:
                raise AssertionError("%s: unexpected frame op=%d fin=%s" % (self.label, op, fin))
            return json.loads(payload.decode("utf-8"))

    def expect(self, pred, timeout=None, desc=None):
        """Returns (and removes) the first JSON frame that matches pred."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        for i, f in enumerate(self.pending):
            if pred(f):
                return self.pending.pop(i)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("%s: no %s; pending %r" % (
                    self.label, desc or getattr(pred, "desc", "matching frame"), self.pending[-8:]))
            try:
                f = self.recv_json(remaining)
            except AssertionError as e:
                raise AssertionError("%s (waiting for %s)" % (e, desc or getattr(pred, "desc", "frame")))
            if pred(f):
                return f
            self.pending.append(f)

    def expect_close(self, timeout=None):
        """Reads until the server's close frame; answers it with a close frame
        and returns (code, reason).  Fails if the connection ends without a
        close frame or nothing arrives in time."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("%s: no close frame in time" % self.label)
            try:
                fin, op, payload = self.recv_frame(remaining)
            except EOFError:
                raise AssertionError("%s: connection ended without a close frame" % self.label)
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                reason = payload[2:]
                self.send_frame(OP_CLOSE, payload[:2])
                return code, reason
            if op == OP_TEXT:
                try:
                    self.pending.append(json.loads(payload.decode("utf-8")))
                except ValueError:
                    self.pending.append({"__text__": payload})

    def wait_eof(self, timeout=5.0):
        """True if the server ends the TCP connection within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            r = self._fill(deadline)
            if r is None:
                return False
            if r is False:
                return True
            self.buf = b""

    # -- chat operations ------------------------------------------------------
    def join(self, room, since=None):
        obj = {"type": "join", "room": room}
        if since is not None:
            obj["since"] = since
        self.send_json(obj)
        return self.expect(lambda f: (f.get("type") == "joined" and f.get("room") == room)
                           or f.get("type") == "error", desc="joined/error for %r" % room)

    def send_msg(self, room, text, cid=None):
        cid = cid if cid is not None else uniq("c")
        pause = 0.2
        deadline = time.monotonic() + 60
        while True:
            self.send_json({"type": "send", "room": room, "text": text, "cid": cid})
            f = self.expect(lambda f: (f.get("type") == "ack" and f.get("cid") == cid)
                            or (f.get("type") == "error" and f.get("cid", cid) == cid),
                            desc="ack/error for cid %r" % cid)
            if f.get("type") == "error" and f.get("code") == "rate_limited" and time.monotonic() < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            return f

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
