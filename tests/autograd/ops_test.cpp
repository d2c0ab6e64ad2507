// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/autograd/ops.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "convtape/conv2d.hpp"
#include "convtape/gradcheck.hpp"
#include "convtape/nn/init.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/internals.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Conv2dOptions;
using convtape::gradcheck;
using convtape::Index;
using convtape::PaddingMode;
using convtape::Shape4;
using convtape::shape_error;
using convtape::Size2;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::max_abs_diff;
using support::random_tensor;
using support::shape_error_message;
using Vars = std::vector<Var<double>>;

Index pick(std::mt19937_64& rng, Index lo, Index hi) {
  return lo + static_cast<Index>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
}

/// Random plane geometry: kernel size, stride, dilation, padding and padding mode, and an input
/// size the kernel fits without padding. Every value is drawn in its own statement, so every
/// compiler draws the same configurations.
struct PlaneCase {
  Size2 kernel;
  Size2 input;
  Conv2dOptions opts;
};

PlaneCase random_plane_case(std::mt19937_64& rng) {
  const PaddingMode modes[] = {PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate,
                               PaddingMode::circular};
  PlaneCase c;
  c.kernel.rows = pick(rng, 1, 3);
  c.kernel.cols = pick(rng, 1, 3);
  const Index dilation_rows = pick(rng, 1, 2);
  const Index dilation_cols = pick(rng, 1, 2);
  c.input.rows = (c.kernel.rows - 1) * dilation_rows + pick(rng, 1, 4);
  c.input.cols = (c.kernel.cols - 1) * dilation_cols + pick(rng, 1, 4);
  const Index stride_rows = pick(rng, 1, 2);
  const Index stride_cols = pick(rng, 1, 2);
  const Index top = pick(rng, 0, 2);
  const Index bottom = pick(rng, 0, 2);
  const Index left = pick(rng, 0, 2);
  const Index right = pick(rng, 0, 2);
  c.opts.stride(stride_rows, stride_cols)
      .dilation(dilation_rows, dilation_cols)
      .padding(top, bottom, left, right)
      .padding_mode(modes[rng() % 4]);
  return c;
}

/// A random batched convolution: plane geometry, channels, groups, bias, and data.
struct ConvCase {
  Conv2dOptions opts;
  bool bias = false;
  Tensor<double> x;
  Tensor<double> w;
  Tensor<double> b;  ///< (1, C_out, 1, 1); used only when `bias`
};

ConvCase random_conv_case(std::mt19937_64& rng) {
  const PlaneCase plane = random_plane_case(rng);
  const Index groups = pick(rng, 1, 3);
  const Index in_per_group = pick(rng, 1, 2);
  const Index out_per_group = pick(rng, 1, 2);
  const Index batch = pick(rng, 1, 2);
  ConvCase c;
  c.opts = plane.opts;
  c.opts.groups(groups);
  c.bias = rng() % 2 == 0;
  c.x = random_tensor({batch, groups * in_per_group, plane.input.rows, plane.input.cols}, rng);
  c.w = random_tensor({groups * out_per_group, in_per_group, plane.kernel.rows, plane.kernel.cols},
                      rng);
  c.b = random_tensor({1, groups * out_per_group, 1, 1}, rng);
  return c;
}

