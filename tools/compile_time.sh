#!/usr/bin/env bash
# Measures convtape's include cost: the median compile time (CPU seconds, user + system, of the
# compiler; less disturbed by other load than wall time) of each program in tools/compile_time/
# against the same program written by hand on Eigen/Dense alone, same compiler and flags:
#   corr2d    corr2d_convtape.cpp (convtape/corr2d.hpp)     vs corr2d_eigen.cpp
#   notebook  notebook_convtape.cpp (convtape/convtape.hpp)  vs notebook_eigen.cpp
#   include:H a file that only includes convtape/H              vs one that only includes Eigen/Dense
#             (the parse cost alone, for corr2d.hpp and convtape.hpp)
#   extern:P  pair P with CONVTAPE_EXTERN_TEMPLATES: the kernels compiled once, in a separate file
#             that includes convtape/instantiate.hpp (linked for the run, not timed; its own
#             compile time is printed once)
# Each program is first built, linked and run once, and the two programs of a pair must print the
# same (so they do the same work); then the two compiles of a pair alternate, RUNS times each, so
# drifting machine load hits both alike.
#
# Usage: tools/compile_time.sh [-n RUNS] [-- extra compiler flags]
#   CXX (default c++) and CXXFLAGS (default "-std=c++17 -O2") choose the compiler and flags;
#   PAIRS (default "corr2d notebook include:corr2d.hpp include:convtape.hpp extern:corr2d
#   extern:notebook") the rows.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
[ "${1:-}" = "--" ] && shift
cxx=${CXX:-c++}
read -r -a flags <<< "${CXXFLAGS:--std=c++17 -O2}"
read -r -a eigen_flags <<< "$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)"
flags+=("$@" -Iinclude "${eigen_flags[@]}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cpu_seconds() {  # cpu_seconds SOURCE: user + system seconds of one compile (object: $work/t.o)
  local TIMEFORMAT='%3U %3S' t
  t=$({ time "$cxx" "${flags[@]}" -c "$1" -o "$work/t.o" 2>/dev/null; } 2>&1)
  awk '{ printf "%.3f\n", $1 + $2 }' <<< "$t"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "compiler: $("$cxx" --version | head -1)"
echo "flags:    ${flags[*]}"
echo "runs:     ${runs} per program (median of CPU seconds)"
echo
printf '%-20s %10s %11s %7s\n' program convtape eigen-only extra
echo '#include <Eigen/Dense>' > "$work/include_eigen.cpp"
read -r -a pairs <<< \
  "${PAIRS:-corr2d notebook include:corr2d.hpp include:convtape.hpp extern:corr2d extern:notebook}"
base_flags=("${flags[@]}")
instantiations=
for pair in "${pairs[@]}"; do
  flags=("${base_flags[@]}")
  link=()
  program=${pair#extern:}
  if [ "$program" != "$pair" ]; then  # the kernels compiled once, elsewhere
    flags+=(-DCONVTAPE_EXTERN_TEMPLATES)
    if [ -z "$instantiations" ]; then
      instantiations=$work/instantiate.o
      echo '#include <convtape/instantiate.hpp>' > "$work/instantiate.cpp"
      echo "(convtape/instantiate.hpp, compiled once per program: $(cpu_seconds "$work/instantiate.cpp")s)"
      cp "$work/t.o" "$instantiations"
    fi
    link=("$instantiations")
  fi
  header=${program#include:}
  if [ "$program" != "$header" ]; then  # include-only pair
    with=$work/include_${header%.hpp}.cpp
    echo "#include <convtape/$header>" > "$with"
    without=$work/include_eigen.cpp
  else
    with=tools/compile_time/${program}_convtape.cpp
    without=tools/compile_time/${program}_eigen.cpp
    "$cxx" "${flags[@]}" "$with" "${link[@]}" -o "$work/with"
    "$cxx" "${flags[@]}" "$without" -o "$work/without"
    "$work/with" > "$work/with.out"
    "$work/without" > "$work/without.out"
    if ! cmp -s "$work/with.out" "$work/without.out"; then
      echo "compile_time: $with and $without print different results" >&2
      diff "$work/with.out" "$work/without.out" >&2 || true
      exit 1
    fi
  fi
  : > "$work/with.times"
  : > "$work/without.times"
  for ((i = 0; i < runs; ++i)); do
    cpu_seconds "$with" >> "$work/with.times"
    cpu_seconds "$without" >> "$work/without.times"
  done
  a=$(median < "$work/with.times")
  b=$(median < "$work/without.times")
  printf '%-20s %9ss %10ss %7s\n' "$pair" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.0f%%", (a / b - 1) * 100 }')"
done
