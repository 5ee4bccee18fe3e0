"""Mail batching shared by two chatd instances on one MariaDB and one Redis.

The class starts its own redis-server and MariaDB (test_cluster.ClusterCase), an
SMTP sink (smtpsink.SmtpSink), and two chatd instances A and B with --store,
--redis and --smtp, with a short gathering delay and interval.  Users are
registered through A; their sessions work on both instances.

Cases:
  1. an offline user gets DMs and @mentions sent through both instances
     within one gathering delay: exactly one summary mail listing all of
     them; a second burst (again through both) waits for the interval and
     is one more mail with only the new items
  2. an instance is SIGKILLed after it queued an item: the other instance
     mails it, and later items too
  3. the user comes online (on the other instance) before the mail is due:
     no mail
  4. Redis stops: each instance batches its own items (as documented in
     src/actors/notifier.h), mails still go out, the log says so once and
     /metrics counts them; when Redis is back batching is shared again
"""

import asyncio
import sys
import time
import unittest

from chatlib import WS, Client, aeventually, eventually, uniq
from smtpsink import SmtpSink
from test_cluster import ClusterCase, cluster_test, redis_cmd

GATHER_MS = 2000
INTERVAL_MS = 8000
MAIL_FROM = "chat@example.org"
ADMIN = ("mailadmin", "mail-admin-secret", "mailadmin@example.org")

CASE_TIMEOUT = 120.0
POLL_S = 1.0            # how often an instance claims due mails (notifier.h)
SLACK_S = 4.0           # a due mail goes out within this (poll, SMTP, a loaded machine)


def metrics(srv):
    """The /metrics figures of srv as {name: float}."""
    r = Client(srv).get("/metrics")
    assert r.status == 200, r.describe()
    out = {}
    for line in r.text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            out[name] = float(value)
    return out


def mail_test(timeout=CASE_TIMEOUT):
    return cluster_test(timeout)


