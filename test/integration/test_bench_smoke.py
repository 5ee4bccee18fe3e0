"""A smoke run of the benchmark client (bench/chatbench) against the test
build's chatd: nothing is lost, nothing fails.  No timing is asserted: the
figures are for bench/table.sh on a quiet machine.

- open loop: 5 rooms x 10 provisioned users (chatd user bulk --sessions,
  chatd room bulk), all sending 300 msgs/s in all for 5 s: every scheduled
  message sent and acknowledged, every member of the room received every
  message exactly once, no error;
- closed loop: clients that register and log in through the API, each
  sending with a window of unacknowledged messages: every send acknowledged,
  every delivery there;
- idle: several WebSockets per provisioned user, all connected;
- the write floor (bench/fanout_floor, no server): every frame made for the
  measured window arrives, and a flush interval makes fewer writes than
  deliveries.

chatbench is built with the test build (CHAT_BUILD_BENCH, on by default);
CTest passes its path in CHATBENCH."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from chatlib import Server

PASSWORD = "smoke-password-1"


def chatbench_path():
    path = os.environ.get("CHATBENCH")
    if not path and os.environ.get("CHATD"):
        path = os.path.join(os.path.dirname(os.environ["CHATD"]), "chatbench")
    return path if path and os.access(path, os.X_OK) else None


def result(out, mode=None):
    """The fields of the last RESULT line (of the mode given) as a dict."""
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")
             and (mode is None or (" mode=%s " % mode) in ln)]
    if not lines:
        raise AssertionError("no RESULT line in chatbench output:\n" + out)
    return dict(kv.split("=", 1) for kv in lines[-1].split()[1:])


@unittest.skipUnless(chatbench_path(), "chatbench not built (CHAT_BUILD_BENCH=OFF)")
class BenchSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bench = chatbench_path()
        cls.tmp = tempfile.mkdtemp(prefix="chatd-bench-smoke-")
        cls.server = Server(env={"CHAT_WS_RATE": "0"})
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.sessions = os.path.join(cls.tmp, "sessions.txt")
        cls.rooms = os.path.join(cls.tmp, "rooms.txt")
        cp = subprocess.run([cls.server.binary, "user", "bulk", "--prefix", "smk", "--count", "50",
                             "--sessions", cls.sessions] + cls.server.store_args(),
                            input=(PASSWORD + "\n").encode(), capture_output=True, timeout=120)
        assert cp.returncode == 0, cp.stderr
        cp = subprocess.run([cls.server.binary, "room", "bulk", "--prefix", "smk", "--count", "5"]
                            + cls.server.store_args(), capture_output=True, timeout=60)
        assert cp.returncode == 0, cp.stderr
        with open(cls.rooms, "wb") as f:
            f.write(cp.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_bench(self, *args, timeout=280):
        # --quiet 60: on a busy machine, wait long for late frames rather
        # than call them missing.
        cmd = [self.bench, "--url", self.server.origin, "--pid", str(self.server.proc.pid),
               "--label", "smoke", "--quiet", "60"] + list(args)
        cp = subprocess.run(cmd, capture_output=True, timeout=timeout)
        out = cp.stdout.decode("utf-8", "replace")
        err = cp.stderr.decode("utf-8", "replace")
        self.assertTrue(self.server.alive(), "chatd died%s" % self.server.diag())
        self.assertEqual(cp.returncode, 0, "%s\n%s\n%s" % (" ".join(cmd), out, err))
        return out

    def test_open_loop_nothing_lost(self):
        out = self.run_bench("--clients", "50", "--room-ids", "@" + self.rooms,
                             "--sessions", self.sessions, "--rate", "300", "--duration", "5",
                             "--warmup", "1", "--size", "25", "--stop-after", "0",
                             "--timeout", "240")
        r = result(out, "rate")
        self.assertEqual(r["ready"], "50", out)
        self.assertEqual(r["rooms"], "5", out)
        self.assertEqual(r["senders"], "50", out)
        self.assertEqual(r["scheduled"], str(300 * 6), out)
        for k in ("sent", "acked"):
            self.assertEqual(r[k], r["scheduled"], (k, out))
        for k in ("unacked", "refused", "unsent", "missing_deliveries", "extra_deliveries",
                  "errors", "timed_out"):
            self.assertEqual(r[k], "0", (k, out))
        # Every message reached the 10 members of its room.
        self.assertEqual(int(r["deliveries"]), int(r["acked"]) * 10, out)

    def test_closed_loop_with_register_and_login(self):
        out = self.run_bench("--clients", "10", "--rooms", "2", "--room-ids",
                             "@" + self.rooms, "--messages", "30", "--window", "4",
                             "--concurrency", "4", "--timeout", "240")
        r = result(out)
        self.assertEqual(r["ready"], "10", out)
        self.assertEqual(r["messages"], str(10 * 30), out)
        self.assertEqual(r["errors"], "0", out)
        self.assertEqual(r["missing_deliveries"], "0", out)
        self.assertEqual(r["timed_out"], "0", out)
        self.assertEqual(r["deliveries"], str(10 * 30 * 5), out)   # 5 members a room
        self.assertIn("registered 10, existing 0, logged in 10", out)
        self.assertTrue(re.search(r"sends +300/300 acked, 0 refused, 0 abandoned", out), out)

    def test_closed_loop_with_sessions(self):
        out = self.run_bench("--clients", "50", "--room-ids", "@" + self.rooms,
                             "--sessions", self.sessions, "--messages", "20", "--window", "8")
        r = result(out)
        self.assertEqual(r["ready"], "50", out)
        self.assertEqual(r["messages"], str(50 * 20), out)
        self.assertEqual(r["errors"], "0", out)
        self.assertEqual(r["missing_deliveries"], "0", out)
        self.assertEqual(r["deliveries"], str(50 * 20 * 10), out)
        self.assertIn("logged in 0", out)   # the provisioned sessions, no login

    def test_idle_connections(self):
        out = self.run_bench("--idle", "--no-join", "--clients", "60", "--conns-per-user", "4",
                             "--sessions", self.sessions, "--duration", "1")
        r = result(out, "idle")
        self.assertEqual(r["ready"], "60", out)
        self.assertEqual(r["errors"], "0", out)
        self.assertNotEqual(r["kib_per_conn"], "na", out)


def floor_path():
    d = os.path.dirname(chatbench_path() or os.environ.get("CHATD", ""))
    path = os.path.join(d, "fanout_floor") if d else ""
    return path if path and os.access(path, os.X_OK) else None


@unittest.skipUnless(floor_path(), "fanout_floor not built (CHAT_BUILD_BENCH=OFF, or not Linux)")
class FanoutFloorSmokeTest(unittest.TestCase):
    def run_floor(self, *args):
        cp = subprocess.run([floor_path(), "--writer-cpu", "-1", "--reader-cpu", "-1",
                             "--duration", "1", "--warmup", "0.2"] + list(args),
                            capture_output=True, text=True, timeout=120)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        rows = [dict(kv.split("=", 1) for kv in ln.split()[1:])
                for ln in cp.stdout.splitlines() if ln.startswith("RESULT ")]
        for r in rows:
            # Every frame of the window made as scheduled and received, none
            # dropped or left unsent.
            self.assertEqual(int(r["made"]), int(r["expected"]), r)
            self.assertEqual(int(r["frames"]), int(r["made"]), r)
            self.assertEqual((int(r["dropped"]), int(r["unsent"])), (0, 0), r)
            self.assertLessEqual(float(r["p50_ms"]), float(r["p99_ms"]), r)
            self.assertGreater(float(r["writer_share"]), 0, r)
            self.assertIn(r["ok"], ("0", "1"), r)
        return rows, cp.stdout

    def test_every_frame_arrives(self):
        rows, out = self.run_floor("--rooms", "4", "--members", "5", "--rate", "400",
                                   "--flush", "0,20")
        self.assertEqual([r["flush_ms"] for r in rows], ["0.00", "20.00"], out)
        # 400 msgs/s for 1 s, each to the 5 members of its room.
        for r in rows:
            self.assertEqual(int(r["expected"]), 2000, r)
        # One write per delivery without a flush interval; with one of 20 ms
        # a write per member and pass (50 passes a second to 20 members, each
        # pass carrying 2 frames for each), and the last pass's few.
        self.assertGreaterEqual(float(rows[0]["writes_per_s"]), 1900, rows[0])
        self.assertLessEqual(float(rows[1]["writes_per_s"]), 1100, rows[1])
        # A frame waits for the next pass: 10 ms on average, never less on
        # a loaded machine.
        self.assertGreaterEqual(float(rows[1]["p50_ms"]), 2, rows[1])

    def test_frames_split_across_reads(self):
        # 150 frames of 1 000 bytes a pass to each member: 150 KB, read in
        # 64 KiB pieces, so frames straddle reads.
        rows, out = self.run_floor("--rooms", "1", "--members", "2", "--rate", "1000",
                                   "--frame", "1000", "--flush", "150")
        self.assertEqual(len(rows), 1, out)
        self.assertEqual(int(rows[0]["expected"]), 2000, rows[0])


if __name__ == "__main__":
    unittest.main()
