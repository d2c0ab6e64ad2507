// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/optim/adam.hpp"

#include <cmath>
#include <utility>
#include <vector>

#include "support/catch.hpp"

namespace {

using convtape::Adam;
using convtape::NamedTensor;
using convtape::Parameter;
using convtape::Tensor;

Tensor<double> scalar(double v) {
  Tensor<double> t(1, 1, 1, 1);
  t.data()[0] = v;
  return t;
}

// Expected values are worked by hand from PyTorch's documented Adam update (betas 0.9, 0.999,
// eps 1e-8 outside the square root, bias-corrected moments, weight decay added to g).

TEST_CASE("Adam takes bias-corrected steps", "[optim][adam]") {
  Parameter<double> p(scalar(1.0));
  Adam<double> adam({&p}, 0.1);
  // Step 1, g = 0.5: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25,
  // p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002.
  p.grad = scalar(0.5);
  adam.step();
  CHECK_THAT(p.value.data()[0], WithinAbs(0.900000002, 1e-15));
  // Step 2, g = -0.25: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
  // m^ = 0.02 / 0.19, v^ = 0.00031225 / 0.001999,
  // p = 0.900000002 - 0.1 * m^ / (sqrt(v^) + 1e-8) = 0.8733662987078...
  p.grad = scalar(-0.25);
  adam.step();
  CHECK_THAT(p.value.data()[0], WithinAbs(0.8733662987078463, 1e-13));
  CHECK(adam.steps() == 2);
}

TEST_CASE("Adam adds weight decay to the gradient", "[optim][adam]") {
  Parameter<double> p(scalar(2.0));
  Adam<double> adam({&p}, 0.01, 0.9, 0.999, 1e-8, 0.1);
  // Zero gradients, so g = 0.1 p. Step 1: g = 0.2, p = 2 - 0.01 * 0.2 / (0.2 + 1e-8).
  adam.step();
  CHECK_THAT(p.value.data()[0], WithinAbs(1.9900000005, 1e-13));
  // Step 2: g = 0.199, m = 0.0379, v = 0.000079561, p = 1.99 - 0.01 * (0.0379 / 0.19) /
  // (sqrt(0.000079561 / 0.001999) + 1e-8) = 1.98000133895...
  adam.step();
  CHECK_THAT(p.value.data()[0], WithinAbs(1.9800013389550066, 1e-12));
}

TEST_CASE("Adam's eps is added outside the square root", "[optim][adam]") {
  // g = 1e-8: m^ = 1e-8, sqrt(v^) = 1e-8, so the step is lr * 1e-8 / (1e-8 + 1e-8) = lr / 2.
  // (Inside the root it would be lr * 1e-8 / sqrt(1e-16 + 1e-8), about lr / 10000.)
  Parameter<double> p(scalar(1.0));
  Adam<double> adam({&p}, 0.1);
  p.grad = scalar(1e-8);
  adam.step();
  CHECK_THAT(p.value.data()[0], WithinAbs(0.95, 1e-12));
}

TEST_CASE("Adam rejects bad arguments, and a bad step changes nothing", "[optim][adam][errors]") {
  Parameter<double> p(scalar(1.0));
  CHECK_THROWS_WITH(Adam<double>({&p}, -1.0), Contains("Adam") && Contains("lr"));
  CHECK_THROWS_WITH(Adam<double>({&p}, 0.1, 1.0), Contains("beta1"));
  CHECK_THROWS_WITH(Adam<double>({&p}, 0.1, 0.9, -0.1), Contains("beta2"));
  CHECK_THROWS_WITH(Adam<double>({&p}, 0.1, 0.9, 0.999, -1e-8), Contains("eps"));
  CHECK_THROWS_WITH(Adam<double>({&p}, 0.1, 0.9, 0.999, 1e-8, std::nan("")),
                    Contains("weight_decay"));
  Adam<double> adam({&p}, 0.1);
  p.grad = Tensor<double>(1, 1, 1, 2);
  CHECK_THROWS_WITH(adam.step(), Contains("Adam::step"));
  CHECK(p.value.data()[0] == 1.0);
  CHECK(adam.steps() == 0);
}

}  // namespace

namespace {

TEST_CASE("Adam's state is its moments and step, and loading it continues a run exactly",
          "[optim][adam][state]") {
  Parameter<double> p(scalar(1.0));
  Adam<double> adam({&p}, 0.1);
  CHECK(adam.state().empty());
  p.grad = scalar(0.5);
  adam.step();  // m = 0.05, v = 0.00025 (worked above)
  const std::vector<NamedTensor<double>> state = adam.state();
  REQUIRE(state.size() == 3);
  CHECK(state[0].name == "exp_avg.0");
  CHECK_THAT(state[0].value.data()[0], WithinRel(0.05, 1e-12));
  CHECK(state[1].name == "exp_avg_sq.0");
  CHECK_THAT(state[1].value.data()[0], WithinRel(0.00025, 1e-12));
  CHECK(state[2].name == "step");
  CHECK(state[2].value.data()[0] == 1.0);

  // Loaded into a fresh optimizer over a copy, the second step is the one worked above (a fresh
  // optimizer would take a first, bias-corrected step of 0.1 instead).
  Parameter<double> copy(p.value);
  Adam<double> resumed({&copy}, 0.1);
  resumed.load_state(state);
  CHECK(resumed.steps() == 1);
  copy.grad = scalar(-0.25);
  resumed.step();
  CHECK_THAT(copy.value.data()[0], WithinAbs(0.8733662987078463, 1e-13));
  p.grad = scalar(-0.25);
  adam.step();
  CHECK(copy.value.data()[0] == p.value.data()[0]);

  resumed.load_state({});
  CHECK(resumed.steps() == 0);
  CHECK(resumed.state().empty());
}

TEST_CASE("Adam's load_state rejects a state that does not fit and changes nothing",
          "[optim][adam][state][errors]") {
  Parameter<double> p(scalar(1.0));
  Adam<double> adam({&p}, 0.1);
  p.grad = scalar(0.5);
  adam.step();
  std::vector<NamedTensor<double>> state = adam.state();
  const auto with = [&](std::size_t i, Tensor<double> value) {
    std::vector<NamedTensor<double>> s = state;
    s[i].value = std::move(value);
    return s;
  };
  CHECK_THROWS_WITH(adam.load_state(with(2, scalar(0.5))),
                    Contains("Adam::load_state") && Contains("step") && Contains("0.5"));
  CHECK_THROWS_WITH(adam.load_state(with(2, scalar(0.0))), Contains("step"));
  CHECK_THROWS_WITH(adam.load_state(with(2, Tensor<double>(1, 1, 1, 2))),
                    Contains("'step' must hold one value"));
  CHECK_THROWS_WITH(adam.load_state(with(1, Tensor<double>(1, 1, 2, 1))),
                    Contains("exp_avg_sq.0") && Contains("(1, 1, 2, 1)"));
  CHECK_THROWS_WITH(adam.load_state({state[0], state[2]}),
                    Contains("state 'exp_avg_sq.0' is missing"));
  state[1].value = scalar(7.0);
  CHECK_THROWS_WITH(adam.load_state({state[0], state[1]}), Contains("'step' is missing"));
  const std::vector<NamedTensor<double>> now = adam.state();
  CHECK_THAT(now[1].value.data()[0], WithinRel(0.00025, 1e-12));  // unchanged by failed loads
  CHECK(adam.steps() == 1);
}

}  // namespace
