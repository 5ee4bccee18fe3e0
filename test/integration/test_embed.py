"""The chat as a library: `cmake --install` of this build into a temporary
prefix, examples/host.c built against the installed package (with CMake's
find_package and with pkg-config), and the host program driven from
outside: its own endpoint, the chat under /chat/ (on the chat's listener
and through connections the host adopts), host authentication, the bot's
posts, the stored-message callback, and two chat servers in one process.

Needs CHATD (the build's chatd, whose folder is the build folder)."""

import asyncio
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import types
import unittest

import websockets

from chatlib import WS, Client, chatd_path, eventually, uniq

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
READY_RE = re.compile(r"host ready chat=(\d+) http=(\d+) second=(-?\d+)")
BUILD_TIMEOUT = 600


def run(cmd, timeout=BUILD_TIMEOUT, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       env=env, text=True)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stdout[-6000:]))
    return p.stdout


def sanitized(build):
    """The build's CHAT_SANITIZE: the host must then link the sanitizers too."""
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            return "CHAT_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


class Host:
    """The example host program: started, its output read line by line."""

    def __init__(self, exe, tmp, name, env, second=True):
        self.lines = []
        self.q = queue.Queue()
        args = [exe, "--store", "sqlite:" + os.path.join(tmp, name + "-a.db"), "--every", "1"]
        if second:
            args += ["--second-store", "sqlite:" + os.path.join(tmp, name + "-b.db")]
        self.err = open(os.path.join(tmp, name + ".stderr"), "w+")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     env=env)
        self.reader = threading.Thread(target=self._reader, daemon=True)
        self.reader.start()
        line = self.wait_line(READY_RE, 60)
        m = READY_RE.search(line)
        self.chat, self.http, self.second = int(m.group(1)), int(m.group(2)), int(m.group(3))

    def _reader(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def _drain(self):
        while True:
            try:
                line = self.q.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self.lines.append(line)

    def wait_line(self, pattern, timeout=30):
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            self._drain()
            for line in self.lines[seen:]:
                if rx.search(line):
                    return line
            seen = len(self.lines)
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self._drain()
                for line in self.lines[seen:]:
                    if rx.search(line):
                        return line
                raise AssertionError("no line matching %r; output:\n%s\nstderr:\n%s" % (
                    rx.pattern, "\n".join(self.lines[-30:]), self.stderr()))
            time.sleep(0.05)

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()[-6000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.stderr_at_exit = self.stderr()
        self.err.close()
        self.reader.join(10)
        self.proc.stdout.close()
        return rc


def at(port, prefix="/chat"):
    """What chatlib's clients need of a server, for a mounted chat."""
    return types.SimpleNamespace(port=port, ssl_context=None,
                                 ws_url="ws://127.0.0.1:%d%s/ws" % (port, prefix))


class EmbedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="chat-embed-")
        cls.build = os.path.dirname(chatd_path())
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run(["cmake", "--install", cls.build, "--prefix", cls.prefix])
        cls.libdir = None
        for d in ("lib", "lib64", "lib/x86_64-linux-gnu"):
            if os.path.exists(os.path.join(cls.prefix, d, "pkgconfig", "chat.pc")):
                cls.libdir = os.path.join(cls.prefix, d)
        flags = "-fsanitize=address,undefined" if sanitized(cls.build) else ""
        cls.env = dict(os.environ)
        cls.env["LD_LIBRARY_PATH"] = cls.libdir or ""
        cls.env["PKG_CONFIG_PATH"] = os.path.join(cls.libdir or "", "pkgconfig")
        cls.env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        # find_package(chat)
        hb = os.path.join(cls.tmp, "build-host")
        run(["cmake", "-S", os.path.join(SOURCE, "examples"), "-B", hb,
             "-DCMAKE_PREFIX_PATH=" + cls.prefix, "-DCMAKE_C_FLAGS=" + flags], env=cls.env)
        run(["cmake", "--build", hb], env=cls.env)
        cls.host_cmake = os.path.join(hb, "host")
        # find_package(chat) with the static library
        hs = os.path.join(cls.tmp, "build-host-static")
        run(["cmake", "-S", os.path.join(SOURCE, "examples"), "-B", hs, "-DHOST_STATIC=ON",
             "-DCMAKE_PREFIX_PATH=" + cls.prefix, "-DCMAKE_C_FLAGS=" + flags], env=cls.env)
        run(["cmake", "--build", hs], env=cls.env)
        cls.host_static = os.path.join(hs, "host")
        # pkg-config
        pc = run(["pkg-config", "--cflags", "--libs", "chat"], env=cls.env).split()
        public = run(["pkg-config", "--variable=publicdir", "chat"], env=cls.env).strip()
        cls.host_pc = os.path.join(cls.tmp, "host-pc")
        run(["cc", "-o", cls.host_pc, os.path.join(SOURCE, "examples", "host.c")] + pc +
            ['-DCHAT_PUBLIC_DIR="%s"' % public] + (flags.split() if flags else []), env=cls.env)
        cls.host = Host(cls.host_cmake, cls.tmp, "cmake", cls.env)

    @classmethod
    def tearDownClass(cls):
        rc = cls.host.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        # A clean stop: both servers closed everything (the sanitizers, when
        # built in, found nothing to say).
        if rc != 0 or "host stopped" not in cls.host.lines[-3:] + [
                l for l in cls.host.q.queue if l]:
            raise AssertionError("the host did not stop cleanly (%r): %s" % (
                rc, cls.host.stderr_at_exit))

    # -- the installed package ------------------------------------------------

    def test_installed_files(self):
        p = self.prefix
        self.assertIsNotNone(self.libdir, "chat.pc installed")
        self.assertTrue(os.path.isfile(os.path.join(p, "include", "chat.h")))
        self.assertTrue(os.path.isfile(os.path.join(self.libdir, "libchat.a")))
        self.assertTrue(os.path.isfile(os.path.join(self.libdir, "libchat.so.1.0.0")))
        self.assertEqual(os.readlink(os.path.join(self.libdir, "libchat.so.1")), "libchat.so.1.0.0")
        self.assertTrue(os.path.islink(os.path.join(self.libdir, "libchat.so")))
        self.assertTrue(os.path.isfile(os.path.join(self.libdir, "cmake", "chat", "chatConfig.cmake")))
        self.assertTrue(os.path.isfile(os.path.join(p, "share", "chat", "public", "index.html")))
        dyn = run(["objdump", "-p", os.path.join(self.libdir, "libchat.so.1.0.0")])
        self.assertRegex(dyn, r"SONAME\s+libchat\.so\.1\b")
        # only chat.h's functions are exported (llhttp and the internals stay inside)
        syms = run(["nm", "-D", "--defined-only", os.path.join(self.libdir, "libchat.so.1")])
        names = {l.split()[-1].split("@")[0] for l in syms.splitlines() if l.strip()}
        self.assertIn("chat_server_post", names)
        self.assertIn("chat_config_init", names)
        self.assertFalse([n for n in names if n.startswith("llhttp") or n.startswith("chat_store_")],
                         names)
        needed = run(["objdump", "-p", self.host_cmake])
        self.assertRegex(needed, r"NEEDED\s+libchat\.so\.1\b")
        # the static build needs no libchat.so, and runs (its usage message)
        self.assertNotRegex(run(["objdump", "-p", self.host_static]), r"NEEDED\s+libchat")
        p = subprocess.run([self.host_static], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60, env=self.env)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("usage: host --store URL", p.stderr)
        with open(os.path.join(self.libdir, "pkgconfig", "chat.pc")) as f:
            pc = f.read()
        self.assertIn("Requires.private:", pc)
        self.assertIn("sqlite3", pc)
        self.assertIn("hiredis", pc)

    # -- the host's own parts ---------------------------------------------------

    def test_host_endpoint(self):
        c = Client(at(self.host.http))
        r = c.get("/hello")
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn("hello from the host", r.text())
        r = c.get("/nothing")
        self.assertEqual(r.status, 404)

    def test_bot_posts_and_callback(self):
        self.host.wait_line(r"^posted bot message \d+$", 30)
        self.host.wait_line(r"^stored chat message \d+ room \d+ from bot: bot tick \d+$", 30)

    # -- the chat under /chat/ ----------------------------------------------------

    def test_prefix_routes(self):
        c = Client(at(self.host.chat))
        r = c.get("/chat")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "/chat/")
        r = c.get("/chat/")
        self.assertEqual(r.status, 200)
        self.assertIn("js/main.js", r.text())
        self.assertNotIn('"/vendor/', r.text())
        r = c.get("/chat/js/http.js")
        self.assertEqual(r.status, 200)
        for path in ("/api/me", "/ws", "/", "/chatter/api/me", "/js/main.js"):
            self.assertEqual(c.get(path).status, 404, path)
        self.assertEqual(c.get("/chat/api/me").status, 401)
        self.assertEqual(c.get("/chat/healthz").status, 200)

    def register(self, server, prefix="/chat"):
        c = Client(server)
        name = uniq("em")
        r = c.post(prefix + "/api/register", {"username": name, "password": "pw-" + name * 2,
                                              "email": name + "@example.org"})
        self.assertIn(r.status, (200, 201), r.describe())
        r = c.post(prefix + "/api/login", {"username": name, "password": "pw-" + name * 2})
        self.assertEqual(r.status, 200, r.describe())
        return c, name

    def lobby(self, c, prefix="/chat"):
        r = c.get(prefix + "/api/rooms")
        self.assertEqual(r.status, 200, r.describe())
        return next(x["id"] for x in r.json()["rooms"] if x["name"] == "lobby")

    def test_chat_under_prefix(self):
        srv = at(self.host.chat)
        c, name = self.register(srv)
        room = self.lobby(c)
        # a file: its url in the answer is relative to the mount point
        r = c.request("POST", "/chat/api/files?name=a.txt", raw_body=b"hello file",
                      headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.describe())
        url = r.json()["file"]["url"]
        self.assertTrue(url.startswith("/files/"), url)
        g = c.get("/chat" + url)
        self.assertEqual(g.status, 200, g.describe())
        self.assertEqual(g.body, b"hello file")

        async def body():
            ws = await WS.connect(srv, client=c)
            j = await ws.join(room)
            self.assertEqual(j["type"], "joined", j)
            text = "hello under a prefix " + uniq("t")
            ack = await ws.send_msg(room, text)
            self.assertEqual(ack["type"], "ack", ack)
            await ws.expect(lambda f: f.get("type") == "message" and f.get("text") == text, 15)
            # the bot's posts reach members like any message
            bot = await ws.expect(lambda f: f.get("type") == "message" and f.get("sender") == "bot"
                                  and f.get("text", "").startswith("bot tick"), 30)
            self.assertEqual(bot["room"], room)
            await ws.close()
            return ack["id"], text

        mid, text = asyncio.run(asyncio.wait_for(body(), 120))
        self.host.wait_line(r"^stored chat message %d room %d from %s: %s$" % (
            mid, room, re.escape(name), re.escape(text)), 30)

    def test_host_auth_through_adopted_connection(self):
        """A host session (the host's cookie) is enough for the chat's API and
        WebSocket, here through the host's own port (adopted connections)."""
        h = Client(at(self.host.http))
        name = uniq("hu")
        r = h.get("/login?name=" + name)
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn("host_sid", h.cookies)
        r = h.get("/chat/api/me")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["user"]["username"], name)
        # the chat's own port takes the host's cookie too
        r = Client(at(self.host.chat), sid=None).request(
            "GET", "/chat/api/me", headers={"Cookie": "host_sid=" + h.cookies["host_sid"]})
        self.assertEqual(r.json()["user"]["username"], name)
        # a name the registration rules refuse is nobody, as is a name too long
        for bad in ("no/slash", "x" * 60):
            hb = Client(at(self.host.http))
            self.assertEqual(hb.get("/login?name=" + bad).status, 200)
            self.assertEqual(hb.get("/chat/api/me").status, 401, bad)
        # a made-up host cookie is nobody
        r = Client(at(self.host.http)).request("GET", "/chat/api/me",
                                               headers={"Cookie": "host_sid=0123"})
        self.assertEqual(r.status, 401)
        # a user the host made cannot log in with a password
        r = Client(at(self.host.chat)).post("/chat/api/login", {"username": name, "password": "!"})
        self.assertEqual(r.status, 401, r.describe())
        room = self.lobby(h)

        async def body():
            conn = await asyncio.wait_for(websockets.connect(
                "ws://127.0.0.1:%d/chat/ws" % self.host.http,
                extra_headers={"Cookie": "host_sid=" + h.cookies["host_sid"]},
                max_size=None, ping_interval=None, open_timeout=20, close_timeout=5), 25)
            ws = WS(conn, "host-ws")
            j = await ws.join(room)
            self.assertEqual(j["type"], "joined", j)
            text = "through the host " + uniq("t")
            ack = await ws.send_msg(room, text)
            self.assertEqual(ack["type"], "ack", ack)
            await ws.expect(lambda f: f.get("type") == "message" and f.get("text") == text, 15)
            await ws.close()
            return text

        text = asyncio.run(asyncio.wait_for(body(), 120))
        self.host.wait_line(r"^stored chat message \d+ room %d from %s: %s$" % (
            room, re.escape(name), re.escape(text)), 30)

    def test_dm_reported_to_callback(self):
        """Two users of the host become friends and DM: the callback sees the DM."""
        users = []
        for base in ("da", "db"):
            h = Client(at(self.host.http))
            name = uniq(base)
            self.assertEqual(h.get("/login?name=" + name).status, 200)
            # the chat knows a host user from its first request on
            self.assertEqual(h.get("/chat/api/me").status, 200)
            users.append((h, name))
        (ha, na), (hb, nb) = users
        self.assertEqual(ha.post("/chat/api/friends", {"username": nb}).json()["state"], "outgoing")
        self.assertEqual(hb.post("/chat/api/friends", {"username": na}).json()["state"], "friends")

        async def body():
            conn = await asyncio.wait_for(websockets.connect(
                "ws://127.0.0.1:%d/chat/ws" % self.host.chat,
                extra_headers={"Cookie": "host_sid=" + ha.cookies["host_sid"]},
                max_size=None, ping_interval=None, open_timeout=20, close_timeout=5), 25)
            ws = WS(conn, "dm-ws")
            text = "a direct message " + uniq("t")
            await ws.send({"type": "dm", "to": nb, "text": text, "cid": "d1"})
            ack = await ws.expect(lambda f: f.get("cid") == "d1", 15)
            self.assertEqual(ack["type"], "ack", ack)
            await ws.close()
            return ack["id"], text

        mid, text = asyncio.run(asyncio.wait_for(body(), 120))
        self.host.wait_line(r"^stored chat message %d room 0 from %s to %s: %s$" % (
            mid, re.escape(na), re.escape(nb), re.escape(text)), 30)

    # -- two servers in one process ------------------------------------------------

    def test_two_servers(self):
        self.assertGreater(self.host.second, 0)
        second = at(self.host.second, prefix="")
        c2, name2 = self.register(second, prefix="")
        self.assertEqual(c2.get("/api/me").json()["user"]["username"], name2)
        # the stores are apart: this user is unknown to the first server
        r = Client(at(self.host.chat)).post("/chat/api/login", {"username": name2,
                                                                "password": "pw-" + name2 * 2})
        self.assertEqual(r.status, 401, r.describe())
        c1, name1 = self.register(at(self.host.chat))
        room2 = self.lobby(c2, prefix="")

        async def body():
            ws2 = await WS.connect(second, client=c2)
            self.assertEqual((await ws2.join(room2))["type"], "joined")
            text = "on the second server " + uniq("t")
            ack = await ws2.send_msg(room2, text)
            self.assertEqual(ack["type"], "ack", ack)
            await ws2.close()
            return text

        text = asyncio.run(asyncio.wait_for(body(), 120))
        self.host.wait_line(r"^stored second message \d+ room \d+ from %s: %s$" % (
            re.escape(name2), re.escape(text)), 30)
        self.assertEqual(c1.get("/chat/api/me").json()["user"]["username"], name1)

    # -- the pkg-config build --------------------------------------------------------

    def test_pkg_config_build_runs(self):
        h = Host(self.host_pc, self.tmp, "pc", self.env, second=False)
        try:
            self.assertEqual(h.second, -1)
            r = Client(at(h.http)).get("/hello")
            self.assertEqual(r.status, 200)
            self.assertEqual(Client(at(h.chat)).get("/chat/").status, 200)
            h.wait_line(r"^stored chat message \d+ room \d+ from bot: bot tick 1$", 30)
        finally:
            rc = h.stop()
        self.assertEqual(rc, 0, h.stderr_at_exit)
        h.wait_line(r"^host stopped$", 5)


if __name__ == "__main__":
    unittest.main()
