// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// Every C++ snippet of docs/*.md (and the marked ones of README.md), so none of them can rot. Each snippet stands here verbatim
// between `// [snippet NAME]` and `// [end]`; the code around it supplies what the page defined
// earlier (X, K, image, ...) and checks the values the page claims in comments. The program runs
// the snippets in order, printing `[snippet NAME]` before each one's output, and exits non-zero
// if a claim is false. check_docs.py (ctest: docs.snippets) checks that every ```cpp block of the
// pages is one of these snippets and that the output block shown after it is what it printed.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "convtape/convtape.hpp"

namespace {

int failures = 0;

/// Records a claim of the docs that does not hold.
void expect(bool ok, const std::string& claim) {
  if (!ok) {
    std::cerr << "docs claim does not hold: " << claim << "\n";
    ++failures;
  }
}

void begin(const char* name) { std::cout << "[snippet " << name << "]\n"; }

/// The notebook's 3 x 3 example (guide section 1).
struct Example {
  Eigen::MatrixXd X{3, 3};
  Eigen::MatrixXd K{2, 2};
  Example() {
    X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
    K << 0, 1, 2, 3;
  }
};

/// The notebook's 6 x 8 image and its edge kernel (guide section 3).
struct Edges {
  Eigen::MatrixXd image = Eigen::MatrixXd::Ones(6, 8);
  Eigen::MatrixXd K{1, 2};
  Edges() {
    image.middleCols(2, 4).setZero();
    K << 1, -1;
  }
};

// ---- docs/guide.md ------------------------------------------------------------------------------

void guide_corr2d() {
  begin("guide-corr2d");
  // [snippet guide-corr2d]
  Eigen::MatrixXd X(3, 3);
  X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
  Eigen::MatrixXd K(2, 2);
  K << 0, 1, 2, 3;
  std::cout << convtape::corr2d(X, K) << "\n";
  // [end]
  Eigen::MatrixXd flipped(2, 2);
  flipped << 5, 11, 23, 29;
  expect(convtape::convolve2d(X, K) == flipped, "convolve2d(X, K) is 5 11 / 23 29");
}

void guide_layer() {
  begin("guide-layer");
  const Eigen::MatrixXd X = Example().X;
  // [snippet guide-layer]
  convtape::Conv2D<double> conv(1, 1, {1, 2});  // in_channels, out_channels, a 1 x 2 kernel
  std::cout << conv.weight.value << "\n" << conv.bias.value << "\n";

  const auto x = convtape::Tensor<double>::from_matrix(X);  // X as (1, 1, 3, 3)
  std::cout << conv(x) << "\n";                             // inference, no tape: (1, 1, 3, 2)
  // [end]
  const Eigen::MatrixXd by_hand =
      convtape::corr2d(X, conv.weight.value.plane(0, 0)).array() + conv.bias.value(0, 0, 0, 0);
  expect((conv(x).matrix() - by_hand).cwiseAbs().maxCoeff() <= 1e-15,
         "conv(x) is corr2d(X, weight) + bias (up to the order of the additions)");
  expect(conv.parameters().size() == 2, "the layer has two parameters");
  const convtape::Conv2D<double> again(1, 1, {1, 2});
  const convtape::Conv2D<double> seeded(1, 1, {1, 2}, {}, 7);
  expect(again.weight.value.flat() == conv.weight.value.flat(), "the same seed, the same weights");
  expect(seeded.weight.value.flat() != conv.weight.value.flat(), "another seed, other weights");
  const double bound = 1 / std::sqrt(2.0);
  expect(conv.weight.value.flat().cwiseAbs().maxCoeff() <= bound &&
             std::abs(conv.bias.value(0, 0, 0, 0)) <= bound,
         "PyTorch's default init draws from +-1/sqrt(fan_in) = +-0.707");
}

void guide_edges() {
  begin("guide-edges");
  // [snippet guide-edges]
  Eigen::MatrixXd image = Eigen::MatrixXd::Ones(6, 8);
  image.middleCols(2, 4).setZero();
  Eigen::MatrixXd K(1, 2);
  K << 1, -1;
  const Eigen::MatrixXd Y = convtape::corr2d(image, K);
  std::cout << Y << "\n";
  // [end]
  const Eigen::MatrixXd transposed = convtape::corr2d(image.transpose(), K);
  expect(transposed.rows() == 8 && transposed.cols() == 5 && transposed.isZero(0.0),
         "corr2d(image.transpose(), K) is an 8 x 5 matrix of zeros");
}

void guide_learning() {
  begin("guide-learning");
  const Edges edges;
  const Eigen::MatrixXd& image = edges.image;
  const Eigen::MatrixXd& K = edges.K;
  const convtape::Conv2D<double> start(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
  expect(start.weight.value.flat() == convtape::Conv2D<double>(1, 1, {1, 2}).weight.value.flat(),
         "the layer without bias starts from section 2's weight [-0.481, 0.696]");
  // [snippet guide-learning]
  const auto x = convtape::Tensor<double>::from_matrix(image);                       // (1, 1, 6, 8)
  const auto y = convtape::Tensor<double>::from_matrix(convtape::corr2d(image, K));  // (1, 1, 6, 7)

  convtape::Conv2D<double> conv(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
  convtape::SGD<double> sgd(conv.parameters(), 3e-2);
  for (int i = 0; i < 10; ++i) {
    convtape::Tape<double> tape;
    auto l = convtape::squared_loss(conv(tape.constant(x)), tape.constant(y));
    auto loss = convtape::sum(l);
    sgd.zero_grad();
    convtape::backward(loss);
    sgd.step();
    if ((i + 1) % 2 == 0) std::printf("batch %d, loss %.3f\n", i + 1, loss.item());
  }
  std::cout << "learned kernel: " << conv.weight.value.plane(0, 0) << "\n";
  // [end]
}

void guide_padding() {
  begin("guide-padding");
  const Example example;
  const Eigen::MatrixXd& X = example.X;
  const Eigen::MatrixXd& K = example.K;
  // [snippet guide-padding]
  using convtape::Conv2dOptions;
  const Eigen::MatrixXd strided = convtape::corr2d(X, K, Conv2dOptions().padding(1).stride(2));
  const Eigen::MatrixXd same = convtape::corr2d(X, K, Conv2dOptions().padding_same());
  // strided: 0 8 / 21 43; same: 3 x 3, the odd row and column padded at the bottom and right
  // [end]
  Eigen::MatrixXd want(2, 2);
  want << 0, 8, 21, 43;
  expect(strided == want, "padding(1).stride(2) gives 0 8 / 21 43");
  Eigen::MatrixXd bottom_right = Eigen::MatrixXd::Zero(4, 4);
  bottom_right.topLeftCorner(3, 3) = X;
  expect(same == convtape::corr2d(bottom_right, K), "padding_same() pads bottom and right by 1");
}

void guide_channels() {
  begin("guide-channels");
  using convtape::Conv2dOptions;
  // [snippet guide-channels]
  convtape::Tensor<double> x(2, 3, 6, 8);  // batch 2, 3 channels, 6 x 8
  convtape::Tensor<double> w(4, 3, 3, 3);  // 4 output channels, 3 x 3 kernels
  x.setConstant(1);
  w.setConstant(0.5);
  auto y = convtape::conv2d(x, w, {}, Conv2dOptions().padding(1));  // (2, 4, 6, 8), no bias
  // y(0, 0, 0, 0) == 6 (a corner sees 2 x 2 of 3 x 3 inputs per channel: 3 * 4 * 0.5)
  // y(1, 3, 2, 2) == 13.5 (an interior point sees all 27: 27 * 0.5)
  // [end]
  expect(y.shape() == convtape::Shape4{2, 4, 6, 8}, "y is (2, 4, 6, 8)");
  expect(y(0, 0, 0, 0) == 6 && y(1, 3, 2, 2) == 13.5, "y(0, 0, 0, 0) == 6, y(1, 3, 2, 2) == 13.5");
}

void guide_parameters() {
  begin("guide-parameters");
  // [snippet guide-parameters]
  convtape::Conv2D<float> conv(3, 8, 3);      // as torch.nn.Conv2d(3, 8, 3)
  convtape::save_parameters("conv1_", conv);  // conv1_weight.npy (8, 3, 3, 3), conv1_bias.npy (8,)
  convtape::Conv2D<float> copy(3, 8, 3, {}, 1);  // another seed...
  convtape::load_parameters("conv1_", copy);     // ...now the same weights and bias
  // [end]
  expect(copy.weight.value.flat() == conv.weight.value.flat() &&
             copy.bias.value.flat() == conv.bias.value.flat(),
         "load_parameters restores what save_parameters wrote");
  expect(convtape::load_npy<float>("conv1_weight.npy").shape() == convtape::Shape4{8, 3, 3, 3},
         "conv1_weight.npy is (8, 3, 3, 3)");
}

void guide_npz() {
  using convtape::Conv2dOptions;
  begin("guide-npz");
  // [snippet guide-npz]
  convtape::Conv2D<float> conv(1, 6, 5, Conv2dOptions().padding(2));  // nn.Conv2d(1, 6, 5, padding=2)
  convtape::save_npz<float>("lenet.npz", {{"0.weight", conv.weight.value},     // (6, 1, 5, 5)
                                          {"0.bias", conv.bias.value, {6}}});  // 1-D, as PyTorch's
  const auto arrays = convtape::load_npz<float>("lenet.npz");
  convtape::check_state_dict(arrays, {{"0.weight", {6, 1, 5, 5}}, {"0.bias", {6}}});  // or throws
  conv.bias.value.flat() = convtape::find_array(arrays, "0.bias").value.flat();
  // [end]
  expect(arrays.size() == 2 && arrays[0].value.flat() == conv.weight.value.flat() &&
             arrays[1].shape == std::vector<convtape::Index>{6},
         "lenet.npz holds the weight (6, 1, 5, 5) and the bias as (6,)");
  bool threw = false;
  try {
    convtape::check_state_dict(arrays, {{"0.weight", {6, 1, 3, 3}}, {"0.bias", {6}}});
  } catch (const convtape::shape_error&) {
    threw = true;
  }
  expect(threw, "check_state_dict throws for another shape");
}

// ---- docs/options.md ----------------------------------------------------------------------------

void options_pytorch() {
  begin("options-pytorch");
  {  // What the page's Python side writes, as PyTorch would: float32 OIHW weight, 1-D bias.
    convtape::Conv2D<float> torch_conv(3, 8, 3, {}, 11);
    convtape::save_parameters("", torch_conv);  // weight.npy and bias.npy
  }
  const convtape::Conv2D<float> written(3, 8, 3, {}, 11);
  // [snippet options-pytorch]
  convtape::Conv2D<float> conv(3, 8, 3);  // nn.Conv2d(3, 8, 3)
  convtape::load_parameters("", conv);    // weight.npy and bias.npy

  // or the tensors alone:
  auto weight = convtape::load_npy<float>("weight.npy");                         // (8, 3, 3, 3)
  convtape::VectorX<float> bias = convtape::load_npy<float>("bias.npy").flat();  // 8 values
  // [end]
  expect(conv.weight.value.flat() == written.weight.value.flat() &&
             conv.bias.value.flat() == written.bias.value.flat(),
         "load_parameters reads PyTorch's weight.npy and bias.npy");
  expect(weight.shape() == convtape::Shape4{8, 3, 3, 3} && bias.size() == 8 &&
             bias == written.bias.value.flat(),
         "load_npy gives the weight as (8, 3, 3, 3) and the bias as 8 values");
}

// ---- docs/tape.md -------------------------------------------------------------------------------

void tape_record() {
  begin("tape-record");
  const Example example;
  const Eigen::MatrixXd& X = example.X;
  const Eigen::MatrixXd& K = example.K;
  // [snippet tape-record]
  convtape::Tape<double> tape;
  auto x = tape.variable(convtape::Tensor<double>::from_matrix(X));  // node 0: a variable leaf
  auto k = tape.constant(convtape::Tensor<double>::from_matrix(K));  // node 1: a constant leaf
  auto y = convtape::corr2d(x, k);                                   // node 2
  auto loss = convtape::sum(convtape::square(y));  // node 3 (y * y) and node 4 (sum)
  std::cout << tape.size() << " nodes, loss " << loss.item() << "\n";

  convtape::backward(loss);  // one reverse walk: 4, 3, 2 (1 and 0 are leaves)
  std::cout << "d loss / d X =\n" << x.grad().matrix() << "\n";
  // [end]
  // d loss / d y = 2 y; its adjoint through the correlation, by hand for the corner X(0, 0):
  // only y(0, 0) = 19 reads it, with K(0, 0) = 0; X(2, 2) is read by y(1, 1) = 43 with K(1, 1) = 3.
  expect(x.grad()(0, 0, 0, 0) == 0 && x.grad()(0, 0, 2, 2) == 2 * 43 * 3,
         "d loss / d X(2, 2) = 2 * 43 * 3");
  expect(!k.requires_grad() && y.requires_grad(), "k needs no gradient, y does");
}

}  // namespace

// [snippet tape-op]
template <class S>
convtape::Var<S> cube(const convtape::Var<S>& x) {
  convtape::Op<S> op("cube", {x});            // checks the operands, finds the tape
  const auto v = op.input(0).flat().array();  // a view of x's value
  return op.record(convtape::tensor_from_flat<S>(x.shape(), v.cube().matrix()),
                   [](convtape::GradContext<S>& g) {  // d/dx x^3 = 3 x^2
                     const auto xs = g.input(0).flat().array();
                     const auto dy = g.grad_output().flat().array();
                     g.add_grad(0, (3 * xs.square() * dy).matrix());
                   });
}
// [end]

namespace {

void tape_gradcheck() {
  begin("tape-gradcheck");
  const Eigen::MatrixXd X = Example().X;
  // [snippet tape-gradcheck]
  const auto check = convtape::gradcheck<double>(
      [](const std::vector<convtape::Var<double>>& v) { return cube(v[0]); },
      {convtape::Tensor<double>::from_matrix(X)});
  std::cout << "gradcheck " << (check.passed ? "passed" : "FAILED") << " on " << check.elements
            << " elements\n";
  // [end]
  // The check can fail: a wrong rule (2 x^2 instead of 3 x^2) is caught.
  const auto wrong = convtape::gradcheck<double>(
      [](const std::vector<convtape::Var<double>>& v) {
        convtape::Op<double> op("wrong_cube", {v[0]});
        const auto w = op.input(0).flat().array();
        return op.record(convtape::tensor_from_flat<double>(v[0].shape(), w.cube().matrix()),
                         [](convtape::GradContext<double>& g) {
                           const auto xs = g.input(0).flat().array();
                           const auto dy = g.grad_output().flat().array();
                           g.add_grad(0, (2 * xs.square() * dy).matrix());
                         });
      },
      {convtape::Tensor<double>::from_matrix(X)});
  expect(check.passed && !wrong.passed, "gradcheck passes cube and fails a wrong rule");
}

void tape_nograd() {
  begin("tape-nograd");
  const Example example;
  const Eigen::MatrixXd& X = example.X;
  convtape::Conv2D<double> conv(1, 1, 2);
  // [snippet tape-nograd]
  convtape::Tape<double> tape;
  auto x = tape.constant(convtape::Tensor<double>::from_matrix(X));
  {
    convtape::NoGrad no_grad;
    auto y = conv(x);  // the parameters are recorded as leaves, the convolution without a rule
    std::cout << std::boolalpha << y.requires_grad() << "\n";  // false: backward(sum(y)) throws
  }
  // [end]
}

// ---- README.md ----------------------------------------------------------------------------------

void readme_notebook_layer() {
  begin("readme-notebook-layer");
  const Edges edges;
  const auto X = convtape::Tensor<double>::from_matrix(edges.image);                       // 6 x 8
  const auto Y = convtape::Tensor<double>::from_matrix(convtape::corr2d(edges.image, edges.K));
  // [snippet readme-notebook-layer]
  // The notebook's own layer (In [18]): a kernel and a scalar bias, corr2d(x, weight) + bias.
  struct Conv2D {
    convtape::Parameter<double> weight, bias;
    explicit Conv2D(convtape::Size2 kernel_size)
        : weight(convtape::Tensor<double>::rand({1, 1, kernel_size.rows, kernel_size.cols}, 0)),
          bias(convtape::Tensor<double>(1, 1, 1, 1)) {}
    convtape::Var<double> forward(const convtape::Var<double>& x) {
      convtape::Tape<double> tape = x.tape();
      return convtape::corr2d(x, tape.parameter(weight)) + tape.parameter(bias);  // broadcast
    }
    std::vector<convtape::ParameterRef<double>> parameters() { return {weight, bias}; }
  };

  Conv2D conv({1, 2});
  convtape::SGD<double> sgd(conv.parameters(), 1e-2);
  for (int i = 0; i < 100; ++i) {
    convtape::Tape<double> tape;
    auto y_hat = conv.forward(tape.constant(X));
    auto loss = convtape::sum(convtape::squared_loss(y_hat, tape.constant(Y)));
    sgd.zero_grad();
    convtape::backward(loss);
    sgd.step();
    if ((i + 1) % 20 == 0) std::printf("batch %d, loss %.3g\n", i + 1, loss.item());
  }
  std::printf("kernel [%.4f, %.4f], bias %.1e\n", conv.weight.value(0, 0, 0, 0),
              conv.weight.value(0, 0, 0, 1), conv.bias.value(0, 0, 0, 0));
  // [end]
  expect(std::abs(conv.weight.value(0, 0, 0, 0) - 1) < 1e-4 &&
             std::abs(conv.weight.value(0, 0, 0, 1) + 1) < 1e-4 &&
             std::abs(conv.bias.value(0, 0, 0, 0)) < 1e-4,
         "the notebook's layer learns the kernel [1, -1] and the bias 0");
}

}  // namespace

int main() {
  try {
    guide_corr2d();
    guide_layer();
    guide_edges();
    guide_learning();
    guide_padding();
    guide_channels();
    guide_parameters();
    guide_npz();
    options_pytorch();
    tape_record();
    tape_gradcheck();
    tape_nograd();
    readme_notebook_layer();
  } catch (const std::exception& e) {
    std::cerr << "a docs snippet threw: " << e.what() << "\n";
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
