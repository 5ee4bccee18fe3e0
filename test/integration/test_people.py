"""People: display names, the avatar field, optional e-mail, PATCH /api/me
and the name search GET /api/users?q=, against the real chatd.

A user object carries display_name (the username until the user chooses
one) and avatar (null: there are no files yet).  GET /api/users finds people
whose username or display name starts with q (ASCII case aside; Chinese
prefixes work), at most 20, banned users left out, with whether each is
online now.

The tests run against SQLite, and, when CHAT_TEST_MYSQL_URL names a MariaDB
or MySQL server (scripts/test.sh starts one), again against a fresh database
there."""

import os
import unittest
from urllib.parse import quote

from chatlib import WS, StoreTestCase, async_test, eventually, uniq

ADMIN = ("people_admin", "admin-password-1", "people-admin@example.org")


class PeopleTest(StoreTestCase):
    ADMINS = [ADMIN]
    MYSQL = False   # the MySQL variant below sets it

    # -- helpers --------------------------------------------------------------
    def register(self, name, email=None, login=True):
        """Registers name (without e-mail when email is None); returns
        (client, user)."""
        c = self.client()
        body = {"username": name, "password": "pw-%s-secret" % name}
        if email is not None:
            body["email"] = email
        r = c.post("/api/register", body)
        self.assertEqual(r.status, 201, r.describe())
        user = r.json()["user"]
        if login:
            r = c.login(name, body["password"])
            self.assertEqual(r.status, 200, r.describe())
        return c, user

    def set_name(self, c, name):
        r = c.patch("/api/me", {"display_name": name})
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["user"]

    def search(self, c, q):
        r = c.get("/api/users?q=" + quote(q))
        self.assertEqual(r.status, 200, r.describe())
        users = r.json()["users"]
        for u in users:
            self.assertEqual(set(u), {"id", "username", "display_name", "avatar", "online"}, u)
        return users

    # -- registration and user objects ----------------------------------------
    def test_register_without_email(self):
        name = uniq("noemail")
        c, user = self.register(name)
        self.assertEqual(user["username"], name)
        self.assertEqual(user["email"], "")
        self.assertEqual(user["display_name"], name)
        self.assertIsNone(user["avatar"])
        me = c.get("/api/me").json()["user"]
        self.assertEqual(me["email"], "")
        # null and "" are no address too; a bad one is still refused.
        for email in (None, ""):
            r = self.client().post("/api/register", {"username": uniq("ne"), "password": "pw-long-enough",
                                                     "email": email})
            self.assertEqual(r.status, 201, r.describe())
        r = self.client().post("/api/register", {"username": uniq("ne"), "password": "pw-long-enough",
                                                 "email": "not-an-address"})
        self.assert_api_error(r, 400, "invalid_email")

    def test_user_objects_carry_display_name_and_avatar(self):
        name = uniq("obj")
        c, user = self.register(name, email=name + "@example.org")
        for key in ("display_name", "avatar"):
            self.assertIn(key, user)
        self.set_name(c, "Objet Prénom")
        me = c.get("/api/me").json()["user"]
        self.assertEqual(me["display_name"], "Objet Prénom")
        self.assertIsNone(me["avatar"])
        # The admin list.
        admin = self.admin_client()
        r = admin.get("/api/admin/users")
        self.assertEqual(r.status, 200, r.describe())
        row = [u for u in r.json()["users"] if u["username"] == name][0]
        self.assertEqual(row["display_name"], "Objet Prénom")
        self.assertIsNone(row["avatar"])
        # A friend list.
        fc, fuser = self.register(uniq("fr"))
        self.assertEqual(c.post("/api/friends", {"username": fuser["username"]}).status, 200)
        self.assertEqual(fc.post("/api/friends", {"username": name}).status, 200)
        friends = fc.get("/api/friends").json()["friends"]
        self.assertEqual(len(friends), 1, friends)
        self.assertEqual(friends[0]["username"], name)
        self.assertEqual(friends[0]["display_name"], "Objet Prénom")
        self.assertIsNone(friends[0]["avatar"])
        # Messages keep sender = username.
        lobby = self.lobby_id(c)

        async def send():
            ws = await WS.connect(self.server, c)
            await ws.join(lobby)
            ack = await ws.send_msg(lobby, "hello from " + name)
            m = await ws.expect(lambda f: f.get("type") == "message" and f.get("id") == ack.get("id"),
                                desc="the message")
            await ws.close()
            return m
        m = self.arun(send())
        self.assertEqual(m["sender"], name)
        self.assertNotIn("display_name", m)

    # -- PATCH /api/me ----------------------------------------------------------
    def test_patch_display_names(self):
        name = uniq("pn")
        c, _ = self.register(name, email=name + "@example.org")
        self.assertEqual(self.set_name(c, "张三丰")["display_name"], "张三丰")
        # Trimmed; spaces inside kept; NFC (e + combining acute is é).
        self.assertEqual(self.set_name(c, "  Mary Ann  ")["display_name"], "Mary Ann")
        self.assertEqual(self.set_name(c, "Jose\u0301")["display_name"], "Jos\u00e9")
        self.assertEqual(self.set_name(c, "😀 smile")["display_name"], "😀 smile")
        self.assertEqual(self.set_name(c, "x" * 32)["display_name"], "x" * 32)
        self.assertEqual(self.set_name(c, "长" * 32)["display_name"], "长" * 32)
        # Refused: empty, blank, 33 characters, control characters, line
        # breaks, bidi overrides, not a string.
        for bad in ("", "   ", "\u3000", "x" * 33, "长" * 33, "a\tb", "a\nb",
                    "line\r\nbreak", "a\u2028b", "\u202eevil", "\u0007bell", 5, ["x"], {"a": 1}):
            r = c.patch("/api/me", {"display_name": bad})
            self.assert_api_error(r, 400, "invalid_display_name")
        # U+0000 is refused with every JSON string (bad_request).
        self.assert_api_error(c.patch("/api/me", {"display_name": "a\u0000b"}), 400, "bad_request")
        # The refused ones changed nothing.
        self.assertEqual(c.get("/api/me").json()["user"]["display_name"], "长" * 32)
        # null: back to the username.
        r = c.patch("/api/me", {"display_name": None})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["user"]["display_name"], name)
        self.assertEqual(c.get("/api/me").json()["user"]["display_name"], name)

    def test_patch_avatar_email_and_errors(self):
        name = uniq("pe")
        c, _ = self.register(name)
        r = c.patch("/api/me", {"avatar": None})
        self.assertEqual(r.status, 200, r.describe())
        self.assertIsNone(r.json()["user"]["avatar"])
        for bad in (7, "/files/7/me.png"):
            self.assert_api_error(c.patch("/api/me", {"avatar": bad}), 400, "bad_request")
        r = c.patch("/api/me", {"email": name + "@example.org"})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["user"]["email"], name + "@example.org")
        self.assertEqual(c.get("/api/me").json()["user"]["email"], name + "@example.org")
        self.assert_api_error(c.patch("/api/me", {"email": "nope"}), 400, "invalid_email")
        self.assert_api_error(c.patch("/api/me", {"email": 3}), 400, "invalid_email")
        r = c.patch("/api/me", {"email": ""})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(c.get("/api/me").json()["user"]["email"], "")
        # Several at once; a bad one stores nothing.
        r = c.patch("/api/me", {"display_name": "Both", "email": name + "@example.org",
                                "email_notify": False})
        self.assertEqual(r.status, 200, r.describe())
        u = r.json()["user"]
        self.assertEqual((u["display_name"], u["email"], u["email_notify"]),
                         ("Both", name + "@example.org", False))
        r = c.patch("/api/me", {"display_name": "Never", "email": "bad"})
        self.assert_api_error(r, 400, "invalid_email")
        self.assertEqual(c.get("/api/me").json()["user"]["display_name"], "Both")
        # Nothing to change; no session.
        self.assert_api_error(c.patch("/api/me", {}), 400, "bad_request")
        self.assert_api_error(self.client().patch("/api/me", {"display_name": "x"}), 401,
                              "unauthenticated")

    # -- GET /api/users ---------------------------------------------------------
    def test_search_chinese_and_ascii(self):
        tag = uniq("Srch")      # unique ASCII prefix for this test
        c, _ = self.register(tag + "a")
        c2, u2 = self.register(tag.lower() + "b")
        self.set_name(c2, "张三" + tag)
        c3, u3 = self.register(uniq("zz"))
        self.set_name(c3, tag.upper() + " Display")
        c4, u4 = self.register("张" + uniq("q"))
        # ASCII prefix, any case: usernames and display names.
        for q in (tag, tag.lower(), tag.upper()):
            names = sorted(u["username"] for u in self.search(c, q))
            self.assertEqual(names, sorted([tag + "a", tag.lower() + "b", u3["username"]]), q)
        found = {u["username"]: u for u in self.search(c, tag.lower() + "B")}
        self.assertEqual(list(found), [tag.lower() + "b"])
        self.assertEqual(found[tag.lower() + "b"]["display_name"], "张三" + tag)
        # A prefix, not a substring.
        self.assertEqual(self.search(c, tag[1:]), [])
        # Chinese: 张 finds the display name 张三... and the username 张q...
        names = {u["username"] for u in self.search(c, "张")}
        self.assertIn(u2["username"], names)
        self.assertIn(u4["username"], names)
        names = {u["username"] for u in self.search(c, "张三")}
        self.assertIn(u2["username"], names)
        self.assertNotIn(u4["username"], names)
        # % and _ are plain characters.
        self.assertEqual(self.search(c, "%"), [])
        self.assertEqual(self.search(c, tag[:2] + "_"), [])
        # Errors.
        self.assert_api_error(self.client().get("/api/users?q=" + tag), 401, "unauthenticated")
        self.assert_api_error(c.get("/api/users"), 400, "bad_request")
        self.assert_api_error(c.get("/api/users?q=%20%20"), 400, "bad_request")
        self.assertEqual(self.search(c, "q" * 300), [])

    def test_search_limit_and_banned(self):
        tag = uniq("lim")
        users = []
        for i in range(23):
            users.append(self.register("%sx%02d" % (tag, i), login=False)[1])
        c, _ = self.register(uniq("viewer"))
        found = self.search(c, tag)
        self.assertEqual(len(found), 20)
        # In username order.
        self.assertEqual([u["username"] for u in found], ["%sx%02d" % (tag, i) for i in range(20)])
        # A banned user is left out.
        admin = self.admin_client()
        victim = "%sx%02d" % (tag, 5)
        r = admin.post("/api/admin/users/%s/ban" % victim)
        self.assertEqual(r.status, 204, r.describe())
        found = [u["username"] for u in self.search(c, tag)]
        self.assertEqual(len(found), 20)
        self.assertNotIn(victim, found)
        self.assertEqual(self.search(c, victim), [])
        r = admin.post("/api/admin/users/%s/unban" % victim)
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual([u["username"] for u in self.search(c, victim)], [victim])

    @async_test()
    async def test_search_online_flag(self):
        tag = uniq("onl")
        c, me = self.register(tag + "me")
        cb, b = self.register(tag + "other")

        def flags():
            return {u["username"]: u["online"] for u in self.search(c, tag)}
        self.assertEqual(flags(), {tag + "me": False, tag + "other": False})
        ws = await WS.connect(self.server, cb)
        try:
            eventually(lambda: flags()[tag + "other"] is True, timeout=20,
                       desc="the other user online in the search")
        finally:
            await ws.close()
        eventually(lambda: flags()[tag + "other"] is False, timeout=20,
                   desc="the other user offline again")

@unittest.skipUnless(os.environ.get("CHAT_TEST_MYSQL_URL"), "CHAT_TEST_MYSQL_URL is not set")
class PeopleMySQLTest(PeopleTest):
    MYSQL = True


if __name__ == "__main__":
    unittest.main()
