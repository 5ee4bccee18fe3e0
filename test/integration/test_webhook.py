"""The webhook notifier (src/actors/webhook.h) against the real chatd: a
local HTTP sink (http.server on 127.0.0.1) records every POST and answers
what the test planned (200 by default; 500 then 200 for the retry case, 400
for the refusal).  Checked: the payload's fields (Chinese text intact), the
HMAC-SHA256 signature over "TIMESTAMP.BODY" (recomputed here), one retry
after a 5xx and the batch delivered once, no retry after a 400, several
events in one POST, the per-user channel choice (webhook_notify false:
nothing), the phone number in the payload, and phone validation
(invalid_phone), join items.  WebhookHeldTest: a receiver holding its
answer holds up no message (libuv's pool cut to one thread).  WebhookShutdownTest: a stop while a retry waits
exits cleanly.  WebhookClusterTest: two instances on one MariaDB and one
Redis share the batching: each batch is POSTed once, never twice."""

import asyncio
import hashlib
import hmac
import http.server
import json
import threading
import time
import unittest

from chatlib import WS, Client, async_test, eventually, run_async, uniq
from community import ASYNC_TIMEOUT, SinkCase
from test_cluster import ClusterCase

SECRET = "s3cret-签名-key"
GATHER_MS = 300
INTERVAL_MS = 1500
BACKOFF_MS = 200


