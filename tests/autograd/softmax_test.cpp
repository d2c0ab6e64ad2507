// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/autograd/softmax.hpp"

#include <vector>

#include "convtape/gradcheck.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::max_abs_diff;
using support::tensor_of;

TEST_CASE("log_softmax on vars has the gradients finite differences give", "[softmax][gradcheck]") {
  support::Rng rng(72);
  for (int trial = 0; trial < 10; ++trial) {
    Tensor<double> z = rng.tensor<double>(rng.index(1, 4), rng.index(1, 6), 1, 1);
    z.flat() *= 4.0;
    const auto check = convtape::gradcheck<double>(
        [](const std::vector<Var<double>>& v) { return convtape::log_softmax(v[0]); }, {z});
    INFO("trial " << trial << ": " << check.description);
    CHECK(check.passed);
  }
}

// PyTorch 1.13's gradient of sum(log_softmax(z) * pattern(shape, 3, 7, 3, 2)), printed by
// tests/data/make_pytorch_values.py: finite where a naive softmax would overflow.
TEST_CASE("log_softmax on vars gives PyTorch's gradients at logits of +-1000",
          "[softmax][pytorch]") {
  Tape<double> tape;
  const Var<double> z =
      tape.variable(tensor_of({3, 4, 1, 1}, {1000.0, -1000.0, 0.5, 999.0, 0.25, -0.5, 2.0, 1.0,
                                             -1000.0, -999.0, -1000.0, -998.5}));
  const Var<double> y = convtape::log_softmax(z);
  convtape::backward(y, support::pattern(y.shape(), 3, 7, 3, 2));
  // clang-format off
  const Tensor<double> want = tensor_of(z.shape(), {
    -1.1344707106849976, 0.0, 1.5, -0.36552928931500245, 1.1070209001914941, -0.9494469063053038,
    1.1158627586305137, -1.2734367525167039, -0.2173919919965724, 0.909067298503203,
    -0.7173919919965723, 0.02571668548994155});
  // clang-format on
  CHECK(max_abs_diff(z.grad(), want) < 1e-15);
  Tape<float> tf;
  const Var<float> zf = tf.variable(z.value().cast<float>());
  convtape::backward(convtape::log_softmax(zf), support::pattern<float>(y.shape(), 3, 7, 3, 2));
  CHECK(max_abs_diff(zf.grad().cast<double>(), want) < 1e-6);
}

TEST_CASE("log_softmax on vars throws what the tensor function throws", "[softmax][errors]") {
  Tape<double> tape;
  const Tensor<double> bad(2, 3, 2, 1);
  CHECK(support::shape_error_message([&] { (void)convtape::log_softmax(tape.variable(bad)); }) ==
        support::shape_error_message([&] { (void)convtape::log_softmax(bad); }));
}

}  // namespace
