// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The C++ half of the numpy round trip (npy_numpy_roundtrip.py drives it):
//   npy_interop write DIR   saves known tensors and matrices for numpy to check;
//   npy_interop read DIR    loads the files numpy saved and checks every value.
// Element k (flat, C order) of every array is value(k), exact in float32 and float64; a layer's
// bias holds value(k + kBiasOffset). Besides arrays, both sides save a Conv2D layer's parameters
// (weight (C_out, C_in, kh, kw), bias (C_out,)) with an input and the layer's output for it, which
// the other side recomputes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <string>

#include "convtape/io/npy.hpp"
#include "convtape/io/parameters.hpp"
#include "convtape/nn/conv2d.hpp"

namespace {

double value(Eigen::Index k) { return double((k * k) % 1000 - 500) / 64.0; }

constexpr Eigen::Index kBiasOffset = 7;

/// Sets every element of `t` to value(k + offset).
template <class S>
void fill_known(convtape::Tensor<S>& t, Eigen::Index offset = 0) {
  for (Eigen::Index k = 0; k < t.size(); ++k) t.data()[k] = static_cast<S>(value(k + offset));
}

template <class S>
convtape::Tensor<S> known_tensor(Eigen::Index n, Eigen::Index c, Eigen::Index h, Eigen::Index w) {
  convtape::Tensor<S> t(n, c, h, w);
  fill_known(t);
  return t;
}

int failures = 0;

void check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
  if (!ok) ++failures;
}

template <class S>
void check_tensor(const std::string& path, const convtape::Shape4& shape) {
  const convtape::Tensor<S> t = convtape::load_npy<S>(path);
  bool ok = t.shape() == shape;
  for (Eigen::Index k = 0; ok && k < t.size(); ++k) ok = t.data()[k] == static_cast<S>(value(k));
  check(ok, "load_npy<" + std::string(sizeof(S) == 4 ? "float" : "double") + ">(" + path + ")");
}

template <class S>
void check_matrix(const std::string& path, Eigen::Index rows, Eigen::Index cols) {
  const convtape::MatrixX<S> m = convtape::load_npy_matrix<S>(path);
  bool ok = m.rows() == rows && m.cols() == cols;
  for (Eigen::Index i = 0; ok && i < rows; ++i) {
    for (Eigen::Index j = 0; ok && j < cols; ++j)
      ok = m(i, j) == static_cast<S>(value(i * cols + j));
  }
  check(ok, "load_npy_matrix(" + path + ")");
}

/// Loads numpy's layer (weight (3, 2, 2, 3) and bias (3,), float32 as PyTorch's) into a layer of
/// scalar S, checks every parameter, and checks the layer's output on numpy's input against
/// numpy's output.
template <class S>
void check_layer(const std::string& dir) {
  const std::string name = sizeof(S) == 4 ? "float" : "double";
  convtape::Conv2D<S> conv(2, 3, {2, 3});
  convtape::load_parameters(dir + "np_conv_", conv);
  convtape::Tensor<S> weight(3, 2, 2, 3);
  convtape::Tensor<S> bias(1, 3, 1, 1);
  fill_known(weight);
  fill_known(bias, kBiasOffset);
  check(conv.weight.value.shape() == weight.shape() && conv.weight.value.flat() == weight.flat() &&
            conv.bias.value.shape() == bias.shape() && conv.bias.value.flat() == bias.flat(),
        "load_parameters(np_conv_) into Conv2D<" + name + ">");
  if constexpr (sizeof(S) == 8) {
    const convtape::Tensor<double> y = conv(convtape::load_npy<double>(dir + "np_conv_x.npy"));
    const convtape::Tensor<double> want = convtape::load_npy<double>(dir + "np_conv_y.npy");
    double diff = y.shape() == want.shape() ? 0.0 : std::numeric_limits<double>::infinity();
    for (Eigen::Index k = 0; y.shape() == want.shape() && k < y.size(); ++k) {
      diff = std::max(diff, std::abs(y.data()[k] - want.data()[k]));
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1e", diff);
    check(diff <= 1e-12,
          std::string("the loaded layer's output matches numpy's convolution (max diff ") + text +
              ")");
  }
}

void check_rejected(const std::string& path, const std::string& reason) {
  try {
    (void)convtape::load_npy<double>(path);
    check(false, path + " was loaded but must be rejected (" + reason + ")");
  } catch (const convtape::io_error& e) {
    const std::string message = e.what();
    check(message.find(reason) != std::string::npos, path + " rejected: " + message);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: npy_interop write|read DIR\n";
    return 2;
  }
  const std::string mode = argv[1];
  const std::string dir = std::string(argv[2]) + "/";
  try {
    if (mode == "write") {
      convtape::save_npy(dir + "cpp_tensor_f64.npy", known_tensor<double>(2, 3, 4, 5));
      convtape::save_npy(dir + "cpp_tensor_f32.npy", known_tensor<float>(1, 2, 3, 4));
      Eigen::MatrixXd col(3, 5);  // column-major storage, saved in C order
      for (Eigen::Index i = 0; i < 3; ++i) {
        for (Eigen::Index j = 0; j < 5; ++j) col(i, j) = value(i * 5 + j);
      }
      convtape::save_npy(dir + "cpp_matrix_f64.npy", col);
      convtape::save_npy(dir + "cpp_matrix_f32.npy", (col.topLeftCorner(2, 4).cast<float>()));

      // A layer with known parameters, an input, and the layer's output for numpy to recompute.
      convtape::Conv2D<double> conv(2, 3, {2, 3});
      fill_known(conv.weight.value);
      fill_known(conv.bias.value, kBiasOffset);
      convtape::save_parameters(dir + "cpp_conv_", conv);
      const convtape::Tensor<double> x = known_tensor<double>(2, 2, 4, 5);
      convtape::save_npy(dir + "cpp_conv_x.npy", x);
      convtape::save_npy(dir + "cpp_conv_y.npy", conv(x));
      convtape::Conv2D<float> no_bias(1, 2, {1, 2}, convtape::Conv2dOptions().bias(false));
      fill_known(no_bias.weight.value);
      convtape::save_parameters(dir + "cpp_nobias_", no_bias);
      std::cout << "wrote 9 files to " << dir << "\n";
      return 0;
    }
    if (mode == "read") {
      check_tensor<double>(dir + "np_1d_f64.npy", {1, 1, 1, 7});
      check_tensor<float>(dir + "np_2d_f32.npy", {1, 1, 3, 4});
      check_tensor<double>(dir + "np_2d_f32.npy", {1, 1, 3, 4});  // widened exactly
      check_matrix<float>(dir + "np_2d_f32.npy", 3, 4);
      check_tensor<double>(dir + "np_3d_f64.npy", {1, 2, 3, 4});
      check_tensor<float>(dir + "np_4d_f32.npy", {2, 2, 3, 3});
      check_matrix<double>(dir + "np_4d_f64_single_plane.npy", 5, 6);
      check_layer<float>(dir);
      check_layer<double>(dir);
      check_rejected(dir + "np_fortran.npy", "fortran_order");
      check_rejected(dir + "np_bigendian.npy", "big-endian");
      check_rejected(dir + "np_int64.npy", "dtype '<i8'");
      return failures == 0 ? 0 : 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "npy_interop " << mode << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "npy_interop: unknown mode " << mode << "\n";
  return 2;
}
