#!/usr/bin/env bash
# Measures convtape's include cost: the median compile time (CPU seconds, user + system, of the
# compiler; less disturbed by other load than wall time) and the peak compiler memory (maximum
# resident set, MB, of the largest run) of each program in tools/compile_time/ against the same
# program written by hand on Eigen/Dense alone, same compiler and flags:
#   corr2d     corr2d_convtape.cpp (convtape/corr2d.hpp)     vs corr2d_eigen.cpp
#   notebook   notebook_convtape.cpp (convtape/convtape.hpp)  vs notebook_eigen.cpp
#   cnn        cnn_convtape.cpp (a two-layer CNN, Adam)       vs cnn_eigen.cpp
#   include:H  a file that only includes convtape/H              vs one that only includes
#              Eigen/Dense (the parse cost alone, for corr2d.hpp and convtape.hpp)
#   compiled:P pair P as a user of the convtape::compiled target builds it: with
#              CONVTAPE_EXTERN_TEMPLATES, the kernels compiled once, in a separate file that
#              includes convtape/instantiate.hpp (linked for the run, not timed; its own compile
#              time is printed once). `extern:P` is the same row.
# Each program is first built, linked and run once, and the two programs of a pair must print the
# same (so they do the same work); then the two compiles of a pair alternate, RUNS times each, so
# drifting machine load hits both alike.
#
# Usage: tools/compile_time.sh [-n RUNS] [-- extra compiler flags]
#   CXX (default c++) and CXXFLAGS (default "-std=c++17 -O2") choose the compiler and flags;
#   PAIRS (default "corr2d notebook cnn compiled:corr2d compiled:notebook compiled:cnn
#   include:corr2d.hpp include:convtape.hpp") the rows. The ratio column is convtape / Eigen.
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

# measure SOURCE: "CPU-seconds peak-MB" of one compile (object: $work/t.o), user + system time and
# the maximum resident set of the compiler (GNU time's %M, KB, of the largest child: cc1plus).
measure() {
  /usr/bin/time -f '%U %S %M' -o "$work/time.txt" "$cxx" "${flags[@]}" -c "$1" -o "$work/t.o"
  awk '{ printf "%.3f %.0f\n", $1 + $2, $3 / 1024 }' "$work/time.txt"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "compiler: $("$cxx" --version | head -1)"
echo "flags:    ${flags[*]}"
echo "runs:     ${runs} per program (median of CPU seconds; peak memory: the largest run)"
echo
printf '%-22s %9s %9s %6s %9s %9s\n' program convtape eigen ratio 'conv. MB' 'eigen MB'
echo '#include <Eigen/Dense>' > "$work/include_eigen.cpp"
read -r -a pairs <<< "${PAIRS:-corr2d notebook cnn compiled:corr2d compiled:notebook compiled:cnn \
include:corr2d.hpp include:convtape.hpp}"
base_flags=("${flags[@]}")
instantiations=
for pair in "${pairs[@]}"; do
  flags=("${base_flags[@]}")
  link=()
  program=${pair#extern:}
  program=${program#compiled:}
  if [ "$program" != "$pair" ]; then  # the kernels compiled once, elsewhere
    flags+=(-DCONVTAPE_EXTERN_TEMPLATES)
    if [ -z "$instantiations" ]; then
      instantiations=$work/instantiate.o
      echo '#include <convtape/instantiate.hpp>' > "$work/instantiate.cpp"
      echo "(convtape/instantiate.hpp, compiled once per program: $(measure "$work/instantiate.cpp" | awk '{ print $1 " s, " $2 " MB" }'))"
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
    measure "$with" >> "$work/with.times"
    measure "$without" >> "$work/without.times"
  done
  a=$(cut -d' ' -f1 "$work/with.times" | median)
  b=$(cut -d' ' -f1 "$work/without.times" | median)
  a_mb=$(cut -d' ' -f2 "$work/with.times" | sort -g | tail -n 1)
  b_mb=$(cut -d' ' -f2 "$work/without.times" | sort -g | tail -n 1)
  printf '%-22s %8ss %8ss %5s× %9s %9s\n' "$pair" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')" "$a_mb" "$b_mb"
done
