"""Rooms: the lobby, admin room management, history paging, online counts,
against the real chatd."""

import unittest

from chatlib import (Client, ServerTestCase, WS, aeventually, async_test, match, uniq)

ADMIN = ("room_admin", "admin-password-1", "radmin@example.org")


class RoomAdminTest(ServerTestCase):
    ADMINS = [ADMIN]

    def test_lobby_exists(self):
        c, _, _, _ = self.new_user("lb")
        r = c.get("/api/rooms")
        self.assertEqual(r.status, 200, r.describe())
        rooms = r.json()["rooms"]
        self.assertIsInstance(rooms, list)
        lobby = [x for x in rooms if x["name"] == "lobby"]
        self.assertEqual(len(lobby), 1, rooms)
        for key in ("id", "name", "topic", "online"):
            self.assertIn(key, lobby[0])
        self.assertIsInstance(lobby[0]["id"], int)
        self.assertIsInstance(lobby[0]["online"], int)

    def test_rooms_require_session(self):
        anon = self.client()
        self.assert_api_error(anon.get("/api/rooms"), 401, "unauthenticated")
        self.assert_api_error(anon.post("/api/rooms", {"name": uniq("r"), "topic": ""}), 401, "unauthenticated")
        lobby = self.lobby_id(self.admin_client())
        self.assert_api_error(anon.get("/api/rooms/%d/messages" % lobby), 401, "unauthenticated")
        self.assert_api_error(anon.patch("/api/rooms/%d" % lobby, {"topic": "x"}), 401, "unauthenticated")
        self.assert_api_error(anon.delete("/api/rooms/%d" % lobby), 401, "unauthenticated")
        self.assert_api_error(anon.get("/api/users/online"), 401, "unauthenticated")

    def test_admin_creates_room(self):
        admin = self.admin_client()
        name = uniq("Room ")
        r = admin.post("/api/rooms", {"name": name, "topic": "talk about 天气"})
        self.assertEqual(r.status, 201, r.describe())
        room = r.json()["room"]
        self.assertIsInstance(room["id"], int)
        self.assertEqual(room["name"], name)
        self.assertEqual(room["topic"], "talk about 天气")
        # Everyone sees it in the list, with nobody online.
        c, _, _, _ = self.new_user("rv")
        listed = self.room_by_name(c, name)
        self.assertIsNotNone(listed)
        self.assertEqual(listed["id"], room["id"])
        self.assertEqual(listed["topic"], "talk about 天气")
        self.assertEqual(listed["online"], 0)
        # A new room has an empty history.
        self.assertEqual(self.history(c, room["id"]), [])

    def test_create_chinese_room_name(self):
        admin = self.admin_client()
        name = "聊天室" + uniq("")
        room = self.create_room(admin, name, "中文")
        self.assertEqual(room["name"], name)
        self.assertEqual(self.room_by_name(admin, name)["id"], room["id"])

    def test_invalid_room_name(self):
        admin = self.admin_client()
        r = admin.post("/api/rooms", {"name": "", "topic": "x"})
        self.assert_api_error(r, 400, "invalid_name")

    def test_room_exists(self):
        admin = self.admin_client()
        name = uniq("dup-")
        self.create_room(admin, name)
        r = admin.post("/api/rooms", {"name": name, "topic": "again"})
        self.assert_api_error(r, 409, "room_exists")
        r = admin.post("/api/rooms", {"name": "lobby", "topic": "again"})
        self.assert_api_error(r, 409, "room_exists")

    def test_rename_and_topic(self):
        admin = self.admin_client()
        room = self.create_room(admin, uniq("old-"), "old topic")
        new_name = uniq("new-")
        r = admin.patch("/api/rooms/%d" % room["id"], {"name": new_name})
        self.assertEqual(r.status, 200, r.describe())
        got = r.json()["room"]
        self.assertEqual(got["id"], room["id"])
        self.assertEqual(got["name"], new_name)
        self.assertEqual(got["topic"], "old topic")
        r = admin.patch("/api/rooms/%d" % room["id"], {"topic": "new topic"})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["room"]["id"], room["id"])
        self.assertEqual(r.json()["room"]["name"], new_name)
        self.assertEqual(r.json()["room"]["topic"], "new topic")
        listed = self.room_by_name(admin, new_name)
        self.assertIsNotNone(listed)
        self.assertEqual(listed["topic"], "new topic")
        self.assertIsNone(self.room_by_name(admin, room["name"]))

    def test_missing_room_404(self):
        admin = self.admin_client()
        self.assert_api_error(admin.patch("/api/rooms/987654", {"name": uniq("x-")}), 404, "no_such_room")
        self.assert_api_error(admin.delete("/api/rooms/987654"), 404, "no_such_room")
        self.assert_api_error(admin.get("/api/rooms/987654/messages"), 404, "no_such_room")

    def test_non_admin_forbidden(self):
        admin = self.admin_client()
        room = self.create_room(admin)
        c, _, _, _ = self.new_user("na")
        # Anyone creates private rooms (rooms v2); a public one is for admins.
        self.assert_api_error(c.post("/api/rooms", {"name": uniq("x-"), "topic": "",
                                                    "visibility": "public"}), 403, "forbidden")
        self.assert_api_error(c.patch("/api/rooms/%d" % room["id"], {"name": uniq("y-")}), 403, "forbidden")
        self.assert_api_error(c.delete("/api/rooms/%d" % room["id"]), 403, "forbidden")
        # Nothing changed.
        listed = self.room_by_name(c, room["name"])
        self.assertIsNotNone(listed)
        self.assertEqual(listed["id"], room["id"])

    @async_test()
    async def test_delete_room_notifies_members(self):
        admin = self.admin_client()
        room = self.create_room(admin)
        c1, _, _, _ = self.new_user("dm")
        c2, _, _, _ = self.new_user("dm")
        ws1 = await WS.connect(self.server, c1, label="member1")
        ws2 = await WS.connect(self.server, c2, label="member2")
        self.assertEqual((await ws1.join(room["id"]))["type"], "joined")
        self.assertEqual((await ws2.join(room["id"]))["type"], "joined")
        ack = await ws1.send_msg(room["id"], "soon gone")
        self.assertEqual(ack["type"], "ack")
        r = admin.delete("/api/rooms/%d" % room["id"])
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(r.body, b"")
        for ws in (ws1, ws2):
            f = await ws.expect_match(type="room_deleted")
            self.assertEqual(f, {"type": "room_deleted", "room": room["id"]})
        self.assertIsNone(self.room_by_name(c1, room["name"]))
        self.assert_api_error(c1.get("/api/rooms/%d/messages" % room["id"]), 404, "no_such_room")
        self.assert_api_error(admin.delete("/api/rooms/%d" % room["id"]), 404, "no_such_room")
        # The connections stay usable.
        lobby = self.lobby_id(c1)
        self.assertEqual((await ws1.join(lobby))["type"], "joined")


