// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/io/parameters.hpp"

#include <cstdio>
#include <fstream>
#include <string>

#include "convtape/io/npy.hpp"
#include "convtape/nn/conv2d.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Conv2D;
using convtape::Conv2dOptions;
using convtape::io_error;
using convtape::load_parameters;
using convtape::save_parameters;
using convtape::Shape4;
using convtape::shape_error;
using convtape::Tensor;
using support::error_message;
using support::read_bytes;
using support::TempDir;
using support::write_bytes;

/// The `'shape': (...)` entry of a .npy file's header, as numpy wrote it.
std::string header_shape(const std::string& path) {
  const std::string bytes = read_bytes(path);
  const std::size_t begin = bytes.find("'shape': ");
  if (begin == std::string::npos) return "<no shape>";
  return bytes.substr(begin + 9, bytes.find(')', begin) + 1 - (begin + 9));
}

void copy_file(const std::string& from, const std::string& to) {
  write_bytes(to, read_bytes(from));
}

template <class S>
bool same_values(const Tensor<S>& a, const Tensor<S>& b) {
  return a.shape() == b.shape() && a.flat() == b.flat();
}

template <class S>
bool same_layer(const Conv2D<S>& a, const Conv2D<S>& b) {
  return same_values(a.weight.value, b.weight.value) && same_values(a.bias.value, b.bias.value) &&
         same_values(a.weight.grad, b.weight.grad) && same_values(a.bias.grad, b.bias.grad);
}

TEST_CASE("save_parameters then load_parameters restores a layer's weight and bias bit for bit",
          "[io][parameters]") {
  TempDir dir;
  const std::string prefix = dir.file("conv_");

  SECTION("double, with bias") {
    const Conv2D<double> saved(3, 4, {2, 3}, {}, 1);
    save_parameters(prefix, saved);
    // PyTorch's layout: weight (C_out, C_in, kh, kw) and bias (C_out,), 1-D.
    CHECK(header_shape(prefix + "weight.npy") == "(4, 3, 2, 3)");
    CHECK(header_shape(prefix + "bias.npy") == "(4,)");

    Conv2D<double> loaded(3, 4, {2, 3}, {}, 2);  // another seed: other values before loading
    REQUIRE_FALSE(same_values(loaded.weight.value, saved.weight.value));
    load_parameters(prefix, loaded);
    CHECK(same_values(loaded.weight.value, saved.weight.value));
    CHECK(same_values(loaded.bias.value, saved.bias.value));
    CHECK(loaded.bias.value.shape() == Shape4{1, 4, 1, 1});
    // The loaded layer computes what the saved one does.
    const Tensor<double> x = support::random_tensor({2, 3, 5, 6}, 3);
    CHECK(same_values(loaded(x), saved(x)));
  }
  SECTION("float, grouped, without bias") {
    const Conv2D<float> saved(4, 6, 3, Conv2dOptions().groups(2).bias(false), 5);
    save_parameters(prefix, saved);
    CHECK(header_shape(prefix + "weight.npy") == "(6, 2, 3, 3)");
    CHECK(read_bytes(prefix + "weight.npy").find("'descr': '<f4'") != std::string::npos);
    CHECK(read_bytes(prefix + "bias.npy").empty());  // no bias file

    Conv2D<float> loaded(4, 6, 3, Conv2dOptions().groups(2).bias(false), 6);
    load_parameters(prefix, loaded);
    CHECK(same_values(loaded.weight.value, saved.weight.value));
    CHECK(loaded.bias.value.empty());
  }
  SECTION("float32 files into a double layer, widened exactly") {
    const Conv2D<float> saved(1, 2, {1, 2}, {}, 7);
    save_parameters(prefix, saved);
    Conv2D<double> loaded(1, 2, {1, 2}, {}, 8);
    load_parameters(prefix, loaded);
    CHECK(same_values(loaded.weight.value, saved.weight.value.cast<double>()));
    CHECK(same_values(loaded.bias.value, saved.bias.value.cast<double>()));
  }
}

