// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// The notebook's "Learning a Kernel" section: learn K = [1, -1] from X (6x8, columns 2..5 black)
// and Y = corr2d(X, K), with a 1x2 Conv2D without bias, the summed squared loss and lr 3e-2, the
// correct loop (backward and update inside every iteration).
//
// Why the exact values hold: with kernel (a, b) every row of X holds the pairs (1,1), (1,0),
// (0,0) x3, (0,1), (1,1) against targets 0, 1, 0, 0, 0, -1, 0, so the loss over the six rows is
// L = 6 [2 (a + b)^2 + (a - 1)^2 + (b + 1)^2] = 15 s^2 + 3 (d - 2)^2 with s = a + b, d = a - b.
// One step with lr 0.03 maps s to -0.8 s and d - 2 to 0.64 (d - 2). From a zero kernel s stays 0,
// so after k steps a = -b = 1 - 0.64^k and L = 12 * 0.64^(2k) = 12 * 0.4096^k.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "convtape/convtape.hpp"
#include "support/catch.hpp"

namespace {

using convtape::Conv2D;
using convtape::Conv2dOptions;
using convtape::Tensor;

struct Notebook {
  Tensor<double> X;
  Tensor<double> Y;
  Notebook() {
    Eigen::MatrixXd x = Eigen::MatrixXd::Ones(6, 8);
    x.middleCols(2, 4).setZero();
    Eigen::MatrixXd k(1, 2);
    k << 1.0, -1.0;
    X = Tensor<double>::from_matrix(x);
    Y = Tensor<double>::from_matrix(convtape::corr2d(x, k));
  }
};

Conv2D<double> notebook_layer() {
  return Conv2D<double>(1, 1, {1, 2}, Conv2dOptions().bias(false));
}

void set_kernel(Conv2D<double>& conv, double a, double b) {
  conv.weight.value.data()[0] = a;
  conv.weight.value.data()[1] = b;
}

/// Runs the notebook's loop (DESIGN.md's snippet) and returns the loss of every iteration,
/// computed before that iteration's update.
template <class Optimizer>
std::vector<double> train(Conv2D<double>& conv, Optimizer& optimizer, int iterations) {
  const Notebook nb;
  std::vector<double> losses;
  for (int i = 0; i < iterations; ++i) {
    convtape::Tape<double> tape;
    auto l = convtape::squared_loss(conv(tape.constant(nb.X)), tape.constant(nb.Y));
    optimizer.zero_grad();
    const auto loss = convtape::sum(l);
    convtape::backward(loss);
    optimizer.step();
    losses.push_back(loss.item());
  }
  return losses;
}

std::string three_decimals(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", v);
  return text;
}

void check_kernel_near(const Conv2D<double>& conv, double a, double b, double tolerance) {
  CHECK_THAT(conv.weight.value.data()[0], WithinAbs(a, tolerance));
  CHECK_THAT(conv.weight.value.data()[1], WithinAbs(b, tolerance));
}

TEST_CASE("the DESIGN.md training loop compiles and learns the kernel verbatim",
          "[notebook][training]") {
  const Notebook nb;
  const Tensor<double>& X = nb.X;
  const Tensor<double>& Y = nb.Y;
  // From DESIGN.md, unchanged:
  convtape::Conv2D<double> conv(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
  convtape::SGD<double> sgd(conv.parameters(), 3e-2);
  for (int i = 0; i < 10; ++i) {
    convtape::Tape<double> tape;
    auto l = convtape::squared_loss(conv(tape.constant(X)), tape.constant(Y));
    sgd.zero_grad();
    convtape::backward(convtape::sum(l));
    sgd.step();
  }
  // From PyTorch's init (|a|, |b| < 0.71), |s| shrinks to < 0.16 and |d - 2| to < 0.04.
  check_kernel_near(conv, 1.0, -1.0, 0.1);
}

TEST_CASE("from a zero kernel the loss is exactly 12 * 0.4096^k", "[notebook][training]") {
  Conv2D<double> conv = notebook_layer();
  convtape::init::zeros(conv.weight.value);
  convtape::SGD<double> sgd(conv.parameters(), 3e-2);
  const std::vector<double> losses = train(conv, sgd, 10);
  for (int k = 0; k < 10; ++k) {
    INFO("iteration " << k);
    CHECK_THAT(losses[static_cast<std::size_t>(k)], WithinRel(12.0 * std::pow(0.4096, k), 1e-12));
  }
  const double a = 1.0 - std::pow(0.64, 10);
  check_kernel_near(conv, a, -a, 1e-12);
  check_kernel_near(conv, 0.988471, -0.988471, 5e-7);
}

TEST_CASE("from the book's start the logged losses are the book's, to 3 decimals",
          "[notebook][training]") {
  Conv2D<double> conv = notebook_layer();
  set_kernel(conv, 0.006834, 0.012998);
  convtape::SGD<double> sgd(conv.parameters(), 3e-2);
  const std::vector<double> losses = train(conv, sgd, 10);
  // d2l's published MXNet run: batch 2, 4, 6, 8, 10.
  CHECK(three_decimals(losses[1]) == "4.949");
  CHECK(three_decimals(losses[3]) == "0.831");
  CHECK(three_decimals(losses[5]) == "0.140");
  CHECK(three_decimals(losses[7]) == "0.024");
  CHECK(three_decimals(losses[9]) == "0.004");
  // ... and its learned kernel, printed there as float32 [[0.9895, -0.9873705]].
  check_kernel_near(conv, 0.9895, -0.9873705, 1e-6);
}

TEST_CASE("from MXNet's default init the loss falls fast and the kernel converges",
          "[notebook][training]") {
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    INFO("seed " << seed);
    Conv2D<double> conv = notebook_layer();
    std::mt19937_64 rng(seed);
    convtape::init::mxnet_default(conv.weight.value, conv.bias.value, rng);
    convtape::SGD<double> sgd(conv.parameters(), 3e-2);
    const std::vector<double> losses = train(conv, sgd, 50);
    for (std::size_t batch = 4; batch <= 10; batch += 2) {
      CHECK(losses[batch - 1] < losses[batch - 3]);  // falls at every logged batch
    }
    CHECK(losses[9] < 0.05);
    check_kernel_near(conv, 1.0, -1.0, 1e-3);
  }
}

TEST_CASE("from PyTorch's default init the kernel also converges", "[notebook][training]") {
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    INFO("seed " << seed);
    Conv2D<double> conv(1, 1, {1, 2}, Conv2dOptions().bias(false), seed);
    convtape::SGD<double> sgd(conv.parameters(), 3e-2);
    train(conv, sgd, 50);
    check_kernel_near(conv, 1.0, -1.0, 1e-3);
  }
}

