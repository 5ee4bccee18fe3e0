"""The shared base of the community tests (test_friends_dms,
test_search_moderation, test_read_notify): a chatd with one administrator and
helpers for friends, direct messages, search and rooms.  Not a test module
itself (CTest runs only test_*.py)."""

import unittest
import urllib.parse

from chatlib import Server, ServerTestCase, WS, now_ms, uniq

ADMIN = ("comm_admin", "admin-password-1", "comm-admin@example.org")

ASYNC_TIMEOUT = 60


def quote(text):
    return urllib.parse.quote(text, safe="")


def ids_of(messages):
    return [m["id"] for m in messages]


class CommunityBase(ServerTestCase):
    ADMINS = [ADMIN]

    def new_user(self, base="u", password=None, email=None, login=True):
        # A name in another script gets an ASCII e-mail address.
        if email is None and not base.isascii():
            email = "%s@example.org" % uniq("intl")
        return super().new_user(base, password, email, login)

    # -- friends ------------------------------------------------------------
    def friends(self, client):
        r = client.get("/api/friends")
        self.assertEqual(r.status, 200, r.describe())
        body = r.json()
        for key in ("friends", "incoming", "outgoing"):
            self.assertIsInstance(body.get(key), list, r.describe())
        return body

    def friend_names(self, client):
        return [f["username"] for f in self.friends(client)["friends"]]

    def befriend(self, ca, na, cb, nb):
        """a asks b, b accepts: they are friends."""
        r = ca.post("/api/friends", {"username": nb})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"username": nb, "state": "outgoing"}, r.describe())
        r = cb.post("/api/friends", {"username": na})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"username": na, "state": "friends"}, r.describe())

    def new_friends(self, base_a="fa", base_b="fb"):
        ca, na, pa, _ = self.new_user(base_a)
        cb, nb, pb, _ = self.new_user(base_b)
        self.befriend(ca, na, cb, nb)
        return (ca, na, pa), (cb, nb, pb)

    def login_again(self, name, password):
        c = self.client()
        r = c.login(name, password)
        self.assertEqual(r.status, 200, r.describe())
        return c

    # -- direct messages ----------------------------------------------------
    async def send_dm(self, ws, to, text, cid=None, timeout=10.0):
        """Sends a dm frame and returns its ack, or the error frame for it
        (an error without cid is returned too, so that the test can say so)."""
        cid = cid if cid is not None else uniq("d")
        await ws.send({"type": "dm", "to": to, "text": text, "cid": cid})
        return await ws.expect(
            lambda f: (f.get("type") == "ack" and f.get("cid") == cid)
            or (f.get("type") == "error" and f.get("cid", cid) == cid),
            timeout, desc="ack/error for dm cid %r" % cid)

    async def send_dms(self, ws, to, texts, timeout=20.0):
        """Sends several dm frames without waiting, then waits for every ack;
        returns the ids in sending order."""
        cids = [uniq("dp") for _ in texts]
        for cid, text in zip(cids, texts):
            await ws.send({"type": "dm", "to": to, "text": text, "cid": cid})
        ids = []
        for cid in cids:
            f = await ws.expect(
                lambda f, cid=cid: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                timeout, desc="ack for dm cid %r" % cid)
            self.assertEqual(f["type"], "ack", f)
            ids.append(f["id"])
        return ids

    async def send_room_msgs(self, ws, room, texts, timeout=20.0):
        """Sends several room messages without waiting, then waits for every
        ack; returns the ids in sending order."""
        cids = [uniq("rp") for _ in texts]
        for cid, text in zip(cids, texts):
            await ws.send({"type": "send", "room": room, "text": text, "cid": cid})
        ids = []
        for cid in cids:
            f = await ws.expect(
                lambda f, cid=cid: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                timeout, desc="ack for cid %r" % cid)
            self.assertEqual(f["type"], "ack", f)
            ids.append(f["id"])
        return ids

    def dm_history(self, client, peer, **params):
        q = "&".join("%s=%s" % (k, v) for k, v in params.items())
        r = client.get("/api/dm/%s/messages%s" % (quote(peer), ("?" + q) if q else ""))
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["messages"]

    def check_dm(self, frame, msg_id, sender, to, text):
        self.assertEqual(frame.get("type"), "dm", frame)
        self.assertEqual(frame.get("id"), msg_id, frame)
        self.assertEqual(frame.get("sender"), sender, frame)
        self.assertEqual(frame.get("to"), to, frame)
        self.assertEqual(frame.get("text"), text, frame)
        self.assertNotIn("room", frame, frame)
        self.assertIsInstance(frame.get("ts"), int, frame)
        self.assertLess(abs(frame["ts"] - now_ms()), 5 * 60 * 1000, "ts is not ms since the epoch: %r" % frame)

    # -- search -------------------------------------------------------------
    def search(self, client, text, room=None):
        path = "/api/search?q=" + quote(text)
        if room is not None:
            path += "&room=%s" % room
        r = client.get(path)
        self.assertEqual(r.status, 200, r.describe())
        msgs = r.json()["messages"]
        self.assertIsInstance(msgs, list, r.describe())
        return msgs

    # -- rooms --------------------------------------------------------------
    async def member(self, client, room, label):
        ws = await WS.connect(self.server, client, label=label)
        j = await ws.join(room)
        self.assertEqual(j["type"], "joined", j)
        return ws

    def admin_name(self):
        return self.ADMINS[0][0]


class SinkCase(CommunityBase):
    """A CommunityBase whose chatd sends to a sink the class owns (a mail or
    webhook receiver): make_sink() starts it (cls.sink), server_args() and
    server_env() configure chatd for it; the sink is closed after the
    class."""
    sink = None

    @classmethod
    def make_sink(cls):
        raise NotImplementedError

    @classmethod
    def server_args(cls):
        return []

    @classmethod
    def server_env(cls):
        return None

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.sink = cls.make_sink()
        cls.server = Server(extra_args=cls.server_args(), env=cls.server_env())
        try:
            for name, password, mail in cls.ADMINS:
                cls.server.add_user(name, password, mail, admin=True)
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            cls.sink.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.sink.close()
