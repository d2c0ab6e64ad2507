// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The C++ half of the numpy round trip (npy_numpy_roundtrip.py drives it):
//   npy_interop write DIR   saves known tensors, matrices and .npz files for numpy to check;
//   npy_interop read DIR    loads the files numpy saved and checks every value.
// Element k (flat, C order) of every array is value(k), exact in float32 and float64; a layer's
// bias holds value(k + kBiasOffset). Besides arrays, both sides save a Conv2D layer's parameters
// (weight (C_out, C_in, kh, kw), bias (C_out,)) with an input and the layer's output for it, which
// the other side recomputes, and a LeNet's parameters as an .npz in PyTorch's state_dict naming
// and layout (kLeNet), array i holding value(k + 100 * i).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "convtape/io/npy.hpp"
#include "convtape/io/npz.hpp"
#include "convtape/io/parameters.hpp"
#include "convtape/nn/conv2d.hpp"

namespace {

double value(Eigen::Index k) { return double((k * k) % 1000 - 500) / 64.0; }

constexpr Eigen::Index kBiasOffset = 7;

/// d2l's LeNet as PyTorch's nn.Sequential names its parameters: conv(1->6, 5x5) at 0,
/// conv(6->16, 5x5) at 3, linear 400->120 at 7, 120->84 at 9, 84->10 at 11.
const std::vector<std::pair<std::string, std::vector<Eigen::Index>>> kLeNet = {
    {"0.weight", {6, 1, 5, 5}}, {"0.bias", {6}},   {"3.weight", {16, 6, 5, 5}}, {"3.bias", {16}},
    {"7.weight", {120, 400}},   {"7.bias", {120}}, {"9.weight", {84, 120}},     {"9.bias", {84}},
    {"11.weight", {10, 84}},    {"11.bias", {10}}};

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

/// kLeNet's arrays, array i holding value(k + 100 * i), each in a tensor of the layer's own
/// layout (conv weights 4-D, a conv bias (1, C, 1, 1), a linear weight (1, 1, out, in)).
std::vector<convtape::NamedArray<float>> lenet_arrays() {
  std::vector<convtape::NamedArray<float>> arrays;
  for (std::size_t i = 0; i < kLeNet.size(); ++i) {
    const auto& [name, shape] = kLeNet[i];
    convtape::Shape4 shape4{1, 1, 1, 1};
    if (shape.size() == 4) {
      std::copy(shape.begin(), shape.end(), shape4.begin());
    } else if (name[0] == '0' || name[0] == '3') {
      shape4[1] = shape[0];  // a convolution's bias
    } else {
      std::copy(shape.begin(), shape.end(),
                shape4.end() - static_cast<std::ptrdiff_t>(shape.size()));
    }
    convtape::Tensor<float> t(shape4);
    fill_known(t, static_cast<Eigen::Index>(100 * i));
    arrays.emplace_back(name, std::move(t), shape);
  }
  return arrays;
}

/// Loads an .npz of kLeNet's arrays that numpy saved (value(k + 100 * i) in array i) and checks
/// names, shapes and every value.
void check_lenet_npz(const std::string& path) {
  const auto arrays = convtape::load_npz<float>(path);
  convtape::check_state_dict(arrays, kLeNet);
  bool ok = arrays.size() == kLeNet.size();
  for (std::size_t i = 0; ok && i < kLeNet.size(); ++i) {
    const convtape::Tensor<float>& t = convtape::find_array(arrays, kLeNet[i].first).value;
    for (Eigen::Index k = 0; ok && k < t.size(); ++k) {
      ok = t.data()[k] == static_cast<float>(value(k + static_cast<Eigen::Index>(100 * i)));
    }
  }
  check(ok, "load_npz<float>(" + path + "): names, shapes and values of a LeNet");
}

/// Loads numpy's .npz of float64 arrays: a 0-D "step" = 3, a 2-D "matrix" of value(k), "a/b"
/// (1-D, value(k + 5)) and a UTF-8 name.
void check_misc_npz(const std::string& path) {
  const auto arrays = convtape::load_npz<double>(path);
  const auto& step = convtape::find_array(arrays, "step");
  const auto& matrix = convtape::find_array(arrays, "matrix");
  const auto& nested = convtape::find_array(arrays, "a/b");
  const auto& utf8 = convtape::find_array(arrays, "temp\xc3\xa9rature");
  bool ok = arrays.size() == 4 && step.shape.empty() && step.value.data()[0] == 3.0 &&
            matrix.shape == std::vector<Eigen::Index>{3, 4} && nested.shape.size() == 1 &&
            utf8.shape == std::vector<Eigen::Index>{2};
  for (Eigen::Index k = 0; ok && k < 12; ++k) ok = matrix.value.data()[k] == value(k);
  for (Eigen::Index k = 0; ok && k < nested.value.size(); ++k) {
    ok = nested.value.data()[k] == value(k + 5);
  }
  check(ok, "load_npz<double>(" + path + "): 0-D, 2-D, nested and UTF-8 names");
}

/// Checks that `load(path)` (load_npy or load_npz) throws io_error whose message holds `reason`.
template <class Load>
void check_rejected(const std::string& path, const std::string& reason, Load load) {
  try {
    (void)load(path);
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

      convtape::save_npz(dir + "cpp_lenet.npz", lenet_arrays());
      convtape::Tensor<double> step(1, 1, 1, 1);
      step.data()[0] = 3;
      convtape::Tensor<double> nested(1, 1, 1, 4);
      fill_known(nested, 5);
      convtape::save_npz<double>(dir + "cpp_misc.npz",
                                 {{"step", step, {}},
                                  {"matrix", known_tensor<double>(1, 1, 3, 4), {3, 4}},
                                  {"a/b", nested, {4}},
                                  {"temp\xc3\xa9rature", known_tensor<double>(1, 1, 1, 2), {2}}});
      std::cout << "wrote 11 files to " << dir << "\n";
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
      const auto npy = convtape::load_npy<double>;
      check_rejected(dir + "np_fortran.npy", "fortran_order", npy);
      check_rejected(dir + "np_bigendian.npy", "big-endian", npy);
      check_rejected(dir + "np_int64.npy", "dtype '<i8'", npy);
      check_lenet_npz(dir + "np_lenet.npz");
      check_lenet_npz(dir + "np_lenet_unseekable.npz");
      check_misc_npz(dir + "np_misc.npz");
      const auto npz = convtape::load_npz<double>;
      check_rejected(dir + "np_compressed.npz",
                     "compressed .npz (np.savez_compressed) is not supported", npz);
      check_rejected(dir + "np_int64.npz", "entry 'i.npy': dtype '<i8' is not supported", npz);
      return failures == 0 ? 0 : 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "npy_interop " << mode << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "npy_interop: unknown mode " << mode << "\n";
  return 2;
}
