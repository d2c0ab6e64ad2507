// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/softmax.hpp"

#include <cmath>

#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Index;
using convtape::Tensor;
using support::max_abs_diff;
using support::shape_error_message;
using support::tensor_of;

TEST_CASE("log_softmax is log(exp(x) / sum(exp(x))) per row", "[softmax]") {
  support::Rng rng(71);
  const Tensor<double> x = rng.tensor<double>(4, 5, 1, 1);
  const Tensor<double> y = convtape::log_softmax(x);
  REQUIRE(y.shape() == x.shape());
  for (Index n = 0; n < 4; ++n) {
    double total = 0;
    for (Index c = 0; c < 5; ++c) total += std::exp(x(n, c, 0, 0));
    for (Index c = 0; c < 5; ++c) {
      CHECK_THAT(y(n, c, 0, 0), WithinAbs(x(n, c, 0, 0) - std::log(total), 1e-15));
    }
  }
}

// PyTorch 1.13's `log_softmax(z, dim=1)`, printed by tests/data/make_pytorch_values.py: an
// independent oracle at logits where exp overflows and underflows.
TEST_CASE("log_softmax gives PyTorch's values at logits of +-1000", "[softmax][pytorch]") {
  const Tensor<double> z = tensor_of({3, 4, 1, 1}, {1000.0, -1000.0, 0.5, 999.0, 0.25, -0.5, 2.0,
                                                    1.0, -1000.0, -999.0, -1000.0, -998.5});
  // clang-format off
  const Tensor<double> want = tensor_of(z.shape(), {
    -0.31326168751822286, -2000.3132616875182, -999.8132616875182, -1.3132616875182228,
    -2.234731134701968, -2.984731134701968, -0.4847311347019678, -1.4847311347019678,
    -2.2192003208757645, -1.2192003208757645, -2.2192003208757645, -0.7192003208757646});
  // clang-format on
  const Tensor<double> y = convtape::log_softmax(z);
  for (Index i = 0; i < y.size(); ++i) {
    CHECK_THAT(y.data()[i], WithinRel(want.data()[i], 1e-15));
  }
  CHECK(y.flat().allFinite());
  CHECK(convtape::log_softmax(z.cast<float>()).flat().allFinite());
}

TEST_CASE("log_softmax rejects tensors that are not rows of classes", "[softmax][errors]") {
  CHECK_THAT(shape_error_message([] { (void)convtape::log_softmax(Tensor<double>(2, 3, 1, 2)); }),
             Contains("log_softmax:") && Contains("(N, C, 1, 1)") && Contains("(2, 3, 1, 2)"));
  CHECK_THAT(shape_error_message([] { (void)convtape::log_softmax(Tensor<double>(0, 3, 1, 1)); }),
             Contains("log_softmax:") && Contains("non-empty"));
}

}  // namespace
