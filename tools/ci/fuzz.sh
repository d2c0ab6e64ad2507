#!/usr/bin/env bash
# Bounded libFuzzer runs (issue 6): runs the libFuzzer targets of the sanitizer build
# (tools/ci/sanitize.sh --build: clang++, ASan + UBSan, -O1, line tables; built there if it is
# not yet) on copies of tests/fuzz/corpus/NAME (seeds and every input that once crashed, replayed
# first), two jobs side by side for FUZZ_SECONDS (default 60): shapes_fuzz for all of it, and the
# file loaders npy_fuzz, npz_fuzz and idx_fuzz one after another for a third of it each (at least
# 1 s), so the stage takes as long as it did with one loader. Prints
#   fuzz: shapes N execs, npy M execs, npz K execs, idx L execs, C crashes
# Exits non-zero if a fuzzer found a crash (its input is kept in build-sanitize/fuzz-out/) or did
# not run. Needs clang (Debian's clang-14 ships libFuzzer; libclang-rt-14-dev its runtimes).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
seconds="${FUZZ_SECONDS:-60}"
build="build-sanitize"
out="${build}/fuzz-out"

tools/ci/sanitize.sh --build > "${TMPDIR:-/tmp}/convtape-fuzz-build.log" 2>&1 ||
  { tail -30 "${TMPDIR:-/tmp}/convtape-fuzz-build.log"; echo "fuzz: build failed"; exit 1; }

fuzzers=(shapes npy npz idx)
loader_seconds=$((seconds / 3 > 0 ? seconds / 3 : 1))
rm -rf "$out"
mkdir -p "$out/tmp"
for name in "${fuzzers[@]}"; do
  mkdir -p "$out/${name}-corpus"
  cp tests/fuzz/corpus/"$name"/* "$out/${name}-corpus/"
done

run() {  # run NAME SECONDS: one bounded run on its corpus copy, log in $out/NAME.log, rc in .rc
  local name=$1 rc=0
  CONVTAPE_FUZZ_TMPDIR="$out/tmp" "$build/tests/fuzz/${name}_fuzz" -max_total_time="$2" \
    -print_final_stats=1 -rss_limit_mb=2048 -timeout=30 -artifact_prefix="$out/${name}-" \
    "$out/${name}-corpus" > "$out/${name}.log" 2>&1 || rc=$?
  echo "$rc" > "$out/${name}.rc"
}
run shapes "$seconds" & shapes_pid=$!
{ run npy "$loader_seconds"; run npz "$loader_seconds"; run idx "$loader_seconds"; } & loaders_pid=$!
wait "$shapes_pid" "$loaders_pid"

execs() { sed -n 's/^stat::number_of_executed_units: *//p' "$out/$1.log" 2>/dev/null | tail -1; }
crashes=$(find "$out" -maxdepth 1 -type f \( -name '*-crash-*' -o -name '*-leak-*' -o \
  -name '*-timeout-*' -o -name '*-oom-*' \) | wc -l)
failed=0
why=  # what went wrong and the input, for the summary line itself: CI logs may keep only their end
summary=
for name in "${fuzzers[@]}"; do
  n=$(execs "$name")
  summary+="${name} ${n:-?} execs, "
  [ -n "$n" ] || failed=1
  rc=$(cat "$out/${name}.rc" 2>/dev/null || echo "did not run")
  [ "$rc" != 0 ] || continue
  failed=1
  log="$out/${name}.log"
  echo "fuzz: ${name}_fuzz exited with ${rc}; end of ${log}:"
  tail -30 "$log"
  error=$(grep -m 1 -E '^(==[0-9]+==ERROR|[a-z]+_fuzz: |SUMMARY: libFuzzer)' "$log" |
    sed -E 's/^==[0-9]+==//' | cut -c 1-160)
  input=$(sed -n 's/^Base64: //p' "$log" | head -n 1 | cut -c 1-200)
  why+="; ${name}: ${error:-see its log}${input:+, input (base64) ${input}}"
done
[ "$crashes" -eq 0 ] || failed=1
echo "fuzz: ${summary}${crashes} crashes${why}"
exit "$failed"
