// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The d2l "Convolutions for Images" notebook with convtape's umbrella header: what
// tools/compile_time.sh times against notebook_eigen.cpp, the same program by hand on Eigen. Both
// print the same: the cross-correlations, then ten SGD steps of the notebook's training loop from
// the book's initial kernel (its losses and learned kernel).
#include <convtape/convtape.hpp>
#include <cstdio>
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

  // Learning the kernel: a 1x2 layer without bias, the summed squared loss, SGD with lr 0.03.
  const auto x = convtape::Tensor<double>::from_matrix(image);
  const auto y = convtape::Tensor<double>::from_matrix(Y);
  convtape::Conv2D<double> conv(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
  conv.weight.value.flat() << 0.006834, 0.012998;
  convtape::SGD<double> sgd(conv.parameters(), 3e-2);
  for (int i = 0; i < 10; ++i) {
    convtape::Tape<double> tape;
    const auto loss =
        convtape::sum(convtape::squared_loss(conv(tape.constant(x)), tape.constant(y)));
    sgd.zero_grad();
    convtape::backward(loss);
    sgd.step();
    if ((i + 1) % 2 == 0) std::printf("batch %d, loss %.3f\n", i + 1, loss.item());
  }
  const Eigen::MatrixXd W = conv.weight.value.matrix();
  std::printf("kernel %.6f %.6f\n", W(0, 0), W(0, 1));
}