TEST_CASE("elementwise functions have the gradients finite differences give", "[ops][gradcheck]") {
  std::mt19937_64 rng(11);
  const Shape4 shape{2, 3, 4, 5};
  const Tensor<double> a = random_tensor(shape, rng);
  const Tensor<double> b = random_tensor(shape, rng);
  using F = std::function<Var<double>(const Vars&)>;
  const std::pair<const char*, F> cases[] = {
      {"a + b", [](const Vars& v) { return v[0] + v[1]; }},
      {"a - b", [](const Vars& v) { return v[0] - v[1]; }},
      {"a * b", [](const Vars& v) { return v[0] * v[1]; }},
      {"a + s", [](const Vars& v) { return v[0] + 0.75; }},
      {"s + a", [](const Vars& v) { return 0.75 + v[0]; }},
      {"a - s", [](const Vars& v) { return v[0] - 0.75; }},
      {"s - a", [](const Vars& v) { return 0.75 - v[0]; }},
      {"a * s", [](const Vars& v) { return v[0] * -1.5; }},
      {"s * a", [](const Vars& v) { return -1.5 * v[0]; }},
      {"a / s", [](const Vars& v) { return v[0] / 4.0; }},
      {"-a", [](const Vars& v) { return -v[0]; }},
      {"square", [](const Vars& v) { return convtape::square(v[0]); }},
      {"sum", [](const Vars& v) { return convtape::sum(v[0] * v[1]); }},
      {"mean", [](const Vars& v) { return convtape::mean(v[0] * v[1]); }},
      {"relu", [](const Vars& v) { return convtape::relu(v[0] * v[1]); }},
  };
  for (const auto& [name, f] : cases) {
    const auto check = gradcheck<double>(f, {a, b});
    INFO(name << ": " << check.description);
    CHECK(check.passed);
    CHECK(check.elements == 2 * a.size());
  }
}

TEST_CASE("elementwise functions compute the values the formulas say", "[ops]") {
  std::mt19937_64 rng(12);
  const Tensor<double> a = random_tensor({1, 2, 3, 4}, rng);
  const Tensor<double> b = random_tensor({1, 2, 3, 4}, rng);
  Tape<double> tape;
  const Var<double> x = tape.constant(a);
  const Var<double> y = tape.constant(b);
  const auto av = a.flat().array();
  const auto bv = b.flat().array();
  CHECK(((x + y).value().flat().array() == av + bv).all());
  CHECK(((x - y).value().flat().array() == av - bv).all());
  CHECK(((x * y).value().flat().array() == av * bv).all());
  CHECK(((x * 3.0).value().flat().array() == av * 3.0).all());
  CHECK(((2.0 - x).value().flat().array() == 2.0 - av).all());
  CHECK((convtape::square(x).value().flat().array() == av * av).all());
  CHECK((convtape::relu(x).value().flat().array() == av.max(0.0)).all());
  CHECK(convtape::sum(x).shape() == Shape4{1, 1, 1, 1});
  CHECK_THAT(convtape::sum(x).item(), WithinAbs(av.sum(), 1e-12));
  CHECK_THAT(convtape::mean(x).item(), WithinAbs(av.sum() / 24, 1e-12));
}

TEST_CASE("relu's gradient is the output gradient where the input is positive, else 0", "[ops]") {
  Tensor<double> t(1, 1, 1, 3);
  t.data()[0] = -1.0;
  t.data()[1] = 0.0;
  t.data()[2] = 2.0;
  Tape<double> tape;
  const Var<double> x = tape.variable(t);
  convtape::backward(convtape::sum(convtape::relu(x) * 5.0));
  CHECK(x.grad().data()[0] == 0.0);
  CHECK(x.grad().data()[1] == 0.0);  // PyTorch's convention at the kink
  CHECK(x.grad().data()[2] == 5.0);
}

TEST_CASE("differentiable corr2d matches the textbook loop and finite differences",
          "[ops][corr2d][gradcheck]") {
  std::mt19937_64 rng(13);
  for (int trial = 0; trial < 24; ++trial) {
    const PlaneCase c = random_plane_case(rng);
    const Conv2dOptions& opts = c.opts;
    const Tensor<double> x = random_tensor({1, 1, c.input.rows, c.input.cols}, rng);
    const Tensor<double> k = random_tensor({1, 1, c.kernel.rows, c.kernel.cols}, rng);
    INFO("trial " << trial << ": x " << c.input << ", k " << c.kernel << ", padding mode "
                  << convtape::to_string(opts.padding_mode()));

    Tape<double> tape;
    const Var<double> y = convtape::corr2d(tape.variable(x), tape.variable(k), opts);
    const convtape::MatrixX<double> expected =
        convtape::reference::corr2d(x.plane(0, 0), k.plane(0, 0), opts);
    REQUIRE(y.shape() == Shape4{1, 1, expected.rows(), expected.cols()});
    CHECK((y.value().matrix() - expected).cwiseAbs().maxCoeff() < 1e-12);

    const auto check = gradcheck<double>(
        [&opts](const Vars& v) { return convtape::corr2d(v[0], v[1], opts); }, {x, k});
    INFO(check.description);
    CHECK(check.passed);
  }
}

