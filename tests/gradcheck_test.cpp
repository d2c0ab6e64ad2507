// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/gradcheck.hpp"

#include <random>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "convtape/nn/init.hpp"
#include "support/catch.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::gradcheck;
using convtape::GradContext;
using convtape::Op;
using convtape::Tensor;
using convtape::Var;
using support::random_tensor;
using Vars = std::vector<Var<double>>;

/// x^3 recorded as one Op, with the correct rule or with a wrong one (3 x instead of 3 x^2).
Var<double> cube(const Var<double>& x, bool correct) {
  Op<double> op("cube", {x});
  const auto v = op.input(0).flat().array();
  return op.record(convtape::tensor_from_flat<double>(op.input(0).shape(), v.cube().matrix()),
                   [correct](GradContext<double>& g) {
                     const auto xs = g.input(0).flat().array();
                     const auto dy = g.grad_output().flat().array();
                     if (correct) {
                       g.add_grad(0, (3 * xs.square() * dy).matrix());
                     } else {
                       g.add_grad(0, (3 * xs * dy).matrix());
                     }
                   });
}

TEST_CASE("gradcheck passes a correct gradient rule", "[gradcheck]") {
  const auto check = gradcheck<double>([](const Vars& v) { return cube(v[0], true); },
                                       {random_tensor({1, 2, 3, 4}, 1)});
  INFO(check.description);
  CHECK(check.passed);
  CHECK(static_cast<bool>(check));
  CHECK(check.elements == 24);
  CHECK(check.failures == 0);
  CHECK(check.max_error < 1e-8);
  CHECK_THAT(check.description, Contains("passed") && Contains("24 elements"));
}

TEST_CASE("gradcheck catches a wrong gradient rule and says where", "[gradcheck]") {
  Tensor<double> x(1, 1, 2, 2);
  x.flat() << 0.5, 1.0, -2.0, 3.0;  // 3x and 3x^2 agree only at x = 1
  const auto check =
      gradcheck<double>([](const Vars& v) { return convtape::sum(cube(v[0], false)); }, {x});
  CHECK_FALSE(check.passed);
  CHECK(check.failures == 3);
  // x = -2: tape -6, finite difference 12; x = 3: tape 9, finite difference 27.
  CHECK_THAT(check.max_abs_error, WithinAbs(18.0, 1e-6));
  CHECK_THAT(check.max_error, WithinAbs(18.0 / 13.0, 1e-6));  // |error| / (1 + |fd|) at x = -2
  CHECK_THAT(check.description,
             Contains("FAILED") && Contains("3 of 4") &&
                 Contains("input 0 element (0, 0, 1, 0): tape -6, finite difference 12") &&
                 Contains("input 0 element (0, 0, 1, 1): tape 9, finite difference 27"));
}

TEST_CASE("gradcheck weighs each output element differently", "[gradcheck]") {
  // A rule that swaps the gradients of two outputs passes a check that sums the outputs with
  // equal weights; gradcheck's random weights must catch it.
  auto swapped = [](const Vars& v) {
    Op<double> op("swapped", {v[0]});
    return op.record(Tensor<double>(op.input(0)), [](GradContext<double>& g) {
      const auto dy = g.grad_output().flat();
      g.add_grad(0, dy.reverse());
    });
  };
  const auto check = gradcheck<double>(swapped, {random_tensor({1, 1, 1, 2}, 2)});
  CHECK_FALSE(check.passed);
}

TEST_CASE("gradcheck works for several inputs, float, and functions of some inputs only",
          "[gradcheck]") {
  const Tensor<double> a = random_tensor({2, 1, 3, 3}, 3);
  const Tensor<double> b = random_tensor({2, 1, 3, 3}, 4);
  const Tensor<double> unused = random_tensor({1, 1, 1, 2}, 5);
  const auto check = gradcheck<double>(
      [](const Vars& v) { return convtape::mean(convtape::square(v[0] - v[1])); }, {a, b, unused});
  INFO(check.description);
  CHECK(check.passed);
  CHECK(check.elements == 38);

  const auto check_float = gradcheck<float>(
      [](const std::vector<Var<float>>& v) { return convtape::square(v[0]) * v[1]; },
      {a.cast<float>(), b.cast<float>()});
  INFO(check_float.description);
  CHECK(check_float.passed);
}

TEST_CASE("gradcheck rejects misuse", "[gradcheck][errors]") {
  const Tensor<double> x = random_tensor({1, 1, 2, 2}, 6);
  CHECK_THROWS_WITH(gradcheck<double>([](const Vars& v) { return v[0]; }, {x}, 0.0),
                    Contains("eps > 0"));
  CHECK_THROWS_WITH(gradcheck([](const Vars& v) { return v[0]; }, std::vector<Tensor<double>>{}),
                    Contains("at least one input"));
  convtape::Tape<double> other;
  CHECK_THROWS_WITH(
      gradcheck<double>(
          [&other](const Vars&) { return other.variable(Tensor<double>(1, 1, 1, 1)); }, {x}),
      Contains("another tape"));
}

}  // namespace
