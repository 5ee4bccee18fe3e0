"""Read markers, unread counts and e-mail notifications against the real
chatd (the mail goes to smtpsink.SmtpSink)."""

import asyncio
import time
import unittest

from chatlib import WS, async_test, match, uniq
from community import ASYNC_TIMEOUT, CommunityBase, SinkCase
from smtpsink import SmtpSink


# ===========================================================================
# Read markers and unread counts

class ReadMarkerTest(CommunityBase):
    def unread(self, client):
        r = client.get("/api/unread")
        self.assertEqual(r.status, 200, r.describe())
        body = r.json()
        self.assertIsInstance(body.get("rooms"), list, r.describe())
        self.assertIsInstance(body.get("dms"), list, r.describe())
        rooms = {x["room"]: x["count"] for x in body["rooms"]}
        dms = {x["user"]: x["count"] for x in body["dms"]}
        self.assertEqual(len(rooms), len(body["rooms"]), r.describe())
        self.assertEqual(len(dms), len(body["dms"]), r.describe())
        for n in list(rooms.values()) + list(dms.values()):
            self.assertIsInstance(n, int)
            self.assertGreater(n, 0, "zero counts are left out: %s" % r.describe())
        return rooms, dms

    def mark(self, client, **body):
        r = client.post("/api/read", body)
        self.assertEqual(r.status, 204, r.describe())

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_room_markers(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        ca, na, pa, _ = self.new_user("ra")
        cb, nb, _, _ = self.new_user("rb")
        ca2 = self.login_again(na, pa)   # a second device
        wa = await self.member(ca, room, na)
        wb = await self.member(cb, room, nb)
        (b1,) = await self.send_room_msgs(wb, room, ["b1"])
        (a1,) = await self.send_room_msgs(wa, room, ["a1"])
        b2, b3 = await self.send_room_msgs(wb, room, ["b2", "b3"])
        # Never marked: joining made a a member with its marker at the
        # newest message then, so others' messages since count (b1, b2, b3).
        self.assertEqual(self.unread(ca)[0].get(room), 3)
        self.mark(ca, room=room, id=b1)
        # Others' messages after the marker: b2, b3 (not a's own a1).
        self.assertEqual(self.unread(ca)[0].get(room), 2)
        self.assertEqual(self.unread(ca2)[0].get(room), 2)
        self.mark(ca2, room=room, id=b2)
        self.assertEqual(self.unread(ca)[0].get(room), 1)
        # Markers never move back.
        self.mark(ca, room=room, id=b1)
        self.assertEqual(self.unread(ca2)[0].get(room), 1)
        self.assertEqual(self.unread(ca)[0].get(room), 1)
        self.mark(ca, room=room, id=b3)
        self.assertNotIn(room, self.unread(ca)[0])
        self.assertNotIn(room, self.unread(ca2)[0])
        (b4,) = await self.send_room_msgs(wb, room, ["b4"])
        self.assertEqual(self.unread(ca)[0].get(room), 1)
        self.assertEqual(self.unread(ca2)[0].get(room), 1)
        # b's own view: a member since its join, so a1 is unread (its own
        # messages never count); after b1 too, a1 is someone else's.
        self.assertEqual(self.unread(cb)[0].get(room), 1)
        self.mark(cb, room=room, id=b1)
        self.assertEqual(self.unread(cb)[0].get(room), 1)
        # A new session after all this agrees.
        self.assertEqual(self.unread(self.login_again(na, pa))[0].get(room), 1)
        self.mark(ca2, room=room, id=b4)
        self.assertNotIn(room, self.unread(ca)[0])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_dm_markers(self):
        (ca, na, pa), (cb, nb, _) = self.new_friends("rd", "rd")
        ca2 = self.login_again(na, pa)
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        d1, d2, d3 = await self.send_dms(wb, na, ["d1", "d2", "d3"])
        (e1,) = await self.send_dms(wa, nb, ["e1"])
        # Never marked: all of the peer's messages count.
        self.assertEqual(self.unread(ca)[1], {nb: 3})
        self.assertEqual(self.unread(ca2)[1], {nb: 3})
        self.assertEqual(self.unread(cb)[1], {na: 1})
        self.mark(ca, dm=nb, id=d1)
        self.assertEqual(self.unread(ca2)[1], {nb: 2})
        self.mark(ca2, dm=nb, id=d2)
        self.assertEqual(self.unread(ca)[1], {nb: 1})
        self.mark(ca, dm=nb, id=d1)           # backwards: ignored
        self.assertEqual(self.unread(ca)[1], {nb: 1})
        self.assertEqual(self.unread(ca2)[1], {nb: 1})
        self.mark(ca, dm=nb, id=e1)
        self.assertEqual(self.unread(ca)[1], {})
        self.assertEqual(self.unread(ca2)[1], {})
        (d4,) = await self.send_dms(wb, na, ["d4"])
        self.assertEqual(self.unread(ca)[1], {nb: 1})
        # b's marker is separate from a's.
        self.assertEqual(self.unread(cb)[1], {na: 1})
        self.mark(cb, dm=na, id=d4)
        self.assertEqual(self.unread(cb)[1], {})
        self.assertEqual(self.unread(ca)[1], {nb: 1})

    def test_bad_requests(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        c, n, _, _ = self.new_user("rx")
        for body in ({}, {"room": room}, {"id": 1}, {"room": "x", "id": 1}, {"room": room, "id": "1"},
                     {"dm": 5, "id": 1}, {"dm": n}, {"room": room, "id": 1.5}, [1], "room"):
            with self.subTest(body=body):
                self.assert_api_error(c.post("/api/read", body), 400, "bad_request")
        self.assert_api_error(c.post("/api/read", raw_body="{oops"), 400, "bad_request")
        self.assert_api_error(c.post("/api/read", {"room": 987654, "id": 1}), 404, "no_such_room")
        self.assert_api_error(c.post("/api/read", {"dm": "nobody_" + uniq("x"), "id": 1}), 404, "no_such_user")
        anon = self.client()
        self.assert_api_error(anon.post("/api/read", {"room": room, "id": 1}), 401, "unauthenticated")
        self.assert_api_error(anon.get("/api/unread"), 401, "unauthenticated")


# ===========================================================================
# E-mail notifications

GATHER_MS = 300
INTERVAL_MS = 3000
MAIL_FROM = "chat@example.org"


class NotificationTest(SinkCase):
    @classmethod
    def make_sink(cls):
        return SmtpSink()

    @classmethod
    def server_args(cls):
        return ["--smtp", "smtp://127.0.0.1:%d" % cls.sink.port, "--mail-from", MAIL_FROM]

    @classmethod
    def server_env(cls):
        return {"CHAT_MAIL_GATHER_MS": str(GATHER_MS), "CHAT_MAIL_INTERVAL_MS": str(INTERVAL_MS)}

    def sender(self):
        """A user with a Chinese name."""
        return self.new_user("张伟")

    def check_mail(self, mail, to_addr):
        self.assertEqual(mail.mail_from, MAIL_FROM, mail.describe())
        self.assertEqual([r.lower() for r in mail.rcpts], [to_addr.lower()], mail.describe())
        self.assertIn(MAIL_FROM, str(mail.msg["From"]), mail.describe())
        self.assertIn(to_addr.lower(), str(mail.msg["To"]).lower(), mail.describe())
        raw = mail.raw_subject
        self.assertIsNotNone(raw, mail.describe())
        raw.decode("utf-8")     # the raw header is ASCII (encoded words) or UTF-8
        subject = mail.subject
        self.assertTrue(subject.strip(), mail.describe())
        self.assertNotIn("=?", subject, "subject not decodable: %s" % mail.describe())
        self.assertNotIn("\ufffd", subject, mail.describe())
        body = mail.body
        self.assertNotIn("\ufffd", body, mail.describe())
        return subject, body

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_offline_user_gets_one_mail_for_a_dm(self):
        ca, na, _, _ = self.sender()
        cb, nb, _, ub = self.new_user("nb")
        self.befriend(ca, na, cb, nb)
        wa = await WS.connect(self.server, ca, label="a")
        text = "你好，周末一起去爬山吗？"
        ack = await self.send_dm(wa, nb, text)
        self.assertEqual(ack["type"], "ack", ack)
        mails = await self.sink.wait_for(ub["email"], 1, timeout=2 + GATHER_MS / 1000)
        self.assertEqual(len(mails), 1, "no mail to the offline receiver %s (all: %r)" % (
            ub["email"], [m.rcpts for m in self.sink.mails]))
        subject, body = self.check_mail(mails[0], ub["email"])
        self.assertIn(text, body, mails[0].describe())
        self.assertIn(na, subject + body, mails[0].describe())
        # Exactly one mail, and none to the sender.
        await asyncio.sleep(1.0)
        self.assertEqual(len(self.sink.to(ub["email"])), 1)
        self.assertEqual(self.sink.to("%s" % ca.get("/api/me").json()["user"]["email"]), [])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_burst_is_one_mail_then_one_per_interval(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        ca, na, _, _ = self.sender()
        cm, nm, _, _ = self.new_user("nm")
        cc, nc, _, uc = self.new_user("nc")
        self.befriend(ca, na, cc, nc)
        wa = await self.member(ca, room, "a")
        wm = await self.member(cm, room, nm)
        dms = ["第一条私信：上海下雨了", "第二条私信：带伞", "第三条私信：晚上见"]
        mention = "@%s 请看看这个房间的公告" % nc
        # All four at once (acks awaited after sending), within the gathering delay.
        cids = [uniq("nb") for _ in range(4)]
        for cid, text in zip(cids, dms):
            await wa.send({"type": "dm", "to": nc, "text": text, "cid": cid})
        await wm.send({"type": "send", "room": room, "text": mention, "cid": cids[3]})
        for cid in cids[:3]:
            f = await wa.expect(lambda f, cid=cid: f.get("cid") == cid and f.get("type") in ("ack", "error"))
            self.assertEqual(f["type"], "ack", f)
        f = await wm.expect(lambda f: f.get("cid") == cids[3] and f.get("type") in ("ack", "error"))
        self.assertEqual(f["type"], "ack", f)
        mails = await self.sink.wait_for(uc["email"], 1, timeout=2 + GATHER_MS / 1000)
        self.assertEqual(len(mails), 1, "no mail for the burst")
        first = mails[0]
        subject, body = self.check_mail(first, uc["email"])
        for text in dms:
            self.assertIn(text, body, first.describe())
        self.assertIn("请看看这个房间的公告", body, first.describe())
        self.assertIn(na, subject + body, first.describe())
        self.assertIn(nm, subject + body, first.describe())
        # A second burst within the interval waits for it.
        second = ["第四条私信：改到明天", "第五条私信：好的"]
        await self.send_dms(wa, nc, second)
        early = first.at + (INTERVAL_MS - 500) / 1000
        while time.monotonic() < early:
            self.assertEqual(len(self.sink.to(uc["email"])), 1,
                             "a second mail %.2fs after the first (interval %d ms): %s" % (
                                 self.sink.to(uc["email"])[-1].at - first.at, INTERVAL_MS,
                                 self.sink.to(uc["email"])[-1].describe()))
            await asyncio.sleep(0.05)
        mails = await self.sink.wait_for(uc["email"], 2, timeout=(first.at + INTERVAL_MS / 1000 + 3) - time.monotonic())
        self.assertEqual(len(mails), 2, "no second mail after the interval")
        later = mails[1]
        self.assertGreaterEqual(later.at - first.at, (INTERVAL_MS - 500) / 1000)
        _, body2 = self.check_mail(later, uc["email"])
        for text in second:
            self.assertIn(text, body2, later.describe())
        for text in dms:
            self.assertNotIn(text, body2, "the second mail repeats the first: %s" % later.describe())
        await asyncio.sleep(1.0)
        self.assertEqual(len(self.sink.to(uc["email"])), 2)

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_mention_mail_goes_to_the_messages_mentions(self):
        # A Chinese name written straight into the sentence: the message's
        # "mentions" finds it (docs/PROTOCOL.md section 10), and so does the mail.
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        cm, nm, _, _ = self.new_user("nm")
        base = uniq("chen")
        _, nc, _, uc = self.new_user("陈", email="%s@example.org" % base)
        wm = await self.member(cm, room, nm)
        text = "@%s你好，明天的会改到三点" % nc
        await wm.send({"type": "send", "room": room, "text": text, "cid": base})
        f = await wm.expect(lambda f: f.get("type") == "message" and f.get("text") == text)
        self.assertEqual(f["mentions"], [nc], f)
        mails = await self.sink.wait_for(uc["email"], 1, timeout=2 + GATHER_MS / 1000)
        self.assertEqual(len(mails), 1, "no mail for the mention of %s" % nc)
        _, body = self.check_mail(mails[0], uc["email"])
        self.assertIn("明天的会改到三点", body, mails[0].describe())

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_online_user_gets_no_mail(self):
        ca, na, _, _ = self.sender()
        cd, nd, _, ud = self.new_user("nd")
        ce, ne, _, ue = self.new_user("ne")
        self.befriend(ca, na, cd, nd)
        self.befriend(ca, na, ce, ne)
        wa = await WS.connect(self.server, ca, label="a")
        wd = await WS.connect(self.server, cd, label=nd)
        ackd = await self.send_dm(wa, nd, "你在线吗？")
        self.assertEqual(ackd["type"], "ack", ackd)
        await wd.expect(match(type="dm", id=ackd["id"]))
        acke = await self.send_dm(wa, ne, "你不在线吧？")
        self.assertEqual(acke["type"], "ack", acke)
        # The offline user's mail shows that mail works; the online one got none.
        mails = await self.sink.wait_for(ue["email"], 1, timeout=2 + GATHER_MS / 1000)
        self.assertEqual(len(mails), 1, "no mail to the offline control user")
        await asyncio.sleep(0.5)
        self.assertEqual(self.sink.to(ud["email"]), [], "mail to a user who was online")

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_email_notify_off(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        ca, na, _, _ = self.sender()
        cf, nf, _, uf = self.new_user("nf")
        cg, ng, _, ug = self.new_user("ng")
        self.befriend(ca, na, cf, nf)
        self.befriend(ca, na, cg, ng)
        r = cf.patch("/api/me", {"email_notify": False})
        self.assertEqual(r.status, 200, r.describe())
        self.assertIs(r.json()["user"]["email_notify"], False)
        self.assertIs(cf.get("/api/me").json()["user"]["email_notify"], False)
        wa = await self.member(ca, room, "a")
        for to in (nf, ng):
            ack = await self.send_dm(wa, to, "请回电话")
            self.assertEqual(ack["type"], "ack", ack)
        ack = await wa.send_msg(room, "@%s 看这里" % nf)
        self.assertEqual(ack["type"], "ack", ack)
        mails = await self.sink.wait_for(ug["email"], 1, timeout=2 + GATHER_MS / 1000)
        self.assertEqual(len(mails), 1, "no mail to the control user")
        await asyncio.sleep(0.5)
        self.assertEqual(self.sink.to(uf["email"]), [], "mail to a user with email_notify false")

    def test_me_shows_email_notify(self):
        c, n, p, u = self.new_user("nx")
        me = c.get("/api/me").json()["user"]
        self.assertIs(me.get("email_notify"), True, me)
        r = c.patch("/api/me", {"email_notify": False})
        self.assertEqual(r.status, 200, r.describe())
        user = r.json()["user"]
        self.assertEqual((user["id"], user["username"], user["email"], user["role"]),
                         (u["id"], n, u["email"], "user"))
        self.assertIs(user["email_notify"], False)
        # Another session of the same user sees it.
        self.assertIs(self.login_again(n, p).get("/api/me").json()["user"]["email_notify"], False)
        r = c.patch("/api/me", {"email_notify": True})
        self.assertEqual(r.status, 200, r.describe())
        self.assertIs(r.json()["user"]["email_notify"], True)
        self.assertIs(c.get("/api/me").json()["user"]["email_notify"], True)
        for body in ({"email_notify": "no"}, {"email_notify": 0}, [False]):
            with self.subTest(body=body):
                self.assert_api_error(c.patch("/api/me", body), 400, "bad_request")
        self.assertIs(c.get("/api/me").json()["user"]["email_notify"], True)
        self.assert_api_error(self.client().patch("/api/me", {"email_notify": False}), 401, "unauthenticated")
        # Not shown to others.
        admin = self.admin_client()
        listed = [x for x in admin.get("/api/admin/users").json()["users"] if x["username"] == n]
        self.assertTrue(listed)
        self.assertNotIn("email_notify", listed[0])


if __name__ == "__main__":
    unittest.main()
