"""Accounts: registration, login, sessions, logout, password change, login
rate limiting and the Origin check, against the real chatd."""

import re
import time
import unittest

from chatlib import (Client, ServerTestCase, WS, async_test, uniq)

ADMIN = ("root_admin", "admin-password-1", "root@example.org")


class RegisterTest(ServerTestCase):
    ADMINS = [ADMIN]

    def test_register_returns_user(self):
        c = self.client()
        name = uniq("reg")
        r = c.register(name, "a-good-password", name + "@example.org")
        self.assertEqual(r.status, 201, r.describe())
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"), r.describe())
        body = r.json()
        self.assertEqual(set(body), {"user"})
        user = body["user"]
        self.assertIsInstance(user["id"], int)
        self.assertNotIsInstance(user["id"], bool)
        self.assertEqual(user["username"], name)
        self.assertEqual(user["email"], name + "@example.org")
        self.assertEqual(user["role"], "user")
        self.assertNotIn("password", user)
        # A second user gets a different id.
        other = uniq("reg")
        r2 = c.register(other, "a-good-password", other + "@example.org")
        self.assertEqual(r2.status, 201, r2.describe())
        self.assertNotEqual(r2.json()["user"]["id"], user["id"])

    def test_registered_user_can_log_in(self):
        name = uniq("reg")
        c = self.client()
        self.assertEqual(c.register(name, "pass-word-123", name + "@example.org").status, 201)
        r = c.login(name, "pass-word-123")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["user"]["username"], name)
        self.assertEqual(r.json()["user"]["role"], "user")

    def test_invalid_username(self):
        c = self.client()
        bad = [
            "ab",                 # 2 characters: too short
            "张",                 # 1 character: too short
            "",                   # empty
            "a" * 33,             # 33 characters: too long
            "一" * 33,            # 33 CJK characters: too long
            "has space",          # white space
            "emoji😀x",           # emoji is not a letter or digit
            "semi;colon",
            "tab\tname",
        ]
        for username in bad:
            with self.subTest(username=username):
                r = c.register(username, "a-good-password", "x%s@example.org" % uniq(""))
                self.assert_api_error(r, 400, "invalid_username")

    def test_username_length_bounds_in_characters(self):
        c = self.client()
        n = int(uniq(""))
        # 3 characters, 32 ASCII characters and 32 CJK characters (96 bytes) are accepted.
        candidates = ["b%02d" % (n % 100), ("L%d" % n).ljust(32, "x"), "汉" * 31 + chr(0x4E00 + n % 1000)]
        for username in candidates:
            with self.subTest(username=username):
                r = c.register(username, "a-good-password", "y%s@example.org" % uniq(""))
                self.assertEqual(r.status, 201, r.describe())
                self.assertEqual(r.json()["user"]["username"], username)

    def test_chinese_usernames(self):
        # Letters of any script: CJK usernames register, log in and come back
        # unchanged from /api/me.
        for username in ["张三", "张三丰", "张三_" + uniq(""), "李小龍" + uniq(""), "ユーザー" + uniq("")]:
            with self.subTest(username=username):
                c = self.client()
                r = c.register(username, "密码密码密码", uniq("zh") + "@example.org")
                self.assertEqual(r.status, 201, r.describe())
                self.assertEqual(r.json()["user"]["username"], username)
                r = c.login(username, "密码密码密码")
                self.assertEqual(r.status, 200, r.describe())
                me = c.get("/api/me")
                self.assertEqual(me.status, 200, me.describe())
                self.assertEqual(me.json()["user"]["username"], username)

    def test_weak_password(self):
        c = self.client()
        for pw in ["", "short", "7bytes!", "x" * 129, "密码" + "x"]:   # last: 7 bytes
            with self.subTest(length=len(pw.encode())):
                r = c.register(uniq("wp"), pw, uniq("wp") + "@example.org")
                self.assert_api_error(r, 400, "weak_password")

    def test_password_length_bounds_in_bytes(self):
        c = self.client()
        # 8 bytes, 128 bytes, 3 CJK characters (9 bytes), 42 CJK + 2 (128 bytes).
        for pw in ["8bytes!!", "y" * 128, "密码码", "密" * 42 + "ab"]:
            with self.subTest(length=len(pw.encode())):
                name = uniq("pb")
                r = c.register(name, pw, name + "@example.org")
                self.assertEqual(r.status, 201, r.describe())
                r = c.login(name, pw)
                self.assertEqual(r.status, 200, r.describe())
        # 43 CJK characters are 129 bytes: too long although only 43 characters.
        r = c.register(uniq("pb"), "密" * 43, uniq("pb") + "@example.org")
        self.assert_api_error(r, 400, "weak_password")

    def test_invalid_email(self):
        c = self.client()
        # "" (like an absent email) is no address: taken (test_people.py).
        for email in ["notanemail", "a@b", "@example.org", "a b@example.org", "a@@example.org"]:
            with self.subTest(email=email):
                r = c.register(uniq("em"), "a-good-password", email)
                self.assert_api_error(r, 400, "invalid_email")

    def test_username_taken(self):
        c = self.client()
        name = uniq("taken")
        self.assertEqual(c.register(name, "a-good-password", name + "@example.org").status, 201)
        r = c.register(name, "another-password", "other@example.org")
        self.assert_api_error(r, 409, "username_taken")
        # Usernames are unique without regard to ASCII case.
        for variant in [name.upper(), name.capitalize()]:
            with self.subTest(variant=variant):
                r = c.register(variant, "another-password", "other2@example.org")
                self.assert_api_error(r, 409, "username_taken")

    def test_first_cli_admin_has_admin_role(self):
        c = self.client()
        r = c.login(ADMIN[0], ADMIN[1])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["user"]["role"], "admin")
        me = c.get("/api/me")
        self.assertEqual(me.status, 200, me.describe())
        u = me.json()["user"]
        self.assertEqual(u["username"], ADMIN[0])
        self.assertEqual(u["role"], "admin")
        self.assertEqual(u["email"], ADMIN[2])


