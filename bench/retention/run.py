#!/usr/bin/env python3
"""The inactivity policy's first run on an old database, on two instances over one Postgres.

    python3 bench/retention/run.py [--users 100000] [--rate 1000]   (API_BIN, default target/release/api)

Seeds `--users` inactive users (last active 800 days ago) directly in the database, then:
1. idle: both instances with the policy (`inactive_after: 730d`, `warn_before` 1.5 × users /
   rate + 10 s, so the deletions start after the last warning, `interval: 1s`, `rate`), every
   seeded user under legal hold (so nothing is due); DELETE /user for active users at a fixed
   100 requests per second (open loop, 8 connections over both instances) for 100 s
   (`BENCH_IDLE_S`): the reference p50/p99;
2. the holds released (one UPDATE), the same servers and the same DELETE load going on, until
   every seeded user is deleted.
This machine's Postgres has autovacuum off: the script vacuums the written tables every 10 s
from the reference on, as autovacuum would. Reports each phase's duration (first to last audit entry of the phase) against users / rate,
DELETE's p50/p99 during each phase against the idle run, and checks every seeded user was
warned exactly once and deleted exactly once (audit entries and events, distinct ids) and that
Postgres counted no deadlock. Writes bench/out/retention.json. Exits 1 when a check fails.
"""
import argparse, http.client, json, os, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support import PG, call, free_port, psql, wait_ready  # noqa: E402

API = os.environ.get("API_BIN", "target/release/api")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "bench", "out")
LOAD_RATE = 100  # DELETE /user per second, both instances together
LOAD_CONNS = 8
IDLE_S = int(os.environ.get("BENCH_IDLE_S", "100"))


def config(work, name, db, policy):
    public_port, admin_port = free_port(), free_port()
    account = {"allow_deletion": True}
    if policy:
        account["retention"] = policy
    cfg = {
        "server": {"public": {"address": f"127.0.0.1:{public_port}"},
                   "admin": {"address": f"127.0.0.1:{admin_port}"}},
        "database": {"url": f"{PG}/{db}"},
        "secrets": {"keys": ["retention-bench-secret-0123456789abcdef"]},
        "account": account,
        "log": {"level": "warn"},
    }
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path, public_port, admin_port


class Server:
    def __init__(self, work, name, db, policy=None):
        self.path, self.public_port, self.admin_port = config(work, name, db, policy)
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.log = open(os.path.join(work, f"{name}.log"), "a")
        self.proc = subprocess.Popen([API, "--config", self.path, "serve", "--no-migrate"],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        wait_ready(self.admin, name)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


class Load:
    """DELETE /user at a fixed rate (each connection on its own schedule, so a slow answer does
    not lower the rate it is measured at); every answer must be 204."""

    def __init__(self, servers, tokens):
        self.tokens = tokens
        self.next = 0
        self.lock = threading.Lock()
        self.samples = []  # (wall time sent, seconds)
        self.failures = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.connection, args=(servers[i % len(servers)], i), daemon=True)
                        for i in range(LOAD_CONNS)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()

    def token(self):
        with self.lock:
            if self.next >= len(self.tokens):
                return None
            self.next += 1
            return self.tokens[self.next - 1]

    def connection(self, server, i):
        conn = http.client.HTTPConnection("127.0.0.1", server.public_port, timeout=30)
        period = LOAD_CONNS / LOAD_RATE
        due = time.time() + i * period / LOAD_CONNS
        while not self.stopping.is_set():
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            token = self.token()
            if token is None:
                self.failures.append("out of tokens")
                return
            sent = time.time()
            try:
                conn.request("DELETE", "/user", headers={"authorization": f"Bearer {token}"})
                res = conn.getresponse()
                res.read()
                status = res.status
            except (OSError, http.client.HTTPException) as e:
                self.failures.append(repr(e))
                conn = http.client.HTTPConnection("127.0.0.1", server.public_port, timeout=30)
                continue
            took = time.time() - sent
            if status != 204:
                self.failures.append(status)
            self.samples.append((sent, took))
            due += period

    def window(self, start, end):
        return sorted(t for (s, t) in self.samples if start <= s <= end)