TEST_CASE("differentiable conv2d matches the reference loops and finite differences",
          "[ops][conv2d][gradcheck]") {
  std::mt19937_64 rng(14);
  for (int trial = 0; trial < 24; ++trial) {
    const ConvCase c = random_conv_case(rng);
    const Tensor<double>& x = c.x;
    const Tensor<double>& w = c.w;
    const Tensor<double>& b = c.b;
    const convtape::VectorX<double> bias =
        c.bias ? convtape::VectorX<double>(b.flat()) : convtape::VectorX<double>();
    INFO("trial " << trial << ": x " << support::internals::shape_str(x.shape()) << ", weight "
                  << support::internals::shape_str(w.shape()) << ", groups " << c.opts.groups()
                  << ", padding mode " << convtape::to_string(c.opts.padding_mode())
                  << (c.bias ? ", bias" : ""));

    // Forward and backward against the seven-loop reference, with a random output gradient.
    Tape<double> tape;
    const Var<double> xv = tape.variable(x);
    const Var<double> wv = tape.variable(w);
    const Var<double> bv = tape.variable(b);
    const Var<double> y =
        c.bias ? convtape::conv2d(xv, wv, bv, c.opts) : convtape::conv2d(xv, wv, c.opts);
    const Tensor<double> expected = convtape::reference::conv2d(x, w, bias, c.opts);
    CHECK(max_abs_diff(y.value(), expected) < 1e-12);
    const Tensor<double> seed = random_tensor(y.shape(), rng);
    convtape::backward(y, seed);
    const convtape::Conv2dGrads<double> ref =
        convtape::reference::conv2d_backward(x, w, seed, c.opts);
    CHECK(max_abs_diff(xv.grad(), ref.input) < 1e-12);
    CHECK(max_abs_diff(wv.grad(), ref.weight) < 1e-12);
    if (c.bias) {
      CHECK((bv.grad().flat() - ref.bias).cwiseAbs().maxCoeff() < 1e-12);
    } else {
      CHECK(bv.grad().flat().isZero(0.0));  // not an operand of the loss
    }

    // And against finite differences.
    const auto check = gradcheck<double>(
        [&c](const Vars& v) {
          return c.bias ? convtape::conv2d(v[0], v[1], v[2], c.opts)
                        : convtape::conv2d(v[0], v[1], c.opts);
        },
        {x, w, b});
    INFO(check.description);
    CHECK(check.passed);
  }
}