class LoginTest(ServerTestCase):
    ADMINS = [ADMIN]

    def test_login_sets_session_cookie(self):
        c, name, pw, user = self.new_user("lg", login=False)
        r = c.login(name, pw)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["user"]["id"], user["id"])
        self.assertEqual(r.json()["user"]["username"], name)
        sids = [sc for sc in c.last_set_cookies if sc[0] == "sid"]
        self.assertEqual(len(sids), 1, r.describe())
        _, value, attrs = sids[0]
        self.assertGreaterEqual(len(value), 16, "session token looks too short: %r" % value)
        self.assertIn("httponly", attrs, r.describe())
        self.assertEqual(str(attrs.get("samesite", "")).lower(), "lax", r.describe())
        self.assertEqual(attrs.get("path"), "/", r.describe())
        self.assertIn("max-age", attrs, r.describe())
        self.assertTrue(re.fullmatch(r"\d+", str(attrs["max-age"])), r.describe())
        self.assertGreater(int(attrs["max-age"]), 0)
        self.assertNotIn("secure", attrs, "Secure cookie on plain HTTP: " + r.describe())

    def test_each_login_gets_a_new_token(self):
        c1, name, pw, _ = self.new_user("lg")
        c2 = self.client()
        self.assertEqual(c2.login(name, pw).status, 200)
        self.assertTrue(c1.sid and c2.sid)
        self.assertNotEqual(c1.sid, c2.sid)

    def test_invalid_credentials_same_message(self):
        c, name, pw, _ = self.new_user("ic", login=False)
        wrong = c.login(name, pw + "x")
        e1 = self.assert_api_error(wrong, 401, "invalid_credentials")
        unknown = c.login(uniq("nobody"), pw)
        e2 = self.assert_api_error(unknown, 401, "invalid_credentials")
        self.assertEqual(e1["message"], e2["message"])
        self.assertIsNone(c.sid, "a failed login must not set a session")

    def test_me_with_and_without_session(self):
        c, name, _, user = self.new_user("me")
        r = c.get("/api/me")
        self.assertEqual(r.status, 200, r.describe())
        u = r.json()["user"]
        self.assertEqual(u["id"], user["id"])
        self.assertEqual(u["username"], name)
        self.assertEqual(u["email"], user["email"])
        self.assertEqual(u["role"], "user")
        self.assert_api_error(self.client().get("/api/me"), 401, "unauthenticated")
        self.assert_api_error(Client(self.server, sid="not-a-valid-token").get("/api/me"), 401,
                              "unauthenticated")

    def test_login_rate_limited_after_five_failures(self):
        c, name, pw, _ = self.new_user("rl", login=False)
        for i in range(5):
            r = c.login(name, "wrong-password-%d" % i)
            self.assert_api_error(r, 401, "invalid_credentials")
        # The sixth attempt right away waits, even with the right password.
        r = c.login(name, pw)
        self.assert_api_error(r, 429, "rate_limited")
        ra = r.header("Retry-After")
        self.assertIsNotNone(ra, r.describe())
        self.assertTrue(re.fullmatch(r"\d+", ra.strip()), "Retry-After %r" % ra)
        self.assertGreaterEqual(int(ra), 1)
        self.assertLessEqual(int(ra), 60)
        self.assertIsNone(c.sid)
        # A delay, not a lockout: after Retry-After the right password works.
        time.sleep(int(ra) + 0.2)
        self.assertEqual(c.login(name, pw).status, 200)
        # Another user is not affected.
        c2, name2, pw2, _ = self.new_user("rl", login=False)
        self.assertEqual(c2.login(name2, pw2).status, 200)

    def test_parallel_guesses_do_not_get_past_the_limit(self):
        _, name, _, _ = self.new_user("rlp", login=False)
        import concurrent.futures
        def guess(i):
            return Client(self.server).login(name, "parallel-guess-%d" % i).status
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(guess, range(12)))
        # Only five attempts are looked at; the others are refused at once.
        self.assertEqual(statuses.count(401), 5, statuses)
        self.assertEqual(statuses.count(429), 7, statuses)

    def test_four_failures_do_not_lock(self):
        c, name, pw, _ = self.new_user("rl", login=False)
        for i in range(4):
            self.assert_api_error(c.login(name, "bad-%d" % i), 401, "invalid_credentials")
        r = c.login(name, pw)
        self.assertEqual(r.status, 200, r.describe())

    def test_logout(self):
        c, name, pw, _ = self.new_user("lo")
        sid = c.sid
        self.assertEqual(c.get("/api/me").status, 200)
        r = c.post("/api/logout")
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(r.body, b"")
        # The old token no longer works, even if a client keeps sending it.
        stale = Client(self.server, sid=sid)
        self.assert_api_error(stale.get("/api/me"), 401, "unauthenticated")
        self.assert_api_error(stale.post("/api/logout"), 401, "unauthenticated")
        # Logging in again works.
        self.assertEqual(c.login(name, pw).status, 200)
        self.assertEqual(c.get("/api/me").status, 200)

    def test_logout_without_session(self):
        self.assert_api_error(self.client().post("/api/logout"), 401, "unauthenticated")

    @async_test()
    async def test_logout_closes_that_sessions_websocket(self):
        c, name, pw, _ = self.new_user("lw")
        other = self.client()
        self.assertEqual(other.login(name, pw).status, 200)
        ws = await WS.connect(self.server, c, label="logged-out")
        ws_other = await WS.connect(self.server, other, label="other-session")
        lobby = self.lobby_id(c)
        self.assertEqual((await ws_other.join(lobby))["type"], "joined")
        self.assertEqual(c.post("/api/logout").status, 204)
        self.assertEqual(await ws.closed(), 1008)
        # The user's other session keeps working.
        self.assertEqual(other.get("/api/me").status, 200)
        ack = await ws_other.send_msg(lobby, "still here")
        self.assertEqual(ack["type"], "ack", ack)