TEST_CASE("momentum SGD and Adam learn the notebook's kernel too", "[notebook][training]") {
  SECTION("SGD with momentum 0.5") {
    Conv2D<double> conv = notebook_layer();
    convtape::SGD<double> sgd(conv.parameters(), 3e-2, 0.5);
    const std::vector<double> losses = train(conv, sgd, 50);
    CHECK(losses.back() < 1e-8);
    check_kernel_near(conv, 1.0, -1.0, 1e-4);
  }
  SECTION("Adam with lr 0.1") {
    Conv2D<double> conv = notebook_layer();
    convtape::Adam<double> adam(conv.parameters(), 0.1);
    const std::vector<double> losses = train(conv, adam, 200);
    CHECK(losses.back() < 1e-6);
    check_kernel_near(conv, 1.0, -1.0, 1e-3);
  }
}

TEST_CASE("one update maps s = a + b to -0.8 s and d = a - b to 2 + 0.64 (d - 2)",
          "[notebook][training]") {
  Conv2D<double> conv = notebook_layer();
  set_kernel(conv, 0.006834, 0.012998);
  convtape::SGD<double> sgd(conv.parameters(), 3e-2);
  train(conv, sgd, 1);
  // s = 0.019832 -> -0.8 s; d - 2 = -2.006164 -> 0.64 (d - 2).
  const double s = -0.8 * 0.019832;
  const double d = 2.0 + 0.64 * (0.006834 - 0.012998 - 2.0);
  check_kernel_near(conv, (s + d) / 2, (s - d) / 2, 1e-12);
}

