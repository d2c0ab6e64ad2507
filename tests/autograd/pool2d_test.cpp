// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/autograd/pool2d.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <random>
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

using convtape::gradcheck;
using convtape::Index;
using convtape::Pool2dOptions;
using convtape::Shape4;
using convtape::Size2;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::max_abs_diff;
using support::shape_error_message;
using Vars = std::vector<Var<double>>;

/// A tensor of `shape` holding distinct values 0.1 apart in random order, so that no two samples
/// of a window are within a finite-difference step of each other (max pooling has a kink there).
Tensor<double> distinct_tensor(const Shape4& shape, std::mt19937_64& rng) {
  Tensor<double> t(shape);
  std::vector<Index> order(static_cast<std::size_t>(t.size()));
  std::iota(order.begin(), order.end(), Index(0));
  std::shuffle(order.begin(), order.end(), rng);
  for (Index i = 0; i < t.size(); ++i) {
    t.data()[i] = 0.1 * static_cast<double>(order[static_cast<std::size_t>(i)]) - 1.0;
  }
  return t;
}

TEST_CASE("pooling on vars has the gradients finite differences give", "[pool2d][gradcheck]") {
  support::Rng rng(31);
  std::mt19937_64 values(32);
  for (int trial = 0; trial < 40; ++trial) {
    const support::PoolCase c = support::random_pool_case(rng, 6, 3);
    const Tensor<double> x = distinct_tensor(c.x, values);
    INFO("trial " << trial << ": " << c.text);
    const Size2 out(rng.index(1, 4), rng.index(1, 4));
    using F = std::function<Var<double>(const Vars&)>;
    const std::pair<const char*, F> cases[] = {
        {"max_pool2d",
         [&c](const Vars& v) { return convtape::max_pool2d(v[0], c.kernel, c.opts); }},
        {"avg_pool2d",
         [&c](const Vars& v) { return convtape::avg_pool2d(v[0], c.kernel, c.opts); }},
        {"adaptive_avg_pool2d",
         [out](const Vars& v) { return convtape::adaptive_avg_pool2d(v[0], out); }},
        {"global_avg_pool2d", [](const Vars& v) { return convtape::global_avg_pool2d(v[0]); }},
    };
    for (const auto& [name, f] : cases) {
      const auto check = gradcheck<double>(f, {x});
      INFO(name << ": " << check.description);
      CHECK(check.passed);
    }
  }
}

TEST_CASE("pooling on vars computes the tensor functions and the reference gradients", "[pool2d]") {
  support::Rng rng(33);
  for (int trial = 0; trial < 40; ++trial) {
    const support::PoolCase c = support::random_pool_case(rng, 6, 3);
    const Tensor<double> x = rng.tensor<double>(c.x[0], c.x[1], c.x[2], c.x[3]);
    INFO("trial " << trial << ": " << c.text);
    Tape<double> tape;
    const Var<double> xv = tape.variable(x);
    const Var<double> ym = convtape::max_pool2d(xv, c.kernel, c.opts);
    const Var<double> ya = convtape::avg_pool2d(xv, c.kernel, c.opts);
    CHECK(max_abs_diff(ym.value(), convtape::max_pool2d(x, c.kernel, c.opts)) == 0.0);
    CHECK(max_abs_diff(ya.value(), convtape::avg_pool2d(x, c.kernel, c.opts)) == 0.0);
    const Tensor<double> dy =
        rng.tensor<double>(ym.shape()[0], ym.shape()[1], ym.shape()[2], ym.shape()[3]);
    Tensor<double> dy2(dy.shape());
    dy2.flat() = 2.0 * dy.flat();
    // One backward pass through both: x's gradient is the sum of the two reference gradients.
    const Var<double> loss = convtape::sum(ym * tape.constant(dy) + ya * tape.constant(dy2));
    convtape::backward(loss);
    Tensor<double> want = convtape::reference::max_pool2d_backward(x, dy, c.kernel, c.opts);
    want.flat() +=
        convtape::reference::avg_pool2d_backward(x.shape(), dy2, c.kernel, c.opts).flat();
    CHECK(max_abs_diff(xv.grad(), want) < 1e-14);
  }
}

TEST_CASE("pooling on vars in float agrees with double", "[pool2d][float]") {
  support::Rng rng(34);
  for (int trial = 0; trial < 20; ++trial) {
    const support::PoolCase c = support::random_pool_case(rng, 6, 3);
    const Tensor<double> x = rng.tensor<double>(c.x[0], c.x[1], c.x[2], c.x[3]);
    INFO("trial " << trial << ": " << c.text);
    auto run = [&c](auto xt, auto& grad) {
      using S = typename decltype(xt)::Scalar;
      Tape<S> tape;
      const Var<S> xv = tape.variable(xt);
      const Var<S> loss =
          convtape::sum(convtape::square(convtape::max_pool2d(xv, c.kernel, c.opts) +
                                         convtape::avg_pool2d(xv, c.kernel, c.opts))) +
          convtape::sum(convtape::global_avg_pool2d(xv * xv));
      convtape::backward(loss);
      grad = xv.grad();
      return loss.item();
    };
    Tensor<double> gd;
    Tensor<float> gf;
    const double ld = run(x, gd);
    const float lf = run(x.cast<float>(), gf);
    CHECK_THAT(static_cast<double>(lf), WithinRel(ld, 1e-5) || WithinAbs(ld, 1e-6));
    CHECK(max_abs_diff(gf.cast<double>(), gd) < 1e-5);
  }
}

TEST_CASE("pooling on vars throws exactly what the tensor functions throw", "[pool2d][errors]") {
  struct Bad {
    const char* what;
    Shape4 x;
    Size2 kernel;
    Pool2dOptions opts;
  };
  const Bad cases[] = {
      {"kernel larger than input", {1, 1, 2, 5}, {3, 3}, {}},
      {"zero kernel", {1, 1, 5, 5}, {0, 1}, {}},
      {"zero stride", {1, 1, 5, 5}, 2, Pool2dOptions().stride(0, 1)},
      {"padding above half the kernel", {1, 1, 5, 5}, 2, Pool2dOptions().padding(2)},
      {"empty x", {0, 1, 5, 5}, 2, {}},
  };
  for (const Bad& bad : cases) {
    INFO(bad.what);
    const Tensor<double> x(bad.x);
    Tape<double> tape;
    const std::string max_plain =
        shape_error_message([&] { (void)convtape::max_pool2d(x, bad.kernel, bad.opts); });
    REQUIRE_THAT(max_plain, Contains("max_pool2d:"));
    CHECK(shape_error_message([&] {
            (void)convtape::max_pool2d(tape.variable(x), bad.kernel, bad.opts);
          }) == max_plain);
    const std::string avg_plain =
        shape_error_message([&] { (void)convtape::avg_pool2d(x, bad.kernel, bad.opts); });
    REQUIRE_THAT(avg_plain, Contains("avg_pool2d:"));
    CHECK(shape_error_message([&] {
            (void)convtape::avg_pool2d(tape.variable(x), bad.kernel, bad.opts);
          }) == avg_plain);
  }
  Tape<double> tape;
  const Tensor<double> x(1, 2, 3, 3);
  CHECK(shape_error_message([&] {
          (void)convtape::adaptive_avg_pool2d(tape.variable(x), {3, 0});
        }) == shape_error_message([&] {
          (void)convtape::adaptive_avg_pool2d(x, {3, 0});
        }));
  CHECK_THAT(shape_error_message(
                 [&] { (void)convtape::global_avg_pool2d(tape.variable(Tensor<double>())); }),
             Contains("global_avg_pool2d"));
}

}  // namespace
