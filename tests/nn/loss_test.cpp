// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/nn/loss.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "convtape/gradcheck.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Index;
using convtape::Reduction;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::max_abs_diff;
using support::row;
using support::shape_error_message;
using support::tensor_of;

TEST_CASE("squared_loss is the elementwise (y_hat - y)^2 with gradient 2 (y_hat - y)",
          "[nn][loss]") {
  Tape<double> tape;
  const Var<double> y_hat = tape.variable(row({1.0, -2.0, 0.5}));
  const Var<double> y = tape.constant(row({3.0, -2.5, 0.5}));
  const Var<double> l = convtape::squared_loss(y_hat, y);
  REQUIRE(l.shape() == y.shape());
  CHECK_THAT(l.value().data()[0], WithinAbs(4.0, 0.0));
  CHECK_THAT(l.value().data()[1], WithinAbs(0.25, 0.0));
  CHECK_THAT(l.value().data()[2], WithinAbs(0.0, 0.0));
  convtape::backward(convtape::sum(l));
  CHECK_THAT(y_hat.grad().data()[0], WithinAbs(-4.0, 0.0));
  CHECK_THAT(y_hat.grad().data()[1], WithinAbs(1.0, 0.0));
  CHECK_THAT(y_hat.grad().data()[2], WithinAbs(0.0, 0.0));
}

TEST_CASE("squared_loss has the gradients finite differences give, for both operands",
          "[nn][loss][gradcheck]") {
  // Its own gradient rule (one node, not square(y_hat - y)): checked for y_hat and y alike,
  // weighted by another var so that the output gradient is not all ones.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Tensor<double> y_hat(2, 3, 4, 5), y(2, 3, 4, 5), weights(2, 3, 4, 5);
  for (Tensor<double>* t : {&y_hat, &y, &weights}) {
    for (Index i = 0; i < t->size(); ++i) t->data()[i] = u(rng);
  }
  const auto check = convtape::gradcheck<double>(
      [](const std::vector<Var<double>>& v) {
        return convtape::sum(convtape::squared_loss(v[0], v[1]) * v[2]);
      },
      {y_hat, y, weights});
  INFO(check.description);
  CHECK(check.passed);
  CHECK(check.elements == 3 * y.size());
}

TEST_CASE("mse_loss reduces the squared error by mean or sum", "[nn][loss]") {
  Tape<double> tape;
  const Var<double> y_hat = tape.variable(row({1.0, -2.0, 0.5, 4.0}));
  const Var<double> y = tape.constant(row({3.0, -2.5, 0.5, 3.0}));
  // Squared errors 4, 0.25, 0, 1: sum 5.25, mean 1.3125.
  SECTION("mean, the default") {
    const Var<double> l = convtape::mse_loss(y_hat, y);
    CHECK_THAT(l.item(), WithinAbs(1.3125, 1e-15));
    convtape::backward(l);
    CHECK_THAT(y_hat.grad().data()[0], WithinAbs(-1.0, 1e-15));  // 2 (1 - 3) / 4
    CHECK_THAT(y_hat.grad().data()[3], WithinAbs(0.5, 1e-15));   // 2 (4 - 3) / 4
  }
  SECTION("sum") {
    const Var<double> l = convtape::mse_loss(y_hat, y, Reduction::sum);
    CHECK_THAT(l.item(), WithinAbs(5.25, 1e-15));
    convtape::backward(l);
    CHECK_THAT(y_hat.grad().data()[0], WithinAbs(-4.0, 1e-15));
    CHECK_THAT(y_hat.grad().data()[3], WithinAbs(2.0, 1e-15));
  }
  SECTION("none: the squared errors themselves") {
    const Var<double> l = convtape::mse_loss(y_hat, y, Reduction::none);
    REQUIRE(l.shape() == y.shape());
    CHECK(l.value().flat() == row({4.0, 0.25, 0.0, 1.0}).flat());
  }
}

/// Logits with rows at +-1000 (a naive exp overflows there) and one moderate row: the inputs
/// tests/data/make_pytorch_values.py gives PyTorch.
Tensor<double> extreme_logits() {
  return tensor_of({3, 4, 1, 1}, {1000.0, -1000.0, 0.5, 999.0, 0.25, -0.5, 2.0, 1.0, -1000.0,
                                  -999.0, -1000.0, -998.5});
}

// The expected values below are PyTorch 1.13's `cross_entropy` and its autograd gradients,
// printed by tests/data/make_pytorch_values.py: an independent oracle, like hand-worked values.
// The loss gradient is pattern(shape, 3, 7, 3, 2) of the loss's shape: -1.5 for a reduced loss,
// (-1.5, 0, 1.5) for the losses of `none`.

