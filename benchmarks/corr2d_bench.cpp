// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors

// Single-plane valid cross-correlation: convtape's corr2d (float and double) beside the textbook
// loop (`reference::corr2d`, the notebook's function) and, in the corr2d_peers_bench build,
// OpenCV's filter2D, on the cases of the performance issue. One thread.
//
// Names: corr2d/<impl>/<type>/<H>x<W>/k<kh>x<kw>, impl = convtape | convtape_out | textbook |
// opencv_filter2d, type = f32 | f64. `convtape` is `Y = corr2d(X, K)`, a new result per call (as
// the textbook loop); `convtape_out` is `corr2d_out(Y, X, K)` into a result reused across calls
// (as OpenCV's filter2D into its dst is measured): the difference is the cost of a fresh result,
// mostly page faults once it is too large for malloc to recycle (above 32 MiB with glibc).
// Counters: GFLOPS (2 * out_rows * out_cols * kh * kw flops per call, the valid region, also for
// OpenCV's same-size output) and items_per_second (valid output samples). Rates are per CPU
// second (Google Benchmark's default): every case runs on one thread, and on a shared machine CPU
// time leaves out the time the process waited for a core. (glibc's MALLOC_MMAP_THRESHOLD_ and
// MALLOC_TRIM_THRESHOLD_ raised above the result size make `convtape` match `convtape_out`.)
//
// Run, e.g.:
//   build/benchmarks/corr2d_peers_bench --benchmark_repetitions=5
//     --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
// and add --benchmark_filter=-/4096x to skip the 4096x4096 cases.

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "convtape/corr2d.hpp"
#include "convtape/reference.hpp"

#ifdef CONVTAPE_BENCH_OPENCV
#include "peers/opencv_corr2d.hpp"
#endif

namespace {

using convtape::Index;

struct Case {
  Index rows, cols, kernel_rows, kernel_cols;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {6, 8, 1, 2},                                                  // the notebook
      {256, 256, 3, 3},     {256, 256, 7, 7},   {256, 256, 15, 15},  //
      {1024, 1024, 1, 2},   {1024, 1024, 3, 3}, {1024, 1024, 7, 7},  //
      {1024, 1024, 15, 15}, {4096, 4096, 3, 3}, {4096, 4096, 7, 7},  //
      {4096, 4096, 15, 15},
  };
  return all;
}

/// Uniform [-1, 1] data, fixed seed; the notebook's edge image and [1, -1] for the 6x8 case.
template <class S>
void make_data(const Case& c, convtape::MatrixX<S>& x, convtape::MatrixX<S>& k) {
  x.resize(c.rows, c.cols);
  k.resize(c.kernel_rows, c.kernel_cols);
  if (c.rows == 6 && c.cols == 8) {
    x.setOnes();
    x.middleCols(2, 4).setZero();
    k << S(1), S(-1);
    return;
  }
  std::mt19937 gen(42 + unsigned(c.rows + 7 * c.kernel_rows + c.kernel_cols));
  std::uniform_real_distribution<S> u(S(-1), S(1));
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = u(gen);
  for (Index i = 0; i < k.size(); ++i) k.data()[i] = u(gen);
}

std::string name(const char* impl, const char* type, const Case& c) {
  return std::string("corr2d/") + impl + "/" + type + "/" + std::to_string(c.rows) + "x" +
         std::to_string(c.cols) + "/k" + std::to_string(c.kernel_rows) + "x" +
         std::to_string(c.kernel_cols);
}

void set_counters(benchmark::State& state, const Case& c) {
  const double out = double(c.rows - c.kernel_rows + 1) * double(c.cols - c.kernel_cols + 1);
  const double flops = 2.0 * out * double(c.kernel_rows * c.kernel_cols);
  state.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * int64_t(out));
}

template <class S>
void bench_convtape(benchmark::State& state, Case c) {
  convtape::MatrixX<S> x, k;
  make_data(c, x, k);
  for (auto _ : state) {
    convtape::MatrixX<S> y = convtape::corr2d(x, k);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

template <class S>
void bench_convtape_out(benchmark::State& state, Case c) {
  convtape::MatrixX<S> x, k, y;
  make_data(c, x, k);
  for (auto _ : state) {
    convtape::corr2d_out(y, x, k);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

void bench_textbook(benchmark::State& state, Case c) {
  convtape::MatrixX<float> x, k;
  make_data(c, x, k);
  for (auto _ : state) {
    convtape::MatrixX<float> y = convtape::reference::corr2d(x, k);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

/// Each case's implementations are registered side by side, so that a plain run measures them
/// close together in time; random interleaving mixes them further.
int register_all() {
  for (const Case& c : cases()) {
    benchmark::RegisterBenchmark(name("convtape", "f32", c).c_str(), bench_convtape<float>, c)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(name("convtape", "f64", c).c_str(), bench_convtape<double>, c)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(name("convtape_out", "f32", c).c_str(), bench_convtape_out<float>,
                                 c)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(name("textbook", "f32", c).c_str(), bench_textbook, c)
        ->Unit(benchmark::kMicrosecond);
#ifdef CONVTAPE_BENCH_OPENCV
    benchmark::RegisterBenchmark(name("opencv_filter2d", "f32", c).c_str(),
                                 [c](benchmark::State& state) {
                                   convtape::MatrixX<float> x, k;
                                   make_data(c, x, k);
                                   convtape_peers::bench_opencv_filter2d(state, x, k);
                                   set_counters(state, c);
                                 })
        ->Unit(benchmark::kMicrosecond);
#endif
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
