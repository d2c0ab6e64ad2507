// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// Measures the constants of conv2d's cost model (`kConv2dCost` in
// include/convtape/detail/conv2d_dispatch.hpp) and checks its choices. A standalone driver (no
// Google Benchmark), single-threaded, float32; times are medians of repetitions of the forward
// pass along a forced path (`detail::conv2d_forward`).
//
//   cost_model_bench --fit        times every path on a grid of synthetic shapes (about 3 min),
//                                 fits the prices of the model's units by non-negative least
//                                 squares on relative error, and prints them as the C++
//                                 initializer to paste into conv2d_dispatch.hpp, with the fit's
//                                 error and the measured cost of a thread team
//   cost_model_bench --validate   on layers in no list (sweep_layers.hpp's generator, --random=N,
//                                 --seed=S; default 40 layers, seed 11), at batch 1 and the
//                                 training batch: the path the model picks against the
//                                 measured-fastest one (every path timed): the fraction of cases
//                                 where they agree and the geometric-mean slowdown of the pick
//   --clock=cpu                   CPU time of the process instead of wall-clock time (steadier on
//                                 a busy machine; the runs are single-threaded either way)
//   --quick                       fewer shapes and repetitions (a smoke run)
//   --benchmark_min_time=X        the CI smoke run: --fit --quick
//   --verbose                     --fit also prints every timing beside the fitted model's
//
// How to refit: build with -O3 -march=native on the machine of interest, run with
// OMP_NUM_THREADS=1 on an idle core, paste the printed initializer into conv2d_dispatch.hpp,
// rerun --validate, and update docs/performance.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
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
using convtape::detail::Conv2dPath;
using convtape::detail::Conv2dShape;
using convtape::detail::Conv2dWork;

bool g_cpu_clock = false;
bool g_verbose = false;
int g_reps = 5;

