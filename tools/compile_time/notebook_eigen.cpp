// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The d2l "Convolutions for Images" notebook by hand on Eigen/Dense alone: the baseline
// tools/compile_time.sh times notebook_convtape.cpp against. The same work and output: the
// cross-correlations, then ten SGD steps on the summed squared loss, its gradient worked by hand.
#include <Eigen/Dense>
#include <cstdio>
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
  const Eigen::MatrixXd Y = corr2d(image, edge);
  const Eigen::MatrixXd image_t = image.transpose();
  std::cout << Y << "\n\n" << corr2d(image_t, edge) << "\n\n";

  // Learning the kernel: loss = sum((corr2d(X, W) - Y)^2), dloss/dW = corr2d(X, 2 (Yhat - Y)).
  Eigen::MatrixXd W(1, 2);
  W << 0.006834, 0.012998;
  for (int i = 0; i < 10; ++i) {
    const Eigen::MatrixXd diff = corr2d(image, W) - Y;
    const Eigen::MatrixXd grad = corr2d(image, 2 * diff);
    W -= 3e-2 * grad;
    if ((i + 1) % 2 == 0) std::printf("batch %d, loss %.3f\n", i + 1, diff.squaredNorm());
  }
  std::printf("kernel %.6f %.6f\n", W(0, 0), W(0, 1));
}
