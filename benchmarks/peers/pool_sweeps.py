# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""Pools several runs of benchmarks/compare_sweep.sh, to tell the layers that are slow from the
ones a single quick run was unlucky on:

    /usr/bin/python3 benchmarks/peers/pool_sweeps.py [--below 0.8] RESULTS_DIR...

Each RESULTS_DIR holds the sweep.csv that report_sweep.py wrote. Per case, direction and thread
count (the cells every run has), the pooled ratio is the median of the runs' ratios (PyTorch's
time / convtape's). Prints, as markdown, the distribution of the pooled ratios per direction and
thread count (worst, 10th percentile, median, as report_sweep.py computes them; cells below 1.0×
and below 0.8×) and every case whose pooled ratio is below --below in some cell, slowest first,
each cell as `pooled (lowest-highest of the runs)`."""
import csv
import os
import statistics
import sys

from report_sweep import DIRECTIONS, quantile, shape

COLUMNS = [(d, t) for d in DIRECTIONS for t in ("1", "2")]


def load(results_dir):
    with open(os.path.join(results_dir, "sweep.csv"), newline="") as f:
        return list(csv.DictReader(f))


def main(argv):
    below = 0.8
    if len(argv) >= 2 and argv[0] == "--below":
        below = float(argv[1])
        argv = argv[2:]
    if len(argv) < 2:
        sys.exit(__doc__)
    runs, cases = [], {}
    for results_dir in argv:
        ratios = {}
        for row in load(results_dir):
            ratios[(row["case"], row["direction"], row["threads"])] = float(row["ratio"])
            cases[row["case"]] = row
        runs.append(ratios)
    cells = [k for k in runs[0] if all(k in r for r in runs[1:])]
    pooled = {k: statistics.median(r[k] for r in runs) for k in cells}
    low = {k: min(r[k] for r in runs) for k in cells}
    high = {k: max(r[k] for r in runs) for k in cells}

    print(f"{len(runs)} runs pooled; each cell the median of its {len(runs)} ratios.\n")
    print("| direction | threads | cases | worst | 10th percentile | median | below 1.0× | below 0.8× |")
    print("|---|---|---|---|---|---|---|---|")
    for d, t in COLUMNS:
        v = [pooled[k] for k in cells if k[1:] == (d, t)]
        if not v:
            continue
        print(f"| {DIRECTIONS[d]} | {t} | {len(v)} | {min(v):.2f}× | {quantile(v, 0.1):.2f}× | "
              f"{statistics.median(v):.2f}× | {sum(x < 1.0 for x in v)} | "
              f"{sum(x < 0.8 for x in v)} |")

    slow = sorted({k[0] for k in cells if pooled[k] < below},
                  key=lambda c: min(pooled[k] for k in cells if k[0] == c))
    print(f"\nEvery case with a pooled ratio below {below}× in some cell ({len(slow)}), slowest "
          "first; in brackets the lowest and highest of the runs:\n")
    print("| case | network | shape | " + " | ".join(
        f"{'fwd' if d == 'fwd' else 'fwd+bwd'} {t}t" for d, t in COLUMNS) + " |")
    print("|---|---|---|" + "---|" * len(COLUMNS))
    for c in slow:
        row = [f"| {c} | {cases[c]['network']} | {shape(cases[c])} |"]
        for d, t in COLUMNS:
            k = (c, d, t)
            row.append(f" {pooled[k]:.2f}× ({low[k]:.2f}-{high[k]:.2f}) |" if k in pooled
                       else " |")
        print("".join(row))


if __name__ == "__main__":
    main(sys.argv[1:])
