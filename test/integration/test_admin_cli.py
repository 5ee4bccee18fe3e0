"""The administration commands of the chatd binary: chatd user
add|passwd|promote|demote|ban|unban|list, room add|list|rename|delete,
db migrate|backup, export and help, with their outputs and exit codes
(0 done, 1 failed or refused, 2 bad command line or no password, 3 no such
user or room, 4 not possible with this store).

A chatd server runs on the same store meanwhile: what the commands change
is checked through its API where the server reads it at each request
(passwords, roles, bans and their sessions), and messages sent through it
are what export and backup must carry.  The backup is taken while a client
keeps sending, then restored into a second server.

The tests run against SQLite, and, when CHAT_TEST_MYSQL_URL names a MariaDB
or MySQL server (scripts/test.sh starts one), again against a fresh database
there."""

import asyncio
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from chatlib import WS, Client, Server, eventually, run_async, uniq
from chatlib import mariadb_exec as _mariadb

ADMIN = ("cli_admin", "admin-password-1", "cli-admin@example.org")
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schema")
COMMANDS = ["user add", "user passwd", "user promote", "user demote", "user ban", "user unban",
            "user list", "room add", "room list", "room rename", "room delete", "db migrate",
            "db backup", "export", "help"]
USER_KEYS = {"id", "username", "display_name", "email", "role", "banned", "created_ms"}
EXPORT_PAGE = 500   # src/admin_cli.c: messages read per page


def known_migrations(kind):
    return len([f for f in os.listdir(os.path.join(SCHEMA_DIR, kind)) if f.endswith(".sql")])


