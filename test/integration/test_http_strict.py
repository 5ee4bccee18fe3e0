"""Strict HTTP, through the real chatd on plain sockets: the Host header,
Transfer-Encoding, exact chunked framing, chunk extensions, Expect:
100-continue, JSON-only API bodies, and who may read /metrics.

Each refused request gets its answer and the connection closes, as for any
malformed request.  The loopback rule of /metrics is seen from 127.0.0.1
only (every test client is local); the rule for other addresses is covered
by test/unit/test_access.c with made-up peers, and the token path here by a
server started with --metrics-access token, which trusts no address."""

import json
import os
import select
import subprocess
import time

from chatlib import RawHTTP, Server, ServerTestCase, uniq

ADMIN = ("strict_admin", "admin-password-1", "strict@example.org")
TOKEN = "t0ken-" + "k" * 40


def req(method, path, headers=(), body=b"", version="1.1", host=True):
    """A request with the given header lines (Host first unless host is
    false); body is sent as is (give the framing headers yourself)."""
    lines = ["%s %s HTTP/%s" % (method, path, version)]
    if host:
        lines.append("Host: 127.0.0.1")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def login_body(name=None, password="wrong-password"):
    """A login for a user who does not exist (a new name each time, so the
    failed-login limit never answers instead)."""
    return json.dumps({"username": name or uniq("nobody"), "password": password}).encode()


def chunked(*pieces, ext=""):
    """A chunked body of the given pieces, each chunk with extension ext."""
    out = b""
    for p in pieces:
        out += b"%x%s\r\n%s\r\n" % (len(p), ext.encode(), p)
    return out + b"0\r\n\r\n"


