"""Identity: look-alike usernames, invisible characters and U+0000, against
the real chatd.

Usernames are stored in NFKC and unique by their identity key (the UTS #39
skeleton of the NFKC_Casefold form), so a name that only looks like a taken
one is refused as taken, and any spelling of a name finds its user.  Texts,
names and passwords holding U+0000 (JSON "\\u0000") are refused, never cut
short at it.

The tests run against SQLite, and, when CHAT_TEST_MYSQL_URL names a MariaDB
or MySQL server (scripts/test.sh starts one), again against a fresh database
there."""

import os
import subprocess
import unittest
from urllib.parse import quote

from chatlib import WS, Client, StoreTestCase, async_test, match, uniq

ADMIN = ("ident_admin", "admin-password-1", "ident-admin@example.org")
BOB_PW = "bob-password-1"
SAM_PW = "sam-password-1"

# Each of these is taken once "bob" exists: case, full-width, a Cyrillic о,
# mathematical bold, circled letters, and Hangul fillers or zero-width
# characters around bob (the fillers are refused as invalid in a new name).
BOB_LOOKALIKES = [
    "BOB", "Bob", "ｂｏｂ", "ＢＯＢ", "bоb", "𝐛𝐨𝐛", "ⓑⓞⓑ", "ⒷⓄⒷ",
]
# Refused whatever else exists: invisible characters in a name.
INVISIBLE = [
    "zoe\u3164",        # HANGUL FILLER
    "\uffa0zoe",        # HALFWIDTH HANGUL FILLER
    "zo\u115fe",        # HANGUL CHOSEONG FILLER
    "zoe\u1160",        # HANGUL JUNGSEONG FILLER
    "\u3164\u3164\u3164",
    "z\u200boe",        # ZERO WIDTH SPACE
    "zo\u200de",        # ZERO WIDTH JOINER
    "zoe\u00ad",        # SOFT HYPHEN
    "\u202ezoe",        # RIGHT-TO-LEFT OVERRIDE
    "zoe\ufe0f",        # VARIATION SELECTOR-16
]


