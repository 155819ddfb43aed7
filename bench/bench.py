"""The benchmark (bench/run builds the binary and calls this): every path swept over
concurrency for both sides, every level printed, peak compared with peak.

  DELETE /user           vs pgbench: the one-statement CTE reference and the statement-by-
                         statement reference, same rows (bench/delete_cte.sql, delete.sql)
  GET /me (authenticated) vs pgbench reading the session row by primary key (lookup.sql)
  /.well-known/jwks.json vs nginx serving the same bytes, same number of workers
  peak RSS of the server
  per key algorithm (RS256, ES256, EdDSA): the JWKS vs nginx, and token verification vs
                         aws-lc-rs checking the same signatures alone
  on SQLite (the embedded default): DELETE /user and GET /me vs bench/sqlite_reference.py,
                         Python's sqlite3 running the same statements on the same file, one
                         process per client (no target yet: reported)

Each side runs alone: the server serves no other traffic while a reference runs, writes no
delivery rows (no hooks), has no grace period (no purge) and no `last_used` write pending
(one token, refreshed at most once a minute); the references leave nothing for its workers.
Results: bench/out/results.json. Knobs: BENCH_DURATION (s, 5), BENCH_LEVELS ("8 16 32 64"),
BENCH_PATHS ("jwks me delete sqlite algorithms": a subset measures only those; the summary then covers only them).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import datetime
import platform
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
BIN = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target", "release", "api"))
PG = "postgres://postgres@127.0.0.1:5432"
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
LEVELS = [int(x) for x in os.environ.get("BENCH_LEVELS", "8 16 32 64").split()]
# Deletions per statement of the grouped reference (bench/delete_cte_batch.sql).
BATCH = 8
PATHS = os.environ.get("BENCH_PATHS", "jwks me delete sqlite algorithms").split()
WORKERS = 2


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def psql(db, *args):
    return run(["psql", f"{PG}/{db}", "-qX", *args])


class Server:
    def __init__(self, db, url=None, name="server", secrets=""):
        self.public_port, self.admin_port = free_port(), free_port()
        self.config = os.path.join(OUT, f"{name}.yaml")
        self.log_path = os.path.join(OUT, f"{name}.log")
        url = url or f"{PG}/{db}"
        with open(self.config, "w") as f:
            f.write(
                f"server:\n  public:\n    address: 127.0.0.1:{self.public_port}\n"
                f"  admin:\n    address: 127.0.0.1:{self.admin_port}\n"
                f"database:\n  url: {url}\n  pool_size: {os.environ.get('BENCH_POOL_SIZE', '16')}\n"
                'secrets:\n  keys: ["benchmark-secret-0123456789abcdef"]\n' + secrets +
                "account:\n  allow_deletion: true\nlog:\n  level: warn\n"
            )
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([BIN, "--config", self.config, "serve"], stderr=self.log)
        self.public = f"http://127.0.0.1:{self.public_port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{self.public}/health/ready", timeout=1)
                return
            except Exception:
                time.sleep(0.05)
        sys.exit(f"the server did not get ready: see {self.log_path}")

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=40)


def wrk(url, conns, script, *args, seconds=None):
    threads = min(conns, 2)
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds or DURATION}s", "-s", os.path.join(ROOT, "bench", script), url]
    if args:
        cmd += ["--", *args]
    out = run(cmd).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    ok = r["requests"] - r["non2xx"] - r["socket_errors"]
    if r["non2xx"] or r["socket_errors"] or ok <= 0:
        sys.exit(f"{url} at {conns}: a measurement with errors is not one: {r}\n"
                 + "(the server's log is in bench/out/)")
    return {"rate": ok / (r["duration_us"] / 1e6), "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
            "requests": r["requests"]}


def pgbench(db, script, conns, tag, *extra):
    logdir = tempfile.mkdtemp(dir=OUT)
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(conns), "-j", str(min(conns, 2)), "-T", str(DURATION),
           "-l", "--log-prefix", os.path.join(logdir, "tx"), *extra, "-f", os.path.join(ROOT, "bench", script), f"{PG}/{db}"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"^tps = ([0-9.]+)", res.stdout, re.M)
    failed = re.search(r"number of failed transactions: ([0-9]+)", res.stdout)
    if res.returncode != 0 or not m or (failed and int(failed.group(1)) > 0):
        sys.exit(f"pgbench {script} at {conns} failed:\n{res.stdout[-1500:]}\n{res.stderr[-1500:]}")
    latencies = []
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    latencies.append(int(parts[2]))
    shutil.rmtree(logdir)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1000 if latencies else float("nan")
    # The command to reproduce the figure alone (without the latency log, which is ours).
    alone = [a for i, a in enumerate(cmd[:-1]) if a not in ("-l", "--log-prefix") and cmd[i - 1] != "--log-prefix"]
    return {"rate": float(m.group(1)), "p50_ms": pick(0.50), "p99_ms": pick(0.99), "command": " ".join(alone) + f" {PG}/{db}"}


# Rows only the GET /me reference reads (see the seeding).
LOOKUP_ROWS = 100000

# The tables a deletion writes (and the seeding filled).
TOUCHED_TABLES = ("users", "emails", "sessions", "audit_logs", "webhook_outbox", "webhook_deliveries")


def settle(db):
    """Before each deletion measurement: the previous one's dead rows vacuumed and its writes
    checkpointed, so no side pays for the other's."""
    psql(db, "-c", f"VACUUM {', '.join(TOUCHED_TABLES)}")
    psql(db, "-c", "CHECKPOINT")


