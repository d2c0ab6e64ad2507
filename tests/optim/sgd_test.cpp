// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/optim/sgd.hpp"

#include <vector>

#include "support/catch.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::NamedTensor;
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

namespace {

TEST_CASE("SGD's state is its momentum buffers, and loading it continues a run exactly",
          "[optim][sgd][state]") {
  Parameter<double> p(row({1.0, -2.0}));
  SGD<double> sgd({&p}, 0.1, 0.9);
  CHECK(sgd.state().empty());  // no step yet
  set_grad(p, {0.5, 0.25});
  sgd.step();  // b = g on the first step (worked above)
  const std::vector<NamedTensor<double>> state = sgd.state();
  REQUIRE(state.size() == 1);
  CHECK(state[0].name == "momentum_buffer.0");
  CHECK(state[0].value.data()[0] == 0.5);
  CHECK(state[0].value.data()[1] == 0.25);

  // A second optimizer over a copy of the parameter, given the state, takes the steps the first
  // one takes (a fresh one would start its buffer over: b = g, not 0.9 b + g).
  Parameter<double> copy(p.value);
  SGD<double> resumed({&copy}, 0.1, 0.9);
  resumed.load_state(state);
  for (int i = 0; i < 2; ++i) {
    set_grad(p, {0.5, 0.25});
    set_grad(copy, {0.5, 0.25});
    sgd.step();
    resumed.step();
  }
  CHECK(copy.value.data()[0] == p.value.data()[0]);
  CHECK(copy.value.data()[1] == p.value.data()[1]);
  CHECK_THAT(p.value.data()[0], WithinAbs(0.7195, 1e-15));  // the third step worked above

  resumed.load_state({});  // back to before the first step: b = g again
  set_grad(copy, {1.0, 1.0});
  const double before = copy.value.data()[0];
  resumed.step();
  CHECK_THAT(copy.value.data()[0], WithinAbs(before - 0.1, 1e-15));
}

TEST_CASE("SGD's load_state rejects a state that does not fit and changes nothing",
          "[optim][sgd][state][errors]") {
  Parameter<double> p(row({1.0, -2.0}));
  SGD<double> sgd({&p}, 0.1, 0.9);
  set_grad(p, {0.5, 0.25});
  sgd.step();
  const std::vector<NamedTensor<double>> good = sgd.state();
  CHECK_THROWS_WITH(sgd.load_state({{"momentum_buffer.0", row({1.0})}}),
                    Contains("SGD::load_state") && Contains("momentum_buffer.0") &&
                        Contains("(1, 1, 1, 1)") && Contains("(1, 1, 1, 2)"));
  CHECK_THROWS_WITH(sgd.load_state({{"momentum_buffer.1", row({1.0, 2.0})}}),
                    Contains("unknown state 'momentum_buffer.1'"));
  CHECK_THROWS_WITH(sgd.load_state({good[0], good[0]}), Contains("given twice"));
  CHECK_THROWS_WITH(sgd.load_state({{"exp_avg.0", row({1.0, 2.0})}}), Contains("unknown"));
  CHECK(sgd.state()[0].value.data()[0] == 0.5);  // unchanged

  SGD<double> plain({&p}, 0.1);  // no momentum, no state
  CHECK(plain.state().empty());
  CHECK_THROWS_WITH(plain.load_state(good), Contains("has no state"));
}

}  // namespace