class HttpStrictTest(ServerTestCase):
    ADMINS = [ADMIN]

    def conn(self):
        c = RawHTTP(self.server.port)
        self.addCleanup(c.close)
        return c

    def exchange(self, data, timeout=10):
        c = self.conn()
        c.send(data)
        return c.read_response(timeout), c

    def assert_error(self, resp, status, code):
        self.assertEqual(resp.status, status, resp.describe())
        self.assertTrue((resp.header("Content-Type") or "").startswith("application/json"), resp.describe())
        err = resp.json()["error"]
        self.assertEqual(err["code"], code, resp.describe())
        self.assertTrue(err.get("message"), resp.describe())

    def assert_refused(self, data, status=400, code="bad_request"):
        resp, c = self.exchange(data)
        self.assert_error(resp, status, code)
        self.assertEqual((resp.header("Connection") or "").lower(), "close", resp.describe())
        self.assertTrue(c.wait_closed(5), "connection left open after %d" % status)

    def tearDown(self):
        if self.server.alive():
            self.assert_healthy()
        super().tearDown()

    # -- Host ----------------------------------------------------------------
    def test_missing_host(self):
        self.assert_refused(req("GET", "/healthz", host=False))
        body = login_body()
        self.assert_refused(req("POST", "/api/login", ["Content-Type: application/json",
                                                       "Content-Length: %d" % len(body)],
                                body, host=False))
        # HTTP/1.0 has no Host requirement.
        resp, _ = self.exchange(req("GET", "/healthz", version="1.0", host=False))
        self.assertEqual(resp.status, 200, resp.describe())

    def test_duplicate_host(self):
        self.assert_refused(req("GET", "/healthz", ["Host: 127.0.0.1"]))
        self.assert_refused(req("GET", "/healthz", ["host: evil.example"]))
        self.assert_refused(req("GET", "/healthz", ["Host: 127.0.0.1"], version="1.0"))

    def test_invalid_host(self):
        for host in ["a b", "evil.example/path", "user@127.0.0.1", "127.0.0.1:80x", "[::1"]:
            with self.subTest(host=host):
                self.assert_refused(req("GET", "/healthz", ["Host: " + host], host=False))
        resp, _ = self.exchange(req("GET", "/healthz", ["Host: [::1]:8080"], host=False))
        self.assertEqual(resp.status, 200, resp.describe())

    def test_origin_check_sees_the_one_host(self):
        # A first Host matching a foreign Origin, followed by the real one,
        # used to pass the Origin check (which read the first); now the
        # request is refused before any of its Hosts is looked at.
        body = json.dumps({"name": uniq("r-"), "topic": "t"}).encode()
        self.assert_refused(req("POST", "/api/rooms", [
            "Host: evil.example", "Host: 127.0.0.1", "Origin: http://evil.example",
            "Content-Type: application/json", "Content-Length: %d" % len(body)], body, host=False))
        # One Host: the Origin must match it.
        resp, _ = self.exchange(req("POST", "/api/rooms", [
            "Origin: http://evil.example", "Content-Type: application/json",
            "Content-Length: %d" % len(body)], body))
        self.assert_error(resp, 403, "bad_origin")

    # -- Transfer-Encoding ---------------------------------------------------
    def test_http10_with_transfer_encoding(self):
        body = chunked(login_body())
        self.assert_refused(req("POST", "/api/login", [
            "Content-Type: application/json", "Transfer-Encoding: chunked",
            "Connection: keep-alive"], body, version="1.0"))
        self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: chunked",
                                                    "Connection: keep-alive"], b"0\r\n\r\n", version="1.0"))

    def test_transfer_encoding_with_content_length(self):
        body = chunked(login_body())
        self.assert_refused(req("POST", "/api/login", [
            "Content-Type: application/json", "Transfer-Encoding: chunked",
            "Content-Length: %d" % len(body)], body))

    def test_transfer_encoding_other_than_chunked(self):
        for te in ["gzip, chunked", "chunked, chunked", "identity"]:
            with self.subTest(te=te):
                self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: " + te], b"0\r\n\r\n"))
        self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: chunked",
                                                    "Transfer-Encoding: chunked"], b"0\r\n\r\n"))

    # -- chunked framing ---------------------------------------------------------
    def test_chunked_body_accepted(self):
        c = self.conn()
        body = login_body()
        resp = c.request(req("POST", "/api/login", ["Content-Type: application/json",
                                                   "Transfer-Encoding: chunked"],
                             chunked(body[:7], body[7:], ext=";a=b")))
        self.assert_error(resp, 401, "invalid_credentials")
        # The connection stays usable.
        resp = c.request(req("GET", "/healthz"))
        self.assertEqual(resp.status, 200, resp.describe())

    def test_chunk_data_not_followed_by_crlf(self):
        body = login_body()
        headers = ["Content-Type: application/json", "Transfer-Encoding: chunked"]
        for tail in [b"XY", b"\n0", b"\rX", b"  "]:
            with self.subTest(tail=tail):
                framed = b"%x\r\n%s%s0\r\n\r\n" % (len(body), body, tail)
                self.assert_refused(req("POST", "/api/login", headers, framed))
        # Also on a route that would answer 200 to anything.
        self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: chunked"], b"2\r\nokXY0\r\n\r\n"))

    def test_chunk_size_line_not_crlf(self):
        self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: chunked"], b"2\rXok\r\n0\r\n\r\n"))
        self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: chunked"], b"0\r\n\rX"))

    def test_trailer_fields_refused(self):
        self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: chunked"],
                                b"2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n"))

    def test_long_chunk_extensions(self):
        # 256 bytes of extensions in a request are fine, 257 are not, in one
        # chunk or spread over several.
        ok = ";" + "a" * 255
        resp, _ = self.exchange(req("GET", "/healthz", ["Transfer-Encoding: chunked"],
                                    b"2%s\r\nok\r\n0\r\n\r\n" % ok.encode()))
        self.assertEqual(resp.status, 200, resp.describe())
        self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: chunked"],
                                b"2;%s\r\nok\r\n0\r\n\r\n" % (b"a" * 256)))
        self.assert_refused(req("GET", "/healthz", ["Transfer-Encoding: chunked"],
                                b"1;%s\r\no\r\n1;%s\r\nk\r\n0\r\n\r\n" % (b"a" * 127, b"b" * 128)))
        # A very long extension is refused long before it ends.
        c = self.conn()
        c.send(req("GET", "/healthz", ["Transfer-Encoding: chunked"], b"2;x="))
        sent = 0
        while sent < 8 * 1024 * 1024 and not select.select([c.sock], [], [], 0)[0]:
            if not c.send(b"v" * 65536):
                break
            sent += 65536
        resp = c.read_response()
        self.assert_error(resp, 400, "bad_request")
        self.assertLess(sent, 8 * 1024 * 1024, "the server read 8 MiB of one chunk extension")

    def test_chunk_sizes_over_the_limit(self):
        # 413 as soon as the size line arrives, before any data.
        resp, c = self.exchange(req("POST", "/api/login", ["Content-Type: application/json",
                                                          "Transfer-Encoding: chunked"],
                                    b"%x\r\n" % (1024 * 1024 + 1)))
        self.assert_error(resp, 413, "payload_too_large")

    # -- Expect: 100-continue -----------------------------------------------------
    def read_interim(self, c, timeout=5):
        """Reads "HTTP/1.1 100 Continue" and its empty line, nothing more."""
        deadline = time.monotonic() + timeout
        want = b"HTTP/1.1 100 Continue\r\n\r\n"
        while len(c.buf) < len(want):
            if not c._fill(deadline):
                break
        got, c.buf = c.buf[:len(want)], c.buf[len(want):]
        return got

    def test_expect_100_continue(self):
        body = login_body()
        c = self.conn()
        c.send(req("POST", "/api/login", ["Content-Type: application/json", "Expect: 100-continue",
                                          "Content-Length: %d" % len(body)]))
        self.assertEqual(self.read_interim(c), b"HTTP/1.1 100 Continue\r\n\r\n")
        c.send(body)
        self.assert_error(c.read_response(), 401, "invalid_credentials")
        # The same connection goes on; a chunked body may be expected too.
        c.send(req("POST", "/api/login", ["Content-Type: application/json", "Expect: 100-Continue",
                                          "Transfer-Encoding: chunked"]))
        self.assertEqual(self.read_interim(c), b"HTTP/1.1 100 Continue\r\n\r\n")
        c.send(chunked(body))
        self.assert_error(c.read_response(), 401, "invalid_credentials")

    def test_expect_100_continue_logs_in(self):
        name, password = uniq("ex"), "expect-password-1"
        r = self.client().register(name, password, name + "@example.org")
        self.assertEqual(r.status, 201, r.describe())
        body = login_body(name, password)
        c = self.conn()
        c.send(req("POST", "/api/login", ["Content-Type: application/json; charset=utf-8",
                                          "Expect: 100-continue", "Content-Length: %d" % len(body)]))
        self.assertEqual(self.read_interim(c), b"HTTP/1.1 100 Continue\r\n\r\n")
        c.send(body)
        resp = c.read_response()
        self.assertEqual(resp.status, 200, resp.describe())
        self.assertEqual(resp.json()["user"]["username"], name)

    def test_expect_100_continue_too_large(self):
        # 413 at once; the client never sends its body.
        c = self.conn()
        c.send(req("POST", "/api/login", ["Content-Type: application/json", "Expect: 100-continue",
                                          "Content-Length: %d" % (1024 * 1024 + 1)]))
        resp = c.read_response(timeout=5)
        self.assert_error(resp, 413, "payload_too_large")
        self.assertTrue(c.wait_closed(5))

    def test_expect_100_continue_refused_at_once(self):
        # No such route, a wrong method, a body that is not JSON: the final
        # answer comes without waiting for the body, and the connection closes.
        cases = [(req("POST", "/api/nope", ["Content-Type: application/json", "Expect: 100-continue",
                                            "Content-Length: 10"]), 404, "not_found"),
                 (req("PUT", "/api/login", ["Content-Type: application/json", "Expect: 100-continue",
                                            "Content-Length: 10"]), 405, "method_not_allowed"),
                 (req("POST", "/api/login", ["Content-Type: application/x-www-form-urlencoded",
                                             "Expect: 100-continue", "Content-Length: 10"]),
                  415, "unsupported_media_type")]
        for data, status, code in cases:
            with self.subTest(code=code):
                c = self.conn()
                c.send(data)
                resp = c.read_response(timeout=5)
                self.assertNotEqual(resp.status, 100, resp.describe())
                self.assert_error(resp, status, code)
                self.assertTrue(c.wait_closed(5))

    def test_unknown_expectation(self):
        self.assert_refused(req("GET", "/healthz", ["Expect: something-else"]), 417, "expectation_failed")
        body = login_body()
        self.assert_refused(req("POST", "/api/login", ["Content-Type: application/json",
                                                       "Expect: 100-continue, x-more",
                                                       "Content-Length: %d" % len(body)], body),
                            417, "expectation_failed")

    # -- JSON bodies only ----------------------------------------------------------
    def test_form_body_refused(self):
        form = b"username=nobody&password=wrong-password"
        for ctype in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x",
                      "application/json; charset=iso-8859-1", "application/jsonp", None]:
            with self.subTest(ctype=ctype):
                body = login_body() if ctype != "application/x-www-form-urlencoded" else form
                headers = ["Content-Length: %d" % len(body)]
                if ctype:
                    headers.insert(0, "Content-Type: " + ctype)
                resp, _ = self.exchange(req("POST", "/api/login", headers, body))
                self.assert_error(resp, 415, "unsupported_media_type")
        # Two Content-Type headers.
        body = login_body()
        resp, _ = self.exchange(req("POST", "/api/login", [
            "Content-Type: application/json", "Content-Type: text/plain",
            "Content-Length: %d" % len(body)], body))
        self.assert_error(resp, 415, "unsupported_media_type")

    def test_json_content_types_accepted(self):
        for ctype in ["application/json", "application/json; charset=utf-8", "Application/JSON;Charset=UTF-8",
                      'application/json; charset="utf-8"', "application/json;"]:
            with self.subTest(ctype=ctype):
                body = login_body()
                resp, _ = self.exchange(req("POST", "/api/login", [
                    "Content-Type: " + ctype, "Content-Length: %d" % len(body)], body))
                self.assert_error(resp, 401, "invalid_credentials")

    def test_form_body_refused_for_every_api_method(self):
        admin = self.admin_client()
        lobby = self.lobby_id(admin)
        cookie = "Cookie: sid=%s" % admin.sid
        body = b"topic=x"
        for method, path in [("POST", "/api/rooms"), ("PATCH", "/api/rooms/%d" % lobby),
                             ("DELETE", "/api/rooms/%d" % lobby), ("POST", "/api/logout")]:
            with self.subTest(method=method, path=path):
                resp, _ = self.exchange(req(method, path, [cookie, "Content-Type: text/plain",
                                                           "Content-Length: %d" % len(body)], body))
                self.assert_error(resp, 415, "unsupported_media_type")
        # Nothing changed: the lobby is there and the session still works.
        self.assertEqual(self.lobby_id(admin), lobby)

    def test_empty_body_needs_no_type(self):
        # POST /api/logout has no body: no Content-Type is needed.
        c, _, _, _ = self.new_user("lo")
        resp, _ = self.exchange(req("POST", "/api/logout", ["Cookie: sid=%s" % c.sid, "Content-Length: 0"]))
        self.assertEqual(resp.status, 204, resp.describe())

    # -- /metrics --------------------------------------------------------------------
    def test_metrics_from_loopback(self):
        resp, _ = self.exchange(req("GET", "/metrics"))
        self.assertEqual(resp.status, 200, resp.describe())
        self.assertTrue((resp.header("Content-Type") or "").startswith("text/plain"), resp.describe())
        self.assertIn(b"chat_connections ", resp.body)


