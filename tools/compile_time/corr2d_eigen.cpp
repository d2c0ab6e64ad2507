// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The notebook's cross-correlation and edge detection by hand on Eigen/Dense: the baseline for
// corr2d_convtape.cpp in tools/compile_time.sh.
#include <Eigen/Dense>
#include <iostream>

namespace {

Eigen::MatrixXd corr2d(const Eigen::MatrixXd& X, const Eigen::MatrixXd& K) {
  Eigen::MatrixXd Y(X.rows() - K.rows() + 1, X.cols() - K.cols() + 1);
  for (Eigen::Index i = 0; i < Y.rows(); ++i) {
    for (Eigen::Index j = 0; j < Y.cols(); ++j) {
      Y(i, j) = (X.block(i, j, K.rows(), K.cols()).array() * K.array()).sum();
    }
  }
  return Y;
}

}  // namespace

int main() {
  Eigen::MatrixXd X(3, 3);
  X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
  Eigen::MatrixXd K(2, 2);
  K << 0, 1, 2, 3;
  std::cout << corr2d(X, K) << "\n\n";

  Eigen::MatrixXd image = Eigen::MatrixXd::Ones(6, 8);
  image.middleCols(2, 4).setZero();
  Eigen::MatrixXd edge(1, 2);
  edge << 1, -1;
  const Eigen::MatrixXd image_t = image.transpose();
  std::cout << corr2d(image, edge) << "\n\n" << corr2d(image_t, edge) << "\n";
}
