# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""The notebook's learning loop in PyTorch (one thread, float32): 10 iterations of
nn.Conv2d(1, 1, (1, 2), bias=False) forward, squared loss, zero_grad, l.sum().backward() and the
update w -= lr * grad at lr 3e-2, from the same kernel every time — the peer of
benchmarks/train_bench.cpp. Writes Google Benchmark-style JSON for benchmarks/peers/report.py:

    /usr/bin/python3 benchmarks/peers/train_torch.py --out torch_train.json

Name: train/pytorch/f32/t1 (one call = the whole 10-step loop). Exits with status 3 when PyTorch
is not installed."""
import argparse
import sys

from bench import Task, run_interleaved, write_json

try:
    import torch
    import torch.nn as nn
except ImportError:
    print("train_torch.py: PyTorch is not installed", file=sys.stderr)
    sys.exit(3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=0.4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    Y = X[:, :-1] - X[:, 1:]  # corr2d(X, [[1, -1]])
    X, Y = X.reshape(1, 1, 6, 8), Y.reshape(1, 1, 6, 7)
    conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    w0 = conv2d.weight.data.clone()
    lr = 3e-2

    def loop():
        conv2d.weight.data.copy_(w0)
        for _ in range(10):
            l = (conv2d(X) - Y) ** 2
            conv2d.zero_grad()
            l.sum().backward()
            conv2d.weight.data[:] -= lr * conv2d.weight.grad

    tasks = [Task("train/pytorch/f32/t1", loop)]
    run_interleaved(tasks, a.budget, a.rounds)
    write_json(a.out, tasks, {"library": "PyTorch " + torch.__version__})


if __name__ == "__main__":
    main()
