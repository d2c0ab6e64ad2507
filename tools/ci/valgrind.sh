#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
#
# The examples, an error path and part of the unit tests under valgrind memcheck: every run must
# have zero errors and zero definitely-lost bytes.
# Usage: tools/ci/valgrind.sh [BUILD_DIR]   (from anywhere; default <repo>/build-valgrind)
#   Reuses BUILD_DIR's binaries when they are built (CI passes the README build, which has no
#   -march flags), else configures and builds them there.
# Needs: valgrind. Built with g++ -O2 and no -march flags: valgrind cannot run AVX-512 code.
# Prints `valgrind: K programs, E errors, B definitely lost bytes`; exits non-zero if any run
# failed, had an error or leaked.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build-valgrind}"
jobs="$(nproc)"
logs="${build}/valgrind-logs"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "${build}/examples/edge_detection" ] || [ ! -x "${build}/examples/learn_kernel" ] ||
  [ ! -x "${build}/examples/learn_sobel" ] || [ ! -x "${build}/tests/convtape_tests" ]; then
  CXX=g++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -g" \
    -DCONVTAPE_BUILD_DOCS=OFF
  cmake --build "$build" --parallel "$jobs" --target edge_detection learn_kernel learn_sobel \
    convtape_tests
fi

rm -rf "$logs"
mkdir -p "$logs"
programs=0
errors=0
lost=0
failed=0
# vg NAME EXPECT COMMAND...: runs COMMAND under memcheck; EXPECT is `ok` (must exit 0) or `fail`
# (must exit non-zero, e.g. an error path, but not with memcheck's status 99).
vg() {
  local name=$1 expect=$2 rc=0 start=$SECONDS e b
  shift 2
  valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --log-file="${logs}/${name}.log" "$@" \
    > "${logs}/${name}.out" 2>&1 || rc=$?
  programs=$((programs + 1))
  e=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "${logs}/${name}.log" | tr -d , | tail -1)
  b=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "${logs}/${name}.log" | tr -d , | tail -1)
  errors=$((errors + ${e:-0}))
  lost=$((lost + ${b:-0}))
  local verdict=ok
  if [ -z "$e" ]; then
    verdict="no valgrind summary"
  elif [ "$rc" -eq 99 ] || [ "${e}" -ne 0 ] || [ "${b:-0}" -ne 0 ]; then
    verdict="memcheck errors"
  elif [ "$expect" = ok ] && [ "$rc" -ne 0 ]; then
    verdict="exit status ${rc}"
  elif [ "$expect" = fail ] && [ "$rc" -eq 0 ]; then
    verdict="exit status 0, expected a failure"
  fi
  printf 'valgrind: %-28s %3d s, exit %d, %s errors, %s bytes definitely lost: %s\n' \
    "$name" $((SECONDS - start)) "$rc" "${e:-?}" "${b:-0}" "$verdict"
  if [ "$verdict" != ok ]; then
    failed=1
    echo "--- ${logs}/${name}.out:"
    tail -20 "${logs}/${name}.out"
    echo "--- ${logs}/${name}.log:"
    cat "${logs}/${name}.log"
  fi
}

vg edge_detection ok "${build}/examples/edge_detection" --out "${tmp}/edges"
vg edge_detection.missing_file fail "${build}/examples/edge_detection" "${tmp}/no_such_picture.png" \
  --out "${tmp}/edges"
vg learn_kernel.book ok "${build}/examples/learn_kernel" --book
vg learn_sobel ok "${build}/examples/learn_sobel" --svg "${tmp}/loss.svg"
vg tests.tape ok "${build}/tests/convtape_tests" "[tape]"
vg tests.nn ok "${build}/tests/convtape_tests" "[nn]"

echo "valgrind: ${programs} programs, ${errors} errors, ${lost} definitely lost bytes"
[ "$failed" -eq 0 ]
