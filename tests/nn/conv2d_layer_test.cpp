// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include <cmath>
#include <functional>
#include <random>
#include <string>

#include "convtape/nn/conv2d.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Conv2D;
using convtape::Conv2dOptions;
using convtape::Shape4;
using convtape::shape_error;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::random_tensor;
using support::shape_error_message;

TEST_CASE("Conv2D holds OIHW weights, a bias of C_out values, and zero gradients",
          "[nn][conv2d_layer]") {
  SECTION("with bias") {
    Conv2D<double> conv(6, 4, {3, 2}, Conv2dOptions().groups(2));
    CHECK(conv.weight.value.shape() == Shape4{4, 3, 3, 2});
    CHECK(conv.bias.value.shape() == Shape4{1, 4, 1, 1});
    CHECK(conv.weight.grad.shape() == conv.weight.value.shape());
    CHECK(conv.bias.grad.shape() == conv.bias.value.shape());
    CHECK(conv.weight.grad.flat().isZero(0.0));
    CHECK(conv.bias.grad.flat().isZero(0.0));
    const auto params = conv.parameters();
    REQUIRE(params.size() == 2);
    CHECK(params[0] == &conv.weight);
    CHECK(params[1] == &conv.bias);
  }
  SECTION("without bias") {
    Conv2D<double> conv(1, 1, {1, 2}, Conv2dOptions().bias(false));
    CHECK_FALSE(conv.has_bias());
    CHECK(conv.bias.value.empty());
    const auto params = conv.parameters();
    REQUIRE(params.size() == 1);
    CHECK(params[0] == &conv.weight);
  }
}

TEST_CASE("Conv2D's default initialization is PyTorch's, seeded and reproducible",
          "[nn][conv2d_layer][init]") {
  const Conv2D<double> a(3, 8, 3, {}, 7);
  const Conv2D<double> b(3, 8, 3, {}, 7);
  const Conv2D<double> c(3, 8, 3, {}, 8);
  CHECK(a.weight.value.flat() == b.weight.value.flat());
  CHECK(a.bias.value.flat() == b.bias.value.flat());
  CHECK(a.weight.value.flat() != c.weight.value.flat());
  // fan_in = 3 * 3 * 3 = 27: weight and bias uniform in +-1/sqrt(27).
  const double bound = 1.0 / std::sqrt(27.0);
  CHECK(a.weight.value.flat().cwiseAbs().maxCoeff() <= bound);
  CHECK(a.bias.value.flat().cwiseAbs().maxCoeff() <= bound);
  // ... and uses most of that range (216 draws), so the bound is not a smaller one.
  CHECK(a.weight.value.flat().cwiseAbs().maxCoeff() > 0.9 * bound);
  // The weight comes first from the generator, then the bias.
  std::mt19937_64 rng(7);
  Tensor<double> w(8, 3, 3, 3);
  Tensor<double> bias(1, 8, 1, 1);
  convtape::init::uniform(w, -bound, bound, rng);
  convtape::init::uniform(bias, -bound, bound, rng);
  CHECK((a.weight.value.flat() - w.flat()).cwiseAbs().maxCoeff() < 1e-15);
  CHECK((a.bias.value.flat() - bias.flat()).cwiseAbs().maxCoeff() < 1e-15);
}

TEST_CASE("Conv2D on a tensor is the reference convolution with its parameters",
          "[nn][conv2d_layer]") {
  const Conv2dOptions opts = Conv2dOptions().stride(2, 1).padding(1).groups(2);
  const Conv2D<double> conv(4, 6, {3, 2}, opts, 3);
  const Tensor<double> x = random_tensor({2, 4, 7, 6}, 1);
  const Tensor<double> y = conv(x);
  const Tensor<double> expected = convtape::reference::conv2d(
      x, conv.weight.value, convtape::VectorX<double>(conv.bias.value.flat()), opts);
  REQUIRE(y.shape() == expected.shape());
  CHECK((y.flat() - expected.flat()).cwiseAbs().maxCoeff() < 1e-12);
  // The plain conv2d takes the layer's (1, C_out, 1, 1) bias tensor as it is.
  const Tensor<double> plain = convtape::conv2d(x, conv.weight.value, conv.bias.value, opts);
  CHECK(plain.flat() == y.flat());
  CHECK(convtape::conv2d(x, conv.weight.value, Tensor<double>(), opts).flat() ==
        convtape::conv2d(x, conv.weight.value, opts).flat());  // an empty tensor is no bias
  const Tensor<double> wrong(1, 5, 1, 1);
  CHECK(shape_error_message([&] { (void)convtape::conv2d(x, conv.weight.value, wrong, opts); }) ==
        shape_error_message([&] {
          (void)convtape::conv2d(x, conv.weight.value, convtape::VectorX<double>(5), opts);
        }));
}

TEST_CASE("Conv2D on a var records on that var's tape and fills the parameter gradients",
          "[nn][conv2d_layer]") {
  const Conv2dOptions opts = Conv2dOptions().padding(1).dilation(2, 1);
  Conv2D<double> conv(2, 3, 3, opts, 5);
  const Tensor<double> x = random_tensor({2, 2, 6, 5}, 2);
  Tape<double> tape;
  const Var<double> xv = tape.variable(x);
  const Var<double> y = conv(xv);
  CHECK(y.tape() == tape);
  CHECK(tape.size() == 4);  // x, weight, bias, convolution
  CHECK((y.value().flat() - conv(x).flat()).cwiseAbs().maxCoeff() < 1e-12);

  const Tensor<double> seed = random_tensor(y.shape(), 3);
  convtape::backward(y, seed);
  const auto ref = convtape::reference::conv2d_backward(x, conv.weight.value, seed, opts);
  CHECK((conv.weight.grad.flat() - ref.weight.flat()).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((conv.bias.grad.flat() - ref.bias).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((xv.grad().flat() - ref.input.flat()).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("Conv2D rejects bad arguments with shape_error", "[nn][conv2d_layer][errors]") {
  CHECK_THAT(shape_error_message([] { Conv2D<double>(0, 1, 3); }),
             Contains("Conv2D") && Contains("in_channels = 0"));
  CHECK_THAT(shape_error_message([] {
               Conv2D<double>(1, 1, {3, 0});
             }),
             Contains("Conv2D") && Contains("3x0"));
  CHECK_THAT(shape_error_message([] { Conv2D<double>(3, 4, 3, Conv2dOptions().groups(2)); }),
             Contains("divisible by groups = 2"));
  Conv2D<double> conv(3, 1, 3);
  // Calls check shapes exactly as conv2d does.
  const Tensor<double> wrong_channels(1, 2, 5, 5);
  CHECK_THAT(shape_error_message([&] { (void)conv(wrong_channels); }),
             Contains("conv2d") && Contains("input channels"));
  Tape<double> tape;
  CHECK_THAT(shape_error_message([&] { (void)conv(tape.variable(wrong_channels)); }),
             Contains("conv2d") && Contains("input channels"));
  Var<double> orphan;
  {
    Tape<double> gone;
    orphan = gone.variable(Tensor<double>(1, 3, 5, 5));
  }
  CHECK_THAT(shape_error_message([&] { (void)conv(orphan); }), Contains("no longer exists"));
}

}  // namespace
