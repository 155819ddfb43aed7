#!/usr/bin/env python3
"""RSS over time of several soaks in one plot (before and after, one allocator and another).

    python3 bench/soak/compare.py OUT.png LABEL=soak.json [LABEL=soak.json ...]

Each soak.json is bench/soak/run.py's output (its `samples`: seconds, RSS MiB, deletions)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    out, runs = sys.argv[1], sys.argv[2:]
    fig, axis = plt.subplots(figsize=(9, 4))
    for run in runs:
        label, path = run.split("=", 1)
        with open(path) as f:
            soak = json.load(f)
        rss = soak["rss_mib"]
        axis.plot([t / 60 for t, _, _ in soak["samples"]], [r for _, r, _ in soak["samples"]],
                  label=f"{label}: peak {rss['peak']:.1f} MiB, "
                        f"{rss['slope_last_half_mib_per_min']:.3f} MiB/min over the last half")
    axis.set_xlabel("minutes")
    axis.set_ylabel("RSS (MiB)")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