def percentile(values, p):
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def latency(values):
    return {"requests": len(values), "p50_ms": round(percentile(values, 50) * 1000, 2),
            "p99_ms": round(percentile(values, 99) * 1000, 2)}


def count(db, sql):
    return int(psql(sql, db) or 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp()
    db = f"retention_{os.getpid()}"
    psql(f"CREATE DATABASE {db}")
    servers = []
    try:
        path, _, _ = config(work, "migrate", db, None)
        subprocess.run([API, "--config", path, "migrate", "up"], check=True, stdout=subprocess.DEVNULL)
        n = args.users
        # Held until the idle run is over: the policy runs, with nothing it may act on.
        psql("INSERT INTO users (id, created_at, updated_at, last_active_at, hold) "
             "SELECT md5('r' || g)::uuid, now() - interval '900 days', now() - interval '900 days', "
             f"now() - interval '800 days' + g * interval '1 second', true FROM generate_series(1, {n}) g; "
             "INSERT INTO emails (id, user_id, address, verified, is_primary, created_at, updated_at) "
             "SELECT md5('e' || g)::uuid, md5('r' || g)::uuid, 'inactive-' || g || '@example.com', true, true, "
             f"now() - interval '900 days', now() - interval '900 days' FROM generate_series(1, {n}) g; "
             "ANALYZE", db)
        deadlocks_before = count("postgres", f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{db}'")

        expected_s = n / args.rate
        # The deletions start once the first warning is this old: after the warnings are done.
        warn_before_s = int(1.5 * expected_s) + 10
        policy = {"inactive_after": "730d", "warn_before": f"{warn_before_s}s", "interval": "1s",
                  "rate": args.rate}
        servers = [Server(work, "a", db, policy), Server(work, "b", db, policy)]
        needed = int(LOAD_RATE * (IDLE_S + warn_before_s + 2.5 * expected_s + 60))
        tokens_file = os.path.join(work, "tokens.txt")
        print(f"seeding {needed} active users with a session each", flush=True)
        subprocess.run(["node", os.path.join(ROOT, "bench", "seed.mjs"), servers[0].admin, str(needed),
                        tokens_file, "16"], check=True)
        with open(tokens_file) as f:
            tokens = [line.strip() for line in f if line.strip()]

        # This machine's Postgres runs without autovacuum (a CI setting); a production database
        # vacuums, so dead rows do not pile up over 200,000 changes. The same vacuum runs from the
        # reference on, every 10 s, on the tables the policy and the requests write.
        vacuuming = threading.Event()

        def vacuum():
            while not vacuuming.wait(10):
                psql("VACUUM (ANALYZE) users, emails, sessions, audit_logs, webhook_outbox", db)

        vacuum_thread = threading.Thread(target=vacuum, daemon=True)
        vacuum_thread.start()
        print(f"idle: DELETE /user at {LOAD_RATE}/s for {IDLE_S} s, the policy with nothing due", flush=True)
        load = Load(servers, tokens).start()
        idle_start = time.time()
        time.sleep(IDLE_S)
        idle_end = time.time()
        idle = latency(load.window(idle_start + 5, idle_end))
        print(f"idle: {idle}", flush=True)
        # The same load goes on; releasing the holds makes every seeded user due.
        psql("UPDATE users SET hold = false WHERE hold", db)
        started = time.time()
        deadline = started + warn_before_s + 4 * expected_s + 120
        deleted_sql = ("SELECT count(*) FROM audit_logs WHERE type = 'user_deleted' "
                       "AND details->>'by' = 'retention'")
        while True:
            warned = count(db, "SELECT count(*) FROM audit_logs WHERE type = 'user_inactivity_warned'")
            deleted = count(db, deleted_sql)
            print(f"{time.time() - started:6.0f} s: {warned} warned, {deleted} deleted", flush=True)
            if deleted >= n or time.time() > deadline:
                break
            time.sleep(5)
        load.stop()
        vacuuming.set()
        vacuum_thread.join()
        for s in servers:
            s.stop()
        servers = []

        def phase(kind, extra=""):
            first, last = psql(
                "SELECT extract(epoch FROM min(created_at)), extract(epoch FROM max(created_at)) "
                f"FROM audit_logs WHERE type = '{kind}' {extra}", db).split("|")
            first, last = float(first), float(last)
            return {"first": first, "last": last, "seconds": round(last - first, 1),
                    "limit_seconds": round(1.3 * expected_s, 1),
                    "delete_p": latency(load.window(first, last)),
                    "delete_p99_ms_per_10s": [latency(load.window(t, t + 10))["p99_ms"]
                                              for t in range(int(first), int(last), 10)]}

        warn = phase("user_inactivity_warned")
        delete = phase("user_deleted", "AND details->>'by' = 'retention'")
        events = {name: (count(db, f"SELECT count(*) FROM webhook_outbox WHERE event = '{name}' "
                                   "AND payload->>'id' LIKE '%' AND (payload->'emails'->0->>'address') LIKE 'inactive-%'"),
                         count(db, f"SELECT count(DISTINCT payload->>'id') FROM webhook_outbox WHERE event = '{name}' "
                                   "AND (payload->'emails'->0->>'address') LIKE 'inactive-%'"))
                  for name in ["user.inactivity_warning", "user.delete"]}
        audits = {kind: (count(db, f"SELECT count(*) FROM audit_logs WHERE type = '{kind}' AND actor_email LIKE 'inactive-%'"),
                         count(db, f"SELECT count(DISTINCT actor_user_id) FROM audit_logs WHERE type = '{kind}' "
                                   "AND actor_email LIKE 'inactive-%'"))
                  for kind in ["user_inactivity_warned", "user_deleted"]}
        left = count(db, "SELECT count(*) FROM users WHERE last_active_at < now() - interval '700 days'")
        deadlocks = count("postgres", f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{db}'") - deadlocks_before
        logs = "".join(open(os.path.join(work, f"{s}.log")).read() for s in ["a", "b"])
        result = {
            "users": n, "rate": args.rate, "load": {"rate": LOAD_RATE, "connections": LOAD_CONNS},
            "idle": idle, "warn": warn, "delete": delete,
            "warn_p99_ratio": round(warn["delete_p"]["p99_ms"] / idle["p99_ms"], 2),
            "delete_p99_ratio": round(delete["delete_p"]["p99_ms"] / idle["p99_ms"], 2),
            "events": events, "audit": audits, "inactive_left": left, "deadlocks": deadlocks,
            "load_failures": load.failures[:10], "log_problems": [l for l in logs.splitlines() if "WARN" in l or "ERROR" in l][:10],
        }
        with open(os.path.join(OUT, "retention.json"), "w") as f:
            json.dump(result, f, indent=1)
        print(json.dumps(result, indent=1))
        ok = (all(v == (n, n) for v in events.values()) and all(v == (n, n) for v in audits.values())
              and left == 0 and deadlocks == 0 and not load.failures
              and warn["seconds"] <= warn["limit_seconds"] and delete["seconds"] <= delete["limit_seconds"]
              and result["warn_p99_ratio"] <= 1.5 and result["delete_p99_ratio"] <= 1.5)
        print(f"| phase | seconds (limit {1.3 * expected_s:.0f}) | DELETE p50 / p99 ms | p99 vs idle |")
        print(f"| idle | – | {idle['p50_ms']} / {idle['p99_ms']} | 1.00 |")
        print(f"| warn {n} | {warn['seconds']} | {warn['delete_p']['p50_ms']} / {warn['delete_p']['p99_ms']} | {result['warn_p99_ratio']} |")
        print(f"| delete {n} | {delete['seconds']} | {delete['delete_p']['p50_ms']} / {delete['delete_p']['p99_ms']} | {result['delete_p99_ratio']} |")
        print("checks:", "ok" if ok else "FAILED")
        sys.exit(0 if ok else 1)
    finally:
        for s in servers:
            s.proc.kill()
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
