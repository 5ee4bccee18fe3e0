"""Output pacing under load (src/actors/pacer.h): while the loop is busy, a
WebSocket's writes wait for more frames, up to --ws-pace-max.  The test
makes the loop look fully busy (CHAT_TEST_LOOP_BUSY) with a long maximum so
that the waiting is visible, and checks that nothing is lost, reordered or
stuck, that the wait is bounded, that /metrics reports it, and that a
connection closing while its write waits does no harm."""
import asyncio
import re
import time
import unittest

from chatlib import Server, ServerTestCase, WS, async_test

PACE_MS = 300


def gauge(client, name):
    r = client.get("/metrics")
    assert r.status == 200, r.describe()
    m = re.search(r"^%s ([0-9.e+-]+)$" % re.escape(name), r.text(), re.M)
    assert m, "no %s in /metrics" % name
    return float(m.group(1))


class PacingTest(ServerTestCase):
    SERVER_ARGS = ["--ws-rate", "0", "--ws-pace-max", str(PACE_MS)]

    @classmethod
    def setUpClass(cls):
        # ServerTestCase.setUpClass with the environment variable added.
        cls.server = Server(extra_args=cls.SERVER_ARGS, env={"CHAT_TEST_LOOP_BUSY": "1"})
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    def wait_interval(self, client):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            iv = gauge(client, "chat_ws_pace_interval_seconds")
            if iv > PACE_MS / 1000 * 0.8:
                return iv
            time.sleep(0.2)
        self.fail("the pace interval never grew: %s" % iv)

    @async_test(timeout=180)
    async def test_paced_writes_lose_nothing_and_wait_bounded(self):
        ca, name_a, _, _ = self.new_user("pa")
        cb, name_b, _, _ = self.new_user("pb")
        lobby = self.lobby_id(ca)
        iv = self.wait_interval(ca)
        self.assertLessEqual(iv, PACE_MS / 1000 + 1e-6)
        self.assertEqual(gauge(ca, "chat_loop_busy_ratio"), 1.0)

        a = await WS.connect(self.server, ca, label="a")
        b = await WS.connect(self.server, cb, label="b")
        self.assertEqual((await a.join(lobby)).get("type"), "joined")
        self.assertEqual((await b.join(lobby)).get("type"), "joined")

        # 60 messages in quick bursts: b gets every one, once, in order.
        n = 60
        texts = ["节奏 %d" % i for i in range(n)]
        for i, t in enumerate(texts):
            await a.send({"type": "send", "room": lobby, "text": t, "cid": "p%d" % i})
        got = []
        t0 = time.monotonic()
        while len(got) < n:
            f = await b.expect(lambda f: f.get("type") == "message", timeout=30)
            if f["text"].startswith("节奏"):
                got.append(f["text"])
        self.assertEqual(got, texts)
        acks = 0
        while acks < n:
            f = await a.expect(lambda f: f.get("type") in ("ack", "error"), timeout=30)
            self.assertEqual(f.get("type"), "ack", f)
            acks += 1
        seqs = [m["seq"] for m in a.take(lambda f: f.get("type") == "message")]
        self.assertEqual(seqs, sorted(seqs))

        # A lone message after a write waits at most about one interval.
        start = time.monotonic()
        ack = await a.send_msg(lobby, "单独一条", cid="lone")
        self.assertEqual(ack.get("type"), "ack", ack)
        f = await b.expect(lambda f: f.get("type") == "message" and f["text"] == "单独一条",
                           timeout=10)
        waited = time.monotonic() - start
        self.assertLess(waited, PACE_MS / 1000 + 5, "a paced write waited %.2f s" % waited)

        # Two messages 50 ms apart: the first write to b goes out at once
        # (b was written long enough ago); the second waits for b's next
        # turn, about one interval after the first.
        await asyncio.sleep(PACE_MS / 1000 * 2)
        await a.send({"type": "send", "room": lobby, "text": "第一", "cid": "g1"})
        await b.expect(lambda f: f.get("type") == "message" and f["text"] == "第一", timeout=10)
        t1 = time.monotonic()
        await asyncio.sleep(0.05)
        await a.send({"type": "send", "room": lobby, "text": "第二", "cid": "g2"})
        await b.expect(lambda f: f.get("type") == "message" and f["text"] == "第二", timeout=10)
        gap = time.monotonic() - t1
        self.assertGreater(gap, PACE_MS / 1000 * 0.6, "the second write did not wait: %.3f s" % gap)

        # b goes away while a write to it may be waiting; a chats on.
        await a.send({"type": "send", "room": lobby, "text": "再见", "cid": "bye"})
        await b.close()
        for i in range(5):
            ack = await a.send_msg(lobby, "之后 %d" % i, cid="after%d" % i)
            self.assertEqual(ack.get("type"), "ack", ack)
        await a.close()
        self.assert_healthy()


if __name__ == "__main__":
    unittest.main()
