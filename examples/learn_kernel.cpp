// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// learn_kernel: d2l's "Learning a Kernel" in C++, then a harder run.
//
// Part 1 is the notebook's loop: learn K = [1, -1] from the 6x8 image X and Y = corr2d(X, K)
// alone, with a 1x2 Conv2D without bias, the summed squared loss and lr 3e-2, printing what the
// notebook prints. (The notebook as published has backward and the update outside its loop, so
// it printed one loss of 12.080; this is the loop it meant.)
//
// Part 2 learns a 3x3 Sobel kernel from a picture and its filtered version with Adam, prints the
// falling loss and the learned kernel next to the true one, and writes the loss curve as an SVG.
//
// Usage: learn_kernel [--book] [--seed N] [--svg PATH] [IMAGE]
//   --book     start part 1 from the kernel of d2l's published run, [0.006834, 0.012998], to
//              reproduce its printed losses 4.949, 0.831, 0.140, 0.024, 0.004
//   --seed N   seed of part 1's MXNet-style initialization (default 0)
//   --svg PATH where to write part 2's loss curve (default learn_kernel_loss.svg)
//   IMAGE      picture for part 2 (PNG, JPEG or PNM); default: examples/data/scene.png, the
//              picture edge_detection uses (a generated scene when built without stb)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "convtape/convtape.hpp"

#if CONVTAPE_EXAMPLE_HAVE_STB
#include <stb_image.h>
#endif

namespace {

using convtape::Index;
using convtape::Tensor;

// ---- part 1: the notebook --------------------------------------------------------------------

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

void notebook_loop(bool book_start, std::uint64_t seed) {
  // X: 6x8 ones with the middle four columns black; Y: its edges, corr2d(X, [1, -1]).
  Eigen::MatrixXd x = Eigen::MatrixXd::Ones(6, 8);
  x.middleCols(2, 4).setZero();
  Eigen::MatrixXd k(1, 2);
  k << 1.0, -1.0;
  const Tensor<double> X = Tensor<double>::from_matrix(x);
  const Tensor<double> Y = Tensor<double>::from_matrix(convtape::corr2d(x, k));

  convtape::Conv2D<double> conv(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
  if (book_start) {
    std::cout
        << "Part 1: the notebook's loop from the book's initial kernel [0.006834, 0.012998]\n";
    conv.weight.value.data()[0] = 0.006834;
    conv.weight.value.data()[1] = 0.012998;
  } else {
    std::cout << "Part 1: the notebook's loop from MXNet's default init, uniform(+-0.07), seed "
              << seed << "\n";
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
  std::cout << numpy_repr(kernel) << "\n\n";
}

// ---- part 2: a Sobel kernel from a picture ---------------------------------------------------

/// A 96x128 grayscale scene with straight, round and wavy edges and a textured patch, in [0, 1].
Eigen::MatrixXd generated_scene() {
  const Index rows = 96;
  const Index cols = 128;
  Eigen::MatrixXd img(rows, cols);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      const double y = static_cast<double>(i);
      const double x = static_cast<double>(j);
      double v = 0.25 + 0.35 * y / rows;                                 // sky
      if ((x - 40) * (x - 40) + (y - 38) * (y - 38) < 18 * 18) v = 0.9;  // sun
      if (x > 70 && x < 115 && y > 30 && y < 80) {                       // house
        v = 0.55 + 0.15 * std::sin(x / 3.0) * std::sin(y / 4.0);
      }
      if (y > 0.75 * rows + 6 * std::sin(x / 11.0)) v = 0.15;  // ground
      img(i, j) = v;
    }
  }
  return img;
}

/// The picture at `path` as grayscale in [0, 1], box-averaged down to at most 256 pixels a side
/// so that training stays quick. Exits with a message if it cannot be read.
Eigen::MatrixXd load_picture(const std::string& path) {
#if CONVTAPE_EXAMPLE_HAVE_STB
  int width = 0;
  int height = 0;
  int channels = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &width, &height, &channels, 1);
  if (pixels == nullptr) {
    std::cerr << "learn_kernel: cannot read " << path << ": " << stbi_failure_reason() << "\n";
    std::exit(EXIT_FAILURE);
  }
  const Index factor = std::max<Index>(1, (std::max(width, height) + 255) / 256);
  const Index rows = height / factor;
  const Index cols = width / factor;
  Eigen::MatrixXd img = Eigen::MatrixXd::Zero(rows, cols);
  for (Index i = 0; i < rows * factor; ++i) {
    for (Index j = 0; j < cols * factor; ++j) {
      img(i / factor, j / factor) += pixels[i * width + j] / 255.0;
    }
  }
  stbi_image_free(pixels);
  return img / static_cast<double>(factor * factor);
#else
  std::cerr << "learn_kernel: built without stb_image (libstb-dev), cannot read " << path << "\n";
  std::exit(EXIT_FAILURE);
#endif
}

