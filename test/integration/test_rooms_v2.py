"""Rooms v2 against the real chatd: stored membership, private rooms, group
conversations, owners, the members API, the announcement, pins, mute, the
live room list and online counts (docs/PROTOCOL.md, "Rooms: membership,
private rooms, groups").

Every case runs twice:
  - SingleRoomsTest: one chatd on SQLite (A and B are the same server);
  - ClusterRoomsTest: two chatd instances A and B on one MariaDB and one
    Redis (test_cluster.ClusterCase); users act through A and watch
    through B, so each frame must cross instances.
Both have an SMTP sink (smtpsink.SmtpSink) for the mute case.
"""

import asyncio
import unittest
import urllib.parse

from chatlib import WS, Client, Server, ServerTestCase, aeventually, uniq
from smtpsink import SmtpSink
from test_cluster import ClusterCase

ADMIN = ("rv2admin", "rooms-admin-secret", "rv2admin@example.org")
MAIL_FROM = "chat@example.org"
GATHER_MS = 500
INTERVAL_MS = 3000
CASE_TIMEOUT = 90.0
QUIET_S = 1.5     # how long "nothing arrives" is watched, after a positive control


def case(fn):
    def wrapper(self):
        return asyncio.run(asyncio.wait_for(fn(self), CASE_TIMEOUT))
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def is_type(t, **fields):
    def pred(f):
        if f.get("type") != t:
            return False
        for k, v in fields.items():
            if k == "room_id":
                room = f.get("room")
                if (room.get("id") if isinstance(room, dict) else room) != v:
                    return False
            elif f.get(k) != v:
                return False
        return True
    pred.desc = "%s %r" % (t, fields)
    return pred