def delete_users(server, tokens, conns, prefix=""):
    """DELETE /user at `conns` connections, each request with a token of its own."""
    chunk = os.path.join(OUT, f"{prefix}tokens_{conns}.txt")
    with open(chunk, "w") as f:
        f.write("\n".join(tokens) + "\n")
    r = dict(wrk(f"{server.public}/user", conns, "delete.lua", chunk, str(min(conns, 2))), connections=conns)
    # A wrk thread out of tokens stops while the clock runs on: the rate would be the token
    # count's, not the server's.
    if r["requests"] + conns >= len(tokens):
        sys.exit(f"DELETE /user at {conns}: ran out of tokens ({len(tokens)}) at {r['rate']:.0f}/s; "
                 "raise BENCH_DELETE_TOKENS / BENCH_SQLITE_TOKENS")
    return r


# Seconds of load before a path's first measured level: the server opens its database
# connections (and prepares its statements) as load arrives, while pgbench opens its own before
# its clock starts ("without initial connection time"); measured levels compare warm with warm.
WARM_UP_S = 1


def warm_up(url, script, *args):
    wrk(url, max(LEVELS), script, *args, seconds=WARM_UP_S)


def warm_up_deletes(server, tokens, prefix=""):
    chunk = os.path.join(OUT, f"{prefix}tokens_warm_up.txt")
    with open(chunk, "w") as f:
        f.write("\n".join(tokens) + "\n")
    warm_up(f"{server.public}/user", "delete.lua", chunk, str(min(max(LEVELS), 2)))


def line(path, side, conns, r):
    print(f"{path:<8} {side:<22} c={conns:<3} {r['rate']:>9.0f}/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms", flush=True)


def peak(rows):
    return max(rows, key=lambda r: r["rate"])