class AdminCliTest(unittest.TestCase):
    MYSQL = False   # the MySQL variant below sets it

    @classmethod
    def setUpClass(cls):
        cls.db_names = []
        cls.tmp = tempfile.mkdtemp(prefix="chatd-admin-cli-")
        store = cls.new_mysql_store() if cls.MYSQL else None
        # No frame rate limit: the export test sends more than a page of
        # messages at once.
        cls.server = Server(store=store, env={"CHAT_WS_RATE": "0"})
        try:
            cls.server.add_user(*ADMIN, admin=True)
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            cls._drop_dbs()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        try:
            if srv.alive():
                rc = srv.stop()
                if rc != 0:
                    raise AssertionError("chatd exited with %r on SIGTERM%s" % (rc, srv.diag()))
        finally:
            srv.cleanup()
            cls._drop_dbs()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def new_mysql_store(cls):
        """A fresh, empty MySQL database; returns its store URL."""
        url = os.environ["CHAT_TEST_MYSQL_URL"]
        name = "chat_test_cli_%d_%s" % (os.getpid(), os.urandom(3).hex())
        _mariadb(url, "CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                 % name, cls.tmp)
        cls.db_names.append(name)
        u = urllib.parse.urlsplit(url)
        return urllib.parse.urlunsplit(u._replace(path="/" + name))

    @classmethod
    def _drop_dbs(cls):
        for name in cls.db_names:
            _mariadb(os.environ["CHAT_TEST_MYSQL_URL"], "DROP DATABASE IF EXISTS `%s`" % name,
                     cls.tmp)
        cls.db_names = []

    def setUp(self):
        if not self.server.alive():
            self.fail("chatd is not running%s" % self.server.diag())

    # -- helpers --------------------------------------------------------------
    def chatd(self, *args, stdin=b"", store_args=None, timeout=60):
        """Runs chatd with args and the server's store; returns the
        CompletedProcess with stdout and stderr decoded."""
        if store_args is None:
            store_args = self.server.store_args()
        cp = subprocess.run([self.server.binary] + list(args) + list(store_args),
                            input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=timeout)
        cp.stdout = cp.stdout.decode("utf-8")
        cp.stderr = cp.stderr.decode("utf-8")
        return cp

    def ok(self, *args, **kw):
        cp = self.chatd(*args, **kw)
        self.assertEqual(cp.returncode, 0, "chatd %s: exit %d\n%s%s" % (
            " ".join(args), cp.returncode, cp.stdout, cp.stderr))
        return cp

    def fails(self, code, *args, **kw):
        cp = self.chatd(*args, **kw)
        self.assertEqual(cp.returncode, code, "chatd %s: exit %d, want %d\n%s%s" % (
            " ".join(args), cp.returncode, code, cp.stdout, cp.stderr))
        self.assertTrue(cp.stderr.startswith("chatd: "), cp.stderr)
        return cp

    def assert_no_secrets(self, cp, *secrets):
        for s in secrets + ("$argon2",):
            self.assertNotIn(s, cp.stdout)
            self.assertNotIn(s, cp.stderr)

    def users(self):
        cp = self.ok("user", "list", "--json")
        rows = [json.loads(line) for line in cp.stdout.splitlines()]
        for r in rows:
            self.assertEqual(set(r), USER_KEYS, r)
        return {r["username"]: r for r in rows}

    def rooms(self):
        cp = self.ok("room", "list", "--json")
        rows = [json.loads(line) for line in cp.stdout.splitlines()]
        for r in rows:
            self.assertEqual(set(r), {"id", "name", "topic", "visibility"}, r)
        return rows

    def login(self, name, password):
        c = Client(self.server)
        return c, c.login(name, password)

    def add_user(self, name, password, *extra):
        cp = self.ok("user", "add", name, "--email", "x@example.org", *extra,
                     stdin=(password + "\n").encode())
        self.assert_no_secrets(cp, password)
        return cp

    # -- help and the command line ---------------------------------------------
    def test_help_lists_every_command(self):
        for args in (["help"], ["--help"], ["user", "list", "--help"]):
            cp = subprocess.run([self.server.binary] + args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            out = cp.stdout.decode()
            for cmd in COMMANDS:
                self.assertIn("chatd " + cmd, out, (args, cmd))
            self.assertIn("exit codes", out)
            self.assertIn("--db PATH", out)
            self.assertIn("--store URL", out)

    def test_bad_command_lines_exit_2(self):
        for args in (["user"], ["user", "frobnicate", "x"], ["room"], ["room", "move", "a"],
                     ["db"], ["db", "vacuum"], ["user", "passwd"], ["user", "ban"],
                     ["room", "add"], ["room", "rename", "only-one"], ["export"],
                     ["db", "backup"], ["user", "ban", "a", "b"], ["user", "list", "--bogus"],
                     ["room", "add", "r", "--topic"], ["export", "lobby", "--since", "abc"],
                     ["export", "lobby", "--since", "-1"], ["user", "promote", "x", "--json"]):
            cp = self.fails(2, *args)
            self.assertIn("chatd help", cp.stderr, args)

    # -- users ----------------------------------------------------------------
    def test_user_add_list_and_identity(self):
        name = "张三" + uniq("")[-6:]
        self.add_user(name, "zhang-password-1", "--admin")
        users = self.users()
        self.assertIn(name, users)
        u = users[name]
        self.assertEqual(u["role"], "admin")
        self.assertIs(u["banned"], False)
        self.assertEqual(u["display_name"], name)
        self.assertEqual(u["email"], "x@example.org")
        self.assertIsInstance(u["id"], int)
        self.assertLess(abs(u["created_ms"] - time.time() * 1000), 600000)
        # The same name again, or a look-alike of it, is taken.
        cp = self.fails(1, "user", "add", name, stdin=b"another-password\n")
        self.assertIn("taken", cp.stderr)
        # The table: a header and the user's row with its columns.
        cp = self.ok("user", "list")
        lines = cp.stdout.splitlines()
        self.assertEqual(lines[0].split()[:3], ["ID", "USERNAME", "DISPLAY"])
        row = [line for line in lines if (" %s " % name) in line]
        self.assertEqual(len(row), 1, cp.stdout)
        self.assertEqual(row[0].split()[:5], [str(u["id"]), name, name, "admin", "active"])
        # The user can log in with the password given on stdin.
        _, r = self.login(name, "zhang-password-1")
        self.assertEqual(r.status, 200, r.describe())

    def test_passwd_signs_out_and_hides_the_password(self):
        name = uniq("pw")
        self.add_user(name, "old-password-1")
        c, r = self.login(name, "old-password-1")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(c.get("/api/me").status, 200)
        # Looked up as at login: the full-width form finds the user.
        wide = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in name.upper())
        cp = self.ok("user", "passwd", wide, stdin=b"new-password-2\n")
        self.assertIn(name, cp.stdout)
        self.assert_no_secrets(cp, "new-password-2")
        self.assertEqual(c.get("/api/me").status, 401)
        self.assertEqual(self.login(name, "old-password-1")[1].status, 401)
        self.assertEqual(self.login(name, "new-password-2")[1].status, 200)
        # No password, a NUL in it, or a short one: refused, nothing changes.
        self.fails(2, "user", "passwd", name, stdin=b"")
        cp = self.fails(2, "user", "passwd", name, stdin=b"abc\x00defghij\n")
        self.assertIn("NUL", cp.stderr)
        cp = self.fails(1, "user", "passwd", name, stdin=b"short\n")
        self.assertIn("8 to 128", cp.stderr)
        self.assertEqual(self.login(name, "new-password-2")[1].status, 200)
        cp = self.fails(3, "user", "passwd", "nobody-" + uniq(""), stdin=b"whatever-pass\n")
        self.assertIn("no user", cp.stderr)

    def test_password_prompt_on_a_terminal_does_not_echo(self):
        import pty
        import select
        import termios
        name = uniq("tty")
        self.add_user(name, "tty-password-1")
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([self.server.binary, "user", "passwd", name]
                                    + self.server.store_args(), stdin=slave,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                eventually(lambda: not (termios.tcgetattr(slave)[3] & termios.ECHO), timeout=30,
                           desc="echo turned off on the terminal")
                os.write(master, b"tty-password-2\n")
                out, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            shown = b""
            while select.select([master], [], [], 0.2)[0]:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                shown += chunk
        finally:
            os.close(master)
            os.close(slave)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(b"Password: ", err)
        for text in (shown, out, err):
            self.assertNotIn(b"tty-password-2", text)
        self.assertEqual(self.login(name, "tty-password-2")[1].status, 200)

    def test_store_from_the_environment(self):
        env = dict(os.environ)
        env.pop("CHAT_DB", None)
        env.pop("CHAT_STORE", None)
        if self.MYSQL:
            env["CHAT_STORE"] = self.server.store
        else:
            env["CHAT_DB"] = self.server.db
        cp = subprocess.run([self.server.binary, "user", "list", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        names = [json.loads(line)["username"] for line in cp.stdout.decode().splitlines()]
        self.assertIn(ADMIN[0], names)

    def test_promote_and_demote(self):
        name = uniq("Role")
        self.add_user(name, "role-password-1")
        c, r = self.login(name, "role-password-1")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(c.get("/api/admin/users").status, 403)
        cp = self.ok("user", "promote", name.upper())
        self.assertIn("administrator", cp.stdout)
        self.assertEqual(self.users()[name]["role"], "admin")
        # The server reads the role with the session: the same login is an
        # administrator now.
        self.assertEqual(c.get("/api/admin/users").status, 200)
        self.ok("user", "demote", name)
        self.assertEqual(self.users()[name]["role"], "user")
        self.assertEqual(c.get("/api/admin/users").status, 403)
        for sub in ("promote", "demote", "ban", "unban"):
            cp = self.fails(3, "user", sub, "ghost-" + uniq(""))
            self.assertIn("no user", cp.stderr)

    def test_ban_revokes_sessions_like_the_api(self):
        name = "李四" + uniq("")[-6:]
        self.add_user(name, "ban-password-1")
        c, r = self.login(name, "ban-password-1")
        self.assertEqual(r.status, 200, r.describe())
        cp = self.ok("user", "ban", name)
        self.assertIn("banned " + name, cp.stdout)
        self.assertEqual(c.get("/api/me").status, 401)
        _, r = self.login(name, "ban-password-1")
        self.assertEqual(r.status, 403, r.describe())
        self.assertEqual(r.json()["error"]["code"], "banned")
        self.assertIs(self.users()[name]["banned"], True)
        self.assertIn("banned", [line for line in self.ok("user", "list").stdout.splitlines()
                                 if name in line][0].split())
        # The API shows the ban too.
        admin = Client(self.server)
        self.assertEqual(admin.login(ADMIN[0], ADMIN[1]).status, 200)
        listed = {u["username"]: u for u in admin.get("/api/admin/users").json()["users"]}
        self.assertIs(listed[name]["banned"], True)
        self.ok("user", "unban", name)
        self.assertIs(self.users()[name]["banned"], False)
        self.assertEqual(self.login(name, "ban-password-1")[1].status, 200)

    # -- rooms ----------------------------------------------------------------
    def test_rooms(self):
        name = "茶水间-" + uniq("")[-6:]
        cp = self.ok("room", "add", name, "--topic", "闲聊 \"quoted\"")
        self.assertIn(name, cp.stdout)
        rooms = {r["name"]: r for r in self.rooms()}
        self.assertEqual(rooms[name]["topic"], "闲聊 \"quoted\"")
        rid = rooms[name]["id"]
        self.assertIn("lobby", rooms)
        # A running server lists the new room and lets people chat in it.
        admin = Client(self.server)
        self.assertEqual(admin.login(ADMIN[0], ADMIN[1]).status, 200)
        listed = {r["name"]: r for r in admin.get("/api/rooms").json()["rooms"]}
        self.assertEqual(listed[name]["id"], rid)

        async def chat():
            ws = await WS.connect(self.server, client=admin)
            joined = await ws.join(rid)
            self.assertEqual(joined["type"], "joined", joined)
            ack = await ws.send_msg(rid, "在新房间里")
            self.assertEqual(ack["type"], "ack", ack)
        run_async(chat(), timeout=60)
        # The table has the room with its id, name and topic.
        line = [ln for ln in self.ok("room", "list").stdout.splitlines() if name in ln]
        self.assertEqual(line[0].split()[:4], [str(rid), name, "public", "闲聊"])
        # Taken (ASCII case aside), invalid names and topics are refused.
        self.fails(1, "room", "add", name)
        self.fails(1, "room", "add", "LOBBY")
        for bad in ("", " padded", "x" * 65, "tab\there"):
            cp = self.fails(1, "room", "add", bad)
            self.assertIn("room name", cp.stderr)
        self.fails(1, "room", "add", uniq("r"), "--topic", "t" * 1001)
        # Rename by name, then by id.
        new = "会议室-" + uniq("")[-6:]
        cp = self.ok("room", "rename", name, new)
        self.assertIn(new, cp.stdout)
        rooms = {r["id"]: r for r in self.rooms()}
        self.assertEqual(rooms[rid]["name"], new)
        self.ok("room", "rename", str(rid), new + "b")
        self.assertEqual({r["id"]: r for r in self.rooms()}[rid]["name"], new + "b")
        self.fails(1, "room", "rename", str(rid), "lobby")
        self.fails(1, "room", "rename", str(rid), " bad")
        self.fails(3, "room", "rename", "no-such-room-" + uniq(""), "x")
        # A private room is listed by its title, and renamed by id.
        title = "项目组-" + uniq("")[-6:]
        r = admin.post("/api/rooms", {"name": title, "visibility": "private"})
        self.assertEqual(r.status, 201, r.describe())
        pid = r.json()["room"]["id"]
        self.assertEqual({k: v for k, v in {r["id"]: r for r in self.rooms()}[pid].items()},
                         {"id": pid, "name": title, "topic": "", "visibility": "private"})
        self.ok("room", "rename", str(pid), title + "二")
        self.assertEqual(admin.get("/api/rooms/%d" % pid).json()["room"]["name"], title + "二")
        # Delete by id; then it is gone.
        cp = self.ok("room", "delete", str(rid))
        self.assertIn("deleted room %d" % rid, cp.stdout)
        self.assertNotIn(rid, [r["id"] for r in self.rooms()])
        self.fails(3, "room", "delete", str(rid))
        self.fails(3, "room", "delete", new + "b")
        self.fails(3, "export", new + "b")

    def test_missing_sqlite_database_is_not_created(self):
        if self.MYSQL:
            self.skipTest("SQLite only")
        path = os.path.join(self.tmp, "missing", "none.db")
        for args in (["user", "list"], ["user", "ban", "x"], ["room", "list"],
                     ["room", "delete", "x"], ["export", "lobby"]):
            cp = self.fails(1, *args, store_args=["--db", path])
            self.assertIn("no database", cp.stderr)
        self.assertFalse(os.path.exists(path))

    # -- export ---------------------------------------------------------------
    async def send_many(self, ws, room, texts):
        """Sends every text without waiting, then waits for every ack;
        returns the acks in order."""
        cids = [uniq("c") for _ in texts]
        for cid, text in zip(cids, texts):
            await ws.send({"type": "send", "room": room, "text": text, "cid": cid})
        acks = []
        for cid in cids:
            f = await ws.expect(lambda f, cid=cid: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                                timeout=60, desc="ack for %s" % cid)
            self.assertEqual(f["type"], "ack", f)
            acks.append(f)
        return acks

    def test_export_streams_pages_as_json_lines(self):
        admin = Client(self.server)
        self.assertEqual(admin.login(ADMIN[0], ADMIN[1]).status, 200)
        room_name = "导出-" + uniq("")[-6:]
        r = admin.post("/api/rooms", {"name": room_name, "topic": "t"})
        self.assertEqual(r.status, 201, r.describe())
        room = r.json()["room"]["id"]
        special = ["你好，世界 🌏", "line one\nline two", "quote \" backslash \\ tab\there",
                   "<b>html</b> & é"]
        texts = special + ["message %d" % i for i in range(EXPORT_PAGE + 30)]

        async def body():
            ws = await WS.connect(self.server, client=admin)
            joined = await ws.join(room)
            self.assertEqual(joined["type"], "joined", joined)
            return await self.send_many(ws, room, texts)
        acks = run_async(body(), timeout=240)
        ids = [a["id"] for a in acks]

        cp = self.ok("export", room_name, timeout=120)
        lines = cp.stdout.split("\n")
        self.assertEqual(lines[-1], "")
        msgs = [json.loads(line) for line in lines[:-1]]
        self.assertEqual([m["id"] for m in msgs], ids)
        self.assertEqual([m["text"] for m in msgs], texts)
        self.assertEqual([m["seq"] for m in msgs], list(range(1, len(texts) + 1)))
        for m in msgs:
            self.assertEqual(set(m), {"id", "room", "seq", "sender", "text", "ts"}, m)
            self.assertEqual(m["room"], room)
            self.assertEqual(m["sender"], ADMIN[0])
        self.assertIn("exported %d messages" % len(texts), cp.stderr)
        # The objects are the API's, byte for byte as JSON values.
        r = admin.get("/api/rooms/%d/messages?limit=20" % room)
        self.assertEqual(r.status, 200, r.describe())
        api = r.json()["messages"]
        self.assertEqual(msgs[-len(api):], api)
        # UTF-8 on the wire, not \\u escapes.
        self.assertIn("你好，世界 🌏", cp.stdout)
        # By id, and --since: only the later ones.
        cp = self.ok("export", str(room), "--since", str(ids[EXPORT_PAGE]))
        later = [json.loads(line) for line in cp.stdout.splitlines()]
        self.assertEqual([m["id"] for m in later], ids[EXPORT_PAGE + 1:])
        cp = self.ok("export", str(room), "--since", str(ids[-1]))
        self.assertEqual(cp.stdout, "")
        # An empty room exports nothing; an unknown one is not found.
        r = admin.post("/api/rooms", {"name": uniq("empty-"), "topic": ""})
        self.assertEqual(self.ok("export", str(r.json()["room"]["id"])).stdout, "")
        cp = self.fails(3, "export", "no-room-" + uniq(""))
        self.assertIn("no room", cp.stderr)

    # -- db -------------------------------------------------------------------
    def fresh_store_args(self):
        if self.MYSQL:
            return ["--store", self.new_mysql_store()]
        return ["--db", os.path.join(tempfile.mkdtemp(dir=self.tmp), "sub", "fresh.db")]

    def test_db_migrate(self):
        known = known_migrations("mysql" if self.MYSQL else "sqlite")
        args = self.fresh_store_args()
        cp = self.ok("db", "migrate", store_args=args)
        self.assertIn("schema version before: 0\n", cp.stdout)
        self.assertIn("schema version after: %d\n" % known, cp.stdout)
        self.assertIn("applied %d migrations" % known, cp.stdout)
        cp = self.ok("db", "migrate", store_args=args)
        self.assertIn("schema version before: %d\n" % known, cp.stdout)
        self.assertIn("schema version after: %d\n" % known, cp.stdout)
        self.assertIn("up to date", cp.stdout)
        # The migrated database is usable by the other commands.
        self.ok("room", "add", "迁移", store_args=args)
        self.assertIn("迁移", self.ok("room", "list", store_args=args).stdout)
        # The server's own database is up to date too.
        self.assertIn("up to date", self.ok("db", "migrate").stdout)
        # A database newer than this chatd is refused, and left alone.
        if self.MYSQL:
            db = urllib.parse.urlsplit(args[1]).path.lstrip("/")
            _mariadb(os.environ["CHAT_TEST_MYSQL_URL"],
                     "INSERT INTO `%s`.schema_version VALUES (99, '099_future.sql', 0)" % db, self.tmp)
        else:
            with sqlite3.connect(args[1]) as con:
                con.execute("PRAGMA user_version = 99")
        cp = self.fails(1, "db", "migrate", store_args=args)
        self.assertIn("newer", cp.stderr)
        self.fails(1, "user", "list", store_args=args)

    def test_store_errors_exit_1_without_secrets(self):
        if not self.MYSQL:
            cp = self.fails(1, "user", "list", store_args=["--store", "mysql:nothing"])
            return
        u = urllib.parse.urlsplit(os.environ["CHAT_TEST_MYSQL_URL"])
        secret = "Wr0ng-Secret-" + uniq("")
        bad = urllib.parse.urlunsplit(u._replace(
            netloc="%s:%s@%s:%d" % (u.username, secret, u.hostname, u.port or 3306)))
        for args in (["user", "list"], ["db", "migrate"], ["room", "add", "x"]):
            cp = self.fails(1, *args, store_args=["--store", bad])
            self.assert_no_secrets(cp, secret)

    def test_backup_on_mysql_gives_advice(self):
        if not self.MYSQL:
            self.skipTest("MySQL only")
        out = os.path.join(self.tmp, "never.db")
        cp = self.fails(4, "db", "backup", out)
        self.assertIn("mariadb-dump", cp.stderr)
        self.assertIn("mysqldump", cp.stderr)
        self.assertIn("--single-transaction", cp.stderr)
        self.assertIn(self.db_names[0], cp.stderr)
        password = urllib.parse.urlsplit(self.server.store).password
        if password:
            self.assert_no_secrets(cp, password)
        self.assertFalse(os.path.exists(out))

    def test_backup_while_the_server_writes_and_restore(self):
        if self.MYSQL:
            self.skipTest("SQLite only (MySQL: mariadb-dump)")
        admin = Client(self.server)
        self.assertEqual(admin.login(ADMIN[0], ADMIN[1]).status, 200)
        room_name = "备份-" + uniq("")[-6:]
        r = admin.post("/api/rooms", {"name": room_name, "topic": "t"})
        self.assertEqual(r.status, 201, r.describe())
        room = r.json()["room"]["id"]
        backups = [os.path.join(self.tmp, "backup-%d.db" % i) for i in range(3)]

        async def body():
            ws = await WS.connect(self.server, client=admin)
            self.assertEqual((await ws.join(room))["type"], "joined")
            acked = []
            stop = asyncio.Event()

            async def sender():
                i = 0
                while not stop.is_set():
                    ack = await ws.send_msg(room, "备份消息 %d" % i)
                    self.assertEqual(ack["type"], "ack", ack)
                    acked.append(ack["id"])
                    i += 1

            task = asyncio.ensure_future(sender())
            before = []
            during = 0   # messages acked while a backup ran
            try:
                for path in backups:
                    # Some messages stored before each backup starts.
                    want = len(acked) + 5
                    deadline = time.monotonic() + 60
                    while len(acked) < want:
                        self.assertLess(time.monotonic(), deadline, "messages are not acked")
                        self.assertFalse(task.done() and task.exception(), task)
                        await asyncio.sleep(0.05)
                    before.append(list(acked))
                    n0 = len(acked)
                    proc = await asyncio.create_subprocess_exec(
                        self.server.binary, "db", "backup", path, "--db", self.server.db,
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                    out, err = await asyncio.wait_for(proc.communicate(), 60)
                    during += len(acked) - n0
                    self.assertEqual(proc.returncode, 0, err)
                    self.assertIn("backed up", out.decode())
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)
            return before, acked, during
        before, acked, during = run_async(body(), timeout=240)
        # The server went on storing messages while the backups ran.
        self.assertGreater(during, 0)

        for path, acked_before in zip(backups, before):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            self.assertFalse(os.path.exists(path + "-wal"))
            with open(path, "rb") as f:
                header = f.read(20)
            self.assertEqual(header[:16], b"SQLite format 3\x00")
            self.assertEqual(header[18:20], b"\x01\x01")   # a rollback-journal file, no WAL
            con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
            try:
                self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
                rows = con.execute("SELECT id, seq FROM messages WHERE room_id = ? ORDER BY seq",
                                   (room,)).fetchall()
            finally:
                con.close()
            ids = [r[0] for r in rows]
            # One snapshot: every message acked before the backup began, and
            # the room's numbers without a gap.
            self.assertTrue(set(acked_before) <= set(ids), (len(acked_before), len(ids)))
            self.assertEqual([r[1] for r in rows], list(range(1, len(rows) + 1)))
            self.assertTrue(set(ids) <= set(acked), "a backup holds a message never acked")
        # The server kept working throughout.
        self.assertTrue(self.server.alive(), self.server.diag())
        self.assertEqual(self.client_history_len(admin, room), min(len(acked), 50))

        # An existing file is kept unless --force.
        cp = self.fails(1, "db", "backup", backups[0])
        self.assertIn("exists", cp.stderr)
        size = os.path.getsize(backups[0])
        self.ok("db", "backup", backups[0], "--force")
        self.assertGreaterEqual(os.path.getsize(backups[0]), size)
        cp = self.fails(1, "db", "backup", os.path.join(self.tmp, "x.db"),
                        store_args=["--db", os.path.join(self.tmp, "none", "no.db")])
        self.assertIn("no database", cp.stderr)
        self.fails(1, "db", "backup", os.path.join(self.tmp, "no-such-dir", "x.db"))

        # Restore: a second server on a copy of the last backup has the
        # messages and the accounts.
        restored = Server(env={"CHAT_WS_RATE": "0"})
        try:
            shutil.copy(backups[-1], restored.db)
            restored.start()
            c = Client(restored)
            self.assertEqual(c.login(ADMIN[0], ADMIN[1]).status, 200)
            r = c.get("/api/rooms/%d/messages?limit=50" % room)
            self.assertEqual(r.status, 200, r.describe())
            got = [m["id"] for m in r.json()["messages"]]
            self.assertEqual(got, sorted(got))
            self.assertTrue(set(before[-1][-5:]) <= set(got) or len(got) == 50, got)
            self.assertTrue(all(m["text"].startswith("备份消息 ") for m in r.json()["messages"]))
            cp = self.ok("export", room_name, store_args=["--db", restored.db])
            exported = [json.loads(line)["id"] for line in cp.stdout.splitlines()]
            self.assertTrue(set(before[-1]) <= set(exported))
        finally:
            if restored.alive():
                restored.stop()
            restored.cleanup()

    def client_history_len(self, client, room):
        r = client.get("/api/rooms/%d/messages?limit=50" % room)
        self.assertEqual(r.status, 200, r.describe())
        return len(r.json()["messages"])


@unittest.skipUnless(os.environ.get("CHAT_TEST_MYSQL_URL"), "CHAT_TEST_MYSQL_URL is not set")
class AdminCliMySQLTest(AdminCliTest):
    MYSQL = True


if __name__ == "__main__":
    unittest.main()