class MailClusterTest(ClusterCase):
    CLUSTER_ADMIN = ADMIN

    @classmethod
    def cluster_sink(cls):
        return SmtpSink()

    @classmethod
    def cluster_args(cls):
        return ["--smtp", "smtp://127.0.0.1:%d" % cls.sink.port, "--mail-from", MAIL_FROM]

    @classmethod
    def cluster_env(cls):
        return {"CHAT_MAIL_GATHER_MS": str(GATHER_MS), "CHAT_MAIL_INTERVAL_MS": str(INTERVAL_MS)}

    def setUp(self):
        """Every case starts with Redis and MariaDB up, both instances
        running, healthy and batching through Redis."""
        super().setUp()
        for srv in (self.a, self.b):
            def ready(srv=srv):
                if metrics(srv).get("chat_mail_shared_up") != 1:
                    raise AssertionError("mail batching is not shared yet")
                return True
            eventually(ready, timeout=25, interval=0.2, desc="setUp: healthy and sharing mail batching")

    def cluster_diag(self):
        out = [super().cluster_diag()]
        if self.sink is not None:
            with self.sink.lock:
                mails = list(self.sink.mails)
            out.append("\n--- %d mails in the sink; the last: ---\n%s" % (
                len(mails), "\n".join("%r %.2f %r" % (m.rcpts, m.at, m.subject) for m in mails[-10:])))
        return "".join(out)

    # -- helpers --------------------------------------------------------------------
    def user(self, base):
        """A fresh user registered through A: (client on A, name, user)."""
        c = Client(self.a)
        name = uniq(base)
        pw = "pw-%s-secret" % name
        r = c.register(name, pw, "%s@example.org" % name)
        self.assertEqual(r.status, 201, r.describe())
        user = r.json()["user"]
        r = c.login(name, pw)
        self.assertEqual(r.status, 200, r.describe())
        return c, name, user

    def befriend(self, ca, na, cb, nb):
        r = ca.post("/api/friends", {"username": nb})
        self.assertEqual(r.status, 200, r.describe())
        r = cb.post("/api/friends", {"username": na})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json().get("state"), "friends", r.describe())

    async def dm(self, ws, to, text):
        cid = uniq("m")
        await ws.send({"type": "dm", "to": to, "text": text, "cid": cid})
        f = await ws.expect(lambda f: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                            desc="ack for the dm %r" % text)
        self.assertEqual(f["type"], "ack", f)
        return f

    async def say(self, ws, room, text):
        cid = uniq("s")
        await ws.send({"type": "send", "room": room, "text": text, "cid": cid})
        f = await ws.expect(lambda f: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                            desc="ack for %r" % text)
        self.assertEqual(f["type"], "ack", f)
        return f

    async def senders(self, room=None):
        """Two users, one with a WebSocket on A and one on B (joined to room
        if given): ((ws, name, client), (ws, name, client))."""
        out = []
        for srv, base in ((self.a, "sa"), (self.b, "sb")):
            c, name, _ = self.user(base)
            ws = await WS.connect(srv, client=self.on(srv, c), label="%s@%s" % (name, "A" if srv is self.a else "B"))
            if room is not None:
                j = await ws.join(room)
                self.assertEqual(j.get("type"), "joined", j)
            out.append((ws, name, c))
        return out

    def target(self, base, *friends):
        """An offline user with an address, friends with each (client, name)."""
        c, name, user = self.user(base)
        for fc, fname in friends:
            self.befriend(fc, fname, c, name)
        return c, name, user

    def room(self):
        admin = Client(self.a)
        r = admin.login(ADMIN[0], ADMIN[1])
        self.assertEqual(r.status, 200, r.describe())
        r = admin.post("/api/rooms", {"name": uniq("mail-"), "topic": "mail"})
        self.assertEqual(r.status, 201, r.describe())
        room = r.json()["room"]["id"]

        # B learns of it through Redis.
        def known_on_b():
            r = Client(self.b, sid=admin.sid).get("/api/rooms")
            if any(x["id"] == room for x in r.json()["rooms"]):
                return True
            raise AssertionError("room %d not on B yet" % room)
        eventually(known_on_b, timeout=10, desc="room on B")
        return room

    async def mails_to(self, addr, count, timeout):
        return await self.sink.wait_for(addr, count, timeout)

    async def no_more_mail(self, addr, count, seconds, why):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            got = self.sink.to(addr)
            self.assertLessEqual(len(got), count, "%s: %d mails to %s: %s" % (
                why, len(got), addr, "\n".join(m.describe() for m in got)))
            await asyncio.sleep(0.1)

    def queued_in_redis(self, uid):
        return redis_cmd(self.infra.redis_port, "LLEN", "chat:mail:u:%d:q" % uid)

    # -- 1 ------------------------------------------------------------------------------
    @mail_test()
    async def test_1_one_summary_from_both_instances_then_one_per_interval(self):
        room = self.room()
        (wa, na, ca), (wb, nb, cb) = await self.senders(room)
        _, nt, ut = self.target("mt", (ca, na), (cb, nb))
        addr = ut["email"]
        first = ["A 私信一：明天开会", "B 私信二：带上报告", "@%s A 房间里提到你" % nt, "@%s B 房间里也提到你" % nt]
        t0 = time.monotonic()
        await self.dm(wa, nt, first[0])
        await self.dm(wb, nt, first[1])
        await self.say(wa, room, first[2])
        await self.say(wb, room, first[3])
        sent_in = time.monotonic() - t0
        self.assertLess(sent_in, GATHER_MS / 1000, "the burst took %.1fs, longer than the gathering delay" % sent_in)
        mails = await self.mails_to(addr, 1, GATHER_MS / 1000 + SLACK_S + 4)
        self.assertEqual(len(mails), 1, "no summary mail to %s" % addr)
        m1 = mails[0]
        self.assertGreaterEqual(m1.at - t0, GATHER_MS / 1000 - 0.3, "mailed before the gathering delay")
        body = m1.body
        for text in (first[0], first[1], "A 房间里提到你", "B 房间里也提到你"):
            self.assertIn(text, body, m1.describe())
        self.assertIn(na, m1.subject + body)
        self.assertIn(nb, m1.subject + body)
        # Exactly one: no second instance mails the same items.
        await self.no_more_mail(addr, 1, POLL_S * 3, "after the first summary")

        # A second burst through both instances, within the interval.
        second = ["A 第二批：改到后天", "B 第二批：好的"]
        await self.dm(wb, nt, second[0])
        await self.dm(wa, nt, second[1])
        await self.no_more_mail(addr, 1, max(0.0, m1.at + INTERVAL_MS / 1000 - 0.5 - time.monotonic()),
                                "within the interval after the first mail")
        mails = await self.mails_to(addr, 2, m1.at + INTERVAL_MS / 1000 + SLACK_S - time.monotonic())
        self.assertEqual(len(mails), 2, "no second mail after the interval")
        m2 = mails[1]
        self.assertGreaterEqual(m2.at - m1.at, INTERVAL_MS / 1000 - 0.5)
        for text in second:
            self.assertIn(text, m2.body, m2.describe())
        for text in first[:2]:
            self.assertNotIn(text, m2.body, "the second mail repeats the first: %s" % m2.describe())
        await self.no_more_mail(addr, 2, POLL_S * 3, "after the second summary")
        sys.stderr.write("[mail] first summary %.2fs after the first item (gather %.1fs), the second %.2fs "
                         "after the first (interval %.1fs)\n" % (m1.at - t0, GATHER_MS / 1000, m2.at - m1.at,
                                                                  INTERVAL_MS / 1000))
        ma, mb = metrics(self.a), metrics(self.b)
        self.assertEqual(ma["chat_mail_local_items_total"] + mb["chat_mail_local_items_total"], 0)
        self.assertGreaterEqual(ma["chat_mail_shared_items_total"] + mb["chat_mail_shared_items_total"], 6)
        for ws in (wa, wb):
            await ws.close()

    # -- 2 ------------------------------------------------------------------------------
    @mail_test()
    async def test_2_killed_instance_items_are_mailed_by_the_other(self):
        (wa, na, ca), (wb, nb, cb) = await self.senders()
        _, nt, ut = self.target("kt", (ca, na), (cb, nb))
        addr = ut["email"]
        t0 = time.monotonic()
        await self.dm(wb, nt, "queued on B before it died")
        # The item is in Redis before B goes.
        await aeventually(lambda: self.queued_in_redis(ut["id"]) == 1, timeout=5, desc="B's item in Redis")
        self.b.kill()   # SIGKILL
        mails = await self.mails_to(addr, 1, GATHER_MS / 1000 + SLACK_S + 4)
        self.assertEqual(len(mails), 1, "B's item was not mailed after B died")
        self.assertIn("queued on B before it died", mails[0].body)
        self.assertGreaterEqual(mails[0].at - t0, GATHER_MS / 1000 - 0.3)
        sys.stderr.write("[mail] B killed: its item mailed by A %.2fs after it was sent (gather %.1fs)\n" % (
            mails[0].at - t0, GATHER_MS / 1000))
        # A goes on mailing, with the interval kept.
        await self.dm(wa, nt, "later, through A")
        mails = await self.mails_to(addr, 2, mails[0].at + INTERVAL_MS / 1000 + SLACK_S - time.monotonic())
        self.assertEqual(len(mails), 2, "no second mail from A")
        self.assertIn("later, through A", mails[1].body)
        self.assertNotIn("queued on B", mails[1].body)
        self.assertGreaterEqual(mails[1].at - mails[0].at, INTERVAL_MS / 1000 - 0.5)
        await wa.close()

    # -- 3 ------------------------------------------------------------------------------
    @mail_test()
    async def test_3_user_back_online_gets_no_mail(self):
        (wa, na, ca), (wb, nb, cb) = await self.senders()
        ct, nt, ut = self.target("ot", (ca, na), (cb, nb))
        _, nc, uc = self.target("oc", (ca, na))    # a control user who stays away
        await self.dm(wa, nt, "you will see this yourself")
        await self.dm(wa, nc, "the control user is mailed")
        # The target comes back on the other instance before the mail is due.
        wt = await WS.connect(self.b, client=self.on(self.b, ct), label="%s@B" % nt)
        mails = await self.mails_to(uc["email"], 1, GATHER_MS / 1000 + SLACK_S + 4)
        self.assertEqual(len(mails), 1, "no mail to the control user")
        await self.no_more_mail(ut["email"], 0, POLL_S * 2, "the user came back online")
        self.assertEqual(self.queued_in_redis(ut["id"]), 0)
        for ws in (wa, wb, wt):
            await ws.close()

    # -- 4 ------------------------------------------------------------------------------
    @mail_test(timeout=150)
    async def test_4_redis_outage_batches_locally(self):
        (wa, na, ca), (wb, nb, cb) = await self.senders()
        _, nt, ut = self.target("rt", (ca, na), (cb, nb))
        addr = ut["email"]
        before = metrics(self.a)["chat_mail_local_items_total"]
        self.infra.redis_stop()
        for srv in (self.a, self.b):
            def down(srv=srv):
                body = Client(srv).get("/healthz").json()
                return body.get("redis") == "down" or self.fail("redis %r" % body.get("redis"))
            await aeventually(down, timeout=10, interval=0.1, desc="chatd sees Redis down")

        t0 = time.monotonic()
        await self.dm(wa, nt, "while Redis is down, one")
        await self.dm(wa, nt, "while Redis is down, two")
        mails = await self.mails_to(addr, 1, GATHER_MS / 1000 + SLACK_S + 4)
        self.assertEqual(len(mails), 1, "no mail while Redis is down")
        self.assertIn("while Redis is down, one", mails[0].body)
        self.assertIn("while Redis is down, two", mails[0].body)
        self.assertGreaterEqual(mails[0].at - t0, GATHER_MS / 1000 - 0.3)
        m = metrics(self.a)
        self.assertEqual(m["chat_mail_local_items_total"] - before, 2, m)
        self.assertEqual(m["chat_mail_shared_up"], 0, m)
        log = self.a.stderr_text(200000)
        self.assertEqual(log.count("mail is batched in this instance"), 1,
                         "the fallback is logged once an outage:\n%s" % log[-3000:])

        # Redis back: shared again (and said so), items go through Redis.
        self.infra.redis_restart_same_port()

        def shared_again():
            for srv in (self.a, self.b):
                if metrics(srv).get("chat_mail_shared_up") != 1:
                    raise AssertionError("not shared yet")
            return True
        await aeventually(shared_again, timeout=20, interval=0.2, desc="mail batching shared again")
        self.assertIn("mail batching is shared again", self.a.stderr_text(200000))
        _, n2, u2 = self.target("rt2", (ca, na), (cb, nb))
        shared_before = metrics(self.b)["chat_mail_shared_items_total"]
        await self.dm(wb, n2, "after Redis came back")
        mails = await self.mails_to(u2["email"], 1, GATHER_MS / 1000 + SLACK_S + 4)
        self.assertEqual(len(mails), 1, "no mail after Redis came back")
        self.assertEqual(metrics(self.b)["chat_mail_shared_items_total"] - shared_before, 1)
        for ws in (wa, wb):
            await ws.close()


if __name__ == "__main__":
    unittest.main()
