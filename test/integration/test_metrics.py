"""GET /metrics after real traffic: the exposition passes Debian's
`promtool check metrics`, every family has HELP and TYPE, histograms have
cumulative buckets, and the figures move with what the test did (room
messages and DMs in, deliveries out, a failed login, a rate-limited frame,
the store's commit histograms, the delivery latency)."""

import re
import shutil
import subprocess
import unittest

from chatlib import WS, async_test, match
from community import CommunityBase

LINE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(text):
    """Returns (samples, helps, types): samples maps 'name{labels}' to a float."""
    samples, helps, types = {}, {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            helps[name] = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            types[name] = typ
            continue
        m = LINE_RE.match(line)
        if not m:
            raise AssertionError("not an exposition line: %r" % line)
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples, helps, types


def family_of(sample_name, types):
    name = sample_name.split("{", 1)[0]
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            return name[: -len(suffix)]
    return None


class MetricsTest(CommunityBase):
    # A small frame budget, so that a burst is refused (rate_limited).
    SERVER_ARGS = ["--ws-rate", "20:20"]

    def scrape(self):
        r = self.client().get("/metrics")
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue((r.header("Content-Type") or "").startswith("text/plain; version=0.0.4"),
                        r.describe())
        return r.body.decode("utf-8")

    def check_format(self, text):
        samples, helps, types = parse(text)
        for name in samples:
            fam = family_of(name, types)
            self.assertIsNotNone(fam, "sample %s has no TYPE" % name)
            self.assertIn(fam, helps, "family %s has no HELP" % fam)
        for fam, typ in types.items():
            if typ == "counter":
                self.assertTrue(fam.endswith("_total"), fam)
            if typ == "histogram":
                buckets = [(k, v) for k, v in samples.items() if k.startswith(fam + "_bucket{")]
                self.assertGreater(len(buckets), 2, fam)
                values = [v for _, v in buckets]
                self.assertEqual(values, sorted(values), "%s buckets not cumulative" % fam)
                self.assertEqual(samples[fam + '_bucket{le="+Inf"}'], samples[fam + "_count"], fam)
        return samples

    def promtool(self, text):
        tool = shutil.which("promtool")
        if tool is None:
            self.skipTest("promtool not installed (Debian package prometheus; scripts/deps.sh test)")
        cp = subprocess.run([tool, "check", "metrics"], input=text.encode("utf-8"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(cp.returncode, 0, "promtool check metrics failed:\n%s%s" % (
            cp.stdout.decode(errors="replace"), cp.stderr.decode(errors="replace")))

    def test_families_before_traffic(self):
        text = self.scrape()
        s = self.check_format(text)
        self.promtool(text)
        for fam in ("chat_store_commit_seconds", "chat_store_batch_messages",
                    "chat_delivery_latency_seconds"):
            self.assertIn(fam + "_count", s)
            self.assertIn(fam + '_bucket{le="+Inf"}', s)
        self.assertEqual(s['chat_redis_state{state="off"}'], 1)
        self.assertEqual(s['chat_redis_state{state="up"}'], 0)
        self.assertEqual(s["chat_mail_enabled"], 0)
        self.assertEqual(s["chat_mail_queue"], 0)
        for k in ("chat_connections", "chat_connections_total", "chat_websockets", "chat_rooms",
                  "chat_messages_total", "chat_dms_total", "chat_deliveries_total",
                  "chat_ws_slow_closes_total", "chat_ws_frames_limited_total",
                  "chat_loop_busy_ratio", "chat_ws_pace_interval_seconds",
                  "chat_login_failures_total", "chat_store_pending",
                  "chat_sqlite_syncs_total", "chat_sqlite_checkpoints_total",
                  "chat_sqlite_wal_waits_total"):
            self.assertIn(k, s)
        # The store's state comes from the health probe: ok after one.
        r = self.client().get("/healthz")
        self.assertEqual(r.status, 200, r.describe())
        s = parse(self.scrape())[0]
        self.assertEqual(s['chat_store_state{state="ok"}'], 1)
        self.assertEqual(s['chat_store_state{state="down"}'], 0)

    @async_test(timeout=120)
    async def test_figures_move_with_traffic(self):
        before = self.check_format(self.scrape())
        (ca, na, pa), (cb, nb, pb) = self.new_friends("mx", "my")
        lobby = self.lobby_id(ca)
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        for ws in (wa, wb):
            self.assertEqual((await ws.join(lobby)).get("type"), "joined")
        ids = []
        for i in range(3):
            ack = await wa.send_msg(lobby, "metrics %d" % i)
            self.assertEqual(ack.get("type"), "ack", ack)
            ids.append(ack["id"])
        for i in ids:
            await wb.expect(match(type="message", id=i))
        ack = await self.send_dm(wa, nb, "a direct one")
        self.assertEqual(ack.get("type"), "ack", ack)
        await wb.expect(match(type="dm", id=ack["id"]))

        # A failed login.
        r = self.client().login(na, "not-the-password")
        self.assert_api_error(r, 401, "invalid_credentials")

        # A burst over the frame budget, from a third user.
        cc, nc, _, _ = self.new_user("mz")
        wc = await WS.connect(self.server, cc, label=nc)
        for i in range(40):
            await wc.send({"type": "nonsense", "n": i})
        await wc.expect(match(type="error", code="rate_limited"), timeout=20)

        text = self.scrape()
        after = self.check_format(text)
        self.promtool(text)

        def d(k):
            return after.get(k, 0) - before.get(k, 0)

        self.assertEqual(d("chat_messages_total"), 3)
        self.assertEqual(d("chat_dms_total"), 1)
        # Three messages to two members, a DM to a's and b's sockets.
        self.assertGreaterEqual(d("chat_deliveries_total"), 8)
        self.assertEqual(d("chat_login_failures_total"), 1)
        self.assertGreaterEqual(d("chat_ws_frames_limited_total"), 1)
        self.assertGreaterEqual(d("chat_ws_frames_in_total"), 40)
        self.assertEqual(d("chat_delivery_latency_seconds_count"), 3)
        # The frames and answers above went out in socket writes, each timed.
        self.assertGreaterEqual(d("chat_socket_writes_total"), 8)
        self.assertGreater(d("chat_socket_write_seconds_total"), 0)
        self.assertGreater(d("chat_delivery_latency_seconds_sum"), 0)
        self.assertGreaterEqual(d("chat_store_commit_seconds_count"), 1)
        self.assertGreater(d("chat_store_commit_seconds_sum"), 0)
        self.assertEqual(d("chat_store_batch_messages_sum"), 4)
        # Each batch waited for a sync of the WAL (SQLite); none for a checkpoint.
        self.assertGreaterEqual(d("chat_sqlite_syncs_total"), 1)
        self.assertEqual(d("chat_sqlite_wal_waits_total"), 0)
        self.assertEqual(after["chat_sqlite_wal_cap_pages"], 8000)
        self.assertGreaterEqual(after["chat_websockets"], 3)
        self.assertGreaterEqual(after["chat_rooms"], 1)
        self.assertGreaterEqual(d("chat_connections_total"), 3)


if __name__ == "__main__":
    unittest.main()
