"""WebSocket keepalive: pings, dead peers, and the page-level ping frame.

chatd runs with --ws-ping-interval 1: a WebSocket that has sent nothing for
1 s gets a ping, one that has sent nothing for 2 s is a dead peer and is
closed (checked four times a second, so within 2.25 s, plus the machine's
delays).

Cases:
  1. a raw client that never answers pings is closed without a close frame,
     not before one interval and within about two; the log names it by
     address and port; /metrics counts it
  2. clients that answer stay connected across many intervals: one that
     answers pings with pongs, one that sends only data frames, and a
     python-websockets client (answering by itself)
  3. {"type":"ping"} is answered {"type":"pong"}
  4. a client process frozen with SIGSTOP is dropped, and another user sees
     presence leave and online false promptly (the TCP connection is fine:
     the frozen process's kernel still acknowledges)
  5. log lines name a connection by address and port, and behind a trusted
     proxy as "CLIENT via ADDR:PORT" (accept, WebSocket, dead peer, close)
  6. two instances on Redis (and MariaDB): the other instance sees the
     frozen user offline well before the 15 s expiry of instance entries
"""

import asyncio
import base64
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unittest

from chatlib import (OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WS, Client, RawWS, Server, ServerTestCase,
                     aeventually, async_test, eventually, match, run_async, uniq)
from test_cluster import ClusterCase

PING = 1.0                  # the servers' --ws-ping-interval in this file
DROP_MIN = 1.5              # a silent peer is never dropped before this (it is 2 s, by the server's clock)
DROP_MAX = 7.0              # ... and always within this (2.25 s, plus a loaded machine's delays)
STAY = 5.5                  # how long answering clients are watched (over five intervals)

ADMIN = ("kaadmin", "keepalive-admin-secret", "kaadmin@example.org")

