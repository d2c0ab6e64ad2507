// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// The notebook's whole learning loop ("Learning a Kernel"): 10 iterations of tape, Conv2D
// forward (1 -> 1 channel, 1x2 kernel, no bias), squared loss, zero_grad, backward and an SGD
// step at lr 3e-2 on the 6x8 edge image — the DESIGN.md snippet verbatim. One benchmark iteration
// is one whole 10-step loop, starting from the same kernel each time, as
// benchmarks/peers/train_torch.py times PyTorch's.
//
// Names: train/convtape/<f32|f64>/t1. Counter `steps/s` as items.
#include <benchmark/benchmark.h>

#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/nn/conv2d.hpp"
#include "convtape/nn/loss.hpp"
#include "convtape/optim/sgd.hpp"

namespace {

template <class S>
void bm_train(benchmark::State& state) {
  using Matrix = convtape::MatrixX<S>;
  Matrix image = Matrix::Ones(6, 8);
  image.middleCols(2, 4).setZero();
  const Eigen::Matrix<S, 1, 2> edge(S(1), S(-1));
  const auto X = convtape::Tensor<S>::from_matrix(image);
  const auto Y = convtape::Tensor<S>::from_matrix(convtape::corr2d(image, edge));

  convtape::Conv2D<S> conv(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
  const convtape::Tensor<S> start = conv.weight.value;
  convtape::SGD<S> sgd(conv.parameters(), S(3e-2));
  S last_loss(0);
  for (auto _ : state) {
    conv.weight.value = start;
    for (int i = 0; i < 10; ++i) {
      convtape::Tape<S> tape;
      auto l = convtape::squared_loss(conv(tape.constant(X)), tape.constant(Y));
      auto total = convtape::sum(l);
      sgd.zero_grad();
      convtape::backward(total);
      sgd.step();
      last_loss = total.item();
    }
    benchmark::DoNotOptimize(last_loss);
  }
  state.SetItemsProcessed(state.iterations() * 10);
  // Check that the loop really learns (the loss falls from about 12 to below 0.1 in 10 steps).
  if (!(last_loss < S(0.1))) state.SkipWithError("the loop did not learn the kernel");
}

}  // namespace

BENCHMARK_TEMPLATE(bm_train, float)->Name("train/convtape/f32/t1")->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(bm_train, double)->Name("train/convtape/f64/t1")->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
