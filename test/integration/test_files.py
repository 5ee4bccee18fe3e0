"""Files and images against the real chatd: POST /api/files, GET of a file and
its thumbnail, files on `send` and `dm`, in live frames, history, `joined` and
search, deletion with the message, avatars and the user_updated frame.

- The type comes from the content (libmagic): a PNG named a.txt is image/png
  with a thumbnail; a text named x.png is text/plain without one.
- Limits: 413 file_too_large (answered from Content-Length, before the body),
  429 quota_exceeded, 400 bad_request (no name, empty body, control
  characters).
- Access: the uploader, readers of a message carrying the file (room members,
  both sides of a DM), anyone for an avatar; 404 not_found for everyone else.

The single-instance tests run on SQLite and, when CHAT_TEST_MYSQL_URL names a
server (scripts/test.sh starts one), again on MySQL.  FilesClusterTest runs
two instances on one MariaDB and one Redis sharing one files folder (its own
private servers, as test_cluster.py)."""

import os
import struct
import unittest
import zlib
from urllib.parse import quote

from chatlib import WS, Client, RawHTTP, ServerTestCase, StoreTestCase, async_test, uniq
from test_cluster import ClusterCase

FILE_MAX = 65536
FILE_QUOTA = 200000
ADMIN = ("files_admin", "admin-password-1", "files-admin@example.org")


def png(w, h, rgb=(200, 30, 30)):
    """A real PNG of w x h pixels of one colour."""
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload(client, name, data, **kw):
    path = "/api/files" if name is None else "/api/files?name=" + quote(name)
    return client.request("POST", path, raw_body=data,
                          headers={"Content-Type": "application/octet-stream"}, **kw)


class FilesCase(ServerTestCase):
    """The helpers of both classes."""

    def up(self, client, name, data):
        r = upload(client, name, data)
        self.assertEqual(r.status, 201, r.describe())
        f = r.json()["file"]
        self.assertEqual(set(f), {"id", "name", "size", "type", "url", "thumb_url"}, f)
        return f

    def befriend(self, a, a_name, b, b_name):
        self.assertEqual(a.post("/api/friends", {"username": b_name}).status, 200)
        self.assertEqual(b.post("/api/friends", {"username": a_name}).status, 200)

    async def send_files(self, ws, room, text, files, cid=None):
        cid = cid or uniq("c")
        await ws.send({"type": "send", "room": room, "text": text, "files": files, "cid": cid})
        return await ws.expect(lambda f: f.get("cid") == cid and f.get("type") in ("ack", "error"),
                               desc="ack/error for %s" % cid)


