"""Community features against the real chatd: friends, direct messages,
search, moderation (user list, bans, message deletion), read markers and
e-mail notifications (through a small SMTP sink in this file)."""

import asyncio
import email
import email.policy
import socketserver
import sqlite3
import threading
import time
import unittest
import urllib.parse

from chatlib import (Server, ServerTestCase, WS, aeventually, async_test, match, now_ms,
                     uniq)

ADMIN = ("comm_admin", "admin-password-1", "comm-admin@example.org")

ASYNC_TIMEOUT = 60


def quote(text):
    return urllib.parse.quote(text, safe="")


def ids_of(messages):
    return [m["id"] for m in messages]


class CommunityBase(ServerTestCase):
    ADMINS = [ADMIN]

    def new_user(self, base="u", password=None, email=None, login=True):
        # A name in another script gets an ASCII e-mail address.
        if email is None and not base.isascii():
            email = "%s@example.org" % uniq("intl")
        return super().new_user(base, password, email, login)

    # -- friends ------------------------------------------------------------
    def friends(self, client):
        r = client.get("/api/friends")
        self.assertEqual(r.status, 200, r.describe())
        body = r.json()
        for key in ("friends", "incoming", "outgoing"):
            self.assertIsInstance(body.get(key), list, r.describe())
        return body

    def friend_names(self, client):
        return [f["username"] for f in self.friends(client)["friends"]]

    def befriend(self, ca, na, cb, nb):
        """a asks b, b accepts: they are friends."""
        r = ca.post("/api/friends", {"username": nb})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"username": nb, "state": "outgoing"}, r.describe())
        r = cb.post("/api/friends", {"username": na})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"username": na, "state": "friends"}, r.describe())

    def new_friends(self, base_a="fa", base_b="fb"):
        ca, na, pa, _ = self.new_user(base_a)
        cb, nb, pb, _ = self.new_user(base_b)
        self.befriend(ca, na, cb, nb)
        return (ca, na, pa), (cb, nb, pb)

    def login_again(self, name, password):
        c = self.client()
        r = c.login(name, password)
        self.assertEqual(r.status, 200, r.describe())
        return c

    # -- direct messages ----------------------------------------------------
    async def send_dm(self, ws, to, text, cid=None, timeout=10.0):
        """Sends a dm frame and returns its ack, or the error frame for it
        (an error without cid is returned too, so that the test can say so)."""
        cid = cid if cid is not None else uniq("d")
        await ws.send({"type": "dm", "to": to, "text": text, "cid": cid})
        return await ws.expect(
            lambda f: (f.get("type") == "ack" and f.get("cid") == cid)
            or (f.get("type") == "error" and f.get("cid", cid) == cid),
            timeout, desc="ack/error for dm cid %r" % cid)

    async def send_dms(self, ws, to, texts, timeout=20.0):
        """Sends several dm frames without waiting, then waits for every ack;
        returns the ids in sending order."""
        cids = [uniq("dp") for _ in texts]
        for cid, text in zip(cids, texts):
            await ws.send({"type": "dm", "to": to, "text": text, "cid": cid})
        ids = []
        for cid in cids:
            f = await ws.expect(
                lambda f, cid=cid: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                timeout, desc="ack for dm cid %r" % cid)
            self.assertEqual(f["type"], "ack", f)
            ids.append(f["id"])
        return ids

    async def send_room_msgs(self, ws, room, texts, timeout=20.0):
        """Sends several room messages without waiting, then waits for every
        ack; returns the ids in sending order."""
        cids = [uniq("rp") for _ in texts]
        for cid, text in zip(cids, texts):
            await ws.send({"type": "send", "room": room, "text": text, "cid": cid})
        ids = []
        for cid in cids:
            f = await ws.expect(
                lambda f, cid=cid: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                timeout, desc="ack for cid %r" % cid)
            self.assertEqual(f["type"], "ack", f)
            ids.append(f["id"])
        return ids

    def dm_history(self, client, peer, **params):
        q = "&".join("%s=%s" % (k, v) for k, v in params.items())
        r = client.get("/api/dm/%s/messages%s" % (quote(peer), ("?" + q) if q else ""))
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["messages"]

    def check_dm(self, frame, msg_id, sender, to, text):
        self.assertEqual(frame.get("type"), "dm", frame)
        self.assertEqual(frame.get("id"), msg_id, frame)
        self.assertEqual(frame.get("sender"), sender, frame)
        self.assertEqual(frame.get("to"), to, frame)
        self.assertEqual(frame.get("text"), text, frame)
        self.assertNotIn("room", frame, frame)
        self.assertIsInstance(frame.get("ts"), int, frame)
        self.assertLess(abs(frame["ts"] - now_ms()), 5 * 60 * 1000, "ts is not ms since the epoch: %r" % frame)

    # -- search -------------------------------------------------------------
    def search(self, client, text, room=None):
        path = "/api/search?q=" + quote(text)
        if room is not None:
            path += "&room=%s" % room
        r = client.get(path)
        self.assertEqual(r.status, 200, r.describe())
        msgs = r.json()["messages"]
        self.assertIsInstance(msgs, list, r.describe())
        return msgs

    # -- rooms --------------------------------------------------------------
    async def member(self, client, room, label):
        ws = await WS.connect(self.server, client, label=label)
        j = await ws.join(room)
        self.assertEqual(j["type"], "joined", j)
        return ws

    def admin_name(self):
        return self.ADMINS[0][0]


# ===========================================================================
# Friends

