// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// d2l's LeNet ("Convolutional Neural Networks (LeNet)") trained on Fashion-MNIST, the book's
// recipe exactly: conv(1->6, 5x5, pad 2) -> sigmoid -> avg-pool 2 -> conv(6->16, 5x5) -> sigmoid
// -> avg-pool 2 -> flatten -> linear 400->120 -> sigmoid -> linear 120->84 -> sigmoid -> linear
// 84->10, Xavier-uniform weights, cross-entropy, SGD lr 0.9, batch 256, 10 epochs, float32.
// `--modern` swaps in ReLU, max pooling and Adam (lr 1e-3). Prints d2l's per-epoch line and, at
// the end, the training examples per second; with --plots, draws the pictures; with --save /
// --resume, keeps the model in one .npz file that numpy and PyTorch open.
//
// Usage: lenet [--epochs N] [--batch N] [--lr X] [--modern] [--data DIR] [--limit N]
//              [--test-limit N] [--seed N] [--save FILE] [--resume FILE] [--plots DIR] [--exact]
//   --epochs N       train until epoch N (default 10); with --resume, N counts the saved epochs
//   --batch N        minibatch size (default 256)
//   --lr X           learning rate (default 0.9; 1e-3 with --modern)
//   --modern         ReLU, max pooling and Adam instead of sigmoid, average pooling and SGD
//   --data DIR       an MNIST-format directory: {train,t10k}-{images-idx3,labels-idx1}-ubyte,
//                    gzipped (.gz) or not (default /usr/share/datasets/fashion-mnist, Debian's
//                    dataset-fashion-mnist)
//   --limit N        train on the first N training images only (quick runs)
//   --test-limit N   evaluate on the first N test images only
//   --seed N         seeds the initial weights and every epoch's shuffle (default 0)
//   --save FILE      after each epoch, write the model, optimizer and progress to FILE (.npz)
//   --resume FILE    continue the run saved in FILE (its seed and recipe; exactly as if it had
//                    not stopped)
//   --plots DIR      write lenet_curves.svg, lenet_predictions.png and lenet_conv1.png to DIR
//   --exact          also print each epoch's mean loss with all its digits (for comparing runs)
//
// The .npz file holds the model under the names of PyTorch's state_dict for d2l's
// nn.Sequential(Conv2d, Sigmoid, AvgPool2d, Conv2d, Sigmoid, AvgPool2d, Flatten, Linear,
// Sigmoid, Linear, Sigmoid, Linear): 0.weight (6, 1, 5, 5), 0.bias (6), 3.weight (16, 6, 5, 5),
// 3.bias (16), 7.weight (120, 400), 7.bias (120), 9.weight (84, 120), 9.bias (84), 11.weight
// (10, 84), 11.bias (10), float32. Beside them, names of our own that a state_dict load must
// skip (`{k: v for k, v in f.items() if k[0].isdigit()}`):
//   optimizer.NAME     the optimizer's state (`Optimizer::state`), e.g. optimizer.exp_avg.0 for
//                      Adam's first moment of 0.weight (parameters in the order above); SGD
//                      without momentum has none
//   training.epoch     (1,) the number of epochs done
//   training.seed      (4,) the run's seed in 16-bit pieces, lowest first (exact in float32)
//   training.modern    (1,) 1 for --modern, 0 for d2l's recipe
//   training.history   (epochs, 3) each epoch's loss, train accuracy and test accuracy
// Each epoch's shuffle depends only on (seed, epoch), so the epoch and the seed are the whole
// position of the random number generator.
//
// Exit status: 0 on success, 1 on an error (a message on stderr), 77 when the data set is not
// installed (so ctest can report the tests that need it as skipped).
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <stb_image_write.h>

