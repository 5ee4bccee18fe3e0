"""The configuration file, the environment and the flags; --check-config; the
log (text and JSON, levels, request and connection ids, the access log); and
SIGHUP, which reads the settings again (log level, TLS certificate)."""
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest

from chatlib import (HERE, WS, Client, Server, async_test, chatd_path, eventually, uniq)

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SAMPLE = os.path.join(ROOT, "deploy", "chatd.conf")
MAKE_CERT = os.path.join(ROOT, "scripts", "make-cert.sh")
CHECK_RE = re.compile(r"^([a-z-]+) = (.*?)    \((default|(file|env|flag) (.+))\)$")

# Variables of settings that the test's own environment must not leak in.
SETTING_VARS = ["CHAT_LISTEN", "CHAT_DB", "CHAT_STORE", "CHAT_REDIS", "CHAT_WS_RATE",
                "CHAT_MAX_CONNS", "CHAT_HASH_QUEUE", "CHAT_METRICS_TOKEN", "CHAT_METRICS_ACCESS",
                "CHAT_LOG", "CHAT_LOG_LEVEL", "CHAT_LOG_FORMAT", "CHAT_ACCESS_LOG", "CHAT_CONFIG",
                "CHAT_SMTP", "CHAT_TLS_CERT", "CHAT_TLS_KEY", "CHAT_MAX_WS_USER"]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update(extra)
    return env


