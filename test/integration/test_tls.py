"""chatd with TLS, and chatd behind a trusted HTTPS proxy.

Certificates are made when the tests run (scripts/make-cert.sh, the openssl
command).  Clients: curl, Python's ssl (http.client, a raw socket) and
python3-websockets over wss://."""
import asyncio
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import warnings

from chatlib import (HERE, HTTP_TIMEOUT, RawWS, ServerTestCase, WS, async_test, eventually,
                     match, parse_set_cookie, uniq)

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MAKE_CERT = os.path.join(ROOT, "scripts", "make-cert.sh")
REDIRECT_RE = re.compile(r"chatd redirecting http://127\.0\.0\.1:(\d+) to https")


def make_cert(folder, name):
    subprocess.run([MAKE_CERT, folder, name], check=True, timeout=60)


def install(src_folder, dst_folder):
    """Puts a certificate and key in place the way a renewal does: each file
    written aside, then renamed over the old one."""
    for name in ("cert.pem", "key.pem"):
        tmp = os.path.join(dst_folder, name + ".new")
        shutil.copyfile(os.path.join(src_folder, name), tmp)
        os.replace(tmp, os.path.join(dst_folder, name))


def peer_cn(sock):
    subject = sock.getpeercert()["subject"]
    return dict(item[0] for item in subject)["commonName"]


def hsts(resp):
    return resp.header("Strict-Transport-Security")


def sid_cookie(resp):
    for value in resp.header_all("Set-Cookie"):
        name, val, attrs = parse_set_cookie(value)
        if name == "sid":
            return val, attrs
    return None, None


