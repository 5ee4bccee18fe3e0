"""Replies, mentions, reactions, edits and recall (tombstones), in rooms and
direct messages, against the real chatd (docs/PROTOCOL.md, "Replies,
mentions, reactions, edits, recall").

The tests run against SQLite; again against a fresh MySQL/MariaDB database
when CHAT_TEST_MYSQL_URL is set (scripts/test.sh starts one); and a cluster
case runs two instances over MariaDB and Redis (the private servers of
test_cluster.py), where a reaction, an edit and a recall made through one
instance reach the other live and in a later join there."""

import os
import unittest
from urllib.parse import quote

import test_cluster
from chatlib import WS, StoreTestCase, async_test, eventually, uniq

ADMIN = ("extras_admin", "admin-password-1", "extras-admin@example.org")


def norm(reactions):
    """Reactions without their order (reactions of one millisecond may be
    listed in either order)."""
    return sorted((r["emoji"], sorted(r["users"])) for r in reactions)


def is_error(code=None, cid=None):
    def pred(f):
        return (f.get("type") == "error" and (code is None or f.get("code") == code)
                and (cid is None or f.get("cid") == cid))
    return pred


def of_type(t, **fields):
    def pred(f):
        return f.get("type") == t and all(f.get(k) == v for k, v in fields.items())
    return pred


async def send(ws, room, text, reply_to=None, cid=None):
    """Sends a room message; returns the ack or the error for it."""
    cid = cid or uniq("c")
    frame = {"type": "send", "room": room, "text": text, "cid": cid}
    if reply_to is not None:
        frame["reply_to"] = reply_to
    await ws.send(frame)
    return await ws.expect(lambda f: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                           desc="ack/error of %s" % cid)


async def dm(ws, to, text, reply_to=None):
    cid = uniq("d")
    frame = {"type": "dm", "to": to, "text": text, "cid": cid}
    if reply_to is not None:
        frame["reply_to"] = reply_to
    await ws.send(frame)
    return await ws.expect(lambda f: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                           desc="ack/error of %s" % cid)


