// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/nn/loss.hpp"

#include "support/catch.hpp"
#include "support/tensors.hpp"

namespace {

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
