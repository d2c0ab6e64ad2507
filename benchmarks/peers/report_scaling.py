# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""The compact report of benchmarks/scaling.sh: convtape's thread scaling on the conv2d sweep and
its speed against PyTorch at every thread count.

    python3 benchmarks/peers/report_scaling.py RESULTS_DIR

RESULTS_DIR holds cases.csv (`sweep_scaling --list`) and Google Benchmark-style JSON files of
sweep_scaling (convtape_*.json) and peers/sweep_torch.py (pytorch_*.json); per case, direction and
thread count the time is the median over the files' medians. Prints, per direction:
- the distribution of PyTorch time / convtape time (worst, 10th percentile, median, best) at
  every thread count;
- monotonicity: cases whose time at a larger thread count exceeds the time at the previous one
  by more than NOISE (default 10%), the worst ones listed;
- speed-up: convtape's time at 1 thread / time at the largest thread count on the cases of at
  least MIN_GFLOP forward GFLOP (1 GFLOP with 16 threads and more, else 0.05), against TARGET
  (8 at 16 threads, 1.7 at 2, else half the thread count), those below listed.
Also writes RESULTS_DIR/scaling.csv: one row per case, direction and thread count, with both
times (ms), the ratio and the case's forward GFLOP.
Environment: NOISE, MIN_GFLOP, TARGET override the defaults. Exit status 0 either way (a report,
not a test)."""
import csv
import glob
import json
import os
import re
import statistics
import sys

NAME = re.compile(r"^sweep_(fwd|fwdbwd)/(convtape|pytorch)/(.+/n\d+)/t(\d+)")


def load(res):
    with open(os.path.join(res, "cases.csv"), newline="") as f:
        cases = {r["case"]: r for r in csv.DictReader(f)}
    times = {}
    for path in sorted(glob.glob(os.path.join(res, "*.json"))):
        with open(path) as f:
            for e in json.load(f).get("benchmarks", []):
                m = NAME.match(e["name"])
                if not m or e.get("aggregate_name", "median") != "median":
                    continue
                scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[e.get("time_unit", "ms")]
                d, impl, case, t = m.groups()
                times.setdefault((d, impl, case, int(t)), []).append(e["real_time"] * scale)
    return cases, {k: statistics.median(v) for k, v in times.items()}


def quantile(v, q):
    v = sorted(v)
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def write_csv(path, cases, t):
    """One row per (case, direction, thread count) that convtape measured."""
    keys = sorted({(c, d, th) for d, impl, c, th in t if impl == "convtape"},
                  key=lambda k: (list(cases).index(k[0]) if k[0] in cases else -1, k[1], k[2]))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "layer", "network", "direction", "threads", "fwd_gflop",
                    "convtape_ms", "pytorch_ms", "ratio"])
        for c, d, th in keys:
            row = cases.get(c, {})
            ours = t[(d, "convtape", c, th)]
            peer = t.get((d, "pytorch", c, th))
            w.writerow([c, row.get("layer", ""), row.get("network", ""), d, th,
                        f"{float(row.get('fwd_flops', 0)) * 1e-9:.4g}", f"{ours:.5g}",
                        "" if peer is None else f"{peer:.5g}",
                        "" if peer is None else f"{peer / ours:.4g}"])


def main():
    res = sys.argv[1]
    cases, t = load(res)
    write_csv(os.path.join(res, "scaling.csv"), cases, t)
    threads = sorted({k[3] for k in t if k[1] == "convtape"})
    if not threads:
        print("report_scaling.py: no convtape results in", res)
        return
    top = threads[-1]
    noise = float(os.environ.get("NOISE", 0.10))
    min_gflop = float(os.environ.get("MIN_GFLOP", 1.0 if top >= 16 else 0.05))
    target = float(os.environ.get("TARGET", 8.0 if top >= 16 else 1.7 if top == 2 else top / 2))
    print(f"# conv2d sweep scaling: {len(cases)} cases, threads {threads}\n")
    for d, label in (("fwd", "forward"), ("fwdbwd", "forward+backward")):
        print(f"## {label}\n")
        print("ratio = PyTorch time / convtape time (above 1: convtape faster)\n")
        print("| threads | cases | worst | p10 | median | best | below 1.0 |")
        print("|---|---|---|---|---|---|---|")
        for th in threads:
            r = {c: t[(d, "pytorch", c, th)] / t[(d, "convtape", c, th)] for c in cases
                 if (d, "pytorch", c, th) in t and (d, "convtape", c, th) in t}
            if not r:
                continue
            v = list(r.values())
            worst = min(r, key=r.get)
            print(f"| {th} | {len(v)} | {min(v):.2f} ({worst}) | {quantile(v, 0.1):.2f} | "
                  f"{statistics.median(v):.2f} | {max(v):.2f} | {sum(x < 1 for x in v)} |")
        print()
        bad = []
        for c in cases:
            ts = [t.get((d, "convtape", c, th)) for th in threads]
            if None in ts:
                continue
            for a, b, ta, tb in zip(threads, threads[1:], ts, ts[1:]):
                if tb > ta * (1 + noise):
                    bad.append((tb / ta, c, a, b, ta, tb))
        bad.sort(reverse=True)
        print(f"monotonic (time at more threads <= {1 + noise:.2f} x time at fewer): "
              f"{'all cases' if not bad else f'{len(bad)} violation(s)'}")
        for ratio, c, a, b, ta, tb in bad[:12]:
            print(f"  {c}: {a}->{b} threads {ta:.3f} -> {tb:.3f} ms ({ratio:.2f}x)")
        big = [c for c in cases if float(cases[c]["fwd_flops"]) >= min_gflop * 1e9
               and (d, "convtape", c, 1) in t and (d, "convtape", c, top) in t]
        if top > 1 and big:
            sp = {c: t[(d, "convtape", c, 1)] / t[(d, "convtape", c, top)] for c in big}
            tsp = {c: t[(d, "pytorch", c, 1)] / t[(d, "pytorch", c, top)] for c in big
                   if (d, "pytorch", c, 1) in t and (d, "pytorch", c, top) in t}
            low = sorted((v, c) for c, v in sp.items() if v < target)
            v = list(sp.values())
            print(f"speed-up {top} vs 1 thread on {len(big)} cases >= {min_gflop:g} GFLOP: min "
                  f"{min(v):.2f}, median {statistics.median(v):.2f}, max {max(v):.2f} "
                  f"(PyTorch median {statistics.median(tsp.values()) if tsp else float('nan'):.2f});"
                  f" below {target:g}x: {len(low)}")
            for s, c in low[:12]:
                print(f"  {c}: {s:.2f}x ({t[(d, 'convtape', c, 1)]:.2f} -> "
                      f"{t[(d, 'convtape', c, top)]:.2f} ms)")
        print()


if __name__ == "__main__":
    main()