class ExtrasTest(StoreTestCase):
    ADMINS = [ADMIN]
    MYSQL = False   # the MySQL variant below sets it

    # -- helpers ----------------------------------------------------------------
    def room_pair(self):
        """A new room and two users joined to it: (room, (client, name, ws)
        x 2) from an async helper."""
        admin = self.admin_client()
        return self.create_room(admin)["id"]

    async def two_in_room(self, room, base_a="xa", base_b="xb"):
        ca, na, _, _ = self.new_user(base_a)
        cb, nb, _, _ = self.new_user(base_b)
        wa = await WS.connect(self.server, ca, label="a")
        wb = await WS.connect(self.server, cb, label="b")
        for ws in (wa, wb):
            j = await ws.join(room)
            self.assertEqual(j["type"], "joined", j)
        return (ca, na, wa), (cb, nb, wb)

    def msg_in(self, msgs, mid):
        for m in msgs:
            if m["id"] == mid:
                return m
        self.fail("message %d not in %s" % (mid, msgs))

    def befriend(self, ca, na, cb, nb):
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        self.assertEqual(cb.post("/api/friends", {"username": na}).status, 200)

    # -- replies ------------------------------------------------------------------
    @async_test()
    async def test_reply_in_room(self):
        room = self.room_pair()
        other = self.room_pair()
        (ca, na, wa), (cb, nb, wb) = await self.two_in_room(room)
        long_text = "长" * 150 + "尾"
        first = await send(wa, room, long_text)
        self.assertEqual(first["type"], "ack", first)
        ack = await send(wb, room, "我同意", reply_to=first["id"])
        self.assertEqual(ack["type"], "ack", ack)
        m = await wa.expect(of_type("message", id=ack["id"]), desc="the reply")
        self.assertEqual(m["reply_to"], {"id": first["id"], "sender": na, "text": "长" * 100})
        self.assertNotIn("mentions", m)
        h = self.msg_in(self.history(ca, room), ack["id"])
        self.assertEqual(h["reply_to"], m["reply_to"])
        # A message of another room, a missing one, and a bad value.
        wo = await WS.connect(self.server, ca)
        await wo.join(other)
        elsewhere = await send(wo, other, "elsewhere")
        bad = await send(wb, room, "x", reply_to=elsewhere["id"])
        self.assertEqual((bad["type"], bad["code"]), ("error", "not_found"), bad)
        bad = await send(wb, room, "x", reply_to=987654321)
        self.assertEqual((bad["type"], bad["code"]), ("error", "not_found"), bad)
        bad = await send(wb, room, "x", reply_to="12")
        self.assertEqual((bad["type"], bad["code"]), ("error", "bad_request"), bad)
        # Sends right behind a reply keep their order.
        acks = []
        for i in range(4):
            acks.append(await send(wb, room, "order %d" % i, reply_to=first["id"] if i % 2 == 0 else None))
        ids = [a["id"] for a in acks]
        self.assertEqual(ids, sorted(ids), acks)

    # -- mentions -------------------------------------------------------------------
    @async_test()
    async def test_mentions_and_unread(self):
        room = self.room_pair()
        (ca, na, wa), (cb, nb, wb) = await self.two_in_room(room, "ma", "mb")
        cz, nz, _, _ = self.new_user("张三")
        wz = await WS.connect(self.server, cz)
        await wz.join(room)
        first = await send(wa, room, "before")
        for c in (cb, cz):
            r = c.post("/api/read", {"room": room, "id": first["id"]})
            self.assertEqual(r.status, 204, r.describe())
        ack = await send(wa, room, "@%s 你好, @%s你看 and @nobody_%s." % (nb, nz, uniq("n")))
        m = await wb.expect(of_type("message", id=ack["id"]))
        self.assertEqual(sorted(m["mentions"]), sorted([nb, nz]), m)
        ack2 = await send(wa, room, "（@%s）again" % nz)
        m2 = await wz.expect(of_type("message", id=ack2["id"]))
        self.assertEqual(m2["mentions"], [nz], m2)
        await send(wa, room, "no mention here")
        h = self.msg_in(self.history(ca, room), ack["id"])
        self.assertEqual(sorted(h["mentions"]), sorted([nb, nz]))

        def unread(c):
            r = c.get("/api/unread")
            self.assertEqual(r.status, 200, r.describe())
            return {e["room"]: e for e in r.json()["rooms"]}
        self.assertEqual((unread(cb)[room]["count"], unread(cb)[room]["mentions"]), (3, 1))
        self.assertEqual((unread(cz)[room]["count"], unread(cz)[room]["mentions"]), (3, 2))
        # Reading past them clears the count; a recalled mention is not counted.
        r = cz.post("/api/read", {"room": room, "id": ack["id"]})
        self.assertEqual(r.status, 204)
        self.assertEqual(unread(cz)[room]["mentions"], 1)
        self.assertEqual(ca.delete("/api/rooms/%d/messages/%d" % (room, ack2["id"])).status, 204)
        self.assertEqual(unread(cz)[room]["mentions"], 0)

    # -- reactions --------------------------------------------------------------------
    @async_test()
    async def test_reactions(self):
        room = self.room_pair()
        (ca, na, wa), (cb, nb, wb) = await self.two_in_room(room, "ra", "rb")
        ack = await send(wa, room, "react to me")
        mid = ack["id"]
        for ws, emoji in ((wb, "👍"), (wb, "👍"), (wa, "👍"), (wa, "❤️"), (wb, "👨‍👩‍👧"), (wb, "🇨🇳")):
            await ws.send({"type": "react", "room": room, "id": mid, "emoji": emoji, "on": True})
        for ws in (wa, wb):
            f = await ws.expect(of_type("reaction", room=room, id=mid, emoji="👍", user=nb, on=True))
            self.assertEqual(set(f), {"type", "room", "id", "emoji", "user", "on"}, f)
            await ws.expect(of_type("reaction", id=mid, emoji="🇨🇳", user=nb))
            # The other socket's reactions are stored in their own order.
            await ws.expect(of_type("reaction", id=mid, emoji="👍", user=na))
            await ws.expect(of_type("reaction", id=mid, emoji="❤️", user=na))
        h = self.msg_in(self.history(ca, room), mid)
        # Two sockets race: the order between them is the store's.
        self.assertEqual({r["emoji"]: sorted(r["users"]) for r in h["reactions"]},
                         {"👍": sorted([nb, na]), "❤️": [na], "👨‍👩‍👧": [nb], "🇨🇳": [nb]})
        self.assertEqual(len(h["reactions"]), 4)
        mine = [r["emoji"] for r in h["reactions"] if nb in r["users"]]
        self.assertEqual(mine, ["👍", "👨‍👩‍👧", "🇨🇳"], "one socket's reactions keep their order")
        # A join (served from the room's cache) sees the same.
        w3 = await WS.connect(self.server, ca)
        j = await w3.join(room)
        self.assertEqual(norm(self.msg_in(j["history"], mid)["reactions"]), norm(h["reactions"]))
        # Off, twice.
        for _ in range(2):
            await wb.send({"type": "react", "room": room, "id": mid, "emoji": "👍", "on": False})
            await wa.expect(of_type("reaction", id=mid, emoji="👍", user=nb, on=False))
        h = self.msg_in(self.history(ca, room), mid)
        self.assertEqual(h["reactions"][0], {"emoji": "👍", "users": [na]})
        j = await w3.join(room)
        self.assertEqual(norm(self.msg_in(j["history"], mid)["reactions"]), norm(h["reactions"]))
        # Bad emoji.
        for bad in ("ok", "👍👍", "👍 ", "\n", "", "a👍", "\u200d", "x" * 40, 5, None):
            await wb.send({"type": "react", "room": room, "id": mid, "emoji": bad, "on": True})
            e = await wb.expect(is_error())
            self.assertEqual(e["code"], "bad_request", (bad, e))
        await wb.send({"type": "react", "room": room, "id": mid, "emoji": "👍"})
        self.assertEqual((await wb.expect(is_error()))["code"], "bad_request")
        await wb.send({"type": "react", "room": room, "id": 987654321, "emoji": "👍", "on": True})
        self.assertEqual((await wb.expect(is_error()))["code"], "not_found")
        other = self.room_pair()
        await wb.send({"type": "react", "room": other, "id": mid, "emoji": "👍", "on": True})
        self.assertEqual((await wb.expect(is_error()))["code"], "not_member")
        # At most 20 different emoji.
        ack = await send(wa, room, "many")
        many = [chr(0x1F600 + i) for i in range(21)]
        for e in many[:20]:
            await wa.send({"type": "react", "room": room, "id": ack["id"], "emoji": e, "on": True})
        await wa.send({"type": "react", "room": room, "id": ack["id"], "emoji": many[20], "on": True})
        err = await wa.expect(is_error())
        self.assertEqual(err["code"], "too_many_reactions", err)
        h = self.msg_in(self.history(ca, room), ack["id"])
        self.assertEqual([r["emoji"] for r in h["reactions"]], many[:20])

    # -- edits --------------------------------------------------------------------------
    @async_test()
    async def test_edit(self):
        room = self.room_pair()
        (ca, na, wa), (cb, nb, wb) = await self.two_in_room(room, "ea", "eb")
        old_word, new_word = uniq("oldword"), uniq("新词")
        ack = await send(wa, room, "first %s" % old_word)
        mid = ack["id"]
        reply = await send(wb, room, "quoting", reply_to=mid)
        # Let the indexer reach it, so the edit re-indexes.
        eventually(lambda: any(m["id"] == mid for m in
                               ca.get("/api/search?q=" + quote(old_word)).json()["messages"]))
        await wa.send({"type": "edit", "room": room, "id": mid, "text": "  second %s  " % new_word})
        for ws in (wa, wb):
            f = await ws.expect(of_type("message_edited", room=room, id=mid))
            self.assertEqual(f["text"], "second %s" % new_word)
            self.assertIsInstance(f["edited_ts"], int)
        h = self.history(ca, room)
        m = self.msg_in(h, mid)
        self.assertEqual((m["text"], m["edited_ts"]), (f["text"], f["edited_ts"]))
        self.assertEqual(self.msg_in(h, reply["id"])["reply_to"]["text"], f["text"])
        w3 = await WS.connect(self.server, cb)
        j = await w3.join(room)
        jm = self.msg_in(j["history"], mid)
        self.assertEqual((jm["text"], jm["edited_ts"]), (f["text"], f["edited_ts"]))
        self.assertEqual(self.msg_in(j["history"], reply["id"])["reply_to"]["text"], f["text"])

        def found(q):
            r = ca.get("/api/search?q=" + quote(q))
            self.assertEqual(r.status, 200, r.describe())
            return [x["id"] for x in r.json()["messages"]]
        self.assertIn(mid, found(new_word))
        self.assertNotIn(mid, found(old_word))
        # Not the sender's, missing, bad text.
        await wb.send({"type": "edit", "room": room, "id": mid, "text": "hijack"})
        self.assertEqual((await wb.expect(is_error()))["code"], "forbidden")
        await wa.send({"type": "edit", "room": room, "id": 987654321, "text": "x"})
        self.assertEqual((await wa.expect(is_error()))["code"], "not_found")
        await wa.send({"type": "edit", "room": room, "id": mid, "text": "   "})
        self.assertEqual((await wa.expect(is_error()))["code"], "empty_text")
        await wa.send({"type": "edit", "room": room, "id": mid, "text": "x" * 4001})
        self.assertEqual((await wa.expect(is_error()))["code"], "text_too_long")
        await wa.send({"type": "edit", "room": room, "id": mid})
        self.assertEqual((await wa.expect(is_error()))["code"], "bad_request")
        self.assertEqual(self.msg_in(self.history(ca, room), mid)["text"], f["text"])

    # -- recall and tombstones ------------------------------------------------------------
    @async_test()
    async def test_recall_tombstone(self):
        room = self.room_pair()
        (ca, na, wa), (cb, nb, wb) = await self.two_in_room(room, "da", "db")
        word = uniq("gone")
        ack = await send(wa, room, "secret %s" % word)
        mid = ack["id"]
        await wb.send({"type": "react", "room": room, "id": mid, "emoji": "😀", "on": True})
        await wa.expect(of_type("reaction", id=mid))
        reply = await send(wb, room, "re", reply_to=mid)
        # Someone else may not; the sender may (over WebSocket, as over HTTP).
        await wb.send({"type": "delete", "room": room, "id": mid})
        self.assertEqual((await wb.expect(is_error()))["code"], "forbidden")
        await wa.send({"type": "delete", "room": room, "id": mid})
        for ws in (wa, wb):
            f = await ws.expect(of_type("message_deleted", room=room, id=mid))
            self.assertEqual(f, {"type": "message_deleted", "room": room, "id": mid})
        h = self.history(cb, room)
        t = self.msg_in(h, mid)
        self.assertEqual(set(t) - {"seq"}, {"id", "room", "sender", "ts", "deleted"}, t)
        self.assertEqual((t["sender"], t["deleted"]), (na, True))
        self.assertIsNone(self.msg_in(h, reply["id"])["reply_to"]["text"])
        w3 = await WS.connect(self.server, cb)
        j = await w3.join(room)
        self.assertEqual(self.msg_in(j["history"], mid), t)
        self.assertIsNone(self.msg_in(j["history"], reply["id"])["reply_to"]["text"])
        r = ca.get("/api/search?q=" + quote(word))
        self.assertEqual([x["id"] for x in r.json()["messages"] if x["id"] == mid], [])
        # Nothing more happens to a tombstone.
        await wa.send({"type": "delete", "room": room, "id": mid})
        self.assertEqual((await wa.expect(is_error()))["code"], "not_found")
        self.assert_api_error(ca.delete("/api/rooms/%d/messages/%d" % (room, mid)), 404, "not_found")
        await wb.send({"type": "react", "room": room, "id": mid, "emoji": "😀", "on": True})
        self.assertEqual((await wb.expect(is_error()))["code"], "not_found")
        await wa.send({"type": "edit", "room": room, "id": mid, "text": "back"})
        self.assertEqual((await wa.expect(is_error()))["code"], "not_found")
        bad = await send(wb, room, "x", reply_to=mid)
        self.assertEqual(bad["code"], "not_found", bad)
        # The HTTP route leaves a tombstone too.
        ack = await send(wa, room, "by http")
        self.assertEqual(ca.delete("/api/rooms/%d/messages/%d" % (room, ack["id"])).status, 204)
        await wb.expect(of_type("message_deleted", id=ack["id"]))
        self.assertTrue(self.msg_in(self.history(cb, room), ack["id"])["deleted"])

    # -- direct messages -----------------------------------------------------------------
    @async_test()
    async def test_direct_messages(self):
        ca, na, _, _ = self.new_user("pa")
        cb, nb, _, _ = self.new_user("pb")
        cc, nc, _, _ = self.new_user("pc")
        self.befriend(ca, na, cb, nb)
        self.befriend(ca, na, cc, nc)
        wa = await WS.connect(self.server, ca, label="a")
        wb = await WS.connect(self.server, cb, label="b")
        wc = await WS.connect(self.server, cc, label="c")
        first = await dm(wa, nb, "hello @%s" % nb)
        m = await wb.expect(of_type("dm", id=first["id"]))
        self.assertEqual(m["mentions"], [nb])
        rep = await dm(wb, na, "reply", reply_to=first["id"])
        m = await wa.expect(of_type("dm", id=rep["id"]))
        self.assertEqual(m["reply_to"], {"id": first["id"], "sender": na, "text": "hello @%s" % nb})
        # A message of another conversation.
        third = await dm(wa, nc, "to c")
        bad = await dm(wb, na, "x", reply_to=third["id"])
        self.assertEqual(bad["code"], "not_found", bad)
        # Reactions: both sides, "to" naming the other one.
        await wb.send({"type": "react", "to": na, "id": first["id"], "emoji": "🎉", "on": True})
        fa = await wa.expect(of_type("reaction", id=first["id"], to=nb))
        fb = await wb.expect(of_type("reaction", id=first["id"], to=na))
        self.assertEqual((fa["to"], fb["to"], fa["user"]), (nb, na, nb))
        await wc.send({"type": "react", "to": na, "id": first["id"], "emoji": "🎉", "on": True})
        self.assertEqual((await wc.expect(is_error()))["code"], "not_found")
        # Edit and recall by the sender only.
        await wb.send({"type": "edit", "to": na, "id": first["id"], "text": "mine now"})
        self.assertEqual((await wb.expect(is_error()))["code"], "forbidden")
        await wa.send({"type": "edit", "to": nb, "id": first["id"], "text": "hello again"})
        fb = await wb.expect(of_type("message_edited", id=first["id"]))
        self.assertEqual((fb["to"], fb["text"]), (na, "hello again"))
        r = cb.get("/api/dm/%s/messages" % na)
        self.assertEqual(r.status, 200, r.describe())
        h = {x["id"]: x for x in r.json()["messages"]}
        self.assertEqual(h[first["id"]]["reactions"], [{"emoji": "🎉", "users": [nb]}])
        self.assertEqual(h[first["id"]]["edited_ts"], fb["edited_ts"])
        self.assertEqual(h[rep["id"]]["reply_to"]["text"], "hello again")
        await wa.send({"type": "delete", "to": nb, "id": first["id"]})
        fa = await wa.expect(of_type("message_deleted", id=first["id"]))
        fb = await wb.expect(of_type("message_deleted", id=first["id"]))
        self.assertEqual((fa["to"], fb["to"]), (nb, na))
        h = {x["id"]: x for x in cb.get("/api/dm/%s/messages" % na).json()["messages"]}
        self.assertEqual(h[first["id"]], {"id": first["id"], "to": nb, "sender": na,
                                          "ts": h[first["id"]]["ts"], "deleted": True})
        self.assertIsNone(h[rep["id"]]["reply_to"]["text"])
        # Frames naming nothing sensible.
        for frame in ({"type": "react", "id": 1, "emoji": "👍", "on": True},
                      {"type": "react", "room": 1, "to": na, "id": 1, "emoji": "👍", "on": True},
                      {"type": "edit", "to": na, "text": "x"},
                      {"type": "delete", "to": na, "id": -3}):
            await wa.send(frame)
            self.assertEqual((await wa.expect(is_error()))["code"], "bad_request", frame)