# A chat client in a process of its own, to be frozen with SIGSTOP: it joins
# a room, prints "ready PORT" (its local port) and then only answers pings
# (python-websockets does that by itself) until it is killed.
FROZEN_CLIENT = r"""
import asyncio, json, sys, websockets
url, sid, room = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def main():
    async with websockets.connect(url, extra_headers={"Cookie": "sid=" + sid},
                                  ping_interval=None, open_timeout=20) as ws:
        await ws.send(json.dumps({"type": "join", "room": room}))
        while True:
            f = json.loads(await ws.recv())
            if f.get("type") == "joined":
                break
        print("ready %d" % ws.transport.get_extra_info("sockname")[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


class FrozenClient:
    """A client process that joins room as the user of sid; freeze() stops it."""

    def __init__(self, server, sid, room, timeout=30.0):
        self.proc = subprocess.Popen([sys.executable, "-c", FROZEN_CLIENT, server.ws_url, sid, str(room)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.proc.stdout], [], [], remaining)[0]:
                self.kill()
                raise AssertionError("the client process did not join within %.0fs" % timeout)
            chunk = os.read(self.proc.stdout.fileno(), 64)
            if not chunk:
                err = self.proc.stderr.read().decode("utf-8", "replace")
                self.kill()
                raise AssertionError("the client process ended: %s" % err[-2000:])
            line += chunk
        m = re.match(rb"ready (\d+)", line)
        assert m, line
        self.port = int(m.group(1))

    def freeze(self):
        self.proc.send_signal(signal.SIGSTOP)
        return time.monotonic()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()   # also ends a stopped process
        self.proc.wait(10)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


def metric(client, name):
    r = client.get("/metrics")
    assert r.status == 200, r.describe()
    m = re.search(r"^%s (\d+)$" % re.escape(name), r.text(), re.M)
    assert m, "no %s in /metrics" % name
    return int(m.group(1))


def raw_local_port(raw):
    return raw.sock.getsockname()[1]


class KeepaliveTest(ServerTestCase):
    ADMINS = [ADMIN]
    SERVER_ARGS = ["--ws-ping-interval", str(PING)]

    def raw_ws(self, label, c=None):
        """A raw WebSocket of a new user (or of client c's): nothing answers
        its pings until the caller does."""
        name = None
        if c is None:
            c, name, _, _ = self.new_user("ka")
        return RawWS(self.server.port, sid=c.sid, label=label), c, name

    def log_has(self, *parts):
        text = self.server.stderr_text(tail=1 << 20)
        return any(all(p in line for p in parts) for line in text.splitlines())

    def test_silent_client_is_dropped_within_two_intervals(self):
        before = metric(self.client(), "chat_ws_dead_peers_total")
        raw, _, name = self.raw_ws("silent")
        port = raw_local_port(raw)
        t0 = time.monotonic()
        pings = []
        try:
            # Read everything and answer nothing.
            while True:
                try:
                    fin, op, payload = raw.recv_frame(timeout=DROP_MAX + 3)
                except EOFError:
                    break
                self.assertNotEqual(op, OP_CLOSE, "a dead peer gets no close frame: %r" % payload)
                if op == OP_PING:
                    pings.append(time.monotonic() - t0)
            dropped = time.monotonic() - t0
        finally:
            raw.close()
        self.assertGreaterEqual(len(pings), 1, "no ping before the drop")
        self.assertEqual(len(pings), 1, "one ping per silence: %r" % pings)
        self.assertGreaterEqual(pings[0], PING * 0.8, "pinged before an interval: %r" % pings)
        self.assertGreaterEqual(dropped, DROP_MIN, "dropped after %.2fs" % dropped)
        self.assertLessEqual(dropped, DROP_MAX, "dropped after %.2fs" % dropped)
        print("\n  silent client: pinged after %.2fs, dropped after %.2fs" % (pings[0], dropped))
        # The log names it by address and port, and its user; /metrics counts it.
        self.assertTrue(self.log_has("dead peer", "127.0.0.1:%d" % port, name), self.server.diag())
        self.assertEqual(metric(self.client(), "chat_ws_dead_peers_total"), before + 1)

    @async_test(timeout=60)
    async def test_clients_that_answer_stay_connected(self):
        # Users first (registering hashes a password, which takes a while on
        # a loaded machine): a socket nobody answers for two intervals is
        # rightly dropped.
        users = [self.new_user("ka")[0] for _ in range(3)]
        lobby = self.lobby_id(users[0])
        ponger, _, _ = self.raw_ws("ponger", users[0])
        talker, _, _ = self.raw_ws("talker", users[1])
        lib = await WS.connect(self.server, users[2], label="websockets")
        loop = asyncio.get_running_loop()

        def answer_pings():
            """Answers every ping for STAY seconds; returns how many came."""
            n = 0
            end = time.monotonic() + STAY
            while time.monotonic() < end:
                try:
                    fin, op, payload = ponger.recv_frame(timeout=max(0.01, end - time.monotonic()))
                except AssertionError:
                    break   # nothing more within the time
                self.assertNotEqual(op, OP_CLOSE, "ponger was closed")
                if op == OP_PING:
                    n += 1
                    ponger.send_frame(OP_PONG, payload)
            return n

        def talk():
            """Sends a frame twice an interval and never answers a ping;
            returns the pongs received for its {"type":"ping"} frames."""
            pongs = 0
            end = time.monotonic() + STAY
            while time.monotonic() < end:
                self.assertTrue(talker.send_json({"type": "ping"}), "talker was closed")
                deadline = time.monotonic() + PING / 2
                while time.monotonic() < deadline:
                    try:
                        fin, op, payload = talker.recv_frame(timeout=max(0.01, deadline - time.monotonic()))
                    except AssertionError:
                        break
                    self.assertNotEqual(op, OP_CLOSE, "talker was closed")
                    if op == OP_TEXT and json.loads(payload) == {"type": "pong"}:
                        pongs += 1
            return pongs

        try:
            pings, pongs, _ = await asyncio.gather(loop.run_in_executor(None, answer_pings),
                                                   loop.run_in_executor(None, talk),
                                                   asyncio.sleep(STAY))
            # The ponger was pinged about once per interval and stayed; the
            # talker was never silent long enough to be pinged twice.
            self.assertGreaterEqual(pings, 3, "ponger got %d pings in %.1fs" % (pings, STAY))
            self.assertGreaterEqual(pongs, 8, "talker got %d pongs" % pongs)
            for raw in (ponger, talker):
                j = raw.join(lobby)
                self.assertEqual(j["type"], "joined", j)
            self.assertEqual((await lib.join(lobby))["type"], "joined")
        finally:
            ponger.close()
            talker.close()

    def test_ping_frame_gets_pong(self):
        raw, _, _ = self.raw_ws("pinger")
        try:
            for _ in range(3):
                raw.send_json({"type": "ping"})
                self.assertEqual(raw.expect(lambda f: f.get("type") == "pong", desc="pong"), {"type": "pong"})
            raw.send_json({"type": "ping", "extra": [1, 2]})
            self.assertEqual(raw.expect(lambda f: f.get("type") == "pong", desc="pong"), {"type": "pong"})
            # Nothing else came: no error for the pings.
            self.assertEqual([f for f in raw.pending if f.get("type") == "error"], [])
        finally:
            raw.close()

    @async_test(timeout=90)
    async def test_frozen_client_is_dropped_and_others_see_it_at_once(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        oc, oname, _, _ = self.new_user("obs")
        fc, fname, _, _ = self.new_user("frz")
        observer = await WS.connect(self.server, oc, label="observer")
        self.assertEqual((await observer.join(room))["type"], "joined")
        loop = asyncio.get_running_loop()
        frozen = await loop.run_in_executor(None, FrozenClient, self.server, fc.sid, room)
        try:
            await observer.expect(match(type="presence", room=room, user=fname, event="join"))
            # Alive, it stays across intervals (its library answers pings).
            await asyncio.sleep(2.5 * PING)
            self.assertIn(fname, [u["username"] for u in oc.get("/api/users/online").json()["users"]])
            self.assertEqual(observer.peek(match(type="online", user=fname, online=False)), [])

            t0 = frozen.freeze()
            await observer.expect(match(type="presence", room=room, user=fname, event="leave"),
                                  timeout=DROP_MAX + 5)
            t_leave = time.monotonic() - t0
            await observer.expect(match(type="online", user=fname, online=False), timeout=5)
            t_offline = time.monotonic() - t0
            print("\n  frozen client: presence leave after %.2fs, online false after %.2fs" % (t_leave, t_offline))
            self.assertLessEqual(t_offline, DROP_MAX)
            self.assertNotIn(fname, [u["username"] for u in oc.get("/api/users/online").json()["users"]])
            room_info = [r for r in oc.get("/api/rooms").json()["rooms"] if r["id"] == room][0]
            self.assertEqual(room_info["online"], 1, room_info)
            self.assertTrue(self.log_has("dead peer", "127.0.0.1:%d" % frozen.port, fname), self.server.diag())
        finally:
            await loop.run_in_executor(None, frozen.kill)


class PeerNamesTest(unittest.TestCase):
    """Log lines name a connection by address and port; behind a trusted
    proxy, by the client it forwards and the proxy's address and port."""

    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(extra_args=["--ws-ping-interval", str(PING), "--trusted-proxy", "127.0.0.1"],
                            env={"CHAT_LOG": "debug"})
        try:
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

    def test_dead_peer_behind_a_proxy_is_named_by_client_and_proxy(self):
        name = uniq("px")
        c = Client(self.server)
        self.assertEqual(c.register(name, "pw-" + name + "-secret", name + "@example.org").status, 201)
        self.assertEqual(c.login(name, "pw-" + name + "-secret").status, 200)
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        port = sock.getsockname()[1]
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                          "X-Forwarded-For: 203.0.113.5\r\nCookie: sid=%s\r\n\r\n"
                          % (self.server.port, key, c.sid)).encode())
            got = b""
            sock.settimeout(DROP_MAX + 3)
            while True:   # the 101, a ping, then the end: nothing is answered
                chunk = sock.recv(4096)
                if not chunk:
                    break
                got += chunk
            self.assertTrue(got.startswith(b"HTTP/1.1 101 "), got[:200])
        finally:
            sock.close()
        me = "127.0.0.1:%d" % port
        via = "203.0.113.5 via " + me

        def lines():
            return [l for l in self.server.stderr_text(tail=1 << 20).splitlines() if me in l]
        eventually(lambda: any(": closed (WebSocket of" in l for l in lines()), timeout=10,
                   desc="the close logged")
        log = lines()
        self.assertTrue(any("conn %s: accepted" % me in l for l in log), log)
        self.assertTrue(any("conn %s: WebSocket of %s" % (via, name) in l for l in log), log)
        self.assertTrue(any("conn %s: dead peer (WebSocket of %s)" % (via, name) in l for l in log), log)
        self.assertTrue(any("conn %s: closed (WebSocket of %s)" % (via, name) in l for l in log), log)


