// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// Batched conv2d on the four reference layers (float32, NCHW), forward, backward and both:
//
//   A  LeNet conv1      N=64, 1 -> 6,     28x28, 5x5, pad 2
//   B  ResNet block     N=8,  64 -> 64,   56x56, 3x3, pad 1
//   C  ResNet stem      N=1,  3 -> 64,  224x224, 7x7, stride 2, pad 3
//   D  depthwise        N=8,  128 ch,     28x28, 3x3, pad 1, groups 128
//
// Names: conv2d_{fwd,bwd,fwdbwd}/<impl>/<layer>/t<threads>, impl = convtape (the library),
// im2col_eigen (a plain im2col + Eigen GEMM forward, what Eigen alone gives), reference (the
// reference loops on a batch of one image, forward only). Counters: GFLOPS with forward flops
// 2 * N * C_out * H_out * W_out * C_in/groups * kh * kw, backward twice that, both three times;
// images/s as items. Wall-clock time (threads included). Run with --benchmark_repetitions and
// compare medians; benchmarks/compare_peers.sh does that beside PyTorch.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "convtape/conv2d.hpp"
#include "convtape/reference.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using convtape::Conv2dOptions;
using convtape::Index;
using convtape::Tensor;
using convtape::VectorX;

struct Layer {
  const char* name;
  Index n, c_in, c_out, size, kernel, stride, pad, groups;

  Conv2dOptions options() const {
    return Conv2dOptions().stride(stride).padding(pad).groups(groups);
  }
  Index out_size() const { return (size + 2 * pad - kernel) / stride + 1; }
  double forward_flops(Index batch) const {
    return 2.0 *
           double(batch * c_out * out_size() * out_size() * (c_in / groups) * kernel * kernel);
  }
};

const Layer kLayers[] = {
    {"A", 64, 1, 6, 28, 5, 1, 2, 1},
    {"B", 8, 64, 64, 56, 3, 1, 1, 1},
    {"C", 1, 3, 64, 224, 7, 2, 3, 1},
    {"D", 8, 128, 128, 28, 3, 1, 1, 128},
};

/// Inputs of one layer, uniform in [-1, 1], fixed seed.
struct Data {
  Tensor<float> x, weight, grad_out;
  VectorX<float> bias;

  Data(const Layer& l, Index batch) {
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    auto fill = [&](Tensor<float>& t) {
      for (Index i = 0; i < t.size(); ++i) t.data()[i] = u(gen);
    };
    x = Tensor<float>(batch, l.c_in, l.size, l.size);
    weight = Tensor<float>(l.c_out, l.c_in / l.groups, l.kernel, l.kernel);
    grad_out = Tensor<float>(batch, l.c_out, l.out_size(), l.out_size());
    bias = VectorX<float>::NullaryExpr(l.c_out, [&] { return u(gen); });
    fill(x);
    fill(weight);
    fill(grad_out);
  }
};

/// Sets the OpenMP team size for the benchmark (a no-op without OpenMP, where only t1 exists).
void use_threads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  Eigen::setNbThreads(threads);
}

void set_counters(benchmark::State& state, double flops, Index images) {
  state.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * images);
}

enum class Pass { fwd, bwd, fwdbwd };

void bm_convtape(benchmark::State& state, const Layer& l, Pass pass, int threads) {
  use_threads(threads);
  const Data d(l, l.n);
  const Conv2dOptions opts = l.options();
  for (auto _ : state) {
    if (pass != Pass::bwd) {
      Tensor<float> y = convtape::conv2d(d.x, d.weight, d.bias, opts);
      benchmark::DoNotOptimize(y.data());
    }
    if (pass != Pass::fwd) {
      convtape::Conv2dGrads<float> g = convtape::conv2d_backward(d.x, d.weight, d.grad_out, opts);
      benchmark::DoNotOptimize(g.input.data());
    }
  }
  const double mult = pass == Pass::fwd ? 1.0 : pass == Pass::bwd ? 2.0 : 3.0;
  set_counters(state, mult * l.forward_flops(l.n), l.n);
  const convtape::detail::Conv2dShape s =
      convtape::detail::conv2d_shape(d.x, d.weight, d.bias.size(), opts, "bench");
  state.SetLabel(convtape::detail::to_string(convtape::detail::conv2d_path<float>(s)));
}

