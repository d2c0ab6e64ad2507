// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/corr2d.hpp"

#include "support/catch.hpp"

namespace {

using convtape::corr2d;

TEST_CASE("corr2d reproduces the notebook's 3x3 example exactly", "[corr2d][notebook]") {
  Eigen::MatrixXd X(3, 3);
  X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
  Eigen::MatrixXd K(2, 2);
  K << 0, 1, 2, 3;
  Eigen::MatrixXd expected(2, 2);
  expected << 19, 25, 37, 43;
  CHECK(corr2d(X, K) == expected);
}

}  // namespace