/// The notebook's own layer (In [18]) as a user writes it on the tape: a (kh, kw) kernel and a
/// scalar bias of shape (1, 1, 1, 1) as parameters, `forward` = corr2d(x, weight) + bias, the
/// bias broadcast over the whole plane.
struct NotebookConv2D {
  convtape::Parameter<double> weight;
  convtape::Parameter<double> bias;
  explicit NotebookConv2D(convtape::Size2 kernel_size)
      : weight(Tensor<double>(1, 1, kernel_size.rows, kernel_size.cols)),
        bias(Tensor<double>(1, 1, 1, 1)) {}
  convtape::Var<double> forward(const convtape::Var<double>& x) {
    convtape::Tape<double> tape = x.tape();
    return convtape::corr2d(x, tape.parameter(weight)) + tape.parameter(bias);
  }
  std::vector<convtape::ParameterRef<double>> parameters() { return {weight, bias}; }
};

TEST_CASE("the notebook's own Conv2D block, corr2d(x, w) + b, learns the kernel and a bias",
          "[notebook][training][broadcast]") {
  // Targets Y + t. With kernel (a, b), bias c and u = c - t, the summed loss over the six rows is
  // L = 6 [2 (a + b + u)^2 + (a + u - 1)^2 + 3 u^2 + (b + u + 1)^2] (see the file comment), so
  // dL/da = 6 [4 (a + b + u) + 2 (a + u - 1)], dL/db = 6 [4 (a + b + u) + 2 (b + u + 1)],
  // dL/dc = 6 [4 (a + b + u) + 2 (a + u - 1) + 6 u + 2 (b + u + 1)], and the unique minimum is
  // a = 1, b = -1, c = t.
  const Notebook nb;
  for (const double t : {0.0, 0.25}) {
    INFO("target bias " << t);
    Tensor<double> target = nb.Y;
    target.flat().array() += t;
    NotebookConv2D layer({1, 2});
    layer.weight.value.data()[0] = 0.2;
    layer.weight.value.data()[1] = 0.3;
    layer.bias.value.data()[0] = 0.5;
    convtape::SGD<double> sgd(layer.parameters(), 1e-2);
    for (int i = 0; i < 100; ++i) {
      convtape::Tape<double> tape;
      const auto l = convtape::sum(
          convtape::squared_loss(layer.forward(tape.constant(nb.X)), tape.constant(target)));
      sgd.zero_grad();
      convtape::backward(l);
      if (i == 0) {
        const double u = 0.5 - t;
        const double sum = 0.2 + 0.3 + u;
        CHECK_THAT(layer.weight.grad.data()[0],
                   WithinAbs(6 * (4 * sum + 2 * (0.2 + u - 1)), 1e-12));
        CHECK_THAT(layer.weight.grad.data()[1],
                   WithinAbs(6 * (4 * sum + 2 * (0.3 + u + 1)), 1e-12));
        CHECK_THAT(layer.bias.grad.data()[0],
                   WithinAbs(6 * (4 * sum + 2 * (0.2 + u - 1) + 6 * u + 2 * (0.3 + u + 1)), 1e-12));
      }
      sgd.step();
    }
    CHECK_THAT(layer.weight.value.data()[0], WithinAbs(1.0, 1e-5));
    CHECK_THAT(layer.weight.value.data()[1], WithinAbs(-1.0, 1e-5));
    CHECK_THAT(layer.bias.value.data()[0], WithinAbs(t, 1e-5));
  }
}

}  // namespace
