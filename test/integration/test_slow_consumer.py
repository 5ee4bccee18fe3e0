"""A reader that stops reading must not make the server queue without
bound: once its queue passes the cap it is closed with 1013, and everybody
else goes on chatting."""
import asyncio
import json
import re
import socket
import unittest

from chatlib import RawWS, ServerTestCase, WS, async_test, match


def slow_closes(client):
    r = client.get("/metrics")
    assert r.status == 200, r.describe()
    m = re.search(r"^chat_ws_slow_closes_total (\d+)$", r.text(), re.M)
    assert m, "no chat_ws_slow_closes_total in /metrics"
    return int(m.group(1))


class SlowConsumerTest(ServerTestCase):
    SERVER_ARGS = ["--ws-rate", "0"]  # the flood below is the point here

    @async_test(timeout=240)
    async def test_slow_reader_is_closed_with_1013(self):
        c_slow, _, _, _ = self.new_user("slow")
        c_fast, fast_name, _, _ = self.new_user("fast")
        lobby = self.lobby_id(c_fast)
        closes_before = slow_closes(self.client())

        slow = RawWS(self.server.port, sid=c_slow.sid, label="slow")
        slow.send_json({"type": "join", "room": lobby})
        slow.expect(lambda f: f.get("type") == "joined", timeout=10)
        # From here on the slow client reads nothing.

        fast = await WS.connect(self.server, c_fast, label="fast")
        joined = await fast.join(lobby)
        self.assertEqual(joined.get("type"), "joined", joined)

        text = "慢" * 3000 + " 读者"  # about 9 KB a message
        total = 2000                  # about 18 MB in all, far over the 4 MiB cap
        acks = set()
        window = 50  # the sender keeps reading, so it is never slow itself
        # The flood stops as soon as the server has given up on the slow
        # reader (it logs that): the slow client must then read its close
        # frame within the server's closing time (10 s), however long the
        # rest of the flood would take on a loaded machine.
        dropped = False
        for start in range(0, total, window):
            for i in range(start, min(start + window, total)):
                await fast.send({"type": "send", "room": lobby, "text": text, "cid": "s%d" % i})
            while len(acks) < min(start + window, total):
                f = await fast.expect(lambda f: f.get("type") in ("ack", "error"), timeout=60)
                self.assertEqual(f.get("type"), "ack", f)
                acks.add(f["cid"])
                fast.take(lambda f: f.get("type") == "message")
            if "slow consumer" in self.server.stderr_text(tail=1 << 20):
                dropped = True
                break
        self.assertTrue(dropped, "the slow reader was never dropped")

        # The slow client, reading at last, finds the close frame after what
        # was already in the socket buffers.
        code, _ = await asyncio.get_running_loop().run_in_executor(
            None, lambda: slow.expect_close(timeout=60))
        self.assertEqual(code, 1013)
        slow.close()
        self.assertEqual(slow_closes(self.client()), closes_before + 1)

        # The others never noticed.
        ack = await fast.send_msg(lobby, "还在", cid="after")
        self.assertEqual(ack.get("type"), "ack", ack)
        await fast.close()
        self.assert_healthy()


class RateLimitTest(ServerTestCase):
    SERVER_ARGS = ["--ws-rate", "5:10"]

    @async_test(timeout=60)
    async def test_a_flood_is_refused_with_rate_limited_then_allowed_again(self):
        c, _, _, _ = self.new_user("flood")
        lobby = self.lobby_id(c)
        ws = await WS.connect(self.server, c, label="flood")
        joined = await ws.join(lobby)
        self.assertEqual(joined.get("type"), "joined", joined)
        for i in range(16):
            await ws.send({"type": "send", "room": lobby, "text": "洪水 %d" % i, "cid": "f%d" % i})
        answers = {}
        while len(answers) < 16:
            f = await ws.expect(lambda f: f.get("type") in ("ack", "error"), timeout=10)
            answers[f["cid"]] = f
        acked = [k for k, f in answers.items() if f["type"] == "ack"]
        limited = [k for k, f in answers.items() if f.get("code") == "rate_limited"]
        # The burst of 10, less the one the join took, goes through (plus what
        # refilled meanwhile); the rest is refused.
        self.assertGreaterEqual(len(acked), 9, answers)
        self.assertLessEqual(len(acked), 11, answers)
        self.assertEqual(len(acked) + len(limited), 16, answers)
        # Nothing refused was stored.
        texts = [m["text"] for m in self.history(c, lobby)]
        for k in limited:
            self.assertNotIn("洪水 %s" % k[1:], texts)
        # After a pause (5 a second refill), sends go through again.
        await asyncio.sleep(1.0)
        ack = await ws.send_msg(lobby, "after the pause", retry_rate_limited=False)
        self.assertEqual(ack.get("type"), "ack", ack)
        await ws.close()
        self.assert_healthy()


if __name__ == "__main__":
    unittest.main()
