#!/usr/bin/env python3
"""A mixed soak against the release binary on Postgres, for memory and delivery lag over time.

    python3 bench/soak/run.py [--minutes N]     (API_BIN, default target/release/api)

The load, for N minutes (default 30): wrk on `GET /me` (32 connections, one token); four
clients each creating a user and a session (admin API) and sending `DELETE /user` in a loop;
one `hanko` webhook to a local receiver that answers at once; one Shared Signals poll stream
polled and acknowledged every 0.5 s. Sampled every 10 s: the server's RSS (and its anonymous and file-backed parts, and threads). For every event the
receiver hears: its lag (committed, `webhook_outbox.created_at`, to received). After the load:
how long the hook's backlog takes to drain, and the database checked (deletions = audit
entries = events = delivered deliveries, none pending). Writes bench/out/soak.json and
bench/out/soak.png (RSS and lag over time). Exits 1 if the counts disagree.
"""
import argparse, http.server, json, os, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support import PG, call, free_port, psql, wait_ready  # noqa: E402

API = os.environ.get("API_BIN", "target/release/api")
OUT = os.path.join(os.path.dirname(__file__), "..", "out")


def must(method, url, body=None, token=None, expect=(200, 201)):
    status, answer = call(method, url, body, token)
    if status not in expect:
        raise RuntimeError(f"{method} {url}: {status} {answer}")
    return answer


