#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
#
# Runs the conv2d layer sweep (benchmarks/conv2d_sweep.cpp) beside PyTorch (Debian python3-torch)
# on the same cases, chunk by chunk and round by round, convtape then PyTorch on each chunk, so
# that the drift of a shared machine hits both alike; then prints a markdown report of the ratio
# distribution (benchmarks/peers/report_sweep.py) and writes the merged per-case results, with
# the cost-model features, as sweep.csv and sweep.json.
#
#   benchmarks/compare_sweep.sh                      # every listed layer, 3 rounds (~1 h)
#   QUICK=1 benchmarks/compare_sweep.sh              # 1 round, short samples (~20 min)
#   FILTER=depthwise benchmarks/compare_sweep.sh     # only cases whose line matches (see below)
#   BATCH=1 THREADS=1 FILTER='^resnet50_' QUICK=1 benchmarks/compare_sweep.sh
#   RANDOM_LAYERS=40 SEED=3 benchmarks/compare_sweep.sh   # 40 unseen generated layers instead
#
# FILTER is an extended regex matched against each case's `case,layer,network,tags` (for example
# "depthwise", "pointwise", "few_channel", "^vgg16_", "MobileNetV2"; `conv2d_sweep --sweep_list`
# prints them all); BATCH=1 or BATCH=train keeps one of the two batches; THREADS=1 or 2 (default
# both); CHUNK layers are measured per turn (default 8); ROUNDS (default 3), BUILD_DIR (default
# build-peers/), RESULTS_DIR (default BUILD_DIR/sweep-results).
#
# PyTorch's BLAS: Debian's python3-torch calls libblas.so.3 for the convolutions oneDNN does not
# take (1×1 layers below a batch of 16 at one thread, among others), and that is the reference
# BLAS unless OpenBLAS is installed (libopenblas0-pthread switches the alternative). The report
# names the BLAS PyTorch loaded. PEER_BLAS=DIR puts DIR (holding a libblas.so.3, e.g.
# /usr/lib/x86_64-linux-gnu/openblas-pthread) first on PyTorch's LD_LIBRARY_PATH without touching
# the system; OPENBLAS_NUM_THREADS=1 either way, as PyTorch runs its own threads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-peers}
results=${RESULTS_DIR:-$build/sweep-results}
rounds=${ROUNDS:-3}
chunk=${CHUNK:-8}
threads=${THREADS:-1,2}
min_time=0.1
reps=3
budget=0.3  # PyTorch: seconds of samples per case and round
if [ -n "${QUICK:-}" ]; then rounds=1; min_time=0.02; budget=0.1; fi
py=/usr/bin/python3  # Debian's python: PyTorch lives there
# Idle OpenMP threads sleep instead of spinning, for convtape and PyTorch alike (see
# compare_peers.sh). Override by setting it yourself.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
peers="$root/benchmarks/peers"
# shellcheck source-path=SCRIPTDIR source=peers/machine.sh
. "$peers/machine.sh"
log() { echo "[$(date +%T)] $*" >&2; }

log "configure and build conv2d_sweep ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCONVTAPE_BUILD_BENCHMARKS=ON \
  -DCONVTAPE_BUILD_TESTS=OFF -DCONVTAPE_BUILD_EXAMPLES=OFF -DCONVTAPE_BENCHMARKS_OPENMP=ON >/dev/null
