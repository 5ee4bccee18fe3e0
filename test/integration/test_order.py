"""Exact per-room order across two chatd instances (MariaDB + Redis).

The class (a test_cluster.ClusterCase) starts its own redis-server and
MariaDB and two chatd instances, A and B, sharing them.  Instance A runs with the test
build's fault hook armed (CHAT_FAULT_EXIT_AFTER_COMMIT, compiled in only with
the CMake option CHAT_FAULT_HOOKS, which scripts/test.sh turns on): it exits
right after committing a message with exactly that text, before the ack,
the Redis list and the publish.

Cases:
  1. several clients on both instances send into one room at once: every
     client gets every message exactly once, in seq order, seqs dense
  2. A dies between commit and publish; a client on B already in the room
     gets the message when someone then speaks on B (the gap shows it)
  3. the same with nobody speaking: B's periodic last_seq check finds it
  4. `joined` with `since` says "partial":true only when the store has more
     than the reply holds
"""

import asyncio
import os
import time
import unittest

import test_cluster as tc
from chatlib import WS, Client, aeventually, uniq

CASE_TIMEOUT = 120.0


def order_test(timeout=CASE_TIMEOUT):
    """An `async def` test bounded by timeout; a failure gets both
    instances' stderr tails."""
    return tc.cluster_test(timeout)