class FriendsTest(CommunityBase):
    def test_request_then_accept(self):
        ca, na, _, _ = self.new_user("fr")
        cb, nb, _, _ = self.new_user("fr")
        self.assertEqual(self.friends(ca), {"friends": [], "incoming": [], "outgoing": []})
        r = ca.post("/api/friends", {"username": nb})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"username": nb, "state": "outgoing"})
        self.assertEqual(self.friends(ca), {"friends": [], "incoming": [], "outgoing": [nb]})
        self.assertEqual(self.friends(cb), {"friends": [], "incoming": [na], "outgoing": []})
        # Asking again changes nothing.
        r = ca.post("/api/friends", {"username": nb})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"username": nb, "state": "outgoing"})
        self.assertEqual(self.friends(cb)["incoming"], [na])
        # b accepts by asking back.
        r = cb.post("/api/friends", {"username": na})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"username": na, "state": "friends"})
        fa, fb = self.friends(ca), self.friends(cb)
        self.assertEqual(fa, {"friends": [{"username": nb, "online": False}], "incoming": [], "outgoing": []})
        self.assertEqual(fb, {"friends": [{"username": na, "online": False}], "incoming": [], "outgoing": []})
        # Already friends: either side asking again answers "friends".
        for c, other in ((ca, nb), (cb, na)):
            r = c.post("/api/friends", {"username": other})
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.json(), {"username": other, "state": "friends"})
        self.assertEqual(self.friend_names(ca), [nb])

    def test_requests_from_both_sides_meet(self):
        # b asks a while a's own request to b is pending in the other
        # direction: the second request is an acceptance.
        ca, na, _, _ = self.new_user("fs")
        cb, nb, _, _ = self.new_user("fs")
        r = cb.post("/api/friends", {"username": na})
        self.assertEqual(r.json(), {"username": na, "state": "outgoing"}, r.describe())
        self.assertEqual(self.friends(ca)["incoming"], [nb])
        self.assertEqual(self.friends(cb)["outgoing"], [na])
        r = ca.post("/api/friends", {"username": nb})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"username": nb, "state": "friends"})
        self.assertEqual(self.friend_names(ca), [nb])
        self.assertEqual(self.friend_names(cb), [na])
        self.assertEqual(self.friends(ca)["incoming"], [])
        self.assertEqual(self.friends(cb)["outgoing"], [])

    def test_lists_are_sorted_by_username(self):
        ca, na, _, _ = self.new_user("fo")
        names = []
        for base in ("zz", "mm", "bb"):
            c, n, _, _ = self.new_user(base)
            names.append((c, n))
        for c, n in names:
            r = ca.post("/api/friends", {"username": n})
            self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.friends(ca)["outgoing"], sorted(n for _, n in names))
        for c, n in names:
            r = c.post("/api/friends", {"username": na})
            self.assertEqual(r.json()["state"], "friends", r.describe())
        self.assertEqual(self.friend_names(ca), sorted(n for _, n in names))
        # Incoming requests too.
        cx, nx, _, _ = self.new_user("fo")
        senders = []
        for base in ("yy", "cc", "kk"):
            c, n, _, _ = self.new_user(base)
            self.assertEqual(c.post("/api/friends", {"username": nx}).status, 200)
            senders.append(n)
        self.assertEqual(self.friends(cx)["incoming"], sorted(senders))

    def test_decline(self):
        ca, na, _, _ = self.new_user("fd")
        cb, nb, _, _ = self.new_user("fd")
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        r = cb.delete("/api/friends/%s" % quote(na))
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(self.friends(ca), {"friends": [], "incoming": [], "outgoing": []})
        self.assertEqual(self.friends(cb), {"friends": [], "incoming": [], "outgoing": []})
        # a may ask again; it is a fresh request, not a friendship.
        r = ca.post("/api/friends", {"username": nb})
        self.assertEqual(r.json(), {"username": nb, "state": "outgoing"}, r.describe())
        self.assertEqual(self.friends(cb)["incoming"], [na])

    def test_cancel(self):
        ca, na, _, _ = self.new_user("fc")
        cb, nb, _, _ = self.new_user("fc")
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        r = ca.delete("/api/friends/%s" % quote(nb))
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(self.friends(ca), {"friends": [], "incoming": [], "outgoing": []})
        self.assertEqual(self.friends(cb), {"friends": [], "incoming": [], "outgoing": []})
        # After a cancel, b asking a is a new request, not an acceptance.
        r = cb.post("/api/friends", {"username": na})
        self.assertEqual(r.json(), {"username": na, "state": "outgoing"}, r.describe())

    def test_remove_friend(self):
        (ca, na, _), (cb, nb, _) = self.new_friends("fm", "fm")
        r = cb.delete("/api/friends/%s" % quote(na))
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(self.friends(ca), {"friends": [], "incoming": [], "outgoing": []})
        self.assertEqual(self.friends(cb), {"friends": [], "incoming": [], "outgoing": []})
        # Nothing left to remove: still 204.
        r = cb.delete("/api/friends/%s" % quote(na))
        self.assertEqual(r.status, 204, r.describe())
        r = ca.delete("/api/friends/%s" % quote(nb))
        self.assertEqual(r.status, 204, r.describe())

    def test_chinese_username_friend(self):
        ca, na, _, _ = self.new_user("fz")
        cb, nb, _, _ = self.new_user("李雷")
        self.befriend(ca, na, cb, nb)
        self.assertEqual(self.friend_names(ca), [nb])
        r = ca.delete("/api/friends/%s" % quote(nb))
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(self.friend_names(cb), [])

    def test_errors(self):
        ca, na, _, _ = self.new_user("fe")
        self.assert_api_error(ca.post("/api/friends", {"username": "nobody_" + uniq("x")}), 404, "no_such_user")
        self.assert_api_error(ca.post("/api/friends", {"username": na}), 400, "bad_request")
        self.assert_api_error(ca.post("/api/friends", {}), 400, "bad_request")
        self.assert_api_error(ca.post("/api/friends", {"username": 7}), 400, "bad_request")
        self.assert_api_error(ca.post("/api/friends", raw_body="{not json"), 400, "bad_request")
        self.assert_api_error(ca.delete("/api/friends/%s" % ("nobody_" + uniq("x"))), 404, "no_such_user")
        anon = self.client()
        self.assert_api_error(anon.get("/api/friends"), 401, "unauthenticated")
        self.assert_api_error(anon.post("/api/friends", {"username": na}), 401, "unauthenticated")
        self.assert_api_error(anon.delete("/api/friends/%s" % na), 401, "unauthenticated")
        # A foreign Origin on a state-changing request.
        cb, nb, _, _ = self.new_user("fe")
        self.assert_api_error(ca.post("/api/friends", {"username": nb}, origin="http://evil.example"),
                              403, "bad_origin")
        self.assertEqual(self.friends(cb)["incoming"], [])
        # Nothing of this created a request.
        self.assertEqual(self.friends(ca), {"friends": [], "incoming": [], "outgoing": []})

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_friend_frames_live(self):
        ca, na, _, _ = self.new_user("fl")
        cb, nb, _, _ = self.new_user("fl")
        wa = await WS.connect(self.server, ca, label=na)
        wb1 = await WS.connect(self.server, cb, label=nb + "-1")
        wb2 = await WS.connect(self.server, cb, label=nb + "-2")
        # a asks b: both of b's connections see the request, a's own
        # connection sees it from its side.
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        for ws in (wb1, wb2):
            f = await ws.expect(match(type="friend", user=na))
            self.assertEqual(f, {"type": "friend", "user": na, "state": "incoming"})
        f = await wa.expect(match(type="friend"))
        self.assertEqual(f, {"type": "friend", "user": nb, "state": "outgoing"})
        # b accepts.
        self.assertEqual(cb.post("/api/friends", {"username": na}).status, 200)
        f = await wa.expect(match(type="friend", user=nb))
        self.assertEqual(f, {"type": "friend", "user": nb, "state": "friends"})
        for ws in (wb1, wb2):
            f = await ws.expect(match(type="friend"))
            self.assertEqual(f, {"type": "friend", "user": na, "state": "friends"})
        # a removes b.
        self.assertEqual(ca.delete("/api/friends/%s" % nb).status, 204)
        for ws in (wb1, wb2):
            f = await ws.expect(match(type="friend", user=na))
            self.assertEqual(f, {"type": "friend", "user": na, "state": "none"})
        f = await wa.expect(match(type="friend"))
        self.assertEqual(f, {"type": "friend", "user": nb, "state": "none"})

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_decline_and_cancel_frames(self):
        ca, na, _, _ = self.new_user("fk")
        cb, nb, _, _ = self.new_user("fk")
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        await wb.expect(match(type="friend", user=na, state="incoming"))
        await wa.expect(match(type="friend", state="outgoing"))
        # b declines: a hears "none" from b.
        self.assertEqual(cb.delete("/api/friends/%s" % na).status, 204)
        f = await wa.expect(match(type="friend", user=nb))
        self.assertEqual(f, {"type": "friend", "user": nb, "state": "none"})
        await wb.expect(match(type="friend", state="none"))
        # a asks again and cancels: b hears "incoming", then "none".
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        await wb.expect(match(type="friend", user=na, state="incoming"))
        self.assertEqual(ca.delete("/api/friends/%s" % nb).status, 204)
        f = await wb.expect(match(type="friend", user=na, state="none"))
        self.assertEqual(f, {"type": "friend", "user": na, "state": "none"})

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_online_flags_and_frames_of_friends(self):
        (ca, na, _), (cb, nb, _) = self.new_friends("fn", "fn")
        wa = await WS.connect(self.server, ca, label=na)
        await aeventually(lambda: self.friends(cb)["friends"] == [{"username": na, "online": True}],
                          timeout=5, desc="a online in b's friend list")
        self.assertEqual(self.friends(ca)["friends"], [{"username": nb, "online": False}])
        wb = await WS.connect(self.server, cb, label=nb)
        f = await wa.expect(match(type="online", user=nb))
        self.assertEqual(f, {"type": "online", "user": nb, "online": True})
        self.assertEqual(self.friends(ca)["friends"], [{"username": nb, "online": True}])
        await wb.close()
        f = await wa.expect(match(type="online", user=nb, online=False))
        self.assertEqual(f, {"type": "online", "user": nb, "online": False})
        await aeventually(lambda: self.friends(ca)["friends"] == [{"username": nb, "online": False}],
                          timeout=5, desc="b offline in a's friend list")