#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/pool2d.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/elementwise.hpp"
#include "convtape/io/dataset.hpp"
#include "convtape/io/idx.hpp"
#include "convtape/io/npz.hpp"
#include "convtape/nn/conv2d.hpp"
#include "convtape/nn/init.hpp"
#include "convtape/nn/linear.hpp"
#include "convtape/nn/loss.hpp"
#include "convtape/optim/adam.hpp"
#include "convtape/optim/sgd.hpp"
#include "convtape/pool2d.hpp"

namespace {

using convtape::Index;
using convtape::Tensor;
using convtape::Var;
using S = float;

constexpr int kDataMissing = 77;

/// The data set is not where --data says: one line naming the package, exit status 77.
struct DataMissing {
  std::string message;
};

// --- the model --------------------------------------------------------------------------------

/// d2l's LeNet as a plain struct: the five layers with parameters, and `forward` for a var (on a
/// tape, for training) or a tensor (inference). `modern` selects ReLU and max pooling.
struct LeNet {
  convtape::Conv2D<S> conv1;
  convtape::Conv2D<S> conv2;
  convtape::Linear<S> fc1;
  convtape::Linear<S> fc2;
  convtape::Linear<S> fc3;
  bool modern;

  /// d2l's init_cnn: Xavier-uniform weights, drawn from one generator seeded with `seed`; the
  /// biases keep PyTorch's default initialization (each layer's from its own seed).
  LeNet(bool modern_recipe, std::uint64_t seed)
      : conv1(1, 6, {5, 5}, convtape::Conv2dOptions().padding(2), seed + 1),
        conv2(6, 16, {5, 5}, {}, seed + 2),
        fc1(16 * 5 * 5, 120, seed + 3),
        fc2(120, 84, seed + 4),
        fc3(84, 10, seed + 5),
        modern(modern_recipe) {
    std::mt19937_64 rng(seed);
    for (Tensor<S>* w : {&conv1.weight.value, &conv2.weight.value, &fc1.weight.value,
                         &fc2.weight.value, &fc3.weight.value}) {
      convtape::init::xavier_uniform(*w, 1.0, rng);
    }
  }

  /// Logits (N, 10, 1, 1) of images x (N, 1, 28, 28); X is `Var<S>` or `Tensor<S>`.
  template <class X>
  X forward(const X& x) {
    X y = pool(activation(conv1(x)));
    y = pool(activation(conv2(y)));
    y = activation(fc1(convtape::flatten(y)));
    y = activation(fc2(y));
    return fc3(y);
  }

  /// Every parameter, in state_dict order, for the optimizer.
  std::vector<convtape::ParameterRef<S>> parameters() {
    return convtape::parameters(conv1, conv2, fc1, fc2, fc3);
  }

  /// The state_dict entries: PyTorch name, parameter and numpy shape.
  std::vector<std::pair<std::string, std::pair<convtape::Parameter<S>*, std::vector<Index>>>>
  state_dict() {
    return {{"0.weight", {&conv1.weight, {6, 1, 5, 5}}},  {"0.bias", {&conv1.bias, {6}}},
            {"3.weight", {&conv2.weight, {16, 6, 5, 5}}}, {"3.bias", {&conv2.bias, {16}}},
            {"7.weight", {&fc1.weight, {120, 400}}},      {"7.bias", {&fc1.bias, {120}}},
            {"9.weight", {&fc2.weight, {84, 120}}},       {"9.bias", {&fc2.bias, {84}}},
            {"11.weight", {&fc3.weight, {10, 84}}},       {"11.bias", {&fc3.bias, {10}}}};
  }

