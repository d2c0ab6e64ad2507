// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/linear.hpp"

#include <random>

#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Index;
using convtape::Shape4;
using convtape::Tensor;
using support::max_abs_diff;
using support::random_tensor;
using support::shape_error_message;

Index pick(std::mt19937_64& rng, Index lo, Index hi) {
  return lo + static_cast<Index>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
}

/// x of a random (N, C, H, W) shape, and a weight (out, C*H*W, 1, 1).
struct LinearCase {
  Tensor<double> x;
  Tensor<double> w;
  Tensor<double> b;  ///< (1, out, 1, 1)
};

LinearCase random_linear_case(std::mt19937_64& rng) {
  const Index n = pick(rng, 1, 4);
  const Index c = pick(rng, 1, 5);
  const Index h = pick(rng, 1, 3);
  const Index w = pick(rng, 1, 3);
  const Index out = pick(rng, 1, 6);
  LinearCase k;
  k.x = random_tensor({n, c, h, w}, rng);
  k.w = random_tensor({out, c * h * w, 1, 1}, rng);
  k.b = random_tensor({1, out, 1, 1}, rng);
  return k;
}

TEST_CASE("linear matches the textbook loops on random shapes, with and without a bias",
          "[linear]") {
  std::mt19937_64 rng(31);
  for (int trial = 0; trial < 40; ++trial) {
    const LinearCase k = random_linear_case(rng);
    INFO("x " << k.x.shape() << ", weight " << k.w.shape());
    const Tensor<double> y = convtape::linear(k.x, k.w, k.b);
    CHECK(y.shape() == Shape4{k.x.dim(0), k.w.dim(0), 1, 1});
    CHECK(max_abs_diff(y, convtape::reference::linear(k.x, k.w, k.b)) < 1e-13);
    const Tensor<double> y0 = convtape::linear(k.x, k.w);
    CHECK(max_abs_diff(y0, convtape::reference::linear(k.x, k.w, Tensor<double>())) < 1e-13);
    // Any bias shape with `out` elements, and an empty bias as none.
    const Tensor<double> b_col = convtape::reshape(k.b, -1, 1, 1, 1);
    CHECK(max_abs_diff(convtape::linear(k.x, k.w, b_col), y) == 0.0);
    CHECK(max_abs_diff(convtape::linear(k.x, k.w, Tensor<double>()), y0) == 0.0);
  }
}

TEST_CASE("linear computes PyTorch's x W^T + b on a hand-worked case", "[linear]") {
  // x = [[1, 2, 3], [-1, 0, 1]], W = [[1, 0, -1], [2, 1, 0]], b = [0.5, -1]:
  // row 0: 1 - 3 + 0.5 = -1.5, 2 + 2 - 1 = 3; row 1: -1 - 1 + 0.5 = -1.5, -2 + 0 - 1 = -3.
  Tensor<double> x(2, 3, 1, 1);
  Tensor<double> w(2, 3, 1, 1);
  Tensor<double> b(1, 2, 1, 1);
  const double xs[] = {1, 2, 3, -1, 0, 1};
  const double ws[] = {1, 0, -1, 2, 1, 0};
  for (Index i = 0; i < 6; ++i) {
    x.data()[i] = xs[i];
    w.data()[i] = ws[i];
  }
  b.data()[0] = 0.5;
  b.data()[1] = -1.0;
  const Tensor<double> y = convtape::linear(x, w, b);
  CHECK(y(0, 0, 0, 0) == -1.5);
  CHECK(y(0, 1, 0, 0) == 3.0);
  CHECK(y(1, 0, 0, 0) == -1.5);
  CHECK(y(1, 1, 0, 0) == -3.0);
  // Backward for dy = ones: dx rows are the column sums of W, dW rows the column sums of x, db = N.
  const convtape::LinearGrads<double> g =
      convtape::linear_backward(x, w, Tensor<double>::ones({2, 2, 1, 1}));
  const double dx[] = {3, 1, -1, 3, 1, -1};
  const double dw[] = {0, 2, 4, 0, 2, 4};
  for (Index i = 0; i < 6; ++i) {
    CHECK(g.input.data()[i] == dx[i]);
    CHECK(g.weight.data()[i] == dw[i]);
  }
  CHECK(g.bias[0] == 2.0);
  CHECK(g.bias[1] == 2.0);
}