TEST_CASE("load_parameters takes the bias as PyTorch's (C_out,) or as the layer's (1, C_out, 1, 1)",
          "[io][parameters]") {
  TempDir dir;
  const std::string prefix = dir.file("p_");
  Conv2D<double> layer(2, 3, {1, 1}, {}, 1);
  Tensor<double> weight(3, 2, 1, 1);
  for (Eigen::Index i = 0; i < weight.size(); ++i) weight.data()[i] = 0.5 * double(i);
  convtape::save_npy(prefix + "weight.npy", weight);

  SECTION("1-D (C_out,), as save_parameters and np.save(conv.bias.detach().numpy()) write it") {
    Conv2D<double> source(2, 3, {1, 1}, {}, 9);
    source.bias.value.flat() << 1.5, -2.0, 0.25;
    save_parameters(dir.file("source_"), source);
    copy_file(dir.file("source_bias.npy"), prefix + "bias.npy");
    REQUIRE(header_shape(prefix + "bias.npy") == "(3,)");
  }
  SECTION("4-D (1, C_out, 1, 1), as save_npy(path, conv.bias.value) writes it") {
    Tensor<double> bias(1, 3, 1, 1);
    bias.flat() << 1.5, -2.0, 0.25;
    convtape::save_npy(prefix + "bias.npy", bias);
    REQUIRE(header_shape(prefix + "bias.npy") == "(1, 3, 1, 1)");
  }
  load_parameters(prefix, layer);
  CHECK(same_values(layer.weight.value, weight));
  CHECK(layer.bias.value.shape() == Shape4{1, 3, 1, 1});
  CHECK(layer.bias.value.data()[0] == 1.5);
  CHECK(layer.bias.value.data()[1] == -2.0);
  CHECK(layer.bias.value.data()[2] == 0.25);
}

TEST_CASE("load_parameters rejects files that do not fit the layer and then modifies nothing",
          "[io][parameters][errors]") {
  TempDir dir;
  const std::string prefix = dir.file("p_");
  Conv2D<double> layer(2, 3, {2, 2}, {}, 1);
  layer.weight.grad.setConstant(0.5);  // gradients must survive a failed load as well
  layer.bias.grad.setConstant(-0.5);
  const Conv2D<double> before = layer;
  // Valid files for `layer`, from a layer with other values; each section spoils one thing.
  save_parameters(prefix, Conv2D<double>(2, 3, {2, 2}, {}, 2));

  SECTION("a weight with another number of output channels") {
    save_parameters(prefix, Conv2D<double>(2, 4, {2, 2}));
    const std::string message = error_message<shape_error>([&] { load_parameters(prefix, layer); });
    CHECK_THAT(message, Contains("load_parameters") && Contains("p_weight.npy") &&
                            Contains("(4, 2, 2, 2)") && Contains("(3, 2, 2, 2)"));
  }
  SECTION("a weight with another kernel size") {
    convtape::save_npy(prefix + "weight.npy", Tensor<double>(3, 2, 2, 3));
    CHECK_THAT(error_message<shape_error>([&] { load_parameters(prefix, layer); }),
               Contains("(3, 2, 2, 3)") && Contains("(3, 2, 2, 2)"));
  }
  SECTION("a weight that is not 4-D, even with the right number of elements") {
    convtape::save_npy(prefix + "weight.npy", Eigen::MatrixXd::Zero(6, 4));
    CHECK_THAT(error_message<shape_error>([&] { load_parameters(prefix, layer); }),
               Contains("weight of shape (6, 4)") && Contains("(3, 2, 2, 2)"));
  }
  SECTION("a bias with another number of values") {
    save_parameters(dir.file("four_"), Conv2D<double>(2, 4, {2, 2}));
    copy_file(dir.file("four_bias.npy"), prefix + "bias.npy");
    CHECK_THAT(error_message<shape_error>([&] { load_parameters(prefix, layer); }),
               Contains("p_bias.npy") && Contains("bias of shape (4,)") &&
                   Contains("(1, 3, 1, 1)") && Contains("(3,) or (1, 3, 1, 1)"));
  }
  SECTION("a bias with the right number of values in another shape") {
    convtape::save_npy(prefix + "bias.npy", Tensor<double>(1, 1, 1, 3));
    CHECK_THAT(error_message<shape_error>([&] { load_parameters(prefix, layer); }),
               Contains("bias of shape (1, 1, 1, 3)"));
  }
  SECTION("a missing weight file") {
    std::remove((prefix + "weight.npy").c_str());
    CHECK_THAT(error_message<io_error>([&] { load_parameters(prefix, layer); }),
               Contains("load_parameters") && Contains("p_weight.npy") && Contains("cannot open"));
  }
  SECTION("a missing bias file when the layer has a bias") {
    std::remove((prefix + "bias.npy").c_str());
    CHECK_THAT(error_message<io_error>([&] { load_parameters(prefix, layer); }),
               Contains("p_bias.npy") && Contains("the layer has a bias"));
  }
  SECTION("float64 files into a float layer") {
    Conv2D<float> narrow(2, 3, {2, 2}, {}, 1);
    const Conv2D<float> narrow_before = narrow;
    CHECK_THAT(error_message<io_error>([&] { load_parameters(prefix, narrow); }),
               Contains("float64"));
    CHECK(same_layer(narrow, narrow_before));
  }
  SECTION("a truncated bias file") {
    const std::string bytes = read_bytes(prefix + "bias.npy");
    write_bytes(prefix + "bias.npy", bytes.substr(0, bytes.size() - 1));
    CHECK_THAT(error_message<io_error>([&] { load_parameters(prefix, layer); }),
               Contains("truncated"));
  }
  CHECK(same_layer(layer, before));
}