# ===========================================================================
# Direct messages

class DirectMessageTest(CommunityBase):
    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_not_friends(self):
        ca, na, _, _ = self.new_user("dn")
        cb, nb, _, _ = self.new_user("dn")
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        f = await self.send_dm(wa, nb, "hello stranger", cid="nf-1")
        self.assertEqual(f.get("type"), "error", f)
        self.assertEqual(f.get("code"), "not_friends", f)
        self.assertEqual(f.get("cid"), "nf-1", f)
        self.assertIsInstance(f.get("message"), str, f)
        # A pending request is not a friendship.
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        f = await self.send_dm(wa, nb, "still a stranger", cid="nf-2")
        self.assertEqual((f.get("type"), f.get("code"), f.get("cid")), ("error", "not_friends", "nf-2"), f)
        # An unknown user.
        f = await self.send_dm(wa, "nobody_" + uniq("x"), "anyone?", cid="nf-3")
        self.assertEqual((f.get("type"), f.get("code"), f.get("cid")), ("error", "not_friends", "nf-3"), f)
        # The connection stays open, b got nothing and nothing was stored.
        self.assertEqual((await wa.join(self.lobby_id(ca)))["type"], "joined")
        await wb.collect(0.3)
        self.assertEqual(wb.peek(match(type="dm")), [])
        self.assertEqual(self.dm_history(ca, nb), [])
        self.assertEqual(self.dm_history(cb, na), [])
        # After a removal DMs stop again.
        self.assertEqual(cb.post("/api/friends", {"username": na}).json()["state"], "friends")
        ack = await self.send_dm(wa, nb, "now friends")
        self.assertEqual(ack["type"], "ack", ack)
        self.assertEqual(ca.delete("/api/friends/%s" % nb).status, 204)
        f = await self.send_dm(wa, nb, "gone", cid="nf-4")
        self.assertEqual((f.get("type"), f.get("code"), f.get("cid")), ("error", "not_friends", "nf-4"), f)

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_dm_reaches_every_connection_of_both(self):
        (ca, na, _), (cb, nb, _) = self.new_friends("dm", "dm")
        wa1 = await WS.connect(self.server, ca, label=na + "-1")
        wa2 = await WS.connect(self.server, ca, label=na + "-2")
        wb1 = await WS.connect(self.server, cb, label=nb + "-1")
        wb2 = await WS.connect(self.server, cb, label=nb + "-2")
        ack = await self.send_dm(wa1, nb, "hi b", cid="to-b")
        self.assertEqual(ack.get("type"), "ack", ack)
        self.assertEqual(ack.get("cid"), "to-b", ack)
        self.assertIsInstance(ack.get("id"), int, ack)
        for ws in (wa1, wa2, wb1, wb2):
            f = await ws.expect(match(type="dm", id=ack["id"]))
            self.check_dm(f, ack["id"], na, nb, "hi b")
        # The other direction, from b's second tab.
        ack2 = await self.send_dm(wb2, na, "hi a", cid="to-a")
        self.assertEqual(ack2.get("type"), "ack", ack2)
        self.assertGreater(ack2["id"], ack["id"])
        for ws in (wa1, wa2, wb1, wb2):
            f = await ws.expect(match(type="dm", id=ack2["id"]))
            self.check_dm(f, ack2["id"], nb, na, "hi a")
        # Only the sending connection gets acks.
        for ws in (wa2, wb1, wb2):
            self.assertEqual(ws.peek(match(type="ack", cid="to-b")), [], ws.label)
        # A third user's connection gets nothing.
        cc, nc, _, _ = self.new_user("dm")
        wc = await WS.connect(self.server, cc, label=nc)
        ack3 = await self.send_dm(wa1, nb, "private")
        await wb1.expect(match(type="dm", id=ack3["id"]))
        await wc.collect(0.3)
        self.assertEqual(wc.peek(match(type="dm")), [])
        # Both see the conversation in the history, in order.
        for c, peer in ((ca, nb), (cb, na)):
            hist = self.dm_history(c, peer)
            self.assertEqual([(m["id"], m["sender"], m["to"], m["text"]) for m in hist],
                             [(ack["id"], na, nb, "hi b"), (ack2["id"], nb, na, "hi a"),
                              (ack3["id"], na, nb, "private")])
            for m in hist:
                self.assertNotIn("room", m)
                self.assertIsInstance(m["ts"], int)

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_repeated_cid_is_stored_and_delivered_once(self):
        (ca, na, _), (cb, nb, _) = self.new_friends("dc", "dc")
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        a1 = await self.send_dm(wa, nb, "only once", cid="same-cid")
        self.assertEqual(a1["type"], "ack", a1)
        a2 = await self.send_dm(wa, nb, "only once", cid="same-cid")
        self.assertEqual(a2["type"], "ack", a2)
        self.assertEqual(a2["id"], a1["id"])
        # Barrier: a later message arrives after any duplicate would have.
        a3 = await self.send_dm(wa, nb, "after")
        for ws in (wa, wb):
            await ws.expect(match(type="dm", id=a1["id"]))
            await ws.expect(match(type="dm", id=a3["id"]))
            self.assertEqual(ws.peek(match(type="dm", id=a1["id"])), [], "%s got the dm twice" % ws.label)
        self.assertEqual(ids_of(self.dm_history(cb, na)), [a1["id"], a3["id"]])
        # The same cid from the other user is a different message.
        b1 = await self.send_dm(wb, na, "mine", cid="same-cid")
        self.assertEqual(b1["type"], "ack", b1)
        self.assertNotEqual(b1["id"], a1["id"])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_text_rules(self):
        (ca, na, _), (cb, nb, _) = self.new_friends("dt", "dt")
        wa = await WS.connect(self.server, ca, label=na)
        for i, text in enumerate(["", "   ", "\n\t ", "\u3000"]):
            f = await self.send_dm(wa, nb, text, cid="e%d" % i)
            self.assertEqual((f.get("type"), f.get("code"), f.get("cid")), ("error", "empty_text", "e%d" % i), f)
        f = await self.send_dm(wa, nb, "长" * 4001, cid="long")
        self.assertEqual((f.get("type"), f.get("code"), f.get("cid")), ("error", "text_too_long", "long"), f)
        ok = await self.send_dm(wa, nb, "长" * 4000, cid="max")
        self.assertEqual(ok.get("type"), "ack", ok)
        bad = [
            {"type": "dm", "text": "no recipient", "cid": "b0"},
            {"type": "dm", "to": 5, "text": "to is a number", "cid": "b1"},
            {"type": "dm", "to": nb, "cid": "b2"},
            {"type": "dm", "to": nb, "text": 12, "cid": "b3"},
            {"type": "dm", "to": nb, "text": ["x"], "cid": "b4"},
        ]
        for obj in bad:
            await wa.send(obj)
            f = await wa.expect(lambda f: f.get("type") in ("error", "ack") and f.get("cid", obj["cid"]) == obj["cid"],
                                desc="error for %r" % obj)
            self.assertEqual((f.get("type"), f.get("code"), f.get("cid")), ("error", "bad_request", obj["cid"]),
                             "%r -> %r" % (obj, f))
        # Text is stored trimmed; only the 4000-character message exists.
        trimmed = await self.send_dm(wa, nb, "  \u3000 spaced out \n ")
        self.assertEqual(trimmed["type"], "ack", trimmed)
        hist = self.dm_history(cb, na)
        self.assertEqual([m["id"] for m in hist], [ok["id"], trimmed["id"]])
        self.assertEqual(hist[0]["text"], "长" * 4000)
        self.assertEqual(hist[1]["text"], "spaced out")

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_chinese_and_emoji_round_trip(self):
        (ca, na, _), (cb, nb, _) = self.new_friends("王小明", "dx")
        wa = await WS.connect(self.server, ca, label="a")
        wb = await WS.connect(self.server, cb, label=nb)
        texts = ["你好，世界！今天天气怎么样？", "😀👍🏽 家族 👨‍👩‍👧‍👦 𠮷野家", "日本語のテキスト：こんにちは"]
        for t in texts:
            for ensure_ascii in (False, True):
                cid = uniq("u")
                await wa.send({"type": "dm", "to": nb, "text": t, "cid": cid}, ensure_ascii=ensure_ascii)
                ack = await wa.expect(lambda f: f.get("cid") == cid and f.get("type") in ("ack", "error"))
                self.assertEqual(ack["type"], "ack", ack)
                f = await wb.expect(match(type="dm", id=ack["id"]))
                self.check_dm(f, ack["id"], na, nb, t)
        hist = self.dm_history(cb, na)
        self.assertEqual([m["text"] for m in hist], [t for t in texts for _ in (0, 1)])
        self.assertEqual({m["sender"] for m in hist}, {na})
        # The peer's name in the path, percent-encoded.
        self.assertEqual([m["text"] for m in self.dm_history(ca, nb)], [m["text"] for m in hist])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_history_paging(self):
        (ca, na, _), (cb, nb, _) = self.new_friends("dp", "dp")
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        ids_a = await self.send_dms(wa, nb, ["a->b %d" % i for i in range(80)])
        ids_b = await self.send_dms(wb, na, ["b->a %d" % i for i in range(40)])
        all_ids = sorted(ids_a + ids_b)
        self.assertEqual(len(set(all_ids)), 120)
        # Default: the newest 50, ascending.
        for c, peer in ((ca, nb), (cb, na)):
            hist = self.dm_history(c, peer)
            self.assertEqual(ids_of(hist), all_ids[-50:])
        # before= and limit=.
        self.assertEqual(ids_of(self.dm_history(ca, nb, before=all_ids[70], limit=30)), all_ids[40:70])
        self.assertEqual(ids_of(self.dm_history(ca, nb, before=all_ids[5])), all_ids[:5])
        self.assertEqual(ids_of(self.dm_history(ca, nb, before=all_ids[0])), [])
        self.assertEqual(ids_of(self.dm_history(ca, nb, limit=200)), all_ids)
        self.assertEqual(ids_of(self.dm_history(ca, nb, limit=1)), all_ids[-1:])
        # Walking back page by page: no gaps, no overlaps.
        seen, before = [], None
        for _ in range(10):
            params = {"limit": 50}
            if before is not None:
                params["before"] = before
            page = self.dm_history(cb, na, **params)
            if not page:
                break
            self.assertLessEqual(len(page), 50)
            self.assertEqual(ids_of(page), sorted(ids_of(page)))
            seen = ids_of(page) + seen
            before = page[0]["id"]
        self.assertEqual(seen, all_ids)
        by_id = {m["id"]: m for m in self.dm_history(ca, nb, limit=200)}
        self.assertEqual(by_id[ids_a[3]]["text"], "a->b 3")
        self.assertEqual((by_id[ids_a[3]]["sender"], by_id[ids_a[3]]["to"]), (na, nb))
        self.assertEqual(by_id[ids_b[7]]["text"], "b->a 7")
        self.assertEqual((by_id[ids_b[7]]["sender"], by_id[ids_b[7]]["to"]), (nb, na))
        # Bounds and bad parameters.
        base = "/api/dm/%s/messages" % nb
        for qs in ("?limit=0", "?limit=201", "?limit=-1", "?limit=abc", "?before=abc", "?before=", "?limit="):
            self.assert_api_error(ca.get(base + qs), 400, "bad_request")
        self.assert_api_error(ca.get("/api/dm/%s/messages" % ("nobody_" + uniq("x"))), 404, "no_such_user")
        self.assert_api_error(self.client().get(base), 401, "unauthenticated")
        # A third user does not see the conversation.
        cc, nc, _, _ = self.new_user("dp")
        self.assertEqual(self.dm_history(cc, na), [])
        self.assertEqual(self.dm_history(cc, nb), [])