class OrderTest(tc.ClusterCase):
    @classmethod
    def cluster_args(cls):
        return ["--ws-rate", "0"]

    # -- helpers ----------------------------------------------------------------
    def restart(self, srv, **env):
        """Restarts srv (SIGTERM, or a start if it is down) with env added
        to its environment (None removes a variable)."""
        srv.env.update(env)
        if srv.alive():
            rc = srv.stop()
            self.assertEqual(rc, 0, "chatd exited with %r on SIGTERM" % rc)
        srv.start()

    def new_room(self):
        admin = Client(self.a)
        r = admin.login(tc.ADMIN[0], tc.ADMIN[1])
        self.assertEqual(r.status, 200, r.describe())
        r = admin.post("/api/rooms", {"name": uniq("ord-"), "topic": "order"})
        self.assertEqual(r.status, 201, r.describe())
        return r.json()["room"]["id"]

    async def join_ok(self, ws, room, since=None):
        """Joins (retrying no_such_room while a new room reaches the other
        instance) and returns `joined`."""
        deadline = time.monotonic() + 10
        while True:
            f = await ws.join(room, since=since, timeout=15)
            if f.get("type") == "joined":
                return f
            if f.get("code") == "no_such_room" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                continue
            raise AssertionError("%s: join of room %r answered %r" % (ws.label, room, f))

    def history(self, client, room, limit=200, before=None):
        path = "/api/rooms/%d/messages?limit=%d" % (room, limit)
        if before is not None:
            path += "&before=%d" % before
        r = client.get(path)
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["messages"]

    def wait_exit(self, srv, timeout=20.0):
        deadline = time.monotonic() + timeout
        while srv.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        rc = srv.proc.poll()
        self.assertIsNotNone(rc, "chatd A did not exit after the magic message%s" % srv.diag())
        return rc

    def arm_fault(self):
        """Restarts A with the fault hook armed for a new text; skips the
        test in a build without CHAT_FAULT_HOOKS."""
        magic = uniq("commit-then-die-")
        self.restart(self.a, CHAT_FAULT_EXIT_AFTER_COMMIT=magic)
        if "CHAT_FAULT_EXIT_AFTER_COMMIT is armed" not in self.a.stderr_text():
            self.skipTest("chatd was built without -DCHAT_FAULT_HOOKS=ON (scripts/test.sh turns it on)")
        return magic

    def check_seq_order(self, label, msgs, first_seq=None):
        """msgs (in arrival order) carry dense, increasing seqs and
        increasing ids, each once."""
        seqs = [m.get("seq") for m in msgs]
        self.assertTrue(all(isinstance(s, int) and s > 0 for s in seqs), "%s: a message without seq: %s" % (label, seqs))
        if first_seq is not None and seqs:
            self.assertEqual(seqs[0], first_seq, "%s: first seq %r, want %r" % (label, seqs[0], first_seq))
        bad = [(seqs[i], seqs[i + 1]) for i in range(len(seqs) - 1) if seqs[i + 1] != seqs[i] + 1]
        self.assertFalse(bad, "%s: seqs not dense and in order at %s; arrival order %s" % (label, bad, seqs))
        ids = [m["id"] for m in msgs]
        bad = [(ids[i], ids[i + 1]) for i in range(len(ids) - 1) if ids[i] >= ids[i + 1]]
        self.assertFalse(bad, "%s: ids out of order at %s" % (label, bad))

    # -- 1 ------------------------------------------------------------------------------
    @order_test()
    async def test_1_concurrent_senders_dense_seq_order(self):
        room = self.new_room()
        clients = []
        for i in range(3):
            clients.append(await self.ws_user(self.a, "oa%d" % i, "A"))
            clients.append(await self.ws_user(self.b, "ob%d" % i, "B"))
        for ws, _, _ in clients:
            await self.join_ok(ws, room)
        per = 25
        total = per * len(clients)
        texts = {}

        async def sender(ws, name):
            for i in range(per):
                cid = "%s-%02d" % (name, i)
                texts[cid] = "%s #%d 顺序" % (name, i)
                await ws.send({"type": "send", "room": room, "text": texts[cid], "cid": cid})
                if i % 4 == 3:
                    await asyncio.sleep(0.005)   # interleave with the others

        async def collect(ws, name):
            acks, msgs = {}, []
            deadline = time.monotonic() + 60
            while (len(acks) < per or len(msgs) < total) and time.monotonic() < deadline:
                f = await ws.expect(lambda f: f.get("type") in ("ack", "error")
                                    or (f.get("type") == "message" and f.get("room") == room),
                                    timeout=max(0.1, deadline - time.monotonic()),
                                    desc="ack or message (have %d acks, %d messages)" % (len(acks), len(msgs)))
                if f["type"] == "error":
                    raise AssertionError("%s: error frame %r" % (ws.label, f))
                if f["type"] == "ack":
                    self.assertNotIn(f["cid"], acks, "%s: second ack for %r" % (ws.label, f["cid"]))
                    acks[f["cid"]] = f["id"]
                else:
                    msgs.append(f)
            await ws.collect(0.5)   # a duplicate would show up here
            msgs.extend(ws.take(lambda f: f.get("type") == "message" and f.get("room") == room))
            return acks, msgs

        await asyncio.gather(*(sender(ws, name) for ws, name, _ in clients))
        results = await asyncio.gather(*(collect(ws, name) for ws, name, _ in clients))
        acked = {}
        for acks, _ in results:
            acked.update(acks)
        self.assertEqual(len(acked), total, "acks: %d of %d" % (len(acked), total))
        by_id = {mid: cid for cid, mid in acked.items()}
        self.assertEqual(len(by_id), total, "ack ids are not distinct")
        for (ws, _, _), (_, msgs) in zip(clients, results):
            ids = [m["id"] for m in msgs]
            self.assertEqual(len(ids), len(set(ids)), "%s got a message twice: %s" % (ws.label, ids))
            self.assertEqual(sorted(ids), sorted(by_id), "%s: got %d messages, acked %d" % (ws.label, len(ids), total))
            self.check_seq_order(ws.label, msgs, first_seq=1)
            for m in msgs:
                self.assertEqual(m["text"], texts[by_id[m["id"]]], "%s: message %d" % (ws.label, m["id"]))
        # The store agrees: history carries the same dense numbers.
        hist = self.history(clients[1][2], room)
        self.assertEqual([m["seq"] for m in hist], list(range(1, total + 1)))

    # -- 2, 3 -----------------------------------------------------------------------------
    async def _commit_then_die(self, speak_after):
        magic = self.arm_fault()
        room = self.new_room()
        wa, na, ca = await self.ws_user(self.a, "dying", "A")
        wb, nb, cb = await self.ws_user(self.b, "watch", "B")
        await self.join_ok(wa, room)
        await self.join_ok(wb, room)
        # One message everybody gets, so the rooms on both sides are loaded
        # and numbered.
        ack = await wa.send_msg(room, "before")
        self.assertEqual(ack.get("type"), "ack", ack)
        first = await wb.expect(lambda f: f.get("type") == "message" and f.get("id") == ack["id"], timeout=15)
        self.assertEqual(first["seq"], 1)

        await wa.send({"type": "send", "room": room, "text": magic, "cid": "magic"})
        rc = self.wait_exit(self.a)
        self.assertEqual(rc, 70, "A's exit code (the fault hook's)%s" % self.a.diag())
        t0 = time.monotonic()
        if speak_after:
            ws2, _, _ = await self.ws_user(self.b, "speak", "B")
            await self.join_ok(ws2, room)
            ack2 = await ws2.send_msg(room, "after the crash")
            self.assertEqual(ack2.get("type"), "ack", ack2)
        got = await wb.expect(lambda f: f.get("type") == "message" and f.get("room") == room, timeout=30,
                              desc="the message committed by the dead instance")
        took = time.monotonic() - t0
        self.assertEqual(got["text"], magic, "the first message after the crash is not the lost one: %r" % got)
        self.assertEqual(got["seq"], 2)
        self.assertEqual(got["sender"], na)
        if speak_after:
            nxt = await wb.expect(lambda f: f.get("type") == "message" and f.get("room") == room, timeout=15)
            self.assertEqual((nxt["text"], nxt["seq"]), ("after the crash", 3))
        else:
            # Found by the periodic check (1 s) plus the gap wait.
            self.assertLess(took, 10.0, "the lost message took %.1fs to arrive" % took)
        await wb.collect(0.3)
        dup = wb.take(lambda f: f.get("type") == "message" and f.get("room") == room)
        self.assertFalse(dup, "more messages than sent: %r" % dup)
        hist = self.history(cb, room)
        self.assertIn(magic, [m["text"] for m in hist], "history on B lacks the lost message")
        self.assertEqual([m["seq"] for m in hist], list(range(1, len(hist) + 1)))
        # The sender, back on B, resends with the same cid and gets its id.
        wa2 = await WS.connect(self.b, client=Client(self.b, sid=ca.sid), label="%s@B" % na)
        await self.join_ok(wa2, room)
        again = await wa2.send_msg(room, magic, cid="magic")
        self.assertEqual((again.get("type"), again.get("id")), ("ack", got["id"]))
        return took

    @order_test()
    async def test_2_commit_without_publish_then_someone_speaks(self):
        # B's periodic check is out of the way: only the next message can
        # show the gap.
        self.restart(self.b, CHAT_ORDER_CHECK_MS="600000")
        try:
            await self._commit_then_die(speak_after=True)
        finally:
            self.b.env.pop("CHAT_ORDER_CHECK_MS", None)
            self.restart(self.b)

    @order_test()
    async def test_3_commit_without_publish_nobody_speaks(self):
        await self._commit_then_die(speak_after=False)

    # -- 4 ------------------------------------------------------------------------------
    @order_test()
    async def test_4_joined_partial_only_when_more(self):
        room = self.new_room()
        ws, _, c = await self.ws_user(self.b, "many", "B")
        await self.join_ok(ws, room)
        total = 230
        cids = ["p%03d" % i for i in range(total)]
        for cid in cids:
            await ws.send({"type": "send", "room": room, "text": "line " + cid, "cid": cid})
        acks = {}
        while len(acks) < total:
            f = await ws.expect(lambda f: f.get("type") in ("ack", "error"), timeout=30)
            self.assertEqual(f["type"], "ack", f)
            acks[f["cid"]] = f["id"]
        ids = [acks[c_] for c_ in cids]
        # A fresh connection on the other instance, resuming from before
        # the first message: 230 missed, the reply holds the newest 200.
        other, _, _ = await self.ws_user(self.a, "resume", "A")
        j = await self.join_ok(other, room, since=ids[0] - 1)
        self.assertIs(j.get("partial"), True, "no partial flag: %r" % {k: v for k, v in j.items() if k != "history"})
        self.assertEqual([m["id"] for m in j["history"]], ids[-200:])
        # The rest comes from history paging, as the document says.
        older = self.history(c, room, limit=200, before=j["history"][0]["id"])
        self.assertEqual([m["id"] for m in older], ids[:30])
        # Exactly 200 missed (from the store, the cache holds 100): no flag.
        j = await self.join_ok(other, room, since=ids[29])
        self.assertNotIn("partial", j)
        self.assertEqual([m["id"] for m in j["history"]], ids[30:])
        # A short resume from the cache: no flag either.
        j = await self.join_ok(other, room, since=ids[-5])
        self.assertNotIn("partial", j)
        self.assertEqual([m["id"] for m in j["history"]], ids[-4:])
        self.assertEqual([m["seq"] for m in j["history"]], list(range(total - 3, total + 1)))


if __name__ == "__main__":
    unittest.main()
