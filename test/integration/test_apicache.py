"""GET /api/rooms answers are kept for a moment (src/actors/apicache.h):
repeated reads give the same answer, and nothing this instance does is
missed by the next read: a room made, a setting changed, a join over the
WebSocket, a logout."""
import time
import unittest

from chatlib import Client, ServerTestCase, WS, async_test


def names(resp):
    assert resp.status == 200, resp.describe()
    return {r["name"]: r for r in resp.json()["rooms"]}


class ApiCacheTest(ServerTestCase):
    ADMINS = [("cacheadmin", "admin-password-1", "cacheadmin@example.org")]

    @async_test(timeout=120)
    async def test_reads_see_every_change_at_once(self):
        admin = self.admin_client()
        c, name, _, _ = self.new_user("cu")
        first = names(c.get("/api/rooms"))
        self.assertEqual(names(c.get("/api/rooms")), first)  # the kept answer

        # A room made by someone else shows up in the next read.
        r = admin.post("/api/rooms", {"name": "缓存-新房间", "topic": "t"})
        self.assertEqual(r.status, 201, r.describe())
        rid = r.json()["room"]["id"]
        after = names(c.get("/api/rooms"))
        self.assertIn("缓存-新房间", after)
        self.assertFalse(after["缓存-新房间"]["member"])

        # Joining over the WebSocket makes the user a member at once.
        ws = await WS.connect(self.server, c)
        self.assertEqual((await ws.join(rid)).get("type"), "joined")
        self.assertTrue(names(c.get("/api/rooms"))["缓存-新房间"]["member"])

        # A setting changed is seen by the next read.
        r = c.patch("/api/rooms/%d/settings" % rid, {"muted": True})
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue(names(c.get("/api/rooms"))["缓存-新房间"]["muted"])
        await ws.close()

        # After a logout the old cookie reads nothing, though its answer
        # was kept a moment before.
        sid = c.sid
        self.assertEqual(c.get("/api/rooms").status, 200)
        r = c.post("/api/logout")
        self.assertEqual(r.status, 204, r.describe())
        stale = Client(self.server, sid=sid)
        self.assertEqual(stale.get("/api/rooms").status, 401)
        self.assert_healthy()

    def test_kept_answer_expires(self):
        # Online counts (and what other instances change) are at most a
        # second old: a read later than that is read anew and still right.
        c, _, _, _ = self.new_user("cx")
        a = names(c.get("/api/rooms"))
        time.sleep(1.2)
        self.assertEqual(names(c.get("/api/rooms")).keys(), a.keys())


if __name__ == "__main__":
    unittest.main()