class DirectMessageRestartTest(CommunityBase):
    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_dms_and_friendships_survive_restart(self):
        (ca, na, pa), (cb, nb, pb) = self.new_friends("dr", "dr")
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        texts = ["持久 %d 🙂" % i for i in range(10)]
        ids = await self.send_dms(wa, nb, texts[:6])
        ids += await self.send_dms(wb, na, texts[6:])
        before = self.dm_history(ca, nb)
        self.assertEqual([(m["id"], m["text"]) for m in before], list(zip(ids, texts)))
        self.assertEqual(self.server.stop(), 0, self.server.diag())
        self.server.start(port=self.server.port)
        ca = self.login_again(na, pa)
        cb = self.login_again(nb, pb)
        self.assertEqual(self.dm_history(ca, nb), before)
        self.assertEqual(self.dm_history(cb, na), before)
        self.assertEqual(self.friend_names(ca), [nb])
        wa = await WS.connect(self.server, ca, label=na + "-2")
        ack = await self.send_dm(wa, nb, "after restart")
        self.assertEqual(ack["type"], "ack", ack)
        self.assertGreater(ack["id"], ids[-1])
        self.assertEqual(ids_of(self.dm_history(cb, na))[-1], ack["id"])


# ===========================================================================
# Search

class SearchTest(CommunityBase):
    def setUp(self):
        super().setUp()
        self.admin = self.admin_client()

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_chinese_words_and_characters(self):
        room = self.create_room(self.admin)["id"]
        c, n, _, _ = self.new_user("sc")
        ws = await self.member(c, room, n)
        texts = ["我家在上海东边", "上海很大", "东海", "海上东边", "上海的海边"]
        m1, m2, m3, m4, m5 = await self.send_room_msgs(ws, room, texts)
        cases = [
            ("上海", [m5, m2, m1]),
            ("海东", [m1]),
            ("海", [m5, m4, m3, m2, m1]),
            ("东边", [m4, m1]),
            ("在上海东", [m1]),
            ("上海东边", [m1]),
            ("我家在上海东边", [m1]),
            ("海上东", [m4]),
            ("上东", [m4]),
            ("上海边", []),
            ("北京", []),
            ("京", []),
        ]
        for q, want in cases:
            with self.subTest(q=q):
                got = self.search(c, q, room=room)
                self.assertEqual(ids_of(got), want, "q=%r: %r" % (q, got))
        # Result objects are message objects.
        got = self.search(c, "海东", room=room)[0]
        self.assertEqual((got["id"], got["room"], got["sender"], got["text"]), (m1, room, n, texts[0]))
        self.assertIsInstance(got["ts"], int)
        self.assertNotIn("to", got)
        # Without room=, a user who never joined the room finds it too.
        cx, _, _, _ = self.new_user("sc")
        self.assertIn(m1, ids_of(self.search(cx, "我家在上海东边")))
        self.assertIn(m1, ids_of(self.search(cx, "上海")))

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_japanese_kana(self):
        room = self.create_room(self.admin)["id"]
        c, n, _, _ = self.new_user("sj")
        ws = await self.member(c, room, n)
        j1, j2, j3 = await self.send_room_msgs(ws, room, ["こんにちは、世界", "カタカナのテスト", "ひらがな"])
        for q, want in [("にちは", [j1]), ("こ", [j1]), ("カナ", [j2]), ("テスト", [j2]), ("の", [j2]),
                        ("がな", [j3]), ("な", [j3]), ("ナ", [j2]), ("世界", [j1]), ("ひらがなカ", [])]:
            with self.subTest(q=q):
                self.assertEqual(ids_of(self.search(c, q, room=room)), want)

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_english_case_insensitive_and_literal(self):
        room = self.create_room(self.admin)["id"]
        c, n, _, _ = self.new_user("se")
        ws = await self.member(c, room, n)
        e1, e2, e3, l1, l2, l3, l4 = await self.send_room_msgs(ws, room, [
            "Hello World from ChatD", "HELLO again", "say hello", "discount 100% off",
            "value 1000 items", "a_b here", "axb there"])
        for q, want in [("hello", [e3, e2, e1]), ("HeLLo", [e3, e2, e1]), ("WORLD", [e1]), ("lo wo", [e1]),
                        ("chatd", [e1]), ("o", [l1, e3, e2, e1]), ("100%", [l1]), ("100", [l2, l1]),
                        ("a_b", [l3]), ("x", [l4]), ("zebra", [])]:
            with self.subTest(q=q):
                self.assertEqual(ids_of(self.search(c, q, room=room)), want)

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_newest_first_at_most_50(self):
        room = self.create_room(self.admin)["id"]
        c, n, _, _ = self.new_user("sn")
        ws = await self.member(c, room, n)
        token = "qvx" + uniq("k")
        ids = await self.send_room_msgs(ws, room, ["%s number %d" % (token, i) for i in range(60)])
        want = list(reversed(ids))[:50]
        self.assertEqual(ids_of(self.search(c, token)), want)
        self.assertEqual(ids_of(self.search(c, token, room=room)), want)
        self.assertEqual(ids_of(self.search(c, token.upper(), room=room)), want)
        self.assertEqual(ids_of(self.search(c, "%s number 7" % token)), [ids[7]])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_room_filter(self):
        r1 = self.create_room(self.admin)["id"]
        r2 = self.create_room(self.admin)["id"]
        c, n, _, _ = self.new_user("sr")
        w1 = await self.member(c, r1, n)
        self.assertEqual((await w1.join(r2))["type"], "joined")
        token = "rfx" + uniq("k")
        a, b = await self.send_room_msgs(w1, r1, ["%s one" % token, "%s two" % token])
        (x,) = await self.send_room_msgs(w1, r2, ["%s three" % token])
        self.assertEqual(ids_of(self.search(c, token)), [x, b, a])
        self.assertEqual(ids_of(self.search(c, token, room=r1)), [b, a])
        self.assertEqual(ids_of(self.search(c, token, room=r2)), [x])
        for m in self.search(c, token, room=r1):
            self.assertEqual(m["room"], r1)
        lobby = self.lobby_id(c)
        self.assertEqual(self.search(c, token, room=lobby), [])
        for bad in ("abc", "", "1x"):
            self.assert_api_error(c.get("/api/search?q=%s&room=%s" % (token, bad)), 400, "bad_request")

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_dms_only_for_sender_and_receiver(self):
        (ca, na, _), (cb, nb, _) = self.new_friends("sd", "sd")
        cc, nc, _, _ = self.new_user("sd")
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        token = "dmx" + uniq("k")
        (d1,) = await self.send_dms(wa, nb, ["秘密 %s 一" % token])
        (d2,) = await self.send_dms(wb, na, ["秘密 %s 二" % token])
        for c in (ca, cb):
            got = self.search(c, token)
            self.assertEqual(ids_of(got), [d2, d1], got)
            self.assertEqual((got[0]["sender"], got[0]["to"]), (nb, na))
            self.assertEqual((got[1]["sender"], got[1]["to"]), (na, nb))
            self.assertNotIn("room", got[0])
            self.assertEqual(ids_of(self.search(c, "秘密 %s 一" % token)), [d1])
        # A third user finds neither, not even by the Chinese word.
        self.assertEqual(self.search(cc, token), [])
        self.assertEqual(self.search(cc, "秘密 %s" % token), [])
        # room= limits the search to that room: no DMs.
        self.assertEqual(self.search(ca, token, room=self.lobby_id(ca)), [])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_deleted_messages_are_not_found(self):
        room = self.create_room(self.admin)["id"]
        c, n, _, _ = self.new_user("sx")
        ws = await self.member(c, room, n)
        token = "dlx" + uniq("k")
        a, b = await self.send_room_msgs(ws, room, ["%s 删除我" % token, "%s 留下" % token])
        self.assertEqual(ids_of(self.search(c, token)), [b, a])
        r = c.delete("/api/rooms/%d/messages/%d" % (room, a))
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(ids_of(self.search(c, token)), [b])
        self.assertEqual(self.search(c, "删除我"), [])

    def test_bad_and_empty_queries(self):
        c, _, _, _ = self.new_user("sq")
        for path in ("/api/search", "/api/search?q=", "/api/search?q=%20", "/api/search?q=%20%09%0A%20",
                     "/api/search?room=1"):
            with self.subTest(path=path):
                self.assert_api_error(c.get(path), 400, "bad_request")
        self.assertEqual(self.search(c, "nothing-matches-" + uniq("k")), [])
        self.assert_api_error(self.client().get("/api/search?q=hello"), 401, "unauthenticated")


