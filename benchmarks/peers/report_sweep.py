# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""Renders the results of benchmarks/compare_sweep.sh as a markdown report, and writes the merged
per-case results (with the cost-model features of every case) as sweep.csv and sweep.json:

    /usr/bin/python3 benchmarks/peers/report_sweep.py RESULTS_DIR [--full]

RESULTS_DIR holds cases.csv (from `conv2d_sweep --sweep_list`), Google Benchmark JSON files of
conv2d_sweep and of peers/sweep_torch.py (any number of rounds each) and meta.json. Per case,
direction and thread count the time is the median over rounds of each round's median; the ratio
is PyTorch's time / convtape's time (above 1: convtape is faster). The report gives the
distribution of the ratios (worst, 10th percentile, median, best) per direction and thread count
against issue 10's targets, the median per kind of layer, every case below 1.0×, and convtape's
2-thread / 1-thread speed-up on the cases of at least 50 MFLOP forward. --full adds every case."""
import csv
import glob
import json
import os
import re
import statistics
import sys

NAME = re.compile(r"^sweep_(fwd|fwdbwd)/(convtape|pytorch)/(.+/n\d+)/t(\d+)(?:/real_time)?"
                  r"(?:_(?:median|mean|stddev|cv))?$")
DIRECTIONS = {"fwd": "forward", "fwdbwd": "forward+backward"}
TARGETS = (0.8, 1.0, 1.5)  # worst, 10th percentile, median (issue 10)
SCALING_MIN_FLOPS = 50e6
SCALING_TARGET = 1.7


def load_cases(res):
    with open(os.path.join(res, "cases.csv"), newline="") as f:
        return {r["case"]: r for r in csv.DictReader(f)}


def load_times(res):
    """{(direction, impl, case, threads): [(real ms, CPU ms) per file, ...]} and the BLAS the
    peer loaded (from its files' context)."""
    times, blas = {}, set()
    for path in sorted(glob.glob(os.path.join(res, "*.json"))):
        if os.path.basename(path) in ("meta.json", "sweep.json"):
            continue
        with open(path) as f:
            data = json.load(f)
        entries = data.get("benchmarks", [])
        if "blas" in data.get("context", {}):
            blas.add(data["context"]["blas"])
        has_median = any(e.get("aggregate_name") == "median" for e in entries)
        for e in entries:
            m = NAME.match(e["name"])
            if not m or e.get("error_occurred"):
                continue
            if has_median != (e.get("aggregate_name") == "median"):
                continue  # with repetitions the median, else the single run
            scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[e.get("time_unit", "ns")]
            d, impl, case, t = m.groups()
            times.setdefault((d, impl, case, int(t)), []).append(
                (e["real_time"] * scale, e.get("cpu_time", float("nan")) * scale))
    return times, ", ".join(sorted(blas)) or "?"


def quantile(v, q):
    """numpy's default (linear) quantile of a non-empty list."""
    v = sorted(v)
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def shape(c):
    """'N8 64→128 56² k3 s2 p1' and the like, from a case row."""
    i = {k: int(c[k]) for k in ("batch", "c_in", "c_out", "rows", "cols", "kernel_rows",
                                "kernel_cols", "stride", "pad_rows", "pad_cols", "dilation",
                                "groups")}
    plane = f"{i['rows']}²" if i["rows"] == i["cols"] else f"{i['rows']}×{i['cols']}"
    k = (f"k{i['kernel_rows']}" if i["kernel_rows"] == i["kernel_cols"]
         else f"k{i['kernel_rows']}×{i['kernel_cols']}")
    s = f"N{i['batch']} {i['c_in']}→{i['c_out']} {plane} {k}"
    if i["stride"] > 1:
        s += f" s{i['stride']}"
    if i["pad_rows"] or i["pad_cols"]:
        s += (f" p{i['pad_rows']}" if i["pad_rows"] == i["pad_cols"]
              else f" p{i['pad_rows']},{i['pad_cols']}")
    if i["dilation"] > 1:
        s += f" d{i['dilation']}"
    if i["groups"] > 1:
        s += " dw" if i["groups"] == i["c_in"] else f" g{i['groups']}"
    return s


def merge(cases, times):
    """One row per case, direction and thread count measured by convtape: features and times."""
    rows = []
    for (d, impl, case, t), ours in sorted(times.items()):
        if impl != "convtape" or case not in cases:
            continue
        c = cases[case]
        flops = float(c["fwd_flops"] if d == "fwd" else c["train_flops"])
        peer = times.get((d, "pytorch", case, t))
        row = dict(c)
        row.update(direction=d, threads=t, rounds=len(ours),
                   convtape_ms=statistics.median(v for v, _ in ours),
                   pytorch_ms=statistics.median(v for v, _ in peer) if peer else None,
                   convtape_cpu_ms=statistics.median(v for _, v in ours),
                   pytorch_cpu_ms=statistics.median(v for _, v in peer) if peer else None)
        row["convtape_gflops"] = flops / row["convtape_ms"] * 1e-6
        row["pytorch_gflops"] = flops / row["pytorch_ms"] * 1e-6 if peer else None
        row["ratio"] = row["pytorch_ms"] / row["convtape_ms"] if peer else None
        row["cpu_ratio"] = row["pytorch_cpu_ms"] / row["convtape_cpu_ms"] if peer else None
        rows.append(row)
    by_key = {(r["direction"], r["case"], r["threads"]): r for r in rows}
    for r in rows:  # 2-thread / 1-thread speed-ups, on the 2-thread row
        one = by_key.get((r["direction"], r["case"], 1))
        r["convtape_scaling"] = r["pytorch_scaling"] = None
        if r["threads"] == 2 and one:
            r["convtape_scaling"] = one["convtape_ms"] / r["convtape_ms"]
            if one["pytorch_ms"] and r["pytorch_ms"]:
                r["pytorch_scaling"] = one["pytorch_ms"] / r["pytorch_ms"]
    return rows


def fmt_ms(ms):
    if ms is None:
        return "–"
    return f"{ms * 1e3:.3g} µs" if ms < 1 else f"{ms:.3g} ms" if ms < 1000 else f"{ms / 1e3:.3g} s"


def fmt_g(g):
    return "–" if g is None else f"{g:.3g}"


def distribution(values, key, fmt):
    """worst, 10th percentile, median, best cells; worst and best name their case."""
    v = sorted(values, key=key)
    ks = [key(r) for r in v]
    return [f"{fmt(ks[0])} ({v[0]['case']})", fmt(quantile(ks, 0.1)), fmt(quantile(ks, 0.5)),
            f"{fmt(ks[-1])} ({v[-1]['case']})"]


def report(res, full):
    cases = load_cases(res)
    times, blas = load_times(res)
    rows = merge(cases, times)
    meta = {}
    if os.path.exists(os.path.join(res, "meta.json")):
        with open(os.path.join(res, "meta.json")) as f:
            meta = json.load(f)
    with open(os.path.join(res, "sweep.csv"), "w", newline="") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
    with open(os.path.join(res, "sweep.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)

    out = []
    p = out.append
    x = lambda r: f"{r:.2f}×"  # noqa: E731
    layers = {c["layer"] for c in cases.values()}
    p(f"conv2d sweep, convtape vs {meta.get('peer', 'PyTorch')} — {meta.get('date', '?')}")
    p("")
    p(f"- Machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores;"
      f" {meta.get('compiler', '?')}; OpenMP in benchmarks: {meta.get('openmp', '?')}")
    p(f"- PyTorch's BLAS (its non-oneDNN convolutions): {blas}"
      + ("; the textbook loops, so those cases flatter convtape (see compare_sweep.sh, PEER_BLAS)"
         if blas.startswith("reference") else ""))
    what = meta.get("layers") or "the listed layers"
    sel = ", ".join(f"{k} {meta[k]}" for k in ("filter", "batch") if meta.get(k))
    p(f"- Cases: {len(cases)} ({len(layers)} layers, {what}{'; ' + sel if sel else ''}),"
      f" threads {meta.get('threads', '?')}; {meta.get('rounds', '?')} round(s)"
      f"{' (QUICK)' if meta.get('quick') else ''} in {meta.get('minutes', '?')} min;"
      f" load average (1 min) {meta.get('load', '?')} on {meta.get('cores', '?')} cores")
    p(f"- Ratio = PyTorch's median time / convtape's (above 1: convtape is faster), chunks of"
      f" layers interleaved, OMP_WAIT_POLICY={meta.get('wait_policy', '?')},"
      f" {meta.get('allocator', 'GLIBC_TUNABLES=?')}")
    p("")
    paired = [r for r in rows if r["ratio"] is not None]
    # The columns: each direction and thread count by wall clock and, at one thread, by CPU time
    # too: the work each side did, which the time slicing of a loaded machine does not inflate
    # (at two threads the calling thread's CPU time would miss the other one).
    with_cpu = all(r["cpu_ratio"] == r["cpu_ratio"] for r in paired)  # no NaN
    columns = sorted({(r["direction"], r["threads"], "ratio") for r in paired}
                     | {(r["direction"], 1, "cpu_ratio") for r in paired if with_cpu},
                     key=lambda k: (k[0] != "fwd", k[1], k[2] != "cpu_ratio"))

    def label(col, short=False):
        d, t, key = col
        if short:
            return f"{'fwd' if d == 'fwd' else 'fwd+bwd'} {t}t{' CPU' if key == 'cpu_ratio' else ''}"
        return f"{DIRECTIONS[d]} | {t}{', CPU time' if key == 'cpu_ratio' else ''}"

    def of(col):
        return [r for r in paired if r["direction"] == col[0] and r["threads"] == col[1]]

    p("| direction | threads | cases | worst | 10th percentile | median | best | below 1.0× |"
      " targets: worst ≥ 0.8×, p10 ≥ 1.0×, median ≥ 1.5× |")
    p("|---|---|---|---|---|---|---|---|---|")
    for col in columns:
        g, key = of(col), col[2]
        ks = sorted(r[key] for r in g)
        got = (ks[0], quantile(ks, 0.1), quantile(ks, 0.5))
        held = ", ".join(f"{n} {'met' if v >= want else 'NOT met'}"
                         for n, v, want in zip(("worst", "p10", "median"), got, TARGETS))
        below = sum(1 for v in ks if v < 1.0)
        p(f"| {label(col)} | {len(g)} | " + " | ".join(distribution(g, lambda r: r[key], x))
          + f" | {below} | {held} |")

    tags = sorted({t for r in paired for t in r["tags"].split("+")})
    if tags:
        p("")
        p("Median ratio per kind of layer (a case counts under each of its tags), worst in"
          " brackets:")
        p("")
        p("| kind | cases | " + " | ".join(label(c, True) for c in columns) + " |")
        p("|---|---|" + "---|" * len(columns))
        for tag in tags:
            cells = []
            for col in columns:
                ks = [r[col[2]] for r in of(col) if tag in r["tags"].split("+")]
                cells.append(f"{x(statistics.median(ks))} [{x(min(ks))}]" if ks else "–")
            n = len({r["case"] for r in paired if tag in r["tags"].split("+")})
            p(f"| {tag} | {n} | " + " | ".join(cells) + " |")

    # Every case with a ratio below 1.0, one row each: its ratios in every column, and both
    # GFLOP/s of its worst (wall clock).
    by_case = {}
    for r in paired:
        by_case.setdefault(r["case"], {})[(r["direction"], r["threads"])] = r
    slow = sorted((min(m.values(), key=lambda r: r["ratio"]) for m in by_case.values()
                   if min(r["ratio"] for r in m.values()) < 1.0), key=lambda r: r["ratio"])
    p("")
    p(f"Cases below 1.0× in some direction or thread count ({len(slow)} of {len(by_case)}),"
      " slowest first; GFLOP/s of convtape and PyTorch where the ratio is worst:")
    p("")
    p("| case | network | shape | kind | " + " | ".join(label(c, True) for c in columns)
      + " | worst: convtape vs PyTorch GFLOP/s |")
    p("|---|---|---|---|" + "---|" * len(columns) + "---|")
    for w in slow:
        m = by_case[w["case"]]
        cells = [x(m[c[:2]][c[2]]) if c[:2] in m else "–" for c in columns]
        p(f"| {w['case']} | {w['network']} | {shape(w)} | {w['tags']} | " + " | ".join(cells)
          + f" | {fmt_g(w['convtape_gflops'])} vs {fmt_g(w['pytorch_gflops'])}"
          f" ({DIRECTIONS[w['direction']]}, {w['threads']}t) |")

    big = [r for r in rows if r["convtape_scaling"] is not None
           and float(r["fwd_flops"]) >= SCALING_MIN_FLOPS]
    if big:
        p("")
        p(f"2 threads / 1 thread speed-up on the {len({r['case'] for r in big})} cases of at"
          f" least {SCALING_MIN_FLOPS / 1e6:.0f} MFLOP forward (target ≥ {SCALING_TARGET}×):")
        p("")
        p("| library | direction | cases | worst | 10th percentile | median | best |"
          f" below {SCALING_TARGET}× |")
        p("|---|---|---|---|---|---|---|---|")
        for lib in ("convtape", "pytorch"):
            for d in DIRECTIONS:
                g = [r for r in big if r["direction"] == d and r[f"{lib}_scaling"] is not None]
                if g:
                    below = sum(1 for r in g if r[f"{lib}_scaling"] < SCALING_TARGET)
                    p(f"| {'PyTorch' if lib == 'pytorch' else lib} | {DIRECTIONS[d]} | {len(g)} | "
                      + " | ".join(distribution(g, lambda r: r[f"{lib}_scaling"], x))
                      + f" | {below} |")
        weak = sorted((r for r in big if r["convtape_scaling"] < SCALING_TARGET),
                      key=lambda r: r["convtape_scaling"])
        p("")
        p(f"convtape below {SCALING_TARGET}× ({len(weak)}), weakest first:")
        p("")
        p("| speed-up | direction | case | shape | kind | 1 thread | 2 threads | PyTorch's |")
        p("|---|---|---|---|---|---|---|---|")
        by_key = {(r["direction"], r["case"], r["threads"]): r for r in rows}
        for r in weak:
            one = by_key[(r["direction"], r["case"], 1)]
            ps = r["pytorch_scaling"]
            p(f"| {x(r['convtape_scaling'])} | {DIRECTIONS[r['direction']]} | {r['case']} |"
              f" {shape(r)} | {r['tags']} | {fmt_ms(one['convtape_ms'])} |"
              f" {fmt_ms(r['convtape_ms'])} | {x(ps) if ps else '–'} |")

    if full:
        p("")
        p("Every case (time, GFLOP/s in brackets):")
        p("")
        p("| case | shape | direction | threads | convtape | PyTorch | ratio | 2t/1t |")
        p("|---|---|---|---|---|---|---|---|")
        for r in rows:
            sc = r["convtape_scaling"]
            p(f"| {r['case']} | {shape(r)} | {DIRECTIONS[r['direction']]} | {r['threads']} |"
              f" {fmt_ms(r['convtape_ms'])} ({fmt_g(r['convtape_gflops'])}) |"
              f" {fmt_ms(r['pytorch_ms'])} ({fmt_g(r['pytorch_gflops'])}) |"
              f" {x(r['ratio']) if r['ratio'] else '–'} | {x(sc) if sc else '–'} |")
    return "\n".join(out)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--full"]
    print(report(args[0] if args else "results", "--full" in sys.argv[1:]))