TEST_CASE("the tape throws exactly what the plain function throws", "[ops][errors]") {
  using convtape::VectorX;
  SECTION("conv2d") {
    struct Bad {
      const char* what;
      Shape4 x;
      Shape4 weight;
      Index bias;
      Conv2dOptions opts;
    };
    const Bad cases[] = {
        {"channel mismatch", {1, 3, 5, 5}, {2, 2, 3, 3}, 0, {}},
        {"groups do not divide", {1, 3, 5, 5}, {2, 1, 3, 3}, 0, Conv2dOptions().groups(2)},
        {"kernel larger than input", {1, 1, 2, 5}, {1, 1, 3, 3}, 0, {}},
        {"zero stride", {1, 1, 5, 5}, {1, 1, 3, 3}, 0, Conv2dOptions().stride(0)},
        {"negative padding", {1, 1, 5, 5}, {1, 1, 3, 3}, 0, Conv2dOptions().padding(-1)},
        {"zero dilation", {1, 1, 5, 5}, {1, 1, 3, 3}, 0, Conv2dOptions().dilation(0, 1)},
        {"wrong bias size", {1, 1, 5, 5}, {2, 1, 3, 3}, 3, {}},
        {"empty x", {0, 1, 5, 5}, {1, 1, 3, 3}, 0, {}},
        {"empty weight", {1, 1, 5, 5}, {1, 1, 0, 3}, 0, {}},
    };
    for (const Bad& bad : cases) {
      INFO(bad.what);
      const Tensor<double> x(bad.x);
      const Tensor<double> w(bad.weight);
      const VectorX<double> b = VectorX<double>::Zero(bad.bias);
      const std::string plain =
          shape_error_message([&] { (void)convtape::conv2d(x, w, b, bad.opts); });
      REQUIRE_THAT(plain, Contains("conv2d:"));
      Tape<double> tape;
      const std::string taped = shape_error_message([&] {
        (void)convtape::conv2d(tape.variable(x), tape.variable(w),
                               tape.variable(Tensor<double>(1, 1, 1, bad.bias)), bad.opts);
      });
      CHECK(taped == plain);
      if (bad.bias == 0) {
        const std::string plain_nobias =
            shape_error_message([&] { (void)convtape::conv2d(x, w, bad.opts); });
        CHECK(shape_error_message([&] {
                (void)convtape::conv2d(tape.variable(x), tape.variable(w), bad.opts);
              }) == plain_nobias);
      }
    }
  }
  SECTION("corr2d") {
    struct Bad {
      const char* what;
      Index x_rows, x_cols, k_rows, k_cols;
      Conv2dOptions opts;
    };
    const Bad cases[] = {
        {"kernel larger than input", 2, 5, 3, 3, {}},
        {"zero stride", 5, 5, 3, 3, Conv2dOptions().stride(1, 0)},
        {"negative padding", 5, 5, 3, 3, Conv2dOptions().padding(0, 0, -2, 0)},
        {"dilated kernel too large", 5, 5, 3, 3, Conv2dOptions().dilation(3)},
        {"empty kernel", 5, 5, 0, 3, {}},
    };
    for (const Bad& bad : cases) {
      INFO(bad.what);
      const Tensor<double> x(1, 1, bad.x_rows, bad.x_cols);
      const Tensor<double> k(1, 1, bad.k_rows, bad.k_cols);
      const std::string plain = shape_error_message(
          [&] { (void)convtape::corr2d(x.plane(0, 0), k.plane(0, 0), bad.opts); });
      REQUIRE_THAT(plain, Contains("corr2d:"));
      Tape<double> tape;
      CHECK(shape_error_message([&] {
              (void)convtape::corr2d(tape.variable(x), tape.variable(k), bad.opts);
            }) == plain);
    }
  }
}

TEST_CASE("functions of vars reject shapes they cannot take", "[ops][errors]") {
  Tape<double> tape;
  const Var<double> a = tape.variable(Tensor<double>(1, 1, 2, 3));
  const Var<double> b = tape.variable(Tensor<double>(1, 1, 3, 2));
  CHECK_THAT(shape_error_message([&] { (void)(a + b); }),
             Contains("operator+") && Contains("(1, 1, 2, 3)") && Contains("(1, 1, 3, 2)"));
  CHECK_THAT(shape_error_message([&] { (void)(a - b); }), Contains("operator-:"));
  CHECK_THAT(shape_error_message([&] { (void)(a * b); }), Contains("operator*:"));
  const Var<double> two_planes = tape.variable(Tensor<double>(1, 2, 4, 4));
  CHECK_THAT(shape_error_message([&] { (void)convtape::corr2d(two_planes, b); }),
             Contains("corr2d") && Contains("single plane") && Contains("(1, 2, 4, 4)"));
  CHECK_THAT(shape_error_message([&] { (void)convtape::mean(tape.variable(Tensor<double>())); }),
             Contains("mean"));
}

