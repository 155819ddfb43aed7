#!/usr/bin/env python3
"""The dispatcher's own throughput: how many deliveries per second one instance sends to a
receiver that answers at once (nginx, `return 204`), with nothing else running.

N `user.delete` events, each with one pending delivery to the hook, are written straight into
the outbox (as the deletion's statement writes them); then the server starts and the time from
its first delivery to its last is measured from the rows (`delivered_at`), for each format:
`standard` (an HMAC per delivery) and `hanko` (a JWT signed per delivery, RS256 by default).

    python3 bench/dispatcher/run.py [N]      (default 20000; API_BIN, default target/release/api;
                                              FORMATS, default "standard hanko";
                                              ALGORITHM: secrets.algorithm, default RS256)

Compare with DELETE /user's peak in bench/run: deletions commit at most that fast, so the
dispatcher keeps up when its rate is well above it. Writes bench/out/dispatcher.json."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support import PG, call, free_port, psql  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
API = os.environ.get("API_BIN", os.path.join(ROOT, "target", "release", "api"))
STANDARD_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="


def nginx_sink(work):
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 204; }}
  }}
}}
""")
    subprocess.run(["nginx", "-c", conf, "-p", work], check=True)
    return port, lambda: subprocess.run(["nginx", "-c", conf, "-p", work, "-s", "stop"], check=False)


def seed(db, n):
    psql("""INSERT INTO webhook_outbox (id, event, payload, created_at)
            SELECT gen_random_uuid(), 'user.delete',
                   jsonb_build_object('id', gen_random_uuid(), 'emails', '[]'::jsonb,
                                      'deleted_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
                   now()
            FROM generate_series(1, %d)""" % n, db)
    psql("""INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at, last_error, dead)
            SELECT id, 'sink', 0, now(), NULL, NULL, false FROM webhook_outbox""", db)


def cpu_times():
    """(busy, total) jiffies of every core since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def measure(work, fmt, n, sink_port):
    db = f"dispatcher_{fmt}_{os.getpid()}"
    psql(f"CREATE DATABASE {db}")
    public, admin = free_port(), free_port()
    hook = {"name": "sink", "url": f"http://127.0.0.1:{sink_port}/hook", "events": ["user.delete"], "format": fmt}
    if fmt == "standard":
        hook["secrets"] = [STANDARD_SECRET]
    config = {
        "server": {"public": {"address": f"127.0.0.1:{public}"}, "admin": {"address": f"127.0.0.1:{admin}"}},
        "database": {"url": f"{PG}/{db}"},
        "secrets": {"keys": ["dispatcher-bench-secret-0123456789abcdef"],
                    "algorithm": os.environ.get("ALGORITHM", "RS256")},
        "webhooks": {"hooks": [hook]},
        "log": {"level": "error"},
    }
    path = os.path.join(work, f"{fmt}.yaml")
    with open(path, "w") as f:
        json.dump(config, f)
    try:
        subprocess.run([API, "--config", path, "migrate", "up"], check=True, capture_output=True)
        seed(db, n)
        cpu_before = cpu_times()
        proc = subprocess.Popen([API, "--config", path, "serve", "--no-migrate"])
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                left = int(psql("SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND NOT dead", db))
                if left == 0:
                    break
                time.sleep(0.5)
            else:
                sys.exit(f"{fmt}: {left} deliveries still pending after 600 s")
            busy, total = (after - before for after, before in zip(cpu_times(), cpu_before))
            dead = int(psql("SELECT count(*) FROM webhook_deliveries WHERE dead", db))
            span = float(psql("SELECT extract(epoch FROM max(delivered_at) - min(delivered_at)) FROM webhook_deliveries", db))
            rss = 0
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        rss = int(line.split()[1]) / 1024
        finally:
            proc.terminate()
            proc.wait()
        rate = (n - 1) / span if span > 0 else float("inf")
        cpu = busy / total if total else 0.0
        print(f"{fmt:9} {n} deliveries in {span:.2f} s: {rate:,.0f}/s, dead {dead}, peak RSS {rss:.1f} MiB, "
              f"CPU busy {cpu:.0%} (every core, start to drained)")
        return {"format": fmt, "deliveries": n, "seconds": span, "rate": rate, "dead": dead, "peak_rss_mib": rss,
                "cpu_busy": cpu}
    finally:
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    work = tempfile.mkdtemp(prefix="hanko-dispatcher.")
    sink_port, stop = nginx_sink(work)
    try:
        formats = os.environ.get("FORMATS", "standard hanko").split()
        results = [measure(work, fmt, n, sink_port) for fmt in formats]
    finally:
        stop()
        shutil.rmtree(work, ignore_errors=True)
    out = os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "dispatcher.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