class Dir:
    """A temporary folder for configuration files."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="chatd-cfg-")

    def write(self, name, text):
        p = os.path.join(self.path, name)
        with open(p + ".tmp", "w") as f:
            f.write(text)
        os.replace(p + ".tmp", p)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def run_chatd(args, env=None, timeout=60):
    cp = subprocess.run([chatd_path()] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, env=env if env is not None else clean_env(),
                        timeout=timeout)
    return cp.returncode, cp.stdout.decode(), cp.stderr.decode()


def check_config(args, env=None):
    """Runs --check-config; returns {key: (value, source, where)}."""
    rc, out, err = run_chatd(args + ["--check-config"], env)
    assert rc == 0, "exit %d\nstdout: %s\nstderr: %s" % (rc, out, err)
    settings = {}
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        m = CHECK_RE.match(line)
        assert m, "not a setting line: %r" % line
        src = m.group(4) or "default"
        settings[m.group(1)] = (m.group(2), src, m.group(5))
    return settings, out


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = Dir()

    def tearDown(self):
        self.dir.cleanup()

    def test_flags_over_environment_over_file_over_defaults(self):
        conf = self.dir.write("chatd.conf", (
            "# chatd\n"
            "listen = 127.0.0.1:9999\n"
            "[limits]\n"
            "ws-rate = 1:2 ; the file's\n"
            "max-conns = 11\n"
            "hash-queue = 33\n"))
        env = clean_env(CHAT_WS_RATE="3:4", CHAT_MAX_CONNS="22")
        s, _ = check_config(["--config", conf, "--ws-rate", "5:6"], env)
        self.assertEqual(s["ws-rate"], ("5:6", "flag", "--ws-rate"))
        self.assertEqual(s["max-conns"], ("22", "env", "CHAT_MAX_CONNS"))
        self.assertEqual(s["hash-queue"], ("33", "file", conf + ":6"))
        self.assertEqual(s["listen"], ("127.0.0.1:9999", "file", conf + ":2"))
        self.assertEqual(s["max-ws-user"], ("20", "default", None))
        self.assertEqual(s["log-level"], ("info", "default", None))
        # CHAT_CONFIG names the file as --config does; --flag=value works too.
        s, out = check_config(["--max-conns=44"], clean_env(CHAT_CONFIG=conf))
        self.assertIn("# configuration file " + conf, out)
        self.assertEqual(s["max-conns"], ("44", "flag", "--max-conns"))
        self.assertEqual(s["ws-rate"], ("1:2", "file", conf + ":4"))
        # Without any: the defaults.
        s, _ = check_config([])
        self.assertTrue(all(v[1] == "default" for v in s.values()), s)

    def test_check_config_masks_secrets(self):
        conf = self.dir.write("chatd.conf", (
            "store = mysql://chat:Sup3rS3cretDb@db.example:3306/chat\n"
            "redis = redis://:R3disPw@127.0.0.1:6379/0\n"
            "smtp = smtp://mailer:Sm7pPw@127.0.0.1:25\n"
            "metrics-token = MetricsT0ken\n"
            "tls-key = /etc/chatd/key.pem\n"
            "tls-cert = /etc/chatd/cert.pem\n"))
        s, out = check_config(["--config", conf])
        for secret in ("Sup3rS3cretDb", "R3disPw", "Sm7pPw", "MetricsT0ken"):
            self.assertNotIn(secret, out)
        self.assertEqual(s["store"][0], "mysql://chat:***@db.example:3306/chat")
        self.assertEqual(s["redis"][0], "redis://:***@127.0.0.1:6379/0")
        self.assertEqual(s["smtp"][0], "smtp://mailer:***@127.0.0.1:25")
        self.assertEqual(s["metrics-token"][0], "***")
        self.assertEqual(s["tls-key"], ("/etc/chatd/key.pem", "file", conf + ":5"))
        # From the environment and a flag too.
        s, out = check_config(["--metrics-token", "FlagT0ken"],
                              clean_env(CHAT_STORE="mysql://u:EnvDbPw@h/d"))
        self.assertNotIn("FlagT0ken", out)
        self.assertNotIn("EnvDbPw", out)
        self.assertEqual(s["store"], ("mysql://u:***@h/d", "env", "CHAT_STORE"))
        self.assertEqual(s["metrics-token"], ("***", "flag", "--metrics-token"))

    def test_errors_name_the_file_and_line_and_exit_2(self):
        cases = [
            ("listen = 127.0.0.1:0\n\nno-such-key = 1\n", ":3: unknown key 'no-such-key'"),
            ("# ok\nws-rate = fast\n", ":2: bad ws-rate fast"),
            ("max-conns = 1\nmax-conns-ip = -4\n", ":2: bad max-conns-ip -4"),
            ("log-level = loud\n", ":1: bad log-level loud"),
            ("log-format = xml\n", ":1: bad log-format xml"),
            ("listen = nowhere\n", ":1: bad listen nowhere"),
            ("access-log = maybe\n", ":1: bad access-log maybe"),
            ("[server]\nthis line has no equals sign\n", ":2: not a 'key = value' line"),
            ("config = other.conf\n", ":1: unknown key 'config'"),
        ]
        for text, want in cases:
            conf = self.dir.write("bad.conf", text)
            for extra in (["--check-config"], []):
                rc, out, err = run_chatd(["--config", conf, "--listen", "127.0.0.1:0"] + extra
                                         if "listen" not in text else ["--config", conf] + extra)
                self.assertEqual(rc, 2, (text, extra, out, err))
                self.assertIn(conf + want, err, (text, err))
        rc, _, err = run_chatd(["--config", os.path.join(self.dir.path, "missing.conf"),
                                "--check-config"])
        self.assertEqual(rc, 2)
        self.assertIn("missing.conf: cannot read", err)
        # A bad value from the environment or a flag names the variable or flag.
        rc, _, err = run_chatd(["--check-config"], clean_env(CHAT_WS_RATE="x:y"))
        self.assertEqual(rc, 2)
        self.assertIn("bad CHAT_WS_RATE=x:y", err)
        rc, _, err = run_chatd(["--check-config", "--log-level", "chatty"])
        self.assertEqual(rc, 2)
        self.assertIn("bad --log-level chatty", err)
        # A good flag wins over a bad file value? No: the file is read first and
        # must be valid INI, but a value it sets that a flag replaces is not
        # checked (only the value in effect is).
        conf = self.dir.write("over.conf", "ws-rate = nonsense\n")
        s, _ = check_config(["--config", conf, "--ws-rate", "9:9"])
        self.assertEqual(s["ws-rate"], ("9:9", "flag", "--ws-rate"))

    def test_the_sample_file_lists_every_key(self):
        s, _ = check_config([])
        with open(SAMPLE) as f:
            sample = f.read()
        listed = set(re.findall(r"^;([a-z-]+) = ", sample, re.M))
        self.assertEqual(listed, set(s), "keys of deploy/chatd.conf vs --check-config")
        # As shipped everything is commented out: the defaults.
        s2, _ = check_config(["--config", SAMPLE])
        self.assertTrue(all(v[1] == "default" for v in s2.values()))
        # Uncommented, every key parses and comes from the file.
        conf = self.dir.write("all.conf", re.sub(r"^;([a-z])", r"\1", sample, flags=re.M))
        s3, out = check_config(["--config", conf])
        self.assertTrue(all(v[1] == "file" for v in s3.values()), out)
        self.assertNotIn("CHANGE-ME", out)
        self.assertNotIn("PASSWORD", out)


class PrecedenceLiveTest(unittest.TestCase):
    """The same levels, seen in what a running chatd does: /metrics with
    metrics-access = token answers only the token in effect."""

    def setUp(self):
        self.dir = Dir()
        self.conf = self.dir.write("chatd.conf",
                                   "[metrics]\nmetrics-access = token\nmetrics-token = FileTok\n")

    def tearDown(self):
        self.dir.cleanup()

    def metrics_status(self, server, token):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return Client(server).get("/metrics", headers=headers).status

    def serve(self, args, env):
        srv = Server(extra_args=["--config", self.conf] + args,
                     env=dict({k: None for k in SETTING_VARS}, **env))
        self.addCleanup(srv.cleanup)
        srv.start()
        return srv

    def test_token_in_effect_by_level(self):
        cases = [
            ([], {}, "FileTok"),
            ([], {"CHAT_METRICS_TOKEN": "EnvTok"}, "EnvTok"),
            (["--metrics-token", "FlagTok"], {"CHAT_METRICS_TOKEN": "EnvTok"}, "FlagTok"),
        ]
        for args, env, good in cases:
            srv = self.serve(args, env)
            self.assertEqual(self.metrics_status(srv, None), 403)
            for tok in ("FileTok", "EnvTok", "FlagTok"):
                self.assertEqual(self.metrics_status(srv, tok), 200 if tok == good else 403,
                                 (args, env, tok))
            self.assertEqual(srv.stop(), 0)
            log = "\n".join(run_lines(srv))
            for tok in ("FileTok", "EnvTok", "FlagTok"):
                self.assertNotIn(tok, log)
        # The environment's access mode beats the file's: open needs no token.
        srv = self.serve([], {"CHAT_METRICS_ACCESS": "open"})
        self.assertEqual(self.metrics_status(srv, None), 200)
        self.assertEqual(srv.stop(), 0)


def run_lines(server):
    """The stderr lines of the server's last run."""
    text = server.stderr_text(tail=1 << 24)
    lines = text.split("\n")
    start = max(i for i, l in enumerate(lines) if l.startswith("=== start "))
    return [l for l in lines[start + 1:] if l.strip()]


