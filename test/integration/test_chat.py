"""Real-time chat over WebSocket against the real chatd: join, presence,
messages, acks, de-duplication, typing, online frames, restarts and
shutdown."""

import asyncio
import time
import unittest

import websockets.exceptions

from chatlib import (Client, RawWS, HandshakeRefused, Server, ServerTestCase, WS, async_test,
                     match, now_ms, uniq)

ADMIN = ("chat_admin", "admin-password-1", "cadmin@example.org")


class ChatBase(ServerTestCase):
    ADMINS = [ADMIN]

    async def two_in_room(self, room=None):
        """Two fresh users, each with one WebSocket, both joined to a fresh
        room (or to room).  Returns (room, (client, name, ws), (client, name, ws))."""
        if room is None:
            room = self.create_room(self.admin_client())["id"]
        ca, na, _, _ = self.new_user("a")
        cb, nb, _, _ = self.new_user("b")
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        ja = await wa.join(room)
        self.assertEqual(ja["type"], "joined", ja)
        jb = await wb.join(room)
        self.assertEqual(jb["type"], "joined", jb)
        await wa.expect(match(type="presence", room=room, user=nb, event="join"))
        return room, (ca, na, wa), (cb, nb, wb)

    def check_message(self, frame, msg_id, room, sender, text):
        self.assertEqual(frame["type"], "message")
        self.assertEqual(frame["id"], msg_id)
        self.assertEqual(frame["room"], room)
        self.assertEqual(frame["sender"], sender)
        self.assertEqual(frame["text"], text)
        self.assertIsInstance(frame["ts"], int)
        self.assertLess(abs(frame["ts"] - now_ms()), 5 * 60 * 1000, "ts is not ms since the epoch")