class HistoryTest(ServerTestCase):
    ADMINS = [ADMIN]
    N = 120

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One room with N messages sent over a WebSocket, shared (read-only)
        # by the tests of this class.
        try:
            cls._fill()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _fill(cls):
        from chatlib import run_async
        admin = Client(cls.server)
        r = admin.login(ADMIN[0], ADMIN[1])
        assert r.status == 200, r.describe()
        r = admin.post("/api/rooms", {"name": uniq("hist-"), "topic": "paging"})
        assert r.status == 201, r.describe()
        cls.room = r.json()["room"]["id"]
        cls.admin = admin

        async def fill():
            ws = await WS.connect(cls.server, admin, label="filler")
            j = await ws.join(cls.room)
            assert j["type"] == "joined", j
            sent = []
            for i in range(cls.N):
                text = "message %03d 第%d条" % (i, i)
                ack = await ws.send_msg(cls.room, text)
                assert ack["type"] == "ack", ack
                sent.append((ack["id"], text))
            return sent
        cls.sent = run_async(fill(), timeout=240)

    def test_ids_increase(self):
        ids = [i for i, _ in self.sent]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), len(ids))

    def test_default_page_is_newest_50_ascending(self):
        msgs = self.history(self.admin, self.room)
        self.assertEqual(len(msgs), 50)
        self.assertEqual([(m["id"], m["text"]) for m in msgs], self.sent[-50:])
        for m in msgs:
            self.assertEqual(m["room"], self.room)
            self.assertEqual(m["sender"], ADMIN[0])
            self.assertIsInstance(m["ts"], int)
        ts = [m["ts"] for m in msgs]
        self.assertEqual(ts, sorted(ts))

    def test_paging_back_to_the_first(self):
        c, _, _, _ = self.new_user("pg")   # any user may read a public room's history
        pages = []
        before = None
        for _ in range(10):
            params = {"before": before} if before is not None else {}
            page = self.history(c, self.room, **params)
            if not page:
                break
            ids = [m["id"] for m in page]
            self.assertEqual(ids, sorted(ids), "page not ascending")
            if before is not None:
                self.assertTrue(all(i < before for i in ids))
            pages.append(page)
            before = page[0]["id"]
        self.assertEqual([len(p) for p in pages], [50, 50, 20])
        everything = [m for p in reversed(pages) for m in p]
        self.assertEqual([(m["id"], m["text"]) for m in everything], self.sent)
        # Nothing before the first message.
        self.assertEqual(self.history(c, self.room, before=self.sent[0][0]), [])

    def test_limit(self):
        self.assertEqual([m["id"] for m in self.history(self.admin, self.room, limit=1)], [self.sent[-1][0]])
        self.assertEqual([(m["id"], m["text"]) for m in self.history(self.admin, self.room, limit=200)],
                         self.sent)
        self.assertEqual([m["id"] for m in self.history(self.admin, self.room, limit=7, before=self.sent[10][0])],
                         [i for i, _ in self.sent[3:10]])
        page = self.history(self.admin, self.room, limit=120)
        self.assertEqual(len(page), 120)

    def test_limit_bounds(self):
        for bad in ["0", "201", "-1", "abc"]:
            with self.subTest(limit=bad):
                r = self.admin.get("/api/rooms/%d/messages?limit=%s" % (self.room, bad))
                self.assert_api_error(r, 400, "bad_request")
        r = self.admin.get("/api/rooms/%d/messages?before=abc" % self.room)
        self.assert_api_error(r, 400, "bad_request")

    def test_missing_room(self):
        self.assert_api_error(self.admin.get("/api/rooms/999999/messages"), 404, "no_such_room")