class MetricsTokenTest(ServerTestCase):
    """--metrics-access token: loopback is not trusted, only the token is.
    The token comes through the environment (arguments would land in the
    test's log)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=["--metrics-access", "token"], env={"CHAT_METRICS_TOKEN": TOKEN})
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    def get_metrics(self, *headers):
        c = RawHTTP(self.server.port)
        self.addCleanup(c.close)
        return c.request(req("GET", "/metrics", list(headers)))

    def test_refused_without_token(self):
        for headers in [(), ("Authorization: Bearer wrong",), ("Authorization: Bearer " + TOKEN + "x",),
                        ("Authorization: Bearer " + TOKEN[:-1],), ("Authorization: Basic " + TOKEN,),
                        ("Authorization: " + TOKEN,),
                        ("Authorization: Bearer " + TOKEN, "Authorization: Bearer " + TOKEN)]:
            with self.subTest(headers=headers):
                resp = self.get_metrics(*headers)
                self.assertEqual(resp.status, 403, resp.describe())
                self.assertEqual(resp.json()["error"]["code"], "forbidden", resp.describe())
                self.assertNotIn(b"chat_connections", resp.body)

    def test_allowed_with_token(self):
        for auth in ["Bearer " + TOKEN, "bearer " + TOKEN, "BEARER  " + TOKEN + " "]:
            with self.subTest(auth=auth):
                resp = self.get_metrics("Authorization: " + auth)
                self.assertEqual(resp.status, 200, resp.describe())
                self.assertIn(b"chat_http_requests_total ", resp.body)

    def test_other_routes_unaffected(self):
        r = self.client().get("/healthz")
        self.assertEqual(r.status, 200, r.describe())

    def test_token_never_logged(self):
        self.get_metrics("Authorization: Bearer " + TOKEN)
        self.get_metrics("Authorization: Bearer wrong-" + TOKEN)
        self.assertNotIn(TOKEN, self.server.stderr_text(tail=10 ** 7))
        self.assertNotIn(TOKEN, "".join(self.server.stdout_lines))


class MetricsConfigTest(ServerTestCase):
    """The settings themselves: token-only access without a token does not
    start; an unknown mode is refused."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()

    def run_chatd(self, args, env=None):
        e = dict(os.environ)
        e.pop("CHAT_METRICS_TOKEN", None)
        e.update(env or {})
        return subprocess.run([self.server.binary, "--listen", "127.0.0.1:0", "--db",
                               os.path.join(self.server.tmp, "cfg.db")] + args,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20, env=e)

    def test_token_mode_needs_a_token(self):
        cp = self.run_chatd(["--metrics-access", "token"])
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn(b"metrics", cp.stderr)

    def test_unknown_mode(self):
        cp = self.run_chatd(["--metrics-access", "everyone"])
        self.assertEqual(cp.returncode, 2)


if __name__ == "__main__":
    import unittest
    unittest.main()
