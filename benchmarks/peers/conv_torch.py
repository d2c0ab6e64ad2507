# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""PyTorch nn.Conv2d on the four reference layers of benchmarks/conv2d_bench.cpp (float32, NCHW):
forward (under no_grad), backward (input, weight and bias gradients of a retained graph) and
forward + backward, at 1 and 2 threads. Writes Google Benchmark-style JSON so that
benchmarks/peers/report.py reads it beside our own results:

    /usr/bin/python3 benchmarks/peers/conv_torch.py --layers A,B --out torch_conv.json

Names: conv2d_{fwd,bwd,fwdbwd}/pytorch/<layer>/t<threads>; counter GFLOPS with the flop counts of
conv2d_bench (forward 2*N*C_out*H_out*W_out*C_in/groups*k^2, backward twice, both three times).
Exits with status 3 when PyTorch is not installed (Debian: apt-get install python3-torch)."""
import argparse
import sys

from bench import Task, run_interleaved, write_json

try:
    import torch
    import torch.nn as nn
except ImportError:  # the comparison script skips PyTorch then
    print("conv_torch.py: PyTorch is not installed", file=sys.stderr)
    sys.exit(3)

LAYERS = {  # N, C_in, C_out, size, kernel, stride, pad, groups (as conv2d_bench.cpp)
    "A": (64, 1, 6, 28, 5, 1, 2, 1),
    "B": (8, 64, 64, 56, 3, 1, 1, 1),
    "C": (1, 3, 64, 224, 7, 2, 3, 1),
    "D": (8, 128, 128, 28, 3, 1, 1, 128),
}


def tasks_for(letter, threads):
    n, c, o, size, k, s, p, g = LAYERS[letter]
    out = (size + 2 * p - k) // s + 1
    flops = 2.0 * n * o * out * out * (c // g) * k * k
    torch.manual_seed(7)
    m = nn.Conv2d(c, o, k, stride=s, padding=p, groups=g)
    x = torch.rand(n, c, size, size) * 2 - 1
    xg = x.clone().requires_grad_()
    dy = torch.rand(n, o, out, out) * 2 - 1
    graph = {}

    def fwd():
        with torch.no_grad():
            m(x)

    def clear():
        xg.grad = None
        m.weight.grad = None
        m.bias.grad = None

    def bwd():
        clear()
        graph["y"].backward(dy, retain_graph=True)

    def fwdbwd():
        clear()
        m(xg).backward(dy)

    def setup():
        torch.set_num_threads(threads)
        graph["y"] = m(xg)  # a fresh graph for this thread count

    suffix = f"/pytorch/{letter}/t{threads}"
    return [Task("conv2d_fwd" + suffix, fwd, setup, flops),
            Task("conv2d_bwd" + suffix, bwd, setup, 2 * flops),
            Task("conv2d_fwdbwd" + suffix, fwdbwd, setup, 3 * flops)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", default="A,B,C,D")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--budget", type=float, default=0.4, help="seconds of samples per task")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    tasks = []
    for letter in a.layers.split(","):
        for t in (int(v) for v in a.threads.split(",")):
            tasks += tasks_for(letter, t)
    run_interleaved(tasks, a.budget, a.rounds)
    torch.set_num_threads(1)
    write_json(a.out, tasks, {"library": "PyTorch " + torch.__version__,
                              "mkldnn": str(torch.backends.mkldnn.is_available())})


if __name__ == "__main__":
    main()