double now() {
  if (g_cpu_clock) return double(std::clock()) / CLOCKS_PER_SEC;
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

/// Median seconds per call of f: calls batched to at least 2 ms per sample.
template <class F>
double median_seconds(F&& f) {
  f();
  double t0 = now();
  f();
  const double once = std::max(now() - t0, 1e-7);
  const int inner = std::max(1, int(2e-3 / once));
  std::vector<double> v;
  for (int r = 0; r < g_reps; ++r) {
    t0 = now();
    for (int i = 0; i < inner; ++i) f();
    v.push_back((now() - t0) / inner);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// One problem: tensors of a shape, uniform in [-1, 1].
struct Problem {
  Tensor<float> x, weight, grad_out;
  VectorX<float> bias;
  Conv2dOptions opts;
  Conv2dShape shape;
  bool first = false;

  Problem(Index n, Index c_in, Index c_out, Index rows, Index cols, Index kh, Index kw,
          const Conv2dOptions& o, bool first_layer = false)
      : x(n, c_in, rows, cols),
        weight(c_out, c_in / o.groups(), kh, kw),
        opts(o),
        first(first_layer) {
    sweep::Rng rng(3);
    auto next = [&rng] { return float(2.0 * rng.unit() - 1.0); };
    for (Tensor<float>* t : {&x, &weight}) std::generate(t->data(), t->data() + t->size(), next);
    bias = VectorX<float>::NullaryExpr(c_out, next);
    shape = convtape::detail::conv2d_shape(x, weight, bias.size(), opts, "cost_model_bench");
    grad_out = Tensor<float>(shape.output_shape());
    std::generate(grad_out.data(), grad_out.data() + grad_out.size(), next);
  }

  double forward(Conv2dPath path) const {
    return median_seconds([&] {
      const Tensor<float> y = convtape::detail::conv2d_forward(x, weight, bias, shape, path);
      if (y.size() == 0) std::abort();
    });
  }
  double forward_backward(Conv2dPath path) const {
    convtape::detail::Conv2dOutputMask mask;
    mask.grad_input = !first;
    return median_seconds([&] {
      const Tensor<float> y = convtape::detail::conv2d_forward(x, weight, bias, shape, path);
      const auto g = convtape::detail::conv2d_backward_path(x, weight, grad_out, shape, path, mask);
      if (y.size() == 0 || g.weight.size() == 0) std::abort();
    });
  }
};

/// The paths that compute `s` as themselves (`winograd`, `interleaved` and `matrix` only where
/// they fit: elsewhere they run another path's code, and timing it twice would let noise pick
/// the copy as the "fastest" path).
std::vector<Conv2dPath> paths_for(const Conv2dShape& s) {
  std::vector<Conv2dPath> v;
  for (Conv2dPath p : convtape::detail::kConv2dPaths) {
    if (p == Conv2dPath::winograd && !convtape::detail::winograd_fits(s.geometry)) continue;
    if (p == Conv2dPath::interleaved && !convtape::detail::interleaved_fits(s)) continue;
    if (p == Conv2dPath::matrix && !convtape::detail::matrix_fits(s)) continue;
    v.push_back(p);
  }
  return v;
}

/// The model's units of `w`, in the order of `Conv2dCostModel`'s members (all but thread_min).
std::vector<double> units(const Conv2dWork& w) {
  return {w.gemm_packets,   w.gemm_tiles, w.moved_packets, w.transform_packets,
          w.direct_packets, w.plane_macs, w.plane_calls,   w.plane_rows};
}

const char* const kUnitNames[] = {"gemm_packet",   "gemm_tile", "moved_packet", "transform_packet",
                                  "direct_packet", "plane_mac", "plane_call",   "plane_row"};

/// argmin over c >= 0 of sum_i (a_i . c / t_i - 1)^2, by cyclic coordinate descent on the normal
/// equations (a convex quadratic; a few thousand sweeps over eight unknowns).
std::vector<double> fit_nonnegative(const std::vector<std::vector<double>>& a,
                                    const std::vector<double>& t) {
  const std::size_t k = a.front().size();
  // Scale the columns so that the problem is well conditioned.
  std::vector<double> scale(k, 0.0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = 0; j < k; ++j) scale[j] = std::max(scale[j], a[i][j] / t[i]);
  }
  std::vector<std::vector<double>> h(k, std::vector<double>(k, 0.0));
  std::vector<double> r(k, 0.0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      const double aj = scale[j] > 0 ? a[i][j] / t[i] / scale[j] : 0.0;
      r[j] += aj;
      for (std::size_t l = 0; l < k; ++l) {
        const double al = scale[l] > 0 ? a[i][l] / t[i] / scale[l] : 0.0;
        h[j][l] += aj * al;
      }
    }
  }
  std::vector<double> c(k, 0.0);
  for (int sweep = 0; sweep < 20000; ++sweep) {
    for (std::size_t j = 0; j < k; ++j) {
      if (h[j][j] <= 0) continue;
      double g = -r[j];
      for (std::size_t l = 0; l < k; ++l) g += h[j][l] * c[l];
      c[j] = std::max(0.0, c[j] - g / h[j][j]);
    }
  }
  for (std::size_t j = 0; j < k; ++j) c[j] = scale[j] > 0 ? c[j] / scale[j] : 0.0;
  return c;
}

/// Seconds of one start and join of a two-thread team doing nothing (0 without OpenMP).
double team_seconds() {
#ifdef _OPENMP
  // Wall-clock time: with the CPU clock, spinning idle threads would count.
  const bool cpu = g_cpu_clock;
  g_cpu_clock = false;
  const double t =
      median_seconds([] { convtape::detail::parallel_blocks(2, 2, [](Index, Index, int) {}); });
  g_cpu_clock = cpu;
  return t;
#else
  return 0.0;
#endif
}

/// The synthetic shapes of the fit: every kind of layer the paths are meant for, in sizes that
/// take 0.01 to 30 ms.
std::vector<Problem> fit_shapes(bool quick) {
  std::vector<Problem> v;
  const Index planes[] = {7, 14, 28, 56};
  const Index channels[] = {3, 16, 64, 256};
  for (Index size : planes) {
    for (Index c : channels) {
      for (Index k : {1, 3, 5}) {
        if (quick && (k == 5 || c == 16)) continue;
        const Index n = size <= 14 ? 8 : 1;
        const Index out = c == 3 ? 32 : c;
        if (double(n) * out * c * k * k * size * size > 4e8) continue;
        v.emplace_back(n, c, out, size, size, k, k, Conv2dOptions().padding(k / 2));
        if (k == 3) {
          v.emplace_back(n, c, 2 * out, size, size, k, k, Conv2dOptions().padding(1).stride(2));
          if (c >= 16) {
            v.emplace_back(n, c, c, size, size, k, k, Conv2dOptions().padding(1).groups(c));
          }
        }
      }
    }
  }
  // Few channels, few outputs, tiny planes, dilation, wide kernels.
  v.emplace_back(64, 1, 6, 28, 28, 5, 5, Conv2dOptions().padding(2));
  v.emplace_back(64, 6, 16, 14, 14, 5, 5, Conv2dOptions());
  v.emplace_back(64, 16, 120, 5, 5, 5, 5, Conv2dOptions());
  v.emplace_back(64, 28, 672, 1, 1, 1, 1, Conv2dOptions());
  v.emplace_back(2, 64, 64, 33, 33, 3, 3, Conv2dOptions().padding(4).dilation(4));
  v.emplace_back(4, 32, 32, 17, 17, 1, 7, Conv2dOptions().padding(0, 3));
  v.emplace_back(1, 3, 64, 112, 112, 7, 7, Conv2dOptions().padding(3).stride(2));
  v.emplace_back(8, 4, 4, 6, 6, 3, 3, Conv2dOptions());
  v.emplace_back(1, 2, 3, 5, 5, 3, 3, Conv2dOptions().padding(1));
  v.emplace_back(16, 64, 64, 7, 7, 3, 3, Conv2dOptions().padding(1).groups(64));
  return v;
}

int fit(bool quick) {
  std::vector<std::vector<double>> a;
  std::vector<double> t;
  std::vector<std::string> labels;
  const convtape::detail::KernelShape k = convtape::detail::kernel_shape<float>();
  for (const Problem& p : fit_shapes(quick)) {
    for (Conv2dPath path : paths_for(p.shape)) {
      // The plane loops only where they are meant to run: small problems.
      if (path == Conv2dPath::planes && convtape::detail::conv2d_macs(p.shape) > (Index(1) << 22)) {
        continue;
      }
      const double seconds = p.forward(path);
      a.push_back(units(convtape::detail::conv2d_work(p.shape, path, k)));
      t.push_back(seconds);
      const Conv2dShape& s = p.shape;
      labels.push_back(
          std::string(convtape::detail::to_string(path)) + " n" + std::to_string(s.batch) + " " +
          std::to_string(s.in_channels) + "->" + std::to_string(s.out_channels) + " g" +
          std::to_string(s.groups) + " " + std::to_string(s.geometry.in_rows) + "x" +
          std::to_string(s.geometry.in_cols) + " k" + std::to_string(s.geometry.kernel_rows) + "x" +
          std::to_string(s.geometry.kernel_cols) + " s" + std::to_string(s.geometry.stride.rows));
    }
  }
  const std::vector<double> c = fit_nonnegative(a, t);
  std::vector<double> errors;
  for (std::size_t i = 0; i < a.size(); ++i) {
    double model = 0;
    for (std::size_t j = 0; j < c.size(); ++j) model += c[j] * a[i][j];
    errors.push_back(std::abs(model / t[i] - 1));
    if (g_verbose) {
      std::cout << std::left << std::setw(48) << labels[i] << std::right << std::setw(10)
                << t[i] * 1e3 << " ms  model " << std::setw(10) << model * 1e3 << " ms  "
                << model / t[i] << "\n";
    }
  }
  std::sort(errors.begin(), errors.end());
  const double team = team_seconds();
  std::cout << "// " << a.size() << " timings; |model / measured - 1|: median "
            << errors[errors.size() / 2] << ", 90th percentile " << errors[errors.size() * 9 / 10]
            << "; a two-thread team costs " << team * 1e6 << " us\n";
  std::cout << "inline constexpr Conv2dCostModel kConv2dCost = {\n" << std::setprecision(2);
  for (std::size_t j = 0; j < c.size(); ++j) {
    std::cout << "    /*" << kUnitNames[j] << "=*/" << c[j] << ",\n";
  }
  // A thread must get twice the team's cost in work for two threads to beat one.
  std::cout << "    /*thread_min=*/" << std::max(2 * team, 1e-6) << ",\n};\n";
  return 0;
}

int validate(Index count, std::uint64_t seed) {
  int agree_fwd = 0, agree_train = 0, cases = 0;
  double log_fwd = 0, log_train = 0;
  for (const sweep::Case& c : sweep::cases_of(sweep::random_layers(count, seed))) {
    const sweep::Layer& l = c.layer;
    const Problem p(c.batch, l.c_in, l.c_out, l.rows, l.cols, l.kernel_rows, l.kernel_cols,
                    l.options(), l.first);
    const Conv2dPath pick = convtape::detail::conv2d_path<float>(p.shape);
    double best_fwd = 1e30, best_train = 1e30, pick_fwd = 0, pick_train = 0;
    Conv2dPath oracle_fwd = pick, oracle_train = pick;
    for (Conv2dPath path : paths_for(p.shape)) {
      if (path == Conv2dPath::planes && path != pick &&
          convtape::detail::conv2d_macs(p.shape) > (Index(1) << 24)) {
        continue;  // hopeless and slow
      }
      const double f = p.forward(path);
      const double fb = p.forward_backward(path);
      if (f < best_fwd) best_fwd = f, oracle_fwd = path;
      if (fb < best_train) best_train = fb, oracle_train = path;
      if (path == pick) pick_fwd = f, pick_train = fb;
    }
    ++cases;
    agree_fwd += pick == oracle_fwd;
    agree_train += pick == oracle_train;
    log_fwd += std::log(pick_fwd / best_fwd);
    log_train += std::log(pick_train / best_train);
    std::cout << std::left << std::setw(26) << c.name() << " pick " << std::setw(13)
              << convtape::detail::to_string(pick) << " fastest fwd " << std::setw(13)
              << convtape::detail::to_string(oracle_fwd) << std::right << std::fixed
              << std::setprecision(2) << " x" << pick_fwd / best_fwd << "  fwd+bwd " << std::left
              << std::setw(13) << convtape::detail::to_string(oracle_train) << std::right << " x"
              << pick_train / best_train << std::defaultfloat << "\n";
  }
  std::cout << "\n"
            << cases << " cases (" << count << " generated layers, seed " << seed
            << "): the model picks the fastest forward path in " << agree_fwd << " ("
            << 100 * agree_fwd / std::max(cases, 1) << "%), geometric-mean slowdown "
            << std::exp(log_fwd / cases) << "; forward+backward: " << agree_train << " ("
            << 100 * agree_train / std::max(cases, 1) << "%), slowdown "
            << std::exp(log_train / cases) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef _OPENMP
  omp_set_num_threads(1);
#endif
  bool do_fit = false, do_validate = false, quick = false;
  Index count = 40;
  std::uint64_t seed = 11;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--fit") {
      do_fit = true;
    } else if (a == "--validate") {
      do_validate = true;
    } else if (a == "--verbose") {
      g_verbose = true;
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--clock=cpu") {
      g_cpu_clock = true;
    } else if (a.rfind("--benchmark_min_time", 0) == 0) {
      do_fit = quick = true;  // the CI smoke run: a quick fit
    } else if (a.rfind("--random=", 0) == 0) {
      count = std::atol(a.c_str() + 9);
    } else if (a.rfind("--seed=", 0) == 0) {
      seed = std::strtoull(a.c_str() + 7, nullptr, 10);
    } else {
      std::cerr << "cost_model_bench: unknown flag " << a << " (see the file comment)\n";
      return 2;
    }
  }
  if (quick) g_reps = 3;
  if (!do_fit && !do_validate) {
    std::cerr << "cost_model_bench: give --fit and/or --validate (see the file comment)\n";
    return 2;
  }
  int status = 0;
  if (do_fit) status |= fit(quick);
  if (do_validate) status |= validate(quick ? 8 : count, seed);
  return status;
}