class PasswordTest(ServerTestCase):
    ADMINS = [ADMIN]

    def test_wrong_old_password(self):
        c, name, pw, _ = self.new_user("pw")
        r = c.post("/api/password", {"old_password": pw + "nope", "new_password": "brand-new-password"})
        self.assert_api_error(r, 403, "wrong_password")
        self.assertEqual(c.login(name, pw).status, 200, "password must be unchanged")

    def test_weak_new_password(self):
        c, name, pw, _ = self.new_user("pw")
        for new in ["short", "x" * 129]:
            with self.subTest(length=len(new)):
                r = c.post("/api/password", {"old_password": pw, "new_password": new})
                self.assert_api_error(r, 400, "weak_password")
        self.assertEqual(c.login(name, pw).status, 200, "password must be unchanged")

    def test_password_requires_session(self):
        r = self.client().post("/api/password", {"old_password": "whatever1", "new_password": "whatever2"})
        self.assert_api_error(r, 401, "unauthenticated")

    @async_test()
    async def test_change_password_revokes_other_sessions(self):
        s1, name, old, _ = self.new_user("pc")
        s2 = self.client()
        self.assertEqual(s2.login(name, old).status, 200)
        s3 = self.client()
        self.assertEqual(s3.login(name, old).status, 200)
        # Another user, to prove only this user's sessions are touched.
        bystander, _, _, _ = self.new_user("by")
        ws2 = await WS.connect(self.server, s2, label="other-session")
        ws1 = await WS.connect(self.server, s1, label="changing-session")
        wsb = await WS.connect(self.server, bystander, label="bystander")
        lobby = self.lobby_id(s1)
        self.assertEqual((await ws1.join(lobby))["type"], "joined")
        self.assertEqual((await wsb.join(lobby))["type"], "joined")

        new = "a-brand-new-password"
        r = s1.post("/api/password", {"old_password": old, "new_password": new})
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(r.body, b"")

        # The other session's open WebSocket is closed with 1008 (policy).
        self.assertEqual(await ws2.closed(), 1008)
        # Other sessions are revoked; the one that made the change stays valid.
        self.assert_api_error(s2.get("/api/me"), 401, "unauthenticated")
        self.assert_api_error(s3.get("/api/me"), 401, "unauthenticated")
        me = s1.get("/api/me")
        self.assertEqual(me.status, 200, me.describe())
        self.assertEqual(me.json()["user"]["username"], name)
        self.assertEqual(bystander.get("/api/me").status, 200)
        # The changing session's WebSocket still works.
        ack = await ws1.send_msg(lobby, "after the change")
        self.assertEqual(ack["type"], "ack", ack)
        await wsb.expect_match(type="message", id=ack["id"])
        # The old password stops working; the new one works.
        self.assert_api_error(self.client().login(name, old), 401, "invalid_credentials")
        self.assertEqual(self.client().login(name, new).status, 200)
        # A revoked session cannot open a WebSocket.
        with self.assertRaises(Exception) as cm:
            await WS.connect(self.server, s2)
        self.assertEqual(getattr(cm.exception, "status_code", None), 401, repr(cm.exception))


