"""Abuse limits, through the real server, each with small limits set by flags:
registrations per address, failed logins per account (a growing delay, not a
lockout) and per address, connections per address and in all, WebSockets per
user, one flood bucket per user over all its sockets and every frame, the
output a pipelining client that never reads may make the server hold, small
bodies for login and register, and the password-hashing queue (full: 503
with Retry-After, while a connected user's messages are still acked).

Every client here is on loopback; a client "from another address" binds its
socket to another 127.0.0.x address (all of 127/8 is local on Linux)."""

import asyncio
import concurrent.futures
import http.client
import json
import os
import re
import socket
import threading
import time
import unittest

from chatlib import (HTTP_TIMEOUT, Response, Server, ServerTestCase, WS, async_test, uniq)


def request_from(server, source, method, path, body=None, timeout=HTTP_TIMEOUT, raw_body=None):
    """One request on a new connection from the source address `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout,
                                      source_address=(source, 0))
    hdrs = {}
    data = None
    if raw_body is not None:
        data = raw_body
        hdrs["Content-Type"] = "application/json"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return Response(method, path, resp.status, resp.reason, resp.getheaders(), resp.read())
    finally:
        conn.close()


def login_from(server, source, name, password, timeout=HTTP_TIMEOUT):
    return request_from(server, source, "POST", "/api/login", {"username": name, "password": password},
                        timeout=timeout)


def register_from(server, source, name):
    return request_from(server, source, "POST", "/api/register",
                        {"username": name, "password": "pw-" + name + "-secret",
                         "email": name.lower() + "@example.org"})


def retry_after(test, r):
    ra = r.header("Retry-After")
    test.assertIsNotNone(ra, r.describe())
    test.assertTrue(re.fullmatch(r"\d+", ra.strip()), "Retry-After %r" % ra)
    return int(ra)


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def metric(test, name):
    r = test.client().get("/metrics")
    test.assertEqual(r.status, 200, r.describe())
    m = re.search(r"^%s (\S+)$" % re.escape(name), r.text(), re.M)
    test.assertIsNotNone(m, "no %s in /metrics" % name)
    return float(m.group(1))


class RegistrationLimitTest(ServerTestCase):
    SERVER_ARGS = ["--register-limit", "3/3600"]

    def test_registrations_per_address_per_hour(self):
        # A refused registration (bad input) does not count.
        r = register_from(self.server, "127.0.0.2", "x")
        self.assert_api_error(r, 400, "invalid_username")
        for _ in range(3):
            r = register_from(self.server, "127.0.0.2", uniq("reg"))
            self.assertEqual(r.status, 201, r.describe())
        r = register_from(self.server, "127.0.0.2", uniq("reg"))
        self.assert_api_error(r, 429, "rate_limited")
        ra = retry_after(self, r)
        self.assertGreaterEqual(ra, 1)
        self.assertLessEqual(ra, 1200)  # one of three an hour comes back in 20 minutes
        # Another address is not affected.
        r = register_from(self.server, "127.0.0.3", uniq("reg"))
        self.assertEqual(r.status, 201, r.describe())


class LoginBackoffTest(ServerTestCase):
    """Failures per account, from any address: three free, then 1 s, 2 s, ...
    at most 4 s.  The per-address limit is off here."""
    SERVER_ARGS = ["--login-backoff", "3:1:4", "--login-ip-limit", "0"]

    def test_failures_across_addresses_slow_down_the_account(self):
        _, name, pw, _ = self.new_user("bo", login=False)
        for i in range(3):
            r = login_from(self.server, "127.0.0.%d" % (10 + i), name, "wrong-%d" % i)
            self.assert_api_error(r, 401, "invalid_credentials")
        # A fourth address, even with the right password, waits a little.
        r = login_from(self.server, "127.0.0.20", name, pw)
        self.assert_api_error(r, 429, "rate_limited")
        self.assertEqual(retry_after(self, r), 1)
        # Not a lockout: once the delay is over, the right password works.
        time.sleep(1.1)
        r = login_from(self.server, "127.0.0.20", name, pw)
        self.assertEqual(r.status, 200, r.describe())
        # ... and a success starts the account afresh.
        for i in range(3):
            self.assert_api_error(login_from(self.server, "127.0.0.21", name, "bad-%d" % i), 401,
                                  "invalid_credentials")

    def test_the_delay_grows_and_is_capped(self):
        _, name, pw, _ = self.new_user("bo", login=False)
        for i in range(3):
            self.assert_api_error(login_from(self.server, "127.0.0.30", name, "w%d" % i), 401,
                                  "invalid_credentials")
        waits = []
        for i in range(4):
            r = login_from(self.server, "127.0.0.31", name, "again")
            self.assert_api_error(r, 429, "rate_limited")
            waits.append(retry_after(self, r))
            time.sleep(waits[-1] + 0.1)
            self.assert_api_error(login_from(self.server, "127.0.0.31", name, "w-%d" % i), 401,
                                  "invalid_credentials")
        self.assertEqual(waits, [1, 2, 4, 4], waits)
        # Another account is not slowed down.
        _, other, opw, _ = self.new_user("bo", login=False)
        self.assertEqual(login_from(self.server, "127.0.0.30", other, opw).status, 200)

    def test_parallel_guesses_get_no_more_than_the_free_ones(self):
        _, name, _, _ = self.new_user("bop", login=False)

        def guess(i):
            return login_from(self.server, "127.0.0.%d" % (40 + i), name, "guess-%d" % i).status

        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(guess, range(10)))
        self.assertEqual(statuses.count(401), 3, statuses)
        self.assertEqual(statuses.count(429), 7, statuses)


class LoginAddressLimitTest(ServerTestCase):
    """Failed logins per address over all accounts: 4 in 10 minutes."""
    SERVER_ARGS = ["--login-ip-limit", "4/600", "--login-backoff", "0:0:0"]

    def test_failures_per_address_across_accounts(self):
        for i in range(4):
            r = login_from(self.server, "127.0.0.50", uniq("nobody"), "pw-%d" % i)
            self.assert_api_error(r, 401, "invalid_credentials")
        r = login_from(self.server, "127.0.0.50", uniq("nobody"), "pw")
        self.assert_api_error(r, 429, "rate_limited")
        self.assertGreaterEqual(retry_after(self, r), 60)  # 4 in 600 s: one back every 150 s
        # Another address is not affected, nor is a good login there.
        r = login_from(self.server, "127.0.0.51", uniq("nobody"), "pw")
        self.assert_api_error(r, 401, "invalid_credentials")
        _, name, pw, _ = self.new_user("ip", login=False)
        self.assertEqual(login_from(self.server, "127.0.0.51", name, pw).status, 200)


class BodyLimitTest(ServerTestCase):
    def test_login_and_register_bodies_are_small(self):
        big = json.dumps({"username": "someone", "password": "p" * 5000}).encode()
        for path in ("/api/login", "/api/register"):
            r = request_from(self.server, "127.0.0.1", "POST", path, raw_body=big)
            self.assert_api_error(r, 413, "payload_too_large")
        self.assert_healthy()


class ConnectionLimitTest(ServerTestCase):
    SERVER_ARGS = ["--max-conns-ip", "3", "--max-conns", "5"]

    def connect_from(self, source):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10,
                                     source_address=(source, 0))
        return s

    def expect_refused(self, s):
        """The server answers 503 and closes, before any request."""
        s.settimeout(10)
        data = b""
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data[:200])
        self.assertIn(b"Retry-After:", data)
        s.close()

    def expect_served(self, s):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        data = s.recv(4096)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])

    def test_per_address_then_in_all(self):
        mine = [self.connect_from("127.0.0.60") for _ in range(3)]
        for s in mine:
            self.expect_served(s)
        self.expect_refused(self.connect_from("127.0.0.60"))
        # Other addresses may still connect, up to five connections in all.
        others = [self.connect_from("127.0.0.61"), self.connect_from("127.0.0.62")]
        for s in others:
            self.expect_served(s)
        self.expect_refused(self.connect_from("127.0.0.63"))
        # Closing one makes room again.
        mine.pop().close()
        def served():
            s = self.connect_from("127.0.0.63")
            try:
                self.expect_served(s)
                return True
            except AssertionError:
                return False
            finally:
                s.close()
        deadline = time.monotonic() + 5
        while not served():
            self.assertLess(time.monotonic(), deadline, "no room after a connection closed")
            time.sleep(0.1)
        for s in mine + others:
            s.close()


class WebSocketsPerUserTest(ServerTestCase):
    SERVER_ARGS = ["--max-ws-user", "2"]

    @async_test(timeout=60)
    async def test_the_extra_socket_is_closed_with_1013(self):
        c, _, _, _ = self.new_user("wsu")
        lobby = self.lobby_id(c)
        a = await WS.connect(self.server, c, label="a")
        b = await WS.connect(self.server, c, label="b")
        extra = await WS.connect(self.server, c, label="extra")
        self.assertEqual(await extra.closed(), 1013)
        self.assertIn("too many", extra.conn.close_reason)
        # The first two still work.
        for ws in (a, b):
            self.assertEqual((await ws.join(lobby)).get("type"), "joined")
        ack = await a.send_msg(lobby, "still here")
        self.assertEqual(ack.get("type"), "ack", ack)
        # Another user is not affected; a closed socket makes room.
        c2, _, _, _ = self.new_user("wsu")
        other = await WS.connect(self.server, c2, label="other")
        self.assertEqual((await other.join(lobby)).get("type"), "joined")
        await b.close()
        again = await WS.connect(self.server, c, label="again")
        self.assertEqual((await again.join(lobby)).get("type"), "joined")


class FloodPerUserTest(ServerTestCase):
    SERVER_ARGS = ["--ws-rate", "5:10"]

    @async_test(timeout=60)
    async def test_one_bucket_for_all_of_a_users_sockets(self):
        c, _, _, _ = self.new_user("fl")
        lobby = self.lobby_id(c)
        a = await WS.connect(self.server, c, label="a")
        b = await WS.connect(self.server, c, label="b")
        for ws in (a, b):
            self.assertEqual((await ws.join(lobby)).get("type"), "joined")
        # Two joins took two of the ten; sixteen sends over two sockets.
        for i in range(8):
            await a.send({"type": "send", "room": lobby, "text": "a%d" % i, "cid": "a%d" % i})
            await b.send({"type": "send", "room": lobby, "text": "b%d" % i, "cid": "b%d" % i})
        answers = {}
        for ws, prefix in ((a, "a"), (b, "b")):
            while len([k for k in answers if k.startswith(prefix)]) < 8:
                f = await ws.expect(lambda f: f.get("type") in ("ack", "error") and "cid" in f, timeout=10)
                answers[f["cid"]] = f
        acked = [k for k, f in answers.items() if f["type"] == "ack"]
        limited = [k for k, f in answers.items() if f.get("code") == "rate_limited"]
        self.assertEqual(len(acked) + len(limited), 16, answers)
        self.assertGreaterEqual(len(acked), 8, answers)
        self.assertLessEqual(len(acked), 10, answers)

    @async_test(timeout=60)
    async def test_every_frame_counts(self):
        c, _, _, _ = self.new_user("fl")
        lobby = self.lobby_id(c)
        ws = await WS.connect(self.server, c, label="frames")
        # Leaves of rooms it never joined, and unknown types: each takes a token.
        for i in range(12):
            await ws.send({"type": "leave" if i % 2 else "nonsense", "room": lobby})
        answers = []
        while len(answers) < 12:
            answers.append(await ws.expect(lambda f: f.get("type") == "error"))
        codes = [f["code"] for f in answers]
        # Ten go through (and are refused for what they are), two are not
        # even looked at.
        self.assertEqual(codes.count("rate_limited"), 2, codes)
        self.assertEqual(codes.count("not_member") + codes.count("unknown_type"), 10, codes)
        await asyncio.sleep(1.0)
        self.assertEqual((await ws.join(lobby)).get("type"), "joined")
        ack = await ws.send_msg(lobby, "after the pause", retry_rate_limited=False)
        self.assertEqual(ack.get("type"), "ack", ack)


class PipelineNoReadTest(ServerTestCase):
    """Clients that pipeline requests for a large file and never read: the
    server stops reading them once the cap's worth of answers is queued."""
    SERVER_ARGS = ["--http-out-cap", "65536", "--max-conns-ip", "0"]

    @classmethod
    def setUpClass(cls):
        # RSS is the measure here: a sanitizer build's quarantine of freed
        # memory (256 MB by default) must not count.
        opts = os.environ.get("ASAN_OPTIONS", "")
        env = {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=4"}
        cls.server = Server(extra_args=cls.SERVER_ARGS, env=env)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    def test_output_is_bounded_for_clients_that_do_not_read(self):
        pid = self.server.proc.pid
        path = "/vendor/bootstrap/css/bootstrap.css"
        r = self.client().get(path)
        if r.status != 200:
            self.skipTest("Bootstrap (libjs-bootstrap5) is not installed")
        size = len(r.body)
        req = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode() * 200
        time.sleep(0.5)
        before = vm_rss_kb(pid)
        socks = []
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            try:
                s.send(req)
            except BlockingIOError:
                pass
            socks.append(s)
        time.sleep(2.0)
        after = vm_rss_kb(pid)
        # Without the pause this is 40 x 200 answers (gigabytes); with it,
        # each connection holds about the cap plus one answer (what the
        # kernel's socket buffers take is not the server's memory).
        grown_mb = (after - before) / 1024.0
        self.assertLess(grown_mb, 64, "RSS grew %.1f MB for %d-byte answers" % (grown_mb, size))
        self.assert_healthy()
        for s in socks:
            s.close()


class HashQueueTest(ServerTestCase):
    """One hashing thread with room for 12: a burst of 60 bogus logins
    fills it; the rest are told 503 with Retry-After, and a connected user's
    messages are acked while logins are still waiting for the hasher."""
    SERVER_ARGS = ["--hash-threads", "1", "--hash-queue", "12", "--login-ip-limit", "0",
                   "--login-backoff", "0:0:0"]

    @async_test(timeout=240)
    async def test_a_full_queue_refuses_logins_not_messages(self):
        c, _, _, _ = self.new_user("hq")
        lobby = self.lobby_id(c)
        ws = await WS.connect(self.server, c, label="hq")
        self.assertEqual((await ws.join(lobby)).get("type"), "joined")

        results = []
        lock = threading.Lock()

        def bogus(i):
            # A sanitizer build on a busy machine hashes slowly: be patient.
            r = login_from(self.server, "127.0.0.1", "nobody%03d" % i, "guess-%d" % i, timeout=120)
            with lock:
                results.append((time.monotonic(), r))

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=60)
        futures = [pool.submit(bogus, i) for i in range(60)]
        # Wait until the hasher is busy with a backlog.
        deadline = time.monotonic() + 20
        while metric(self, "chat_hash_pending") < 4:
            self.assertLess(time.monotonic(), deadline, "the hasher never got busy")
            await asyncio.sleep(0.05)
        acks = []
        for i in range(5):
            ack = await ws.send_msg(lobby, "during the flood %d" % i)
            self.assertEqual(ack.get("type"), "ack", ack)
            acks.append(time.monotonic())
        pending_after = metric(self, "chat_hash_pending")
        await asyncio.get_running_loop().run_in_executor(None, lambda: [f.result() for f in futures])
        pool.shutdown()
        statuses = [r.status for _, r in results]
        self.assertEqual(len(statuses), 60)
        self.assertEqual(statuses.count(401) + statuses.count(503), 60, statuses)
        self.assertGreaterEqual(statuses.count(503), 20, statuses)
        for _, r in results:
            if r.status == 503:
                self.assert_api_error(r, 503, "busy")
                self.assertGreaterEqual(retry_after(self, r), 1)
        # The messages went through while logins were still queued.
        self.assertGreater(pending_after, 0)
        last_login = max(t for t, r in results if r.status == 401)
        self.assertLess(acks[-1], last_login)
        self.assertGreaterEqual(metric(self, "chat_hash_refused_total"), 20)


if __name__ == "__main__":
    unittest.main()
