// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The notebook's cross-correlation and edge detection with convtape/corr2d.hpp alone: the include
// cost of the plane operations, timed by tools/compile_time.sh against corr2d_eigen.cpp.
#include <convtape/corr2d.hpp>
#include <iostream>

int main() {
  Eigen::MatrixXd X(3, 3);
  X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
  Eigen::MatrixXd K(2, 2);
  K << 0, 1, 2, 3;
  std::cout << convtape::corr2d(X, K) << "\n\n";

  Eigen::MatrixXd image = Eigen::MatrixXd::Ones(6, 8);
  image.middleCols(2, 4).setZero();
  Eigen::MatrixXd edge(1, 2);
  edge << 1, -1;
  std::cout << convtape::corr2d(image, edge) << "\n\n"
            << convtape::corr2d(image.transpose(), edge) << "\n";
}