# ===========================================================================
# Moderation

class AdminUsersTest(CommunityBase):
    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_user_list(self):
        admin = self.admin_client()
        cu, nu, _, user = self.new_user("au")
        co, no, _, _ = self.new_user("ao")
        wo = await WS.connect(self.server, co, label=no)
        r = admin.get("/api/admin/users")
        self.assertEqual(r.status, 200, r.describe())
        users = r.json()["users"]
        names = [u["username"] for u in users]
        self.assertEqual(names, sorted(names, key=str.lower), "not sorted by username")
        by_name = {u["username"]: u for u in users}
        for name in (self.admin_name(), nu, no):
            self.assertIn(name, by_name)
            u = by_name[name]
            for key in ("id", "username", "email", "role", "banned", "online"):
                self.assertIn(key, u, u)
            self.assertIsInstance(u["id"], int)
            self.assertIs(u["banned"], False, u)
        self.assertEqual(by_name[nu]["id"], user["id"])
        self.assertEqual(by_name[nu]["email"], "%s@example.org" % nu.lower())
        self.assertEqual(by_name[nu]["role"], "user")
        self.assertEqual(by_name[self.admin_name()]["role"], "admin")
        self.assertEqual(by_name[self.admin_name()]["email"], ADMIN[2])
        self.assertIs(by_name[nu]["online"], False)
        self.assertIs(by_name[no]["online"], True)
        await wo.close()

        def offline():
            u = [x for x in admin.get("/api/admin/users").json()["users"] if x["username"] == no]
            return u and u[0]["online"] is False
        await aeventually(offline, timeout=5, desc="online false after the socket closed")

    def test_user_list_access(self):
        c, _, _, _ = self.new_user("ax")
        self.assert_api_error(c.get("/api/admin/users"), 403, "forbidden")
        self.assert_api_error(self.client().get("/api/admin/users"), 401, "unauthenticated")


