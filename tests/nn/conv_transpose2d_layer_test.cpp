// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include <cmath>
#include <random>
#include <string>

#include "convtape/autograd/ops.hpp"
#include "convtape/nn/conv_transpose2d.hpp"
#include "convtape/nn/loss.hpp"
#include "convtape/optim/adam.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::ConvTranspose2D;
using convtape::ConvTranspose2dOptions;
using convtape::Shape4;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using convtape::VectorX;
using support::random_tensor;
using support::shape_error_message;

TEST_CASE("ConvTranspose2D holds (C_in, C_out / groups, kh, kw) weights and a C_out bias",
          "[nn][conv_transpose2d_layer]") {
  SECTION("with bias") {
    ConvTranspose2D<double> up(6, 4, {3, 2}, ConvTranspose2dOptions().groups(2));
    CHECK(up.weight.value.shape() == Shape4{6, 2, 3, 2});
    CHECK(up.bias.value.shape() == Shape4{1, 4, 1, 1});
    CHECK(up.weight.grad.shape() == up.weight.value.shape());
    CHECK(up.weight.grad.flat().isZero(0.0));
    CHECK(up.bias.grad.flat().isZero(0.0));
    const auto params = up.parameters();
    REQUIRE(params.size() == 2);
    CHECK(params[0].get() == &up.weight);
    CHECK(params[1].get() == &up.bias);
  }
  SECTION("without bias") {
    ConvTranspose2D<double> up(2, 3, 2, ConvTranspose2dOptions().bias(false));
    CHECK_FALSE(up.has_bias());
    CHECK(up.bias.value.empty());
    REQUIRE(up.parameters().size() == 1);
  }
}

TEST_CASE("ConvTranspose2D's default initialization is PyTorch's, seeded and reproducible",
          "[nn][conv_transpose2d_layer][init]") {
  const ConvTranspose2D<double> a(8, 6, 3, ConvTranspose2dOptions().groups(2), 7);
  const ConvTranspose2D<double> b(8, 6, 3, ConvTranspose2dOptions().groups(2), 7);
  CHECK(a.weight.value.flat() == b.weight.value.flat());
  CHECK(a.bias.value.flat() == b.bias.value.flat());
  // PyTorch's fan_in of a transposed weight (8, 3, 3, 3) is its dimension 1 times the kernel:
  // 3 * 3 * 3 = 27 (not the 8 input channels); weight and bias uniform in +-1/sqrt(27).
  const double bound = 1.0 / std::sqrt(27.0);
  std::mt19937_64 rng(7);
  Tensor<double> w(8, 3, 3, 3);
  Tensor<double> bias(1, 6, 1, 1);
  convtape::init::uniform(w, -bound, bound, rng);
  convtape::init::uniform(bias, -bound, bound, rng);
  CHECK((a.weight.value.flat() - w.flat()).cwiseAbs().maxCoeff() < 1e-15);
  CHECK((a.bias.value.flat() - bias.flat()).cwiseAbs().maxCoeff() < 1e-15);
}

TEST_CASE("ConvTranspose2D on a tensor and on a var is the scatter with its parameters",
          "[nn][conv_transpose2d_layer]") {
  const ConvTranspose2dOptions opts =
      ConvTranspose2dOptions().stride(2, 1).padding(1, 0).output_padding(1, 0).groups(2);
  ConvTranspose2D<double> up(4, 6, {3, 2}, opts, 3);
  const Tensor<double> x = random_tensor({2, 4, 3, 5}, 1);
  const Tensor<double> expected = convtape::reference::conv_transpose2d(
      x, up.weight.value, VectorX<double>(up.bias.value.flat()), opts);
  const Tensor<double> y = up(x);
  REQUIRE(y.shape() == Shape4{2, 6, 6, 6});
  CHECK((y.flat() - expected.flat()).cwiseAbs().maxCoeff() < 1e-12);

  Tape<double> tape;
  const Var<double> xv = tape.variable(x);
  const Var<double> yv = up(xv);
  CHECK((yv.value().flat() - expected.flat()).cwiseAbs().maxCoeff() < 1e-12);
  const Tensor<double> seed = random_tensor(yv.shape(), 4);
  convtape::backward(yv, seed);
  const auto ref = convtape::reference::conv_transpose2d_backward(x, up.weight.value, seed, opts);
  CHECK((up.weight.grad.flat() - ref.weight.flat()).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((up.bias.grad.flat() - ref.bias).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((xv.grad().flat() - ref.input.flat()).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("ConvTranspose2D learns a known upsampling kernel", "[nn][conv_transpose2d_layer]") {
  // The target is produced by a transposed convolution with known weights; a freshly initialized
  // layer trained with Adam on the squared error must find them (the problem is linear and the
  // inputs excite every tap, so the minimum is unique).
  const ConvTranspose2dOptions opts =
      ConvTranspose2dOptions().stride(2).padding(1).output_padding(1);
  const ConvTranspose2D<double> teacher(2, 3, 3, opts, 11);
  ConvTranspose2D<double> student(2, 3, 3, opts, 12);
  const Tensor<double> x = random_tensor({4, 2, 5, 4}, 13);
  const Tensor<double> target = teacher(x);
  convtape::Adam<double> adam(student.parameters(), 0.05);
  double loss = 0;
  for (int step = 0; step < 400; ++step) {
    Tape<double> tape;
    const Var<double> l = convtape::mse_loss(student(tape.constant(x)), tape.constant(target));
    adam.zero_grad();
    convtape::backward(l);
    adam.step();
    loss = l.item();
  }
  CHECK(loss < 1e-8);
  CHECK((student.weight.value.flat() - teacher.weight.value.flat()).cwiseAbs().maxCoeff() < 1e-3);
  CHECK((student.bias.value.flat() - teacher.bias.value.flat()).cwiseAbs().maxCoeff() < 1e-3);
}

TEST_CASE("ConvTranspose2D rejects bad arguments with shape_error",
          "[nn][conv_transpose2d_layer][errors]") {
  CHECK_THAT(shape_error_message([] { ConvTranspose2D<double>(0, 1, 3); }),
             Contains("ConvTranspose2D") && Contains("in_channels = 0"));
  CHECK_THAT(shape_error_message([] {
               ConvTranspose2D<double>(1, 1, {0, 3});
             }),
             Contains("ConvTranspose2D") && Contains("0x3"));
  CHECK_THAT(shape_error_message(
                 [] { ConvTranspose2D<double>(4, 3, 3, ConvTranspose2dOptions().groups(2)); }),
             Contains("divisible by groups = 2"));
  ConvTranspose2D<double> up(3, 1, 3);
  const Tensor<double> wrong_channels(1, 2, 5, 5);
  CHECK_THAT(shape_error_message([&] { (void)up(wrong_channels); }),
             Contains("conv_transpose2d:") && Contains("input channels"));
  Tape<double> tape;
  CHECK_THAT(shape_error_message([&] { (void)up(tape.variable(wrong_channels)); }),
             Contains("conv_transpose2d:") && Contains("input channels"));
}

}  // namespace
