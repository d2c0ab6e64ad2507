// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/elementwise.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Index;
using convtape::Shape4;
using convtape::Tensor;
using support::random_tensor;
using support::shape_error_message;

/// Element (n, c, h, w) of `t` broadcast to a larger shape: a dimension of extent 1 reads index 0.
double broadcast_at(const Tensor<double>& t, Index n, Index c, Index h, Index w) {
  const Shape4& s = t.shape();
  return t(s[0] == 1 ? 0 : n, s[1] == 1 ? 0 : c, s[2] == 1 ? 0 : h, s[3] == 1 ? 0 : w);
}

/// The textbook definition of a broadcast binary operation, one output element at a time.
Tensor<double> broadcast_loop(const Tensor<double>& a, const Tensor<double>& b, const Shape4& out,
                              const std::function<double(double, double)>& f) {
  Tensor<double> y(out);
  for (Index n = 0; n < out[0]; ++n) {
    for (Index c = 0; c < out[1]; ++c) {
      for (Index h = 0; h < out[2]; ++h) {
        for (Index w = 0; w < out[3]; ++w) {
          y(n, c, h, w) = f(broadcast_at(a, n, c, h, w), broadcast_at(b, n, c, h, w));
        }
      }
    }
  }
  return y;
}

/// Shapes that broadcast against (2, 3, 4, 5): every subset of the dimensions set to 1.
std::vector<Shape4> stretched_shapes() {
  const Shape4 full{2, 3, 4, 5};
  std::vector<Shape4> shapes;
  for (int mask = 0; mask < 16; ++mask) {
    Shape4 s = full;
    for (std::size_t d = 0; d < 4; ++d) {
      if ((mask >> d) & 1) s[d] = 1;
    }
    shapes.push_back(s);
  }
  return shapes;
}

TEST_CASE("tensor + - * / broadcast every dimension of either operand, as the textbook loop",
          "[elementwise][broadcast]") {
  std::mt19937_64 rng(21);
  const std::vector<Shape4> shapes = stretched_shapes();
  for (const Shape4& sa : shapes) {
    for (const Shape4& sb : shapes) {
      Shape4 out;
      for (std::size_t d = 0; d < 4; ++d) out[d] = std::max(sa[d], sb[d]);
      const Tensor<double> a = random_tensor(sa, rng);
      Tensor<double> b = random_tensor(sb, rng);
      b.flat().array() += 2.0;  // away from zero, for the quotient
      INFO("a " << sa << ", b " << sb);
      CHECK(((a + b).flat() - broadcast_loop(a, b, out, std::plus<>()).flat()).isZero(0.0));
      CHECK(((a - b).flat() - broadcast_loop(a, b, out, std::minus<>()).flat()).isZero(0.0));
      CHECK(((a * b).flat() - broadcast_loop(a, b, out, std::multiplies<>()).flat()).isZero(0.0));
      CHECK(((a / b).flat() - broadcast_loop(a, b, out, std::divides<>()).flat()).isZero(0.0));
      CHECK((a * b).shape() == out);
    }
  }
}

TEST_CASE("broadcasting keeps extents of 0 and stretches 1 to 0, as NumPy", "[elementwise]") {
  const Tensor<double> a(2, 0, 3, 1);
  const Tensor<double> b(1, 1, 1, 4);
  CHECK((a + b).shape() == Shape4{2, 0, 3, 4});
  CHECK((a + b).empty());
}

