"""A stop under load drains within its bound and loses no acknowledged message.

chatd runs with --shutdown-drain 2 and no flood limit.  Senders keep
messages in flight in one room; one raw client reads its close frame but
never answers it and never closes its end; another reads nothing at all,
with a tiny receive buffer and megabytes of history asked for, so that its
output (and the close frame behind it) cannot be written.  Then SIGTERM:

  * every reading client gets close code 1001 (`server shutting down`);
  * the client that reads nothing is cut off at the end of the drain (the
    log says so) instead of holding the stop for the 10 s a closing
    connection is otherwise given;
  * chatd exits 0 within the drain plus a margin;
  * after a restart every acknowledged message is in the history, once,
    with its text, and the store is whole.
"""

import asyncio
import base64
import json
import os
import socket
import struct
import time
import unittest

import websockets.exceptions

from chatlib import OP_CLOSE, WS, Client, RawWS, Server, async_test, encode_frame, uniq

DRAIN = 2.0                 # --shutdown-drain
EXIT_MARGIN = 6.0           # after the drain: store writes, presence, the rest (a loaded machine)
CLOSING_MS_S = 10.0         # what a closing connection that reads nothing would otherwise get
SENDERS = 6
WINDOW = 8                  # messages in flight per sender
LOAD_FOR = 2.0              # seconds of traffic before the SIGTERM
BIG = "界" * 1300           # ~3.9 KB of UTF-8 per message in the quiet room

ADMIN = ("sdadmin", "shutdown-admin-secret", "sdadmin@example.org")


class Sender:
    """A WebSocket client that keeps WINDOW sends in flight until the server
    closes it; acked maps cid to (id, text)."""

    def __init__(self, ws, room, tag):
        self.ws = ws
        self.room = room
        self.tag = tag
        self.acked = {}
        self.sent = {}
        self.close_code = None
        self.errors = []

    async def run(self):
        conn = self.ws.conn
        free = asyncio.Semaphore(WINDOW)
        n = 0

        async def reader():
            try:
                while True:
                    data = await conn.recv()
                    f = json.loads(data)
                    if f.get("type") == "ack" and f.get("cid") in self.sent:
                        self.acked[f["cid"]] = (f["id"], self.sent[f["cid"]])
                        free.release()
                    elif f.get("type") == "error" and f.get("cid") in self.sent:
                        self.errors.append(f)
                        free.release()
            except websockets.exceptions.ConnectionClosed:
                pass

        rd = asyncio.ensure_future(reader())
        try:
            while not rd.done():
                try:
                    await asyncio.wait_for(free.acquire(), 1.0)
                except asyncio.TimeoutError:
                    continue
                n += 1
                cid = "%s-%d" % (self.tag, n)
                text = "%s 消息 %d" % (self.tag, n)
                self.sent[cid] = text
                try:
                    await self.ws.send({"type": "send", "room": self.room, "text": text, "cid": cid})
                except websockets.exceptions.ConnectionClosed:
                    break
        finally:
            await rd
            await conn.wait_closed()
            self.close_code = conn.close_code


class ShutdownDrainTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(extra_args=["--shutdown-drain", str(DRAIN), "--ws-rate", "0"])
        try:
            cls.server.add_user(*ADMIN, admin=True)
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

    def user(self):
        name = uniq("sd")
        c = Client(self.server)
        self.assertEqual(c.register(name, "pw-" + name + "-secret", name + "@example.org").status, 201)
        self.assertEqual(c.login(name, "pw-" + name + "-secret").status, 200)
        return c, name

    def history(self, client, room):
        """Every message of the room, oldest first, paging back from the newest."""
        out = []
        before = None
        while True:
            path = "/api/rooms/%d/messages?limit=200" % room + ("&before=%d" % before if before else "")
            r = client.get(path)
            self.assertEqual(r.status, 200, r.describe())
            page = r.json()["messages"]
            out = page + out
            if len(page) < 200:
                return out
            before = page[0]["id"]

    def stuck_client(self, sid, room):
        """A WebSocket that asks for megabytes of history and reads nothing,
        with a receive buffer of a few KiB: its output stays queued."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nCookie: sid=%s\r\n\r\n"
                      % (self.server.port, key, sid)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            self.assertTrue(chunk, "stuck client: closed during the handshake")
            head += chunk
        self.assertIn(b" 101 ", head.split(b"\r\n")[0])
        # 15 joins of a room whose newest 50 messages are ~3.9 KB each: about
        # 3 MB of answers, under the 4 MiB output cap.
        join = encode_frame(0x1, json.dumps({"type": "join", "room": room}))
        sock.sendall(join * 15)
        return sock

    @async_test(timeout=200)
    async def test_sigterm_under_load_drains_and_keeps_every_ack(self):
        admin = Client(self.server)
        self.assertEqual(admin.login(ADMIN[0], ADMIN[1]).status, 200)
        busy = admin.post("/api/rooms", {"name": uniq("busy-"), "topic": "t"}).json()["room"]["id"]
        quiet = admin.post("/api/rooms", {"name": uniq("quiet-"), "topic": "t"}).json()["room"]["id"]

        # The quiet room's history: 50 big messages.
        qc, _ = self.user()
        qws = await WS.connect(self.server, qc, label="filler")
        self.assertEqual((await qws.join(quiet))["type"], "joined")
        for i in range(50):
            ack = await qws.send_msg(quiet, "%d %s" % (i, BIG))
            self.assertEqual(ack["type"], "ack", ack)
        await qws.close()

        senders = []
        for i in range(SENDERS):
            c, name = self.user()
            ws = await WS.connect(self.server, c, label="sender%d" % i)
            self.assertEqual((await ws.join(busy))["type"], "joined")
            senders.append(Sender(ws, busy, "s%d" % i))

        mc, _ = self.user()
        mute = RawWS(self.server.port, sid=mc.sid, label="mute")
        self.assertEqual(mute.join(busy)["type"], "joined")
        sc, _ = self.user()
        stuck = self.stuck_client(sc.sid, quiet)

        loop = asyncio.get_running_loop()
        tasks = [asyncio.ensure_future(s.run()) for s in senders]
        try:
            await asyncio.sleep(LOAD_FOR)
            in_flight = sum(len(s.acked) for s in senders)
            self.assertGreater(in_flight, 50, "too little traffic before the stop")
            proc = self.server.proc
            t0 = time.monotonic()
            proc.send_signal(15)

            def mute_sees_close():
                # Reads frames until the close frame, answers nothing, keeps
                # its end open; then waits for the server to end the stream.
                deadline = time.monotonic() + DRAIN + EXIT_MARGIN
                while True:
                    fin, op, payload = mute.recv_frame(max(0.01, deadline - time.monotonic()))
                    if op == OP_CLOSE:
                        code = struct.unpack("!H", payload[:2])[0]
                        return code, payload[2:], mute.wait_eof(DRAIN + EXIT_MARGIN)

            mute_result = loop.run_in_executor(None, mute_sees_close)
            await asyncio.wait_for(asyncio.gather(*tasks), DRAIN + EXIT_MARGIN + 5)
            rc = await loop.run_in_executor(None, lambda: proc.wait(DRAIN + EXIT_MARGIN + 10))
            took = time.monotonic() - t0
            code, reason, eof = await mute_result
        finally:
            for t in tasks:
                t.cancel()
            mute.close()
            stuck.close()
        log = self.server.stderr_text(tail=1 << 20)
        self.server.stop()   # reaps
        print("\n  stop under load: %d acked before, exit after %.2fs; %d acked in all"
              % (in_flight, took, sum(len(s.acked) for s in senders)))

        self.assertEqual(rc, 0, self.server.diag())
        for s in senders:
            self.assertEqual(s.close_code, 1001, "%s closed with %r" % (s.tag, s.close_code))
            self.assertEqual(s.errors, [])
        self.assertEqual((code, reason), (1001, b"server shutting down"))
        self.assertTrue(eof, "the mute client's stream was not ended")
        # The client that read nothing was cut off at the end of the drain...
        self.assertIn("after the %.1f s drain; cutting them off" % DRAIN, log)
        # ...so the stop took the drain, not the 10 s a closing connection gets.
        self.assertLess(took, DRAIN + EXIT_MARGIN, log[-3000:])
        self.assertLess(took, CLOSING_MS_S)

        # Every acknowledged message is in the history after a restart, once.
        self.server.start()
        hist = self.history(admin, busy)
        by_id = {m["id"]: m for m in hist}
        self.assertEqual(len(by_id), len(hist), "duplicate ids in the history")
        texts = [m["text"] for m in hist]
        self.assertEqual(len(set(texts)), len(texts), "a message stored twice")
        acked = [v for s in senders for v in s.acked.values()]
        self.assertGreater(len(acked), 50)
        for mid, text in acked:
            self.assertIn(mid, by_id, "acked message %d (%r) lost" % (mid, text))
            self.assertEqual(by_id[mid]["text"], text)
        # Sends whose ack never came may or may not be stored: nothing else is.
        sent = {t for s in senders for t in s.sent.values()}
        self.assertTrue(set(texts) <= sent)
        r = admin.get("/healthz")
        self.assertEqual(r.status, 200, r.describe())


if __name__ == "__main__":
    unittest.main()
