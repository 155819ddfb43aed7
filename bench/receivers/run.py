#!/usr/bin/env python3
"""Hostile receivers against the real binary on Postgres (README "Where pushes may go"):
  1. a push endpoint that sleeps 10 s and a `hanko` hook beside it: how late the hook hears of
     each of 100 deletions;
  2. a hook that answers with a 400 MB body: the server's peak RSS;
  3. 200 long polls opened and closed at once: database transactions in the next 30 s, against
     30 s of the same server idle.
Usage: python3 bench/receivers/run.py   (API_BIN, default target/release/api; needs the
Postgres at 127.0.0.1:5432). Prints the numbers; exits 1 if a bar is missed."""
import http.server, json, os, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support import PG, call, free_port, psql  # noqa: E402

API = os.environ.get("API_BIN", "target/release/api")


def serve(handler):
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


arrivals = {}


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        arrivals[self.headers["webhook-id"]] = time.monotonic()
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()

    def log_message(self, *a):
        pass


class Sleeper(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        time.sleep(10)
        self.send_response(202); self.send_header("content-length", "0"); self.end_headers()

    def log_message(self, *a):
        pass


class Huge(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        size = 400 * 1024 * 1024
        self.send_response(200); self.send_header("content-length", str(size)); self.end_headers()
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(400):
                self.wfile.write(chunk)
        except OSError:
            pass

    def log_message(self, *a):
        pass


def start(work, name, db, hooks):
    public, admin = free_port(), free_port()
    config = {
        "server": {"public": {"address": f"127.0.0.1:{public}", "base_url": f"http://127.0.0.1:{public}"},
                   "admin": {"address": f"127.0.0.1:{admin}"}},
        "database": {"url": f"{PG}/{db}"},
        "secrets": {"keys": ["receivers-bench-secret-0123456789abcdef"]},
        "session": {"issuer": "https://auth.example"},
        "account": {"allow_deletion": True},
        "ssf": {"enabled": True, "push": {"allow_networks": ["127.0.0.0/8"]}, "min_verification_interval": "0s"},
        "webhooks": {"timeout": "15s", "hooks": hooks},
        "log": {"level": "error"},
    }
    path = f"{work}/{name}.yaml"
    with open(path, "w") as f:
        json.dump(config, f)
    proc = subprocess.Popen([API, "--config", path, "serve"])
    for _ in range(400):
        try:
            if call("GET", f"http://127.0.0.1:{admin}/health/ready", timeout=1)[0] == 200:
                return proc, f"http://127.0.0.1:{public}", f"http://127.0.0.1:{admin}"
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"{name} did not become ready")


def delete_one(public, admin, i, tag):
    _, user = call("POST", f"{admin}/users", {"emails": [{"address": f"{tag}-{i}@example.com", "is_primary": True, "is_verified": True}]})
    _, session = call("POST", f"{admin}/sessions", {"user_id": user["id"]})
    status, _ = call("DELETE", f"{public}/user", token=session["session_token"])
    assert status == 204, status
    return user["id"]


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    work = tempfile.mkdtemp()
    db = f"receivers_{os.getpid()}"
    psql(f"CREATE DATABASE {db}")
    good = True
    procs = []
    try:
        # 1. A sleeping push endpoint beside a hanko hook.
        hook = serve(Hook)
        sleeper = serve(Sleeper)
        proc, public, admin = start(work, "slow", db, [{"name": "app", "url": f"{hook}/hook", "events": ["user.delete"]}])
        procs.append(proc)
        _, receiver = call("POST", f"{admin}/ssf/receivers", {"name": "sleepy", "audience": "https://sleepy.example"})
        status, stream = call("POST", f"{public}/ssf/stream", {"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": f"{sleeper}/push"}}, receiver["token"])
        assert status == 201, status
        for _ in range(70):  # a backlog of verifications for the sleeping endpoint
            call("POST", f"{public}/ssf/verify", {"stream_id": stream["stream_id"]}, receiver["token"])
        lateness = []
        for i in range(100):
            before = set(arrivals)
            t0 = time.monotonic()
            delete_one(public, admin, i, "slow")
            while set(arrivals) == before and time.monotonic() - t0 < 15:
                time.sleep(0.002)
            new = set(arrivals) - before
            lateness.append(max((arrivals[k] for k in new), default=t0 + 15) - t0)
        lateness.sort()
        print(f"1. hanko hook beside a push endpoint that sleeps 10 s, 100 deletions: "
              f"delivered after p50 {lateness[49]*1000:.0f} ms, p99 {lateness[98]*1000:.0f} ms, max {lateness[-1]*1000:.0f} ms")
        good &= lateness[-1] < 1.0
        proc.terminate(); proc.wait(); procs.remove(proc)

        # 2. An answer of 400 MB.
        huge = serve(Huge)
        proc, public, admin = start(work, "huge", db, [{"name": "huge", "url": f"{huge}/hook", "events": ["user.delete"]}])
        procs.append(proc)
        for i in range(5):
            delete_one(public, admin, i, "huge")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, page = call("GET", f"{admin}/webhooks/deliveries?status=delivered&per_page=1000")
            if sum(1 for d in page or [] if d["hook"] == "huge") >= 5:
                break
            time.sleep(0.2)
        rss = peak_rss_kib(proc.pid) / 1024
        print(f"2. five answers of 400 MB each: peak RSS {rss:.1f} MiB")
        good &= rss < 64
        proc.terminate(); proc.wait(); procs.remove(proc)

        # 3. 200 long polls opened and closed at once.
        proc, public, admin = start(work, "polls", db, [])
        procs.append(proc)
        _, receiver = call("POST", f"{admin}/ssf/receivers", {"name": "poller", "audience": "https://poller.example"})
        _, stream = call("POST", f"{public}/ssf/stream", {"delivery": {"method": "urn:ietf:rfc:8936"}}, receiver["token"])
        poll = f"/ssf/poll/{stream['stream_id']}"
        host, port = public.removeprefix("http://").split(":")
        time.sleep(2)

        def commits():
            return int(psql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'"))

        c0 = commits(); time.sleep(30); idle = commits() - c0
        body = json.dumps({"maxEvents": 10, "returnImmediately": False}).encode()
        request = (f"POST {poll} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {receiver['token']}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        c0 = commits()
        started = time.monotonic()
        socks = []
        for _ in range(200):
            s = socket.create_connection((host, int(port)))
            s.sendall(request)
            socks.append(s)
        for s in socks:
            s.close()
        opened = time.monotonic() - started
        time.sleep(30)
        after = commits() - c0
        print(f"3. 200 long polls opened and closed in {opened:.2f} s: {after} transactions in the next 30 s "
              f"(idle: {idle} in 30 s; ratio {after / max(idle, 1):.2f})")
        good &= after <= 2 * idle
    finally:
        for p in procs:
            p.terminate(); p.wait()
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    print("all bars met" if good else "a bar is missed")
    sys.exit(0 if good else 1)


main()
