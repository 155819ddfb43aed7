#!/usr/bin/env python3
"""The SSRF matrix (docs/events.md "Where pushes may go"), against a real binary: for every way of
writing a loopback, private, link-local, CGNAT or ULA target, a receiver's push stream is refused
when created (400) or its push dies with "address not allowed", and a sink on 127.0.0.1 receives
nothing. Then, with ssf.push.allow_networks: ["127.0.0.0/8"], this instance's own admin port is
still refused, and the same sink, admitted, receives the push.

Usage: python3 e2e/ssrf/matrix.py   (API_BIN=path/to/api, default target/release/api)
Exits 1 if any row is not as it must be."""
import http.server, json, os, socket, subprocess, sys, tempfile, threading, time, urllib.request

API = os.environ.get("API_BIN", "target/release/api")
received = []


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        received.append(self.path)
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            text = res.read().decode()
            return res.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, json.loads(text) if text else None


def start(work, name, allow):
    public, admin = free_port(), free_port()
    config = {
        "server": {"public": {"address": f"127.0.0.1:{public}", "base_url": f"http://127.0.0.1:{public}"},
                   "admin": {"address": f"127.0.0.1:{admin}"}},
        "database": {"url": f"sqlite://{work}/{name}.sqlite3"},
        "secrets": {"keys": ["ssrf-matrix-secret-0123456789abcdef"]},
        "session": {"issuer": "https://auth.example"},
        "ssf": {"enabled": True, "push": {"allow_networks": allow}},
        "webhooks": {"initial_backoff": "100ms", "max_attempts": 2, "timeout": "2s"},
        "log": {"level": "error"},
    }
    path = f"{work}/{name}.yaml"
    with open(path, "w") as f:
        json.dump(config, f)
    proc = subprocess.Popen([API, "--config", path, "serve"])
    for _ in range(200):
        try:
            if call("GET", f"http://127.0.0.1:{admin}/health/ready")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.05)
    else:
        sys.exit(f"{name} did not become ready")
    status, created = call("POST", f"http://127.0.0.1:{admin}/ssf/receivers",
                           {"name": name, "audience": "https://rp.example"})
    assert status == 201, (status, created)
    return proc, f"http://127.0.0.1:{public}", f"http://127.0.0.1:{admin}", admin, created["token"]


def outcome(admin, stream):
    """The push's delivery once it is delivered or dead."""
    for _ in range(200):
        for status in ("dead", "delivered"):
            _, page = call("GET", f"{admin}/webhooks/deliveries?status={status}&per_page=1000")
            for d in page or []:
                if d["hook"] == f"ssf:{stream}":
                    return f"{status}: {d['last_error'] or 'attempts ' + str(d['attempts'])}"
        time.sleep(0.05)
    return "still pending"


def row(public, admin, token, label, url, expect_delivered=False):
    before = len(received)
    status, body = call("POST", f"{public}/ssf/stream", {"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": url}}, token)
    if status == 201:
        stream = body["stream_id"]
        verified = call("POST", f"{public}/ssf/verify", {"stream_id": stream}, token)[0]
        assert verified == 204, verified
        result = outcome(admin, stream)
    else:
        result = f"refused at creation: {status} {(body or {}).get('detail', '')}"
    got = len(received) - before
    ok = (got == 1 and result.startswith("delivered")) if expect_delivered else (
        got == 0 and (status == 400 or "address not allowed" in result))
    print(f"| {label:<34} | {result[:78]:<78} | {got} | {'ok' if ok else 'WRONG'} |")
    return ok


def main():
    sink_port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", sink_port), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp()
    procs, good = [], True
    try:
        proc, public, admin, admin_port, token = start(work, "strict", [])
        procs.append(proc)
        print(f"ssf.push.allow_networks: [] (sink on 127.0.0.1:{sink_port})")
        print("| target | outcome | sink got | |\n|---|---|---|---|")
        for host in ["127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0", "0.0.0.0",
                     "localhost", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254", "10.0.0.1",
                     "192.168.1.1", "100.64.0.1", "[fd00::1]"]:
            good &= row(public, admin, token, host, f"http://{host}:{sink_port}/push")
        good &= row(public, admin, token, "localhost:5432", "http://localhost:5432/")
        proc, public, admin, admin_port, token = start(work, "admitted", ["127.0.0.0/8"])
        procs.append(proc)
        print('\nssf.push.allow_networks: ["127.0.0.0/8"]')
        print("| target | outcome | sink got | |\n|---|---|---|---|")
        for label, url in [(f"own admin 127.0.0.1:{admin_port}", f"http://127.0.0.1:{admin_port}/jwks/rotate"),
                           (f"own admin 2130706433:{admin_port}", f"http://2130706433:{admin_port}/jwks/rotate"),
                           (f"own admin localhost:{admin_port}", f"http://localhost:{admin_port}/jwks/rotate")]:
            good &= row(public, admin, token, label, url)
        good &= row(public, admin, token, f"sink 127.0.0.1:{sink_port}", f"http://127.0.0.1:{sink_port}/push",
                    expect_delivered=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    print("\nSSRF matrix: every row as it must be" if good else "\nSSRF matrix: WRONG rows above")
    sys.exit(0 if good else 1)


main()
