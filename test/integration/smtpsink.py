"""A small SMTP sink for the e-mail notification tests: an SMTP server on
127.0.0.1 that keeps every mail it is given (Mail, SmtpSink)."""

import asyncio
import email
import email.policy
import socketserver
import threading
import time


class Mail:
    def __init__(self, mail_from, rcpts, data, at):
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.data = data
        self.at = at            # time.monotonic() when the DATA was complete
        self.msg = email.message_from_bytes(data, policy=email.policy.default)

    @property
    def subject(self):
        return str(self.msg["Subject"] or "")

    @property
    def raw_subject(self):
        """The Subject header as sent (folded lines joined)."""
        head = self.data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"subject:"):
                return line[8:].strip()
        return None

    @property
    def body(self):
        return self.msg.get_content()

    def describe(self):
        return "mail from %r to %r at %.2f:\n%s" % (self.mail_from, self.rcpts, self.at,
                                                  self.data[:2000].decode("utf-8", "replace"))


def _smtp_address(arg):
    # "MAIL FROM:<a@b> SIZE=1" -> "a@b"
    _, _, rest = arg.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1:].split(">", 1)[0]
    return rest.split(" ", 1)[0]


class SmtpSink:
    """A small SMTP server on 127.0.0.1 that accepts and keeps every mail:
    220 greeting, EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP,
    QUIT."""

    def __init__(self):
        self.mails = []
        self.sessions = 0
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def handle(self):
                try:
                    sink._session(self.rfile, self.wfile)
                except OSError:
                    pass

        class TCPServer(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = TCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _session(self, rfile, wfile):
        def reply(text):
            wfile.write(text.encode("ascii") + b"\r\n")
            wfile.flush()

        with self.lock:
            self.sessions += 1
        reply("220 sink.test ESMTP ready")
        mail_from, rcpts = None, []
        while True:
            line = rfile.readline(65536)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                reply("250 sink.test")
            elif verb == "HELO":
                reply("250 sink.test")
            elif verb == "MAIL":
                mail_from, rcpts = _smtp_address(cmd), []
                reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(_smtp_address(cmd))
                reply("250 OK")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    l = rfile.readline(1 << 20)
                    if not l:
                        return
                    if l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    lines.append(l)
                mail = Mail(mail_from, rcpts, b"".join(lines), time.monotonic())
                with self.lock:
                    self.mails.append(mail)
                reply("250 OK queued")
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                reply("250 OK")
            elif verb == "NOOP":
                reply("250 OK")
            elif verb == "QUIT":
                reply("221 Bye")
                return
            else:
                reply("502 Command not implemented")

    def to(self, address):
        address = address.lower()
        with self.lock:
            return [m for m in self.mails if address in [r.lower() for r in m.rcpts]]

    async def wait_for(self, address, count, timeout):
        """Waits until address has at least count mails; returns its mails
        (fewer when the timeout passed)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.to(address)
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            await asyncio.sleep(0.05)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
