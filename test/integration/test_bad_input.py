"""Malformed and hostile input, over HTTP and WebSocket, against the real
chatd.  The WebSocket tests use a client written on a plain socket so that
they can break the protocol on purpose; after each bad client, other users
must not notice anything and the server must stay healthy."""

import os
import struct
import unittest

from chatlib import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Client, RawHTTP,
                     RawWS, ServerTestCase, match, raw_request, uniq)

ADMIN = ("bad_admin", "admin-password-1", "badmin@example.org")


def get(path, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, extra)).encode("latin-1")


class HttpBadInputTest(ServerTestCase):
    ADMINS = [ADMIN]

    def raw(self, data, timeout=10):
        resp, conn = raw_request(self.server.port, data, timeout)
        self.addCleanup(conn.close)
        return resp, conn

    def assert_raw_error(self, resp, status, code):
        self.assertEqual(resp.status, status, resp.describe())
        self.assertTrue((resp.header("Content-Type") or "").startswith("application/json"), resp.describe())
        err = resp.json()["error"]
        self.assertEqual(err["code"], code, resp.describe())
        self.assertTrue(err.get("message"), resp.describe())

    def tearDown(self):
        # Whatever a test sent, the server is still up and healthy.
        if self.server.alive():
            self.assert_healthy()
        super().tearDown()

    # -- framing of HTTP itself ---------------------------------------------
    def test_malformed_request_line(self):
        for data in [b"GARBAGE\r\n\r\n",
                     b"GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n",
                     b"\x00\x01\x02 \xff\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nBad Header Without Colon\r\n\r\n"]:
            with self.subTest(data=data):
                resp, conn = self.raw(data)
                self.assert_raw_error(resp, 400, "bad_request")
                self.assertTrue(conn.wait_closed(5), "connection left open after a malformed request")

    def test_headers_too_large(self):
        big = get("/healthz", "X-Big: %s\r\n" % ("a" * 17000))
        resp, conn = self.raw(big)
        self.assert_raw_error(resp, 431, "headers_too_large")
        many = get("/healthz", "".join("X-H%03d: %s\r\n" % (i, "b" * 90) for i in range(200)))
        resp, conn = self.raw(many)
        self.assert_raw_error(resp, 431, "headers_too_large")
        # Headers well within the limit are fine.
        resp, conn = self.raw(get("/healthz", "X-Ok: %s\r\n" % ("c" * 8000)))
        self.assertEqual(resp.status, 200, resp.describe())

    def test_body_too_large(self):
        data = (b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2000000\r\n\r\n")
        resp, conn = self.raw(data)
        self.assert_raw_error(resp, 413, "payload_too_large")

    def test_body_too_large_when_sent(self):
        # A body actually sent (1 MiB + 1 byte) is refused too.
        body = b'{"username":"' + b"a" * (1024 * 1024) + b'"}'
        c = RawHTTP(self.server.port)
        self.addCleanup(c.close)
        c.send(b"POST /api/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body))
        c.send(body)
        resp = c.read_response()
        self.assert_raw_error(resp, 413, "payload_too_large")

    # -- JSON bodies ----------------------------------------------------------
    def test_bad_json_body(self):
        c = self.client()
        for body in [b"{not json", b'{"username": "abc"', b"", b'{"username":"ab\xff\xfe","password":"x"}',
                     b'{"username":"abc","password":"12345678"} trailing',
                     # \u escapes without four hex digits (cJSON would read U+0000 and cut)
                     b'{"username":"abc\\u00zz","password":"12345678"}',
                     b'{"username":"abc\\u000\xe4\xbd\xa0","password":"12345678"}']:
            with self.subTest(body=body):
                r = c.post("/api/login", raw_body=body)
                self.assert_api_error(r, 400, "bad_request")

    def test_json_not_an_object(self):
        c = self.client()
        for body in [b"[1,2]", b'"string"', b"42", b"null", b"true"]:
            with self.subTest(body=body):
                self.assert_api_error(c.post("/api/login", raw_body=body), 400, "bad_request")
                self.assert_api_error(c.post("/api/register", raw_body=body), 400, "bad_request")

    def test_wrong_field_types(self):
        c = self.client()
        for body in [{"username": 1, "password": "password1"},
                     {"username": "abcdef", "password": ["password1"]},
                     {"username": None, "password": "password1"},
                     {"username": "abcdef"},
                     {"password": "password1"}]:
            with self.subTest(body=body):
                self.assert_api_error(c.post("/api/login", body), 400, "bad_request")
        for body in [{"username": uniq("wt"), "password": "password1", "email": 5},
                     {"username": {"a": 1}, "password": "password1", "email": "a@example.org"},
                     {"username": uniq("wt"), "password": 12345678, "email": "a@example.org"}]:
            with self.subTest(body=body):
                self.assert_api_error(c.post("/api/register", body), 400, "bad_request")
        admin = self.admin_client()
        self.assert_api_error(admin.post("/api/rooms", {"name": 5, "topic": "x"}), 400, "bad_request")
        self.assert_api_error(admin.post("/api/rooms", [1]), 400, "bad_request")
        lobby = self.lobby_id(admin)
        self.assert_api_error(admin.patch("/api/rooms/%d" % lobby, {"topic": 7}), 400, "bad_request")
        self.assert_api_error(admin.post("/api/password", {"old_password": 1, "new_password": "x" * 10}),
                              400, "bad_request")

    # -- routing --------------------------------------------------------------
    def test_unknown_api_route(self):
        c, _, _, _ = self.new_user("rt")
        for method, path in [("GET", "/api/nope"), ("POST", "/api/nope"), ("GET", "/api/rooms/1/nope"),
                             ("GET", "/api/me/extra")]:
            with self.subTest(path=path, method=method):
                r = c.request(method, path)
                self.assert_api_error(r, 404, "not_found")
        # Also without a session.
        self.assert_api_error(self.client().get("/api/nope"), 404, "not_found")

    def test_wrong_method(self):
        c, _, _, _ = self.new_user("wm")
        cases = [("DELETE", "/api/login", {"POST"}), ("GET", "/api/login", {"POST"}),
                 ("GET", "/api/register", {"POST"}), ("PUT", "/api/rooms", {"GET", "POST"}),
                 ("POST", "/api/me", {"GET"}), ("GET", "/api/logout", {"POST"})]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                r = c.request(method, path)
                self.assert_api_error(r, 405, "method_not_allowed")
                allow = r.header("Allow")
                self.assertIsNotNone(allow, r.describe())
                methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
                self.assertTrue(allowed <= methods, "Allow %r lacks %r" % (allow, allowed))
                self.assertNotIn(method, methods)

    # -- static files ---------------------------------------------------------
    def test_path_traversal(self):
        port = self.server.port
        targets = [
            "/../etc/passwd", "/../../../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
            "/%2e%2e%2fetc%2fpasswd", "/%2E%2E/%2E%2E/%2E%2E/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
            "/a%00.html", "/index.html%00", "/%00", "/..\\..\\etc\\passwd", "/%5c..%5c..%5cetc%5cpasswd",
            "/./../etc/passwd", "//etc/passwd", "/etc/passwd", "/..", "/.", "/%2e%2e", "/%2e",
            "/....//....//etc/passwd", "/%252e%252e/%252e%252e/etc/passwd", "/%c0%ae%c0%ae/etc/passwd",
            "/.%2e/.%2e/etc/passwd", "/static/../../etc/passwd",
            "http://127.0.0.1:%d/../../../etc/passwd" % port, "http://evil.example/../../etc/passwd",
            "file:///etc/passwd", "../../etc/passwd", "*", "/%",
        ]
        for target in targets:
            with self.subTest(target=target):
                data = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (target, port)).encode("latin-1")
                resp, conn = self.raw(data)
                self.assertNotIn(b"root:", resp.body, "served /etc/passwd for %r" % target)
                self.assertIn(resp.status, (400, 404), resp.describe())

    def test_index_is_html(self):
        r = self.client().get("/")
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue((r.header("Content-Type") or "").startswith("text/html"), r.describe())
        self.assertIn(b"<html", r.body.lower())
        with open(os.path.join(self.server.public, "index.html"), "rb") as f:
            self.assertEqual(r.body, f.read())

    def test_static_files_match_disk(self):
        public = self.server.public
        files = sorted(n for n in os.listdir(public) if os.path.isfile(os.path.join(public, n))
                       and not n.startswith("."))
        self.assertTrue(files, "no static files in %s" % public)
        types = {".html": "text/html", ".css": "text/css", ".js": ("text/javascript", "application/javascript"),
                 ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png"}
        c = self.client()
        for name in files:
            with self.subTest(file=name):
                r = c.get("/" + name)
                self.assertEqual(r.status, 200, r.describe())
                with open(os.path.join(public, name), "rb") as f:
                    self.assertEqual(r.body, f.read())
                want = types.get(os.path.splitext(name)[1])
                if want:
                    self.assertTrue((r.header("Content-Type") or "").startswith(want), r.describe())
        self.assertEqual(c.get("/definitely-not-here-%s.html" % uniq("")).status, 404)

    def test_etag_and_conditional_get(self):
        c = self.client()
        r = c.get("/")
        self.assertEqual(r.status, 200, r.describe())
        etag = r.header("ETag")
        self.assertIsNotNone(etag, r.describe())
        self.assertRegex(etag, r'^(W/)?"[^"]+"$')
        r2 = c.get("/", headers={"If-None-Match": etag})
        self.assertEqual(r2.status, 304, r2.describe())
        self.assertEqual(r2.body, b"")
        self.assertEqual(r2.header("ETag"), etag)
        r3 = c.get("/", headers={"If-None-Match": '"something-else"'})
        self.assertEqual(r3.status, 200, r3.describe())
        self.assertEqual(r3.body, r.body)
        r4 = c.get("/index.html")
        self.assertEqual(r4.header("ETag"), etag)
        self.assertEqual(c.get("/index.html", headers={"If-None-Match": etag}).status, 304)

    # -- connections ----------------------------------------------------------
    def test_keep_alive(self):
        conn = RawHTTP(self.server.port)
        self.addCleanup(conn.close)
        r1 = conn.request(get("/healthz"))
        self.assertEqual(r1.status, 200, r1.describe())
        self.assertEqual(r1.json(), {"status": "ok", "store": "ok", "redis": "off"})
        r2 = conn.request(get("/api/me"))
        self.assert_raw_error(r2, 401, "unauthenticated")
        r3 = conn.request(get("/"))
        self.assertEqual(r3.status, 200, r3.describe())
        r4 = conn.request(b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 9\r\n\r\n{bad json")
        self.assert_raw_error(r4, 400, "bad_request")
        r5 = conn.request(get("/healthz"))
        self.assertEqual(r5.status, 200, r5.describe())

    def test_connection_close_honoured(self):
        conn = RawHTTP(self.server.port)
        self.addCleanup(conn.close)
        r = conn.request(get("/healthz", "Connection: close\r\n"))
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue(conn.wait_closed(5))

    def test_healthz(self):
        r = self.client().get("/healthz")
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"))
        self.assertEqual(r.json(), {"status": "ok", "store": "ok", "redis": "off"})


class WsBadInputTest(ServerTestCase):
    ADMINS = [ADMIN]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            admin = Client(cls.server)
            r = admin.login(ADMIN[0], ADMIN[1])
            assert r.status == 200, r.describe()
            r = admin.post("/api/rooms", {"name": uniq("bad-room-"), "topic": "x"})
            assert r.status == 201, r.describe()
            cls.room = r.json()["room"]["id"]
            cls.sids = {}
            for role in ("observer", "speaker", "bad"):
                name = uniq(role[:3])
                c = Client(cls.server)
                r = c.register(name, "password-" + name, name + "@example.org")
                assert r.status == 201, r.describe()
                r = c.login(name, "password-" + name)
                assert r.status == 200, r.describe()
                cls.sids[role] = (name, c.sid)
        except BaseException:
            cls.tearDownClass()
            raise

    def setUp(self):
        super().setUp()
        self.observer = self.ws("observer")
        self.speaker = self.ws("speaker")
        self.assertEqual(self.observer.join(self.room)["type"], "joined")
        self.assertEqual(self.speaker.join(self.room)["type"], "joined")

    def ws(self, role="bad"):
        w = RawWS(self.server.port, sid=self.sids[role][1], label=role)
        self.addCleanup(w.close)
        return w

    def bad_joined(self):
        w = self.ws("bad")
        self.assertEqual(w.join(self.room)["type"], "joined")
        return w

    def check_others_unaffected(self):
        """The other users in the room still chat normally; the server is
        healthy."""
        text = "still fine " + uniq("")
        ack = self.speaker.send_msg(self.room, text)
        self.assertEqual(ack["type"], "ack", ack)
        for w in (self.observer, self.speaker):
            f = w.expect(match(type="message", id=ack["id"]))
            self.assertEqual(f["text"], text)
            self.assertEqual(f["sender"], self.sids["speaker"][0])
        self.assert_healthy()

    def assert_closed_with(self, w, code):
        got, reason = w.expect_close()
        self.assertEqual(got, code, "close code %r (reason %r)" % (got, reason))
        self.assertTrue(w.wait_eof(5), "server kept the TCP connection after closing")
        self.check_others_unaffected()

    # -- error frames (the connection stays open) -----------------------------
    def expect_error(self, w, code):
        f = w.expect(lambda f: f.get("type") == "error", desc="error frame %s" % code)
        self.assertEqual(f.get("code"), code, f)
        self.assertIsInstance(f.get("message"), str, f)
        return f

    def test_bad_json(self):
        w = self.ws()
        for text in ["{nope", "", "{\"type\": \"join\", \"room\": ", "not json at all", "{}}"]:
            with self.subTest(text=text):
                w.send_frame(OP_TEXT, text)
                self.expect_error(w, "bad_json")
        # The connection is still usable.
        self.assertEqual(w.join(self.room)["type"], "joined")
        ack = w.send_msg(self.room, "after bad json")
        self.assertEqual(ack["type"], "ack", ack)
        self.check_others_unaffected()

    def test_broken_u_escape(self):
        # A \u escape without four hex digits is not JSON: bad_json, and
        # nothing cut short at it is sent or stored.
        w = self.bad_joined()
        tag = uniq("esc")
        for text in ['{"type":"send","room":%d,"text":"%s\\u00zzhidden","cid":"e1"}' % (self.room, tag),
                     '{"type":"send","room":%d,"text":"%s\\u000你好","cid":"e2"}' % (self.room, tag),
                     '{"type":"dm","to":"%s\\uZZZZ","text":"%s","cid":"e3"}' % (self.sids["speaker"][0], tag)]:
            with self.subTest(text=text):
                w.send_frame(OP_TEXT, text)
                self.expect_error(w, "bad_json")
        ack = w.send_msg(self.room, "after " + tag)
        self.assertEqual(ack["type"], "ack", ack)
        f = self.observer.expect(match(type="message", id=ack["id"]))
        self.assertEqual(f["text"], "after " + tag)
        r = Client(self.server, sid=self.sids["observer"][1]).get("/api/rooms/%d/messages" % self.room)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual([m["text"] for m in r.json()["messages"] if tag in m["text"]], ["after " + tag])
        self.check_others_unaffected()

    def test_unknown_type(self):
        w = self.ws()
        for obj in [{"type": "dance"}, {"type": "JOIN", "room": self.room}, {"type": 5}]:
            with self.subTest(obj=obj):
                w.send_json(obj)
                f = w.expect(lambda f: f.get("type") == "error", desc="error frame")
                if obj["type"] == 5:
                    self.assertIn(f.get("code"), ("unknown_type", "bad_request"), f)
                else:
                    self.assertEqual(f.get("code"), "unknown_type", f)
        self.assertEqual(w.join(self.room)["type"], "joined")
        self.check_others_unaffected()

    def test_not_an_object_or_missing_fields(self):
        w = self.ws()
        for text in ["[1,2]", "\"join\"", "5", "null", "true"]:
            with self.subTest(text=text):
                w.send_frame(OP_TEXT, text)
                self.expect_error(w, "bad_request")
        self.assertEqual(w.join(self.room)["type"], "joined")
        for obj in [{"type": "join"}, {"type": "join", "room": "abc"}, {"type": "send", "room": self.room},
                    {"type": "send", "room": self.room, "text": 5}, {"type": "send", "text": "x"},
                    {"type": "typing"}, {"type": "leave"}, {"type": "join", "room": self.room, "since": "x"}]:
            with self.subTest(obj=obj):
                w.send_json(obj)
                self.expect_error(w, "bad_request")
        ack = w.send_msg(self.room, "after bad requests")
        self.assertEqual(ack["type"], "ack", ack)
        self.check_others_unaffected()

    def test_message_of_exactly_64k_is_read(self):
        w = self.bad_joined()
        prefix = '{"type":"send","room":%d,"cid":"big","text":"' % self.room
        text = prefix + "a" * (65536 - len(prefix) - 2) + '"}'
        self.assertEqual(len(text.encode()), 65536)
        w.send_frame(OP_TEXT, text)
        f = self.expect_error(w, "text_too_long")
        self.assertEqual(f.get("cid", "big"), "big")
        ack = w.send_msg(self.room, "small again")
        self.assertEqual(ack["type"], "ack", ack)
        self.check_others_unaffected()

    def test_fragmented_text_message(self):
        w = self.bad_joined()
        data = ('{"type":"send","room":%d,"cid":"frag","text":"分片你好"}' % self.room).encode()
        cut = data.index("你".encode()) + 2      # inside the 3-byte character
        w.send_frame(OP_TEXT, data[:10], fin=False)
        w.send_frame(OP_PING, b"between fragments")   # control frames may interleave
        w.send_frame(OP_CONT, data[10:cut], fin=False)
        w.send_frame(OP_CONT, data[cut:], fin=True)
        ack = w.expect(match(type="ack", cid="frag"))
        f = self.observer.expect(match(type="message", id=ack["id"]))
        self.assertEqual(f["text"], "分片你好")
        self.check_others_unaffected()

    # -- ping / pong / close ------------------------------------------------
    def test_ping_pong(self):
        w = self.ws()
        for payload in [b"hello-ping", b"", bytes(range(125)), "乒乓".encode()]:
            with self.subTest(n=len(payload)):
                w.send_frame(OP_PING, payload)
                while True:
                    fin, op, got = w.recv_frame()
                    if op == OP_PONG:
                        break
                    self.assertEqual(op, OP_TEXT, "unexpected opcode %d" % op)
                self.assertTrue(fin)
                self.assertEqual(got, payload)
        self.assertEqual(w.join(self.room)["type"], "joined")
        self.check_others_unaffected()

    def test_client_close_is_answered(self):
        w = self.bad_joined()
        w.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
        while True:
            fin, op, payload = w.recv_frame()
            if op == OP_CLOSE:
                break
        self.assertEqual(struct.unpack("!H", payload[:2])[0], 1000)
        self.assertTrue(w.wait_eof(5))
        self.observer.expect(match(type="presence", room=self.room, user=self.sids["bad"][0], event="leave"))
        self.check_others_unaffected()

    # -- protocol violations: the server closes with a code -----------------
    def test_unmasked_frame(self):
        w = self.bad_joined()
        w.send_frame(OP_TEXT, '{"type":"typing","room":%d}' % self.room, mask=False)
        self.assert_closed_with(w, 1002)

    def test_reserved_bits(self):
        for rsv in (4, 2, 1):
            with self.subTest(rsv=rsv):
                w = self.bad_joined()
                w.send_frame(OP_TEXT, '{"type":"typing","room":%d}' % self.room, rsv=rsv)
                self.assert_closed_with(w, 1002)

    def test_unknown_opcode(self):
        for op in (0x3, 0x7, 0xB, 0xF):
            with self.subTest(opcode=op):
                w = self.bad_joined()
                w.send_frame(op, b"x")
                self.assert_closed_with(w, 1002)

    def test_fragmented_control_frame(self):
        w = self.bad_joined()
        w.send_frame(OP_PING, b"part", fin=False)
        self.assert_closed_with(w, 1002)

    def test_control_payload_over_125(self):
        w = self.bad_joined()
        w.send_frame(OP_PING, b"p" * 126)
        self.assert_closed_with(w, 1002)

    def test_continuation_without_start(self):
        w = self.bad_joined()
        w.send_frame(OP_CONT, b'{"type":"typing"}', fin=True)
        self.assert_closed_with(w, 1002)

    def test_new_message_inside_fragmented_message(self):
        w = self.bad_joined()
        w.send_frame(OP_TEXT, b'{"type":', fin=False)
        w.send_frame(OP_TEXT, b'{"type":"typing"}', fin=True)
        self.assert_closed_with(w, 1002)

    def test_invalid_utf8(self):
        for bad in [b'{"type":"\xff"}', b'{"type":"join","x":"\xc0\xaf"}', b'{"x":"\xed\xa0\x80"}',
                    b'{"x":"\xf4\x90\x80\x80"}', b'{"x":"\xe4\xbd"}']:
            with self.subTest(data=bad):
                w = self.bad_joined()
                w.send_frame(OP_TEXT, bad)
                self.assert_closed_with(w, 1007)

    def test_invalid_utf8_across_fragments(self):
        # The first fragment ends inside a 3-byte character; the second does
        # not continue it.
        w = self.bad_joined()
        w.send_frame(OP_TEXT, b'{"type":"send","text":"\xe4\xbd', fin=False)
        w.send_frame(OP_CONT, b'("}', fin=True)
        self.assert_closed_with(w, 1007)
        # A stray continuation byte at the start of a later fragment.
        w = self.bad_joined()
        w.send_frame(OP_TEXT, b'{"type":"send","text":"ok', fin=False)
        w.send_frame(OP_CONT, b'\x80"}', fin=True)
        self.assert_closed_with(w, 1007)

    def test_invalid_utf8_caught_before_message_ends(self):
        # The bad byte is in the first fragment; the server closes without
        # waiting for the rest.
        w = self.bad_joined()
        w.send_frame(OP_TEXT, b'{"type":"send","text":"\xfe', fin=False)
        self.assert_closed_with(w, 1007)

    def test_message_too_big(self):
        w = self.bad_joined()
        w.send_frame(OP_TEXT, b"a" * 65537)
        self.assert_closed_with(w, 1009)

    def test_fragmented_message_too_big(self):
        w = self.bad_joined()
        w.send_frame(OP_TEXT, b"a" * 40000, fin=False)
        w.send_frame(OP_CONT, b"a" * 40000, fin=True)
        self.assert_closed_with(w, 1009)

    def test_binary_frame_does_not_disturb_others(self):
        # Binary messages are not part of the protocol: the server may answer
        # with an error frame or close the connection, but others never notice.
        w = self.bad_joined()
        w.send_frame(OP_BINARY, b"\x00\x01\x02")
        w.send_frame(OP_PING, b"after-binary")
        try:
            while True:
                fin, op, payload = w.recv_frame()
                if op in (OP_PONG, OP_CLOSE):
                    break
        except EOFError:
            op = None
        if op == OP_CLOSE:
            self.assertIn(struct.unpack("!H", payload[:2])[0], (1002, 1003))
        self.check_others_unaffected()


if __name__ == "__main__":
    unittest.main()
