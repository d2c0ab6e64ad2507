// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// conv2d over a sweep of layer shapes from real networks (benchmarks/sweep_layers.hpp), float32,
// NCHW, through the public API only (`conv2d`, `conv2d_backward`, `Tensor`):
//
//   sweep_fwd/convtape/<layer>/n<batch>/t<threads>      conv2d with bias
//   sweep_fwdbwd/convtape/<layer>/n<batch>/t<threads>   conv2d, then conv2d_backward (weight and
//                                                       bias gradients, and the input gradient
//                                                       unless the layer is a network's first)
//
// Every layer runs at batch 1 and at its training batch (sweep::train_batch), at 1 thread and,
// built with OpenMP, 2. Counters: GFLOPS with conv2d_bench's convention (forward
// 2·N·C_out·H_out·W_out·C_in/groups·kh·kw; forward+backward three times that, twice for a first
// layer), images/s as items. Wall-clock time.
//
// Before timing, each case checks its own result once per process against the textbook sums in
// double (every element of a case up to kFullCheckFlops, kSamples elements of larger ones, the
// first and last always): a wrong answer fails the case with an error and the program exits 1.
//
// Flags of this program (the rest go to Google Benchmark):
//   --sweep_list            print the cases as CSV (shape and cost-model features) and exit
//   --sweep_random=N        N generated layers (sweep::random_layers) instead of the table
//   --sweep_seed=S          seed of --sweep_random (default 1)
//   --sweep_max_gflop=X     only cases whose forward is at most X GFLOP (quick smoke runs)
// benchmarks/compare_sweep.sh runs it beside PyTorch and reports the ratios.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "convtape/conv2d.hpp"
#include "sweep_layers.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using convtape::Conv2dOptions;
using convtape::Index;
using convtape::Tensor;
using convtape::VectorX;
using sweep::Case;
using sweep::Layer;

/// Inputs of one case, uniform in [-1, 1], from a fixed seed.
struct Data {
  Tensor<float> x, weight, grad_out;
  VectorX<float> bias;

  explicit Data(const Case& c) {
    const Layer& l = c.layer;
    sweep::Rng rng(7);
    auto next = [&rng] { return float(2.0 * rng.unit() - 1.0); };
    x = Tensor<float>(c.batch, l.c_in, l.rows, l.cols);
    weight = Tensor<float>(l.c_out, l.in_per_group(), l.kernel_rows, l.kernel_cols);
    grad_out = Tensor<float>(c.batch, l.c_out, l.out_rows(), l.out_cols());
    bias = VectorX<float>::NullaryExpr(l.c_out, next);
    for (Tensor<float>* t : {&x, &weight, &grad_out}) {
      std::generate(t->data(), t->data() + t->size(), next);
    }
  }
};

// ---- the self-check: textbook sums in double, each with its scale Σ|term| ----

/// Cases whose forward is at most this are checked on every element; larger ones on samples.
constexpr double kFullCheckFlops = 2e7;
constexpr int kSamples = 64;
/// A float32 result may differ from the double sum by this fraction of Σ|term| (summation order,
/// Winograd's transforms); a missing or misplaced term breaks it by far.
constexpr double kTolerance = 1e-5;

struct Sum {
  double value = 0, scale = 0;
  void add(double a, double b) {
    value += a * b;
    scale += std::abs(a * b);
  }
};

/// y(n, o, i, j) = bias[o] + Σ_{ci, a, b} x(n, group·cg + ci, i·s + a·d − p, j·s + b·d − p) w(o,
/// ci, a, b)
Sum forward_at(const Layer& l, const Data& d, Index n, Index o, Index i, Index j) {
  const Index cg = l.in_per_group(), group = o / (l.c_out / l.groups);
  Sum s;
  s.add(d.bias[o], 1.0);
  for (Index ci = 0; ci < cg; ++ci) {
    for (Index a = 0; a < l.kernel_rows; ++a) {
      for (Index b = 0; b < l.kernel_cols; ++b) {
        const Index r = i * l.stride + a * l.dilation - l.pad_rows;
        const Index c = j * l.stride + b * l.dilation - l.pad_cols;
        if (r < 0 || r >= l.rows || c < 0 || c >= l.cols) continue;
        s.add(d.x(n, group * cg + ci, r, c), d.weight(o, ci, a, b));
      }
    }
  }
  return s;
}

/// dw(o, ci, a, b) = Σ_{n, i, j} dy(n, o, i, j) x(n, group·cg + ci, i·s + a·d − p, j·s + b·d − p)
Sum grad_weight_at(const Layer& l, const Data& d, Index o, Index ci, Index a, Index b) {
  const Index c_in = o / (l.c_out / l.groups) * l.in_per_group() + ci;
  Sum s;
  for (Index n = 0; n < d.x.dim(0); ++n) {
    for (Index i = 0; i < l.out_rows(); ++i) {
      for (Index j = 0; j < l.out_cols(); ++j) {
        const Index r = i * l.stride + a * l.dilation - l.pad_rows;
        const Index c = j * l.stride + b * l.dilation - l.pad_cols;
        if (r < 0 || r >= l.rows || c < 0 || c >= l.cols) continue;
        s.add(d.grad_out(n, o, i, j), d.x(n, c_in, r, c));
      }
    }
  }
  return s;
}