/// The loss curve as a hand-written SVG: steps on x, loss on a log scale on y.
void write_svg(const std::string& path, const std::vector<double>& losses,
               const std::string& title) {
  const double width = 640;
  const double height = 400;
  const double left = 70;
  const double right = 20;
  const double top = 40;
  const double bottom = 50;
  const double plot_w = width - left - right;
  const double plot_h = height - top - bottom;

  double lo = std::numeric_limits<double>::infinity();
  double hi = 0;
  for (double l : losses) {
    if (l > 0) lo = std::min(lo, l);
    hi = std::max(hi, l);
  }
  if (!(lo <= hi)) lo = hi = 1;  // no positive loss: draw a flat line
  const int decade_lo = static_cast<int>(std::floor(std::log10(lo)));
  const int decade_hi = std::max(decade_lo + 1, static_cast<int>(std::ceil(std::log10(hi))));
  const auto steps = static_cast<double>(std::max<std::size_t>(losses.size() - 1, 1));
  auto px = [&](double step) { return left + plot_w * step / steps; };
  auto py = [&](double loss) {
    const double l = std::max(std::log10(loss), static_cast<double>(decade_lo));
    return top + plot_h * (decade_hi - l) / (decade_hi - decade_lo);
  };

  std::ofstream svg(path);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"13\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">"
      << title << "</text>\n";
  for (int d = decade_lo; d <= decade_hi; ++d) {  // a grid line and a label per decade
    const double y = py(std::pow(10.0, d));
    svg << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << left + plot_w << "\" y2=\""
        << y << "\" stroke=\"#ddd\"/>\n"
        << "<text x=\"" << left - 8 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">1e" << d
        << "</text>\n";
  }
  // About six step ticks, at a round spacing: 1, 2 or 5 times a power of ten.
  const double rough = std::max(steps / 6, 1.0);
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  const double factor = rough <= magnitude       ? 1
                        : rough <= 2 * magnitude ? 2
                        : rough <= 5 * magnitude ? 5
                                                 : 10;
  const int tick_step = static_cast<int>(factor * magnitude);
  for (int s = 0; s <= static_cast<int>(steps); s += tick_step) {
    svg << "<text x=\"" << px(s) << "\" y=\"" << top + plot_h + 20 << "\" text-anchor=\"middle\">"
        << s << "</text>\n";
  }
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\""
      << plot_h << "\" fill=\"none\" stroke=\"black\"/>\n"
      << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << height - 10
      << "\" text-anchor=\"middle\">step</text>\n"
      << "<text transform=\"translate(18," << top + plot_h / 2
      << ") rotate(-90)\" text-anchor=\"middle\">mean squared error (log scale)</text>\n"
      << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"";
  for (std::size_t s = 0; s < losses.size(); ++s) {
    svg << px(static_cast<double>(s)) << ',' << py(losses[s]) << ' ';
  }
  svg << "\"/>\n</svg>\n";
}

