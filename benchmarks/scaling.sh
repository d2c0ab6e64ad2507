#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
#
# Thread scaling of conv2d on the layer sweep, convtape beside PyTorch, for a many-core machine
# that has a compiler and Eigen's headers but neither CMake packages nor Google Benchmark: builds
# benchmarks/sweep_scaling.cpp with one compiler command, runs the sweep's cases at each thread
# count (convtape, then PyTorch, chunk by chunk, so that drift hits both alike), and prints one
# compact report (benchmarks/peers/report_scaling.py): the ratio distribution at every thread
# count, every case whose time grows with the thread count, and the speed-up of the largest
# thread count over one thread on the large cases.
#
#   EIGEN_DIR=/path/to/eigen3 benchmarks/scaling.sh                 # threads 1,4,16 (~5 min at 16 cores)
#   THREADS=1,2 benchmarks/scaling.sh                               # a 2-core machine
#   FILTER=depthwise BATCH=1 THREADS=1,2 benchmarks/scaling.sh      # a subset
#
# EIGEN_DIR: the directory holding Eigen/ (default /usr/include/eigen3); CXX (default g++);
# PYTHON (default: the first of python3, /usr/bin/python3 that imports torch; the peer is
# skipped without torch); THREADS (default
# 1,4,16); FILTER (regex on "case,layer,network,tags"), BATCH (1 or train), RANDOM_LAYERS=N with
# SEED (generated layers instead of the table); ROUNDS (default 1), BUDGET (seconds of samples
# per task and round, default 0.1), CHUNK (cases per turn, default 24); OUT_DIR (default
# /tmp/convtape-scaling); MAX_SECONDS (no new chunk starts after this many seconds of measuring;
# the report then covers the chunks measured and says how many cases were left out). The binary also checks that every thread count gives the results of
# the first (exit 1 otherwise, after the report).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT_DIR:-/tmp/convtape-scaling}
threads=${THREADS:-1,4,16}
eigen=${EIGEN_DIR:-/usr/include/eigen3}
cxx=${CXX:-g++}
py=${PYTHON:-}
if [ -z "$py" ]; then  # the first python that has torch (Debian's lives in /usr/bin)
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch' 2>/dev/null; then py=$p; break; fi
  done
  py=${py:-python3}
fi
rounds=${ROUNDS:-1}
budget=${BUDGET:-0.1}
chunk=${CHUNK:-24}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
log() { echo "[$(date +%T)] $*" >&2; }
[ -f "$eigen/Eigen/Core" ] || { echo "scaling.sh: no Eigen/Core under EIGEN_DIR=$eigen" >&2; exit 2; }
mkdir -p "$out"
rm -f "$out"/*.json "$out"/cases.csv

bin="$out/sweep_scaling"
log "build $bin ($cxx, Eigen from $eigen)"
"$cxx" -std=c++17 -O3 -march=native -fopenmp -DNDEBUG -I"$root/include" -I"$eigen" \
  -I"$root/benchmarks" "$root/benchmarks/sweep_scaling.cpp" -o "$bin"

sel=()
[ -n "${FILTER:-}" ] && sel+=(--filter="$FILTER")
[ -n "${BATCH:-}" ] && sel+=(--batch="$BATCH")
[ -n "${RANDOM_LAYERS:-}" ] && sel+=(--random="$RANDOM_LAYERS" --seed="${SEED:-1}")
"$bin" "${sel[@]+"${sel[@]}"}" --list > "$out/cases.csv"
mapfile -t names < <(tail -n +2 "$out/cases.csv" | cut -d, -f1)
[ ${#names[@]} -gt 0 ] || { echo "scaling.sh: no case selected" >&2; exit 1; }
have_torch=yes
torch_version=$($py -c 'import torch; print(torch.__version__)' 2>/dev/null) || have_torch=no
log "${#names[@]} cases, threads $threads, $rounds round(s); PyTorch ${torch_version:-not installed}"
log "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1 /proc/loadavg)"

status=0
start=$SECONDS
left_out=0
for r in $(seq 1 "$rounds"); do
  for ((i = 0; i < ${#names[@]}; i += chunk)); do
    if [ -n "${MAX_SECONDS:-}" ] && [ $((SECONDS - start)) -ge "$MAX_SECONDS" ]; then
      left_out=$((${#names[@]} - i))
      log "MAX_SECONDS=$MAX_SECONDS reached: round $r leaves out the last $left_out cases"
      break 2
    fi
    part=("${names[@]:i:chunk}")
    list=$(IFS=,; echo "${part[*]}")
    regex=$(printf '%s\n' "${part[@]}" | sed 's/[.]/\\./g' | paste -sd'|')
    log "round $r, cases $((i + 1))-$((i + ${#part[@]}))/${#names[@]}"
    "$bin" "${sel[@]+"${sel[@]}"}" --filter="^($regex)," --threads="$threads" --rounds=1 \
      --budget="$budget" --out="$out/convtape_r${r}_$i.json" || status=1
    if [ $have_torch = yes ]; then
      (cd "$root/benchmarks/peers" && $py sweep_torch.py --cases "$out/cases.csv" --names "$list" \
        --threads "$threads" --rounds 1 --budget "$budget" --out "$out/pytorch_r${r}_$i.json")
    fi
  done
done
log "measured in $((SECONDS - start)) s"
[ "$left_out" -eq 0 ] || echo "scaling.sh: stopped by MAX_SECONDS; $left_out of ${#names[@]} cases not measured in the last round" >&2
$py "$root/benchmarks/peers/report_scaling.py" "$out" | tee "$out/report.md"
[ $status -eq 0 ] || echo "scaling.sh: some cases gave different results at different thread counts (see above)" >&2
exit $status
