// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include <cmath>
#include <random>
#include <vector>

#include "convtape/nn/conv2d.hpp"
#include "convtape/nn/linear.hpp"
#include "convtape/nn/loss.hpp"
#include "convtape/optim/sgd.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Linear;
using convtape::Shape4;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::random_tensor;
using support::shape_error_message;

TEST_CASE("Linear holds an (out, in, 1, 1) weight, a (1, out, 1, 1) bias and zero gradients",
          "[nn][linear_layer]") {
  Linear<double> fc(12, 5);
  CHECK(fc.weight.value.shape() == Shape4{5, 12, 1, 1});
  CHECK(fc.bias.value.shape() == Shape4{1, 5, 1, 1});
  CHECK(fc.in_features() == 12);
  CHECK(fc.out_features() == 5);
  CHECK(fc.weight.grad.flat().isZero(0.0));
  CHECK(fc.bias.grad.flat().isZero(0.0));
  const auto params = fc.parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0] == &fc.weight);
  CHECK(params[1] == &fc.bias);
}

TEST_CASE("Linear's initialization is PyTorch's default, U(-1/sqrt(in), 1/sqrt(in)), seeded",
          "[nn][linear_layer]") {
  const Linear<double> fc(64, 32, 9);
  const double bound = 1.0 / std::sqrt(64.0);  // kaiming_uniform with a = sqrt(5)
  CHECK(fc.weight.value.flat().cwiseAbs().maxCoeff() <= bound);
  CHECK(fc.weight.value.flat().cwiseAbs().maxCoeff() > 0.95 * bound);
  CHECK(fc.bias.value.flat().cwiseAbs().maxCoeff() <= bound);
  CHECK_FALSE(fc.bias.value.flat().isZero(0.0));
  // The weight's draws first, then the bias's, from mt19937_64(seed).
  std::mt19937_64 rng(9);
  Tensor<double> w(32, 64, 1, 1);
  Tensor<double> b(1, 32, 1, 1);
  convtape::init::uniform(w, -bound, bound, rng);
  convtape::init::uniform(b, -bound, bound, rng);
  CHECK((fc.weight.value.flat() - w.flat()).cwiseAbs().maxCoeff() < 1e-16);
  CHECK((fc.bias.value.flat() - b.flat()).cwiseAbs().maxCoeff() < 1e-16);
  CHECK(Linear<double>(64, 32, 10).weight.value.flat() != fc.weight.value.flat());
}

TEST_CASE("Linear on a tensor is the reference linear, and on a var fills the parameter gradients",
          "[nn][linear_layer]") {
  Linear<double> fc(2 * 3 * 2, 4, 1);
  const Tensor<double> x = random_tensor({3, 2, 3, 2}, 2);  // a feature map: 12 features per row
  const Tensor<double> want = convtape::reference::linear(x, fc.weight.value, fc.bias.value);
  CHECK(support::max_abs_diff(fc(x), want) < 1e-14);

  const Tensor<double> dy = random_tensor({3, 4, 1, 1}, 3);
  Tape<double> tape;
  const Var<double> y = fc(tape.constant(x));
  CHECK(support::max_abs_diff(y.value(), want) < 1e-14);
  convtape::backward(convtape::sum(y * tape.constant(dy)));
  // dW = dy^T x and db = column sums of dy, from loops.
  for (convtape::Index o = 0; o < 4; ++o) {
    double db = 0.0;
    for (convtape::Index n = 0; n < 3; ++n) db += dy(n, o, 0, 0);
    CHECK_THAT(fc.bias.grad(0, o, 0, 0), WithinAbs(db, 1e-14));
    for (convtape::Index i = 0; i < 12; ++i) {
      double dw = 0.0;
      for (convtape::Index n = 0; n < 3; ++n) dw += dy(n, o, 0, 0) * x.data()[n * 12 + i];
      CHECK_THAT(fc.weight.grad(o, i, 0, 0), WithinAbs(dw, 1e-14));
    }
  }
}

TEST_CASE("Linear rejects bad feature counts and inputs with shape_error",
          "[nn][linear_layer][errors]") {
  CHECK_THAT(shape_error_message([] { Linear<double>(0, 3); }),
             Contains("Linear: needs positive feature counts") && Contains("in_features = 0"));
  CHECK_THAT(shape_error_message([] { Linear<double>(3, -1); }), Contains("out_features = -1"));
  Linear<double> fc(6, 2);
  CHECK_THAT(shape_error_message([&] { (void)fc(Tensor<double>(2, 5, 1, 1)); }),
             Contains("linear: x (2, 5, 1, 1) has 5 features per row"));
}

TEST_CASE("a small conv + flatten + linear network learns a linear target with SGD",
          "[nn][linear_layer][training]") {
  // The model is a plain struct with a forward: the layers, relu and flatten, no framework.
  struct Net {
    convtape::Conv2D<double> conv{1, 2, 3, convtape::Conv2dOptions().padding(1), 1};
    Linear<double> fc{2 * 4 * 4, 1, 2};
    Var<double> forward(const Var<double>& x) {
      return fc(convtape::flatten(convtape::relu(conv(x))));
    }
    std::vector<convtape::ParameterRef<double>> parameters() {
      return convtape::parameters(conv, fc);
    }
  };
  Net net;
  convtape::SGD<double> sgd(net.parameters(), 0.05, 0.9);
  const Tensor<double> x = random_tensor({8, 1, 4, 4}, 4);
  Tensor<double> target(8, 1, 1, 1);
  for (convtape::Index n = 0; n < 8; ++n) target(n, 0, 0, 0) = x.plane(n, 0).sum() * 0.5;
  double first = 0.0;
  double last = 0.0;
  for (int step = 0; step < 150; ++step) {
    Tape<double> tape;
    const Var<double> loss =
        convtape::mse_loss(net.forward(tape.constant(x)), tape.constant(target));
    sgd.zero_grad();
    convtape::backward(loss);
    sgd.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  INFO("loss " << first << " -> " << last);
  CHECK(last < 0.01 * first);
}

}  // namespace
