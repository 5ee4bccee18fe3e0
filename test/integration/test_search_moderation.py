"""Search and moderation against the real chatd: message search, the
administrator's user list, bans, message deletion and the audit log."""

import asyncio
import sqlite3
import time
import unittest

from chatlib import WS, aeventually, async_test, match, uniq
from community import ADMIN, ASYNC_TIMEOUT, CommunityBase, ids_of


# ===========================================================================
# Search


def live(messages):
    """The messages that are not tombstones of deleted ones."""
    return [m for m in messages if not m.get("deleted")]

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
        # Gone from search; history and a fresh join keep tombstones
        # ({"id","room","seq","sender","ts","deleted":true}); m3 stays.
        self.assertEqual(ids_of(live(self.history(cb, room))), [m3])
        for t in self.history(cb, room)[:2]:
            self.assertEqual((t["deleted"], "text" in t), (True, False), t)
        self.assertEqual(ids_of(self.search(cb, token)), [m3])
        self.assertEqual(ids_of(self.search(cb, "第一")), [])
        cf, nf, _, _ = self.new_user("mf")
        wf = await WS.connect(self.server, cf, label=nf)
        j = await wf.join(room)
        self.assertEqual(ids_of(live(j["history"])), [m3])
        wf2 = await WS.connect(self.server, cf, label=nf + "-since")
        j = await wf2.join(room, since=0)
        self.assertEqual(ids_of(live(j["history"])), [m3])
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
        self.assertEqual(live(self.history(ca, room)), [])


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


if __name__ == "__main__":
    unittest.main()
