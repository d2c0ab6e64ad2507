#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
#
# The many-core check of issue 10, one command for a borrowed machine that has g++ and PyTorch 2.x
# in `python3` but no CMake packages, no Google Benchmark and no internet. Run from the repository
# root with a copy of Eigen's headers at ./.device/eigen3 (git-ignored):
#
#   cp -r /usr/include/eigen3 .device/eigen3      # on the machine that has Eigen
#   OUT=/path/to/results benchmarks/device/scaling.sh
#
# It builds benchmarks/sweep_scaling.cpp (a standalone driver: std::chrono, medians of repeated
# samples) with g++ -O3 -march=native -fopenmp, then runs benchmarks/scaling.sh: every layer of
# the sweep (benchmarks/sweep_layers.hpp) at batch 1 and at its training batch, forward and
# forward+backward, at 1, 4 and 16 threads, convtape then PyTorch (torch.set_num_threads) chunk by
# chunk. Results in $OUT: convtape_*.json and pytorch_*.json (raw medians), cases.csv (the
# shapes), scaling.csv (one row per case, direction and thread count: both times, the ratio),
# report.md (the summary it also prints: per thread count the ratio distribution against PyTorch
# with its median; the cases whose time grows by more than 10% from 1 to 4 or 4 to 16 threads;
# the 16-thread / 1-thread speed-up on cases of at least 1 GFLOP) and run.log.
#
# About 4-6 minutes on 16 cores (about 1 to build, the rest measuring; not yet run there);
# MAX_SECONDS (default 240)
# stops starting new chunks of cases after that many seconds of measuring, so a slow machine
# reports on fewer cases instead of running past its lease (the report says how many were left
# out). Every other setting of benchmarks/scaling.sh passes through (THREADS, FILTER, BATCH,
# BUDGET, ROUNDS, CHUNK, CXX, PYTHON, EIGEN_DIR); for a local try on 2 cores:
#
#   mkdir -p .device && ln -s /usr/include/eigen3 .device/eigen3
#   OUT=/tmp/scaling_out THREADS=1,2 FILTER='^(lenet5_c|mbv2_b3_dw|resnet18_l2_proj)' \
#     BUDGET=0.02 benchmarks/device/scaling.sh   # 10 cases, about 3 minutes here
#
# Exit status: that of benchmarks/scaling.sh (1 when some thread count gave results different
# from the first one's, which the driver checks before timing).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the folder the results go to}"
mkdir -p "$OUT"
export OUT_DIR=$OUT
export EIGEN_DIR=${EIGEN_DIR:-$PWD/.device/eigen3}
export THREADS=${THREADS:-1,4,16}
# The first python that imports torch (python3, then Debian's /usr/bin/python3), as scaling.sh.
if [ -z "${PYTHON:-}" ]; then
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch' 2>/dev/null; then export PYTHON=$p; break; fi
  done
fi
export BUDGET=${BUDGET:-0.05}
export ROUNDS=${ROUNDS:-1}
export MAX_SECONDS=${MAX_SECONDS:-240}
export CHUNK=${CHUNK:-12}
# PyTorch's own BLAS and OpenMP threads follow torch.set_num_threads; nothing else may spin.
export OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores;" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//');" \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "compiler: $(${CXX:-g++} --version | head -1)"
  echo "torch: $(${PYTHON:-python3} -c 'import torch; print(torch.__version__, torch.get_num_threads(), "threads by default")' 2>&1 | tail -1)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "THREADS=$THREADS BUDGET=$BUDGET ROUNDS=$ROUNDS MAX_SECONDS=$MAX_SECONDS FILTER=${FILTER:-} BATCH=${BATCH:-}"
} | tee "$OUT/machine.txt"
status=0
benchmarks/scaling.sh 2>&1 | tee "$OUT/run.log" || status=${PIPESTATUS[0]}
exit "$status"
