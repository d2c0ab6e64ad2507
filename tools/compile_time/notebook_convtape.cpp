// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The d2l "Convolutions for Images" notebook with convtape's umbrella header: what
// tools/compile_time.sh times against notebook_eigen.cpp (the same program by hand on Eigen).
#include <convtape/convtape.hpp>
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
  const Eigen::MatrixXd Y = convtape::corr2d(image, edge);
  std::cout << Y << "\n\n" << convtape::corr2d(image.transpose(), edge) << "\n\n";

  const auto x = convtape::Tensor<double>::from_matrix(image);
  const auto y = convtape::Tensor<double>::from_matrix(Y);
  convtape::Conv2D<double> conv(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
  convtape::SGD<double> sgd(conv.parameters(), 3e-2);
  for (int i = 0; i < 10; ++i) {
    convtape::Tape<double> tape;
    auto l = convtape::squared_loss(conv(tape.constant(x)), tape.constant(y));
    auto total = convtape::sum(l);
    sgd.zero_grad();
    convtape::backward(total);
    sgd.step();
    if ((i + 1) % 2 == 0) std::cout << "batch " << i + 1 << ", loss " << total.value() << "\n";
  }
  std::cout << conv.weight.value << "\n";
}