class TLSTest(ServerTestCase):
    """One chatd with a certificate, and a plain HTTP redirect listener."""

    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix="chatd-tls-")
        cls.cert_dirs = {}
        for label in ("A", "B"):
            folder = os.path.join(cls.certs, label)
            make_cert(folder, "chatd test " + label)
            cls.cert_dirs["chatd test " + label] = folder
        cls.live = os.path.join(cls.certs, "live")
        os.makedirs(cls.live)
        install(cls.cert_dirs["chatd test A"], cls.live)
        # Clients trust both, so the tests hold whichever is being served.
        cls.bundle = os.path.join(cls.certs, "bundle.pem")
        with open(cls.bundle, "w") as out:
            for folder in cls.cert_dirs.values():
                with open(os.path.join(folder, "cert.pem")) as f:
                    out.write(f.read())
        cls.SERVER_ARGS = ["--tls-cert", os.path.join(cls.live, "cert.pem"),
                           "--tls-key", os.path.join(cls.live, "key.pem"),
                           "--redirect-http", "127.0.0.1:0"]
        try:
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.certs, ignore_errors=True)
            raise
        cls.server.ssl_context = cls.context()
        cls.redirect_port = None
        for line in cls.server.stdout_lines:
            m = REDIRECT_RE.search(line)
            if m:
                cls.redirect_port = int(m.group(1))

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.certs, ignore_errors=True)

    @classmethod
    def context(cls, alpn=None):
        ctx = ssl.create_default_context(cafile=cls.bundle)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx

    def tls_socket(self, ctx=None):
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=HTTP_TIMEOUT)
        return (ctx or self.context()).wrap_socket(raw, server_hostname="127.0.0.1")

    def https(self, ctx=None):
        return http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=HTTP_TIMEOUT,
                                           context=ctx or self.context())

    # -- curl -------------------------------------------------------------------
    def curl(self, path, *args):
        """Runs curl against the server; returns (status, http version,
        headers as text, body)."""
        tmp = tempfile.mkdtemp(prefix="curl-", dir=self.certs)
        head, body = os.path.join(tmp, "head"), os.path.join(tmp, "body")
        cp = subprocess.run(["curl", "-sS", "--cacert", self.bundle, "--max-time", "20",
                             "-D", head, "-o", body, "-w", "%{http_code} %{http_version}",
                             *args, "https://127.0.0.1:%d%s" % (self.server.port, path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr.decode(errors="replace"))
        status, version = cp.stdout.decode().split()
        with open(head, encoding="iso-8859-1") as f:
            headers = f.read()
        with open(body, "rb") as f:
            data = f.read()
        shutil.rmtree(tmp)
        return int(status), version, headers, data

    def test_curl_gets_the_page_and_logs_in_with_a_secure_cookie(self):
        status, version, headers, body = self.curl("/")
        self.assertEqual(status, 200, headers)
        self.assertEqual(version, "1.1")   # curl offers h2 and http/1.1 (ALPN)
        self.assertIn(b"<html", body.lower())
        self.assertRegex(headers, r"(?im)^Strict-Transport-Security: max-age=\d+")

        name, password = uniq("curl"), "a curl password"
        jar = os.path.join(self.certs, name + ".jar")
        status, _, headers, body = self.curl(
            "/api/register", "-H", "Content-Type: application/json", "--data",
            json.dumps({"username": name, "password": password, "email": name + "@example.org"}))
        self.assertEqual(status, 201, body)
        status, _, headers, body = self.curl(
            "/api/login", "-c", jar, "-H", "Content-Type: application/json", "--data",
            json.dumps({"username": name, "password": password}))
        self.assertEqual(status, 200, body)
        cookie = re.search(r"(?im)^Set-Cookie: (sid=.*)$", headers).group(1)
        self.assertIn("Secure", [a.strip() for a in cookie.split(";")], cookie)
        self.assertRegex(headers, r"(?im)^Strict-Transport-Security: ")
        # curl's jar marks the cookie secure ("TRUE" in the fourth column).
        with open(jar) as f:
            rows = [l.split("\t") for l in f.read().splitlines() if "\tsid\t" in l]
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][3], "TRUE", rows)
        status, _, _, body = self.curl("/api/me", "-b", jar)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["user"]["username"], name)

    # -- Python: https and wss ------------------------------------------------
    @async_test(timeout=90)
    async def test_python_https_and_wss_chat(self):
        a = self.client()
        name, password = uniq("py"), "a python password"
        r = a.register(name, password, name + "@example.org")
        self.assertEqual(r.status, 201, r.describe())
        r = a.login(name, password)
        self.assertEqual(r.status, 200, r.describe())
        _, attrs = sid_cookie(r)
        self.assertIs(attrs.get("secure"), True, r.describe())
        self.assertTrue(attrs.get("httponly"), r.describe())
        self.assertRegex(hsts(r) or "", r"^max-age=\d+", r.describe())
        b, b_name, _, _ = self.new_user("pyb")
        lobby = self.lobby_id(a)

        wa = await WS.connect(self.server, a, origin=self.server.origin, label="wss-a")
        wb = await WS.connect(self.server, b, label="wss-b")
        self.assertEqual((await wa.join(lobby)).get("type"), "joined")
        self.assertEqual((await wb.join(lobby)).get("type"), "joined")
        ack = await wa.send_msg(lobby, "你好, over TLS")
        self.assertEqual(ack.get("type"), "ack", ack)
        got = await wb.expect(match(type="message", id=ack["id"]))
        self.assertEqual(got["text"], "你好, over TLS")
        self.assertEqual(got["sender"], name)
        # A big message both ways (several records).
        big = "大" * 3999
        ack = await wb.send_msg(lobby, big)
        self.assertEqual(ack.get("type"), "ack", ack)
        self.assertEqual((await wa.expect(match(type="message", id=ack["id"])))["text"], big)

    def test_big_static_file_over_tls(self):
        path = "/usr/share/bootstrap-html/css/bootstrap.min.css"
        if not os.path.exists(path):
            self.skipTest("libjs-bootstrap5 not installed")
        with open(path, "rb") as f:
            want = f.read()
        conn = self.https()
        try:
            for _ in range(2):   # twice on one connection
                conn.request("GET", "/vendor/bootstrap/css/bootstrap.min.css")
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertEqual(hashlib.sha256(resp.read()).hexdigest(),
                                 hashlib.sha256(want).hexdigest())
        finally:
            conn.close()

    # -- protocol versions, ciphers, ALPN --------------------------------------
    def test_tls_1_1_and_1_0_are_refused(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # the old versions
            versions = (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1)
            for version in versions:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                # Let the client offer what the system would refuse itself,
                # so that it is the server that says no, with an alert.
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = version
                with self.assertRaises(ssl.SSLError) as cm:
                    self.tls_socket(ctx).close()
                self.assertRegex(str(cm.exception), r"(?i)alert protocol version",
                                 str(cm.exception))

    def test_tls_1_2_and_1_3_with_modern_ciphers(self):
        ctx = self.context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with self.tls_socket(ctx) as s:
            self.assertEqual(s.version(), "TLSv1.2")
            self.assertRegex(s.cipher()[0], r"^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20-POLY1305)")
        # TLS 1.2 without forward secrecy or without AEAD: no.
        for ciphers in ("AES128-GCM-SHA256:AES256-SHA", "ECDHE-ECDSA-AES128-SHA"):
            ctx = self.context()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(ciphers)
            with self.assertRaises(ssl.SSLError):
                self.tls_socket(ctx).close()
        with self.tls_socket() as s:
            self.assertEqual(s.version(), "TLSv1.3")

    def test_alpn_selects_http_1_1(self):
        with self.tls_socket(self.context(["h2", "http/1.1"])) as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        with self.tls_socket() as s:
            self.assertIsNone(s.selected_alpn_protocol())
        with self.assertRaises(ssl.SSLError) as cm:
            self.tls_socket(self.context(["h2"])).close()
        self.assertRegex(str(cm.exception), r"(?i)alert no application protocol",
                         str(cm.exception))

    def test_plain_http_on_the_tls_port_gets_no_answer(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=HTTP_TIMEOUT)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        got = b""
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        s.close()
        self.assertFalse(got.startswith(b"HTTP/"), got)
        self.server_still_fine()

    def test_a_silent_client_is_dropped_before_the_request_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=25)
        start = time.monotonic()
        try:
            s.sendall(b"\x16\x03\x01")   # the start of a ClientHello, then nothing
            self.assertEqual(s.recv(4096), b"")
        except ConnectionResetError:
            pass
        finally:
            s.close()
        self.assertLess(time.monotonic() - start, 20)

    def server_still_fine(self):
        r = self.client().get("/healthz")
        self.assertEqual(r.status, 200, r.describe())

    # -- redirect -----------------------------------------------------------------
    def test_redirect_listener_answers_301_to_https(self):
        self.assertIsNotNone(self.redirect_port, self.server.stdout_lines)
        cases = [
            ("chat.example", "/rooms/1?x=%E4%BD%A0", "https://chat.example:%d/rooms/1?x=%%E4%%BD%%A0"),
            ("chat.example:8080", "/", "https://chat.example:%d/"),
            ("[::1]:8080", "/api/me", "https://[::1]:%d/api/me"),
            ("127.0.0.1:%d" % self.redirect_port, "/ws", "https://127.0.0.1:%d/ws"),
        ]
        for host, path, location in cases:
            conn = http.client.HTTPConnection("127.0.0.1", self.redirect_port, timeout=HTTP_TIMEOUT)
            try:
                conn.request("GET", path, headers={"Host": host})
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 301, (host, path))
                self.assertEqual(resp.getheader("Location"), location % self.server.port)
                self.assertIsNone(resp.getheader("Strict-Transport-Security"))
                self.assertIsNone(resp.getheader("Set-Cookie"))
            finally:
                conn.close()
        # No Host, or a Host that is not a host name: 400.
        for host_line in (b"", b"Host: a b\r\n", b"Host: evil/\r\n"):
            s = socket.create_connection(("127.0.0.1", self.redirect_port), timeout=HTTP_TIMEOUT)
            s.sendall(b"GET / HTTP/1.1\r\n" + host_line + b"\r\n")
            got = s.recv(4096)
            s.close()
            self.assertTrue(got.startswith(b"HTTP/1.1 400"), got)
        # Nothing else is served there.
        conn = http.client.HTTPConnection("127.0.0.1", self.redirect_port, timeout=HTTP_TIMEOUT)
        conn.request("POST", "/api/login", body=b"{}", headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        self.assertEqual(resp.status, 301)

    # -- reload -----------------------------------------------------------------
    def reloads(self):
        return self.server.stderr_text(tail=1 << 20).count("TLS certificate reloaded")

    @async_test(timeout=90)
    async def test_sighup_reloads_the_certificate_without_dropping_connections(self):
        c, _, _, _ = self.new_user("hup")
        lobby = self.lobby_id(c)
        ws = await WS.connect(self.server, c, label="before")
        self.assertEqual((await ws.join(lobby)).get("type"), "joined")
        old = self.https()
        old.request("GET", "/healthz")
        self.assertEqual(old.getresponse().read() != b"", True)
        before = peer_cn(old.sock)
        after = "chatd test B" if before == "chatd test A" else "chatd test A"

        install(self.cert_dirs[after], self.live)
        n = self.reloads()
        os.kill(self.server.proc.pid, signal.SIGHUP)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: eventually(lambda: self.reloads() > n, desc="the reload log line"))

        with self.tls_socket() as s:
            self.assertEqual(peer_cn(s), after)
        # What was open before goes on, with the old certificate.
        old.request("GET", "/healthz")
        resp = old.getresponse()
        self.assertEqual(resp.status, 200)
        resp.read()
        self.assertEqual(peer_cn(old.sock), before)
        old.close()
        ack = await ws.send_msg(lobby, "still here after the reload")
        self.assertEqual(ack.get("type"), "ack", ack)
        await ws.close()

        # A key that does not load: logged, and the certificate stays.
        with open(os.path.join(self.live, "key.pem"), "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n")
        os.kill(self.server.proc.pid, signal.SIGHUP)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: eventually(lambda: "TLS certificate not reloaded" in
                                     self.server.stderr_text(tail=1 << 20),
                                     desc="the failed reload's log line"))
        with self.tls_socket() as s:
            self.assertEqual(peer_cn(s), after)
        install(self.cert_dirs[after], self.live)

    # -- the output cap holds for TLS connections ---------------------------------
    @async_test(timeout=240)
    async def test_a_slow_tls_reader_is_closed_with_1013(self):
        c_slow, _, _, _ = self.new_user("tslow")
        c_fast, _, _, _ = self.new_user("tfast")
        lobby = self.lobby_id(c_fast)
        slow = RawWS(self.server.port, sid=c_slow.sid, label="slow", ssl_context=self.context())
        slow.send_json({"type": "join", "room": lobby})
        slow.expect(lambda f: f.get("type") == "joined", timeout=10)
        fast = await WS.connect(self.server, c_fast, label="fast")
        self.assertEqual((await fast.join(lobby)).get("type"), "joined")
        text = "慢" * 3000
        dropped = False
        # Small windows, and the log looked at after each: the slow client
        # must start reading within the server's closing time (10 s) of
        # being given up on, however slow the machine.
        window = 10
        for start in range(0, 3000, window):
            for i in range(start, start + window):
                await fast.send({"type": "send", "room": lobby, "text": text, "cid": "t%d" % i})
            for _ in range(window):
                f = await fast.expect(lambda f: f.get("type") in ("ack", "error"), timeout=60)
                if f.get("type") == "error" and f.get("code") == "rate_limited":
                    await asyncio.sleep(0.5)
                fast.take(lambda f: f.get("type") == "message")
            if "slow consumer" in self.server.stderr_text(tail=1 << 20):
                dropped = True
                break
        self.assertTrue(dropped, "the slow TLS reader was never dropped")
        code, _ = await asyncio.get_running_loop().run_in_executor(
            None, lambda: slow.expect_close(timeout=60))
        self.assertEqual(code, 1013)
        slow.close()
        await fast.close()