class RoomsCases:
    """The cases; a subclass provides the servers A and B and the sink."""

    a = b = sink = None

    # -- helpers --------------------------------------------------------------
    def user(self, base="r"):
        name = uniq(base)
        password = "pw-" + name + "-secret"
        c = Client(self.a)
        r = c.register(name, password, "%s@example.org" % name.lower())
        self.assertEqual(r.status, 201, r.describe())
        r = c.login(name, password)
        self.assertEqual(r.status, 200, r.describe())
        return c, name, password

    def on_b(self, c):
        """The same session, through instance B."""
        return Client(self.b, sid=c.sid)

    def admin(self):
        c = Client(self.a)
        r = c.login(ADMIN[0], ADMIN[1])
        self.assertEqual(r.status, 200, r.describe())
        return c

    def rooms(self, c):
        r = c.get("/api/rooms")
        self.assertEqual(r.status, 200, r.describe())
        return {room["id"]: room for room in r.json()["rooms"]}

    def unread(self, c):
        r = c.get("/api/unread")
        self.assertEqual(r.status, 200, r.describe())
        return {e["room"]: e["count"] for e in r.json()["rooms"]}

    def create(self, c, status=201, **body):
        r = c.post("/api/rooms", body)
        self.assertEqual(r.status, status, r.describe())
        return r.json().get("room") if status == 201 else r

    def public_room(self):
        return self.create(self.admin(), name=uniq("pub-"), topic="t")

    def err(self, resp, status, code):
        self.assertEqual(resp.status, status, resp.describe())
        self.assertEqual(resp.json()["error"]["code"], code, resp.describe())

    async def ws(self, c, server=None, label=None):
        return await WS.connect(server or self.a, c, label=label)

    async def quiet(self, ws, pred, seconds=QUIET_S):
        frames = await ws.collect(seconds)
        bad = [f for f in frames if pred(f)]
        self.assertEqual(bad, [], "unexpected frames on %s" % ws.label)

    # -- cases ------------------------------------------------------------------
    @case
    async def test_membership_is_stored_and_unread_reaches_a_second_device(self):
        room = self.public_room()["id"]
        c1, n1, p1 = self.user("mem")
        c2, _, _ = self.user("snd")
        self.assertFalse(self.rooms(c1)[room]["member"])
        w1 = await self.ws(c1, label="first device")
        self.assertEqual((await w1.join(room))["type"], "joined")
        # A leave frame only ends this connection's subscription.
        await w1.send({"type": "leave", "room": room})
        # A second login (another device) on the other instance: the same
        # rooms, without ever joining there.
        d2 = Client(self.b)
        self.assertEqual(d2.login(n1, p1).status, 200)
        await aeventually(lambda: self.rooms(d2)[room]["member"], desc="member on device 2")
        self.assertEqual(self.unread(d2).get(room, 0), 0)
        w2 = await self.ws(c2, label="sender")
        self.assertEqual((await w2.join(room))["type"], "joined")
        for text in ("one", "two"):
            self.assertEqual((await w2.send_msg(room, text))["type"], "ack")
        # The second device's badge: both messages, from the server.
        self.assertEqual(self.unread(d2).get(room), 2)
        self.assertEqual(self.unread(self.on_b(c1)).get(room), 2)
        # Leaving for good: no longer a member, no unread, not subscribed.
        self.assertEqual((await w1.join(room))["type"], "joined")
        r = d2.delete("/api/rooms/%d/members/%s" % (room, n1))
        self.assertEqual(r.status, 204, r.describe())
        await w1.expect(is_type("room_removed", room=room))
        self.assertFalse(self.rooms(c1)[room]["member"])
        self.assertNotIn(room, self.unread(c1))
        self.assertEqual((await w2.send_msg(room, "after leaving"))["type"], "ack")
        await self.quiet(w1, is_type("message", text="after leaving"))
        self.err(d2.delete("/api/rooms/%d/members/%s" % (room, n1)), 404, "not_member")
        await w1.close()
        await w2.close()

    @case
    async def test_private_room_is_invisible_to_others(self):
        c1, n1, _ = self.user("own")
        c2, n2, _ = self.user("out")
        room = self.create(c1, name=uniq("秘密-"), topic="")
        rid = room["id"]
        self.assertEqual(room["visibility"], "private")
        self.assertEqual(room["owner"], n1)
        self.assertTrue(room["member"])
        self.assertIn(rid, self.rooms(c1))
        secret = uniq("暗号")
        w1 = await self.ws(c1, label="owner")
        self.assertEqual((await w1.join(rid))["type"], "joined")
        self.assertEqual((await w1.send_msg(rid, "内容 " + secret))["type"], "ack")
        out = self.on_b(c2)
        self.assertNotIn(rid, self.rooms(out))
        self.err(out.get("/api/rooms/%d" % rid), 404, "no_such_room")
        self.err(out.get("/api/rooms/%d/messages" % rid), 404, "no_such_room")
        self.err(out.get("/api/rooms/%d/members" % rid), 404, "no_such_room")
        self.err(out.post("/api/rooms/%d/members" % rid, {"username": n2}), 404, "no_such_room")
        self.err(out.patch("/api/rooms/%d/settings" % rid, {"muted": True}), 404, "no_such_room")
        w2 = await self.ws(c2, self.b, label="outsider")
        err = await w2.join(rid)
        self.assertEqual((err["type"], err.get("code")), ("error", "no_such_room"), err)
        err = await w2.send_msg(rid, "let me in")
        self.assertEqual(err["type"], "error", err)
        # Search: the owner finds it, the outsider never (any room, this room).
        q = "/api/search?q=" + urllib.parse.quote(secret)
        await aeventually(lambda: len(c1.get(q).json()["messages"]) == 1, desc="owner finds it")
        self.assertEqual(out.get(q).json()["messages"], [])
        r = out.get(q + "&room=%d" % rid)
        self.assertTrue(r.status == 404 or r.json()["messages"] == [], r.describe())
        # An administrator sees and enters it.
        admin = self.admin()
        self.assertEqual(admin.get("/api/rooms/%d/messages" % rid).status, 200)
        wa = await self.ws(admin, self.b, label="admin")
        self.assertEqual((await wa.join(rid))["type"], "joined")
        for w in (w1, w2, wa):
            await w.close()

    @case
    async def test_owner_member_admin_permissions(self):
        owner, n_owner, _ = self.user("own")
        member, n_member, _ = self.user("mbr")
        other, n_other, _ = self.user("oth")
        self.err(self.create(member, 403, name=uniq("p-"), visibility="public"), 403, "forbidden")
        rid = self.create(owner, name=uniq("grp-"), members=[n_member])["id"]
        m = self.on_b(member)
        self.err(m.post("/api/rooms/%d/members" % rid, {"username": n_other}), 403, "forbidden")
        self.err(m.patch("/api/rooms/%d" % rid, {"announcement": "mine"}), 403, "forbidden")
        self.err(m.delete("/api/rooms/%d/members/%s" % (rid, n_owner)), 403, "forbidden")
        self.err(m.delete("/api/rooms/%d" % rid), 403, "forbidden")
        wo = await self.ws(owner, label="owner")
        wm = await self.ws(member, self.b, label="member")
        for w in (wo, wm):
            self.assertEqual((await w.join(rid))["type"], "joined")
        own_msg = (await wo.send_msg(rid, "owner speaks"))["id"]
        mem_msg = (await wm.send_msg(rid, "member speaks"))["id"]
        self.err(m.post("/api/rooms/%d/pins" % rid, {"id": own_msg}), 403, "forbidden")
        self.err(m.delete("/api/rooms/%d/messages/%d" % (rid, own_msg)), 403, "forbidden")
        # The owner moderates: deletes a member's message, invites, removes.
        r = owner.delete("/api/rooms/%d/messages/%d" % (rid, mem_msg))
        self.assertEqual(r.status, 204, r.describe())
        await wm.expect(is_type("message_deleted", id=mem_msg))
        r = owner.post("/api/rooms/%d/members" % rid, {"username": n_other})
        self.assertEqual(r.status, 204, r.describe())
        self.err(owner.post("/api/rooms/%d/members" % rid, {"username": uniq("nobody")}), 404,
                 "no_such_user")
        r = owner.delete("/api/rooms/%d/members/%s" % (rid, n_other))
        self.assertEqual(r.status, 204, r.describe())
        # Members list: roles and names.
        r = m.get("/api/rooms/%d/members" % rid)
        self.assertEqual(r.status, 200, r.describe())
        roles = {x["username"]: x["role"] for x in r.json()["members"]}
        self.assertEqual(roles, {n_owner: "owner", n_member: "member"})
        # An administrator does everything, in a room it is not in.
        admin = self.admin()
        r = admin.patch("/api/rooms/%d" % rid, {"announcement": "admin says"})
        self.assertEqual(r.status, 200, r.describe())
        r = admin.post("/api/rooms/%d/pins" % rid, {"id": own_msg})
        self.assertEqual(r.status, 200, r.describe())
        r = admin.delete("/api/rooms/%d/members/%s" % (rid, n_member))
        self.assertEqual(r.status, 204, r.describe())
        self.assertNotIn(rid, self.rooms(member))
        # Anyone leaves for themself; the owner leaving hands the room on.
        r = owner.delete("/api/rooms/%d/members/%s" % (rid, n_owner))
        self.assertEqual(r.status, 204, r.describe())
        r = admin.get("/api/rooms/%d" % rid)
        self.assertEqual(r.json()["room"]["owner"], None, r.describe())
        for w in (wo, wm):
            await w.close()

    @case
    async def test_invite_and_remove_reach_the_other_instance(self):
        owner, n_owner, _ = self.user("own")
        guest, n_guest, _ = self.user("gst")
        third, n_third, _ = self.user("thd")
        rid = self.create(owner, name=uniq("邀请-"), members=[n_third])["id"]
        wg = await self.ws(guest, self.b, label="guest on B")
        r = owner.post("/api/rooms/%d/members" % rid, {"username": n_guest})
        self.assertEqual(r.status, 204, r.describe())
        added = await wg.expect(is_type("room_added", room_id=rid))
        self.assertEqual(added["room"]["visibility"], "private")
        self.assertTrue(added["room"]["member"])
        self.assertIn(rid, self.rooms(self.on_b(guest)))
        self.assertEqual((await wg.join(rid))["type"], "joined")
        wo = await self.ws(owner, label="owner")
        wt = await self.ws(third, self.b, label="third on B")
        for w in (wo, wt):
            self.assertEqual((await w.join(rid))["type"], "joined")
        self.assertEqual((await wo.send_msg(rid, "hello all"))["type"], "ack")
        await wg.expect(is_type("message", text="hello all"))
        r = owner.delete("/api/rooms/%d/members/%s" % (rid, n_guest))
        self.assertEqual(r.status, 204, r.describe())
        await wg.expect(is_type("room_removed", room=rid))
        # Its subscription ended: the next message reaches the third member
        # (same instance as the guest), not the guest.
        self.assertEqual((await wo.send_msg(rid, "guest gone"))["type"], "ack")
        await wt.expect(is_type("message", text="guest gone"))
        await self.quiet(wg, is_type("message", text="guest gone"))
        err = await wg.join(rid)
        self.assertEqual((err["type"], err.get("code")), ("error", "no_such_room"), err)
        self.assertNotIn(rid, self.rooms(guest))
        for w in (wo, wg, wt):
            await w.close()

    @case
    async def test_group_conversation_in_one_call(self):
        c1, n1, _ = self.user("g1")
        c2, n2, _ = self.user("g2")
        c3, n3, _ = self.user("g3")
        w3 = await self.ws(c3, self.b, label="g3 on B")
        self.err(c1.post("/api/rooms", {"members": [n2, uniq("ghost")]}), 404, "no_such_user")
        room = self.create(c1, members=[n2, n3])
        rid = room["id"]
        self.assertEqual(room["name"], "")
        self.assertEqual(room["visibility"], "private")
        self.assertEqual(room["member_names"], [n1, n2, n3])
        added = await w3.expect(is_type("room_added", room_id=rid))
        self.assertEqual(added["room"]["member_names"], [n1, n2, n3])
        for c in (c2, c3):
            self.assertIn(rid, self.rooms(self.on_b(c)))
        w2 = await self.ws(c2, label="g2")
        for w in (w2, w3):
            self.assertEqual((await w.join(rid))["type"], "joined")
        self.assertEqual((await w2.send_msg(rid, "群聊你好"))["type"], "ack")
        await w3.expect(is_type("message", text="群聊你好"))
        await w2.close()
        await w3.close()

    @case
    async def test_announcement_and_pins_tell_members(self):
        owner, _, _ = self.user("own")
        member, n_member, _ = self.user("mbr")
        rid = self.create(owner, name=uniq("公告-"), members=[n_member])["id"]
        other = self.create(owner, name=uniq("other-"))["id"]
        wo = await self.ws(owner, label="owner")
        wm = await self.ws(member, self.b, label="member on B")
        self.assertEqual((await wo.join(rid))["type"], "joined")
        mid = (await wo.send_msg(rid, "pin me"))["id"]
        self.assertEqual((await wo.join(other))["type"], "joined")
        elsewhere = (await wo.send_msg(other, "not here"))["id"]
        r = owner.patch("/api/rooms/%d" % rid, {"announcement": "周五下午三点开会"})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["room"]["announcement"], "周五下午三点开会")
        f = await wm.expect(is_type("room_updated", room_id=rid))
        self.assertEqual(f["room"]["announcement"], "周五下午三点开会")
        self.err(owner.patch("/api/rooms/%d" % rid, {"announcement": "长" * 501}), 400,
                 "announcement_too_long")
        r = owner.post("/api/rooms/%d/pins" % rid, {"id": mid})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["room"]["pinned"], [mid])
        await wm.expect(lambda f: is_type("room_updated", room_id=rid)(f) and f["room"]["pinned"] == [mid])
        self.assertEqual(self.on_b(member).get("/api/rooms/%d" % rid).json()["room"]["pinned"], [mid])
        self.err(owner.post("/api/rooms/%d/pins" % rid, {"id": elsewhere}), 404, "not_found")
        r = owner.delete("/api/rooms/%d/pins/%d" % (rid, mid))
        self.assertEqual(r.status, 200, r.describe())
        await wm.expect(lambda f: is_type("room_updated", room_id=rid)(f) and f["room"]["pinned"] == [])
        self.err(owner.delete("/api/rooms/%d/pins/%d" % (rid, mid)), 404, "not_found")
        await wo.close()
        await wm.close()

    @case
    async def test_mute_stops_mail_but_not_unread(self):
        sender, _, _ = self.user("snd")
        muted, n_muted, _ = self.user("mut")
        loud, n_loud, _ = self.user("loud")
        rid = self.create(sender, name=uniq("静音-"), members=[n_muted, n_loud])["id"]
        r = self.on_b(muted).patch("/api/rooms/%d/settings" % rid, {"muted": True})
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue(r.json()["room"]["muted"])
        self.assertTrue(self.rooms(muted)[rid]["muted"])
        self.assertFalse(self.rooms(loud)[rid]["muted"])
        ws = await self.ws(sender, label="sender")
        self.assertEqual((await ws.join(rid))["type"], "joined")
        ack = await ws.send_msg(rid, "@%s @%s 看一下" % (n_muted, n_loud))
        self.assertEqual(ack["type"], "ack")
        # The positive control: the other mentioned user is mailed.
        loud_addr = "%s@example.org" % n_loud.lower()
        mails = await self.sink.wait_for(loud_addr, 1, timeout=15)
        self.assertEqual(len(mails), 1, "no mail to %s" % loud_addr)
        await asyncio.sleep(GATHER_MS / 1000 + 1.0)
        self.assertEqual(self.sink.to("%s@example.org" % n_muted.lower()), [])
        # Still counted as unread.
        self.assertEqual(self.unread(muted).get(rid), 1)
        await ws.close()

    @case
    async def test_room_list_is_live(self):
        watcher, _, _ = self.user("see")
        ww = await self.ws(watcher, self.b, label="watcher on B")
        admin = self.admin()
        name = uniq("新房间-")
        room = self.create(admin, name=name, topic="live")
        f = await ww.expect(is_type("room_added", room_id=room["id"]))
        self.assertEqual(f["room"]["name"], name)
        self.assertEqual(f["room"]["visibility"], "public")
        r = admin.patch("/api/rooms/%d" % room["id"], {"topic": "changed"})
        self.assertEqual(r.status, 200, r.describe())
        f = await ww.expect(is_type("room_updated", room_id=room["id"]))
        self.assertEqual(f["room"]["topic"], "changed")
        r = admin.delete("/api/rooms/%d" % room["id"])
        self.assertEqual(r.status, 204, r.describe())
        await ww.expect(is_type("room_removed", room=room["id"]))
        self.assertNotIn(room["id"], self.rooms(watcher))
        # A private room someone else creates is never announced here.
        other, _, _ = self.user("prv")
        hidden = self.create(other, name=uniq("hidden-"))["id"]
        await self.quiet(ww, is_type("room_added", room_id=hidden))
        await ww.close()

    @case
    async def test_online_counts_follow_join_leave_and_disconnect(self):
        rid = self.public_room()["id"]
        watcher, _, _ = self.user("see")
        goer, _, _ = self.user("go")
        ww = await self.ws(watcher, self.b, label="watcher on B")
        wg = await self.ws(goer, label="goer")
        self.assertEqual((await wg.join(rid))["type"], "joined")
        await ww.expect(is_type("room_online", room=rid, online=1))
        await aeventually(lambda: self.rooms(self.on_b(watcher))[rid]["online"] == 1,
                          desc="list count 1")
        await wg.send({"type": "leave", "room": rid})
        await ww.expect(is_type("room_online", room=rid, online=0))
        self.assertEqual(self.rooms(watcher)[rid]["online"], 0)
        self.assertEqual((await wg.join(rid))["type"], "joined")
        await ww.expect(is_type("room_online", room=rid, online=1))
        await wg.close()
        await ww.expect(is_type("room_online", room=rid, online=0))
        await aeventually(lambda: self.rooms(self.on_b(watcher))[rid]["online"] == 0,
                          desc="list count 0")
        await ww.close()


def mail_env():
    return {"CHAT_MAIL_GATHER_MS": str(GATHER_MS), "CHAT_MAIL_INTERVAL_MS": str(INTERVAL_MS)}


def mail_args(sink):
    return ["--smtp", "smtp://127.0.0.1:%d" % sink.port, "--mail-from", MAIL_FROM]


class SingleRoomsTest(RoomsCases, ServerTestCase):
    """One chatd on SQLite: A and B are the same server."""

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.sink = SmtpSink()
        cls.server = Server(extra_args=mail_args(cls.sink), env=mail_env())
        try:
            cls.server.add_user(*ADMIN, admin=True)
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            cls.sink.close()
            raise
        cls.a = cls.b = cls.server

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.sink.close()


class ClusterRoomsTest(RoomsCases, ClusterCase):
    """Two chatd instances on MariaDB and Redis."""

    CLUSTER_ADMIN = ADMIN
    RESTART_DEAD = False

    @classmethod
    def cluster_sink(cls):
        return SmtpSink()

    @classmethod
    def cluster_args(cls):
        return mail_args(cls.sink)

    @classmethod
    def cluster_env(cls):
        return mail_env()


if __name__ == "__main__":
    unittest.main(verbosity=2)