/// dx(n, c, r, col) = Σ over the outputs (o, i, j) and taps (a, b) that read x(n, c, r, col)
Sum grad_input_at(const Layer& l, const Data& d, Index n, Index c, Index r, Index col) {
  const Index cg = l.in_per_group(), og = l.c_out / l.groups, group = c / cg;
  Sum s;
  for (Index o = group * og; o < (group + 1) * og; ++o) {
    for (Index a = 0; a < l.kernel_rows; ++a) {
      for (Index b = 0; b < l.kernel_cols; ++b) {
        const Index ti = r + l.pad_rows - a * l.dilation, tj = col + l.pad_cols - b * l.dilation;
        if (ti < 0 || tj < 0 || ti % l.stride != 0 || tj % l.stride != 0) continue;
        const Index i = ti / l.stride, j = tj / l.stride;
        if (i >= l.out_rows() || j >= l.out_cols()) continue;
        s.add(d.grad_out(n, o, i, j), d.weight(o, c - group * cg, a, b));
      }
    }
  }
  return s;
}

Sum grad_bias_at(const Data& d, Index o) {
  Sum s;
  for (Index n = 0; n < d.grad_out.dim(0); ++n) {
    const auto plane = d.grad_out.plane(n, o);
    for (Index k = 0; k < plane.size(); ++k) s.add(plane.data()[k], 1.0);
  }
  return s;
}

std::int64_t g_checked_elements = 0;
double g_worst_error = 0;  // the largest |error| / Σ|term| seen
int g_failures = 0;

/// Compares `count` elements of a result (all of them, or kSamples of them and the first and the
/// last) with `want(flat index)`; returns "" or the first mismatch.
template <class Want>
std::string compare(const char* what, const float* got, Index count, bool all, Want want) {
  sweep::Rng rng(11);
  const Index n = all ? count : std::min<Index>(count, kSamples + 2);
  for (Index k = 0; k < n; ++k) {
    const Index at = all ? k : k == 0 ? 0 : k == 1 ? count - 1 : rng.below(count);
    const Sum s = want(at);
    const double error = std::abs(double(got[at]) - s.value);
    if (s.scale > 0) g_worst_error = std::max(g_worst_error, error / s.scale);
    ++g_checked_elements;
    if (!(error <= kTolerance * s.scale + 1e-6)) {
      return std::string(what) + " element " + std::to_string(at) + " is " +
             std::to_string(got[at]) + ", the textbook sum is " + std::to_string(s.value) +
             " (sum of |terms| " + std::to_string(s.scale) + ")";
    }
  }
  return "";
}

/// Splits a flat NCHW index into its four coordinates.
std::array<Index, 4> unflatten(const convtape::Shape4& shape, Index at) {
  std::array<Index, 4> i{};
  for (int k = 3; k >= 0; --k) {
    i[std::size_t(k)] = at % shape[std::size_t(k)];
    at /= shape[std::size_t(k)];
  }
  return i;
}

std::string check_forward(const Case& c, const Data& d, const Tensor<float>& y) {
  if (y.shape() != d.grad_out.shape()) return "forward: wrong output shape";
  return compare("forward", y.data(), y.size(), c.forward_flops() <= kFullCheckFlops,
                 [&](Index at) {
                   const auto [n, o, i, j] = unflatten(y.shape(), at);
                   return forward_at(c.layer, d, n, o, i, j);
                 });
}

std::string check_backward(const Case& c, const Data& d, const convtape::Conv2dGrads<float>& g) {
  const Layer& l = c.layer;
  const bool all = c.forward_flops() <= kFullCheckFlops;
  if (g.weight.shape() != d.weight.shape() || g.bias.size() != l.c_out) {
    return "backward: wrong gradient shapes";
  }
  std::string e = compare("grad_weight", g.weight.data(), g.weight.size(), all, [&](Index at) {
    const auto [o, ci, a, b] = unflatten(g.weight.shape(), at);
    return grad_weight_at(l, d, o, ci, a, b);
  });
  if (e.empty()) {
    e = compare("grad_bias", g.bias.data(), g.bias.size(), all,
                [&](Index o) { return grad_bias_at(d, o); });
  }
  if (e.empty() && !l.first) {
    if (g.input.shape() != d.x.shape()) return "backward: wrong input gradient shape";
    e = compare("grad_input", g.input.data(), g.input.size(), all, [&](Index at) {
      const auto [n, ci, r, col] = unflatten(g.input.shape(), at);
      return grad_input_at(l, d, n, ci, r, col);
    });
  }
  return e;
}

// ---- the benchmarks ----