 private:
  template <class X>
  X activation(const X& x) const {
    return modern ? convtape::relu(x) : convtape::sigmoid(x);
  }
  template <class X>
  X pool(const X& x) const {
    return modern ? convtape::max_pool2d(x, {2, 2}) : convtape::avg_pool2d(x, {2, 2});
  }
};

// --- data -------------------------------------------------------------------------------------

/// The whole of `path` or, if absent, `path + ".gz"`, decompressed (zlib reads plain files too).
std::string read_maybe_gzipped(const std::string& dir, const std::string& name) {
  for (const std::string& path : {dir + "/" + name + ".gz", dir + "/" + name}) {
    if (!std::ifstream(path)) continue;
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) throw std::runtime_error("cannot open " + path);
    std::string bytes;
    std::array<char, 1 << 16> buffer{};
    int n = 0;
    while ((n = gzread(f, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
      bytes.append(buffer.data(), static_cast<std::size_t>(n));
    }
    int code = Z_OK;
    const std::string error = n < 0 ? gzerror(f, &code) : "";
    gzclose(f);
    if (n < 0) throw std::runtime_error("cannot decompress " + path + ": " + error);
    return bytes;
  }
  throw DataMissing{"lenet: no " + name + "[.gz] in " + dir +
                    ": install Fashion-MNIST (apt-get install dataset-fashion-mnist, or run "
                    "tools/bootstrap.sh) or pass --data DIR"};
}

/// The images and labels `prefix` (`train` or `t10k`) of an MNIST-format directory.
convtape::LabeledImages<S> load_split(const std::string& dir, const std::string& prefix,
                                      Index limit) {
  const std::string images = read_maybe_gzipped(dir, prefix + "-images-idx3-ubyte");
  const std::string labels = read_maybe_gzipped(dir, prefix + "-labels-idx1-ubyte");
  return convtape::read_idx<S>(images, labels, limit, dir + "/" + prefix + "-images",
                               dir + "/" + prefix + "-labels");
}

// --- training ---------------------------------------------------------------------------------

struct Options {
  int epochs = 10;
  Index batch = 256;
  double lr = -1;  // the recipe's default
  bool modern = false;
  std::string data = "/usr/share/datasets/fashion-mnist";
  Index limit = convtape::kAllItems;
  Index test_limit = convtape::kAllItems;
  std::uint64_t seed = 0;
  std::string save, resume, plots;
  bool exact = false;
};

/// One epoch's figures, as d2l prints them.
struct EpochStats {
  double loss = 0;
  double train_acc = 0;
  double test_acc = 0;
};

/// The class of the largest logit in each row of (N, 10, 1, 1) logits.
std::vector<Index> predictions(const Tensor<S>& logits) {
  const Index n = logits.dim(0);
  const Index classes = logits.dim(1);
  std::vector<Index> out(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const S* row = logits.data() + i * classes;
    out[static_cast<std::size_t>(i)] = std::max_element(row, row + classes) - row;
  }
  return out;
}

/// Predicted classes of every image of `data`, by inference in batches of 256 (d2l's training
/// batch): a batch's activations and convolution workspace grow with it, and batches of 1000 put
/// a run's peak memory 82 MB above the data set, where 256 put it 40 MB above.
std::vector<Index> predict_all(LeNet& net, const convtape::LabeledImages<S>& data) {
  std::vector<Index> out;
  const convtape::Minibatches batches(data.size(), 256);
  for (Index b = 0; b < batches.count(); ++b) {
    const std::vector<Index> p = predictions(net.forward(data.subset(batches.indices(b)).images));
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

double accuracy(const std::vector<Index>& predicted, const std::vector<Index>& labels) {
  Index correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i] ? 1 : 0;
  return labels.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(labels.size());
}

// --- saving -----------------------------------------------------------------------------------

Tensor<S> values(const std::vector<double>& v) {
  Tensor<S> t(1, 1, 1, static_cast<Index>(v.size()));
  for (std::size_t i = 0; i < v.size(); ++i) t.data()[i] = static_cast<S>(v[i]);
  return t;
}

void save(const std::string& path, LeNet& net, const convtape::Optimizer<S>& opt,
          std::uint64_t seed, const std::vector<EpochStats>& history) {
  std::vector<convtape::NamedArray<S>> arrays;
  for (const auto& entry : net.state_dict()) {
    arrays.emplace_back(entry.first, entry.second.first->value, entry.second.second);
  }
  const auto entries = net.state_dict();
  for (const convtape::NamedTensor<S>& t : opt.state()) {
    // Per-parameter state `kind.i` takes parameter i's numpy shape, a count such as `step` (1,).
    const std::size_t dot = t.name.rfind('.');
    const std::size_t i =
        dot == std::string::npos ? entries.size() : std::stoul(t.name.substr(dot + 1));
    arrays.emplace_back("optimizer." + t.name, t.value,
                        i < entries.size() ? entries[i].second.second : std::vector<Index>{1});
  }
  const auto e = static_cast<Index>(history.size());
  arrays.emplace_back("training.epoch", values({static_cast<double>(e)}), std::vector<Index>{1});
  std::vector<double> pieces;
  for (int i = 0; i < 4; ++i) pieces.push_back(static_cast<double>((seed >> (16 * i)) & 0xffffu));
  arrays.emplace_back("training.seed", values(pieces), std::vector<Index>{4});
  arrays.emplace_back("training.modern", values({net.modern ? 1.0 : 0.0}), std::vector<Index>{1});
  std::vector<double> h;
  for (const EpochStats& s : history) h.insert(h.end(), {s.loss, s.train_acc, s.test_acc});
  arrays.emplace_back("training.history", values(h), std::vector<Index>{e, 3});
  convtape::save_npz(path, arrays);
}

/// What --resume reads besides the model: where the run stands.
struct Progress {
  std::uint64_t seed = 0;
  bool modern = false;
  std::vector<EpochStats> history;
};

/// The recipe and seed of the run saved in `path`, and its history (the model and the optimizer
/// are loaded by `load_into`, once they exist).
Progress read_progress(const std::vector<convtape::NamedArray<S>>& arrays,
                       const std::string& path) {
  Progress p;
  const auto& modern = convtape::find_array(arrays, "training.modern");
  const auto& seed = convtape::find_array(arrays, "training.seed");
  const auto& epoch = convtape::find_array(arrays, "training.epoch");
  const auto& history = convtape::find_array(arrays, "training.history");
  if (modern.value.size() != 1 || seed.value.size() != 4 || epoch.value.size() != 1 ||
      history.value.size() != 3 * static_cast<Index>(epoch.value.data()[0])) {
    throw std::runtime_error(path + ": the training.* arrays do not fit together");
  }
  p.modern = modern.value.data()[0] != 0;
  for (int i = 0; i < 4; ++i) {
    p.seed |= static_cast<std::uint64_t>(seed.value.data()[i]) << (16 * i);
  }
  for (Index e = 0; e < history.value.size() / 3; ++e) {
    const S* h = history.value.data() + 3 * e;
    p.history.push_back({h[0], h[1], h[2]});
  }
  return p;
}

/// Copies the saved parameters and optimizer state into `net` and `opt`, checking every name and
/// shape first (check_state_dict, Optimizer::load_state).
void load_into(const std::vector<convtape::NamedArray<S>>& arrays, LeNet& net,
               convtape::Optimizer<S>& opt) {
  std::vector<std::pair<std::string, std::vector<Index>>> expected;
  std::vector<convtape::NamedArray<S>> model;
  std::vector<convtape::NamedTensor<S>> state;
  for (const convtape::NamedArray<S>& a : arrays) {
    if (a.name.rfind("optimizer.", 0) == 0) {
      state.push_back({a.name.substr(10), a.value});
      // Back to the parameter's tensor shape (loaded as numpy's, with leading 1s).
      const std::size_t dot = a.name.rfind('.');
      const std::size_t i = std::strtoul(a.name.c_str() + dot + 1, nullptr, 10);
      const auto entries = net.state_dict();
      if (dot > 9 && i < entries.size() &&
          a.value.size() == entries[i].second.first->value.size()) {
        state.back().value = Tensor<S>(entries[i].second.first->value.shape());
        std::copy_n(a.value.data(), a.value.size(), state.back().value.data());
      }
    } else if (a.name.rfind("training.", 0) != 0) {
      model.push_back(a);
    }
  }
  for (const auto& entry : net.state_dict())
    expected.emplace_back(entry.first, entry.second.second);
  convtape::check_state_dict(model, expected);
  opt.load_state(state);
  for (const auto& entry : net.state_dict()) {
    const Tensor<S>& saved = convtape::find_array(model, entry.first).value;
    Tensor<S>& value = entry.second.first->value;
    std::copy_n(saved.data(), value.size(), value.data());
  }
}

// --- pictures ---------------------------------------------------------------------------------

/// d2l's training plot: loss, train accuracy and test accuracy per epoch, hand-written SVG.
void write_curves(const std::string& path, const std::vector<EpochStats>& history,
                  const std::string& title) {
  const double width = 560, height = 380, left = 60, right = 150, top = 40, bottom = 50;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double y_max = 1;
  for (const EpochStats& s : history) y_max = std::max(y_max, s.loss);
  y_max = std::ceil(y_max * 2) / 2;
  const auto epochs = static_cast<double>(history.size());
  const auto px = [&](double epoch) {
    return left + plot_w * (epochs > 1 ? (epoch - 1) / (epochs - 1) : 0.5);
  };
  const auto py = [&](double v) { return top + plot_h * (1 - v / y_max); };
  std::ofstream svg(path);
  svg << std::fixed << std::setprecision(1);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"13\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left + plot_w / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">"
      << title << "</text>\n";
  for (double v = 0; v <= y_max + 1e-9; v += 0.5) {
    svg << "<line x1=\"" << left << "\" y1=\"" << py(v) << "\" x2=\"" << left + plot_w << "\" y2=\""
        << py(v) << "\" stroke=\"#ddd\"/>\n<text x=\"" << left - 8 << "\" y=\"" << py(v) + 4
        << "\" text-anchor=\"end\">" << std::setprecision(1) << v << "</text>\n";
  }
  for (std::size_t e = 1; e <= history.size(); ++e) {
    svg << "<text x=\"" << px(static_cast<double>(e)) << "\" y=\"" << top + plot_h + 18
        << "\" text-anchor=\"middle\">" << e << "</text>\n";
  }
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\""
      << plot_h << "\" fill=\"none\" stroke=\"black\"/>\n<text x=\"" << left + plot_w / 2
      << "\" y=\"" << height - 12 << "\" text-anchor=\"middle\">epoch</text>\n";
  const struct {
    const char* name;
    const char* color;
    const char* dash;
    double EpochStats::*field;
  } series[] = {{"train loss", "#1f77b4", "", &EpochStats::loss},
                {"train acc", "#9467bd", "6,4", &EpochStats::train_acc},
                {"test acc", "#2ca02c", "2,3", &EpochStats::test_acc}};
  double legend_y = top + 10;
  for (const auto& s : series) {
    svg << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\""
        << (*s.dash != 0 ? std::string(" stroke-dasharray=\"") + s.dash + "\"" : "")
        << " points=\"";
    for (std::size_t e = 0; e < history.size(); ++e) {
      svg << std::setprecision(1) << px(static_cast<double>(e + 1)) << ','
          << py(history[e].*s.field) << ' ';
    }
    svg << "\"/>\n<line x1=\"" << left + plot_w + 12 << "\" y1=\"" << legend_y << "\" x2=\""
        << left + plot_w + 42 << "\" y2=\"" << legend_y << "\" stroke=\"" << s.color
        << "\" stroke-width=\"2\""
        << (*s.dash != 0 ? std::string(" stroke-dasharray=\"") + s.dash + "\"" : "")
        << "/>\n<text x=\"" << left + plot_w + 48 << "\" y=\"" << legend_y + 4 << "\">" << s.name
        << "</text>\n";
    legend_y += 22;
  }
  svg << "</svg>\n";
  if (!svg) throw std::runtime_error("cannot write " + path);
}

/// An RGB picture for stb_image_write.
struct Picture {
  int width, height;
  std::vector<unsigned char> rgb;
  Picture(int w, int h) : width(w), height(h), rgb(static_cast<std::size_t>(w * h * 3), 255) {}
  void set(int x, int y, std::array<unsigned char, 3> c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    std::copy(c.begin(), c.end(), rgb.begin() + 3 * (static_cast<std::ptrdiff_t>(y) * width + x));
  }
  void fill(int x, int y, int w, int h, std::array<unsigned char, 3> c) {
    for (int j = y; j < y + h; ++j) {
      for (int i = x; i < x + w; ++i) set(i, j, c);
    }
  }
  void write(const std::string& path) const {
    if (stbi_write_png(path.c_str(), width, height, 3, rgb.data(), width * 3) == 0) {
      throw std::runtime_error("cannot write " + path);
    }
  }
};

/// A 3x5 bitmap font for the digits and '/', one row of three bits per entry, top row first.
void draw_text(Picture& pic, int x, int y, const std::string& text, int scale,
               std::array<unsigned char, 3> color) {
  static constexpr std::array<std::array<unsigned char, 5>, 11> glyphs = {{
      {7, 5, 5, 5, 7},
      {2, 6, 2, 2, 7},
      {7, 1, 7, 4, 7},
      {7, 1, 3, 1, 7},  // 0 1 2 3
      {5, 5, 7, 1, 1},
      {7, 4, 7, 1, 7},
      {7, 4, 7, 5, 7},
      {7, 1, 2, 2, 2},  // 4 5 6 7
      {7, 5, 7, 5, 7},
      {7, 5, 7, 1, 7},
      {1, 1, 2, 4, 4},  // 8 9 /
  }};
  for (char ch : text) {
    const int g = ch == '/' ? 10 : ch - '0';
    if (g >= 0 && g <= 10) {
      for (int row = 0; row < 5; ++row) {
        for (int col = 0; col < 3; ++col) {
          if ((glyphs[g][row] >> (2 - col) & 1) != 0) {
            pic.fill(x + col * scale, y + row * scale, scale, scale, color);
          }
        }
      }
    }
    x += 4 * scale;
  }
}

/// The first `count` test images, 3x, each framed green (right) or red (wrong) with
/// "predicted/true" class indices beneath.
void write_predictions(const std::string& path, const convtape::LabeledImages<S>& test,
                       const std::vector<Index>& predicted, Index count) {
  const int columns = 10, zoom = 3, frame = 3, side = 28 * zoom + 2 * frame, label = 16, gap = 6;
  count = std::min(count, test.size());
  const int rows = static_cast<int>((count + columns - 1) / columns);
  Picture pic(columns * (side + gap) + gap, rows * (side + label + gap) + gap);
  for (Index k = 0; k < count; ++k) {
    const int x0 = gap + static_cast<int>(k % columns) * (side + gap);
    const int y0 = gap + static_cast<int>(k / columns) * (side + label + gap);
    const Index truth = test.labels[static_cast<std::size_t>(k)];
    const Index guess = predicted[static_cast<std::size_t>(k)];
    const std::array<unsigned char, 3> mark = guess == truth
                                                  ? std::array<unsigned char, 3>{40, 160, 40}
                                                  : std::array<unsigned char, 3>{220, 30, 30};
    pic.fill(x0, y0, side, side, mark);
    for (int r = 0; r < 28 * zoom; ++r) {
      for (int c = 0; c < 28 * zoom; ++c) {
        const S v = test.images(k, 0, r / zoom, c / zoom);
        const auto g = static_cast<unsigned char>(255 - std::lround(255 * v));  // dark on light
        pic.set(x0 + frame + c, y0 + frame + r, {g, g, g});
      }
    }
    draw_text(pic, x0 + side / 2 - 11, y0 + side + 3,
              std::to_string(guess) + "/" + std::to_string(truth), 2,
              guess == truth ? std::array<unsigned char, 3>{0, 0, 0} : mark);
  }
  pic.write(path);
}

/// The six 5x5 kernels of the first convolution, 16x, on one diverging scale: red positive,
/// blue negative, white zero, the strongest weight of all six at full colour.
void write_kernels(const std::string& path, const Tensor<S>& weight) {
  const int zoom = 16, gap = 8, k = 5, count = static_cast<int>(weight.dim(0));
  S scale = 0;
  for (Index i = 0; i < weight.size(); ++i) scale = std::max(scale, std::abs(weight.data()[i]));
  Picture pic(count * (k * zoom + gap) + gap, k * zoom + 2 * gap);
  for (int o = 0; o < count; ++o) {
    for (int r = 0; r < k * zoom; ++r) {
      for (int c = 0; c < k * zoom; ++c) {
        const S w = weight(o, 0, r / zoom, c / zoom) / (scale > 0 ? scale : 1);
        const auto fade = static_cast<unsigned char>(255 - std::lround(255 * std::abs(w)));
        pic.set(gap + o * (k * zoom + gap) + c, gap + r,
                w >= 0 ? std::array<unsigned char, 3>{255, fade, fade}
                       : std::array<unsigned char, 3>{fade, fade, 255});
      }
    }
  }
  pic.write(path);
}

// --- main -------------------------------------------------------------------------------------

Options parse(int argc, char** argv) {
  Options o;
  const auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) throw std::runtime_error(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  const auto number = [&](int& i) -> long long {
    const std::string flag = argv[i];
    const std::string v = value(i);
    std::size_t used = 0;
    long long n = -1;
    try {
      n = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || n < 0) throw std::runtime_error(flag + " needs a whole number >= 0");
    return n;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--epochs") {
      o.epochs = static_cast<int>(number(i));
    } else if (arg == "--batch") {
      o.batch = number(i);
    } else if (arg == "--lr") {
      o.lr = std::stod(value(i));
    } else if (arg == "--modern") {
      o.modern = true;
    } else if (arg == "--data") {
      o.data = value(i);
    } else if (arg == "--limit") {
      o.limit = number(i);
    } else if (arg == "--test-limit") {
      o.test_limit = number(i);
    } else if (arg == "--seed") {
      o.seed = static_cast<std::uint64_t>(number(i));
    } else if (arg == "--save") {
      o.save = value(i);
    } else if (arg == "--resume") {
      o.resume = value(i);
    } else if (arg == "--plots") {
      o.plots = value(i);
    } else if (arg == "--exact") {
      o.exact = true;
    } else {
      throw std::runtime_error(
          "usage: lenet [--epochs N] [--batch N] [--lr X] [--modern] [--data DIR] [--limit N] "
          "[--test-limit N] [--seed N] [--save FILE] [--resume FILE] [--plots DIR] [--exact]");
    }
  }
  if (o.batch < 1) throw std::runtime_error("--batch must be at least 1");
  return o;
}

int run(int argc, char** argv) {
  Options opt = parse(argc, argv);
  std::vector<convtape::NamedArray<S>> saved;
  Progress progress;
  progress.seed = opt.seed;
  progress.modern = opt.modern;
  if (!opt.resume.empty()) {
    saved = convtape::load_npz<S>(opt.resume);
    progress = read_progress(saved, opt.resume);
    if (progress.modern != opt.modern) {
      throw std::runtime_error(opt.resume + " holds a " + (progress.modern ? "--modern" : "d2l") +
                               " run; pass " + (progress.modern ? "--modern" : "no --modern") +
                               " to resume it");
    }
  }
  if (opt.lr < 0) opt.lr = opt.modern ? 1e-3 : 0.9;

  const convtape::LabeledImages<S> train = load_split(opt.data, "train", opt.limit);
  const convtape::LabeledImages<S> test = load_split(opt.data, "t10k", opt.test_limit);

  LeNet net(opt.modern, progress.seed);
  std::unique_ptr<convtape::Optimizer<S>> optimizer;
  if (opt.modern) {
    optimizer = std::make_unique<convtape::Adam<S>>(net.parameters(), static_cast<S>(opt.lr));
  } else {
    optimizer = std::make_unique<convtape::SGD<S>>(net.parameters(), static_cast<S>(opt.lr));
  }
  if (!saved.empty()) load_into(saved, net, *optimizer);
  saved.clear();

  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  const bool tty = isatty(fileno(stderr)) != 0;
  std::vector<EpochStats> history = progress.history;
  double train_seconds = 0;
  Index trained = 0;
  for (auto epoch = static_cast<int>(history.size()); epoch < opt.epochs; ++epoch) {
    const convtape::Minibatches batches(train.size(), opt.batch, progress.seed,
                                        static_cast<std::uint64_t>(epoch));
    double loss_sum = 0;
    Index correct = 0;
    const auto start = std::chrono::steady_clock::now();
    for (Index b = 0; b < batches.count(); ++b) {
      const convtape::LabeledImages<S> batch = train.subset(batches.indices(b));
      convtape::Tape<S> tape;
      const Var<S> logits = net.forward(tape.constant(batch.images));
      const Var<S> loss = convtape::cross_entropy(logits, batch.labels);
      optimizer->zero_grad();
      convtape::backward(loss);
      optimizer->step();
      loss_sum += static_cast<double>(loss.item()) * static_cast<double>(batch.size());
      const std::vector<Index> p = predictions(logits.value());
      for (std::size_t i = 0; i < p.size(); ++i) correct += p[i] == batch.labels[i] ? 1 : 0;
      if (tty)
        std::cerr << "\r  epoch " << epoch + 1 << ": batch " << b + 1 << "/" << batches.count()
                  << std::flush;
    }
    train_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    trained += train.size();
    if (tty) std::cerr << "\r\033[K" << std::flush;
    const double n = static_cast<double>(std::max<Index>(train.size(), 1));
    const EpochStats stats{loss_sum / n, static_cast<double>(correct) / n,
                           accuracy(predict_all(net, test), test.labels)};
    history.push_back(stats);
    std::cout << std::fixed << std::setprecision(3) << "epoch " << epoch + 1 << ", loss "
              << stats.loss << ", train acc " << stats.train_acc << ", test acc " << stats.test_acc;
    if (opt.exact)
      std::cout << std::defaultfloat << std::setprecision(17) << " (loss " << stats.loss << ")";
    std::cout << std::endl;
    if (!opt.save.empty()) save(opt.save, net, *optimizer, progress.seed, history);
  }
  if (trained > 0) {
    std::cout << std::fixed << std::setprecision(1) << static_cast<double>(trained) / train_seconds
              << " examples/sec (" << (opt.modern ? "relu/maxpool/adam" : "d2l sigmoid/avgpool/sgd")
              << ", " << threads << (threads == 1 ? " thread)" : " threads)") << "\n";
  }
  if (!opt.plots.empty() && !history.empty()) {
    const std::string dir = opt.plots + "/";
    write_curves(dir + "lenet_curves.svg", history,
                 opt.modern ? "LeNet (ReLU, max pooling, Adam) on Fashion-MNIST"
                            : "LeNet (d2l recipe) on Fashion-MNIST");
    write_predictions(dir + "lenet_predictions.png", test, predict_all(net, test), 40);
    write_kernels(dir + "lenet_conv1.png", net.conv1.weight.value);
    std::cout << "pictures in " << opt.plots
              << ": lenet_curves.svg, lenet_predictions.png (predicted/true class; 0 T-shirt/top, "
                 "1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 "
                 "Ankle boot), lenet_conv1.png\n";
  }
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const DataMissing& e) {
    std::cerr << e.message << "\n";
    return kDataMissing;
  } catch (const std::exception& e) {
    std::cerr << "lenet: " << e.what() << "\n";
    return EXIT_FAILURE;
  }
}
