// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/nn/loss.hpp"

#include <random>
#include <vector>

#include "convtape/gradcheck.hpp"
#include "support/catch.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Index;
using convtape::Reduction;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::row;

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