TEST_CASE("cross_entropy gives PyTorch's losses and gradients, finite at logits of +-1000",
          "[nn][loss][cross_entropy][pytorch]") {
  const std::vector<Index> labels{3, 0, 1};
  struct Expected {
    Reduction reduction;
    convtape::Shape4 shape;
    std::vector<double> loss;
    std::vector<double> grad;
  };
  // clang-format off
  const Expected cases[] = {
      {Reduction::mean, {1, 1, 1, 1}, {1.589064381031985}, {
          -0.36552928931500245, 0.0, 0.0, 0.36552928931500245, 0.446489549904253,
          -0.025276546847348112, -0.3079313793152568, -0.1132816237416481, -0.0543479979991431,
          0.3522668246258007, -0.0543479979991431, -0.2435708286275146}},
      {Reduction::sum, {1, 1, 1, 1}, {4.767193143095955}, {
          -1.0965878679450074, 0.0, 0.0, 1.0965878679450074, 1.339468649712759,
          -0.07582964054204433, -0.9237941379457705, -0.33984487122494433, -0.1630439939974293,
          1.0568004738774022, -0.1630439939974293, -0.7307124858825438}},
      {Reduction::none, {3, 1, 1, 1}, {1.3132616875182228, 2.234731134701968, 1.2192003208757645}, {
          -1.0965878679450074, 0.0, 0.0, 1.0965878679450074, -0.0, 0.0, 0.0, 0.0,
          0.1630439939974293, -1.0568004738774022, 0.1630439939974293, 0.7307124858825438}},
  };
  // clang-format on
  for (const Expected& e : cases) {
    INFO("reduction " << static_cast<int>(e.reduction));
    Tape<double> tape;
    const Var<double> z = tape.variable(extreme_logits());
    const Var<double> l = convtape::cross_entropy(z, labels, e.reduction);
    REQUIRE(l.shape() == e.shape);
    for (Index i = 0; i < l.value().size(); ++i) {
      CHECK_THAT(l.value().data()[i], WithinRel(e.loss[static_cast<std::size_t>(i)], 1e-14));
    }
    convtape::backward(l, support::pattern(l.shape(), 3, 7, 3, 2));
    for (Index i = 0; i < z.grad().size(); ++i) {
      CHECK_THAT(z.grad().data()[i], WithinAbs(e.grad[static_cast<std::size_t>(i)], 1e-15));
    }
    // The tensor version computes the same losses.
    const Tensor<double> plain = convtape::cross_entropy(extreme_logits(), labels, e.reduction);
    CHECK(max_abs_diff(plain, l.value()) == 0.0);
  }
}

TEST_CASE("cross_entropy has the gradients finite differences give, in every reduction",
          "[nn][loss][cross_entropy][gradcheck]") {
  support::Rng rng(61);
  for (int trial = 0; trial < 10; ++trial) {
    const Index n = rng.index(1, 4);
    const Index c = rng.index(1, 5);
    Tensor<double> z = rng.tensor<double>(n, c, 1, 1);
    z.flat() *= 5.0;
    std::vector<Index> labels;
    for (Index i = 0; i < n; ++i) labels.push_back(rng.index(0, c - 1));
    for (const Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
      const auto check = convtape::gradcheck<double>(
          [&](const std::vector<Var<double>>& v) {
            return convtape::cross_entropy(v[0], labels, r);
          },
          {z});
      INFO("trial " << trial << ", reduction " << static_cast<int>(r) << ": " << check.description);
      CHECK(check.passed);
    }
  }
}

TEST_CASE("cross_entropy in float agrees with double, also at extreme logits",
          "[nn][loss][cross_entropy][float]") {
  const std::vector<Index> labels{3, 0, 1};
  Tape<double> td;
  const Var<double> zd = td.variable(extreme_logits());
  const Var<double> ld = convtape::cross_entropy(zd, labels);
  convtape::backward(ld);
  Tape<float> tf;
  const Var<float> zf = tf.variable(extreme_logits().cast<float>());
  const Var<float> lf = convtape::cross_entropy(zf, labels);
  convtape::backward(lf);
  CHECK(std::isfinite(lf.item()));
  CHECK_THAT(static_cast<double>(lf.item()), WithinRel(ld.item(), 1e-5));
  CHECK(max_abs_diff(zf.grad().cast<double>(), zd.grad()) < 1e-6);
}

TEST_CASE("cross_entropy rejects bad logits and labels, naming them",
          "[nn][loss][cross_entropy][errors]") {
  Tape<double> tape;
  const Var<double> z = tape.variable(Tensor<double>(2, 3, 1, 1));
  CHECK_THAT(
      shape_error_message([&] { (void)convtape::cross_entropy(z, {0}); }),
      Contains("cross_entropy:") && Contains("1 labels for 2 rows") && Contains("(2, 3, 1, 1)"));
  CHECK_THAT(shape_error_message([&] {
               (void)convtape::cross_entropy(z, {0, 3});
             }),
             Contains("cross_entropy:") && Contains("label 3 of row 1") && Contains("[0, 3)"));
  CHECK_THAT(shape_error_message([&] {
               (void)convtape::cross_entropy(z, {-1, 0});
             }),
             Contains("label -1 of row 0"));
  CHECK_THAT(shape_error_message([&] {
               (void)convtape::cross_entropy(tape.variable(Tensor<double>(2, 3, 2, 1)), {0, 1});
             }),
             Contains("cross_entropy:") && Contains("(N, C, 1, 1)") && Contains("(2, 3, 2, 1)"));
  CHECK_THAT(
      shape_error_message([&] { (void)convtape::cross_entropy(Tensor<double>(0, 3, 1, 1), {}); }),
      Contains("cross_entropy:") && Contains("non-empty"));
}

TEST_CASE("losses reject operands of different shapes, naming themselves", "[nn][loss][errors]") {
  Tape<double> tape;
  const Var<double> a = tape.variable(row({1.0, 2.0}));
  const Var<double> b = tape.constant(row({1.0, 2.0, 3.0}));
  CHECK_THROWS_WITH(convtape::squared_loss(a, b), Contains("squared_loss") &&
                                                      Contains("(1, 1, 1, 2)") &&
                                                      Contains("(1, 1, 1, 3)"));
  CHECK_THROWS_WITH(convtape::mse_loss(a, b), Contains("mse_loss"));
}

}  // namespace