cmake --build "$build" --target conv2d_sweep --parallel "$(nproc)" >/dev/null
sweep_bin="$build/benchmarks/conv2d_sweep"
mkdir -p "$results"
rm -f "$results"/*.json "$results"/*.csv "$results"/report.md

sweep_args=()
[ -n "${RANDOM_LAYERS:-}" ] && sweep_args=(--sweep_random="$RANDOM_LAYERS" --sweep_seed="${SEED:-1}")
# The case list, from the benchmark itself (the single source of truth), filtered.
"$sweep_bin" "${sweep_args[@]+"${sweep_args[@]}"}" --sweep_list > "$results/all_cases.csv"
$py - "$results/all_cases.csv" "$results/cases.csv" "${FILTER:-}" "${BATCH:-}" <<'EOF'
import csv, re, sys
src, dst, pattern, batch = sys.argv[1:5]
with open(src, newline="") as f:
    rows = list(csv.DictReader(f))
keep = [r for r in rows
        if (not pattern or re.search(pattern, ",".join((r["case"], r["layer"], r["network"], r["tags"]))))
        and (batch != "1" or r["batch"] == "1") and (batch != "train" or r["batch"] != "1")]
with open(dst, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(keep)
EOF
mapfile -t layers < <(tail -n +2 "$results/cases.csv" | cut -d, -f2 | uniq)
ncases=$(($(wc -l < "$results/cases.csv") - 1))
[ "$ncases" -gt 0 ] || { echo "compare_sweep.sh: no case matches FILTER='${FILTER:-}' BATCH='${BATCH:-}'" >&2; exit 1; }

peer_env=(env OPENBLAS_NUM_THREADS=1)
[ -n "${PEER_BLAS:-}" ] && peer_env+=(LD_LIBRARY_PATH="$PEER_BLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
have_torch=no
torch_version=$("${peer_env[@]}" $py -c 'import torch; print(torch.__version__)' 2>/dev/null) && have_torch=yes
peer_turn=", then PyTorch"
[ $have_torch = yes ] || { peer_turn=" (PyTorch not installed: apt-get install python3-torch)"; }
# Built with OpenMP, the benchmark registers 2-thread cases (grep -c reads the whole list: an early
# exit would give the benchmark a SIGPIPE, which pipefail reports).
openmp=no
[ "$("$sweep_bin" --benchmark_list_tests=true | grep -Ec '/t2(/|$)')" -gt 0 ] && openmp=yes
thread_re=${threads//,/|}

log "$ncases cases of ${#layers[@]} layers, $rounds round(s), chunks of $chunk layers, threads $threads"
start=$SECONDS
for r in $(seq 1 "$rounds"); do
  for ((i = 0; i < ${#layers[@]}; i += chunk)); do
    part=("${layers[@]:i:chunk}")
    ids=$(IFS='|'; echo "${part[*]}")
    names=$(tail -n +2 "$results/cases.csv" | cut -d, -f1,2 | grep -E ",(${ids})$" | cut -d, -f1 | paste -sd,)
    tag="r${r}_c$((i / chunk))"
    log "round $r/$rounds, layers $((i + 1))-$((i + ${#part[@]}))/${#layers[@]}: convtape$peer_turn"
    load_sample
    "$sweep_bin" "${sweep_args[@]+"${sweep_args[@]}"}" \
      --benchmark_filter="^sweep_(fwd|fwdbwd)/convtape/(${names//,/|})/t(${thread_re})(/|$)" \
      --benchmark_min_time=$min_time --benchmark_repetitions=$reps \
      --benchmark_report_aggregates_only=true --benchmark_format=json \
      --benchmark_out="$results/convtape_$tag.json" --benchmark_out_format=json >/dev/null
    if [ $have_torch = yes ]; then
      (cd "$peers" && "${peer_env[@]}" $py sweep_torch.py --cases "$results/cases.csv" --names "$names" \
        --threads "$threads" --rounds 1 --budget $budget --out "$results/pytorch_$tag.json")
    fi
  done
done
load_sample

filter_json=${FILTER:-}
filter_json=${filter_json//\\/\\\\}
filter_json=${filter_json//\"/\\\"}
machine_meta "$results/meta.json" "\"openmp\": \"$openmp\", \"peer\": \"PyTorch ${torch_version:-not installed}\",
 \"rounds\": \"$rounds\", \"quick\": \"${QUICK:-}\", \"wait_policy\": \"$OMP_WAIT_POLICY\",
 \"filter\": \"$filter_json\", \"batch\": \"${BATCH:-}\", \"threads\": \"$threads\",
 \"layers\": \"${RANDOM_LAYERS:+random $RANDOM_LAYERS, seed ${SEED:-1}}\",
 \"minutes\": \"$(((SECONDS - start + 30) / 60))\""
$py "$peers/report_sweep.py" "$results" | tee "$results/report.md"
log "report.md, sweep.csv, sweep.json and the raw JSON in $results"
