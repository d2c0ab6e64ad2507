# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""Interleaved median timing for the Python peers, written as Google Benchmark-style JSON.

Every task is warmed up and calibrated (an inner batch of calls lasting >= 2 ms), then `rounds`
rounds take a few samples of every task in turn, so slow drifts of a shared machine hit all tasks
alike; the reported time is the median per call, wall clock (real_time) and the calling thread's
CPU time (cpu_time, Google Benchmark's default: the whole work at one thread, and what a loaded
machine's time slicing does not inflate)."""
import json
import math
import time

now = time.perf_counter
cpu_now = time.thread_time


class Task:
    def __init__(self, name, f, setup=None, flops=0.0):
        self.name, self.f, self.setup, self.flops = name, f, setup, flops
        self.inner, self.samples, self.cpu_samples = 1, [], []


def run_interleaved(tasks, budget_per_task=0.4, rounds=3):
    per_round = []
    for t in tasks:
        if t.setup:
            t.setup()
        t0 = now(); t.f(); t1 = now() - t0
        if t1 < 0.3:
            t0 = now(); t.f(); t1 = now() - t0
        t1 = max(t1, 1e-9)
        t.inner = max(1, math.ceil(2e-3 / t1))
        total = round(budget_per_task / (t1 * t.inner))
        total = min(max(total, rounds if t1 > 0.2 else 3 * rounds), 15 * rounds)
        per_round.append(max(1, total // rounds))
    for _ in range(rounds):
        for t, n in zip(tasks, per_round):
            if t.setup:
                t.setup()
            for _ in range(n):
                t0, c0 = now(), cpu_now()
                for _ in range(t.inner):
                    t.f()
                t.samples.append((now() - t0) / t.inner)
                t.cpu_samples.append((cpu_now() - c0) / t.inner)


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def write_json(path, tasks, context):
    out = {"context": context, "benchmarks": []}
    for t in tasks:
        m = median(t.samples)
        entry = {"name": t.name, "run_type": "aggregate", "aggregate_name": "median",
                 "real_time": m * 1e3, "cpu_time": median(t.cpu_samples) * 1e3, "time_unit": "ms",
                 "samples": len(t.samples)}
        if t.flops > 0:
            entry["GFLOPS"] = t.flops / m * 1e-9
        out["benchmarks"].append(entry)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