class JoinTest(ChatBase):
    @async_test()
    async def test_join_reply_members_history_and_presence(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        ca, na, _, _ = self.new_user("j")
        cb, nb, _, _ = self.new_user("j")
        wa = await WS.connect(self.server, ca, label=na)
        ja = await wa.join(room)
        self.assertEqual(ja["type"], "joined", ja)
        self.assertEqual(ja["room"], room)
        self.assertEqual(ja["members"], [na])
        self.assertEqual(ja["history"], [])
        ack = await wa.send_msg(room, "before b joined")
        self.assertEqual(ack["type"], "ack", ack)

        wb = await WS.connect(self.server, cb, label=nb)
        jb = await wb.join(room)
        self.assertEqual(jb["type"], "joined", jb)
        self.assertEqual(sorted(jb["members"]), sorted([na, nb]))
        self.assertEqual(len(jb["history"]), 1)
        self.check_message(dict(jb["history"][0], type="message"), ack["id"], room, na, "before b joined")
        p = await wa.expect(match(type="presence", room=room, user=nb))
        self.assertEqual(p, {"type": "presence", "room": room, "user": nb, "event": "join"})
        # The joiner does not get its own presence.
        self.assertEqual(wb.peek(match(type="presence", user=nb)), [])

    @async_test()
    async def test_join_unknown_room(self):
        c, _, _, _ = self.new_user("j")
        ws = await WS.connect(self.server, c)
        f = await ws.join(987654)
        self.assertEqual(f["type"], "error", f)
        self.assertEqual(f["code"], "no_such_room", f)
        self.assertIsInstance(f.get("message"), str)
        # The connection stays open.
        lobby = self.lobby_id(c)
        self.assertEqual((await ws.join(lobby))["type"], "joined")

    @async_test()
    async def test_join_history_is_newest_50(self):
        room, (ca, na, wa), _ = await self.two_in_room()
        ids = []
        for i in range(55):
            ack = await wa.send_msg(room, "h%d" % i)
            self.assertEqual(ack["type"], "ack", ack)
            ids.append(ack["id"])
        cc, nc, _, _ = self.new_user("j")
        wc = await WS.connect(self.server, cc, label=nc)
        j = await wc.join(room)
        self.assertEqual([m["id"] for m in j["history"]], ids[-50:])
        self.assertEqual([m["text"] for m in j["history"]], ["h%d" % i for i in range(5, 55)])

    @async_test()
    async def test_join_since(self):
        room, (ca, na, wa), _ = await self.two_in_room()
        acks = []
        for i in range(6):
            ack = await wa.send_msg(room, "since %d" % i)
            self.assertEqual(ack["type"], "ack", ack)
            acks.append(ack["id"])
        cc, nc, _, _ = self.new_user("s")
        wc = await WS.connect(self.server, cc, label=nc)
        j = await wc.join(room, since=acks[2])
        self.assertEqual(j["type"], "joined", j)
        self.assertEqual([m["id"] for m in j["history"]], acks[3:])
        self.assertEqual([m["text"] for m in j["history"]], ["since 3", "since 4", "since 5"])
        for m in j["history"]:
            self.assertEqual(m["room"], room)
            self.assertEqual(m["sender"], na)
        # since = the newest id: nothing; since = 0: all of them.
        cd, nd, _, _ = self.new_user("s")
        wd = await WS.connect(self.server, cd, label=nd)
        self.assertEqual((await wd.join(room, since=acks[-1]))["history"], [])
        ce, ne, _, _ = self.new_user("s")
        we = await WS.connect(self.server, ce, label=ne)
        self.assertEqual([m["id"] for m in (await we.join(room, since=0))["history"]], acks)

    @async_test(timeout=240)
    async def test_join_since_returns_at_most_newest_200(self):
        room, (ca, na, wa), _ = await self.two_in_room()
        ids = []
        for i in range(205):
            ack = await wa.send_msg(room, "cap %d" % i)
            self.assertEqual(ack["type"], "ack", ack)
            ids.append(ack["id"])
        cc, nc, _, _ = self.new_user("s")
        wc = await WS.connect(self.server, cc, label=nc)
        j = await wc.join(room, since=0)
        self.assertEqual([m["id"] for m in j["history"]], ids[-200:])
        cd, nd, _, _ = self.new_user("s")
        wd = await WS.connect(self.server, cd, label=nd)
        j = await wd.join(room, since=ids[100])
        self.assertEqual([m["id"] for m in j["history"]], ids[101:])

    @async_test()
    async def test_leave_sends_presence(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        await wb.send({"type": "leave", "room": room})
        p = await wa.expect(match(type="presence", room=room, user=nb, event="leave"))
        self.assertEqual(p, {"type": "presence", "room": room, "user": nb, "event": "leave"})
        # b no longer receives the room's messages and may not send there.
        ack = await wa.send_msg(room, "after leave")
        self.assertEqual(ack["type"], "ack")
        f = await wb.send_msg(room, "not a member any more")
        self.assertEqual(f.get("code"), "not_member", f)
        await wa.expect(match(type="message", id=ack["id"]))
        self.assertEqual(wb.peek(match(type="message", id=ack["id"])), [],
                         "a member that left still receives messages")

    @async_test()
    async def test_disconnect_sends_presence_leave(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        await wb.close()
        await wa.expect(match(type="presence", room=room, user=nb, event="leave"))


class MessageTest(ChatBase):
    @async_test()
    async def test_messages_flow_both_ways(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        ack = await wa.send_msg(room, "hello from a", cid="a-1")
        self.assertEqual(ack["type"], "ack", ack)
        self.assertEqual(set(ack), {"type", "cid", "id"})
        self.assertEqual(ack["cid"], "a-1")
        self.assertIsInstance(ack["id"], int)
        for ws in (wa, wb):
            f = await ws.expect(match(type="message", id=ack["id"]))
            self.check_message(f, ack["id"], room, na, "hello from a")
        ack2 = await wb.send_msg(room, "hello from b", cid="b-1")
        self.assertEqual(ack2["type"], "ack", ack2)
        self.assertGreater(ack2["id"], ack["id"])
        for ws in (wa, wb):
            f = await ws.expect(match(type="message", id=ack2["id"]))
            self.check_message(f, ack2["id"], room, nb, "hello from b")
        # The same messages are in the HTTP history.
        hist = self.history(ca, room)
        self.assertEqual([(m["id"], m["sender"], m["text"]) for m in hist],
                         [(ack["id"], na, "hello from a"), (ack2["id"], nb, "hello from b")])

    @async_test()
    async def test_message_without_cid(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        await wa.send({"type": "send", "room": room, "text": "no cid"})
        f = await wb.expect(match(type="message", text="no cid"))
        self.check_message(f, f["id"], room, na, "no cid")
        await wa.expect(match(type="message", id=f["id"]))

    @async_test()
    async def test_unicode_round_trip(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        texts = [
            "你好，世界！这是一条中文消息。",
            "emoji 🌍👋🏽🎉 family 👨‍👩‍👧‍👦 flag 🇨🇳",
            "日本語テキスト、한국어, Ελληνικά, العربية, עברית",
            "mixed 汉字 and \"quotes\" \\ backslash / slash <b>html</b> & amp",
            "line one\nline two\ttabbed",
        ]
        for i, text in enumerate(texts):
            # Alternate raw UTF-8 and \\u escapes (incl. surrogate pairs) in the JSON.
            ack = await wa.send_msg(room, text, ensure_ascii=bool(i % 2))
            self.assertEqual(ack["type"], "ack", ack)
            f = await wb.expect(match(type="message", id=ack["id"]))
            self.assertEqual(f["text"], text)
            f = await wa.expect(match(type="message", id=ack["id"]))
            self.assertEqual(f["text"], text)
        hist = self.history(cb, room)
        self.assertEqual([m["text"] for m in hist], texts)

    @async_test()
    async def test_text_is_trimmed(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        cases = [("  \t hello trimmed \n ", "hello trimmed"),
                 ("\u3000全角空格\u3000", "全角空格"),
                 ("\u00a0 inner  spaces kept \r\n", "inner  spaces kept")]
        for raw, want in cases:
            ack = await wa.send_msg(room, raw)
            self.assertEqual(ack["type"], "ack", ack)
            f = await wb.expect(match(type="message", id=ack["id"]))
            self.assertEqual(f["text"], want)
        self.assertEqual([m["text"] for m in self.history(ca, room)], [w for _, w in cases])

    @async_test()
    async def test_empty_text(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        for text in ["", "   ", "\t\n", "\u3000\u3000"]:
            with self.subTest(text=text):
                f = await wa.send_msg(room, text, cid=uniq("e"))
                self.assertEqual(f["type"], "error", f)
                self.assertEqual(f["code"], "empty_text", f)
        # Still connected and nothing was stored.
        ack = await wa.send_msg(room, "real")
        self.assertEqual(ack["type"], "ack", ack)
        self.assertEqual([m["text"] for m in self.history(ca, room)], ["real"])

    @async_test()
    async def test_text_length_limit_in_characters(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        too_long = "字" * 4001      # 12003 bytes
        f = await wa.send_msg(room, too_long)
        self.assertEqual(f["type"], "error", f)
        self.assertEqual(f["code"], "text_too_long", f)
        longest = "字" * 3999 + "😀"   # 4000 characters, 12001 bytes
        ack = await wa.send_msg(room, longest)
        self.assertEqual(ack["type"], "ack", ack)
        f = await wb.expect(match(type="message", id=ack["id"]))
        self.assertEqual(f["text"], longest)
        cjk = "字" * 4000
        ack2 = await wa.send_msg(room, cjk)
        self.assertEqual(ack2["type"], "ack", ack2)
        f = await wb.expect(match(type="message", id=ack2["id"]))
        self.assertEqual(f["text"], cjk)
        self.assertEqual([m["text"] for m in self.history(ca, room)], [longest, cjk])
        # Trimming happens before the length check.
        ack3 = await wa.send_msg(room, "  " + "a" * 4000 + "  ")
        self.assertEqual(ack3["type"], "ack", ack3)

    @async_test()
    async def test_cid_deduplication(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        cid = uniq("dup")
        text = "only once " + cid
        ack1 = await wa.send_msg(room, text, cid=cid)
        self.assertEqual(ack1["type"], "ack", ack1)
        ack2 = await wa.send_msg(room, text, cid=cid)
        self.assertEqual(ack2["type"], "ack", ack2)
        self.assertEqual(ack2["id"], ack1["id"])
        self.assertEqual(ack2["cid"], cid)
        # A later message works as a barrier: once it is seen, any duplicate
        # broadcast of the first would have been seen too.
        ack3 = await wa.send_msg(room, "barrier")
        for ws in (wa, wb):
            await ws.expect(match(type="message", id=ack3["id"]))
            got = ws.take(match(type="message", text=text))
            self.assertEqual(len(got), 1, "%s received the message %d times" % (ws.label, len(got)))
            self.assertEqual(got[0]["id"], ack1["id"])
        hist = self.history(ca, room)
        self.assertEqual([m["text"] for m in hist].count(text), 1)
        # The same cid from another user is a different message.
        ack4 = await wb.send_msg(room, text, cid=cid)
        self.assertEqual(ack4["type"], "ack", ack4)
        self.assertNotEqual(ack4["id"], ack1["id"])

    @async_test()
    async def test_send_to_room_not_joined(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        c, _, _, _ = self.new_user("nm")
        ws = await WS.connect(self.server, c)
        f = await ws.send_msg(room, "not joined", cid="nm-1")
        self.assertEqual(f["type"], "error", f)
        self.assertEqual(f["code"], "not_member", f)
        if "cid" in f:
            self.assertEqual(f["cid"], "nm-1")
        self.assertEqual(self.history(c, room), [])
        f = await ws.send_msg(987654, "no such room")
        self.assertEqual(f["type"], "error", f)
        self.assertIn(f["code"], ("no_such_room", "not_member"), f)

    @async_test()
    async def test_typing(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        await wa.send({"type": "typing", "room": room})
        f = await wb.expect(match(type="typing"))
        self.assertEqual(f, {"type": "typing", "room": room, "user": na})
        # Barrier: a's own message arrives after any typing echo would have.
        ack = await wa.send_msg(room, "typed")
        await wa.expect(match(type="message", id=ack["id"]))
        self.assertEqual(wa.peek(match(type="typing")), [], "the typer got its own typing frame")

    @async_test()
    async def test_member_with_two_connections_gets_both(self):
        room, (ca, na, wa), (cb, nb, wb) = await self.two_in_room()
        wb2 = await WS.connect(self.server, cb, label=nb + "-2")
        self.assertEqual((await wb2.join(room))["type"], "joined")
        ack = await wa.send_msg(room, "to every connection")
        for ws in (wa, wb, wb2):
            await ws.expect(match(type="message", id=ack["id"]))


class OnlineFrameTest(ChatBase):
    @async_test()
    async def test_online_frames(self):
        ca, na, _, _ = self.new_user("on")
        cb, nb, _, _ = self.new_user("on")
        wa = await WS.connect(self.server, ca, label=na)
        wb = await WS.connect(self.server, cb, label=nb)
        f = await wa.expect(match(type="online", user=nb, online=True))
        self.assertEqual(f, {"type": "online", "user": nb, "online": True})
        await wb.close()
        f = await wa.expect(match(type="online", user=nb, online=False))
        self.assertEqual(f, {"type": "online", "user": nb, "online": False})

    @async_test()
    async def test_online_only_for_first_and_last_connection(self):
        room = self.create_room(self.admin_client())["id"]
        ca, na, _, _ = self.new_user("on")
        cb, nb, _, _ = self.new_user("on")
        wa = await WS.connect(self.server, ca, label=na)
        self.assertEqual((await wa.join(room))["type"], "joined")
        wb1 = await WS.connect(self.server, cb, label=nb + "-1")
        await wa.expect(match(type="online", user=nb, online=True))
        wb2 = await WS.connect(self.server, cb, label=nb + "-2")
        self.assertEqual((await wb2.join(room))["type"], "joined")
        await wb1.close()
        # Barrier: a message from b's remaining connection.
        ack = await wb2.send_msg(room, "still online")
        await wa.expect(match(type="message", id=ack["id"]))
        self.assertEqual(wa.peek(match(type="online", user=nb)), [],
                         "online frames while b still had a connection")
        await wb2.close()
        await wa.expect(match(type="online", user=nb, online=False))


class UpgradeTest(ChatBase):
    @async_test()
    async def test_upgrade_without_cookie_is_401(self):
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await WS.connect(self.server)
        self.assertEqual(cm.exception.status_code, 401)
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await WS.connect(self.server, sid="bogus-session-token")
        self.assertEqual(cm.exception.status_code, 401)

    @async_test()
    async def test_upgrade_with_foreign_origin_is_403(self):
        c, _, _, _ = self.new_user("up")
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await WS.connect(self.server, c, origin="http://evil.example")
        self.assertEqual(cm.exception.status_code, 403)
        # The server's own origin is accepted.
        ws = await WS.connect(self.server, c, origin=self.server.origin)
        self.assertEqual((await ws.join(self.lobby_id(c)))["type"], "joined")

    def test_raw_upgrade_refusals_have_no_upgrade(self):
        c, _, _, _ = self.new_user("up")
        with self.assertRaises(HandshakeRefused) as cm:
            RawWS(self.server.port)
        self.assertEqual(cm.exception.response.status, 401)
        self.assertIsNone(cm.exception.response.header("Sec-WebSocket-Accept"))
        with self.assertRaises(HandshakeRefused) as cm:
            RawWS(self.server.port, sid=c.sid, origin="http://evil.example")
        self.assertEqual(cm.exception.response.status, 403)
        self.assertIsNone(cm.exception.response.header("Sec-WebSocket-Accept"))


class RestartTest(ServerTestCase):
    ADMINS = [ADMIN]

    async def send_some(self, prefix, n=30):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        c, name, pw, _ = self.new_user("rs")
        ws = await WS.connect(self.server, c, label=name)
        self.assertEqual((await ws.join(room))["type"], "joined")
        acked = []
        for i in range(n):
            text = "%s %d 持久" % (prefix, i)
            ack = await ws.send_msg(room, text)
            self.assertEqual(ack["type"], "ack", ack)
            acked.append((ack["id"], text))
        return room, name, pw, ws, acked

    async def check_after_restart(self, room, name, pw, acked):
        c = Client(self.server)
        r = c.login(name, pw)
        self.assertEqual(r.status, 200, r.describe())
        hist = self.history(c, room, limit=200)
        self.assertEqual([(m["id"], m["text"]) for m in hist], acked)
        for m in hist:
            self.assertEqual(m["sender"], name)
            self.assertEqual(m["room"], room)
        ws = await WS.connect(self.server, c, label="after-restart")
        j = await ws.join(room, since=0)
        self.assertEqual(j["type"], "joined", j)
        self.assertEqual([(m["id"], m["text"]) for m in j["history"]], acked)
        # New messages get new, larger ids.
        ack = await ws.send_msg(room, "after restart")
        self.assertEqual(ack["type"], "ack", ack)
        self.assertGreater(ack["id"], acked[-1][0])
        # The lobby still exists exactly once.
        names = [x["name"] for x in c.get("/api/rooms").json()["rooms"]]
        self.assertEqual(names.count("lobby"), 1)

    @async_test(timeout=200)
    async def test_history_survives_sigterm_restart(self):
        room, name, pw, ws, acked = await self.send_some("term")
        port = self.server.port
        rc = self.server.stop()
        self.assertEqual(rc, 0, "exit code on SIGTERM" + self.server.diag())
        self.assertEqual(await ws.closed(), 1001)
        self.server.start(port=port)
        self.assertEqual(self.server.port, port)
        await self.check_after_restart(room, name, pw, acked)

    @async_test(timeout=200)
    async def test_acked_messages_survive_sigkill(self):
        room, name, pw, ws, acked = await self.send_some("kill")
        port = self.server.port
        self.server.kill()
        self.server.start(port=port)
        await self.check_after_restart(room, name, pw, acked)


class ShutdownTest(ServerTestCase):
    ADMINS = [ADMIN]

    @async_test()
    async def test_sigterm_closes_websockets_with_1001(self):
        c1, n1, _, _ = self.new_user("sd")
        c2, n2, _, _ = self.new_user("sd")
        lobby = self.lobby_id(c1)
        w1 = await WS.connect(self.server, c1, label=n1)
        w2 = await WS.connect(self.server, c2, label=n2)
        self.assertEqual((await w1.join(lobby))["type"], "joined")
        started = time.monotonic()
        proc = self.server.proc
        self.server.proc.send_signal(15)
        codes = await asyncio.gather(w1.closed(timeout=10), w2.closed(timeout=10))
        self.assertEqual(codes, [1001, 1001])
        rc = await asyncio.get_running_loop().run_in_executor(None, lambda: proc.wait(10))
        elapsed = time.monotonic() - started
        self.assertEqual(rc, 0, self.server.diag())
        self.assertLess(elapsed, 10.0, "shutdown took %.1fs" % elapsed)
        self.server.stop()   # reaps
        # Start again for the class teardown (and to show the db is intact).
        self.server.start()
        self.assert_healthy()


if __name__ == "__main__":
    unittest.main()
