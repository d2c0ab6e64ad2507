// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// learn_kernel: d2l's "Learning a Kernel" in C++. Learns K = [1, -1] from the 6x8 image X and
// Y = corr2d(X, K) alone, with a 1x2 Conv2D without bias, the summed squared loss and lr 3e-2,
// printing what the notebook prints. (The notebook as published has backward and the update
// outside its loop, so it printed one loss of 12.080; this is the loop it meant.) learn_sobel.cpp
// goes further: a 3x3 kernel learned from a picture with Adam.
//
// Usage: learn_kernel [--book] [--seed N]
//   --book     start from the kernel of d2l's published run, [0.006834, 0.012998], to reproduce
//              its printed losses 4.949, 0.831, 0.140, 0.024, 0.004
//   --seed N   seed of the MXNet-style initialization otherwise (default 0)
// Exits non-zero if the learned kernel is not within 0.1 of [1, -1].

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "convtape/convtape.hpp"

namespace {

using convtape::Index;
using convtape::Tensor;

/// Formats a 1-row matrix as numpy prints a float64 array: at most 8 decimals with trailing zeros
/// dropped, elements padded to a common width, e.g. `array([[ 0.98949997, -0.98737053]])`.
std::string numpy_repr(const convtape::MatrixX<double>& m) {
  std::vector<std::string> whole;
  std::vector<std::string> fraction;
  for (Index j = 0; j < m.cols(); ++j) {
    char text[64];
    std::snprintf(text, sizeof text, "%.8f", m(0, j));
    std::string s = text;
    s.erase(s.find_last_not_of('0') + 1);  // "1.50000000" -> "1.5", "1.00000000" -> "1."
    const std::size_t dot = s.find('.');
    whole.push_back(s.substr(0, dot));
    fraction.push_back(s.substr(dot));
  }
  std::size_t whole_width = 0;
  std::size_t fraction_width = 0;
  for (std::size_t j = 0; j < whole.size(); ++j) {
    whole_width = std::max(whole_width, whole[j].size());
    fraction_width = std::max(fraction_width, fraction[j].size());
  }
  std::string out = "array([[";
  for (std::size_t j = 0; j < whole.size(); ++j) {
    if (j > 0) out += ", ";
    out += std::string(whole_width - whole[j].size(), ' ') + whole[j] + fraction[j] +
           std::string(fraction_width - fraction[j].size(), ' ');
  }
  return out + "]])";
}

/// Runs the notebook's ten steps, prints its losses and the learned kernel, and returns the kernel.
convtape::MatrixX<double> notebook_loop(bool book_start, std::uint64_t seed) {
  // X: 6x8 ones with the middle four columns black; Y: its edges, corr2d(X, [1, -1]).
  Eigen::MatrixXd x = Eigen::MatrixXd::Ones(6, 8);
  x.middleCols(2, 4).setZero();
  Eigen::MatrixXd k(1, 2);
  k << 1.0, -1.0;
  const Tensor<double> X = Tensor<double>::from_matrix(x);
  const Tensor<double> Y = Tensor<double>::from_matrix(convtape::corr2d(x, k));

  convtape::Conv2D<double> conv(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
  if (book_start) {
    std::cout << "The notebook's loop from the book's initial kernel [0.006834, 0.012998]\n";
    conv.weight.value.data()[0] = 0.006834;
    conv.weight.value.data()[1] = 0.012998;
  } else {
    std::cout << "The notebook's loop from MXNet's default init, uniform(+-0.07), seed " << seed
              << "\n";
    std::mt19937_64 rng(seed);
    convtape::init::mxnet_default(conv.weight.value, conv.bias.value, rng);
  }

  convtape::SGD<double> sgd(conv.parameters(), 3e-2);
  for (int i = 0; i < 10; ++i) {
    convtape::Tape<double> tape;
    auto l = convtape::squared_loss(conv(tape.constant(X)), tape.constant(Y));
    const auto loss = convtape::sum(l);
    sgd.zero_grad();
    convtape::backward(loss);
    sgd.step();
    if ((i + 1) % 2 == 0) std::printf("batch %d, loss %.3f\n", i + 1, loss.item());
  }
  const convtape::MatrixX<double> kernel = conv.weight.value.plane(0, 0);
  std::cout << numpy_repr(kernel) << "\n";
  return kernel;
}

}  // namespace

int main(int argc, char** argv) {
  bool book = false;
  std::uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--book") {
      book = true;
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::cerr << "usage: learn_kernel [--book] [--seed N]\n";
      return EXIT_FAILURE;
    }
  }
  const convtape::MatrixX<double> kernel = notebook_loop(book, seed);
  // Exit status for ctest: the kernel must actually have been learned.
  const double error = std::max(std::abs(kernel(0, 0) - 1.0), std::abs(kernel(0, 1) + 1.0));
  if (!(error < 0.1)) {
    std::cerr << "learn_kernel: the learned kernel is off by " << error << "\n";
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
