"""Resuming after an absence of any length: `join` with `since`, then history.

A `joined` reply after `since` holds at most the newest 200 messages of the
gap (CHAT_JOIN_SINCE_MAX).  A server that knows more were missed says so with
`"partial": true`; a client then reads the rest with GET
/api/rooms/{id}/messages?before=ID&limit=200, newest page first, until a page
reaches `since`.  The client here does what the browser does (public/js/
messages.js): it pages when `partial` is true, and, when the server does not
send the field, whenever the reply is full (200), stopping at the first page
that reaches `since`.  Each case checks that the client ends with exactly the
messages it missed, in order, once, while others keep writing.

Cases:
  1. 3,000 missed messages (plus 100 sent during the resume): partial, paging
  2. exactly 200 missed: not partial; a full reply, so the fallback asks one page
  3. 201 missed: partial; one more message from history
  4. 150 missed (more than the room's cache of 100, so read from the store): all in `joined`
"""

import asyncio
import unittest

from chatlib import WS, ServerTestCase, async_test, uniq

JOIN_SINCE_MAX = 200
PAGE = 200
WINDOW = 200          # sends in flight per writer before waiting for their acks


class ResumeTest(ServerTestCase):
    ADMINS = [("resumeadmin", "resume-admin-secret", "resumeadmin@example.org")]
    # The writers send thousands of frames: no flood control here.
    SERVER_ARGS = ["--ws-rate", "0"]

    def setUp(self):
        super().setUp()
        self.admin = self.admin_client()

    # -- helpers ------------------------------------------------------------
    async def send_many(self, ws, room, texts):
        """Sends texts (pipelined, WINDOW at a time); returns their ack ids in order."""
        ids = []
        for start in range(0, len(texts), WINDOW):
            chunk = texts[start:start + WINDOW]
            cids = [uniq("c") for _ in chunk]
            for cid, text in zip(cids, chunk):
                await ws.send({"type": "send", "room": room, "text": text, "cid": cid})
            for cid in cids:
                f = await ws.expect(lambda f, cid=cid: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                                    timeout=60, desc="ack for %s" % cid)
                self.assertEqual(f["type"], "ack", f)
                ids.append(f["id"])
            # The writer's own `message` frames are not needed here.
            ws.take(lambda f: f.get("type") == "message")
        return ids

    def page_gap(self, client, room, since, before):
        """What the client reads from history after a partial `joined`: the
        messages with since < id < before, ascending, newest page first.
        Returns (messages, pages asked)."""
        got = []
        pages = 0
        while True:
            page = self.history(client, room, before=before, limit=PAGE)
            pages += 1
            self.assertEqual([m["id"] for m in page], sorted(m["id"] for m in page), "a page is ascending")
            fresh = [m for m in page if since < m["id"] < before]
            got = fresh + got
            if len(fresh) < len(page) or len(page) < PAGE:
                return got, pages
            before = page[0]["id"]
            self.assertLess(pages, 100, "paging does not end")

    async def resume(self, client, ws, room, since):
        """join with since, then page the rest as a client does; returns
        (the joined frame, every missed message ascending, pages asked)."""
        joined = await ws.join(room, since=since)
        self.assertEqual(joined.get("type"), "joined", joined)
        hist = joined["history"]
        self.assertEqual([m["id"] for m in hist], sorted(m["id"] for m in hist))
        self.assertTrue(all(m["id"] > since for m in hist), "history holds only ids after since")
        self.assertLessEqual(len(hist), JOIN_SINCE_MAX)
        partial = joined.get("partial")
        self.assertIn(partial, (None, True, False), "partial is a boolean when present")
        pages_needed = partial is True or (partial is None and len(hist) >= JOIN_SINCE_MAX)
        older, pages = [], 0
        if hist and pages_needed:
            older, pages = await asyncio.to_thread(self.page_gap, client, room, since, hist[0]["id"])
        return joined, older + hist, pages

    async def scenario(self, missed, during=0):
        """A reader leaves after its last message; a writer sends `missed`
        messages; the reader resumes (while the writer sends `during` more)."""
        room = self.create_room(self.admin)["id"]
        rc, reader, _, _ = self.new_user("rd")
        wc, writer, _, _ = self.new_user("wr")
        rws = await WS.connect(self.server, rc, label="reader")
        wws = await WS.connect(self.server, wc, label="writer")
        self.assertEqual((await rws.join(room))["type"], "joined")
        self.assertEqual((await wws.join(room))["type"], "joined")
        first = await wws.send_msg(room, "before the reader leaves")
        await rws.expect(lambda f: f.get("type") == "message" and f.get("id") == first["id"], timeout=20)
        since = first["id"]
        await rws.close()

        texts = ["missed %d %s" % (i, uniq("t")) for i in range(missed)]
        missed_ids = await self.send_many(wws, room, texts)
        self.assertEqual(missed_ids, sorted(missed_ids))

        rws = await WS.connect(self.server, rc, label="reader again")
        more_texts = ["during the resume %d" % i for i in range(during)]
        writing = asyncio.ensure_future(self.send_many(wws, room, more_texts)) if during else None
        joined, got, pages = await self.resume(rc, rws, room, since)
        more_ids = await writing if writing else []
        live = []
        if more_ids:
            # Messages sent while the reader resumed come live or were in its joined/pages.
            need = set(more_ids) - {m["id"] for m in got}
            while need:
                f = await rws.expect(lambda f: f.get("type") == "message" and f.get("room") == room, timeout=30,
                                     desc="live messages sent during the resume (%d left)" % len(need))
                live.append(f)
                need.discard(f["id"])
        # Every message the reader has, as a client merges them: by id, once.
        seen = {}
        for m in got + live:
            if m["id"] in seen:
                self.assertEqual(seen[m["id"]]["text"], m["text"])
            seen[m["id"]] = m
        ids = sorted(seen)
        self.assertEqual(ids, missed_ids + more_ids, "exactly the missed messages, in order, once")
        self.assertEqual([seen[i]["text"] for i in missed_ids], texts)
        self.assertEqual(len([m for m in got if m["id"] in set(missed_ids)]), missed, "no message twice in the pages")
        await rws.close()
        await wws.close()
        return joined, pages

    # -- cases --------------------------------------------------------------
    @async_test(timeout=280)
    async def test_1_thousands_missed(self):
        joined, pages = await self.scenario(3000, during=100)
        self.assertEqual(len(joined["history"]), JOIN_SINCE_MAX, "joined holds the newest 200")
        if "partial" in joined:
            self.assertIs(joined["partial"], True, "3,000 missed: partial")
        # 2,800+ older messages: at least 14 pages of 200, and one that reaches since.
        self.assertGreaterEqual(pages, 14)

    @async_test(timeout=120)
    async def test_2_exactly_200_missed(self):
        joined, pages = await self.scenario(200)
        self.assertEqual(len(joined["history"]), 200)
        self.assertFalse(joined.get("partial", False), "the whole gap fits: not partial")
        # Without the field a full reply cannot tell: one page, which reaches since at once.
        self.assertEqual(pages, 0 if "partial" in joined else 1)

    @async_test(timeout=120)
    async def test_3_201_missed(self):
        joined, pages = await self.scenario(201)
        self.assertEqual(len(joined["history"]), 200)
        if "partial" in joined:
            self.assertIs(joined["partial"], True)
        self.assertEqual(pages, 1)

    @async_test(timeout=120)
    async def test_4_gap_beyond_the_cache(self):
        joined, pages = await self.scenario(150)
        self.assertEqual(len(joined["history"]), 150, "the whole gap in joined (read from the store)")
        self.assertFalse(joined.get("partial", False))
        self.assertEqual(pages, 0)


if __name__ == "__main__":
    unittest.main()