/// Sets the OpenMP team size for the benchmark (a no-op without OpenMP, where only t1 exists).
void use_threads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  Eigen::setNbThreads(threads);
}

enum class Pass { fwd, fwdbwd };

void bm_case(benchmark::State& state, const std::string& name, const Case& c, Pass pass,
             int threads) {
  use_threads(threads);
  const Data d(c);
  const Conv2dOptions opts = c.layer.options();
  const bool input_grad = !c.layer.first;
  auto run = [&] {
    Tensor<float> y = convtape::conv2d(d.x, d.weight, d.bias, opts);
    benchmark::DoNotOptimize(y.data());
    if (pass == Pass::fwdbwd) {
      convtape::Conv2dGrads<float> g =
          convtape::conv2d_backward(d.x, d.weight, d.grad_out, opts, input_grad);
      benchmark::DoNotOptimize(g.weight.data());
    }
  };
  // One check per case, pass and thread count; otherwise one untimed call, so that a single
  // cold iteration (first-touch page faults, waking the thread team) that outlasts
  // --benchmark_min_time is never the whole measurement.
  static std::set<std::string> checked;
  if (!checked.insert(name).second) {
    run();
  } else {
    const Tensor<float> y = convtape::conv2d(d.x, d.weight, d.bias, opts);
    std::string error = check_forward(c, d, y);
    if (error.empty() && pass == Pass::fwdbwd) {
      error = check_backward(
          c, d, convtape::conv2d_backward(d.x, d.weight, d.grad_out, opts, input_grad));
    }
    if (!error.empty()) {
      ++g_failures;
      std::cerr << "conv2d_sweep: SELF-CHECK FAILED " << name << ": " << error << '\n';
      state.SkipWithError(("self-check failed: " + error).c_str());
      return;
    }
  }
  for (auto _ : state) run();
  const double flops = pass == Pass::fwd ? c.forward_flops() : c.train_flops();
  state.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * c.batch);
}

void register_all(const std::vector<Case>& cases) {
  std::vector<int> thread_counts = {1};
#ifdef _OPENMP
  thread_counts.push_back(2);
#endif
  for (const Case& c : cases) {
    for (int t : thread_counts) {
      for (const auto& [pass, name] :
           {std::pair{Pass::fwd, "sweep_fwd"}, std::pair{Pass::fwdbwd, "sweep_fwdbwd"}}) {
        const std::string full =
            std::string(name) + "/convtape/" + c.name() + "/t" + std::to_string(t);
        benchmark::RegisterBenchmark(
            full.c_str(),
            [full, c, pass = pass, t](benchmark::State& s) { bm_case(s, full, c, pass, t); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

/// This program's own flags, taken out of argv before Google Benchmark reads it.
struct Flags {
  bool list = false;
  Index random = 0;
  std::uint64_t seed = 1;
  double max_gflop = -1;
};

Flags take_flags(int& argc, char** argv) {
  Flags f;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&a](const char* flag) -> const char* {
      const std::size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 && a.size() > n && a[n] == '=' ? a.c_str() + n + 1
                                                                       : nullptr;
    };
    if (a == "--sweep_list") {
      f.list = true;
    } else if (const char* count = value("--sweep_random")) {
      f.random = std::atol(count);
    } else if (const char* seed = value("--sweep_seed")) {
      f.seed = std::strtoull(seed, nullptr, 10);
    } else if (const char* gflop = value("--sweep_max_gflop")) {
      f.max_gflop = std::atof(gflop);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = take_flags(argc, argv);
  std::vector<Case> cases;
  try {
    cases = sweep::cases_of(flags.random > 0 ? sweep::random_layers(flags.random, flags.seed)
                                             : sweep::listed_layers());
  } catch (const std::logic_error& e) {
    std::cerr << "conv2d_sweep: " << e.what() << '\n';
    return 2;
  }
  if (flags.max_gflop >= 0) {
    cases.erase(
        std::remove_if(cases.begin(), cases.end(),
                       [&](const Case& c) { return c.forward_flops() > flags.max_gflop * 1e9; }),
        cases.end());
  }
  if (flags.list) {
    sweep::write_csv(std::cout, cases);
    return 0;
  }
  register_all(cases);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("openmp",
#ifdef _OPENMP
                              "yes"
#else
                              "no"
#endif
  );
  benchmark::AddCustomContext("sweep", flags.random > 0
                                           ? "random, seed " + std::to_string(flags.seed)
                                           : std::string("listed layers"));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_checked_elements == 0) return 0;  // nothing ran (--benchmark_list_tests, a filter)
  std::cerr << "conv2d_sweep: self-checked " << g_checked_elements
            << " elements against the textbook sums, worst |error| / sum|terms| = " << g_worst_error
            << " (tolerance " << kTolerance << ")";
  if (g_failures > 0) {
    std::cerr << "; " << g_failures << " case(s) FAILED\n";
    return 1;
  }
  std::cerr << '\n';
  return 0;
}
