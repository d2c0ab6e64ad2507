# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""PyTorch's conv2d over the cases of benchmarks/conv2d_sweep.cpp (float32, NCHW), read from the
CSV that `conv2d_sweep --sweep_list` prints, so both sides measure the same shapes:

    build/benchmarks/conv2d_sweep --sweep_list > cases.csv
    /usr/bin/python3 benchmarks/peers/sweep_torch.py --cases cases.csv --out torch_sweep.json

For every case, at 1 and 2 threads (torch.set_num_threads): sweep_fwd = torch.nn.functional.conv2d
with bias under no_grad; sweep_fwdbwd = conv2d, then backward of a given output gradient to the
weight, the bias and (unless the layer is a network's first, `first` = 1) the input, as
conv2d_sweep does. Names sweep_{fwd,fwdbwd}/pytorch/<case>/t<threads>; counter GFLOPS from the
CSV's fwd_flops and train_flops. Writes Google Benchmark-style JSON (benchmarks/peers/bench.py).
Exits with status 3 when PyTorch is not installed (Debian: apt-get install python3-torch)."""
import argparse
import csv
import re
import sys

from bench import Task, run_interleaved, write_json

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the comparison script skips PyTorch then
    print("sweep_torch.py: PyTorch is not installed", file=sys.stderr)
    sys.exit(3)


def blas_library():
    """The BLAS this process loaded (PyTorch's non-oneDNN convolutions call it): Debian's
    python3-torch links libblas.so.3, the reference BLAS unless OpenBLAS or BLIS is installed or
    put first on LD_LIBRARY_PATH."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return "unknown"
    blas = sorted(lib for lib in libs if re.search(r"blas|blis|mkl_rt", lib.rsplit("/", 1)[-1]))
    if not blas:
        return "unknown"
    names = " ".join(blas)
    kind = ("OpenBLAS" if "openblas" in names else "BLIS" if "blis" in names
            else "MKL" if "mkl" in names else "reference BLAS" if "/blas/" in names else "?")
    return f"{kind} ({blas[-1]})"


def read_cases(path, names=None):
    """The rows of the case CSV, as dicts of ints (strings for the text columns), optionally
    only those whose case name is in `names`."""
    text = {"case", "layer", "network", "tags"}
    with open(path, newline="") as f:
        rows = [{k: (v if k in text else int(v)) for k, v in r.items()} for r in csv.DictReader(f)]
    if names is not None:
        rows = [r for r in rows if r["case"] in names]
    return rows


def tasks_for(c, threads):
    """The forward and forward+backward tasks of one case, at each thread count."""
    gen = torch.Generator().manual_seed(7)

    def uniform(*shape):
        return torch.rand(*shape, generator=gen) * 2 - 1

    n, cin, cout, g = c["batch"], c["c_in"], c["c_out"], c["groups"]
    x = uniform(n, cin, c["rows"], c["cols"])
    w = uniform(cout, cin // g, c["kernel_rows"], c["kernel_cols"]).requires_grad_()
    b = uniform(cout).requires_grad_()
    xg = x.clone().requires_grad_(not c["first"])
    dy = uniform(n, cout, c["out_rows"], c["out_cols"])
    kw = dict(stride=c["stride"], padding=(c["pad_rows"], c["pad_cols"]),
              dilation=c["dilation"], groups=g)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, **kw)

    def fwdbwd():
        xg.grad = w.grad = b.grad = None
        F.conv2d(xg, w, b, **kw).backward(dy)

    tasks = []
    for t in threads:
        def setup(t=t):
            torch.set_num_threads(t)
        suffix = f"/pytorch/{c['case']}/t{t}"
        tasks += [Task("sweep_fwd" + suffix, fwd, setup, c["fwd_flops"]),
                  Task("sweep_fwdbwd" + suffix, fwdbwd, setup, c["train_flops"])]
    return tasks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", required=True, help="CSV from conv2d_sweep --sweep_list")
    ap.add_argument("--names", help="comma-separated case names (default: every case)")
    ap.add_argument("--filter", help="only cases whose name matches this regex")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds of samples per task")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cases = read_cases(a.cases, set(a.names.split(",")) if a.names else None)
    if a.filter:
        cases = [c for c in cases if re.search(a.filter, c["case"])]
    threads = [int(v) for v in a.threads.split(",")]
    tasks = [task for c in cases for task in tasks_for(c, threads)]
    run_interleaved(tasks, a.budget, a.rounds)
    torch.set_num_threads(1)
    write_json(a.out, tasks, {"library": "PyTorch " + torch.__version__,
                              "mkldnn": str(torch.backends.mkldnn.is_available()),
                              "blas": blas_library()})


if __name__ == "__main__":
    main()
