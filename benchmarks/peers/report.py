# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""Renders the results of benchmarks/compare_peers.sh as ONE markdown table.

    /usr/bin/python3 benchmarks/peers/report.py RESULTS_DIR

RESULTS_DIR holds Google Benchmark JSON files (ours: machine_bench, conv2d_bench, corr2d benchmarks;
peers: the Python scripts beside this one), possibly several rounds of each, and meta.json (date,
machine, load). For every benchmark the median over all rounds is shown, `time (GFLOP/s)`; ratios
are speeds relative to ours: "x PyTorch" = PyTorch's time / our time (above 1: we are faster),
likewise for OpenCV and the textbook loop (for conv2d the reference loops run on one image, so
that ratio compares GFLOP/s); "% peak" is our GFLOP/s over the FMA peak measured in the same run
for the same number of threads."""
import glob
import json
import os
import re
import statistics
import sys

RES = sys.argv[1] if len(sys.argv) > 1 else "results"


def norm(name):
    name = re.sub(r"_(median|mean|stddev|cv)$", "", name)
    return name.replace("/real_time", "").replace("/process_time", "")


def load():
    runs = {}
    for path in sorted(glob.glob(os.path.join(RES, "*.json"))):
        if os.path.basename(path) == "meta.json":
            continue
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        entries = data.get("benchmarks", [])
        has_median = any(e.get("aggregate_name") == "median" for e in entries)
        for e in entries:
            if e.get("error_occurred"):
                continue
            if has_median and e.get("aggregate_name") != "median":
                continue
            if not has_median and e.get("run_type") == "aggregate":
                continue
            scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[e.get("time_unit", "ns")]
            runs.setdefault(norm(e["name"]), []).append(
                (e["real_time"] * scale, e.get("GFLOPS", -1.0)))
    return {k: (statistics.median(t for t, _ in v), statistics.median(g for _, g in v), len(v))
            for k, v in runs.items()}


R = load()
META = {}
if os.path.exists(os.path.join(RES, "meta.json")):
    with open(os.path.join(RES, "meta.json")) as f:
        META = json.load(f)


def ft(ms):
    if ms is None:
        return "–"
    if ms < 1e-3:
        return f"{ms * 1e6:.0f} ns"
    if ms < 1:
        return f"{ms * 1e3:.3g} µs"
    if ms < 1000:
        return f"{ms:.3g} ms"
    return f"{ms / 1e3:.3g} s"


def cell(name):
    r = R.get(name)
    if r is None:
        return "–"
    t, g, _ = r
    return f"{ft(t)} ({g:.3g})" if g and g > 0 else ft(t)


def ratio(ours, peer, by_gflops=False):
    a, b = R.get(ours), R.get(peer)
    if a is None or b is None:
        return "–"
    if by_gflops:
        return f"{a[1] / b[1]:.2f}×" if a[1] > 0 and b[1] > 0 else "–"
    return f"{b[0] / a[0]:.2f}×"


def peak(threads):
    r = R.get(f"machine/fma_peak/f32/t{threads}")
    return r[1] if r else None


def pct(name, threads):
    r, p = R.get(name), peak(threads)
    if r is None or not p or r[1] <= 0:
        return "–"
    return f"{100 * r[1] / p:.0f}%"


out = []
p = out.append
p(f"convtape vs peers — {META.get('date', '?')}")
p("")
p(f"- Machine: {META.get('cpu', '?')}, {META.get('cores', '?')} cores; {META.get('compiler', '?')}"
  f"; OpenMP in benchmarks: {META.get('openmp', '?')}")
p(f"- Peers: {META.get('peers', '?')}")
pk1, pk2 = peak(1), peak(2)
sg1, sg2 = R.get("machine/sgemm/1024/t1"), R.get("machine/sgemm/1024/t2")
p("- FMA peak f32 (same run): " + (f"{pk1:.1f} GFLOP/s (1 thread)" if pk1 else "–") +
  (f", {pk2:.1f} GFLOP/s (2 threads)" if pk2 else "") + "; Eigen SGEMM 1024³: " +
  (f"{sg1[1]:.1f}" if sg1 else "–") + (f" / {sg2[1]:.1f}" if sg2 else "") + " GFLOP/s (1 / 2 threads)")
p(f"- Load average during the run (1 min): {META.get('load', '?')} on {META.get('cores', '?')}"
  " cores (shared machine: compare ratios from the same run, not absolute times)")
p(f"- Rounds: {META.get('rounds', '?')}, each interleaving ours and the peers case by case"
  f" (OMP_WAIT_POLICY={META.get('wait_policy', '?')},"
  f" {META.get('allocator', 'GLIBC_TUNABLES=?')} for both); cells"
  " are medians, `time (GFLOP/s)`; ×peer = peer time / our time (>1: convtape is faster)")
p("")
p("| case | threads | convtape | PyTorch 1.13 | × PyTorch | OpenCV | × OpenCV | textbook / reference"
  " | × textbook | im2col + Eigen GEMM | % FMA peak |")
p("|---|---|---|---|---|---|---|---|---|---|---|")

LAYER_NAMES = {
    "A": "A LeNet conv1 N64 1→6 28² k5 p2",
    "B": "B ResNet block N8 64→64 56² k3 p1",
    "C": "C ResNet stem N1 3→64 224² k7 s2 p3",
    "D": "D depthwise N8 128ch 28² k3 p1 g128",
}
for letter, label in LAYER_NAMES.items():
    for pas in ("fwd", "bwd", "fwdbwd"):
        for t in (1, 2):
            ours = f"conv2d_{pas}/convtape/{letter}/t{t}"
            if ours not in R:
                continue
            torch_ = f"conv2d_{pas}/pytorch/{letter}/t{t}"
            ref = f"conv2d_{pas}/reference/{letter}/t1"
            eig = f"conv2d_{pas}/im2col_eigen/{letter}/t{t}"
            ref_cells = (cell(ref) + " (batch 1)", ratio(ours, ref, True)) if ref in R else ("–", "–")
            p(f"| conv2d {pas} {label} | {t} | {cell(ours)} | {cell(torch_)} | {ratio(ours, torch_)}"
              f" | – | – | {ref_cells[0]} | {ref_cells[1]} | {cell(eig)} | {pct(ours, t)} |")

# corr2d (the single-plane benchmarks, when built): corr2d/<impl>/<type>/<H>x<W>/k<kh>x<kw>
def type_key(t):
    return {"float": "f32", "f32": "f32", "double": "f64", "f64": "f64"}.get(t, t)


corr = {}
for name in R:
    m = re.match(r"corr2d/([^/]+)/([^/]+)/(\d+)x(\d+)/k(\d+)x(\d+)(?:/t(\d+))?$", name)
    if m:
        impl, typ, h, w, kh, kw, thr = m.groups()
        key = (type_key(typ), int(h), int(w), int(kh), int(kw), int(thr or 1))
        corr.setdefault(key, {})[impl] = name
for key in sorted(corr, key=lambda k: (k[0], k[1] * k[2], k[3] * k[4], k[5])):
    typ, h, w, kh, kw, t = key
    impls = corr[key]
    peers = {}
    for peer in ("pytorch", "opencv_filter2d", "textbook"):
        other = impls.get(peer)
        if other is None and peer == "pytorch" and t == 1:
            other = f"corr2d/pytorch/{typ}/{h}x{w}/k{kh}x{kw}"
            other = other if other in R else None
        peers[peer] = other
    if not any(peers.values()):
        continue  # nothing to compare with (float64: no peer measures it)
    # `corr2d` returns a new matrix (as PyTorch's conv2d and the textbook loop do); `corr2d_out`
    # writes into one reused across calls, as OpenCV's filter2D into its dst is measured.
    for impl, label in (("convtape", "corr2d"), ("convtape_out", "corr2d_out")):
        ours = impls.get(impl)
        if ours is None:
            continue
        row = [f"{label} {typ} {h}×{w}, {kh}×{kw}", str(t), cell(ours)]
        for peer in ("pytorch", "opencv_filter2d", "textbook"):
            other = peers[peer]
            row += [cell(other), ratio(ours, other)] if other else ["–", "–"]
        row += ["–", pct(ours, t)]
        p("| " + " | ".join(row) + " |")

# The notebook's 10-step learning loop (tape, layer, loss, SGD): one call = the whole loop.
for typ in ("f32", "f64"):
    ours = f"train/convtape/{typ}/t1"
    if ours not in R:
        continue
    torch_ = "train/pytorch/f32/t1"
    p(f"| notebook training loop, 10 steps, {typ} | 1 | {cell(ours)} | {cell(torch_)}"
      f" | {ratio(ours, torch_)} | – | – | – | – | – | – |")

print("\n".join(out))