class BanTest(CommunityBase):
    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_ban_closes_sockets_revokes_sessions_and_blocks_login(self):
        admin = self.admin_client()
        ct, nt, pt, _ = self.new_user("bt")
        ct2 = self.login_again(nt, pt)
        co, no, _, _ = self.new_user("bo")
        wo = await WS.connect(self.server, co, label=no)
        wt1 = await WS.connect(self.server, ct, label=nt + "-1")
        wt2 = await WS.connect(self.server, ct2, label=nt + "-2")
        self.assertEqual((await wt1.join(self.lobby_id(ct)))["type"], "joined")
        await wo.expect(match(type="online", user=nt, online=True))
        started = time.monotonic()
        r = admin.post("/api/admin/users/%s/ban" % nt)
        self.assertEqual(r.status, 204, r.describe())
        codes = await asyncio.gather(wt1.closed(timeout=3), wt2.closed(timeout=3))
        self.assertEqual(codes, [1008, 1008])
        self.assertLess(time.monotonic() - started, 3.0)
        await wo.expect(match(type="online", user=nt, online=False))
        # Every session is revoked.
        for c in (ct, ct2):
            self.assert_api_error(c.get("/api/me"), 401, "unauthenticated")
        # Login is refused with 403 banned.
        self.assert_api_error(self.client().login(nt, pt), 403, "banned")
        users = {u["username"]: u for u in admin.get("/api/admin/users").json()["users"]}
        self.assertIs(users[nt]["banned"], True)
        self.assertIs(users[nt]["online"], False)
        self.assertIs(users[no]["banned"], False)
        # Unban: login works again; the old sessions stay revoked.
        r = admin.post("/api/admin/users/%s/unban" % nt)
        self.assertEqual(r.status, 204, r.describe())
        c3 = self.login_again(nt, pt)
        self.assertEqual(c3.get("/api/me").json()["user"]["username"], nt)
        self.assert_api_error(ct.get("/api/me"), 401, "unauthenticated")
        users = {u["username"]: u for u in admin.get("/api/admin/users").json()["users"]}
        self.assertIs(users[nt]["banned"], False)
        w3 = await WS.connect(self.server, c3, label=nt + "-3")
        self.assertEqual((await w3.join(self.lobby_id(c3)))["type"], "joined")

    def test_ban_errors(self):
        admin = self.admin_client()
        c, n, _, _ = self.new_user("be")
        ghost = "nobody_" + uniq("x")
        self.assert_api_error(admin.post("/api/admin/users/%s/ban" % ghost), 404, "no_such_user")
        self.assert_api_error(admin.post("/api/admin/users/%s/unban" % ghost), 404, "no_such_user")
        self.assert_api_error(admin.post("/api/admin/users/%s/ban" % self.admin_name()), 400, "bad_request")
        self.assertEqual(admin.get("/api/me").status, 200, "the admin banned themself")
        # Non-admins and anonymous clients.
        c2, n2, p2, _ = self.new_user("be")
        self.assert_api_error(c.post("/api/admin/users/%s/ban" % n2), 403, "forbidden")
        self.assert_api_error(c.post("/api/admin/users/%s/unban" % n2), 403, "forbidden")
        self.assert_api_error(self.client().post("/api/admin/users/%s/ban" % n2), 401, "unauthenticated")
        self.assertEqual(self.client().login(n2, p2).status, 200, "a refused ban took effect")


