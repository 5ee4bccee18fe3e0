"""Chatting through Debian's nginx with deploy/nginx.conf (its TLS lines
left out) in front of a chatd started with --trusted-proxy 127.0.0.1:
register and log in over HTTP, the WebSocket upgrade, a message sent and
received, the Origin check passing with the forwarded Host and failing with
another Origin, and the client's address (from X-Forwarded-For) in chatd's
log.  The test's clients connect from 127.0.0.2, which is no trusted proxy,
so that address is the client chatd must see."""

import asyncio
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import websockets

from chatlib import Server, async_test, eventually, uniq

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "..", "deploy", "nginx.conf")
CLIENT_ADDR = "127.0.0.2"


def find_nginx():
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_config(sample, nginx_port, chatd_port, prefix):
    """The sample as the test runs it: the upstream is the test's chatd, the
    HTTPS server listens on plain HTTP on a loopback port, the redirecting
    port-80 server and the TLS lines are left out.  Everything else (the
    proxy headers, timeouts, body size, the /metrics block) is the sample's."""
    text = sample.replace("server 127.0.0.1:8080;", "server 127.0.0.1:%d;" % chatd_port)
    text, n = re.subn(r"server \{\n    listen 80;.*?\n\}\n", "", text, flags=re.S)
    assert n == 1, "the sample's port-80 server block changed"
    text, n = re.subn(r"listen 443 ssl http2;", "listen 127.0.0.1:%d;" % nginx_port, text)
    assert n == 1, "the sample's listen 443 line changed"
    text = "\n".join(l for l in text.splitlines()
                     if not l.strip().startswith(("ssl_", "listen [::]:443")))
    tmp = lambda name: os.path.join(prefix, name)
    return """
daemon off;
master_process off;
worker_processes 1;
pid %s;
error_log %s info;
events { worker_connections 256; }
http {
    access_log %s;
    client_body_temp_path %s;
    proxy_temp_path %s;
    fastcgi_temp_path %s;
    uwsgi_temp_path %s;
    scgi_temp_path %s;
%s
}
""" % (tmp("nginx.pid"), tmp("error.log"), tmp("access.log"), tmp("body"), tmp("proxy"),
       tmp("fastcgi"), tmp("uwsgi"), tmp("scgi"), text)


