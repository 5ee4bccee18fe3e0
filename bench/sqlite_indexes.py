#!/usr/bin/python3
"""What each index of the messages table costs SQLite per stored message.

Provisions a database the way bench/table.sh does (`chatd user bulk`,
`chatd room bulk`: the real schema, every migration), then inserts
messages the way the writer does (one transaction per batch, room and
sender spread like the 10 rooms x 50 users scenario, a cid per message)
into copies of it: as chatd makes it (with cids that grow with time, as
the front end's do, and with random ones), as it was before migrations 013
and 014, and with each index of the messages table dropped in turn.  Prints the CPU time per message of this process
(SQLite's work plus Python's, the same in every variant) and the bytes of
WAL written per message (wal_autocheckpoint off, synchronous off: the
disk is not measured).  Each variant runs --rounds times, interleaved.

  /usr/bin/python3 bench/sqlite_indexes.py [--chatd build-bench/chatd]
      [--messages 60000] [--batch 40] [--rounds 2] [--page-size N]
"""

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (name, indexes to drop, statements to run, cids): the schema as chatd makes
# it now, as it was before migrations 013 and 014, then each index of the
# messages table dropped in turn, then none at all.  cids "time": each grows
# with time, as the front end's and chatbench's do; "random": as a client
# that makes them up at random.
BEFORE_013 = ["CREATE UNIQUE INDEX messages_room_seq ON messages(room_id, seq)",
              "DROP INDEX messages_cid_sender",
              "CREATE UNIQUE INDEX messages_sender_cid ON messages(sender_id, cid)"
              " WHERE cid IS NOT NULL"]


def variants(db):
    c = sqlite3.connect(db)
    names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                     " AND tbl_name = 'messages' AND sql IS NOT NULL ORDER BY name")]
    c.close()
    out = [("as chatd makes it", [], [], "time"),
           ("as chatd makes it, random cids", [], [], "random")]
    if "messages_cid_sender" in names and "messages_room_seq" not in names:
        out.append(("before 013 and 014", [], BEFORE_013, "time"))
    for n in names:
        out.append(("without " + n, [n], [], "time"))
    out.append(("table only", names, [], "time"))
    return out


def provision(chatd, work, users, rooms, page_size):
    db = os.path.join(work, "base.db")
    sessions = os.path.join(work, "sessions.txt")
    subprocess.run([chatd, "user", "bulk", "--prefix", "ix", "--count", str(users),
                    "--sessions", sessions, "--db", db], input=b"bench-password-1\n",
                   check=True, stdout=subprocess.DEVNULL, timeout=600)
    subprocess.run([chatd, "room", "bulk", "--prefix", "ix", "--count", str(rooms), "--db", db],
                   check=True, stdout=subprocess.DEVNULL, timeout=600)
    c = sqlite3.connect(db, isolation_level=None)
    if page_size:
        c.execute("PRAGMA journal_mode=DELETE")
        c.execute("PRAGMA page_size=%d" % page_size)
        c.execute("VACUUM")
    uids = [r[0] for r in c.execute("SELECT id FROM users WHERE username LIKE 'ix%'")]
    rids = [r[0] for r in c.execute("SELECT id FROM rooms WHERE name LIKE 'ix%'")]
    c.close()
    return db, uids, rids


def run(base, work, drop, create, cids, uids, rids, n, batch):
    db = os.path.join(work, "run.db")
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f):
            os.remove(f)
    shutil.copy(base, db)
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    c.execute("PRAGMA wal_autocheckpoint=0")
    for name in drop:
        c.execute("DROP INDEX %s" % name)
    for sql in create:
        c.execute(sql)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    seq = {r: 0 for r in rids}
    rnd = random.Random(7)
    t0 = time.process_time()
    for b in range(n // batch):
        c.execute("BEGIN")
        for i in range(batch):
            room = rids[rnd.randrange(len(rids))]
            sender = uids[rnd.randrange(len(uids))]
            seq[room] += 1
            k = b * batch + i
            cid = ("ix-%08d-%d" % (k, sender) if cids == "time"
                   else "c%024x" % rnd.getrandbits(96))
            c.execute("INSERT INTO messages (room_id, sender_id, text, cid, ts, seq)"
                      " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                      (room, sender, "hello, 你好 %d" % i, cid, 1_700_000_000_000 + b, seq[room]))
        c.execute("COMMIT")
    cpu = time.process_time() - t0
    wal = os.path.getsize(db + "-wal")
    c.close()
    return cpu / n * 1e6, wal / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chatd", default=None)
    ap.add_argument("--messages", type=int, default=60000)
    ap.add_argument("--batch", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--page-size", type=int, default=0,
                    help="rebuild the database with this page size first (0: chatd's, 4096)")
    a = ap.parse_args()
    chatd = a.chatd
    if chatd is None:
        for cand in ("build-bench/chatd", "build/chatd"):
            if os.path.exists(os.path.join(ROOT, cand)):
                chatd = os.path.join(ROOT, cand)
                break
    if chatd is None or not os.path.exists(chatd):
        sys.exit("sqlite_indexes.py: no chatd (build it, or pass --chatd PATH)")
    work = tempfile.mkdtemp(prefix="chat-ix-")
    try:
        base, uids, rids = provision(chatd, work, a.users, a.rooms, a.page_size)
        vs = variants(base)
        res = {v[0]: [] for v in vs}
        for _ in range(a.rounds):
            for name, drop, create, cids in vs:
                res[name].append(run(base, work, drop, create, cids, uids, rids, a.messages,
                                     a.batch))
        print("%d messages, %d a transaction, %d users, %d rooms, page size %s; CPU of this process"
              " per message" % (a.messages, a.batch, a.users, a.rooms, a.page_size or "4096"))
        print("%-32s %-22s %s" % ("variant", "us/message", "WAL bytes/message"))
        for name, _, _, _ in vs:
            us = ", ".join("%.1f" % r[0] for r in res[name])
            wal = ", ".join("%.0f" % r[1] for r in res[name])
            print("%-32s %-22s %s" % (name, us, wal))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