class Sink:
    """An HTTP server on loopback that records POSTs: (at, headers, raw body,
    parsed body, status answered).  plan[username] is a list of statuses to
    answer for that user's POSTs, in order (then 200)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []
        self.plan = {}
        self.hold = {}  # username -> threading.Event: its POSTs are answered once set
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw.decode("utf-8"))
                    user = body.get("user", {}).get("username")
                except Exception:
                    body, user = None, None
                with sink.lock:
                    steps = sink.plan.get(user)
                    status = steps.pop(0) if steps else 200
                    sink.posts.append({"at": time.monotonic(), "path": self.path,
                                       "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "raw": raw, "body": body, "user": user, "status": status})
                    gate = sink.hold.get(user)
                if gate is not None:
                    gate.wait(60)
                out = b'{"ok":true}' if status == 200 else b'{"error":"planned"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def to(self, username):
        with self.lock:
            return [p for p in self.posts if p["user"] == username]

    async def wait_for(self, username, n, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.to(username)
            if len(got) >= n:
                return got
            await asyncio.sleep(0.05)
        return self.to(username)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def verify(post, secret=SECRET):
    """What a receiver does: recompute the HMAC over TIMESTAMP "." BODY and
    compare in constant time; refuse an old timestamp."""
    ts = post["headers"].get("x-chat-timestamp")
    sig = post["headers"].get("x-chat-signature", "")
    if ts is None or not sig.startswith("sha256="):
        return False
    if abs(time.time() - int(ts)) > 300:
        return False
    want = hmac.new(secret.encode("utf-8"), ts.encode() + b"." + post["raw"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig[len("sha256="):])


class WebhookTest(SinkCase):
    @classmethod
    def make_sink(cls):
        return Sink()

    @classmethod
    def server_args(cls):
        return ["--webhook-url", cls.sink.url, "--webhook-events", "dm,mention,join"]

    @classmethod
    def server_env(cls):
        return {"CHAT_WEBHOOK_SECRET": SECRET,
                "CHAT_WEBHOOK_GATHER_MS": str(GATHER_MS),
                "CHAT_WEBHOOK_INTERVAL_MS": str(INTERVAL_MS),
                "CHAT_WEBHOOK_BACKOFF_MS": str(BACKOFF_MS)}

    def check_post(self, post, user):
        self.assertEqual(post["path"], "/hook")
        self.assertTrue(post["headers"].get("content-type", "").startswith("application/json"), post["headers"])
        self.assertTrue(verify(post), "bad signature: %r" % post["headers"])
        # A wrong secret or a changed body does not verify.
        self.assertFalse(verify(post, secret="other"))
        self.assertFalse(verify(dict(post, raw=post["raw"] + b" ")))
        body = post["body"]
        self.assertIsInstance(body, dict, post["raw"])
        self.assertRegex(body.get("delivery", ""), r"^[0-9a-f]{32}$")
        self.assertEqual(post["headers"].get("x-chat-delivery"), body["delivery"])
        self.assertEqual(body.get("site"), "chatd")
        self.assertIsInstance(body.get("ts"), int)
        self.assertEqual(body["user"]["id"], user["id"])
        self.assertEqual(body["user"]["username"], user["username"])
        self.assertIsInstance(body.get("items"), list)
        self.assertEqual(body.get("more"), 0)
        for it in body["items"]:
            self.assertEqual(set(it), {"event", "from", "room", "text", "ts"}, it)
            self.assertLess(abs(it["ts"] - time.time() * 1000), 5 * 60 * 1000, it)
        return body

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_dm_payload_signature_and_phone(self):
        ca, na, _, _ = self.new_user("张伟")
        cb, nb, _, ub = self.new_user("wb")
        self.befriend(ca, na, cb, nb)
        r = cb.patch("/api/me", {"phone": "+8613800138000"})
        self.assertEqual(r.status, 200, r.describe())
        wa = await WS.connect(self.server, ca, label="a")
        text = "你好，周末一起去爬山吗？🏔"
        ack = await self.send_dm(wa, nb, text)
        self.assertEqual(ack["type"], "ack", ack)
        posts = await self.sink.wait_for(nb, 1, timeout=10)
        self.assertEqual(len(posts), 1, "no POST for the offline receiver")
        body = self.check_post(posts[0], ub)
        self.assertEqual(body["user"].get("phone"), "+8613800138000")
        self.assertEqual(len(body["items"]), 1, body)
        it = body["items"][0]
        self.assertEqual(it["event"], "dm")
        self.assertEqual(it["from"], na)
        self.assertIsNone(it["room"])
        self.assertEqual(it["text"], text)
        # The raw body carries UTF-8, the text intact.
        self.assertIn(text.encode("utf-8"), posts[0]["raw"])
        # Nothing for the sender, nothing more for the receiver.
        await asyncio.sleep(1.0)
        self.assertEqual(len(self.sink.to(nb)), 1)
        self.assertEqual(self.sink.to(na), [])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_no_phone_no_phone_field(self):
        ca, na, _, _ = self.new_user("wc")
        cb, nb, _, ub = self.new_user("wd")
        self.befriend(ca, na, cb, nb)
        wa = await WS.connect(self.server, ca, label="a")
        await self.send_dm(wa, nb, "hello")
        posts = await self.sink.wait_for(nb, 1, timeout=10)
        self.assertEqual(len(posts), 1)
        body = self.check_post(posts[0], ub)
        self.assertNotIn("phone", body["user"])

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_retry_after_5xx(self):
        ca, na, _, _ = self.new_user("we")
        cb, nb, _, ub = self.new_user("wf")
        self.befriend(ca, na, cb, nb)
        with self.sink.lock:
            self.sink.plan[nb] = [500]
        wa = await WS.connect(self.server, ca, label="a")
        await self.send_dm(wa, nb, "重试之后到达")
        posts = await self.sink.wait_for(nb, 2, timeout=15)
        self.assertEqual([p["status"] for p in posts], [500, 200], "no retry after the 500")
        first, second = posts
        self.assertGreaterEqual(second["at"] - first["at"], BACKOFF_MS / 2 / 1000 - 0.05)
        # The same delivery, signed again; the event arrives once.
        self.assertEqual(first["body"]["delivery"], second["body"]["delivery"])
        self.assertEqual(first["body"]["items"], second["body"]["items"])
        body = self.check_post(second, ub)
        self.assertEqual([i["text"] for i in body["items"]], ["重试之后到达"])
        await asyncio.sleep(1.5)
        self.assertEqual(len(self.sink.to(nb)), 2, "more POSTs after the success")
        self.assertIn("HTTP 500", self.server.stderr_text())
        # /metrics counts the failure, the retry and the success.
        m = {}
        for line in self.client().get("/metrics").body.decode().splitlines():
            if line.startswith("chat_webhook_"):
                name, value = line.split(" ", 1)
                m[name] = float(value)
        self.assertEqual(m["chat_webhook_enabled"], 1)
        for name in ("chat_webhook_sent_total", "chat_webhook_failed_total",
                     "chat_webhook_retried_total"):
            self.assertGreaterEqual(m[name], 1, (name, m))

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_no_retry_after_400(self):
        ca, na, _, _ = self.new_user("wg")
        cb, nb, _, ub = self.new_user("wh")
        self.befriend(ca, na, cb, nb)
        with self.sink.lock:
            self.sink.plan[nb] = [400]
        wa = await WS.connect(self.server, ca, label="a")
        await self.send_dm(wa, nb, "refused")
        posts = await self.sink.wait_for(nb, 1, timeout=10)
        self.assertEqual([p["status"] for p in posts], [400])
        # Backoff would retry within ~BACKOFF_MS; wait well beyond it.
        await asyncio.sleep(max(2.0, 8 * BACKOFF_MS / 1000))
        self.assertEqual(len(self.sink.to(nb)), 1, "a retry after a 400")
        self.assertIn("not retried", self.server.stderr_text())
        self.assertNotIn(SECRET, self.server.stderr_text())

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_batch_of_dms_and_mention_is_one_post(self):
        admin = self.admin_client()
        room = self.create_room(admin)
        ca, na, _, _ = self.new_user("wi")
        cm, nm, _, _ = self.new_user("wj")
        cc, nc, _, uc = self.new_user("wk")
        self.befriend(ca, na, cc, nc)
        wa = await self.member(ca, room["id"], "a")
        wm = await self.member(cm, room["id"], nm)
        dms = ["第一条：上海下雨了", "第二条：带伞", "第三条：晚上见"]
        await self.send_dms(wa, nc, dms)
        await self.send_room_msgs(wm, room["id"], ["@%s 请看公告" % nc])
        posts = await self.sink.wait_for(nc, 1, timeout=10)
        self.assertEqual(len(posts), 1)
        await asyncio.sleep(0.5)
        self.assertEqual(len(self.sink.to(nc)), 1, "the burst was split: %r" % [p["body"] for p in self.sink.to(nc)])
        body = self.check_post(posts[0], uc)
        items = body["items"]
        self.assertEqual([i["event"] for i in items].count("dm"), 3, items)
        self.assertEqual(sorted(i["text"] for i in items if i["event"] == "dm"), sorted(dms))
        mention = [i for i in items if i["event"] == "mention"]
        self.assertEqual(len(mention), 1, items)
        self.assertEqual(mention[0]["from"], nm)
        self.assertEqual(mention[0]["room"], room["name"])
        self.assertEqual(mention[0]["text"], "@%s 请看公告" % nc)

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_webhook_notify_off(self):
        ca, na, _, _ = self.new_user("wl")
        cf, nf, _, _ = self.new_user("wm")
        cg, ng, _, _ = self.new_user("wn")
        self.befriend(ca, na, cf, nf)
        self.befriend(ca, na, cg, ng)
        r = cf.patch("/api/me", {"webhook_notify": False})
        self.assertEqual(r.status, 200, r.describe())
        self.assertIs(r.json()["user"]["webhook_notify"], False)
        self.assertIs(cf.get("/api/me").json()["user"]["webhook_notify"], False)
        # Mail stays as it was.
        self.assertIs(cf.get("/api/me").json()["user"]["email_notify"], True)
        wa = await WS.connect(self.server, ca, label="a")
        for to in (nf, ng):
            ack = await self.send_dm(wa, to, "请回电话")
            self.assertEqual(ack["type"], "ack", ack)
        posts = await self.sink.wait_for(ng, 1, timeout=10)
        self.assertEqual(len(posts), 1, "no POST for the control user")
        await asyncio.sleep(0.5)
        self.assertEqual(self.sink.to(nf), [], "a POST for a user with webhook_notify false")

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_online_user_gets_nothing(self):
        ca, na, _, _ = self.new_user("wo")
        cd, nd, _, _ = self.new_user("wp")
        ce, ne, _, _ = self.new_user("wq")
        self.befriend(ca, na, cd, nd)
        self.befriend(ca, na, ce, ne)
        wa = await WS.connect(self.server, ca, label="a")
        wd = await WS.connect(self.server, cd, label=nd)
        await self.send_dm(wa, nd, "在线")
        await self.send_dm(wa, ne, "不在线")
        self.assertEqual(len(await self.sink.wait_for(ne, 1, timeout=10)), 1)
        await asyncio.sleep(0.5)
        self.assertEqual(self.sink.to(nd), [])
        await wd.close()

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_join_event(self):
        admin = self.admin_client()
        room = self.create_room(admin)
        cj, nj, _, uj = self.new_user("wt")
        await self.member(cj, room["id"], nj)
        posts = await self.sink.wait_for(nj, 1, timeout=10)
        self.assertEqual(len(posts), 1, "no POST for the join")
        body = self.check_post(posts[0], uj)
        self.assertEqual(len(body["items"]), 1, body)
        it = body["items"][0]
        self.assertEqual((it["event"], it["from"], it["room"], it["text"]), ("join", nj, room["name"], ""))

    def test_phone_settings(self):
        c, n, _, u = self.new_user("wr")
        me = c.get("/api/me").json()["user"]
        self.assertIsNone(me.get("phone", "missing"))
        self.assertIs(me.get("webhook_notify"), True)
        for bad in ["12345678", "+0123456789", "+1234567", "+1234567890123456", "+86 13800138000",
                    "+86-138-0013-8000", "+８６１３８００１３８０００", "tel:+8613800138000", 8613800138000,
                    True, ["+8613800138000"], {"n": 1}, "+86138001380\n00"]:
            with self.subTest(phone=bad):
                self.assert_api_error(c.patch("/api/me", {"phone": bad}), 400, "invalid_phone")
        # Nothing was stored by a refused request, also with other fields in it.
        self.assert_api_error(c.patch("/api/me", {"phone": "x", "email_notify": False}), 400, "invalid_phone")
        me = c.get("/api/me").json()["user"]
        self.assertIsNone(me["phone"])
        self.assertIs(me["email_notify"], True)
        self.assert_api_error(c.patch("/api/me", {"webhook_notify": "no"}), 400, "bad_request")
        for good in ["+8613800138000", "+12025550123", "+123456789012345", "+12345678"]:
            r = c.patch("/api/me", {"phone": good})
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.json()["user"]["phone"], good)
            self.assertEqual(c.get("/api/me").json()["user"]["phone"], good)
        r = c.patch("/api/me", {"phone": "", "webhook_notify": False, "email_notify": False})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual((r.json()["user"]["phone"], r.json()["user"]["webhook_notify"],
                          r.json()["user"]["email_notify"]), (None, False, False))
        c.patch("/api/me", {"phone": "+8613800138000"})
        r = c.patch("/api/me", {"phone": None})
        self.assertIsNone(r.json()["user"]["phone"])
        # The phone is the user's own business: others never see it.
        c.patch("/api/me", {"phone": "+8613800138000"})
        other, _, _, _ = self.new_user("ws")
        r = other.get("/api/users?q=%s" % n)
        self.assertEqual(r.status, 200, r.describe())
        self.assertNotIn("+8613800138000", r.text())
        self.assertNotIn("phone", r.text())
        # An administrator sees it in the user list.
        r = self.admin_client().get("/api/admin/users")
        if r.status == 200:
            row = [x for x in r.json()["users"] if x["username"] == n]
            self.assertEqual(row[0].get("phone"), "+8613800138000", row)


class WebhookShutdownTest(SinkCase):
    """A stop while a POST waits for its retry: chatd exits at once and
    cleanly (no leak under the sanitizers: exit code 0)."""

    @classmethod
    def make_sink(cls):
        return Sink()

    @classmethod
    def server_args(cls):
        return ["--webhook-url", cls.sink.url]

    @classmethod
    def server_env(cls):
        return {"CHAT_WEBHOOK_SECRET": SECRET, "CHAT_WEBHOOK_GATHER_MS": "200",
                "CHAT_WEBHOOK_BACKOFF_MS": "60000"}

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_stop_during_backoff(self):
        ca, na, _, _ = self.new_user("wx")
        cb, nb, _, _ = self.new_user("wy")
        self.befriend(ca, na, cb, nb)
        with self.sink.lock:
            self.sink.plan[nb] = [503]
        wa = await WS.connect(self.server, ca, label="a")
        await self.send_dm(wa, nb, "稍后重试")
        posts = await self.sink.wait_for(nb, 1, timeout=10)
        self.assertEqual([p["status"] for p in posts], [503])
        await wa.close()
        t0 = time.monotonic()
        rc = self.server.stop()
        self.assertEqual(rc, 0, "chatd exited with %r%s" % (rc, self.server.diag()))
        self.assertLess(time.monotonic() - t0, 20, "the stop waited for the retry")
        self.assertEqual(len(self.sink.to(nb)), 1)


class WebhookHeldTest(SinkCase):
    """A receiver that holds its answer holds up nothing else: POSTs run on
    the webhook's own threads, not on libuv's pool, where the store commits
    messages and reads history.  The pool is cut to one thread here
    (UV_THREADPOOL_SIZE=1): a POST on it would stop every message until the
    receiver answered."""

    @classmethod
    def make_sink(cls):
        return Sink()

    @classmethod
    def server_args(cls):
        return ["--webhook-url", cls.sink.url]

    @classmethod
    def server_env(cls):
        return {"CHAT_WEBHOOK_SECRET": SECRET, "CHAT_WEBHOOK_GATHER_MS": "100",
                "CHAT_WEBHOOK_INTERVAL_MS": "500", "UV_THREADPOOL_SIZE": "1"}

    @async_test(timeout=ASYNC_TIMEOUT)
    async def test_held_post_holds_up_no_message(self):
        ca, na, _, _ = self.new_user("wh")
        cb, nb, _, _ = self.new_user("wi")
        self.befriend(ca, na, cb, nb)
        gate = threading.Event()
        with self.sink.lock:
            self.sink.hold[nb] = gate
        try:
            wa = await WS.connect(self.server, ca, label="a")
            ack = await self.send_dm(wa, nb, "第一条")
            self.assertEqual(ack["type"], "ack", ack)
            posts = await self.sink.wait_for(nb, 1, timeout=10)
            self.assertEqual(len(posts), 1, "the POST for the offline receiver never came")
            # That POST is held by the receiver now (up to 60 s; the
            # webhook's timeout is 10 s).  The chat goes on.
            t0 = time.monotonic()
            for i in range(5):
                ack = await self.send_dm(wa, nb, "消息 %d" % i, timeout=4.0)
                self.assertEqual(ack["type"], "ack", ack)
            r = ca.get("/api/dm/%s/messages" % nb)
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual([m["text"] for m in r.json()["messages"]][-6:],
                             ["第一条"] + ["消息 %d" % i for i in range(5)])
            self.assertLess(time.monotonic() - t0, 4.0, "messages waited for the held POST")
            self.assertEqual(len(self.sink.to(nb)), 1)  # still held
        finally:
            gate.set()
        # Once answered, the next batch goes out.
        posts = await self.sink.wait_for(nb, 2, timeout=15)
        self.assertEqual(len(posts), 2, "no POST after the held one was answered")
        self.assertEqual([it["text"] for it in posts[1]["body"]["items"]], ["消息 %d" % i for i in range(5)])


# ===========================================================================
# Two instances, one MariaDB, one Redis: shared batching, no duplicates

class WebhookClusterTest(ClusterCase):
    GATHER = 1500
    INTERVAL = 6000

    @classmethod
    def cluster_sink(cls):
        return Sink()

    @classmethod
    def cluster_args(cls):
        return ["--webhook-url", cls.sink.url]

    @classmethod
    def cluster_env(cls):
        return {"CHAT_WEBHOOK_SECRET": SECRET, "CHAT_WEBHOOK_GATHER_MS": str(cls.GATHER), "CHAT_WEBHOOK_INTERVAL_MS": str(cls.INTERVAL),
                "CHAT_WEBHOOK_BACKOFF_MS": str(BACKOFF_MS)}

    def user(self, srv, base):
        name = uniq(base)
        c = Client(srv)
        r = c.register(name, "pw-" + name + "-secret", "%s@example.org" % name)
        self.assertEqual(r.status, 201, r.describe())
        r = c.login(name, "pw-" + name + "-secret")
        self.assertEqual(r.status, 200, r.describe())
        return c, name, r.json()["user"]

    def test_two_instances_post_each_batch_once(self):
        async def run():
            for srv in (self.a, self.b):
                eventually(lambda srv=srv: "batching is shared through Redis" in srv.stderr_text(),
                           timeout=30, desc="webhook batching shared")
            ca, na, _ = self.user(self.a, "ca")
            cb, nb, _ = self.user(self.b, "cb")
            cr, nr, ur = self.user(self.a, "cr")
            for c, other in ((ca, nr), (cb, nr)):
                r = c.post("/api/friends", {"username": other})
                self.assertEqual(r.status, 200, r.describe())
            crb = Client(self.b)
            self.assertEqual(crb.login(nr, "pw-" + nr + "-secret").status, 200)
            for c, n in ((cr, na), (crb, nb)):
                r = c.post("/api/friends", {"username": n})
                self.assertEqual(r.status, 200, r.describe())
            wa = await WS.connect(self.a, ca, label="a")
            wb = await WS.connect(self.b, cb, label="b")
            texts = []
            for i in range(3):
                for ws, who in ((wa, "A"), (wb, "B")):
                    t = "经由%s的消息%d" % (who, i)
                    texts.append(t)
                    cid = uniq("c")
                    await ws.send({"type": "dm", "to": nr, "text": t, "cid": cid})
                    f = await ws.expect(lambda f, cid=cid: f.get("cid") == cid and f.get("type") in ("ack", "error"))
                    self.assertEqual(f["type"], "ack", f)
            posts = await self.sink.wait_for(nr, 1, timeout=20)
            self.assertEqual(len(posts), 1)
            # Well past another poll on both instances: still one POST.
            await asyncio.sleep(3.0)
            posts = self.sink.to(nr)
            self.assertEqual(len(posts), 1, "duplicate POSTs: %r" % [p["body"] for p in posts])
            self.assertTrue(verify(posts[0]))
            got = [i["text"] for i in posts[0]["body"]["items"]]
            self.assertEqual(sorted(got), sorted(texts), "every item once, in one POST")
            self.assertEqual(posts[0]["body"]["user"]["id"], ur["id"])
        try:
            run_async(run(), 120)
        except AssertionError as e:
            raise AssertionError("%s\n--- A ---\n%s\n--- B ---\n%s" % (
                e, self.a.stderr_text(3000), self.b.stderr_text(3000))) from None


if __name__ == "__main__":
    unittest.main()