def sqlite_paths():
    """DELETE /user and GET /me on the embedded default (SQLite), against
    bench/sqlite_reference.py doing the same statements on the same file, same concurrency."""
    folder = tempfile.mkdtemp(prefix="sqlite.", dir=OUT)
    path = os.path.join(folder, "hanko.sqlite3")
    reference = [sys.executable, os.path.join(ROOT, "bench", "sqlite_reference.py")]
    seed = os.path.join(ROOT, "bench", "seed.mjs")
    server = Server(None, url=f"sqlite://{path}", name="server-sqlite")
    try:
        ours_per_level = int(os.environ.get("BENCH_SQLITE_TOKENS", str(5000 * DURATION)))
        warm_deletes = ours_per_level * WARM_UP_S // DURATION  # the same supply per second
        ref_per_level = 10000 * DURATION
        print(f"seeding {ours_per_level * len(LEVELS) + warm_deletes} users with sessions through the admin API (SQLite)", flush=True)
        tokens = os.path.join(OUT, "sqlite_tokens.txt")
        me_token = os.path.join(OUT, "sqlite_me_token.txt")
        run(["node", seed, server.admin, str(ours_per_level * len(LEVELS) + warm_deletes), tokens, "8"])
        run(["node", seed, server.admin, "1", me_token, "1"])
        me_token = open(me_token).read().split()[0]
        all_tokens = open(tokens).read().split()
        print(f"seeding {ref_per_level * len(LEVELS)} users with sessions for the sqlite3 reference", flush=True)
        run(reference + ["seed", path, "1", str(ref_per_level * len(LEVELS))])

        def measure_reference(mode, c, first, count):
            res = subprocess.run(reference + [mode, path, str(c), str(DURATION), str(first), str(count)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                sys.exit(f"the sqlite3 reference ({mode} at {c}) failed: {res.stderr.strip()[-800:]}")
            return json.loads(res.stdout.strip().splitlines()[-1])

        warm_up(f"{server.public}/me", "report.lua", f"Bearer {me_token}")
        me = {"ours": [], "reference": []}
        for c in LEVELS:
            r = dict(wrk(f"{server.public}/me", c, "report.lua", f"Bearer {me_token}"), connections=c)
            me["ours"].append(r)
            line("me-sqlite", "ours", c, r)
            time.sleep(1.2)  # a pending last_used write lands before the reference
            r = dict(measure_reference("lookup", c, 1, ref_per_level * len(LEVELS)), connections=c)
            me["reference"].append(r)
            line("me-sqlite", "sqlite3 pk read", c, r)
        delete = {"ours": [], "reference": []}
        warm_up_deletes(server, all_tokens[:warm_deletes], "sqlite_")
        all_tokens = all_tokens[warm_deletes:]
        for i, c in enumerate(LEVELS):
            r = delete_users(server, all_tokens[i * ours_per_level:(i + 1) * ours_per_level], c, "sqlite_")
            delete["ours"].append(r)
            line("del-sqlite", "ours", c, r)
            r = dict(measure_reference("delete", c, 1 + i * ref_per_level, ref_per_level), connections=c)
            delete["reference"].append(r)
            line("del-sqlite", "sqlite3 statements", c, r)
        rss = server.peak_rss_mib()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return {"me": {"levels": me, **summary(me["ours"], me["reference"])},
            "delete": {"levels": delete, **summary(delete["ours"], delete["reference"])},
            "peak_rss_mib": rss}


def summary(rows, ref_rows):
    ours, ref = peak(rows), peak(ref_rows)
    return {"ours_peak": ours, "reference_peak": ref, "ratio": ours["rate"] / ref["rate"],
            "p99_ratio": ours["p99_ms"] / ref["p99_ms"]}


def jwks_against_nginx(server, label):
    """The server's JWKS against nginx serving the same bytes with the same headers, each level."""
    www = tempfile.mkdtemp(prefix="hanko-bench-www.")
    nginx_dir = os.path.join(OUT, "nginx")
    nginx_conf = os.path.join(nginx_dir, "nginx.conf")
    try:
        os.chmod(www, 0o755)
        os.makedirs(os.path.join(www, ".well-known"))
        os.chmod(os.path.join(www, ".well-known"), 0o755)
        res = urllib.request.urlopen(f"{server.public}/.well-known/jwks.json")
        body, cache_control = res.read(), res.headers["Cache-Control"]
        with open(os.path.join(www, ".well-known", "jwks.json"), "wb") as f:
            f.write(body)
        os.chmod(os.path.join(www, ".well-known", "jwks.json"), 0o644)
        os.makedirs(os.path.join(nginx_dir, "logs"), exist_ok=True)
        nginx_port = free_port()
        with open(nginx_conf, "w") as f:
            f.write(f"""worker_processes {WORKERS};
pid {nginx_dir}/nginx.pid;
error_log {nginx_dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{nginx_port};
    root {www};
    location = /.well-known/jwks.json {{
      default_type application/json;
      add_header Cache-Control "{cache_control}";
      add_header Access-Control-Allow-Origin "*";
      add_header Vary "Origin";
      etag on;
    }}
  }}
}}
""")
        run(["nginx", "-p", nginx_dir, "-c", nginx_conf])
        time.sleep(0.3)
        try:
            sides = {"ours": [], "nginx": []}
            for c in LEVELS:
                for side, url in (("ours", f"{server.public}/.well-known/jwks.json"),
                                  ("nginx", f"http://127.0.0.1:{nginx_port}/.well-known/jwks.json")):
                    r = dict(wrk(url, c, "report.lua"), connections=c)
                    sides[side].append(r)
                    line(label, side, c, r)
            return sides
        finally:
            subprocess.run(["nginx", "-p", nginx_dir, "-c", nginx_conf, "-s", "stop"], capture_output=True)
    finally:
        shutil.rmtree(www)


def algorithm_paths():
    """Per key algorithm (bench/README.md, "Algorithms"): the JWKS against nginx, and token
    verification against aws-lc-rs checking the same signatures alone (the example
    crates/jwks/examples/verify_throughput.rs, built by bench/run)."""
    example = os.path.join(os.path.dirname(BIN), "examples", "verify_throughput")
    verify = {}
    for out in run([example, os.environ.get("BENCH_VERIFY_TOKENS", "6000")]).stdout.split("\n"):
        if out.strip():
            row = json.loads(out)
            verify[row["alg"]] = row
    results = {}
    for alg in ("RS256", "ES256", "EdDSA"):
        server = Server(None, url=f"sqlite://{OUT}/alg_{alg}.sqlite3", name=f"alg_{alg}",
                        secrets=f"  algorithm: {alg}\n")
        try:
            sides = jwks_against_nginx(server, f"jwks {alg}")
        finally:
            server.stop()
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(f"{OUT}/alg_{alg}.sqlite3{suffix}"):
                    os.remove(f"{OUT}/alg_{alg}.sqlite3{suffix}")
        v = verify[alg]
        print(f"verify   {alg:<22} {v['ours_per_s']:>9.0f}/s  vs signature only {v['signature_only_per_s']:.0f}/s "
              f"(ratio {v['ratio']:.2f}; one thread, {v['tokens']} distinct tokens)", flush=True)
        results[alg] = {"jwks": {"levels": sides, **summary(sides["ours"], sides["nginx"])}, "verify": v}
    return results


def main():
    os.makedirs(OUT, exist_ok=True)
    db = f"bench_{os.getpid()}"
    run(["psql", f"{PG}/postgres", "-qXc", f"CREATE DATABASE {db}"])
    server = None
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{platform.machine()} {os.cpu_count()} cpus", "duration_s": DURATION, "levels": LEVELS}
    try:
        rss = None
        if {"jwks", "me", "delete"} & set(PATHS):
            server = Server(db)
            # Seeding: tokens for our DELETE runs (each request needs a live session of its own),
            # rows for the pgbench references (ids derived from n: found by primary key alone).
            deletes_per_level = int(os.environ.get("BENCH_DELETE_TOKENS", str(12000 * DURATION))) if "delete" in PATHS else 0
            warm_deletes = deletes_per_level * WARM_UP_S // DURATION  # the same supply per second
            total = deletes_per_level * len(LEVELS) + warm_deletes
            print(f"seeding {total} users with sessions through the admin API", flush=True)
            tokens = os.path.join(OUT, "delete_tokens.txt")
            run(["node", os.path.join(ROOT, "bench", "seed.mjs"), server.admin, str(total), tokens, "32"])
            run(["node", os.path.join(ROOT, "bench", "seed.mjs"), server.admin, "1", os.path.join(OUT, "me_token.txt"), "1"])
            all_tokens = open(tokens).read().split()
            # The deletion references take rows from 1 upward; the lookups read the last
            # LOOKUP_ROWS, which no deletion reaches, so the printed lookup command reads the
            # same rows when run alone after the run.
            targets = 4 * 10000 * DURATION * len(LEVELS) + LOOKUP_ROWS
            print(f"seeding {targets} users with sessions for pgbench", flush=True)
            psql(db, "-v", f"count={targets}", "-f", os.path.join(ROOT, "bench", "targets.sql"))
            # Autovacuum would wake up on the seeded and then the deleted rows in the middle of
            # whichever side happens to be measured: vacuum explicitly, between measurements.
            for table in TOUCHED_TABLES:
                psql(db, "-c", f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
            psql(db, "-c", "VACUUM (ANALYZE)")
            psql(db, "-c", "CHECKPOINT")

            # JWKS vs nginx.
            if "jwks" in PATHS:
                jwks = jwks_against_nginx(server, "jwks")

            # GET /me vs the session row by primary key.
            if "me" in PATHS:
                me_token = open(os.path.join(OUT, "me_token.txt")).read().split()[0]
                warm_up(f"{server.public}/me", "report.lua", f"Bearer {me_token}")
                me = {"ours": [], "pgbench": []}
                for c in LEVELS:
                    r = dict(wrk(f"{server.public}/me", c, "report.lua", f"Bearer {me_token}"), connections=c)
                    me["ours"].append(r)
                    line("me", "ours", c, r)
                    time.sleep(1.2)  # let a pending last_used write (at most one) land before the reference
                    r = dict(pgbench(db, "lookup.sql", c, "me", "-D", f"first={targets - LOOKUP_ROWS + 1}", "-D", f"last={targets}"), connections=c)
                    me["pgbench"].append(r)
                    line("me", "pgbench pk read", c, r)

            # DELETE /user vs the one-statement reference and the statement-by-statement one.
            if "delete" in PATHS:
                delete = {"ours": [], "pgbench_cte": [], "pgbench_statements": [], "pgbench_cte_batch": []}
                warm_tokens, level_tokens = all_tokens[:warm_deletes], all_tokens[warm_deletes:]
                warm_up_deletes(server, warm_tokens)
                for i, c in enumerate(LEVELS):
                    settle(db)
                    r = delete_users(server, level_tokens[i * deletes_per_level:(i + 1) * deletes_per_level], c)
                    delete["ours"].append(r)
                    line("delete", "ours", c, r)
                    for side, script in (("pgbench_cte", "delete_cte.sql"), ("pgbench_statements", "delete.sql")):
                        settle(db)
                        r = dict(pgbench(db, script, c, side), connections=c)
                        delete[side].append(r)
                        line("delete", side.replace("_", " "), c, r)
                    settle(db)
                    r = pgbench(db, "delete_cte_batch.sql", c, "batch", "-D", f"batch={BATCH}")
                    r = dict(r, rate=r["rate"] * BATCH, transactions_per_s=r["rate"], connections=c)
                    delete["pgbench_cte_batch"].append(r)
                    line("delete", f"pgbench cte x{BATCH}", c, r)
                    # A reference past the seeded rows would delete nothing, fast.
                    used = int(psql(db, "-tAc", "SELECT last_value FROM bench_seq").stdout)
                    if used > targets - LOOKUP_ROWS:
                        sys.exit(f"the deletion references used {used} rows of {targets - LOOKUP_ROWS}: seed more")

            rss = server.peak_rss_mib()
            server.stop()
            server = None

        if "sqlite" in PATHS:
            results["sqlite"] = sqlite_paths()
        if "algorithms" in PATHS:
            results["algorithms"] = algorithm_paths()

        if "jwks" in PATHS:
            results["jwks"] = {"levels": jwks, **summary(jwks["ours"], jwks["nginx"])}
        if "me" in PATHS:
            results["me"] = {"levels": me, **summary(me["ours"], me["pgbench"])}
        if "delete" in PATHS:
            results["delete"] = {"levels": delete,
                                 "vs_cte": summary(delete["ours"], delete["pgbench_cte"]),
                                 "vs_statements": summary(delete["ours"], delete["pgbench_statements"]),
                                 "vs_cte_batch": summary(delete["ours"], delete["pgbench_cte_batch"])}
        if rss is not None:
            results["peak_rss_mib"] = rss
        with open(os.path.join(OUT, "results.json"), "w") as f:
            json.dump(results, f, indent=2)

        print()
        print("peak against peak (best level of each side):")
        commands = []
        if "delete" in PATHS:
            d_cte, d_st = results["delete"]["vs_cte"], results["delete"]["vs_statements"]
            print(f"delete_user_ratio_vs_cte {d_cte['ratio']:.2f}   ({d_cte['ours_peak']['rate']:.0f} at c={d_cte['ours_peak']['connections']} vs "
                  f"{d_cte['reference_peak']['rate']:.0f} at c={d_cte['reference_peak']['connections']}; target >= 0.85)")
            print(f"delete_user_ratio_vs_statements {d_st['ratio']:.2f}   (reference {d_st['reference_peak']['rate']:.0f} at c={d_st['reference_peak']['connections']})")
            d_b = results["delete"]["vs_cte_batch"]
            print(f"delete_user_ratio_vs_cte_x{BATCH} {d_b['ratio']:.2f}   (reference {d_b['reference_peak']['rate']:.0f} deletions/s at "
                  f"c={d_b['reference_peak']['connections']}, always {BATCH} per statement; no target)")
            print(f"delete_user_p99_at_peak_ms {d_cte['ours_peak']['p99_ms']:.2f} vs {d_cte['reference_peak']['p99_ms']:.2f} "
                  f"(ratio {d_cte['p99_ratio']:.2f}; target <= 2)")
            same_level = "  ".join(f"c={o['connections']}: {o['p99_ms'] / r['p99_ms']:.2f}"
                                   for o, r in zip(delete["ours"], delete["pgbench_cte"]))
            print(f"delete_user_p99_ratio_at_each_level {same_level}")
            commands.append(d_cte['reference_peak']['command'])
        if "me" in PATHS:
            m = results["me"]
            print(f"me_ratio {m['ratio']:.2f}   ({m['ours_peak']['rate']:.0f} at c={m['ours_peak']['connections']} vs "
                  f"{m['reference_peak']['rate']:.0f} at c={m['reference_peak']['connections']}; target >= 0.8)")
            commands.append(m['reference_peak']['command'])
        if "jwks" in PATHS:
            j = results["jwks"]
            print(f"jwks_ratio {j['ratio']:.2f}   ({j['ours_peak']['rate']:.0f} at c={j['ours_peak']['connections']} vs "
                  f"{j['reference_peak']['rate']:.0f} at c={j['reference_peak']['connections']}; target >= 1.2)")
        if "sqlite" in PATHS:
            for name, r in (("me", results["sqlite"]["me"]), ("delete_user", results["sqlite"]["delete"])):
                print(f"sqlite_{name}_ratio {r['ratio']:.2f}   ({r['ours_peak']['rate']:.0f} at c={r['ours_peak']['connections']} vs "
                      f"{r['reference_peak']['rate']:.0f} at c={r['reference_peak']['connections']}; no target yet; "
                      f"p99 {r['ours_peak']['p99_ms']:.2f} vs {r['reference_peak']['p99_ms']:.2f} ms)")
        if "algorithms" in PATHS:
            for alg, r in results["algorithms"].items():
                j, v = r["jwks"], r["verify"]
                print(f"jwks_ratio_{alg} {j['ratio']:.2f}   ({j['ours_peak']['rate']:.0f} at c={j['ours_peak']['connections']} vs nginx "
                      f"{j['reference_peak']['rate']:.0f})   verify_{alg} {v['ours_per_s']:.0f}/s, "
                      f"ratio {v['ratio']:.2f} to the signature check alone")
        if rss is not None:
            print(f"peak_rss_mib {rss:.1f}   (target <= 32)")
        if "sqlite" in PATHS:
            print(f"peak_rss_mib_sqlite {results['sqlite']['peak_rss_mib']:.1f}")
        if commands:
            print("reference commands (run one alone to reproduce it):")
            for command in commands:
                print(f"  {command}")
        print(f"results written to {os.path.join(OUT, 'results.json')}")
    finally:
        if server:
            server.stop()
        # Kept for reproducing a reference alone: pass BENCH_KEEP_DB=1.
        if os.environ.get("BENCH_KEEP_DB") != "1":
            subprocess.run(["psql", f"{PG}/postgres", "-qXc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])
        else:
            print(f"kept database {db}")


if __name__ == "__main__":
    main()