arrivals = {}  # event id -> wall time the receiver got it (first time)
arrivals_lock = threading.Lock()


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        now = time.time()
        with arrivals_lock:
            arrivals.setdefault(self.headers["webhook-id"], now)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def status(pid):
    """The server's /proc status: RSS, its anonymous and file-backed parts (MiB), threads."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    mib = lambda key: round(int(fields.get(key, ["0"])[0]) / 1024, 2)  # noqa: E731
    return {"rss": mib("VmRSS"), "anon": mib("RssAnon"), "file": mib("RssFile"),
            "threads": int(fields.get("Threads", ["0"])[0])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp()
    db = f"soak_{os.getpid()}"
    psql(f"CREATE DATABASE {db}")
    procs = []
    try:
        hook_port = free_port()
        hook_server = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
        hook_server.daemon_threads = True
        threading.Thread(target=hook_server.serve_forever, daemon=True).start()
        public_port, admin_port = free_port(), free_port()
        public, admin = f"http://127.0.0.1:{public_port}", f"http://127.0.0.1:{admin_port}"
        config = {
            "server": {"public": {"address": f"127.0.0.1:{public_port}", "base_url": public},
                       "admin": {"address": f"127.0.0.1:{admin_port}"}},
            "database": {"url": f"{PG}/{db}"},
            "secrets": {"keys": ["soak-bench-secret-0123456789abcdef"]},
            "session": {"issuer": "https://auth.example"},
            "account": {"allow_deletion": True},
            "ssf": {"enabled": True},
            "webhooks": {"hooks": [{"name": "soak", "url": f"http://127.0.0.1:{hook_port}/hook",
                                    "events": ["user.delete"]}]},
            "log": {"level": "error"},
        }
        path = f"{work}/soak.yaml"
        with open(path, "w") as f:
            json.dump(config, f)
        server = subprocess.Popen([API, "--config", path, "serve"])
        procs.append(server)
        wait_ready(admin)

        # The /me token, and the SSF poll stream.
        reader = must("POST", f"{admin}/users", {"emails": [{"address": "reader@example.com", "is_primary": True}]})
        me_token = must("POST", f"{admin}/sessions", {"user_id": reader["id"]})["session_token"]
        receiver = must("POST", f"{admin}/ssf/receivers", {"name": "soak", "audience": "https://soak.example"})
        stream = must("POST", f"{public}/ssf/stream",
                      {"delivery": {"method": "urn:ietf:rfc:8936"}}, token=receiver["token"])

        stop = threading.Event()
        deleted = [0]
        deleted_lock = threading.Lock()
        errors = []

        def deleter(n):
            i = 0
            while not stop.is_set():
                try:
                    user = must("POST", f"{admin}/users", {"emails": [{"address": f"d{n}-{i}@example.com", "is_primary": True}]})
                    token = must("POST", f"{admin}/sessions", {"user_id": user["id"]})["session_token"]
                    must("DELETE", f"{public}/user", token=token, expect=(204,))
                    with deleted_lock:
                        deleted[0] += 1
                except Exception as e:  # counted and reported: a soak must not hide an error
                    errors.append(str(e)[:200])
                i += 1

        polled = [0]

        def poller():
            acks = []
            while not stop.is_set():
                try:
                    answer = must("POST", f"{public}/ssf/poll/{stream['stream_id']}",
                                  {"ack": acks, "maxEvents": 100, "returnImmediately": True},
                                  token=receiver["token"])
                    acks = list(answer.get("sets", {}).keys())
                    polled[0] += len(acks)
                except Exception as e:
                    errors.append(str(e)[:200])
                time.sleep(0.5)

        samples = []  # (seconds since start, RSS MiB, deletions so far)
        parts = []  # (seconds since start, anonymous MiB, file-backed MiB, threads)
        started = time.time()

        def sample():
            now, seen = round(time.time() - started, 1), status(server.pid)
            samples.append((now, seen["rss"], deleted[0]))
            parts.append((now, seen["anon"], seen["file"], seen["threads"]))

        def sampler():
            while not stop.is_set():
                sample()
                stop.wait(10)

        threads = [threading.Thread(target=deleter, args=(n,), daemon=True) for n in range(4)]
        threads += [threading.Thread(target=poller, daemon=True), threading.Thread(target=sampler, daemon=True)]
        for t in threads:
            t.start()
        wrk = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-H", f"Authorization: Bearer {me_token}",
                              f"{public}/me"], capture_output=True, text=True)
        load_stopped = time.time()
        stop.set()
        for t in threads:
            t.join(timeout=35)
        sample()

        # The backlog after the load: until every user.delete event has reached the receiver.
        total = deleted[0]
        deadline = time.time() + 300
        while time.time() < deadline:
            with arrivals_lock:
                heard = len(arrivals)
            if heard >= total:
                break
            time.sleep(0.2)
        drained_after = round(max(0.0, max(arrivals.values(), default=load_stopped) - load_stopped), 2)

        # Lags: committed -> received, per event.
        rows = psql("SELECT id, extract(epoch FROM created_at) FROM webhook_outbox WHERE event = 'user.delete'", db)
        committed = {line.split("|")[0]: float(line.split("|")[1]) for line in rows.splitlines() if line}
        lags = sorted((committed[i] - started, arrivals[i] - committed[i]) for i in arrivals if i in committed)
        lag_values = sorted(l for _, l in lags)
        per_minute = {}
        for t, l in lags:
            per_minute.setdefault(int(t // 60), []).append(l)

        def pct(values, p):
            return round(values[min(len(values) - 1, int(len(values) * p))], 3) if values else None

        counts = {
            "deletions": total,
            "audit_entries": int(psql("SELECT count(*) FROM audit_logs WHERE type = 'user_deleted'", db)),
            "events": int(psql("SELECT count(*) FROM webhook_outbox WHERE event = 'user.delete'", db)),
            "delivered": int(psql("SELECT count(*) FROM webhook_deliveries WHERE hook = 'soak' AND delivered_at IS NOT NULL", db)),
            "pending_or_dead": int(psql("SELECT count(*) FROM webhook_deliveries WHERE hook = 'soak' AND delivered_at IS NULL", db)),
            "received": len(arrivals),
        }
        # RSS slope over the last half of the run (MiB per minute), least squares.
        half = [(t, r) for t, r, _ in samples if t >= (load_stopped - started) / 2 and t <= load_stopped - started]
        slope = None
        if len(half) >= 2:
            mt = sum(t for t, _ in half) / len(half)
            mr = sum(r for _, r in half) / len(half)
            den = sum((t - mt) ** 2 for t, _ in half)
            slope = round(sum((t - mt) * (r - mr) for t, r in half) / den * 60, 4) if den else None
        result = {
            "minutes": args.minutes,
            "me_requests": next((l.split()[0] for l in wrk.stdout.splitlines() if "requests in" in l), None),
            "wrk": wrk.stdout.splitlines()[-3:],
            "counts": counts,
            "ssf_polled": polled[0],
            "errors": errors[:10],
            "error_count": len(errors),
            "rss_mib": {"start": samples[0][1] if samples else None,
                        "peak": max((r for _, r, _ in samples), default=None),
                        "end": samples[-1][1] if samples else None,
                        "slope_last_half_mib_per_min": slope},
            "lag_s": {"p50": pct(lag_values, 0.5), "p99": pct(lag_values, 0.99), "max": pct(lag_values, 1.0)},
            "drained_s_after_load": drained_after,
            "lag_per_minute": [{"minute": m, "events": len(v), "p50": pct(sorted(v), 0.5),
                                "p99": pct(sorted(v), 0.99), "max": pct(sorted(v), 1.0)}
                               for m, v in sorted(per_minute.items())],
            "anon_mib": {"start": parts[0][1] if parts else None, "end": parts[-1][1] if parts else None},
            "file_mib": {"start": parts[0][2] if parts else None, "end": parts[-1][2] if parts else None},
            "threads": {"min": min((n for *_, n in parts), default=None),
                        "max": max((n for *_, n in parts), default=None)},
            "samples": samples,
            "parts": parts,
        }
        with open(os.path.join(OUT, "soak.json"), "w") as f:
            json.dump(result, f, indent=1)
        plot(samples, lags, load_stopped - started)
        print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "parts", "lag_per_minute")}, indent=1))
        ok = (counts["deletions"] == counts["audit_entries"] == counts["events"] == counts["delivered"]
              == counts["received"] and counts["pending_or_dead"] == 0 and not errors)
        sys.exit(0 if ok else 1)
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def plot(samples, lags, load_seconds):
    """RSS and delivery lag over time, bench/out/soak.png (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot([t / 60 for t, _, _ in samples], [r for _, r, _ in samples], color="tab:blue")
    top.set_ylabel("RSS (MiB)")
    top.grid(alpha=0.3)
    bottom.plot([t / 60 for t, _ in lags], [l for _, l in lags], ",", color="tab:red")
    bottom.set_ylabel("delivery lag (s)")
    bottom.set_xlabel("minutes (load until the dashed line)")
    bottom.grid(alpha=0.3)
    for axis in (top, bottom):
        axis.axvline(load_seconds / 60, linestyle="--", color="grey")
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "soak.png"), dpi=100)


if __name__ == "__main__":
    main()
