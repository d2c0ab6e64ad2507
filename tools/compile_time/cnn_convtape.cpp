// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// A two-layer CNN trained with Adam, with convtape's umbrella header: what tools/compile_time.sh
// times against cnn_eigen.cpp, the same network, loss and optimizer by hand on Eigen. Both print
// the same: the loss every five steps of twenty, then a few learned weights.
#include <cmath>
#include <convtape/convtape.hpp>
#include <cstdio>
#include <vector>

int main() {
  using T = convtape::Tensor<double>;
  T x(2, 1, 8, 8);
  T y(2, 2, 6, 6);
  for (convtape::Index n = 0; n < 2; ++n) {
    for (convtape::Index i = 0; i < 8; ++i) {
      for (convtape::Index j = 0; j < 8; ++j)
        x(n, 0, i, j) = std::sin(0.3 * double(i * 8 + j) + double(n));
    }
    for (convtape::Index c = 0; c < 2; ++c) {
      for (convtape::Index i = 0; i < 6; ++i) {
        for (convtape::Index j = 0; j < 6; ++j)
          y(n, c, i, j) = std::cos(0.2 * double(i * 6 + j) + double(c + n));
      }
    }
  }
  // conv 1 -> 3 channels (3x3, padding 1), relu, conv 3 -> 2 channels (3x3), both with biases.
  convtape::Conv2D<double> conv1(1, 3, 3, convtape::Conv2dOptions().padding(1));
  convtape::Conv2D<double> conv2(3, 2, 3);
  for (convtape::Index k = 0; k < conv1.weight.value.size(); ++k)
    conv1.weight.value.data()[k] = 0.2 * std::sin(1.7 * double(k) + 0.1);
  for (convtape::Index k = 0; k < conv2.weight.value.size(); ++k)
    conv2.weight.value.data()[k] = 0.2 * std::cos(1.3 * double(k));
  for (convtape::Index c = 0; c < 3; ++c) conv1.bias.value.data()[c] = 0.05 * double(c);
  for (convtape::Index c = 0; c < 2; ++c) conv2.bias.value.data()[c] = -0.02 * double(c);

  auto params = conv1.parameters();
  for (const auto& p : conv2.parameters()) params.push_back(p);
  convtape::Adam<double> adam(params, 1e-2);
  for (int step = 1; step <= 20; ++step) {
    convtape::Tape<double> tape;
    const auto out = conv2(convtape::relu(conv1(tape.constant(x))));
    const auto loss = convtape::mean(convtape::squared_loss(out, tape.constant(y)));
    adam.zero_grad();
    convtape::backward(loss);
    adam.step();
    if (step % 5 == 0) std::printf("step %d, loss %.6f\n", step, loss.item());
  }
  std::printf("w1[0] %.6f, w2[0] %.6f, b2[1] %.6f\n", conv1.weight.value.data()[0],
              conv2.weight.value.data()[0], conv2.bias.value.data()[1]);
}