TEST_CASE("float runs agree with double runs, forward and backward", "[ops][float]") {
  std::mt19937_64 rng(15);
  for (int trial = 0; trial < 8; ++trial) {
    const ConvCase c = random_conv_case(rng);
    const Tensor<double>& x = c.x;
    const Tensor<double>& w = c.w;
    const Tensor<double>& b = c.b;
    INFO("trial " << trial);
    auto run = [&c](auto xt, auto wt, auto bt, auto& grads) {
      using S = typename decltype(xt)::Scalar;
      Tape<S> tape;
      const Var<S> xv = tape.variable(xt);
      const Var<S> wv = tape.variable(wt);
      const Var<S> bv = tape.variable(bt);
      const Var<S> y = convtape::conv2d(xv, wv, bv, c.opts);
      const Var<S> loss = convtape::mean(convtape::square(convtape::relu(y) - S(0.25)));
      convtape::backward(loss);
      grads = {xv.grad(), wv.grad(), bv.grad()};
      return loss.item();
    };
    std::vector<Tensor<double>> gd;
    std::vector<Tensor<float>> gf;
    const double ld = run(x, w, b, gd);
    const float lf = run(x.cast<float>(), w.cast<float>(), b.cast<float>(), gf);
    CHECK_THAT(static_cast<double>(lf), WithinRel(ld, 1e-5) || WithinAbs(ld, 1e-6));
    for (std::size_t i = 0; i < gd.size(); ++i) {
      CHECK(max_abs_diff(gf[i].cast<double>(), gd[i]) < 1e-5);
    }
  }
}

/// Shapes that broadcast against (2, 3, 2, 3), every subset of the dimensions set to 1: each
/// dimension stretched, alone and together.
std::vector<Shape4> stretched_shapes() {
  std::vector<Shape4> shapes;
  for (int mask = 0; mask < 16; ++mask) {
    Shape4 s{2, 3, 2, 3};
    for (std::size_t d = 0; d < 4; ++d) {
      if ((mask >> d) & 1) s[d] = 1;
    }
    shapes.push_back(s);
  }
  return shapes;
}

TEST_CASE(
    "broadcasting + - * / have the gradients finite differences give, either operand stretched",
    "[ops][gradcheck][broadcast]") {
  std::mt19937_64 rng(41);
  using F = std::function<Var<double>(const Vars&)>;
  const std::pair<const char*, F> cases[] = {
      {"a + b", [](const Vars& v) { return v[0] + v[1]; }},
      {"a - b", [](const Vars& v) { return v[0] - v[1]; }},
      {"a * b", [](const Vars& v) { return v[0] * v[1]; }},
      {"a / b", [](const Vars& v) { return v[0] / v[1]; }},
  };
  const std::vector<Shape4> shapes = stretched_shapes();
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    // Each stretched shape against the full one, on either side, and against its complement.
    const Shape4 full = shapes[0];
    const Shape4 other = shapes[15 - i];
    for (const auto& [sa, sb] :
         {std::pair<Shape4, Shape4>{shapes[i], full}, std::pair<Shape4, Shape4>{full, shapes[i]},
          std::pair<Shape4, Shape4>{shapes[i], other}}) {
      const Tensor<double> a = random_tensor(sa, rng);
      Tensor<double> b = random_tensor(sb, rng);
      b.flat().array() += 2.0;  // away from zero, for the quotient
      for (const auto& [name, f] : cases) {
        const auto check = gradcheck<double>(f, {a, b});
        INFO(name << " with a " << sa << ", b " << sb << ": " << check.description);
        CHECK(check.passed);
      }
    }
  }
}

TEST_CASE("a broadcast operand's gradient is the output gradient summed over the stretch",
          "[ops][broadcast]") {
  // y = x + b with x (2, 3, 2, 2) and b (1, 3, 1, 1): d sum(y * w) / db[c] = sum of w over c.
  std::mt19937_64 rng(42);
  const Tensor<double> xt = random_tensor({2, 3, 2, 2}, rng);
  const Tensor<double> wt = random_tensor({2, 3, 2, 2}, rng);
  Tape<double> tape;
  const Var<double> x = tape.variable(xt);
  const Var<double> b = tape.variable(Tensor<double>(1, 3, 1, 1));
  convtape::backward(convtape::sum((x + b) * tape.constant(wt)));
  for (Index c = 0; c < 3; ++c) {
    double want = 0.0;
    for (Index n = 0; n < 2; ++n) want += wt.plane(n, c).sum();
    CHECK_THAT(b.grad()(0, c, 0, 0), WithinAbs(want, 1e-14));
  }
  CHECK(x.grad().flat() == wt.flat());
}

