"""Friends and direct messages against the real chatd: friend requests,
lists and errors, DMs live and in history, and DMs kept across a restart."""

import unittest

from chatlib import WS, aeventually, async_test, match, uniq
from community import ASYNC_TIMEOUT, CommunityBase, ids_of, quote


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
        self.assertEqual(fa, {"friends": [{"username": nb, "display_name": nb, "avatar": None, "online": False}], "incoming": [], "outgoing": []})
        self.assertEqual(fb, {"friends": [{"username": na, "display_name": na, "avatar": None, "online": False}], "incoming": [], "outgoing": []})
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
        await aeventually(lambda: self.friends(cb)["friends"] == [{"username": na, "display_name": na, "avatar": None, "online": True}],
                          timeout=5, desc="a online in b's friend list")
        self.assertEqual(self.friends(ca)["friends"], [{"username": nb, "display_name": nb, "avatar": None, "online": False}])
        wb = await WS.connect(self.server, cb, label=nb)
        f = await wa.expect(match(type="online", user=nb))
        self.assertEqual(f, {"type": "online", "user": nb, "online": True})
        self.assertEqual(self.friends(ca)["friends"], [{"username": nb, "display_name": nb, "avatar": None, "online": True}])
        await wb.close()
        f = await wa.expect(match(type="online", user=nb, online=False))
        self.assertEqual(f, {"type": "online", "user": nb, "online": False})
        await aeventually(lambda: self.friends(ca)["friends"] == [{"username": nb, "display_name": nb, "avatar": None, "online": False}],
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


if __name__ == "__main__":
    unittest.main()