TEST_CASE("A bias file for a layer without a bias is refused by load, and save never deletes it",
          "[io][parameters][errors]") {
  TempDir dir;
  const std::string prefix = dir.file("p_");
  save_parameters(prefix, Conv2D<double>(1, 2, {1, 2}, {}, 1));  // weight and bias files
  Conv2D<double> layer(1, 2, {1, 2}, Conv2dOptions().bias(false), 2);
  const Conv2D<double> before = layer;

  CHECK_THAT(error_message<shape_error>([&] { load_parameters(prefix, layer); }),
             Contains("p_bias.npy") && Contains("the layer has none"));
  CHECK(same_layer(layer, before));

  // Saving the bias-less layer would leave a weight beside a bias that is not its own: it throws
  // before writing anything, and the bias file (which may not even be ours) stays as it was.
  SECTION("a bias file convtape wrote") {}
  SECTION("a file that is not convtape's") { write_bytes(prefix + "bias.npy", "user notes\n"); }
  const std::string weight_bytes = read_bytes(prefix + "weight.npy");
  const std::string bias_bytes = read_bytes(prefix + "bias.npy");
  REQUIRE_FALSE(bias_bytes.empty());
  const Conv2D<double> saved(1, 2, {1, 2}, Conv2dOptions().bias(false), 3);
  CHECK_THAT(error_message<io_error>([&] { save_parameters(prefix, saved); }),
             Contains("save_parameters") && Contains("p_bias.npy") &&
                 Contains("the layer has no bias") && Contains("nothing was written"));
  CHECK(read_bytes(prefix + "bias.npy") == bias_bytes);
  CHECK(read_bytes(prefix + "weight.npy") == weight_bytes);

  // Once the user removes it, the layer saves and loads.
  REQUIRE(std::remove((prefix + "bias.npy").c_str()) == 0);
  save_parameters(prefix, saved);
  CHECK(read_bytes(prefix + "bias.npy").empty());
  load_parameters(prefix, layer);
  CHECK(same_values(layer.weight.value, saved.weight.value));
}

TEST_CASE("save_parameters reports a path it cannot write with io_error", "[io][parameters]") {
  TempDir dir;
  CHECK_THAT(error_message<io_error>(
                 [&] { save_parameters(dir.file("missing/dir/p_"), Conv2D<double>(1, 1, 2)); }),
             Contains("save_parameters") && Contains("missing/dir/p_weight.npy"));
}

}  // namespace