class KeepaliveClusterTest(ClusterCase):
    """Two instances on one Redis and one MariaDB: a user frozen on A is seen
    offline on B long before A's presence entries would expire (15 s)."""

    CLUSTER_ADMIN = ADMIN

    @classmethod
    def cluster_args(cls):
        return ["--ws-ping-interval", str(PING)]

    def user(self, srv, base):
        name = uniq(base)
        c = Client(srv)
        r = c.register(name, "pw-" + name + "-secret", name + "@example.org")
        self.assertEqual(r.status, 201, r.describe())
        r = c.login(name, "pw-" + name + "-secret")
        self.assertEqual(r.status, 200, r.describe())
        return c, name

    def online_names(self, c):
        return [u["username"] for u in c.get("/api/users/online").json()["users"]]

    def test_frozen_user_on_one_instance_is_offline_on_the_other_at_once(self):
        run_async(self.frozen_case(), timeout=120)

    async def frozen_case(self):
        admin = Client(self.a)
        self.assertEqual(admin.login(ADMIN[0], ADMIN[1]).status, 200)
        r = admin.post("/api/rooms", {"name": uniq("ka-room-"), "topic": "t"})
        self.assertEqual(r.status, 201, r.describe())
        room = r.json()["room"]["id"]
        oc, oname = self.user(self.b, "obs")
        fc, fname = self.user(self.a, "frz")
        observer = await WS.connect(self.b, oc, label="observer on B")
        self.assertEqual((await observer.join(room))["type"], "joined")
        loop = asyncio.get_running_loop()
        frozen = await loop.run_in_executor(None, FrozenClient, self.a, fc.sid, room)
        try:
            await observer.expect(match(type="presence", room=room, user=fname, event="join"), timeout=15)
            await aeventually(lambda: fname in self.online_names(oc), timeout=15,
                              desc="%s online as seen on B" % fname)
            t0 = frozen.freeze()
            await observer.expect(match(type="presence", room=room, user=fname, event="leave"),
                                  timeout=DROP_MAX + 10)
            t_leave = time.monotonic() - t0
            await observer.expect(match(type="online", user=fname, online=False), timeout=10)
            t_offline = time.monotonic() - t0
            print("\n  frozen client on A, seen on B: presence leave after %.2fs, online false after %.2fs"
                  % (t_leave, t_offline))
            # Well before the 15 s expiry of A's entries (A is alive and
            # refreshes them anyway): the drop itself took the user offline.
            self.assertLessEqual(t_offline, DROP_MAX)
            self.assertNotIn(fname, self.online_names(oc))
            self.assertTrue(self.a.alive())
            log = self.a.stderr_text(tail=1 << 20)
            self.assertTrue(any("dead peer" in l and "127.0.0.1:%d" % frozen.port in l for l in log.splitlines()),
                            self.a.diag())
        finally:
            await loop.run_in_executor(None, frozen.kill)


if __name__ == "__main__":
    unittest.main()
