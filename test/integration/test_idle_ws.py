"""Many idle WebSockets: they all stay open, every one still receives a
room's broadcast, and the server's memory grows by a bounded amount per
socket.

The memory bound is a sanity cap against a gross regression (a buffer of
kilobytes kept per socket again), not the target: the figures are the
bench's idle-memory run.  Under AddressSanitizer (the usual test build)
freed memory sits in a quarantine and every block has red zones, so there
the server runs without the quarantine (quarantine_size_mb=0, the
caller's other ASAN_OPTIONS kept) and the cap is looser for the red zones
and ASan's own bookkeeping.

CHAT_TEST_IDLE_WS sets the number of sockets (default 1500)."""

import base64
import json
import os
import re
import socket
import struct
import time
import unittest

from chatlib import Server, ServerTestCase, WS, match, uniq

N_SOCKETS = int(os.environ.get("CHAT_TEST_IDLE_WS", "1500"))
BATCH = 250
# Bytes of server RSS per idle socket, at most (see the top).
CAP_PLAIN = 8 * 1024
CAP_ASAN = 12 * 1024


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def sanitized(pid):
    """1 if the process runs with AddressSanitizer."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def masked_text(text):
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + struct.pack("!H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class IdleSocket:
    """A bare WebSocket on a non-blocking socket: only what this test needs
    (a handshake, a masked join, and finding text in what arrives)."""

    def __init__(self, port, sid):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\nCookie: sid=%s\r\n\r\n"
                           % (port, key, sid)).encode())
        self.sock.setblocking(False)
        self.buf = b""
        self.closed = False

    def pump(self):
        """Reads what has arrived; notes an EOF."""
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionError:
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            self.buf += data

    def close(self):
        self.sock.close()


def wait_all(socks, pred, what, timeout=120.0):
    """Pumps every socket until pred(s) holds for each; fails on an EOF or
    after timeout seconds."""
    deadline = time.monotonic() + timeout
    left = list(socks)
    while left:
        for s in left:
            s.pump()
            if s.closed:
                raise AssertionError("a socket closed while waiting for %s; got %r" % (what, s.buf[-300:]))
        left = [s for s in left if not pred(s)]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%d of %d sockets without %s after %.0fs; one has %r" % (
                len(left), len(socks), what, timeout, left[0].buf[-300:]))
        time.sleep(0.02)


class IdleWebSocketsTest(ServerTestCase):
    # No keepalive pings (these sockets do not answer them) and no caps
    # that would refuse this many sockets from one address or user.
    SERVER_ARGS = ["--ws-ping-interval", "0", "--max-ws-user", "0", "--max-conns",
                   str(N_SOCKETS + 100), "--max-conns-ip", "0", "--ws-rate", "0"]

    @classmethod
    def setUpClass(cls):
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = {"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=0"}
        cls.server = Server(extra_args=cls.SERVER_ARGS, env=env)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    def test_many_idle_websockets(self):
        users = [self.new_user("idle") for _ in range(4)]
        sender, sender_name = self.new_user("speaker")[:2]
        room = self.lobby_id(sender)
        pid = self.server.proc.pid
        socks = []
        try:
            before = vm_rss(pid)
            while len(socks) < N_SOCKETS:
                batch = [IdleSocket(self.server.port, users[(len(socks) + i) % len(users)][0].sid)
                         for i in range(min(BATCH, N_SOCKETS - len(socks)))]
                socks.extend(batch)
                wait_all(batch, lambda s: b"\r\n\r\n" in s.buf, "the handshake")
                for s in batch:
                    self.assertTrue(s.buf.startswith(b"HTTP/1.1 101 "), s.buf[:200])
                    s.buf = s.buf.partition(b"\r\n\r\n")[2]
                    s.sock.sendall(masked_text(json.dumps({"type": "join", "room": room})))
                wait_all(batch, lambda s: b'"joined"' in s.buf, "joined")
            after = vm_rss(pid)
            per_socket = (after - before) / N_SOCKETS
            asan = sanitized(pid)
            cap = CAP_ASAN if asan else CAP_PLAIN
            print("\n%d idle WebSockets: server RSS %.1f -> %.1f MiB, %.0f bytes per socket%s"
                  % (N_SOCKETS, before / 2**20, after / 2**20, per_socket,
                     " (AddressSanitizer)" if asan else ""))
            self.assertLess(per_socket, cap, "server RSS per idle WebSocket")

            # Every one is still open and still gets the room's messages.
            for s in socks:
                s.buf = b""
            text = "to every idle socket " + uniq("m")

            async def speak():
                ws = await WS.connect(self.server, sender)
                try:
                    await ws.send({"type": "join", "room": room})
                    await ws.expect_match(type="joined")
                    await ws.send({"type": "send", "room": room, "text": text, "cid": "c1"})
                    await ws.expect(match(type="ack", cid="c1"))
                finally:
                    await ws.conn.close()

            self.arun(speak())
            needle = json.dumps(text).encode()
            wait_all(socks, lambda s: needle in s.buf, "the broadcast")
            self.assertTrue(all(b'"sender":"%s"' % sender_name.encode() in s.buf for s in socks))
            r = self.client().get("/metrics")
            if r.status == 200:
                m = re.search(r"^chat_websockets (\d+)", r.text(), re.M)
                self.assertIsNotNone(m, r.text()[:500])
                self.assertGreaterEqual(int(m.group(1)), N_SOCKETS)
        finally:
            for s in socks:
                s.close()
        # They leave cleanly: the server counts them gone.
        self.assert_healthy()


if __name__ == "__main__":
    unittest.main()
