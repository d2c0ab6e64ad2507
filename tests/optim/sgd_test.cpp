// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/optim/sgd.hpp"

#include <vector>

#include "support/catch.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Parameter;
using convtape::SGD;
using convtape::Tensor;
using support::row;

void set_grad(Parameter<double>& p, std::initializer_list<double> g) { p.grad = row(g); }

// Expected values below are worked by hand from PyTorch's documented SGD update
// (d = g + wd p; b = momentum b + d, b = d on the first step; p -= lr b).

TEST_CASE("SGD without momentum is p -= lr * (g + weight_decay * p)", "[optim][sgd]") {
  Parameter<double> p(row({1.0, -2.0}));
  SECTION("plain") {
    SGD<double> sgd({&p}, 0.1);
    set_grad(p, {0.5, 0.25});
    sgd.step();  // 1 - 0.05, -2 - 0.025
    CHECK_THAT(p.value.data()[0], WithinAbs(0.95, 1e-15));
    CHECK_THAT(p.value.data()[1], WithinAbs(-2.025, 1e-15));
  }
  SECTION("with weight decay 0.1") {
    SGD<double> sgd({&p}, 0.1, 0.0, 0.1);
    set_grad(p, {0.5, 0.25});
    sgd.step();  // d = (0.6, 0.05)
    CHECK_THAT(p.value.data()[0], WithinAbs(0.94, 1e-15));
    CHECK_THAT(p.value.data()[1], WithinAbs(-2.005, 1e-15));
  }
}

TEST_CASE("SGD with momentum keeps a buffer that starts at the first gradient", "[optim][sgd]") {
  SECTION("momentum 0.9, constant gradient") {
    Parameter<double> p(row({1.0, -2.0}));
    SGD<double> sgd({&p}, 0.1, 0.9);
    set_grad(p, {0.5, 0.25});
    sgd.step();  // b = (0.5, 0.25)
    CHECK_THAT(p.value.data()[0], WithinAbs(0.95, 1e-15));
    CHECK_THAT(p.value.data()[1], WithinAbs(-2.025, 1e-15));
    sgd.step();  // b = (0.95, 0.475)
    CHECK_THAT(p.value.data()[0], WithinAbs(0.855, 1e-15));
    CHECK_THAT(p.value.data()[1], WithinAbs(-2.0725, 1e-15));
    sgd.step();  // b = (1.355, 0.6775)
    CHECK_THAT(p.value.data()[0], WithinAbs(0.7195, 1e-15));
    CHECK_THAT(p.value.data()[1], WithinAbs(-2.14025, 1e-15));
  }
  SECTION("momentum 0.5 with weight decay 0.5 and a zero gradient") {
    Parameter<double> p(row({1.0}));
    SGD<double> sgd({&p}, 0.1, 0.5, 0.5);
    sgd.step();  // d = 0.5, b = 0.5
    CHECK_THAT(p.value.data()[0], WithinAbs(0.95, 1e-15));
    sgd.step();  // d = 0.475, b = 0.25 + 0.475 = 0.725
    CHECK_THAT(p.value.data()[0], WithinAbs(0.8775, 1e-15));
  }
}

TEST_CASE("SGD updates every parameter and zero_grad clears every gradient", "[optim][sgd]") {
  Parameter<double> a(row({1.0}));
  Parameter<double> b(row({2.0, 3.0}));
  SGD<double> sgd({&a, &b}, 0.5);
  set_grad(a, {1.0});
  set_grad(b, {2.0, -2.0});
  sgd.step();
  CHECK_THAT(a.value.data()[0], WithinAbs(0.5, 0.0));
  CHECK_THAT(b.value.data()[0], WithinAbs(1.0, 0.0));
  CHECK_THAT(b.value.data()[1], WithinAbs(4.0, 0.0));
  sgd.zero_grad();
  CHECK(a.grad.flat().isZero(0.0));
  CHECK(b.grad.flat().isZero(0.0));
  CHECK(sgd.parameters().size() == 2);
  sgd.set_lr(0.25);
  CHECK(sgd.lr() == 0.25);
}

TEST_CASE("SGD rejects bad arguments, and a bad step changes nothing", "[optim][sgd][errors]") {
  Parameter<double> p(row({1.0, 2.0}));
  CHECK_THROWS_WITH(SGD<double>({&p}, -0.1), Contains("SGD") && Contains("lr"));
  CHECK_THROWS_WITH(SGD<double>({&p}, 0.1, -0.5), Contains("momentum"));
  CHECK_THROWS_WITH(SGD<double>({&p}, 0.1, 0.0, -1.0), Contains("weight_decay"));
  CHECK_THROWS_WITH(SGD<double>({}, 0.1), Contains("empty parameter list"));
  CHECK_THROWS_WITH(SGD<double>({nullptr}, 0.1), Contains("null"));

  Parameter<double> q(row({5.0}));
  SGD<double> sgd({&q, &p}, 0.1, 0.9);
  set_grad(q, {1.0});
  p.grad = row({1.0});  // wrong shape
  CHECK_THROWS_WITH(sgd.step(), Contains("SGD::step") && Contains("parameter 1"));
  CHECK(q.value.data()[0] == 5.0);  // nothing was updated
  p.zero_grad();
  sgd.step();
  p.value = row({1.0, 2.0, 3.0});  // reshaped after a momentum step
  p.zero_grad();
  CHECK_THROWS_WITH(sgd.step(), Contains("changed shape"));
}

}  // namespace