class OriginTest(ServerTestCase):
    ADMINS = [ADMIN]

    def test_foreign_origin_rejected(self):
        c, name, pw, _ = self.new_user("or", login=False)
        r = c.login(name, pw, origin="http://evil.example")
        self.assert_api_error(r, 403, "bad_origin")
        self.assertIsNone(c.sid, "no session for a cross-site login")
        r = c.register(uniq("or"), "a-good-password", uniq("or") + "@example.org", origin="http://evil.example")
        self.assert_api_error(r, 403, "bad_origin")
        # A port that differs from the server's is a different origin.
        r = c.login(name, pw, origin="http://127.0.0.1:%d" % (self.server.port + 1 if self.server.port < 65535 else 1))
        self.assert_api_error(r, 403, "bad_origin")

    def test_foreign_origin_on_authenticated_request(self):
        c, name, pw, _ = self.new_user("or")
        r = c.post("/api/logout", origin="http://evil.example")
        self.assert_api_error(r, 403, "bad_origin")
        self.assertEqual(c.get("/api/me").status, 200, "the session must survive a cross-site logout")
        r = c.post("/api/password", {"old_password": pw, "new_password": "hijacked-password"},
                   origin="http://evil.example")
        self.assert_api_error(r, 403, "bad_origin")
        self.assertEqual(self.client().login(name, pw).status, 200, "password must be unchanged")

    def test_no_origin_allowed(self):
        c, name, pw, _ = self.new_user("or", login=False)
        self.assertEqual(c.login(name, pw).status, 200)

    def test_own_origin_allowed(self):
        c, name, pw, _ = self.new_user("or", login=False)
        r = c.login(name, pw, origin=self.server.origin)
        self.assertEqual(r.status, 200, r.describe())
        r = c.post("/api/logout", origin=self.server.origin)
        self.assertEqual(r.status, 204, r.describe())
        name2 = uniq("or")
        r = c.register(name2, "a-good-password", name2 + "@example.org", origin=self.server.origin)
        self.assertEqual(r.status, 201, r.describe())


if __name__ == "__main__":
    unittest.main()