class MessageDeleteTest(CommunityBase):
    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_delete_by_sender_and_admin(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        ca, na, _, _ = self.new_user("ma")
        cb, nb, _, _ = self.new_user("mb")
        cn, nn, _, _ = self.new_user("mn")
        wa = await self.member(ca, room, na)
        wb = await self.member(cb, room, nb)
        wn = await WS.connect(self.server, cn, label=nn)   # connected, not a member
        token = "mdx" + uniq("k")
        m1, m2, m3 = await self.send_room_msgs(wa, room, ["%s 第一" % token, "%s 第二" % token, "%s 第三" % token])
        for ws in (wa, wb):
            for mid in (m1, m2, m3):
                await ws.expect(match(type="message", id=mid))
        self.assertEqual(ids_of(self.search(ca, token, room=room)), [m3, m2, m1])
        # The sender deletes m1.
        r = ca.delete("/api/rooms/%d/messages/%d" % (room, m1))
        self.assertEqual(r.status, 204, r.describe())
        for ws in (wa, wb):
            f = await ws.expect(match(type="message_deleted", id=m1))
            self.assertEqual(f, {"type": "message_deleted", "room": room, "id": m1})
        # An admin (not in the room) deletes m2.
        r = admin.delete("/api/rooms/%d/messages/%d" % (room, m2))
        self.assertEqual(r.status, 204, r.describe())
        for ws in (wa, wb):
            f = await ws.expect(match(type="message_deleted", id=m2))
            self.assertEqual(f, {"type": "message_deleted", "room": room, "id": m2})
        # Another member may not delete a's message.
        self.assert_api_error(cb.delete("/api/rooms/%d/messages/%d" % (room, m3)), 403, "forbidden")
        # Gone from history, search and a fresh join; m3 stays.
        self.assertEqual(ids_of(self.history(cb, room)), [m3])
        self.assertEqual(ids_of(self.search(cb, token)), [m3])
        self.assertEqual(ids_of(self.search(cb, "第一")), [])
        cf, nf, _, _ = self.new_user("mf")
        wf = await WS.connect(self.server, cf, label=nf)
        j = await wf.join(room)
        self.assertEqual(ids_of(j["history"]), [m3])
        wf2 = await WS.connect(self.server, cf, label=nf + "-since")
        j = await wf2.join(room, since=0)
        self.assertEqual(ids_of(j["history"]), [m3])
        # No deletion frame for connections that are not in the room.
        await wn.collect(0.3)
        self.assertEqual(wn.peek(match(type="message_deleted")), [])
        # Members never got a deletion for m3.
        self.assertEqual(wb.peek(match(type="message_deleted", id=m3)), [])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_delete_errors(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        other = self.create_room(admin)["id"]
        ca, na, _, _ = self.new_user("me")
        wa = await self.member(ca, room, na)
        (m1,) = await self.send_room_msgs(wa, room, ["delete me later"])
        self.assert_api_error(ca.delete("/api/rooms/%d/messages/%d" % (room, m1 + 100000)), 404, "not_found")
        self.assert_api_error(ca.delete("/api/rooms/%d/messages/%d" % (other, m1)), 404, "not_found")
        self.assert_api_error(admin.delete("/api/rooms/%d/messages/%d" % (other, m1)), 404, "not_found")
        self.assert_api_error(ca.delete("/api/rooms/987654/messages/%d" % m1), 404, "no_such_room")
        self.assert_api_error(self.client().delete("/api/rooms/%d/messages/%d" % (room, m1)), 401, "unauthenticated")
        self.assertEqual(ids_of(self.history(ca, room)), [m1])
        r = ca.delete("/api/rooms/%d/messages/%d" % (room, m1))
        self.assertEqual(r.status, 204, r.describe())
        self.assert_api_error(ca.delete("/api/rooms/%d/messages/%d" % (room, m1)), 404, "not_found")
        self.assertEqual(self.history(ca, room), [])


class AuditLogTest(CommunityBase):
    def audit_rows(self):
        """The rows of the audit_log table in the server's SQLite file
        (read-only; the server keeps running)."""
        conn = sqlite3.connect("file:%s?mode=ro" % self.server.db, uri=True, timeout=5)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY rowid")]
        finally:
            conn.close()

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_admin_actions_are_logged(self):
        admin = self.admin_client()
        admin_id = admin.get("/api/me").json()["user"]["id"]
        c, n, _, _ = self.new_user("al")
        seen = len(self.audit_rows())

        def grew(what):
            nonlocal seen
            rows = self.audit_rows()
            self.assertGreater(len(rows), seen, "no audit_log row for %s" % what)
            for row in rows[seen:]:
                if "actor_id" in row:
                    self.assertEqual(row["actor_id"], admin_id, row)
            seen = len(rows)

        room = self.create_room(admin)["id"]
        grew("room create")
        self.assertEqual(admin.patch("/api/rooms/%d" % room, {"name": uniq("renamed-")}).status, 200)
        grew("room rename")
        ws = await self.member(c, room, n)
        (mid,) = await self.send_room_msgs(ws, room, ["log my deletion"])
        self.assertEqual(admin.delete("/api/rooms/%d/messages/%d" % (room, mid)).status, 204)
        grew("deleting another user's message")
        self.assertEqual(admin.post("/api/admin/users/%s/ban" % n).status, 204)
        grew("ban")
        self.assertEqual(admin.post("/api/admin/users/%s/unban" % n).status, 204)
        grew("unban")
        self.assertEqual(admin.delete("/api/rooms/%d" % room).status, 204)
        grew("room delete")


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
        # Never marked: not listed.
        self.assertNotIn(room, self.unread(ca)[0])
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
        # b's own view: after b1 only a1 is someone else's.
        self.assertNotIn(room, self.unread(cb)[0])
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

class Mail:
    def __init__(self, mail_from, rcpts, data, at):
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.data = data
        self.at = at            # time.monotonic() when the DATA was complete
        self.msg = email.message_from_bytes(data, policy=email.policy.default)

    @property
    def subject(self):
        return str(self.msg["Subject"] or "")

    @property
    def raw_subject(self):
        """The Subject header as sent (folded lines joined)."""
        head = self.data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"subject:"):
                return line[8:].strip()
        return None

    @property
    def body(self):
        return self.msg.get_content()

    def describe(self):
        return "mail from %r to %r at %.2f:\n%s" % (self.mail_from, self.rcpts, self.at,
                                                  self.data[:2000].decode("utf-8", "replace"))


def _smtp_address(arg):
    # "MAIL FROM:<a@b> SIZE=1" -> "a@b"
    _, _, rest = arg.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1:].split(">", 1)[0]
    return rest.split(" ", 1)[0]


