#!/usr/bin/env bash
# Bounded libFuzzer runs (issue 6): builds tests/fuzz with clang++ in build-fuzz, runs shapes_fuzz
# and npy_fuzz (on copies of tests/fuzz/corpus/shapes and tests/fuzz/corpus/npy: seeds and
# every input that once crashed, replayed first) side by side for
# FUZZ_SECONDS each (default 60), and prints
#   fuzz: shapes N execs, npy M execs, K crashes
# Exits non-zero if either fuzzer found a crash (its input is kept in build-fuzz/fuzz-out/) or did
# not run. Needs clang (Debian's clang-14 ships libFuzzer).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
seconds="${FUZZ_SECONDS:-60}"
build=build-fuzz
out="${build}/fuzz-out"

CXX="${FUZZ_CXX:-clang++}" cmake -S . -B "$build" -DCONVTAPE_BUILD_FUZZERS=ON \
  -DCONVTAPE_BUILD_TESTS=OFF -DCONVTAPE_BUILD_EXAMPLES=OFF -DCONVTAPE_BUILD_DOCS=OFF \
  -DCONVTAPE_INSTALL=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONVTAPE_WERROR=ON > /dev/null &&
  cmake --build "$build" --parallel "$(nproc)" || { echo "fuzz: build failed"; exit 1; }

rm -rf "$out"
mkdir -p "$out/shapes-corpus" "$out/npy-corpus" "$out/tmp"
cp tests/fuzz/corpus/shapes/* "$out/shapes-corpus/"
cp tests/fuzz/corpus/npy/* "$out/npy-corpus/"

run() {  # run NAME CORPUS: one bounded run, log in $out/NAME.log
  local name=$1 corpus=$2
  CONVTAPE_FUZZ_TMPDIR="$out/tmp" "$build/tests/fuzz/${name}_fuzz" -max_total_time="$seconds" \
    -print_final_stats=1 -rss_limit_mb=2048 -timeout=30 -artifact_prefix="$out/${name}-" \
    "$corpus" > "$out/${name}.log" 2>&1
}
run shapes "$out/shapes-corpus" & shapes_pid=$!
run npy "$out/npy-corpus" & npy_pid=$!
shapes_rc=0 npy_rc=0
wait "$shapes_pid" || shapes_rc=$?
wait "$npy_pid" || npy_rc=$?

execs() { sed -n 's/^stat::number_of_executed_units: *//p' "$out/$1.log" | tail -1; }
shapes_execs=$(execs shapes) npy_execs=$(execs npy)
crashes=$(find "$out" -maxdepth 1 -type f \( -name '*-crash-*' -o -name '*-leak-*' -o \
  -name '*-timeout-*' -o -name '*-oom-*' \) | wc -l)
failed=0
why=  # what went wrong and the input, for the summary line itself: CI logs may keep only their end
for name in shapes npy; do
  rc_var="${name}_rc"
  [ "${!rc_var}" -ne 0 ] || continue
  failed=1
  log="$out/${name}.log"
  echo "fuzz: ${name}_fuzz exited with ${!rc_var}; end of ${log}:"
  tail -30 "$log"
  error=$(grep -m 1 -E '^(==[0-9]+==ERROR|[a-z]+_fuzz: |SUMMARY: libFuzzer)' "$log" |
    sed -E 's/^==[0-9]+==//' | cut -c 1-160)
  input=$(sed -n 's/^Base64: //p' "$log" | head -n 1 | cut -c 1-200)
  why+="; ${name}: ${error:-see its log}${input:+, input (base64) ${input}}"
done
[ "$crashes" -eq 0 ] || failed=1
[ -n "$shapes_execs" ] && [ -n "$npy_execs" ] || failed=1
echo "fuzz: shapes ${shapes_execs:-?} execs, npy ${npy_execs:-?} execs, ${crashes} crashes${why}"
exit "$failed"