/// The reference loops on one image: the textbook baseline, so ratios stay honest without
/// spending minutes per iteration.
void bm_reference(benchmark::State& state, const Layer& l) {
  const Data d(l, 1);
  const Conv2dOptions opts = l.options();
  for (auto _ : state) {
    Tensor<float> y = convtape::reference::conv2d(d.x, d.weight, d.bias, opts);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, l.forward_flops(1), 1);
  state.SetLabel("batch 1");
}

using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Rows (c, ki, kj) x columns (oh, ow) of one image and one group (zero padding).
void im2col(const Layer& l, const float* x, Index group, float* col) {
  const Index cg = l.c_in / l.groups;
  const Index out = l.out_size();
  for (Index c = 0; c < cg; ++c) {
    const float* plane = x + (group * cg + c) * l.size * l.size;
    for (Index ki = 0; ki < l.kernel; ++ki) {
      for (Index kj = 0; kj < l.kernel; ++kj) {
        float* row = col + ((c * l.kernel + ki) * l.kernel + kj) * out * out;
        for (Index oh = 0; oh < out; ++oh) {
          const Index ih = oh * l.stride - l.pad + ki;
          for (Index ow = 0; ow < out; ++ow) {
            const Index iw = ow * l.stride - l.pad + kj;
            const bool inside = ih >= 0 && ih < l.size && iw >= 0 && iw < l.size;
            row[oh * out + ow] = inside ? plane[ih * l.size + iw] : 0.f;
          }
        }
      }
    }
  }
}

/// A plain im2col + Eigen GEMM forward: per image and group, Y = W * col + bias. Two threads:
/// images in parallel when there are several, else Eigen's own threaded GEMM.
void bm_im2col_eigen(benchmark::State& state, const Layer& l, int threads) {
  use_threads(threads);
  const Data d(l, l.n);
  const Index cg = l.c_in / l.groups;
  const Index og = l.c_out / l.groups;
  const Index k = cg * l.kernel * l.kernel;
  const Index p = l.out_size() * l.out_size();
  Tensor<float> y(l.n, l.c_out, l.out_size(), l.out_size());
  std::vector<RowMatrixXf> cols(static_cast<std::size_t>(threads), RowMatrixXf(k, p));
  auto image = [&](Index n, RowMatrixXf& col) {
    for (Index g = 0; g < l.groups; ++g) {
      im2col(l, d.x.data() + n * l.c_in * l.size * l.size, g, col.data());
      Eigen::Map<const RowMatrixXf> w(d.weight.data() + g * og * k, og, k);
      Eigen::Map<RowMatrixXf> out(y.data() + (n * l.c_out + g * og) * p, og, p);
      out.noalias() = w * col;
      out.colwise() += d.bias.segment(g * og, og);
    }
  };
  for (auto _ : state) {
#ifdef _OPENMP
    if (threads > 1 && l.n >= threads) {
      Eigen::setNbThreads(1);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (Index n = 0; n < l.n; ++n)
        image(n, cols[static_cast<std::size_t>(omp_get_thread_num())]);
      benchmark::DoNotOptimize(y.data());
      continue;
    }
#endif
    for (Index n = 0; n < l.n; ++n) image(n, cols[0]);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, l.forward_flops(l.n), l.n);
}

void register_all() {
  std::vector<int> thread_counts = {1};
#ifdef _OPENMP
  thread_counts.push_back(2);
#endif
  const std::pair<Pass, const char*> passes[] = {
      {Pass::fwd, "conv2d_fwd"}, {Pass::bwd, "conv2d_bwd"}, {Pass::fwdbwd, "conv2d_fwdbwd"}};
  for (const Layer& l : kLayers) {
    for (int t : thread_counts) {
      const std::string suffix = std::string("/") + l.name + "/t" + std::to_string(t);
      for (const auto& [pass, name] : passes) {
        benchmark::RegisterBenchmark(
            (std::string(name) + "/convtape" + suffix).c_str(),
            [&l, pass = pass, t](benchmark::State& s) { bm_convtape(s, l, pass, t); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
      benchmark::RegisterBenchmark(("conv2d_fwd/im2col_eigen" + suffix).c_str(),
                                   [&l, t](benchmark::State& s) { bm_im2col_eigen(s, l, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark((std::string("conv2d_fwd/reference/") + l.name + "/t1").c_str(),
                                 [&l](benchmark::State& s) { bm_reference(s, l); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("openmp",
#ifdef _OPENMP
                              "yes"
#else
                              "no"
#endif
  );
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
