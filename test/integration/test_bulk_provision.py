"""Bulk provisioning for load tests: `chatd user bulk` creates users P_0 ..
P_N-1 with one password (hashed once) in one transaction and, with
--sessions FILE, one session each, whose tokens it writes to FILE (mode
0600) as "NAME TOKEN" lines; `chatd room bulk` creates public rooms P-0 ..
P-N-1 and prints "ID NAME" lines.  Existing users and rooms are kept.

Checked through a running chatd on the same store: a minted token is a
valid sid cookie (GET /api/me, a WebSocket that joins, sends and gets its
ack), the password logs each user in, and the rooms are listed and
joinable.  Against SQLite, and again against MySQL/MariaDB when
CHAT_TEST_MYSQL_URL names a server (scripts/test.sh starts one)."""

import os
import stat
import subprocess
import unittest

from chatlib import WS, Client, StoreTestCase, run_async

PASSWORD = "bulk-password-1"


class BulkProvisionTest(StoreTestCase):
    SERVER_ARGS = ["--ws-rate", "0"]

    def cli(self, *args, password=None, timeout=120):
        cp = subprocess.run([self.server.binary] + list(args) + self.server.store_args(),
                            input=(password + "\n").encode() if password is not None else b"",
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return cp.returncode, cp.stdout.decode(), cp.stderr.decode()

    def read_sessions(self, path):
        with open(path) as f:
            lines = [ln.split() for ln in f.read().splitlines()]
        self.assertTrue(all(len(p) == 2 for p in lines), lines[:3])
        return lines

    def test_users_with_sessions(self):
        path = os.path.join(self.tmp, "sessions.txt")
        rc, out, err = self.cli("user", "bulk", "--prefix", "bk", "--count", "300",
                                "--sessions", path, password=PASSWORD)
        self.assertEqual(rc, 0, err)
        self.assertIn("300 created, 0 existed", out)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        lines = self.read_sessions(path)
        self.assertEqual([p[0] for p in lines], ["bk_%d" % i for i in range(300)])
        self.assertEqual(len({p[1] for p in lines}), 300)   # one distinct token each

        # A minted token is a session: the API knows its user ...
        for name, token in (lines[0], lines[151], lines[299]):
            me = Client(self.server, sid=token).get("/api/me")
            self.assertEqual(me.status, 200, me.describe())
            self.assertEqual(me.json()["user"]["username"], name)
        # ... and it opens a WebSocket that joins the lobby and sends.
        name, token = lines[42]

        async def chat():
            ws = await WS.connect(self.server, sid=token)
            joined = await ws.join(1)
            self.assertEqual(joined["type"], "joined", joined)
            ack = await ws.send_msg(1, "hello from a provisioned user")
            self.assertEqual(ack["type"], "ack", ack)
            await ws.close()
        run_async(chat())

        # The one password logs any of them in.
        for name in ("bk_0", "bk_299"):
            r = Client(self.server).login(name, PASSWORD)
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(Client(self.server).login(name, "wrong-password-1").status, 401)

        # Again with a larger count: the first 300 are kept (their sessions
        # too), the new ones created; every user gets a new session.
        path2 = os.path.join(self.tmp, "sessions2.txt")
        rc, out, err = self.cli("user", "bulk", "--prefix", "bk", "--count", "310",
                                "--sessions", path2, password=PASSWORD)
        self.assertEqual(rc, 0, err)
        self.assertIn("10 created, 300 existed", out)
        lines2 = self.read_sessions(path2)
        self.assertEqual(len(lines2), 310)
        for name, token in (lines[0], lines2[0], lines2[305]):
            me = Client(self.server, sid=token).get("/api/me")
            self.assertEqual(me.status, 200, me.describe())
            self.assertEqual(me.json()["user"]["username"], name)

    def test_users_without_sessions(self):
        rc, out, err = self.cli("user", "bulk", "--prefix", "nosess", "--count", "5",
                                password=PASSWORD)
        self.assertEqual(rc, 0, err)
        self.assertIn("5 created, 0 existed", out)
        self.assertNotIn("sessions", out)
        self.assertEqual(Client(self.server).login("nosess_4", PASSWORD).status, 200)

    def test_rooms(self):
        rc, out, err = self.cli("room", "bulk", "--prefix", "bkroom", "--count", "40",
                                "--topic", "bulk")
        self.assertEqual(rc, 0, err)
        rows = [ln.split(" ", 1) for ln in out.splitlines()]
        self.assertEqual([r[1] for r in rows], ["bkroom-%d" % i for i in range(40)])
        ids = [int(r[0]) for r in rows]
        self.assertEqual(len(set(ids)), 40)
        self.assertIn("40 created, 0 existed", err)
        rc, out2, err = self.cli("room", "bulk", "--prefix", "bkroom", "--count", "41")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out2.splitlines()[:40], out.splitlines())
        self.assertIn("1 created, 40 existed", err)

        path = os.path.join(self.tmp, "room-sessions.txt")
        rc, _, err = self.cli("user", "bulk", "--prefix", "rj", "--count", "1", "--sessions", path,
                              password=PASSWORD)
        self.assertEqual(rc, 0, err)
        token = self.read_sessions(path)[0][1]
        listed = Client(self.server, sid=token).get("/api/rooms")
        self.assertEqual(listed.status, 200, listed.describe())
        self.assertIn("bkroom-39", listed.text())

        async def chat():
            ws = await WS.connect(self.server, sid=token)
            joined = await ws.join(ids[39])
            self.assertEqual(joined["type"], "joined", joined)
            ack = await ws.send_msg(ids[39], "in a bulk room")
            self.assertEqual(ack["type"], "ack", ack)
            await ws.close()
        run_async(chat())

    def test_bad_command_lines(self):
        for args in (["user", "bulk"], ["user", "bulk", "--prefix", "x"],
                     ["user", "bulk", "--prefix", "x", "--count", "0"],
                     ["user", "bulk", "--prefix", "x", "--count", "abc"],
                     ["room", "bulk", "--count", "3"], ["user", "bulk", "--prefix", "x",
                                                        "--count", "2", "extra"]):
            rc, _, err = self.cli(*args, password=PASSWORD)
            self.assertEqual(rc, 2, (args, err))
        rc, _, err = self.cli("user", "bulk", "--prefix", "pw", "--count", "2", password="short")
        self.assertEqual(rc, 1, err)
        rc, _, err = self.cli("user", "bulk", "--prefix", "pw", "--count", "2")
        self.assertEqual(rc, 2, err)
        self.assertEqual(Client(self.server).login("pw_0", PASSWORD).status, 401)


@unittest.skipUnless(os.environ.get("CHAT_TEST_MYSQL_URL"), "CHAT_TEST_MYSQL_URL not set")
class BulkProvisionMySQLTest(BulkProvisionTest):
    MYSQL = True


if __name__ == "__main__":
    unittest.main()
