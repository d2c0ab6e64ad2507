// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/autograd/conv_transpose2d.hpp"

#include <string>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "convtape/gradcheck.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/op_cases.hpp"
#include "support/random.hpp"

namespace {

using convtape::ConvTranspose2dOptions;
using convtape::gradcheck;
using convtape::Index;
using convtape::Shape4;
using convtape::Size2;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using convtape::VectorX;
using support::max_abs_diff;
using support::shape_error_message;
using Vars = std::vector<Var<double>>;

/// A small random transposed convolution with every option, and data for it.
struct Case {
  ConvTranspose2dOptions opts;
  bool bias = false;
  Tensor<double> x, w, b;
  std::string text;
};

Case random_case(support::Rng& rng) {
  const support::TransposedCase t = support::random_transposed_case(rng, 4, 2);
  Case c{t.opts,
         t.bias,
         rng.tensor<double>(t.x[0], t.x[1], t.x[2], t.x[3]),
         rng.tensor<double>(t.weight[0], t.weight[1], t.weight[2], t.weight[3]),
         rng.tensor<double>(1, t.out_channels(), 1, 1),
         t.text};
  return c;
}

TEST_CASE("differentiable conv_transpose2d matches the reference loops and finite differences",
          "[conv_transpose2d][gradcheck]") {
  support::Rng rng(51);
  for (int trial = 0; trial < 30; ++trial) {
    const Case c = random_case(rng);
    INFO("trial " << trial << ": " << c.text);
    const VectorX<double> bias = c.bias ? VectorX<double>(c.b.flat()) : VectorX<double>();
    Tape<double> tape;
    const Var<double> xv = tape.variable(c.x);
    const Var<double> wv = tape.variable(c.w);
    const Var<double> bv = tape.variable(c.b);
    const Var<double> y = c.bias ? convtape::conv_transpose2d(xv, wv, bv, c.opts)
                                 : convtape::conv_transpose2d(xv, wv, c.opts);
    CHECK(max_abs_diff(y.value(), convtape::reference::conv_transpose2d(c.x, c.w, bias, c.opts)) <
          1e-12);
    const Tensor<double> seed =
        rng.tensor<double>(y.shape()[0], y.shape()[1], y.shape()[2], y.shape()[3]);
    convtape::backward(y, seed);
    const convtape::Conv2dGrads<double> ref =
        convtape::reference::conv_transpose2d_backward(c.x, c.w, seed, c.opts);
    CHECK(max_abs_diff(xv.grad(), ref.input) < 1e-12);
    CHECK(max_abs_diff(wv.grad(), ref.weight) < 1e-12);
    if (c.bias) {
      CHECK((bv.grad().flat() - ref.bias).cwiseAbs().maxCoeff() < 1e-12);
    } else {
      CHECK(bv.grad().flat().isZero(0.0));  // not an operand
    }
    const auto check = gradcheck<double>(
        [&c](const Vars& v) {
          return c.bias ? convtape::conv_transpose2d(v[0], v[1], v[2], c.opts)
                        : convtape::conv_transpose2d(v[0], v[1], c.opts);
        },
        {c.x, c.w, c.b});
    INFO(check.description);
    CHECK(check.passed);
  }
}

TEST_CASE("differentiable conv_transpose2d in float agrees with double",
          "[conv_transpose2d][float]") {
  support::Rng rng(52);
  for (int trial = 0; trial < 10; ++trial) {
    const Case c = random_case(rng);
    INFO("trial " << trial << ": " << c.text);
    auto run = [&c](auto xt, auto wt, auto bt, auto& grads) {
      using S = typename decltype(xt)::Scalar;
      Tape<S> tape;
      const Var<S> xv = tape.variable(xt);
      const Var<S> wv = tape.variable(wt);
      const Var<S> bv = tape.variable(bt);
      const Var<S> loss =
          convtape::mean(convtape::square(convtape::conv_transpose2d(xv, wv, bv, c.opts)));
      convtape::backward(loss);
      grads = {xv.grad(), wv.grad(), bv.grad()};
      return loss.item();
    };
    std::vector<Tensor<double>> gd;
    std::vector<Tensor<float>> gf;
    const double ld = run(c.x, c.w, c.b, gd);
    const float lf = run(c.x.cast<float>(), c.w.cast<float>(), c.b.cast<float>(), gf);
    CHECK_THAT(static_cast<double>(lf), WithinRel(ld, 1e-5) || WithinAbs(ld, 1e-6));
    for (std::size_t i = 0; i < gd.size(); ++i) {
      CHECK(max_abs_diff(gf[i].cast<double>(), gd[i]) < 1e-5);
    }
  }
}

TEST_CASE("conv_transpose2d on vars throws exactly what the plain function throws",
          "[conv_transpose2d][errors]") {
  struct Bad {
    const char* what;
    Shape4 x, weight;
    Index bias;
    ConvTranspose2dOptions opts;
  };
  const Bad cases[] = {
      {"channel mismatch", {1, 3, 4, 4}, {2, 2, 3, 3}, 0, {}},
      {"groups do not divide", {1, 3, 4, 4}, {3, 1, 3, 3}, 0, ConvTranspose2dOptions().groups(2)},
      {"output_padding too large",
       {1, 1, 4, 4},
       {1, 1, 3, 3},
       0,
       ConvTranspose2dOptions().stride(2).output_padding(2, 0)},
      {"empty output", {1, 1, 2, 2}, {1, 1, 1, 1}, 0, ConvTranspose2dOptions().padding(1)},
      {"wrong bias size", {1, 1, 4, 4}, {1, 2, 3, 3}, 3, {}},
      {"empty x", {1, 0, 4, 4}, {1, 1, 3, 3}, 0, {}},
  };
  for (const Bad& bad : cases) {
    INFO(bad.what);
    const Tensor<double> x(bad.x);
    const Tensor<double> w(bad.weight);
    const std::string plain = shape_error_message(
        [&] { (void)convtape::conv_transpose2d(x, w, VectorX<double>::Zero(bad.bias), bad.opts); });
    REQUIRE_THAT(plain, Contains("conv_transpose2d:"));
    Tape<double> tape;
    CHECK(shape_error_message([&] {
            (void)convtape::conv_transpose2d(tape.variable(x), tape.variable(w),
                                             tape.variable(Tensor<double>(1, 1, 1, bad.bias)),
                                             bad.opts);
          }) == plain);
    if (bad.bias == 0) {
      CHECK(shape_error_message([&] {
              (void)convtape::conv_transpose2d(tape.variable(x), tape.variable(w), bad.opts);
            }) == shape_error_message([&] { (void)convtape::conv_transpose2d(x, w, bad.opts); }));
    }
  }
}

}  // namespace
