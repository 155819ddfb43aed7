#!/usr/bin/env python3
"""Two builds, alternating, on the same machine in one sitting: bench/bench.py runs the chosen
paths (BENCH_PATHS, default "delete me") for build A, then B, then A, then B ... (ROUNDS each,
default 2), and prints every run's peak per path and the ratio of B's best to A's best, with
each side's spread. A build's peak is compared with the other's peak, never with a level.

    python3 bench/alternate.py OLD_BINARY NEW_BINARY [ROUNDS]
    python3 bench/alternate.py --summary      (the last run's table again)

Writes bench/out/alternate.json (every run's results.json, in order).
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")


def run(binary):
    env = dict(os.environ, BENCH_BIN=binary)
    env.setdefault("BENCH_PATHS", "delete me")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench.py")], env=env, check=True)
    with open(os.path.join(OUT, "results.json")) as f:
        return json.load(f)


def ours_peak(results, path):
    """Our peak on `path` (DELETE's results carry it once per reference)."""
    entry = results[path]
    return entry["ours_peak"] if "ours_peak" in entry else entry["vs_cte"]["ours_peak"]


def main():
    if sys.argv[1:2] == ["--summary"]:
        with open(os.path.join(OUT, "alternate.json")) as f:
            return summarize(json.load(f))
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    a, b = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    runs = []
    for i in range(rounds):
        for label, binary in (("A", a), ("B", b)):
            print(f"== round {i + 1}, build {label}: {binary}", flush=True)
            runs.append({"build": label, "binary": binary, "results": run(binary)})
    with open(os.path.join(OUT, "alternate.json"), "w") as f:
        json.dump(runs, f, indent=1)
    summarize(runs)


def summarize(runs):
    paths = [p for p in ("delete", "me") if all(p in r["results"] for r in runs)]
    print("\npeak req/s (p99 ms at the peak) per run, in order:")
    for path in paths:
        cells = []
        for r in runs:
            peak = ours_peak(r["results"], path)
            cells.append(f"{r['build']} {peak['rate']:.0f} ({peak['p99_ms']:.2f})")
        print(f"  {path:7} " + "  ".join(cells))
    for path in paths:
        best = {}
        for side in ("A", "B"):
            rates = [ours_peak(r["results"], path)["rate"] for r in runs if r["build"] == side]
            best[side] = (max(rates), min(rates))
        print(f"  {path}: best B / best A = {best['B'][0] / best['A'][0]:.3f} "
              f"(A {best['A'][1]:.0f}..{best['A'][0]:.0f}, B {best['B'][1]:.0f}..{best['B'][0]:.0f})")


if __name__ == "__main__":
    main()
