# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""PyTorch's F.conv2d as a single-plane valid cross-correlation (a 1x1xHxW image, a 1x1xkhxkw
kernel, one thread), the PyTorch column of the corr2d comparison. Writes Google Benchmark-style
JSON for benchmarks/peers/report.py:

    /usr/bin/python3 benchmarks/peers/corr2d_torch.py --out torch_corr2d.json

Names: corr2d/pytorch/f32/<H>x<W>/k<kh>x<kw>; counter GFLOPS = 2 * out_rows * out_cols * kh * kw
per call. Exits with status 3 when PyTorch is not installed."""
import argparse
import sys

from bench import Task, run_interleaved, write_json

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("corr2d_torch.py: PyTorch is not installed", file=sys.stderr)
    sys.exit(3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1024,4096")
    ap.add_argument("--kernels", default="3,7,15")
    ap.add_argument("--budget", type=float, default=0.4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(7)
    tasks = []
    for n in (int(v) for v in a.sizes.split(",")):
        x = torch.rand(1, 1, n, n) * 2 - 1
        for k in (int(v) for v in a.kernels.split(",")):
            w = torch.rand(1, 1, k, k) * 2 - 1
            flops = 2.0 * (n - k + 1) ** 2 * k * k
            tasks.append(Task(f"corr2d/pytorch/f32/{n}x{n}/k{k}x{k}",
                              lambda x=x, w=w: F.conv2d(x, w), None, flops))
    run_interleaved(tasks, a.budget, a.rounds)
    write_json(a.out, tasks, {"library": "PyTorch " + torch.__version__})


if __name__ == "__main__":
    main()