class OnlineTest(ServerTestCase):
    ADMINS = [ADMIN]

    def online_count(self, client, room_id):
        r = client.get("/api/rooms")
        self.assertEqual(r.status, 200, r.describe())
        for room in r.json()["rooms"]:
            if room["id"] == room_id:
                return room["online"]
        self.fail("room %d not listed" % room_id)

    @async_test()
    async def test_room_online_counts(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        c1, n1, _, _ = self.new_user("oc")
        c2, n2, _, _ = self.new_user("oc")
        self.assertEqual(self.online_count(c1, room), 0)
        ws1 = await WS.connect(self.server, c1, label="u1")
        ws2 = await WS.connect(self.server, c2, label="u2")
        # Connected but not joined: not in the room.
        self.assertEqual(self.online_count(c1, room), 0)
        self.assertEqual((await ws1.join(room))["type"], "joined")
        await aeventually(lambda: self.online_count(c1, room) == 1, desc="online == 1")
        self.assertEqual((await ws2.join(room))["type"], "joined")
        await aeventually(lambda: self.online_count(c1, room) == 2, desc="online == 2")
        await ws1.send({"type": "leave", "room": room})
        await ws2.expect(match(type="presence", room=room, user=n1, event="leave"))
        await aeventually(lambda: self.online_count(c1, room) == 1, desc="online == 1 after leave")
        await ws2.close()
        await aeventually(lambda: self.online_count(c1, room) == 0, desc="online == 0 after disconnect")

    @async_test()
    async def test_users_online(self):
        c1, n1, _, u1 = self.new_user("uo")
        c2, n2, _, u2 = self.new_user("uo")

        def online_names():
            r = c1.get("/api/users/online")
            self.assertEqual(r.status, 200, r.describe())
            users = r.json()["users"]
            for u in users:
                self.assertIn("id", u)
                self.assertIn("username", u)
            return {u["username"]: u["id"] for u in users}

        self.assertNotIn(n1, online_names())
        self.assertNotIn(n2, online_names())
        ws1 = await WS.connect(self.server, c1, label="u1")
        await aeventually(lambda: n1 in online_names(), desc="%s online" % n1)
        self.assertEqual(online_names()[n1], u1["id"])
        self.assertNotIn(n2, online_names())
        ws2 = await WS.connect(self.server, c2, label="u2")
        await aeventually(lambda: n2 in online_names(), desc="%s online" % n2)
        await ws2.close()
        await aeventually(lambda: n2 not in online_names(), desc="%s offline" % n2)
        self.assertIn(n1, online_names())
        await ws1.close()
        await aeventually(lambda: n1 not in online_names(), desc="%s offline" % n1)


if __name__ == "__main__":
    unittest.main()
