#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
#
# Builds convtape's benchmarks and runs them beside PyTorch (Debian python3-torch) and OpenCV (the
# corr2d OpenCV benchmark target, built when libopencv-dev is installed), interleaved case by case
# over several rounds so that the drift of a shared machine hits everyone alike, then prints ONE
# markdown table of medians and ratios (benchmarks/peers/report.py). Peers that are not installed
# are skipped.
#
#   benchmarks/compare_peers.sh                 # 3 rounds, build in build-peers/
#   ROUNDS=5 BUILD_DIR=/tmp/b RESULTS_DIR=/tmp/r benchmarks/compare_peers.sh
#   QUICK=1 benchmarks/compare_peers.sh         # 1 round, short samples, no 4096² corr2d
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-peers}
results=${RESULTS_DIR:-$build/peer-results}
rounds=${ROUNDS:-3}
min_time=0.3
reps=3
sizes=1024,4096
if [ -n "${QUICK:-}" ]; then rounds=1; min_time=0.1; reps=1; sizes=1024; fi
py=/usr/bin/python3  # Debian's python: PyTorch lives there
# Idle OpenMP threads sleep instead of spinning, for convtape and PyTorch alike: on a shared,
# oversubscribed machine a spinning worker that loses its core stalls every fork-join by a whole
# scheduler time slice. Override by setting it yourself.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
peers="$root/benchmarks/peers"
# shellcheck source-path=SCRIPTDIR source=peers/machine.sh
. "$peers/machine.sh"
log() { echo "[$(date +%T)] $*" >&2; }

log "configure and build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCONVTAPE_BUILD_BENCHMARKS=ON \
  -DCONVTAPE_BUILD_TESTS=OFF -DCONVTAPE_BUILD_EXAMPLES=OFF -DCONVTAPE_BENCHMARKS_OPENMP=ON >/dev/null
cmake --build "$build" --parallel "$(nproc)" >/dev/null
bench="$build/benchmarks"
mkdir -p "$results"
rm -f "$results"/*.json "$results"/table.md

# Which peers are there?
have_torch=no
torch_version=$($py -c 'import torch; print(torch.__version__)' 2>/dev/null) && have_torch=yes
corr2d_bins=()
for b in "$bench"/corr2d*; do [ -x "$b" ] && [ -f "$b" ] && corr2d_bins+=("$b"); done
opencv="none"
for b in "${corr2d_bins[@]+"${corr2d_bins[@]}"}"; do
  if "$b" --benchmark_list_tests=true 2>/dev/null | grep -q opencv; then opencv="$(basename "$b")"; fi
done
peer_list="PyTorch ${torch_version:-not installed (apt-get install python3-torch)}"
peer_list+="; OpenCV filter2D: $([ "$opencv" = none ] && echo "not built (needs libopencv-dev)" || echo "via $opencv")"
[ ${#corr2d_bins[@]} -eq 0 ] && peer_list+="; no corr2d benchmark built"
# Built with OpenMP, the benchmarks register their 2-thread cases.
openmp=$("$bench/conv2d_bench" --benchmark_list_tests=true | grep -Eq '/t2(/|$)' && echo yes || echo no)

gbench() {  # binary, filter, output file
  "$1" --benchmark_filter="$2" --benchmark_min_time=$min_time --benchmark_repetitions=$reps \
    --benchmark_report_aggregates_only=true --benchmark_format=json --benchmark_out="$3" \
    --benchmark_out_format=json >/dev/null
}

for r in $(seq 1 "$rounds"); do
  log "round $r/$rounds: machine limits"
  load_sample
  gbench "$bench/machine_bench" 'fma_peak/f32|sgemm/1024' "$results/machine_r$r.json"
  for layer in A B C D; do
    log "round $r/$rounds: conv2d layer $layer (convtape, then PyTorch)"
    load_sample
    gbench "$bench/conv2d_bench" "/$layer/" "$results/conv_${layer}_r$r.json"
    if [ $have_torch = yes ]; then
      (cd "$peers" && $py conv_torch.py --layers "$layer" --rounds 3 --out "$results/torch_conv_${layer}_r$r.json")
    fi
  done
  for b in "${corr2d_bins[@]+"${corr2d_bins[@]}"}"; do
    log "round $r/$rounds: $(basename "$b")"
    load_sample
    filter='.'
    [ "$sizes" = 1024 ] && filter='/1024x1024/'
    gbench "$b" "$filter" "$results/$(basename "$b")_r$r.json"
  done
  log "round $r/$rounds: the notebook's training loop (convtape, then PyTorch)"
  load_sample
  gbench "$bench/train_bench" '.' "$results/train_r$r.json"
  if [ $have_torch = yes ]; then
    (cd "$peers" && $py train_torch.py --rounds 3 --out "$results/torch_train_r$r.json")
  fi
  if [ $have_torch = yes ] && [ ${#corr2d_bins[@]} -gt 0 ]; then
    log "round $r/$rounds: PyTorch corr2d"
    (cd "$peers" && $py corr2d_torch.py --sizes "$sizes" --rounds 3 --out "$results/torch_corr2d_r$r.json")
  fi
done
load_sample

machine_meta "$results/meta.json" "\"openmp\": \"$openmp\", \"peers\": \"$peer_list\",
 \"rounds\": \"$rounds\", \"wait_policy\": \"$OMP_WAIT_POLICY\""
$py "$peers/report.py" "$results" | tee "$results/table.md"
log "raw results and table.md in $results"
