"""Where the time goes: one path under load, sampled system-wide with `perf record -e cpu-clock`
(software clock: works where hardware counters are not exposed), reported per process and, for
the server, per symbol. bench/run builds the binary; run this after it:

    python3 bench/profile.py delete|me|jwks [CONNECTIONS] [SECONDS]

Writes bench/out/perf-<path>.data and bench/out/perf-<path>.txt (the per-symbol report).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "delete"
    conns = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    bench.DURATION = seconds
    os.makedirs(bench.OUT, exist_ok=True)
    db = f"profile_{os.getpid()}"
    bench.run(["psql", f"{bench.PG}/postgres", "-qXc", f"CREATE DATABASE {db}"])
    server = None
    try:
        server = bench.Server(db)
        tokens = os.path.join(bench.OUT, "profile_tokens.txt")
        count = 7000 * seconds if path == "delete" else 1
        print(f"seeding {count} users with sessions", flush=True)
        bench.run(["node", os.path.join(bench.ROOT, "bench", "seed.mjs"), server.admin, str(count), tokens, "32"])
        if path == "delete":
            url, script, args = f"{server.public}/user", "delete.lua", [tokens, str(min(conns, 2))]
        elif path == "me":
            token = open(tokens).read().split()[0]
            url, script, args = f"{server.public}/me", "report.lua", [f"Bearer {token}"]
        else:
            url, script, args = f"{server.public}/.well-known/jwks.json", "report.lua", []
        data = os.path.join(bench.OUT, f"perf-{path}.data")
        # PROFILE_DWARF=1: the server alone, with DWARF call graphs (the release build keeps no
        # frame pointers); otherwise every process, flat.
        scope = (["-p", str(server.proc.pid), "--call-graph", "dwarf,16384", "-F", "499"]
                 if os.environ.get("PROFILE_DWARF") == "1" else ["-a", "-g", "-F", "1999"])
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", *scope,
                                 "-o", data, "--", "sleep", str(seconds)])
        r = bench.wrk(url, conns, script, *args)
        perf.wait()
        print(f"{path} c={conns}: {r['rate']:.0f}/s p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms")
        by_comm = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "comm",
                                  "--stdio", "-q", "-g", "none"], capture_output=True, text=True).stdout
        print("CPU by process (share of all samples on all cores):")
        print("\n".join(l for l in by_comm.splitlines() if l.strip())[:3000])
        report = os.path.join(bench.OUT, f"perf-{path}.txt")
        with open(report, "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "comm,dso,symbol",
                            "--stdio", "-g", "none", "--percent-limit", "0.3"], stdout=f, stderr=subprocess.DEVNULL)
        print(f"per symbol: {report}")
    finally:
        if server:
            server.stop()
        subprocess.run(["psql", f"{bench.PG}/postgres", "-qXc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])


if __name__ == "__main__":
    main()