/// Returns the largest difference between the learned and the true kernel.
double sobel_run(const std::string& image_path, const std::string& svg_path) {
  const Eigen::MatrixXd picture = image_path.empty() ? generated_scene() : load_picture(image_path);
  std::cout << "Part 2: a 3x3 Sobel kernel learned with Adam from a " << picture.rows() << "x"
            << picture.cols() << " "
            << (image_path.empty() ? std::string("generated scene")
                                   : "picture (" + image_path + ")")
            << " and its filtered version\n";

  // Standardized pixels keep the problem well conditioned whatever the picture's brightness.
  const double mean = picture.mean();
  const double stddev = std::sqrt((picture.array() - mean).square().mean());
  const Tensor<double> x =
      Tensor<double>::from_matrix(((picture.array() - mean) / std::max(stddev, 1e-12)).matrix());
  Tensor<double> sobel(1, 1, 3, 3);
  sobel.plane(0, 0) << -1, 0, 1, -2, 0, 2, -1, 0, 1;
  const Tensor<double> y = convtape::conv2d(x, sobel);

  // Adam with a constant learning rate, until the loss is 1e-9 of the targets' unit variance:
  // past that, rounding noise makes Adam's steps erratic.
  convtape::Conv2D<double> conv(1, 1, 3, convtape::Conv2dOptions().bias(false));
  convtape::Adam<double> adam(conv.parameters(), 0.1);
  constexpr int kMaxSteps = 1000;
  constexpr double kTargetLoss = 1e-9;
  std::vector<double> losses;
  for (int step = 0;; ++step) {
    convtape::Tape<double> tape;
    const auto loss = convtape::mse_loss(conv(tape.constant(x)), tape.constant(y));
    losses.push_back(loss.item());
    const bool last = step == kMaxSteps || loss.item() < kTargetLoss;
    if (step % 50 == 0 || last) std::printf("step %3d, loss %.3e\n", step, loss.item());
    if (last) break;
    adam.zero_grad();
    convtape::backward(loss);
    adam.step();
  }

  std::cout << "learned kernel             true kernel (Sobel, x)\n";
  for (Index i = 0; i < 3; ++i) {
    std::printf("[");
    for (Index j = 0; j < 3; ++j) {
      // Rounded first, so that a tiny negative prints as 0.000, not -0.000.
      std::printf("%7.3f", std::round(conv.weight.value(0, 0, i, j) * 1000) / 1000 + 0.0);
    }
    std::printf(" ]      [");
    for (Index j = 0; j < 3; ++j) std::printf("%3.0f", sobel(0, 0, i, j));
    std::printf(" ]\n");
  }
  write_svg(svg_path, losses, "learn_kernel: loss while learning a 3×3 Sobel kernel with Adam");
  std::cout << "loss curve written to " << svg_path << "\n";
  return (conv.weight.value.flat() - sobel.flat()).cwiseAbs().maxCoeff();
}

}  // namespace

int main(int argc, char** argv) {
  bool book = false;
  std::uint64_t seed = 0;
  std::string svg_path = "learn_kernel_loss.svg";
  std::string image_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--book") {
      book = true;
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--svg" && i + 1 < argc) {
      svg_path = argv[++i];
    } else if (!arg.empty() && arg[0] != '-' && image_path.empty()) {
      image_path = arg;
    } else {
      std::cerr << "usage: learn_kernel [--book] [--seed N] [--svg PATH] [IMAGE]\n";
      return EXIT_FAILURE;
    }
  }

#if CONVTAPE_EXAMPLE_HAVE_STB && defined(CONVTAPE_EXAMPLE_DATA_DIR)
  if (image_path.empty()) image_path = CONVTAPE_EXAMPLE_DATA_DIR "/scene.png";
#endif
  notebook_loop(book, seed);
  const double error = sobel_run(image_path, svg_path);
  // Exit status for ctest: the kernel must actually have been learned.
  if (!(error < 1e-2)) {
    std::cerr << "learn_kernel: the learned kernel is off by " << error << "\n";
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