class JSONLogTest(unittest.TestCase):
    def test_every_line_is_json_with_ids_and_no_secrets(self):
        srv = Server(extra_args=["--log-format", "json", "--log-level", "debug", "--access-log"],
                     env={k: None for k in SETTING_VARS if k not in ("CHAT_DB",)})
        self.addCleanup(srv.cleanup)
        srv.start()
        name = uniq("logu")
        password = "pw-\"quoted\"-S3cretPass"
        c = Client(srv)
        r = c.register(name, password, name + "@example.org")
        self.assertEqual(r.status, 201, r.describe())
        r = c.login(name, password)
        self.assertEqual(r.status, 200, r.describe())
        sid = c.sid
        self.assertTrue(sid)
        req_ids = set()
        for path in ("/api/me", "/api/rooms", "/healthz?token=QueryS3cret", "/no/such\x7f"
                     .replace("\x7f", "%7F"), "/"):
            r = c.get(path, headers={"Authorization": "Bearer AuthS3cret"})
            rid = r.header("X-Request-Id")
            self.assertRegex(rid or "", r"^[0-9a-f]{16}$", r.describe())
            req_ids.add(rid)
        # A client's own X-Request-Id is not taken (ids are always chatd's).
        r = c.get("/healthz", headers={"X-Request-Id": "forged\"id"})
        self.assertNotEqual(r.header("X-Request-Id"), "forged\"id")
        req_ids.add(r.header("X-Request-Id"))
        self.assertEqual(len(req_ids), 6)

        async def chat():
            ws = await WS.connect(srv, c, label="log")
            rooms = c.get("/api/rooms").json()["rooms"]
            lobby = [x["id"] for x in rooms if x["name"] == "lobby"][0]
            await ws.join(lobby)
            ack = await ws.send_msg(lobby, "hello \"log\"\n\ttab ünïcode")
            self.assertEqual(ack.get("type"), "ack", ack)
            await ws.close()
        asyncio.run(chat())
        self.assertEqual(srv.stop(), 0)

        lines = run_lines(srv)
        objs = []
        for line in lines:
            try:
                objs.append(json.loads(line))
            except ValueError as e:
                self.fail("not JSON: %r (%s)" % (line, e))
        for o in objs:
            self.assertIn(o["level"], ("debug", "info", "warn", "error"), o)
            self.assertRegex(o["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        access = [o for o in objs if o.get("kind") == "access"]
        self.assertTrue(req_ids <= {o["req"] for o in access}, (req_ids, access))
        for o in access:
            self.assertIsInstance(o["status"], int)
            self.assertIsInstance(o["bytes"], int)
            self.assertIsInstance(o["ms"], (int, float))
            self.assertIsInstance(o["conn"], int)
            self.assertNotIn("?", o["path"])
            self.assertTrue(o["peer"].startswith("127.0.0.1:"), o)
        paths = {(o["method"], o["path"], o["status"]) for o in access}
        self.assertIn(("GET", "/api/me", 200), paths)
        self.assertIn(("GET", "/healthz", 200), paths)
        self.assertIn(("POST", "/api/login", 200), paths)
        self.assertIn(("GET", "/ws", 101), paths)
        ws_lines = [o for o in objs if "WebSocket of" in o.get("msg", "")]
        self.assertTrue(ws_lines, "no WebSocket line")
        self.assertTrue(all(isinstance(o.get("conn"), int) for o in ws_lines), ws_lines)
        conn_lines = [o for o in objs if o.get("msg", "").startswith("conn ")]
        self.assertTrue(conn_lines and all("conn" in o for o in conn_lines))
        text = "\n".join(lines)
        for secret in (password, "S3cretPass", sid, "AuthS3cret", "QueryS3cret"):
            self.assertNotIn(secret, text)


class TextLogTest(unittest.TestCase):
    def test_access_log_in_text_and_off_by_default(self):
        srv = Server(extra_args=[], env={k: None for k in SETTING_VARS if k != "CHAT_DB"})
        self.addCleanup(srv.cleanup)
        srv.start()
        Client(srv).get("/healthz")
        self.assertEqual(srv.stop(), 0)
        self.assertFalse([l for l in run_lines(srv) if " access " in l])
        srv.env["CHAT_ACCESS_LOG"] = "on"
        srv.start()
        r = Client(srv).get("/healthz?x=1")
        rid = r.header("X-Request-Id")
        self.assertEqual(srv.stop(), 0)
        lines = [l for l in run_lines(srv) if " access " in l]
        self.assertTrue(any(re.search(r" info conn=\d+ req=%s access GET /healthz 200 \d+ "
                                      r"[\d.]+ms peer=127\.0\.0\.1:\d+$" % rid, l)
                            for l in lines), lines)
        for l in run_lines(srv):
            self.assertRegex(l, r"^\S+Z (debug|info|warn|error) ")


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.dir = Dir()

    def tearDown(self):
        self.dir.cleanup()

    def test_sighup_changes_the_log_level_and_format(self):
        conf = self.dir.write("chatd.conf", "log-level = warn\n")
        srv = Server(extra_args=["--config", conf],
                     env={k: None for k in SETTING_VARS if k != "CHAT_DB"})
        self.addCleanup(srv.cleanup)
        srv.start()
        Client(srv).get("/healthz")
        log = lambda: "\n".join(run_lines(srv))
        self.assertNotIn(": accepted", log())
        # A bad file: an error, and nothing changes.
        self.dir.write("chatd.conf", "log-level = debug\nbogus = 1\n")
        srv.proc.send_signal(signal.SIGHUP)
        eventually(lambda: "reload: " + conf + ":2: unknown key 'bogus'" in log(), timeout=30,
                   desc="the failed reload's error")
        Client(srv).get("/healthz")
        self.assertNotIn(": accepted", log())
        self.dir.write("chatd.conf", "log-level = debug\nlog-format = json\n")
        srv.proc.send_signal(signal.SIGHUP)
        eventually(lambda: '"msg":"reload: log level debug, format json' in log(), timeout=30,
                   desc="the reload's line")
        Client(srv).get("/healthz")
        eventually(lambda: '"level":"debug"' in log() and ": accepted" in log(), timeout=30,
                   desc="a debug line after the reload")
        # A bad value on reload: logged with its line, the settings stay.
        self.dir.write("chatd.conf", "log-level = warn\n\nlog-format = yaml\n")
        srv.proc.send_signal(signal.SIGHUP)
        eventually(lambda: conf + ":3: bad log-format yaml" in log(), timeout=30,
                   desc="the bad value's error")
        n = log().count(": accepted")
        Client(srv).get("/healthz")
        eventually(lambda: log().count(": accepted") > n, timeout=30, desc="still debug")
        self.assertEqual(srv.stop(), 0)

    def test_sighups_in_a_row_and_a_stop_during_a_reload(self):
        """The files are read off the loop; SIGHUPs that come while one is
        read make one more reload after it (the last file wins), and a stop
        right after a SIGHUP exits cleanly (nothing leaks)."""
        conf = self.dir.write("chatd.conf", "log-level = warn\n")
        srv = Server(extra_args=["--config", conf],
                     env={k: None for k in SETTING_VARS if k != "CHAT_DB"})
        self.addCleanup(srv.cleanup)
        srv.start()
        log = lambda: "\n".join(run_lines(srv))
        for level in ("error", "info", "warn", "debug"):
            self.dir.write("chatd.conf", "log-level = %s\n" % level)
            srv.proc.send_signal(signal.SIGHUP)
        eventually(lambda: "reload: log level debug" in log(), timeout=30, desc="the last file's reload")
        n = log().count("reload: log level")
        self.assertTrue(1 <= n <= 4, log())
        Client(srv).get("/healthz")
        eventually(lambda: ": accepted" in log(), timeout=30, desc="a debug line after the reloads")
        for _ in range(3):
            srv.proc.send_signal(signal.SIGHUP)
        self.assertEqual(srv.stop(), 0, srv.diag())

    @async_test(timeout=120)
    async def test_sighup_changes_the_ws_rate(self):
        conf = self.dir.write("chatd.conf", "ws-rate = 0\n")
        srv = Server(extra_args=["--config", conf],
                     env={k: None for k in SETTING_VARS if k != "CHAT_DB"})
        self.addCleanup(srv.cleanup)
        srv.start()
        c = Client(srv)
        name = uniq("rate")
        self.assertEqual(c.register(name, "pw-" + name + "-x", name + "@example.org").status, 201)
        self.assertEqual(c.login(name, "pw-" + name + "-x").status, 200)
        lobby = [x["id"] for x in c.get("/api/rooms").json()["rooms"] if x["name"] == "lobby"][0]
        ws = await WS.connect(srv, c, label="rate")
        self.assertEqual((await ws.join(lobby)).get("type"), "joined")

        async def burst(tag, n):
            for i in range(n):
                await ws.send({"type": "send", "room": lobby, "text": tag, "cid": "%s%d" % (tag, i)})
            answers = {}
            while len(answers) < n:
                f = await ws.expect(lambda f: f.get("type") in ("ack", "error") and
                                    str(f.get("cid", "")).startswith(tag), timeout=20)
                answers[f["cid"]] = f["type"] if f["type"] == "ack" else f.get("code")
            return list(answers.values())

        self.assertEqual(await burst("free", 12), ["ack"] * 12)
        self.dir.write("chatd.conf", "ws-rate = 0.001:3\n")
        srv.proc.send_signal(signal.SIGHUP)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: eventually(
            lambda: "ws-rate 0.001:3" in srv.stderr_text(tail=1 << 20), timeout=30,
            desc="the reload line"))
        got = await burst("held", 8)
        self.assertEqual(got.count("ack"), 3, got)
        self.assertEqual(got.count("rate_limited"), 5, got)
        await ws.close()
        self.assertEqual(srv.stop(), 0)

    def test_sighup_reloads_the_tls_certificate_from_the_config_file(self):
        certs = self.dir.path
        for label in ("A", "B"):
            subprocess.run([MAKE_CERT, os.path.join(certs, label), "cfg " + label], check=True,
                           timeout=60)
        live = os.path.join(certs, "live")
        os.makedirs(live)

        def install(label):
            for name in ("cert.pem", "key.pem"):
                shutil.copyfile(os.path.join(certs, label, name), os.path.join(live, name + ".n"))
                os.replace(os.path.join(live, name + ".n"), os.path.join(live, name))
        install("A")
        conf = self.dir.write("chatd.conf", "[tls]\ntls-cert = %s\ntls-key = %s\n" % (
            os.path.join(live, "cert.pem"), os.path.join(live, "key.pem")))
        srv = Server(extra_args=["--config", conf],
                     env={k: None for k in SETTING_VARS if k != "CHAT_DB"})
        self.addCleanup(srv.cleanup)
        srv.start()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def served_cn():
            with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    der = s.getpeercert(binary_form=True)
            pem = ssl.DER_cert_to_PEM_cert(der)
            out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(),
                                 stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
            return out.strip().split("CN", 1)[1].lstrip(" =")

        self.assertEqual(served_cn(), "cfg A")
        old = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
        old = ctx.wrap_socket(old, server_hostname="127.0.0.1")
        install("B")
        srv.proc.send_signal(signal.SIGHUP)
        eventually(lambda: "TLS certificate reloaded" in srv.stderr_text(tail=1 << 20),
                   timeout=30, desc="the reload")
        self.assertEqual(served_cn(), "cfg B")
        # The connection made before goes on.
        old.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = old.recv(65536)
            if not chunk:
                break
            data += chunk
        old.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        # A broken key: an error, and B stays.
        with open(os.path.join(live, "key.pem"), "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nbroken\n")
        srv.proc.send_signal(signal.SIGHUP)
        eventually(lambda: "TLS certificate not reloaded" in srv.stderr_text(tail=1 << 20),
                   timeout=30, desc="the failed reload")
        self.assertEqual(served_cn(), "cfg B")
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