class TrustedProxyTest(ServerTestCase):
    """Plain chatd behind an HTTPS proxy at 127.0.0.2 (trusted); 127.0.0.1
    is any other client.  Failed logins per client address: 5 (no delay
    per account, so that only the address counts)."""

    SERVER_ARGS = ["--trusted-proxy", "127.0.0.2", "--login-ip-limit", "5/600",
                   "--login-backoff", "0:0:0"]

    def call(self, source, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=HTTP_TIMEOUT,
                                          source_address=(source, 0))
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def login(self, source, name, password, headers):
        status, headers, body = self.call(source, "POST", "/api/login",
                                          {"username": name, "password": password}, headers)
        cookie = [v for k, v in headers if k.lower() == "set-cookie"]
        hsts_values = [v for k, v in headers if k.lower() == "strict-transport-security"]
        return status, cookie, hsts_values

    def test_forwarded_proto_https_from_the_proxy_only(self):
        _, name, password, _ = self.new_user("px", login=False)
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"}
        status, cookie, hsts_values = self.login("127.0.0.2", name, password, https)
        self.assertEqual(status, 200)
        self.assertEqual(len(cookie), 1, cookie)
        self.assertIs(parse_set_cookie(cookie[0])[2].get("secure"), True, cookie)
        self.assertEqual(len(hsts_values), 1, hsts_values)
        # The same headers from anyone else: ignored.
        status, cookie, hsts_values = self.login("127.0.0.1", name, password, https)
        self.assertEqual(status, 200)
        self.assertNotIn("secure", parse_set_cookie(cookie[0])[2], cookie)
        self.assertEqual(hsts_values, [])
        # The proxy saying http.
        status, cookie, hsts_values = self.login("127.0.0.2", name, password,
                                                 {"X-Forwarded-Proto": "http"})
        self.assertEqual(status, 200)
        self.assertNotIn("secure", parse_set_cookie(cookie[0])[2], cookie)
        self.assertEqual(hsts_values, [])

    def test_the_forwarded_client_is_what_the_login_limit_counts(self):
        bad = "not the password"

        def tries(source, client):
            h = {"X-Forwarded-For": "6.6.6.6, " + client} if client else {}
            return self.login(source, uniq("nobody"), bad, h)[0]

        # Through the proxy: five wrong passwords from one client...
        self.assertEqual([tries("127.0.0.2", "203.0.113.5") for _ in range(5)], [401] * 5)
        self.assertEqual(tries("127.0.0.2", "203.0.113.5"), 429)
        # ...do not lock out another client behind the same proxy.
        self.assertEqual(tries("127.0.0.2", "203.0.113.6"), 401)
        # Without trust the header counts for nothing: the peer is the key.
        self.assertEqual([tries("127.0.0.1", "192.0.2.%d" % i) for i in range(5)], [401] * 5)
        self.assertEqual(tries("127.0.0.1", "192.0.2.99"), 429)


if __name__ == "__main__":
    unittest.main()
