"""chatd under systemd's notification protocol: with NOTIFY_SOCKET naming a
datagram socket the test owns (and WATCHDOG_USEC set), chatd sends READY=1
once it answers on its port, WATCHDOG=1 again and again while its loop
turns, and STOPPING=1 at SIGTERM.  And deploy/chatd.service passes
`systemd-analyze verify` where that tool is present."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from chatlib import Client, Server, chatd_path

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(HERE, "..", "..", "deploy", "chatd.service")


class Notifications:
    """A unix datagram socket that collects (monotonic time, message)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.got = []

    def wait_for(self, pred, timeout, desc):
        deadline = time.monotonic() + timeout
        while True:
            for i, (_, msg) in enumerate(self.got):
                if pred(msg):
                    return i
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %.0fs; got %r" % (desc, timeout, self.got))
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.got.append((time.monotonic(), data.decode("utf-8", "replace")))

    def count(self, text):
        return sum(1 for _, msg in self.got if text in msg.split("\n"))

    def close(self):
        self.sock.close()


class SdNotifyTest(unittest.TestCase):
    def setUp(self):
        nm = subprocess.run(["nm", "-D", chatd_path()], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
        if b"sd_notify" not in nm.stdout and nm.returncode == 0:
            nm = subprocess.run(["nm", chatd_path()], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        if nm.returncode == 0 and b"sd_notify" not in nm.stdout:
            self.skipTest("chatd built without libsystemd (libsystemd-dev)")
        self.dir = tempfile.mkdtemp(prefix="chatd-sd-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.notes = Notifications(os.path.join(self.dir, "notify"))
        self.addCleanup(self.notes.close)

    def test_ready_watchdog_stopping(self):
        srv = Server(env={"NOTIFY_SOCKET": os.path.join(self.dir, "notify"),
                          "WATCHDOG_USEC": "600000"})  # a ping every 300 ms
        self.addCleanup(srv.cleanup)
        srv.start()
        i = self.notes.wait_for(lambda m: "READY=1" in m.split("\n"), 30, "READY=1")
        ready = self.notes.got[i][1].split("\n")
        self.assertIn("MAINPID=%d" % srv.proc.pid, ready)
        # Ready means answering: the port is open and the store serves.
        r = Client(srv).get("/healthz")
        self.assertEqual(r.status, 200, r.describe())
        # The watchdog keeps coming while the loop turns.
        self.notes.wait_for(lambda m: self.notes.count("WATCHDOG=1") >= 5, 30,
                            "five WATCHDOG=1")
        times = [t for t, m in self.notes.got if m == "WATCHDOG=1"]
        self.assertGreaterEqual(len(times), 5)
        # Roughly every 300 ms: not bunched, not slower than the interval.
        span = times[-1] - times[0]
        self.assertGreater(span, 0.3 * (len(times) - 1) * 0.5, times)
        # A stopped loop sends nothing: SIGSTOP for over the interval.
        os.kill(srv.proc.pid, signal.SIGSTOP)
        try:
            n = self.notes.count("WATCHDOG=1")
            time.sleep(1.0)
            self.notes.sock.settimeout(0.2)
            try:
                while True:
                    data = self.notes.sock.recv(4096)
                    self.notes.got.append((time.monotonic(), data.decode()))
            except socket.timeout:
                pass
            # At most one that was on its way when the process stopped.
            self.assertLessEqual(self.notes.count("WATCHDOG=1") - n, 1)
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)
        self.notes.wait_for(lambda m: self.notes.count("WATCHDOG=1") >= n + 3, 30,
                            "WATCHDOG=1 again after SIGCONT")
        self.assertEqual(srv.stop(), 0, srv.diag())
        self.notes.wait_for(lambda m: m == "STOPPING=1", 10, "STOPPING=1")

    def test_without_watchdog_only_ready(self):
        srv = Server(env={"NOTIFY_SOCKET": os.path.join(self.dir, "notify"),
                          "WATCHDOG_USEC": None})
        self.addCleanup(srv.cleanup)
        srv.start()
        self.notes.wait_for(lambda m: "READY=1" in m.split("\n"), 30, "READY=1")
        r = Client(srv).get("/healthz")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(srv.stop(), 0, srv.diag())
        self.notes.wait_for(lambda m: m == "STOPPING=1", 10, "STOPPING=1")
        self.assertEqual(self.notes.count("WATCHDOG=1"), 0, self.notes.got)


class UnitFileTest(unittest.TestCase):
    def test_systemd_analyze_verify(self):
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("systemd-analyze not installed: deploy/chatd.service not verified")
        with open(UNIT, encoding="utf-8") as f:
            text = f.read()
        for key in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
                    "DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=chatd",
                    "PrivateTmp=yes", "NoNewPrivileges=yes", "RestrictAddressFamilies="):
            self.assertIn(key, text)
        # verify wants the ExecStart binary to exist: the one just built.
        d = tempfile.mkdtemp(prefix="chatd-unit-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "chatd.service")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("/usr/local/bin/chatd", chatd_path()))
        cp = subprocess.run([tool, "verify", path], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=120)
        out = cp.stdout.decode("utf-8", "replace")
        if cp.returncode != 0 and ("Failed to" in out and "bus" in out.lower()):
            self.skipTest("systemd-analyze cannot run here: %s" % out.strip())
        self.assertEqual(cp.returncode, 0, out)
        # Only warnings about the environment (no systemd running) may show.
        for line in out.splitlines():
            self.assertNotIn("chatd.service:", line, out)


if __name__ == "__main__":
    unittest.main()
