// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// The conv2d layer sweep (benchmarks/sweep_layers.hpp) timed at several thread counts by a small
// standalone driver: no Google Benchmark, so it builds with a bare compiler and Eigen's headers
// (benchmarks/scaling.sh builds it with one g++ command on machines without the benchmark
// library). Float32, the public API only:
//
//   sweep_fwd/convtape/<layer>/n<batch>/t<threads>      conv2d with bias
//   sweep_fwdbwd/convtape/<layer>/n<batch>/t<threads>   conv2d, then conv2d_backward (input
//                                                       gradient unless the layer is a first one)
//
// Timing: every task (case, direction, thread count) is calibrated to an inner loop of at least
// --sample_ms, then --rounds rounds take samples of every task in turn (so the drift of a shared
// machine hits all tasks alike) until each task has spent --budget seconds per round; the result
// is the median per call. Output: Google Benchmark-style JSON (aggregate "median", the names
// above), which benchmarks/peers/report_sweep.py and report_scaling.py read beside PyTorch's.
//
// Before timing, each case checks that its forward output and gradients at every thread count
// agree with those at the first thread count given (within 1e-4 of the largest magnitude): the
// tests hold every path to the reference loops; this catches a scheduling bug on a machine with
// more cores than the test machines.
//
// Flags:
//   --threads=1,4,16   thread counts (OpenMP team sizes; 1 only without OpenMP)
//   --filter=REGEX     only cases whose "case,layer,network,tags" line matches
//   --batch=1|train    only one of the two batches of each layer (default both)
//   --direction=fwd|fwdbwd   only one direction (default both)
//   --random=N --seed=S      N generated layers (sweep::random_layers) instead of the table
//   --rounds=R --budget=SECONDS --sample_ms=MS   timing (defaults 2, 0.15, 2)
//   --clock=cpu        CPU time of the process instead of wall-clock time: at one thread, a
//                      measure that a busy machine disturbs less (it is the sum over threads)
//   --list             print the cases as CSV (benchmarks/peers/sweep_torch.py reads it) and exit
//   --out=FILE         the JSON (default: stdout)
//   --benchmark_min_time=X   a smoke run (batch-1 cases up to 0.1 GFLOP, one short round at 1 and
//                      2 threads, no JSON)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "convtape/conv2d.hpp"
#include "sweep_layers.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using convtape::Index;
using convtape::Tensor;
using convtape::VectorX;
using sweep::Case;
using sweep::Layer;

void use_threads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
}

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

enum class Direction { fwd, fwdbwd };

struct Task {
  std::string name;
  const Case* c = nullptr;
  const Data* data = nullptr;
  Direction direction = Direction::fwd;
  int threads = 1;
  double flops = 0;
  int inner = 1;
  std::vector<double> samples;  // seconds per call
};

bool g_cpu_clock = false;

/// Seconds on the wall clock, or of CPU time of the whole process with --clock=cpu.
double now() {
  if (g_cpu_clock) return double(std::clock()) / CLOCKS_PER_SEC;
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

/// One call of the task's work (the result is kept alive until it returns).
void run_once(const Task& t) {
  const Layer& l = t.c->layer;
  const auto opts = l.options();
  Tensor<float> y = convtape::conv2d(t.data->x, t.data->weight, t.data->bias, opts);
  if (t.direction == Direction::fwdbwd) {
    const auto g =
        convtape::conv2d_backward(t.data->x, t.data->weight, t.data->grad_out, opts, !l.first);
    if (g.weight.size() == 0) std::abort();
  }
  if (y.size() == 0) std::abort();
}

/// max |a - b| / max(1, max |b|) over the elements (a and b of one shape).
double relative_gap(const float* a, const float* b, Index n) {
  double gap = 0, scale = 1;
  for (Index i = 0; i < n; ++i) {
    gap = std::max(gap, double(std::abs(a[i] - b[i])));
    scale = std::max(scale, double(std::abs(b[i])));
  }
  return gap / scale;
}

/// Whether every thread count reproduces the first one's results; prints the first mismatch.
bool check_threads(const Case& c, const Data& d, const std::vector<int>& threads) {
  const Layer& l = c.layer;
  const auto opts = l.options();
  use_threads(threads.front());
  const Tensor<float> y0 = convtape::conv2d(d.x, d.weight, d.bias, opts);
  const auto g0 = convtape::conv2d_backward(d.x, d.weight, d.grad_out, opts, !l.first);
  for (std::size_t k = 1; k < threads.size(); ++k) {
    use_threads(threads[k]);
    const Tensor<float> y = convtape::conv2d(d.x, d.weight, d.bias, opts);
    const auto g = convtape::conv2d_backward(d.x, d.weight, d.grad_out, opts, !l.first);
    const double gaps[] = {
        relative_gap(y.data(), y0.data(), y.size()),
        relative_gap(g.weight.data(), g0.weight.data(), g.weight.size()),
        relative_gap(g.bias.data(), g0.bias.data(), g.bias.size()),
        l.first ? 0.0 : relative_gap(g.input.data(), g0.input.data(), g.input.size())};
    const char* what[] = {"output", "grad_weight", "grad_bias", "grad_input"};
    for (int i = 0; i < 4; ++i) {
      if (!(gaps[i] <= 1e-4)) {
        std::cerr << "sweep_scaling: " << c.name() << ": " << what[i] << " at " << threads[k]
                  << " threads differs from " << threads.front() << " threads by " << gaps[i]
                  << " of its scale\n";
        return false;
      }
    }
  }
  return true;
}

struct Flags {
  std::vector<int> threads = {1};
  std::string filter, batch, direction, out;
  Index random = 0;
  std::uint64_t seed = 1;
  int rounds = 2;
  double budget = 0.15;
  double sample_ms = 2;
  bool list = false;
  double max_flops = 0;  // forward flops of a case at most (0: no limit)
};

Flags parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const std::size_t eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const std::string v = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (key == "--threads") {
      f.threads.clear();
      std::stringstream ss(v);
      for (std::string t; std::getline(ss, t, ',');) f.threads.push_back(std::stoi(t));
    } else if (key == "--filter") {
      f.filter = v;
    } else if (key == "--batch") {
      f.batch = v;
    } else if (key == "--direction") {
      f.direction = v;
    } else if (key == "--random") {
      f.random = std::stol(v);
    } else if (key == "--seed") {
      f.seed = std::stoull(v);
    } else if (key == "--rounds") {
      f.rounds = std::max(1, std::stoi(v));
    } else if (key == "--budget") {
      f.budget = std::stod(v);
    } else if (key == "--sample_ms") {
      f.sample_ms = std::stod(v);
    } else if (key == "--clock") {
      g_cpu_clock = v == "cpu";
    } else if (key == "--list") {
      f.list = true;
    } else if (key == "--out") {
      f.out = v;
    } else if (key == "--benchmark_min_time") {
      // The CI smoke run (it passes Google Benchmark's flag to every benchmark): batch-1 cases of
      // at most 0.1 GFLOP, one short round, 1 and 2 threads (which also checks that they agree).
      f.batch = "1";
      f.max_flops = 1e8;
      f.rounds = 1;
      f.budget = 0.0;
      f.sample_ms = 0.0;
      f.threads = {1, 2};
      if (f.out.empty()) f.out = "/dev/null";
    } else {
      std::cerr << "sweep_scaling: unknown flag " << a << " (see the file comment)\n";
      std::exit(2);
    }
  }