class FilesTest(FilesCase, StoreTestCase):
    ADMINS = [ADMIN]
    MYSQL = False

    @classmethod
    def server_args(cls):
        cls.files_dir = os.path.join(cls.tmp, "files")
        return ["--file-max", str(FILE_MAX), "--file-quota", str(FILE_QUOTA),
                "--files-dir", cls.files_dir]

    def disk_files(self):
        return set(n for n in os.listdir(self.files_dir) if not n.startswith("."))

    # -- upload and download ---------------------------------------------------
    def test_type_from_content_and_headers(self):
        c, name, _, _ = self.new_user("up")
        image = png(400, 300)
        f = self.up(c, "a.txt", image)
        self.assertEqual(f["type"], "image/png")
        self.assertEqual(f["name"], "a.txt")
        self.assertEqual(f["size"], len(image))
        self.assertEqual(f["url"], "/files/%d/a.txt" % f["id"])
        self.assertEqual(f["thumb_url"], "/files/thumb/%d" % f["id"])
        r = c.get(f["url"])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, image)
        self.assertEqual(r.header("Content-Type"), "image/png")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertIn("sandbox", r.header("Content-Security-Policy"))
        self.assertIn("default-src 'none'", r.header("Content-Security-Policy"))
        self.assertTrue(r.header("Content-Disposition").startswith("inline"), r.header("Content-Disposition"))
        self.assertIn("private", r.header("Cache-Control"))
        t = c.get(f["thumb_url"])
        self.assertEqual(t.status, 200, t.describe())
        self.assertEqual(t.header("Content-Type"), "image/webp")
        self.assertEqual(t.body[:4], b"RIFF")
        self.assertEqual(t.body[8:12], b"WEBP")
        # The thumbnail fits 320 x 320: a VP8/VP8L/VP8X header names its size.
        self.assertLess(len(t.body), len(image) + 10000)

        # A text named like an image is text, without a thumbnail, and a download.
        g = self.up(c, "x.png", "just some words\n".encode())
        self.assertTrue(g["type"].startswith("text/"), g)
        self.assertIsNone(g["thumb_url"])
        r = c.get(g["url"])
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue(r.header("Content-Disposition").startswith("attachment"))
        self.assertEqual(c.get("/files/thumb/%d" % g["id"]).status, 404)

        # A UTF-8 name: RFC 5987 filename*.
        h = self.up(c, "中文.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
        self.assertEqual(h["name"], "中文.pdf")
        self.assertEqual(h["url"], "/files/%d/%s" % (h["id"], quote("中文.pdf")))
        r = c.get(h["url"])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("Content-Type"), "application/pdf")
        disp = r.header("Content-Disposition")
        self.assertTrue(disp.startswith("attachment"), disp)
        self.assertIn("filename*=UTF-8''%E4%B8%AD%E6%96%87.pdf", disp)
        # Names on disk never come from the user's name.
        for n in self.disk_files():
            self.assertRegex(n, r"^[ft]-[0-9a-f]{32}(\.webp)?$")

    def test_limits_and_bad_requests(self):
        c, _, _, _ = self.new_user("lim")
        # Over the limit by Content-Length: answered at once, before any body.
        raw = RawHTTP(self.server.port)
        try:
            raw.send(("POST /api/files?name=big HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sid=%s\r\n"
                      "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                      % (c.sid, 50 * 1024 * 1024)).encode())
            resp = raw.read_response(timeout=20)
            self.assertEqual(resp.status, 413)
            self.assertIn(b"file_too_large", resp.body)
        finally:
            raw.close()
        self.assert_api_error(upload(c, "big.bin", b"x" * (FILE_MAX + 1)), 413, "file_too_large")
        self.assertEqual(upload(c, "max.bin", b"y" * FILE_MAX).status, 201)
        self.assert_api_error(upload(c, None, b"abc"), 400, "bad_request")
        self.assert_api_error(upload(c, "", b"abc"), 400, "bad_request")
        self.assert_api_error(upload(c, "e.txt", b""), 400, "bad_request")
        self.assert_api_error(upload(c, "a\x01b", b"abc"), 400, "bad_request")
        self.assert_api_error(upload(c, "n" * 256, b"abc"), 400, "bad_request")
        self.assert_api_error(upload(self.client(), "anon.txt", b"abc"), 401, "unauthenticated")
        # A file may not be JSON and still goes through (the type is a hint).
        r = c.request("POST", "/api/files?name=j.json", raw_body=b'{"a":1}')
        self.assertEqual(r.status, 201, r.describe())

        # The quota: 200000 bytes per user.
        q, _, _, _ = self.new_user("quota")
        for i in range(3):
            self.assertEqual(upload(q, "q%d" % i, os.urandom(60000)).status, 201)
        self.assert_api_error(upload(q, "q3", os.urandom(60000)), 429, "quota_exceeded")
        self.assertEqual(upload(q, "small", os.urandom(1000)).status, 201)

    # -- files on messages -----------------------------------------------------
    @async_test()
    async def test_room_message_with_files(self):
        a, a_name, _, _ = self.new_user("fa")
        b, b_name, _, _ = self.new_user("fb")
        lobby = self.lobby_id(a)
        img = self.up(a, "photo.png", png(64, 48))
        doc = self.up(a, "notes.txt", "第一行\nsecond line\n".encode())
        # Not readable before it is sent.
        self.assert_api_error(b.get(img["url"]), 404, "not_found")
        self.assert_api_error(b.get(img["thumb_url"]), 404, "not_found")
        wa = await WS.connect(self.server, a)
        wb = await WS.connect(self.server, b)
        try:
            await wa.join(lobby)
            await wb.join(lobby)
            text = uniq("filesmsg")
            ack = await self.send_files(wa, lobby, text, [img["id"], doc["id"]])
            self.assertEqual(ack["type"], "ack", ack)
            m = await wb.expect(lambda f: f.get("type") == "message" and f.get("id") == ack["id"])
            self.assertEqual([f["id"] for f in m["files"]], [img["id"], doc["id"]])
            self.assertEqual(m["files"][0], img)
            self.assertEqual(m["files"][1], doc)
            # Now b may read both.
            self.assertEqual(b.get(img["url"]).status, 200)
            self.assertEqual(b.get(img["thumb_url"]).status, 200)
            self.assertEqual(b.get(doc["url"]).body, "第一行\nsecond line\n".encode())
            # Text may be empty with files; absent too.
            solo = self.up(a, "solo.png", png(10, 10))
            ack2 = await self.send_files(wa, lobby, "  ", [solo["id"]])
            self.assertEqual(ack2["type"], "ack", ack2)
            m2 = await wb.expect(lambda f: f.get("type") == "message" and f.get("id") == ack2["id"])
            self.assertEqual(m2["text"], "")
            self.assertEqual(m2["files"][0]["id"], solo["id"])
            cid = uniq("c")
            solo2 = self.up(a, "solo2.png", png(10, 10))
            await wa.send({"type": "send", "room": lobby, "files": [solo2["id"]], "cid": cid})
            ack3 = await wa.expect(lambda f: f.get("cid") == cid)
            self.assertEqual(ack3["type"], "ack", ack3)
            # Errors: a file already sent, somebody else's, a bad list, too many.
            err = await self.send_files(wa, lobby, "again", [img["id"]])
            self.assertEqual((err["type"], err["code"]), ("error", "bad_request"), err)
            mine = self.up(b, "b.txt", b"b's")
            err = await self.send_files(wa, lobby, "not mine", [mine["id"]])
            self.assertEqual((err["type"], err["code"]), ("error", "bad_request"), err)
            for bad in (["1"], [0], "7", list(range(1, 12)), [mine["id"], mine["id"]]):
                err = await self.send_files(wa, lobby, "bad", bad)
                self.assertEqual((err["type"], err["code"]), ("error", "bad_request"), (bad, err))
            err = await self.send_files(wa, lobby, "", [])
            self.assertEqual((err["type"], err["code"]), ("error", "empty_text"), err)
            # Plain messages have no "files".
            plain = await wa.send_msg(lobby, "plain " + text)
            pm = await wb.expect(lambda f: f.get("type") == "message" and f.get("id") == plain["id"])
            self.assertNotIn("files", pm)
            # History, joined and search carry the files.
            hist = self.history(b, lobby)
            hm = [x for x in hist if x["id"] == ack["id"]][0]
            self.assertEqual(hm["files"], [img, doc])
            self.assertNotIn("files", [x for x in hist if x["id"] == plain["id"]][0])
            wc = await WS.connect(self.server, b)
            joined = await wc.join(lobby, since=ack["id"] - 1)
            jm = [x for x in joined["history"] if x["id"] == ack["id"]][0]
            self.assertEqual(jm["files"], [img, doc])
            await wc.close()
            r = b.get("/api/search?q=" + quote(text))
            self.assertEqual(r.status, 200, r.describe())
            sm = [x for x in r.json()["messages"] if x["id"] == ack["id"]]
            self.assertEqual(sm[0]["files"], [img, doc])
        finally:
            await wa.close()
            await wb.close()

    @async_test()
    async def test_dm_files_and_access(self):
        a, a_name, _, _ = self.new_user("da")
        b, b_name, _, _ = self.new_user("db")
        o, _, _, _ = self.new_user("do")
        self.befriend(a, a_name, b, b_name)
        f = self.up(a, "dm.png", png(30, 20))
        wa = await WS.connect(self.server, a)
        wb = await WS.connect(self.server, b)
        try:
            cid = uniq("c")
            await wa.send({"type": "dm", "to": b_name, "text": "", "files": [f["id"]], "cid": cid})
            ack = await wa.expect(lambda x: x.get("cid") == cid)
            self.assertEqual(ack["type"], "ack", ack)
            d = await wb.expect(lambda x: x.get("type") == "dm" and x.get("id") == ack["id"])
            self.assertEqual(d["files"], [f])
            self.assertEqual(b.get(f["url"]).status, 200)
            self.assertEqual(a.get(f["url"]).status, 200)
            # Somebody outside the conversation: 404, as for a file that does not exist.
            self.assert_api_error(o.get(f["url"]), 404, "not_found")
            self.assert_api_error(o.get(f["thumb_url"]), 404, "not_found")
            self.assert_api_error(o.get("/files/999999999/x"), 404, "not_found")
            self.assert_api_error(self.client().get(f["url"]), 401, "unauthenticated")
            r = b.get("/api/dm/%s/messages" % quote(a_name))
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual([m for m in r.json()["messages"] if m["id"] == ack["id"]][0]["files"], [f])
            # A file sent once cannot go to another DM.
            cid = uniq("c")
            await wa.send({"type": "dm", "to": b_name, "text": "again", "files": [f["id"]], "cid": cid})
            err = await wa.expect(lambda x: x.get("cid") == cid)
            self.assertEqual((err["type"], err["code"]), ("error", "bad_request"), err)
        finally:
            await wa.close()
            await wb.close()

    @async_test()
    async def test_private_room_files_only_for_members(self):
        a, a_name, _, _ = self.new_user("pa")
        b, b_name, _, _ = self.new_user("pb")
        o, _, _, _ = self.new_user("po")
        r = a.post("/api/rooms", {"name": uniq("私密-"), "visibility": "private", "members": [b_name]})
        self.assertEqual(r.status, 201, r.describe())
        room = r.json()["room"]["id"]
        f = self.up(a, "内部.png", png(20, 20))
        wa = await WS.connect(self.server, a)
        try:
            await wa.join(room)
            ack = await self.send_files(wa, room, "只给成员", [f["id"]])
            self.assertEqual(ack["type"], "ack", ack)
        finally:
            await wa.close()
        for client in (a, b, self.admin_client()):
            self.assertEqual(client.get(f["url"]).status, 200)
            self.assertEqual(client.get(f["thumb_url"]).status, 200)
        # Not a member: as if there were no such file.
        self.assert_api_error(o.get(f["url"]), 404, "not_found")
        self.assert_api_error(o.get(f["thumb_url"]), 404, "not_found")
        # Removed from the room: no longer readable.
        self.assertEqual(a.delete("/api/rooms/%d/members/%s" % (room, quote(b_name))).status, 204)
        self.assert_api_error(b.get(f["url"]), 404, "not_found")

    @async_test()
    async def test_delete_removes_files(self):
        a, _, _, _ = self.new_user("del")
        lobby = self.lobby_id(a)
        before = self.disk_files()
        f = self.up(a, "gone.png", png(50, 50))
        g = self.up(a, "gone.txt", b"bye")
        added = self.disk_files() - before
        self.assertEqual(len(added), 3, added)   # two files and one thumbnail
        wa = await WS.connect(self.server, a)
        try:
            await wa.join(lobby)
            ack = await self.send_files(wa, lobby, "to delete", [f["id"], g["id"]])
            self.assertEqual(ack["type"], "ack", ack)
            r = a.delete("/api/rooms/%d/messages/%d" % (lobby, ack["id"]))
            self.assertEqual(r.status, 204, r.describe())
            await wa.expect(lambda x: x.get("type") == "message_deleted" and x.get("id") == ack["id"])
        finally:
            await wa.close()
        for url in (f["url"], f["thumb_url"], g["url"]):
            self.assert_api_error(a.get(url), 404, "not_found")
        self.assertEqual(self.disk_files() & added, set())
        # The quota counts them no more: a fresh upload of the same size works.
        self.assertEqual(upload(a, "again.txt", b"again").status, 201)

    @async_test()
    async def test_room_deletion_removes_its_files(self):
        admin = self.admin_client()
        room = self.create_room(admin)["id"]
        a, _, _, _ = self.new_user("rd")
        f = self.up(a, "in-room.png", png(40, 40))
        keep = self.up(a, "kept.txt", b"not sent")
        before = self.disk_files()
        wa = await WS.connect(self.server, a)
        try:
            await wa.join(room)
            ack = await self.send_files(wa, room, "soon gone", [f["id"]])
            self.assertEqual(ack["type"], "ack", ack)
        finally:
            await wa.close()
        self.assertEqual(admin.delete("/api/rooms/%d" % room).status, 204)
        self.assert_api_error(a.get(f["url"]), 404, "not_found")
        self.assertEqual(a.get(keep["url"]).status, 200)   # not on a message: untouched
        gone = before - self.disk_files()
        self.assertEqual(len(gone), 2, gone)                # the file and its thumbnail

    # -- avatars and live profile changes --------------------------------------
    @async_test()
    async def test_avatar_and_user_updated(self):
        a, a_name, _, user = self.new_user("av")
        b, _, _, _ = self.new_user("avb")
        self.assertIsNone(user["avatar"])
        wb = await WS.connect(self.server, b)
        try:
            img = self.up(a, "me.png", png(120, 120, (20, 120, 220)))
            txt = self.up(a, "me.txt", b"not an image")
            other = self.up(b, "theirs.png", png(10, 10))
            self.assert_api_error(a.patch("/api/me", {"avatar": txt["id"]}), 400, "bad_request")
            self.assert_api_error(a.patch("/api/me", {"avatar": other["id"]}), 400, "bad_request")
            self.assert_api_error(a.patch("/api/me", {"avatar": "x"}), 400, "bad_request")
            r = a.patch("/api/me", {"avatar": img["id"]})
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.json()["user"]["avatar"], img["thumb_url"])
            self.assertEqual(a.get("/api/me").json()["user"]["avatar"], img["thumb_url"])
            u = await wb.expect(lambda f: f.get("type") == "user_updated"
                                and f["user"]["username"] == a_name and f["user"]["avatar"])
            self.assertEqual(u["user"], {"id": user["id"], "username": a_name,
                                         "display_name": a_name, "avatar": img["thumb_url"]})
            # Anyone signed in may see an avatar; nobody else.
            self.assertEqual(b.get(img["thumb_url"]).status, 200)
            self.assertEqual(self.client().get(img["thumb_url"]).status, 401)
            found = b.get("/api/users?q=" + quote(a_name)).json()["users"]
            self.assertEqual([x["avatar"] for x in found if x["username"] == a_name], [img["thumb_url"]])
            # A display name change is live too.
            r = a.patch("/api/me", {"display_name": "新名字"})
            self.assertEqual(r.status, 200, r.describe())
            u = await wb.expect(lambda f: f.get("type") == "user_updated"
                                and f["user"]["display_name"] == "新名字")
            self.assertEqual(u["user"]["avatar"], img["thumb_url"])
            r = a.patch("/api/me", {"avatar": None})
            self.assertIsNone(r.json()["user"]["avatar"])
            u = await wb.expect(lambda f: f.get("type") == "user_updated"
                                and f["user"]["username"] == a_name and f["user"]["avatar"] is None)
        finally:
            await wb.close()

@unittest.skipUnless(os.environ.get("CHAT_TEST_MYSQL_URL"), "CHAT_TEST_MYSQL_URL is not set")
class FilesMySQLTest(FilesTest):
    MYSQL = True


class FilesClusterTest(FilesCase, ClusterCase):
    """Two instances on one MariaDB and one Redis (test_cluster.py's),
    sharing one files folder."""

    @classmethod
    def cluster_args(cls):
        cls.files_dir = os.path.join(cls.infra.top, "files")
        return ["--files-dir", cls.files_dir]

    @async_test(timeout=120)
    async def test_upload_on_a_sent_on_b_served_by_both(self):
        ua, name, password, _ = self.new_user("cl")
        ub = Client(self.b)
        self.assertEqual(ub.login(name, password).status, 200)
        rc, rname, rpass, _ = self.new_user("clr")
        rb = Client(self.b)
        self.assertEqual(rb.login(rname, rpass).status, 200)
        lobby = self.lobby_id(ua)
        f = self.up(ua, "cluster.png", png(80, 60))       # uploaded on A
        wb = await WS.connect(self.b, ub)                  # sent through B
        wr = await WS.connect(self.a, rc)                  # read on A
        try:
            await wr.join(lobby)
            await wb.join(lobby)
            ack = await self.send_files(wb, lobby, "across", [f["id"]])
            self.assertEqual(ack["type"], "ack", ack)
            m = await wr.expect(lambda x: x.get("type") == "message" and x.get("id") == ack["id"],
                                timeout=20)
            self.assertEqual(m["files"], [f])
            for c in (rc, rb):                             # served by both
                r = c.get(f["url"])
                self.assertEqual(r.status, 200, r.describe())
                self.assertEqual(c.get(f["thumb_url"]).status, 200)
            self.assertEqual(self.history(rb, lobby)[-1]["files"], [f])
            # A profile change on B reaches a socket on A.
            av = self.up(ub, "me.png", png(40, 40))
            self.assertEqual(ub.patch("/api/me", {"avatar": av["id"]}).status, 200)
            u = await wr.expect(lambda x: x.get("type") == "user_updated"
                                and x["user"]["username"] == name, timeout=20)
            self.assertEqual(u["user"]["avatar"], av["thumb_url"])
            # Deleted through A: gone for both, bytes too.
            self.assertEqual(ua.delete("/api/rooms/%d/messages/%d" % (lobby, ack["id"])).status, 204)
            for c in (rc, rb):
                self.assertEqual(c.get(f["url"]).status, 404)
            left = os.listdir(self.files_dir)
            self.assertEqual(len([n for n in left if n.startswith("f-")]), 1, left)  # the avatar
        finally:
            await wb.close()
            await wr.close()


if __name__ == "__main__":
    unittest.main()
