// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// The machine's limits, the denominators of "% of peak": the FMA throughput of one core (and of
// every thread) measured by a micro-kernel of 12 independent multiply-add chains on Eigen's
// widest packet, and Eigen's own GEMM at 256^3 and 1024^3.
//
// Names: machine/fma_peak/{f32,f64}/t<threads>, machine/{sgemm,dgemm}/<n>/t<threads>; counter
// GFLOPS (a multiply-add = 2 flops).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wignored-attributes"  // packet types as template arguments
#endif

constexpr int kChains = 12;  // independent chains: latency 4 x 2 FMA ports needs at least 8

/// Runs `iterations` rounds of kChains packet FMAs; returns a value that depends on all of them.
template <class S>
S fma_chains(long iterations) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<S>::type;
  constexpr int P = packet_traits<S>::size;
  Packet a[kChains];
  const Packet m = pset1<Packet>(S(0.999999));
  const Packet c = pset1<Packet>(S(1e-6));
  for (int k = 0; k < kChains; ++k) a[k] = pset1<Packet>(S(k));
  for (long i = 0; i < iterations; ++i) {
    for (int k = 0; k < kChains; ++k) a[k] = pmadd(a[k], m, c);
  }
  Packet sum = a[0];
  for (int k = 1; k < kChains; ++k) sum = padd(sum, a[k]);
  S lanes[P];
  pstoreu(lanes, sum);
  return lanes[0];
}

template <class S>
void bm_fma_peak(benchmark::State& state, int threads) {
  constexpr int P = Eigen::internal::packet_traits<S>::size;
  const long iterations = 1 << 20;
  S sink = 0;
  for (auto _ : state) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_chains<S>(iterations);
#else
    sink += fma_chains<S>(iterations);
#endif
    benchmark::DoNotOptimize(sink);
  }
  const double flops = 2.0 * kChains * P * double(iterations) * threads;
  state.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::to_string(P * 8 * int(sizeof(S))) + "-bit packets");
}

template <class S>
void bm_gemm(benchmark::State& state, int n, int threads) {
  using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  Eigen::setNbThreads(threads);
  const Matrix a = Matrix::Random(n, n);
  const Matrix b = Matrix::Random(n, n);
  Matrix c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * n * n * double(n) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  Eigen::setNbThreads(0);
}

void register_all() {
  int max_threads = 1;
#ifdef _OPENMP
  max_threads = 2;
#endif
  for (int t = 1; t <= max_threads; ++t) {
    const std::string suffix = "/t" + std::to_string(t);
    benchmark::RegisterBenchmark(("machine/fma_peak/f32" + suffix).c_str(),
                                 [t](benchmark::State& s) { bm_fma_peak<float>(s, t); })
        ->UseRealTime();
    benchmark::RegisterBenchmark(("machine/fma_peak/f64" + suffix).c_str(),
                                 [t](benchmark::State& s) { bm_fma_peak<double>(s, t); })
        ->UseRealTime();
    for (int n : {256, 1024}) {
      benchmark::RegisterBenchmark(("machine/sgemm/" + std::to_string(n) + suffix).c_str(),
                                   [n, t](benchmark::State& s) { bm_gemm<float>(s, n, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("machine/dgemm/" + std::to_string(n) + suffix).c_str(),
                                   [n, t](benchmark::State& s) { bm_gemm<double>(s, n, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
