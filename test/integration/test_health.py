"""GET /healthz notices a store that answers but cannot write, and a flood of
/healthz costs the store at most one write probe a second.

chatd runs on SQLite.  To make the store unable to write while it keeps
answering reads, the test lowers chatd's soft RLIMIT_FSIZE to one byte with
prlimit(2) (allowed on a process of the same user, no root needed): every
write to a file at an offset past the limit fails with EFBIG (chatd ignores
SIGXFSZ), which is what a full disk or a file system gone read-only does to
SQLite's WAL.  Reads are not affected.  Raising the limit again is the
recovery.  (While the limit holds, chatd's own log file cannot grow either.)
"""

import os
import resource
import sqlite3
import time
import unittest

from chatlib import WS, Client, ServerTestCase, async_test, eventually, uniq

PROBE_FRESH_S = 1.0     # /healthz keeps an answer this long (src/actors/api_ops.c)


class HealthTest(ServerTestCase):
    ADMINS = [("hadmin", "health-admin-secret", "hadmin@example.org")]

    def set_fsize(self, soft):
        pid = self.server.proc.pid
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard if soft is None else soft, hard))

    def tearDown(self):
        if self.server.alive():
            self.set_fsize(None)
        super().tearDown()

    def health(self):
        r = self.client().get("/healthz")
        return r.status, r.json()

    def probe_count(self):
        """health_probe.n, read from the database file by another connection."""
        con = sqlite3.connect("file:%s?mode=ro" % self.server.db, uri=True, timeout=10)
        try:
            row = con.execute("SELECT n FROM health_probe WHERE id = 1").fetchone()
            return row[0] if row else 0
        finally:
            con.close()

    def test_healthy(self):
        status, body = self.health()
        self.assertEqual((status, body), (200, {"status": "ok", "store": "ok", "redis": "off"}))

    def test_threads_are_named(self):
        """top -H and perf tell chatd's own threads apart: the WAL
        checkpointer and the password hasher have names; the loop and
        libuv's pool (shared with an embedding application) keep chatd's."""
        names = []
        task = "/proc/%d/task" % self.server.proc.pid
        for tid in os.listdir(task):
            with open(os.path.join(task, tid, "comm")) as f:
                names.append(f.read().strip())
        self.assertEqual(names.count("chatd-ckpt"), 1, names)
        self.assertGreaterEqual(names.count("chatd-hash"), 1, names)
        self.assertIn("chatd", names)

    @async_test(timeout=90)
    async def test_read_only_store_and_recovery(self):
        admin = self.admin_client()
        ws = await WS.connect(self.server, admin, label="admin")
        room = self.lobby_id(admin)
        j = await ws.join(room)
        self.assertEqual(j.get("type"), "joined", j)
        ack = await ws.send_msg(room, "before the limit")
        self.assertEqual(ack.get("type"), "ack", ack)

        self.set_fsize(1)
        t0 = time.monotonic()

        def read_only():
            status, body = self.health()
            if (status, body) == (503, {"status": "degraded", "store": "read_only", "redis": "off"}):
                return True
            raise AssertionError("GET /healthz -> %s %r" % (status, body))
        eventually(read_only, timeout=10 + PROBE_FRESH_S, interval=0.1, desc="/healthz says read_only")
        took = time.monotonic() - t0
        # Reads still work; a send is refused, never acked.
        r = admin.get("/api/rooms/%d/messages" % room)
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn("before the limit", [m["text"] for m in r.json()["messages"]])
        cid = uniq("ro")
        f = await ws.send_msg(room, "while the store cannot write", cid=cid, timeout=30)
        self.assertEqual((f.get("type"), f.get("code"), f.get("cid")), ("error", "store_unavailable", cid), f)

        self.set_fsize(None)
        t1 = time.monotonic()

        def ok():
            status, body = self.health()
            if (status, body) == (200, {"status": "ok", "store": "ok", "redis": "off"}):
                return True
            raise AssertionError("GET /healthz -> %s %r" % (status, body))
        eventually(ok, timeout=10 + PROBE_FRESH_S, interval=0.1, desc="/healthz ok again")
        back = time.monotonic() - t1
        ack = await ws.send_msg(room, "after the limit", timeout=30)
        self.assertEqual(ack.get("type"), "ack", ack)
        await ws.close()
        self.assertLess(took, 10 + PROBE_FRESH_S)
        self.assertLess(back, 10 + PROBE_FRESH_S)

    def test_flood_probes_at_most_once_a_second(self):
        self.assertEqual(self.health()[0], 200)
        before = self.probe_count()
        c = self.client()
        t0 = time.monotonic()
        answers = 0
        while time.monotonic() - t0 < 3.0:
            r = c.get("/healthz")
            self.assertEqual(r.status, 200, r.describe())
            answers += 1
        elapsed = time.monotonic() - t0
        probes = self.probe_count() - before
        self.assertGreater(answers, 20, "too few answers to call it a flood")
        # One probe a second (plus the one that may be in flight at each end).
        self.assertLessEqual(probes, elapsed / PROBE_FRESH_S + 2,
                             "%d write probes for %d answers in %.1fs" % (probes, answers, elapsed))
        self.assertGreaterEqual(probes, 1)


if __name__ == "__main__":
    unittest.main()
