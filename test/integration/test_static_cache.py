"""Front-end files answered from memory (src/actors/static_cache.h): the
bytes are the file's, a changed file is served within a second, and many
pipelined requests on one connection whose client reads nothing for a while
(so the socket fills and answers are queued behind the first ones) all come
back whole and in order."""
import os
import shutil
import socket
import tempfile
import time
import unittest

from chatlib import Server, public_path


def read_responses(sock, count, timeout=60):
    """Reads count HTTP/1.1 responses with Content-Length; returns the bodies."""
    sock.settimeout(timeout)
    buf = b""
    bodies = []
    while len(bodies) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, "connection closed after %d responses" % len(bodies)
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head[:80]
        length = None
        for line in head.split(b"\r\n")[1:]:
            k, v = line.split(b":", 1)
            if k.strip().lower() == b"content-length":
                length = int(v)
        assert length is not None, head
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed inside a body"
            rest += chunk
        bodies.append(rest[:length])
        buf = rest[length:]
    return bodies


class StaticCacheTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A copy of the front end, so that the test may change a file.
        cls.pub = tempfile.mkdtemp(prefix="chat-pub-")
        shutil.copytree(public_path(), cls.pub, dirs_exist_ok=True)
        cls.server = Server(extra_args=["--public", cls.pub])
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.pub, ignore_errors=True)

    def test_pipelined_answers_whole_and_in_order(self):
        want_index = open(os.path.join(self.pub, "index.html"), "rb").read()
        want_css = open(os.path.join(self.pub, "app.css"), "rb").read()
        s = socket.create_connection(("127.0.0.1", self.server.port))
        n = 200
        req = b""
        for i in range(n):
            path = b"/index.html" if i % 2 == 0 else b"/app.css"
            req += b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(req)
        time.sleep(1.0)  # read nothing for a while: the server's writes back up
        bodies = read_responses(s, n)
        s.close()
        for i, b in enumerate(bodies):
            self.assertEqual(b, want_index if i % 2 == 0 else want_css, "answer %d" % i)

    def test_changed_file_is_served_within_a_second(self):
        path = os.path.join(self.pub, "favicon.svg")
        s = socket.create_connection(("127.0.0.1", self.server.port))
        get = b"GET /favicon.svg HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(get)
        old = read_responses(s, 1)[0]
        self.assertEqual(old, open(path, "rb").read())
        new = old.replace(b"</svg>", b"<!-- changed --></svg>")
        with open(path, "wb") as f:
            f.write(new)
        deadline = time.monotonic() + 5
        got = old
        while got != new and time.monotonic() < deadline:
            time.sleep(0.2)
            s.sendall(get)
            got = read_responses(s, 1)[0]
        s.close()
        self.assertEqual(got, new)


if __name__ == "__main__":
    unittest.main()