TEST_CASE("linear_backward is the adjoint of linear: <linear(x, W), dy> = <x, dx> = <W, dW>",
          "[linear]") {
  std::mt19937_64 rng(32);
  for (int trial = 0; trial < 20; ++trial) {
    const LinearCase k = random_linear_case(rng);
    const Tensor<double> dy = random_tensor({k.x.dim(0), k.w.dim(0), 1, 1}, rng);
    const convtape::LinearGrads<double> g = convtape::linear_backward(k.x, k.w, dy);
    const double forward = support::dot(convtape::linear(k.x, k.w), dy);
    CHECK_THAT(support::dot(k.x, g.input), WithinAbs(forward, 1e-12));
    CHECK_THAT(support::dot(k.w, g.weight), WithinAbs(forward, 1e-12));
    CHECK_THAT(g.bias.sum(), WithinAbs(dy.flat().sum(), 1e-12));
    CHECK(g.input.shape() == k.x.shape());
    CHECK(convtape::linear_backward(k.x, k.w, dy, false).input.empty());
  }
}

TEST_CASE("linear handles an empty batch and no input features", "[linear]") {
  const Tensor<double> w = random_tensor({3, 4, 1, 1}, 33);
  CHECK(convtape::linear(Tensor<double>(0, 4, 1, 1), w).shape() == Shape4{0, 3, 1, 1});
  const Tensor<double> b = random_tensor({1, 3, 1, 1}, 34);
  const Tensor<double> y =
      convtape::linear(Tensor<double>(2, 0, 1, 1), Tensor<double>(3, 0, 1, 1), b);
  CHECK(y.shape() == Shape4{2, 3, 1, 1});
  CHECK(y(1, 2, 0, 0) == b.data()[2]);
  // Backward with an empty batch: zero weight and bias gradients (found by shapes_fuzz as
  // UBSan's "offset to null pointer" in the column sums of an empty dy).
  const convtape::LinearGrads<double> g =
      convtape::linear_backward(Tensor<double>(0, 4, 1, 1), w, Tensor<double>(0, 3, 1, 1));
  CHECK(g.input.shape() == Shape4{0, 4, 1, 1});
  CHECK(g.weight.shape() == w.shape());
  CHECK(g.weight.flat().isZero(0.0));
  // No input features: an empty weight gradient, the bias gradient still the column sums.
  const Tensor<double> dy = random_tensor({2, 3, 1, 1}, 35);
  const convtape::LinearGrads<double> h =
      convtape::linear_backward(Tensor<double>(2, 0, 1, 1), Tensor<double>(3, 0, 1, 1), dy);
  CHECK(h.weight.empty());
  CHECK(h.input.shape() == Shape4{2, 0, 1, 1});
  CHECK_THAT(h.bias[1], WithinAbs(dy(0, 1, 0, 0) + dy(1, 1, 0, 0), 1e-15));
  // No outputs: a zero input gradient.
  const convtape::LinearGrads<double> k = convtape::linear_backward(
      Tensor<double>::ones({2, 4, 1, 1}), Tensor<double>(0, 4, 1, 1), Tensor<double>(2, 0, 1, 1));
  CHECK(k.input.shape() == Shape4{2, 4, 1, 1});
  CHECK(k.input.flat().isZero(0.0));
  CHECK(k.bias.size() == 0);
}

TEST_CASE("linear rejects mismatched shapes, naming them", "[linear][errors]") {
  const Tensor<double> x(2, 3, 4, 5);
  CHECK_THAT(shape_error_message([&] { (void)convtape::linear(x, Tensor<double>(10, 50, 1, 1)); }),
             Contains("linear: x (2, 3, 4, 5) has 60 features per row") &&
                 Contains("weight (10, 50, 1, 1) takes 50"));
  CHECK_THAT(
      shape_error_message([&] { (void)convtape::linear(x, Tensor<double>(1, 1, 10, 60)); }),
      Contains("linear: weight must have shape (out, in, 1, 1)") && Contains("(1, 1, 10, 60)"));
  CHECK_THAT(shape_error_message([&] {
               (void)convtape::linear(x, Tensor<double>(10, 60, 1, 1), Tensor<double>(1, 3, 1, 1));
             }),
             Contains("linear: bias has 3 elements") && Contains("10 outputs"));
  CHECK_THAT(
      shape_error_message([&] {
        (void)convtape::linear_backward(x, Tensor<double>(10, 60, 1, 1),
                                        Tensor<double>(2, 9, 1, 1));
      }),
      Contains("linear_backward: grad_out has shape (2, 9, 1, 1)") && Contains("(2, 10, 1, 1)"));
}

}  // namespace
