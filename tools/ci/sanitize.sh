#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
#
# The test suite (examples included) built with clang++, C++20, -Werror and AddressSanitizer +
# UndefinedBehaviorSanitizer, with Eigen's assertions on (no NDEBUG) and libstdc++'s
# (-D_GLIBCXX_ASSERTIONS); any sanitizer report fails the run. The consumer tests (label
# `consumer`: an outside project built through find_package, add_subdirectory, FetchContent and
# pkg-config) are left out: they test the packaging, which the README stage's unsanitized run
# covers, and the code they run is the suite's; under ASan consumer.install alone took 116 s of
# CI's 2 cores (it builds and installs the compiled library once more). The compiled library is
# built (its two files instantiate what the suite's own tests/support/instantiate.cpp does, about
# 3 CPU-minutes under ASan) because learn_kernel, learn_sobel and the docs' snippets link it:
# header-only, each compiled the kernels itself, 2.5 CPU-minutes apiece. Also left out,
# as repeats of what runs sanitized anyway: the OpenMP [threads] tests' registrations with teams
# of 1 and 2 (the suite forces those cuts itself, and the OpenMP runs with 3 and 8 threads keep
# real concurrency under ASan) and example.lenet.modern (example.lenet.resume.modern trains the
# same network with the same operations, and saves and resumes); 28 s each and 3-21 s each under
# ASan on CI's machine.
# The libFuzzer targets (tests/fuzz) are built in the same configuration, so that CI compiles the
# kernels under ASan once, not twice: tools/ci/fuzz.sh runs them from this build (a separate -O2
# fuzzer build took about 165 s of CI's 2 cores, these add about 50 s here; at -O1 with the
# assertions on, shapes_fuzz ran 40 k and 90 k inputs in its 60 s in two runs, against 77 k at
# -O2 before: the count swings with the machine's load more than with the build).
# Usage: tools/ci/sanitize.sh            (from anywhere; builds in <repo>/build-sanitize)
#        tools/ci/sanitize.sh --build    (configures and builds only; what fuzz.sh calls)
# Needs: clang, libclang-rt-14-dev (the sanitizer runtimes; only a Recommends of clang-14), and
# optionally llvm-14 (llvm-symbolizer, for symbolized stack traces) and libomp-14-dev (the
# OpenMP variant of the fast-path tests).
# Prints `sanitize: N tests, R sanitizer reports`; exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="build-sanitize"
jobs="$(nproc)"
log="${build}/sanitize-ctest.log"
reports="${build}/sanitizer-reports"

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# Through the environment as well as the cache, so that a consumer test run by hand from this
# build (ctest -L consumer) configures its project sanitized too: CMake seeds a new project's
# flags from CXXFLAGS and LDFLAGS.
export CXXFLAGS="${sanitize} -D_GLIBCXX_ASSERTIONS"
export LDFLAGS="${sanitize}"
# A Debug build with -O1: unoptimized Eigen is too slow to run the suite, and Debug keeps NDEBUG
# off (tests/CMakeLists.txt also undefines it for the test binaries). Line tables are all the
# reports' stack traces need (function, file and line, inlined frames too); full -g made the
# kernels' instantiation file compile 1.4x as long (118 s against 85 s, 1.4 GB against 1.1 GB).
CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
  -DCMAKE_CXX_STANDARD=20 -DCMAKE_CXX_EXTENSIONS=OFF -DCONVTAPE_WERROR=ON \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
  -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS" -DCONVTAPE_BUILD_DOCS=OFF -DCONVTAPE_COMPILED=ON \
  -DCONVTAPE_BUILD_FUZZERS=ON
cmake --build "$build" --parallel "$jobs"
[ "${1:-}" = --build ] && exit 0

# libomp 14's own leaks are suppressed (tools/ci/lsan.supp says which and why).
# Every report aborts its process (so the test fails) and is also written to a file of its own,
# so that a report from a test that expects a non-zero exit (an example's error path) still
# counts.
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:log_path=${PWD}/${reports}/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=${PWD}/${reports}/ubsan"
export LSAN_OPTIONS="suppressions=${PWD}/tools/ci/lsan.supp:print_suppressions=0:log_path=${PWD}/${reports}/lsan"
symbolizer="$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)"
[ -z "$symbolizer" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] &&
  symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"

rc=0
ctest --test-dir "$build" --output-on-failure --parallel "$jobs" --label-exclude consumer \
  --exclude-regex '^(openmp t[12]:.*|example\.lenet\.modern)$' --output-log "$log" || rc=$?

# Reports written to files, echoed into the log so that both count them.
for f in "$reports"/*; do
  [ -e "$f" ] || continue
  echo "=== sanitizer report ${f}:" | tee -a "$log"
  tee -a "$log" < "$f"
done
count=$(grep -c -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$log" || true)
tests=$(grep -o -E '[0-9]+ tests failed out of [0-9]+' "$log" | tail -1 | awk '{print $NF}')
echo "sanitize: ${tests:-?} tests, ${count} sanitizer reports"
[ "$rc" -eq 0 ] && [ "$count" -eq 0 ]