#ifndef _OPENMP
  f.threads = {1};
#endif
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parse(argc, argv);
  std::vector<Case> all = sweep::cases_of(
      flags.random > 0 ? sweep::random_layers(flags.random, flags.seed) : sweep::listed_layers());
  std::vector<Case> cases;
  const std::regex pattern(flags.filter);
  for (const Case& c : all) {
    const Layer& l = c.layer;
    const std::string line = c.name() + "," + l.id + "," + l.network + "," + l.tags();
    if (!flags.filter.empty() && !std::regex_search(line, pattern)) continue;
    if (flags.batch == "1" && c.batch != 1) continue;
    if (flags.batch == "train" && c.batch == 1) continue;
    if (flags.max_flops > 0 && c.forward_flops() > flags.max_flops) continue;
    cases.push_back(c);
  }
  if (flags.list) {
    sweep::write_csv(std::cout, cases);
    return 0;
  }

  std::vector<Data> data;
  data.reserve(cases.size());
  std::vector<Task> tasks;
  int failures = 0;
  for (const Case& c : cases) {
    data.emplace_back(c);
    if (flags.threads.size() > 1 && !check_threads(c, data.back(), flags.threads)) ++failures;
    for (int t : flags.threads) {
      for (Direction d : {Direction::fwd, Direction::fwdbwd}) {
        const bool fwd = d == Direction::fwd;
        if (!flags.direction.empty() && flags.direction != (fwd ? "fwd" : "fwdbwd")) continue;
        Task task;
        task.name = std::string(fwd ? "sweep_fwd" : "sweep_fwdbwd") + "/convtape/" + c.name() +
                    "/t" + std::to_string(t);
        task.c = &c;
        task.data = &data.back();
        task.direction = d;
        task.threads = t;
        task.flops = fwd ? c.forward_flops() : c.train_flops();
        tasks.push_back(task);
      }
    }
  }

  // Calibration: an inner loop of at least sample_ms, and samples per round within the budget.
  std::vector<int> per_round(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    Task& t = tasks[i];
    use_threads(t.threads);
    run_once(t);  // warm-up: first-touch of workspaces, thread team start
    double t0 = now();
    run_once(t);
    const double once = std::max(now() - t0, 1e-7);
    t.inner = std::max(1, int(std::ceil(flags.sample_ms * 1e-3 / once)));
    per_round[i] = std::clamp(int(flags.budget / (once * t.inner)), 1, 15);
  }
  for (int r = 0; r < flags.rounds; ++r) {
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      Task& t = tasks[i];
      use_threads(t.threads);
      for (int s = 0; s < per_round[i]; ++s) {
        const double t0 = now();
        for (int k = 0; k < t.inner; ++k) run_once(t);
        t.samples.push_back((now() - t0) / t.inner);
      }
    }
  }

  std::ofstream file;
  if (!flags.out.empty()) file.open(flags.out);
  std::ostream& os = flags.out.empty() ? std::cout : file;
  os << "{\"context\": {\"library\": \"convtape\", \"openmp\": \""
#ifdef _OPENMP
     << "yes"
#else
     << "no"
#endif
     << "\"},\n \"benchmarks\": [";
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    std::vector<double> v = tasks[i].samples;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    const double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    os << (i ? ",\n  " : "\n  ") << "{\"name\": \"" << tasks[i].name
       << "\", \"run_type\": \"aggregate\", \"aggregate_name\": \"median\", \"real_time\": "
       << median * 1e3 << ", \"time_unit\": \"ms\", \"samples\": " << n
       << ", \"GFLOPS\": " << tasks[i].flops / median * 1e-9 << "}";
  }
  os << "\n]}\n";
  if (failures > 0) {
    std::cerr << "sweep_scaling: " << failures << " case(s) differ between thread counts\n";
    return 1;
  }
  return 0;
}