TEST_CASE("shapes that do not broadcast throw shape_error naming the function and both shapes",
          "[elementwise][broadcast][errors]") {
  const Tensor<double> a(1, 3, 6, 7);
  const Tensor<double> b(1, 2, 1, 1);
  CHECK_THAT(shape_error_message([&] { (void)(a + b); }),
             Contains("operator+: shapes (1, 3, 6, 7) and (1, 2, 1, 1) do not broadcast") &&
                 Contains("dimension 1 is 3 and 2"));
  CHECK_THAT(shape_error_message([&] { (void)(b - a); }),
             Contains("operator-: shapes (1, 2, 1, 1) and (1, 3, 6, 7) do not broadcast"));
  CHECK_THAT(shape_error_message([&] { (void)(a * Tensor<double>(1, 3, 6, 2)); }),
             Contains("operator*:") && Contains("dimension 3"));
  CHECK_THAT(shape_error_message([&] { (void)(a / Tensor<double>(2, 3, 5, 7)); }),
             Contains("operator/:") && Contains("dimension 2 is 6 and 5"));
  CHECK_THAT(shape_error_message([&] {
               (void)convtape::broadcast_shape({0, 1, 1, 1}, {2, 1, 1, 1});
             }),
             Contains("broadcast_shape:"));
}

TEST_CASE("tensor-scalar arithmetic applies the scalar to every element", "[elementwise]") {
  const Tensor<double> t = random_tensor({2, 1, 3, 2}, 22);
  const auto x = t.flat().array();
  CHECK(((t + 1.5).flat().array() == x + 1.5).all());
  CHECK(((1.5 + t).flat().array() == x + 1.5).all());
  CHECK(((t - 1.5).flat().array() == x - 1.5).all());
  CHECK(((1.5 - t).flat().array() == 1.5 - x).all());
  CHECK(((t * -2.0).flat().array() == x * -2.0).all());
  CHECK(((-2.0 * t).flat().array() == x * -2.0).all());
  CHECK(((t / 4.0).flat().array() == x / 4.0).all());
  CHECK(((3.0 / t).flat().array() == 3.0 / x).all());
  CHECK(((-t).flat().array() == -x).all());
  const Tensor<float> f = t.cast<float>();
  CHECK((f * 2.0f).flat() == (f + f).flat());
}

TEST_CASE("activations on tensors are the elementwise functions of <cmath>", "[elementwise]") {
  Tensor<double> t = random_tensor({1, 2, 3, 4}, 23);
  t.flat() *= 4.0;
  const auto check = [&t](const Tensor<double>& y, double (*f)(double)) {
    REQUIRE(y.shape() == t.shape());
    for (Index i = 0; i < t.size(); ++i) {
      CHECK_THAT(y.data()[i],
                 WithinRel(f(t.data()[i]), 1e-14) || WithinAbs(f(t.data()[i]), 1e-300));
    }
  };
  check(convtape::relu(t), [](double x) { return x > 0 ? x : 0.0; });
  check(convtape::sigmoid(t), [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
  check(convtape::tanh(t), [](double x) { return std::tanh(x); });
  check(convtape::exp(t), [](double x) { return std::exp(x); });
  Tensor<double> positive = t;
  positive.flat() = positive.flat().cwiseAbs();
  t = positive;
  check(convtape::log(positive), [](double x) { return std::log(x); });
}

TEST_CASE("log gives IEEE results, and sigmoid saturates without NaN", "[elementwise][nonfinite]") {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const Tensor<double> t = support::row({0.0, -1.0, inf, 1.0});
  const Tensor<double> y = convtape::log(t);
  CHECK(y.data()[0] == -inf);
  CHECK(std::isnan(y.data()[1]));
  CHECK(y.data()[2] == inf);
  CHECK(y.data()[3] == 0.0);
  const Tensor<double> s = convtape::sigmoid(support::row({-1000.0, 1000.0, -inf, inf}));
  CHECK(s.data()[0] == 0.0);
  CHECK(s.data()[1] == 1.0);
  CHECK(s.data()[2] == 0.0);
  CHECK(s.data()[3] == 1.0);
  const Tensor<float> sf = convtape::sigmoid(support::row({-100.0, 100.0}).cast<float>());
  CHECK(sf.data()[0] == 0.0f);
  CHECK(sf.data()[1] == 1.0f);
}

}  // namespace
