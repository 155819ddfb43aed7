"""The SQLite reference: Python's sqlite3 doing, on the server's own file and with its pragmas,
the statements the server runs on SQLite, from one process per client (so no interpreter lock
is shared between clients). The module prepares each statement once per connection (its
statement cache), as Diesel does.

    python3 bench/sqlite_reference.py seed FILE FIRST COUNT
    python3 bench/sqlite_reference.py delete|lookup FILE CLIENTS SECONDS FIRST COUNT

`seed` adds COUNT users numbered from FIRST, each with a primary e-mail and a live session,
shaped like the server's rows (UUID text ids derived from the number, RFC 3339 text times).
`delete` deletes them as `DELETE /user` does on SQLite (one transaction: the write lock taken
by touching the user, the hold flag, the asking session, the e-mails, the cascade, the audit
entry, the outbox event); `lookup` reads a session row by primary key, as `GET /me` does.
Prints one JSON line: rate (per second), p50_ms, p99_ms.
"""
import datetime
import hashlib
import json
import multiprocessing
import queue
import sqlite3
import sys
import time
import uuid

# The server's connection set-up (crates/persistence/src/pool.rs).
PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA journal_mode = WAL",
           "PRAGMA synchronous = NORMAL", "PRAGMA busy_timeout = 5000")


def ident(kind, n):
    return str(uuid.UUID(hashlib.md5(f"{kind}{n}".encode()).hexdigest()))


def now_text(delta=datetime.timedelta()):
    t = datetime.datetime.now(datetime.timezone.utc) + delta
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def connect(path):
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0, cached_statements=64)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def seed(path, first, count):
    conn = connect(path)
    at, expires = now_text(), now_text(datetime.timedelta(hours=12))
    conn.execute("BEGIN IMMEDIATE")
    for n in range(first, first + count):
        user = ident("u", n)
        conn.execute("INSERT INTO users (id, created_at, updated_at, last_active_at) VALUES (?, ?, ?, ?)", (user, at, at, at))
        conn.execute("INSERT INTO emails (id, user_id, address, verified, is_primary, created_at, updated_at) "
                     "VALUES (?, ?, ?, 1, 1, ?, ?)", (ident("e", n), user, f"sqlite-{n}@example.com", at, at))
        conn.execute("INSERT INTO sessions (id, user_id, user_agent, ip_address, created_at, expires_at, last_used) "
                     "VALUES (?, ?, 'reference', '127.0.0.1', ?, ?, ?)", (ident("s", n), user, at, expires, at))
    conn.execute("COMMIT")
    conn.close()


def delete_one(conn, n):
    user, session, at = ident("u", n), ident("s", n), now_text()
    conn.execute("BEGIN")
    try:
        if conn.execute("UPDATE users SET updated_at = ? WHERE id = ?", (at, user)).rowcount == 0:
            raise RuntimeError(f"user {n} is missing")
        conn.execute("SELECT hold FROM users WHERE id = ? LIMIT 1", (user,)).fetchone()
        if conn.execute("SELECT created_at FROM sessions WHERE id = ? AND user_id = ? AND expires_at > ? LIMIT 1",
                        (session, user, at)).fetchone() is None:
            raise RuntimeError(f"session {n} is missing")
        emails = conn.execute("SELECT id, user_id, address, verified, is_primary, created_at, updated_at "
                              "FROM emails WHERE user_id = ? ORDER BY created_at ASC, id ASC", (user,)).fetchall()
        listed = [{"id": e[0], "address": e[2], "is_verified": bool(e[3]), "is_primary": bool(e[4]),
                   "created_at": e[5], "updated_at": e[6]} for e in emails]
        primary = next((e["address"] for e in listed if e["is_primary"]), None)
        conn.execute("DELETE FROM users WHERE id = ?", (user,))
        conn.execute("INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id, "
                     "meta_source_ip, meta_user_agent, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (str(uuid.uuid4()), "user_deleted", user, primary, str(uuid.uuid4()), "127.0.0.1",
                      "reference", json.dumps({"by": "user"}), at))
        conn.execute("INSERT INTO webhook_outbox (id, event, payload, created_at) VALUES (?, ?, ?, ?)",
                     (str(uuid.uuid4()), "user.delete",
                      json.dumps({"id": user, "emails": listed, "deleted_at": at}), at))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def lookup_one(conn, n):
    row = conn.execute("SELECT id, user_id, user_agent, ip_address, created_at, expires_at, last_used "
                       "FROM sessions WHERE id = ?", (ident("s", n),)).fetchone()
    if row is None:
        raise RuntimeError(f"session {n} is missing")


def client(path, mode, k, clients, start, deadline, first, count, out):
    conn = connect(path)
    time.sleep(max(0.0, start - time.monotonic()))
    work = delete_one if mode == "delete" else lookup_one
    latencies = []
    i = k
    retries = 0
    while time.monotonic() < deadline and i < count:
        started = time.perf_counter_ns()
        retries += until_done(work, conn, first + i)
        latencies.append(time.perf_counter_ns() - started)
        # Deletions take each number once; lookups cycle over the seeded sessions.
        i += clients
        if mode == "lookup" and i >= count:
            i = k
    out.put((latencies, retries))


def until_done(work, conn, n):
    """Runs one unit of work, again if SQLite's busy handler gave up (after busy_timeout, the
    server's 5 s), as an application would; the waits count in its latency. Returns the retries."""
    retries = 0
    while True:
        try:
            work(conn, n)
            return retries
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                raise
            retries += 1


def measure(path, mode, clients, seconds, first, count):
    out = multiprocessing.Queue()
    start = time.monotonic() + 0.5
    deadline = start + seconds
    procs = [multiprocessing.Process(target=client, args=(path, mode, k, clients, start, deadline, first, count, out))
             for k in range(clients)]
    for p in procs:
        p.start()
    latencies, retries, results = [], 0, 0
    while results < len(procs):
        try:
            got, tried = out.get(timeout=1)
        except queue.Empty:
            # A client that died never reports: stop instead of waiting for it forever.
            if any(p.exitcode not in (None, 0) for p in procs):
                sys.exit("a reference client failed (see its traceback above)")
            continue
        latencies.extend(got)
        retries += tried
        results += 1
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"a reference client failed (exit {p.exitcode})")
    elapsed = seconds
    if mode == "delete" and len(latencies) >= count:
        sys.exit(f"the reference ran out of seeded users ({count}) before {seconds} s: seed more")
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1e6
    return {"rate": len(latencies) / elapsed, "p50_ms": pick(0.5), "p99_ms": pick(0.99), "busy_retries": retries}


def main():
    mode = sys.argv[1]
    if mode == "seed":
        seed(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    path, clients, seconds, first, count = sys.argv[2], *map(int, sys.argv[3:7])
    print(json.dumps(measure(path, mode, clients, seconds, first, count)))


if __name__ == "__main__":
    main()