class Proxied:
    """HTTP through nginx from CLIENT_ADDR, with a session cookie."""

    def __init__(self, port):
        self.port = port
        self.sid = None

    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                          source_address=(CLIENT_ADDR, 0))
        hdrs = {"Origin": self.origin}
        if self.sid:
            hdrs["Cookie"] = "sid=" + self.sid
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            for k, v in resp.getheaders():
                m = re.match(r"sid=([^;]*)", v) if k.lower() == "set-cookie" else None
                if m:
                    self.sid = m.group(1) or None
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), raw
        finally:
            conn.close()

    async def ws(self, origin=None):
        sock = socket.socket()
        sock.bind((CLIENT_ADDR, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        return await asyncio.wait_for(websockets.connect(
            "ws://127.0.0.1:%d/ws" % self.port, sock=sock, origin=origin or self.origin,
            extra_headers={"Cookie": "sid=" + (self.sid or "")}, ping_interval=None,
            max_size=None, close_timeout=5), 30)


async def expect(ws, pred, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching frame within %.0fs" % timeout)
        f = json.loads(await asyncio.wait_for(ws.recv(), left))
        if pred(f):
            return f


class NginxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = find_nginx()
        if cls.nginx is None:
            raise unittest.SkipTest("nginx not installed (Debian package nginx; scripts/deps.sh test)")
        probe = socket.socket()
        try:
            probe.bind((CLIENT_ADDR, 0))
        except OSError:
            raise unittest.SkipTest("cannot bind %s on this machine" % CLIENT_ADDR)
        finally:
            probe.close()
        cls.server = Server(extra_args=["--trusted-proxy", "127.0.0.1"],
                            env={"CHAT_LOG": "debug"})
        cls.prefix = tempfile.mkdtemp(prefix="chatd-nginx-")
        cls.proc = None
        try:
            cls.server.start()
            cls.port = free_port()
            with open(SAMPLE, encoding="utf-8") as f:
                conf = test_config(f.read(), cls.port, cls.server.port, cls.prefix)
            path = os.path.join(cls.prefix, "nginx.conf")
            with open(path, "w", encoding="utf-8") as f:
                f.write(conf)
            err = os.path.join(cls.prefix, "error.log")
            cp = subprocess.run([cls.nginx, "-t", "-p", cls.prefix, "-c", path, "-e", err],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            if cp.returncode != 0:
                raise AssertionError("nginx -t failed:\n%s\n%s" % (cp.stdout.decode(), conf))
            with open(os.path.join(cls.prefix, "stderr"), "wb") as errf:
                cls.proc = subprocess.Popen([cls.nginx, "-p", cls.prefix, "-c", path, "-e", err],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=errf)

            def answers():
                if cls.proc.poll() is not None:
                    raise AssertionError("nginx exited: %s" % cls.nginx_log())
                try:
                    return Proxied(cls.port).request("GET", "/healthz")[0] == 200
                except OSError:
                    return False
            eventually(answers, timeout=60, desc="nginx answering")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def nginx_log(cls):
        out = []
        for name in ("stderr", "error.log"):
            try:
                with open(os.path.join(cls.prefix, name), "rb") as f:
                    out.append(f.read()[-3000:].decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(out)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.proc is not None and cls.proc.poll() is None:
                cls.proc.terminate()
                try:
                    cls.proc.wait(30)
                except subprocess.TimeoutExpired:
                    cls.proc.kill()
                    cls.proc.wait(10)
            if cls.server.alive():
                rc = cls.server.stop()
                if rc != 0:
                    raise AssertionError("chatd exited with %r%s" % (rc, cls.server.diag()))
        finally:
            cls.server.cleanup()
            shutil.rmtree(cls.prefix, ignore_errors=True)

    def new_user(self, base):
        c = Proxied(self.port)
        name = uniq(base)
        password = "pw-%s-secret" % name
        status, _, raw = c.request("POST", "/api/register", {
            "username": name, "password": password, "email": name.lower() + "@example.org"})
        self.assertEqual(status, 201, raw)
        status, headers, raw = c.request("POST", "/api/login",
                                         {"username": name, "password": password})
        self.assertEqual(status, 200, raw)
        self.assertTrue(c.sid, headers)
        # Plain HTTP at the proxy: X-Forwarded-Proto http, so no Secure cookie.
        self.assertNotIn("secure", headers.get("set-cookie", "").lower())
        return c, name

    @async_test(timeout=120)
    async def test_chat_through_nginx(self):
        ca, na = self.new_user("nx")
        cb, nb = self.new_user("ny")
        status, _, raw = ca.request("GET", "/api/rooms")
        self.assertEqual(status, 200, raw)
        lobby = next(r["id"] for r in json.loads(raw)["rooms"] if r["name"] == "lobby")
        wa = await ca.ws()
        wb = await cb.ws()
        try:
            for ws in (wa, wb):
                await ws.send(json.dumps({"type": "join", "room": lobby}))
                await expect(ws, lambda f: f.get("type") == "joined")
            await wa.send(json.dumps({"type": "send", "room": lobby, "text": "through nginx 你好",
                                      "cid": "n1"}))
            ack = await expect(wa, lambda f: f.get("cid") == "n1")
            self.assertEqual(ack.get("type"), "ack", ack)
            got = await expect(wb, lambda f: f.get("type") == "message" and f.get("id") == ack["id"])
            self.assertEqual(got.get("text"), "through nginx 你好")
        finally:
            await wa.close()
            await wb.close()
        # chatd saw the client's address, not nginx's.
        def logged():
            return any(CLIENT_ADDR + " via 127.0.0.1:" in line and "WebSocket of " + na in line
                       for line in self.server.stderr_text(200000).splitlines())
        eventually(logged, timeout=20, desc="the client address in chatd's log")

    @async_test(timeout=60)
    async def test_wrong_origin_refused(self):
        c, _ = self.new_user("no")
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await c.ws(origin="http://evil.example.org")
        self.assertEqual(cm.exception.status_code, 403)
        # The same for an HTTP request with a body.
        status, _, raw = c.request("POST", "/api/logout", headers={"Origin": "http://evil.example.org"})
        self.assertEqual(status, 403, raw)
        # The right Origin, forwarded Host with its port: accepted.
        ws = await c.ws()
        await ws.close()

    def test_spoofed_forwarded_for_ignored(self):
        # The client claims an address; nginx appends the real one, which is
        # no trusted proxy, so chatd takes that one.
        c, name = self.new_user("ns")
        status, _, raw = c.request("GET", "/api/me", headers={"X-Forwarded-For": "203.0.113.9"})
        self.assertEqual(status, 200, raw)
        self.assertNotIn("203.0.113.9 via", self.server.stderr_text(200000))

    def test_metrics_not_proxied(self):
        status, _, _ = Proxied(self.port).request("GET", "/metrics")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main()