class SmtpSink:
    """A small SMTP server on 127.0.0.1 that accepts and keeps every mail:
    220 greeting, EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP,
    QUIT."""

    def __init__(self):
        self.mails = []
        self.sessions = 0
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def handle(self):
                try:
                    sink._session(self.rfile, self.wfile)
                except OSError:
                    pass

        class TCPServer(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = TCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _session(self, rfile, wfile):
        def reply(text):
            wfile.write(text.encode("ascii") + b"\r\n")
            wfile.flush()

        with self.lock:
            self.sessions += 1
        reply("220 sink.test ESMTP ready")
        mail_from, rcpts = None, []
        while True:
            line = rfile.readline(65536)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                reply("250 sink.test")
            elif verb == "HELO":
                reply("250 sink.test")
            elif verb == "MAIL":
                mail_from, rcpts = _smtp_address(cmd), []
                reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(_smtp_address(cmd))
                reply("250 OK")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    l = rfile.readline(1 << 20)
                    if not l:
                        return
                    if l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    lines.append(l)
                mail = Mail(mail_from, rcpts, b"".join(lines), time.monotonic())
                with self.lock:
                    self.mails.append(mail)
                reply("250 OK queued")
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                reply("250 OK")
            elif verb == "NOOP":
                reply("250 OK")
            elif verb == "QUIT":
                reply("221 Bye")
                return
            else:
                reply("502 Command not implemented")

    def to(self, address):
        address = address.lower()
        with self.lock:
            return [m for m in self.mails if address in [r.lower() for r in m.rcpts]]

    async def wait_for(self, address, count, timeout):
        """Waits until address has at least count mails; returns its mails
        (fewer when the timeout passed)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.to(address)
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            await asyncio.sleep(0.05)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


GATHER_MS = 300
INTERVAL_MS = 3000
MAIL_FROM = "chat@example.org"


class NotificationTest(CommunityBase):
    sink = None

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.sink = SmtpSink()
        cls.server = Server(
            extra_args=["--smtp", "smtp://127.0.0.1:%d" % cls.sink.port, "--mail-from", MAIL_FROM],
            env={"CHAT_MAIL_GATHER_MS": str(GATHER_MS), "CHAT_MAIL_INTERVAL_MS": str(INTERVAL_MS)})
        try:
            for name, password, mail in cls.ADMINS:
                cls.server.add_user(name, password, mail, admin=True)
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            cls.sink.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.sink.close()

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