class IdentityTest(StoreTestCase):
    ADMINS = [ADMIN]
    MYSQL = False   # the MySQL variant below sets it

    @classmethod
    def prepare(cls):
        c = Client(cls.server)
        for name, pw in (("bob", BOB_PW), ("sam", SAM_PW)):
            r = c.register(name, pw, name + "@example.org")
            assert r.status == 201, r.describe()

    # -- helpers --------------------------------------------------------------
    def login(self, name, password):
        c = self.client()
        r = c.login(name, password)
        self.assertEqual(r.status, 200, r.describe())
        return c

    def befriend(self, ca, na, cb, nb):
        self.assertEqual(ca.post("/api/friends", {"username": nb}).status, 200)
        self.assertEqual(cb.post("/api/friends", {"username": na}).status, 200)

    def user_names(self):
        admin = self.admin_client()
        r = admin.get("/api/admin/users")
        self.assertEqual(r.status, 200, r.describe())
        return [u["username"] for u in r.json()["users"]]

    # -- look-alikes ------------------------------------------------------------
    def test_lookalikes_of_bob_are_taken(self):
        c = self.client()
        for name in BOB_LOOKALIKES:
            with self.subTest(name=name):
                r = c.register(name, "a-good-password", uniq("x") + "@example.org")
                self.assert_api_error(r, 409, "username_taken")
        self.assertEqual(self.user_names().count("bob"), 1)

    def test_long_s_is_s(self):
        for name in ("ſam", "ſAM"):
            with self.subTest(name=name):
                r = self.client().register(name, "a-good-password", uniq("x") + "@example.org")
                self.assert_api_error(r, 409, "username_taken")

    def test_invisible_characters_refused(self):
        c = self.client()
        for name in INVISIBLE:
            with self.subTest(name=name):
                err = self.assert_api_error(
                    c.register(name, "a-good-password", uniq("x") + "@example.org"),
                    400, "invalid_username")
                self.assertIn("invisible", err["message"])
        # Fillers next to bob: refused as invalid, before the name is compared.
        for name in ("bob\u3164", "\uffa0bob"):
            with self.subTest(name=name):
                self.assert_api_error(c.register(name, "a-good-password", uniq("x") + "@example.org"),
                                      400, "invalid_username")
        # None of them was stored: the plain name is still free.
        r = c.register("zoe", "a-good-password", "zoe@example.org")
        self.assertEqual(r.status, 201, r.describe())

    def test_stored_in_nfkc(self):
        c = self.client()
        r = c.register("ｃａｒｏｌ", "a-good-password", "carol@example.org")
        self.assertEqual(r.status, 201, r.describe())
        self.assertEqual(r.json()["user"]["username"], "carol")
        c2 = self.login("carol", "a-good-password")
        self.assertEqual(c2.get("/api/me").json()["user"]["username"], "carol")
        self.assert_api_error(c.register("carol", "a-good-password", "c2@example.org"),
                              409, "username_taken")

    def test_chinese_and_japanese_names(self):
        for name in ("张三", "山田.太郎", "李小龙"):
            with self.subTest(name=name):
                c = self.client()
                r = c.register(name, "密码密码密码", uniq("zh") + "@example.org")
                self.assertEqual(r.status, 201, r.describe())
                self.assertEqual(r.json()["user"]["username"], name)
                c2 = self.login(name, "密码密码密码")
                self.assertEqual(c2.get("/api/me").json()["user"]["username"], name)

    # -- any spelling finds the user -------------------------------------------
    def test_login_with_lookalike_finds_bob(self):
        for name in ("ＢＯＢ", "BOB", "bоb", "𝐛𝐨𝐛"):
            with self.subTest(name=name):
                c = self.client()
                r = c.login(name, BOB_PW)
                self.assertEqual(r.status, 200, r.describe())
                self.assertEqual(r.json()["user"]["username"], "bob")
        self.assert_api_error(self.client().login("ＢＯＢ", "wrong-password"), 401,
                              "invalid_credentials")

    @async_test()
    async def test_friend_and_dm_by_lookalike(self):
        ca, na, pa, _ = self.new_user("idf")
        cbob = self.login("bob", BOB_PW)
        # A friend request to ＢＯＢ reaches bob; bob accepts by name.
        r = ca.post("/api/friends", {"username": "ＢＯＢ"})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(cbob.post("/api/friends", {"username": na}).status, 200)
        friends = [f["username"] for f in ca.get("/api/friends").json()["friends"]]
        self.assertIn("bob", friends)
        self.assertNotIn("ＢＯＢ", friends)
        # A DM to bоb (Cyrillic о) goes to bob.
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cbob, label="bob")
        cid = uniq("dm")
        await wa.send({"type": "dm", "to": "bоb", "text": "hello bob", "cid": cid})
        ack = await wa.expect(lambda f: f.get("cid") == cid and f.get("type") in ("ack", "error"))
        self.assertEqual(ack["type"], "ack", ack)
        got = await wb.expect(match(type="dm", text="hello bob"))
        self.assertEqual(got["to"], "bob")
        self.assertEqual(got["sender"], na)
        r = ca.get("/api/dm/%s/messages" % quote("ｂｏｂ"))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual([m["text"] for m in r.json()["messages"]], ["hello bob"])
        await wa.close()
        await wb.close()

    def test_admin_ban_by_lookalike(self):
        c = self.client()
        name = uniq("dan")
        self.assertEqual(c.register(name, "a-good-password", name + "@example.org").status, 201)
        admin = self.admin_client()
        r = admin.post("/api/admin/users/%s/ban" % quote("ＤＡＮ" + name[3:]))
        self.assertEqual(r.status, 204, r.describe())
        self.assert_api_error(self.client().login(name, "a-good-password"), 403, "banned")

    def test_user_add_refuses_lookalikes(self):
        # `chatd user add` follows the same rules (and the same store).
        args = [self.server.binary, "user", "add", "ｓａｍ", "--email", "s2@example.org"]
        cp = subprocess.run(args + self.server.store_args(), input=b"another-password\n",
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn(b"taken", cp.stderr)
        cp = subprocess.run([self.server.binary, "user", "add", "zed\u3164", "--email",
                             "z@example.org"] + self.server.store_args(),
                            input=b"another-password\n", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn(b"invisible", cp.stderr)

    def test_user_add_refuses_nul_in_password(self):
        # The admin tool reads the password byte by byte: a NUL is refused,
        # not cut at, and no user is made.
        name = uniq("nuladd")
        base = [self.server.binary, "user", "add", name, "--email", name + "@example.org"]
        cp = subprocess.run(base + self.server.store_args(), input=b"secret-one\x00rest\n",
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn(b"NUL", cp.stderr)
        self.assertEqual(self.client().login(name, "secret-one").status, 401)
        self.server.add_user(name, "secret-one-whole", name + "@example.org", admin=False)
        self.assertEqual(self.client().login(name, "secret-one-whole").status, 200)

    # -- U+0000 ---------------------------------------------------------------
    def test_nul_in_password_refused(self):
        c = self.client()
        name = uniq("nulpw")
        r = c.register(name, "password\u0000tail", name + "@example.org")
        self.assert_api_error(r, 400, "bad_request")
        # Nothing was stored: the name is free.
        self.assertEqual(c.register(name, "password-ok", name + "@example.org").status, 201)
        # Login with bob's password and more behind a NUL is no login.
        err = self.assert_api_error(self.client().login("bob", BOB_PW + "\u0000anything"),
                                    400, "bad_request")
        self.assertIn("U+0000", err["message"])
        # And a password change to one with a NUL is refused.
        cs = self.login("sam", SAM_PW)
        r = cs.post("/api/password", {"old_password": SAM_PW, "new_password": "new-pass\u0000x"})
        self.assert_api_error(r, 400, "bad_request")
        self.login("sam", SAM_PW)

    def test_nul_in_username_refused(self):
        c = self.client()
        name = uniq("nulname")
        self.assert_api_error(c.register(name + "\u0000x", "a-good-password", name + "@example.org"),
                              400, "bad_request")
        self.assertEqual(c.register(name, "a-good-password", name + "@example.org").status, 201)
        self.assert_api_error(self.client().login(name + "\u0000x", "a-good-password"),
                              400, "bad_request")

    def test_nul_in_room_name_and_topic_refused(self):
        admin = self.admin_client()
        name = uniq("nulroom")
        self.assert_api_error(admin.post("/api/rooms", {"name": name + "\u0000evil", "topic": "t"}),
                              400, "bad_request")
        self.assertIsNone(self.room_by_name(admin, name))
        room = self.create_room(admin, name=name, topic="before")
        self.assert_api_error(admin.patch("/api/rooms/%d" % room["id"], {"topic": "cut\u0000here"}),
                              400, "bad_request")
        self.assertEqual(self.room_by_name(admin, name)["topic"], "before")

    @async_test()
    async def test_nul_in_message_refused(self):
        c, name, _, _ = self.new_user("nulmsg")
        lobby = self.lobby_id(c)
        ws = await WS.connect(self.server, c, label=name)
        self.assertEqual((await ws.join(lobby))["type"], "joined")
        f = await ws.send_msg(lobby, "secret\u0000tail", cid="nul-1", retry_rate_limited=False)
        self.assertEqual(f["type"], "error", f)
        self.assertEqual(f["code"], "bad_request", f)
        self.assertEqual(f.get("cid"), "nul-1", f)
        # The connection stays open, and nothing was stored.
        f = await ws.send_msg(lobby, "after " + name, cid="nul-2")
        self.assertEqual(f["type"], "ack", f)
        texts = [m["text"] for m in self.history(c, lobby) if m["sender"] == name]
        self.assertEqual(texts, ["after " + name])
        await ws.close()

    @async_test()
    async def test_nul_in_dm_refused(self):
        ca, na, _, _ = self.new_user("nuldm")
        cb, nb, _, _ = self.new_user("nuldm")
        self.befriend(ca, na, cb, nb)
        ws = await WS.connect(self.server, ca, label=na)
        for frame in ({"type": "dm", "to": nb, "text": "hi\u0000there", "cid": "nd-1"},
                      {"type": "dm", "to": nb + "\u0000x", "text": "hi", "cid": "nd-2"}):
            await ws.send(frame)
            f = await ws.expect(lambda f, cid=frame["cid"]: f.get("cid") == cid)
            self.assertEqual(f["type"], "error", f)
            self.assertEqual(f["code"], "bad_request", f)
        r = ca.get("/api/dm/%s/messages" % quote(nb))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["messages"], [])
        await ws.close()

@unittest.skipUnless(os.environ.get("CHAT_TEST_MYSQL_URL"), "CHAT_TEST_MYSQL_URL is not set")
class IdentityMySQLTest(IdentityTest):
    MYSQL = True


if __name__ == "__main__":
    unittest.main()
