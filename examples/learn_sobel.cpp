// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// learn_sobel: a harder "Learning a Kernel" than the notebook's (learn_kernel.cpp). Learns a 3x3
// Sobel kernel from a picture and its filtered version with Adam, prints the falling loss and the
// learned kernel next to the true one, and writes the loss curve as an SVG.
//
// Usage: learn_sobel [--svg PATH] [IMAGE]
//   --svg PATH where to write the loss curve (default learn_sobel_loss.svg)
//   IMAGE      picture (PNG, JPEG or PNM); default: examples/data/scene.png, the picture
//              edge_detection uses (a generated scene when built without stb)
// Exits non-zero if the learned kernel is not within 1e-2 of the true one.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "convtape/convtape.hpp"

#if CONVTAPE_EXAMPLE_HAVE_STB
#include <stb_image.h>
#endif

namespace {

using convtape::Index;
using convtape::Tensor;

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
    std::cerr << "learn_sobel: cannot read " << path << ": " << stbi_failure_reason() << "\n";
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
  std::cerr << "learn_sobel: built without stb_image (libstb-dev), cannot read " << path << "\n";
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
  std::cout << "A 3x3 Sobel kernel learned with Adam from a " << picture.rows() << "x"
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
  write_svg(svg_path, losses, "learn_sobel: loss while learning a 3×3 Sobel kernel with Adam");
  std::cout << "loss curve written to " << svg_path << "\n";
  return (conv.weight.value.flat() - sobel.flat()).cwiseAbs().maxCoeff();
}

}  // namespace

int main(int argc, char** argv) {
  std::string svg_path = "learn_sobel_loss.svg";
  std::string image_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--svg" && i + 1 < argc) {
      svg_path = argv[++i];
    } else if (!arg.empty() && arg[0] != '-' && image_path.empty()) {
      image_path = arg;
    } else {
      std::cerr << "usage: learn_sobel [--svg PATH] [IMAGE]\n";
      return EXIT_FAILURE;
    }
  }

#if CONVTAPE_EXAMPLE_HAVE_STB && defined(CONVTAPE_EXAMPLE_DATA_DIR)
  if (image_path.empty()) image_path = CONVTAPE_EXAMPLE_DATA_DIR "/scene.png";
#endif
  const double error = sobel_run(image_path, svg_path);
  // Exit status for ctest: the kernel must actually have been learned.
  if (!(error < 1e-2)) {
    std::cerr << "learn_sobel: the learned kernel is off by " << error << "\n";
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