TEST_CASE("broadcasting ops on vars reject shapes that do not broadcast, naming both",
          "[ops][broadcast][errors]") {
  Tape<double> tape;
  const Var<double> a = tape.variable(Tensor<double>(1, 3, 6, 7));
  const Var<double> b = tape.variable(Tensor<double>(1, 2, 1, 1));
  const Index before = tape.size();
  CHECK_THAT(shape_error_message([&] { (void)(a + b); }),
             Contains("operator+: shapes (1, 3, 6, 7) and (1, 2, 1, 1) do not broadcast"));
  CHECK_THAT(shape_error_message([&] { (void)(b - a); }),
             Contains("operator-: shapes (1, 2, 1, 1) and (1, 3, 6, 7) do not broadcast"));
  CHECK_THAT(shape_error_message([&] { (void)(a * b); }), Contains("operator*: shapes"));
  CHECK_THAT(shape_error_message([&] { (void)(a / b); }), Contains("operator/: shapes"));
  CHECK(tape.size() == before);  // nothing was recorded
}

TEST_CASE("activations, reshape, flatten and s / a have the gradients finite differences give",
          "[ops][gradcheck]") {
  std::mt19937_64 rng(43);
  const Tensor<double> a = random_tensor({2, 3, 2, 3}, rng);
  Tensor<double> positive = a;
  positive.flat().array() = positive.flat().array().abs() + 0.5;
  using F = std::function<Var<double>(const Vars&)>;
  const std::pair<const char*, F> cases[] = {
      {"sigmoid", [](const Vars& v) { return convtape::sigmoid(v[0] * 3.0); }},
      {"tanh", [](const Vars& v) { return convtape::tanh(v[0] * 2.0); }},
      {"exp", [](const Vars& v) { return convtape::exp(v[0]); }},
      {"log", [](const Vars& v) { return convtape::log(v[0] * v[0] + 0.25); }},
      {"s / a", [](const Vars& v) { return 1.5 / (v[0] * v[0] + 0.5); }},
      {"reshape", [](const Vars& v) { return convtape::reshape(v[0] * v[0], 3, -1, 1, 3); }},
      {"flatten", [](const Vars& v) { return convtape::flatten(v[0]) * convtape::flatten(v[0]); }},
  };
  for (const auto& [name, f] : cases) {
    const auto check = gradcheck<double>(f, {a});
    INFO(name << ": " << check.description);
    CHECK(check.passed);
    CHECK(check.elements == a.size());
  }
  const auto check =
      gradcheck<double>([](const Vars& v) { return convtape::log(v[0]); }, {positive});
  INFO("log of positive values: " << check.description);
  CHECK(check.passed);
}

TEST_CASE("activations on vars compute what they compute on tensors", "[ops]") {
  const Tensor<double> t = random_tensor({1, 2, 3, 4}, 44);
  Tape<double> tape;
  const Var<double> x = tape.constant(t);
  CHECK(convtape::sigmoid(x).value().flat() == convtape::sigmoid(t).flat());
  CHECK(convtape::tanh(x).value().flat() == convtape::tanh(t).flat());
  CHECK(convtape::exp(x).value().flat() == convtape::exp(t).flat());
  CHECK(convtape::relu(x).value().flat() == convtape::relu(t).flat());
  CHECK(convtape::reshape(x, 4, 3, 1, 2).shape() == Shape4{4, 3, 1, 2});
  CHECK(convtape::flatten(x).shape() == Shape4{1, 24, 1, 1});
  CHECK(convtape::flatten(x).value().flat() == t.flat());
  CHECK_THAT(shape_error_message([&] { (void)convtape::reshape(x, 5, 5, 1, 1); }),
             Contains("reshape: cannot reshape (1, 2, 3, 4) (24 elements) to (5, 5, 1, 1)"));
}

TEST_CASE("log on the tape gives IEEE results at 0 and below, as PyTorch", "[ops][nonfinite]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(support::row({0.0, -2.0, 4.0}));
  const Var<double> y = convtape::log(x);
  convtape::backward(convtape::sum(y));
  CHECK(y.value().data()[0] == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(y.value().data()[1]));
  CHECK(x.grad().data()[0] == std::numeric_limits<double>::infinity());  // 1 / 0
  CHECK(x.grad().data()[1] == -0.5);
  CHECK(x.grad().data()[2] == 0.25);
}

