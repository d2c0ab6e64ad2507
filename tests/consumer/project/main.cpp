// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// A user's program: the notebook's first cross-correlation. Built by every consumer test (CMake
// find_package, add_subdirectory, FetchContent, and plain pkg-config; header-only and against
// convtape::compiled), which checks its output.
// It includes the umbrella header, so each way must provide every header, warning-free.
#include <convtape/convtape.hpp>
#include <iostream>

#if defined(CONVTAPE_CONSUMER_EXPECT_EXTERN) && !defined(CONVTAPE_EXTERN_TEMPLATES)
#error "linking convtape::compiled (or convtape-compiled.pc) must define CONVTAPE_EXTERN_TEMPLATES"
#endif

int main() {
  Eigen::MatrixXd X(3, 3);
  X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
  Eigen::MatrixXd K(2, 2);
  K << 0, 1, 2, 3;
  const Eigen::MatrixXd Y = convtape::corr2d(X, K);

  Eigen::MatrixXd expected(2, 2);
  expected << 19, 25, 37, 43;
  const Eigen::IOFormat fmt(Eigen::StreamPrecision, Eigen::DontAlignCols, ", ", ", ", "[", "]", "[",
                            "]");
  std::cout << "convtape " << CONVTAPE_VERSION_STRING << "\n";
  std::cout << "corr2d(X, K) = " << Y.format(fmt) << "\n";
  if (Y != expected) {
    std::cerr << "wrong result, expected " << expected.format(fmt) << "\n";
    return 1;
  }
  return 0;
}