@unittest.skipUnless(os.environ.get("CHAT_TEST_MYSQL_URL"), "CHAT_TEST_MYSQL_URL is not set")
class ExtrasMysqlTest(ExtrasTest):
    MYSQL = True


class ExtrasClusterTest(test_cluster.ClusterCase):
    """Two instances over MariaDB and Redis (test_cluster.py's servers)."""

    @test_cluster.cluster_test()
    async def test_extras_across_instances(self):
        admin = self.admin_on(self.a)
        r = admin.post("/api/rooms", {"name": uniq("xroom-"), "topic": "t"})
        self.assertEqual(r.status, 201, r.describe())
        room = r.json()["room"]["id"]
        ca, na, _, _ = self.new_user("ca")
        cb0, nb, _, _ = self.new_user("cb")
        cb = self.on(self.b, cb0)
        wa = await WS.connect(self.a, ca, label="a@A")
        wb = await WS.connect(self.b, cb, label="b@B")
        for ws in (wa, wb):
            self.assertEqual((await ws.join(room))["type"], "joined")
        ack = await send(wa, room, "across @%s" % nb)
        m = await wb.expect(of_type("message", id=ack["id"]), timeout=20)
        self.assertEqual(m["mentions"], [nb])
        rep = await send(wb, room, "re", reply_to=ack["id"])
        await wa.expect(of_type("message", id=rep["id"]), timeout=20)
        # Both rooms have the messages cached now; change them through A.
        await wa.send({"type": "react", "room": room, "id": ack["id"], "emoji": "👍", "on": True})
        await wb.expect(of_type("reaction", id=ack["id"], user=na, on=True), timeout=20)
        await wa.send({"type": "edit", "room": room, "id": ack["id"], "text": "edited on A"})
        f = await wb.expect(of_type("message_edited", id=ack["id"]), timeout=20)
        self.assertEqual(f["text"], "edited on A")
        w2 = await WS.connect(self.b, cb, label="b2@B")
        j = await w2.join(room)
        jm = {x["id"]: x for x in j["history"]}
        self.assertEqual(jm[ack["id"]]["reactions"], [{"emoji": "👍", "users": [na]}])
        self.assertEqual((jm[ack["id"]]["text"], jm[ack["id"]]["edited_ts"]), ("edited on A", f["edited_ts"]))
        self.assertEqual(jm[rep["id"]]["reply_to"]["text"], "edited on A")
        # A reaction through B, then the recall through A.
        await wb.send({"type": "react", "room": room, "id": ack["id"], "emoji": "🎉", "on": True})
        await wa.expect(of_type("reaction", id=ack["id"], emoji="🎉", user=nb), timeout=20)
        await wa.send({"type": "delete", "room": room, "id": ack["id"]})
        await wb.expect(of_type("message_deleted", id=ack["id"]), timeout=20)
        w3 = await WS.connect(self.b, cb, label="b3@B")
        j = await w3.join(room)
        jm = {x["id"]: x for x in j["history"]}
        self.assertTrue(jm[ack["id"]]["deleted"], jm[ack["id"]])
        self.assertNotIn("text", jm[ack["id"]])
        self.assertIsNone(jm[rep["id"]]["reply_to"]["text"])
        # The store agrees, through either instance.
        h = self.history(cb, room)
        self.assertEqual({x["id"]: x for x in h}[ack["id"]], jm[ack["id"]])

        # A conversation across the instances: reaction, edit and recall reach
        # both users' sockets on the other instance.
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        self.assertEqual(cb.post("/api/friends", {"username": na}).status, 200)
        first = await dm(wa, nb, "dm across @%s" % nb)
        m = await wb.expect(of_type("dm", id=first["id"]), timeout=20)
        self.assertEqual(m["mentions"], [nb])
        await wb.send({"type": "react", "to": na, "id": first["id"], "emoji": "🎉", "on": True})
        # (Room and DM ids are separate sequences: frames are told apart by "to".)
        f = await wa.expect(of_type("reaction", id=first["id"], to=nb), timeout=20)
        self.assertEqual(f["user"], nb)
        await wa.send({"type": "edit", "to": nb, "id": first["id"], "text": "dm edited"})
        f = await wb.expect(of_type("message_edited", id=first["id"], to=na), timeout=20)
        self.assertEqual(f["text"], "dm edited")
        await wa.send({"type": "delete", "to": nb, "id": first["id"]})
        await wb.expect(of_type("message_deleted", id=first["id"], to=na), timeout=20)
        r = cb.get("/api/dm/%s/messages" % na)
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue({x["id"]: x for x in r.json()["messages"]}[first["id"]]["deleted"])



if __name__ == "__main__":
    unittest.main()