TEST_CASE("differentiable linear matches the reference loop and finite differences",
          "[ops][gradcheck][linear]") {
  std::mt19937_64 rng(45);
  for (int trial = 0; trial < 12; ++trial) {
    const Index n = pick(rng, 1, 3);
    const Index c = pick(rng, 1, 3);
    const Index h = pick(rng, 1, 2);
    const Index w = pick(rng, 1, 2);
    const Index out = pick(rng, 1, 4);
    const Tensor<double> x = random_tensor({n, c, h, w}, rng);
    const Tensor<double> weight = random_tensor({out, c * h * w, 1, 1}, rng);
    const Tensor<double> bias = random_tensor({1, out, 1, 1}, rng);
    INFO("x " << x.shape() << ", weight " << weight.shape());
    Tape<double> tape;
    const Var<double> y =
        convtape::linear(tape.constant(x), tape.constant(weight), tape.constant(bias));
    CHECK(max_abs_diff(y.value(), convtape::reference::linear(x, weight, bias)) < 1e-13);
    const auto with_bias = gradcheck<double>(
        [](const Vars& v) { return convtape::linear(v[0], v[1], v[2]); }, {x, weight, bias});
    INFO(with_bias.description);
    CHECK(with_bias.passed);
    const auto no_bias =
        gradcheck<double>([](const Vars& v) { return convtape::linear(v[0], v[1]); }, {x, weight});
    INFO(no_bias.description);
    CHECK(no_bias.passed);
  }
  Tape<double> tape;
  CHECK_THAT(shape_error_message([&] {
               (void)convtape::linear(tape.variable(Tensor<double>(2, 3, 1, 1)),
                                      tape.variable(Tensor<double>(4, 2, 1, 1)));
             }),
             Contains("linear: x (2, 3, 1, 1) has 3 features per row"));
}

TEST_CASE("float runs of the new ops agree with double runs, forward and backward",
          "[ops][float]") {
  std::mt19937_64 rng(46);
  for (int trial = 0; trial < 6; ++trial) {
    const std::vector<Shape4> shapes = stretched_shapes();
    const Tensor<double> x = random_tensor({2, 3, 2, 3}, rng);
    const Tensor<double> b = random_tensor(shapes[rng() % 16], rng);
    const Tensor<double> weight = random_tensor({4, 18, 1, 1}, rng);
    const Tensor<double> bias = random_tensor({1, 4, 1, 1}, rng);
    INFO("trial " << trial << ", b " << b.shape());
    auto run = [](auto xt, auto bt, auto wt, auto ct, auto& grads) {
      using S = typename decltype(xt)::Scalar;
      Tape<S> tape;
      const Var<S> xv = tape.variable(xt);
      const Var<S> bv = tape.variable(bt);
      const Var<S> wv = tape.variable(wt);
      const Var<S> cv = tape.variable(ct);
      const Var<S> h =
          convtape::tanh(xv * bv) + convtape::sigmoid(xv - bv) / (convtape::exp(bv) + S(1));
      const Var<S> z = convtape::linear(convtape::flatten(h), wv, cv);
      const Var<S> loss = convtape::mean(convtape::log(z * z + S(1)));
      convtape::backward(loss);
      grads = {xv.grad(), bv.grad(), wv.grad(), cv.grad()};
      return loss.item();
    };
    std::vector<Tensor<double>> gd;
    std::vector<Tensor<float>> gf;
    const double ld = run(x, b, weight, bias, gd);
    const float lf =
        run(x.cast<float>(), b.cast<float>(), weight.cast<float>(), bias.cast<float>(), gf);
    CHECK_THAT(static_cast<double>(lf), WithinRel(ld, 1e-5) || WithinAbs(ld, 1e-6));
    for (std::size_t i = 0; i < gd.size(); ++i) {
      INFO("gradient " << i);
      CHECK(max_abs_diff(gf[i].cast<double>(), gd[i]) < 1e-5);
    }
  }
}

}  // namespace
