"""What the Python benchmarks share: a free local port, a JSON call to the server, psql on the
test Postgres. Imported by bench/receivers/run.py and bench/soak/run.py."""
import json
import socket
import subprocess
import urllib.error
import urllib.request

PG = "postgres://postgres@127.0.0.1:5432"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, token=None, timeout=30):
    """(status, parsed JSON or None); an HTTP error's body as text."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            text = res.read().decode()
            return res.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def psql(sql, db="postgres"):
    return subprocess.run(["psql", f"{PG}/{db}", "-Atqc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def wait_ready(admin, what="the server", tries=400):
    """Until `admin`/health/ready answers 200 (every 50 ms, 20 s by default); exits naming `what`."""
    import sys
    import time
    for _ in range(tries):
        try:
            if call("GET", f"{admin}/health/ready", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"{what} did not become ready")
