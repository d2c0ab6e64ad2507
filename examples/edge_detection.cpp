// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// Edge detection, as in the "Convolutions for Images" chapter of Dive into Deep Learning: first
// the notebook's three results, printed as numpy prints them, then the same vertical and
// horizontal edge kernels run over a real picture, with the edge maps written as PNG files.
//
// Usage: edge_detection [IMAGE] [--out DIR]
//   IMAGE  a PNG, JPEG or binary PGM/PPM (read as grayscale); default: the test scene shipped in
//          examples/data/scene.png
//   --out  where to write the edge maps (created if missing); default: the current directory

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <convtape/corr2d.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using RowMatrixXd = convtape::RowMatrixX<double>;

/// `m` as numpy's repr() prints a float array, e.g. "array([[19., 25.],\n       [37., 43.]])":
/// every value with up to 8 decimals and no trailing zeros, decimal points aligned. (numpy would
/// switch to scientific notation for very large or small values; the values here never are.)
std::string numpy_repr(const Eigen::MatrixXd& m) {
  std::vector<std::string> whole(static_cast<std::size_t>(m.size()));
  std::vector<std::string> fraction(whole.size());
  std::size_t whole_width = 0;
  std::size_t fraction_width = 0;
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      const double v = m(i, j) == 0.0 ? 0.0 : m(i, j);  // never print "-0."
      char text[64];
      std::snprintf(text, sizeof text, "%.8f", v);
      std::string s = text;
      s.erase(s.find_last_not_of('0') + 1);  // "19.00000000" -> "19."
      const std::size_t dot = s.find('.');
      const auto k = static_cast<std::size_t>(i * m.cols() + j);
      whole[k] = s.substr(0, dot);
      fraction[k] = s.substr(dot + 1);
      whole_width = std::max(whole_width, whole[k].size());
      fraction_width = std::max(fraction_width, fraction[k].size());
    }
  }
  std::ostringstream os;
  os << "array([";
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    os << (i == 0 ? "[" : ",\n       [");
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
      const auto k = static_cast<std::size_t>(i * m.cols() + j);
      os << (j == 0 ? "" : ", ") << std::string(whole_width - whole[k].size(), ' ') << whole[k]
         << '.' << fraction[k] << std::string(fraction_width - fraction[k].size(), ' ');
    }
    os << ']';
  }
  os << "])";
  return os.str();
}

/// The notebook, cell by cell.
void notebook() {
  Eigen::MatrixXd X(3, 3);
  X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
  Eigen::MatrixXd K(2, 2);
  K << 0, 1, 2, 3;
  std::cout << "corr2d(X, K) on the 3x3 example:\n" << numpy_repr(convtape::corr2d(X, K)) << "\n\n";

  Eigen::MatrixXd image = Eigen::MatrixXd::Ones(6, 8);  // white, with the middle four columns black
  image.middleCols(2, 4).setZero();
  std::cout << "The 6x8 image X (1 = white, 0 = black):\n" << numpy_repr(image) << "\n\n";

  Eigen::MatrixXd edge(1, 2);
  edge << 1, -1;
  std::cout << "Y = corr2d(X, K) with K = [[1, -1]]: 1 from white to black, -1 from black to "
               "white:\n"
            << numpy_repr(convtape::corr2d(image, edge)) << "\n\n";

  std::cout << "corr2d(X.T, K): K only detects vertical edges:\n"
            << numpy_repr(convtape::corr2d(image.transpose(), edge)) << "\n\n";
}

/// An edge map as an 8-bit picture, keeping the sign the notebook explains: mid-gray (128) is
/// no edge, white is the strongest fall in brightness along the kernel (the notebook's 1), black
/// the strongest rise (its -1). Values are scaled by the largest |edge| so that faint pictures
/// still show their edges: pixel = 128 + 127 * edge / max|edge|.
std::vector<unsigned char> to_pixels(const RowMatrixXd& edges) {
  const double peak = edges.cwiseAbs().maxCoeff();
  const double scale = peak > 0 ? 127.0 / peak : 0.0;
  std::vector<unsigned char> pixels(static_cast<std::size_t>(edges.size()));
  for (Eigen::Index k = 0; k < edges.size(); ++k) {
    pixels[static_cast<std::size_t>(k)] =
        static_cast<unsigned char>(128.0 + scale * edges.data()[k] + 0.5);  // within [1, 255]
  }
  return pixels;
}

void write_png(const fs::path& path, const RowMatrixXd& edges) {
  const std::vector<unsigned char> pixels = to_pixels(edges);
  const int cols = static_cast<int>(edges.cols());
  if (stbi_write_png(path.string().c_str(), cols, static_cast<int>(edges.rows()), 1, pixels.data(),
                     cols) == 0) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

/// `path` as short as it reads well: relative to the current directory when inside it.
std::string display(const fs::path& path) {
  const fs::path relative = fs::proximate(path);
  return relative.empty() || *relative.begin() == ".."
             ? fs::absolute(path).lexically_normal().string()
             : relative.string();
}

/// The picture at `path` as a matrix of gray levels in [0, 1], like the notebook's 0/1 image.
RowMatrixXd load_gray(const fs::path& path) {
  int width = 0;
  int height = 0;
  int channels = 0;
  // One 8-bit gray channel, whatever the file holds (stb converts color to luminance).
  const std::unique_ptr<unsigned char, void (*)(void*)> data(
      stbi_load(path.string().c_str(), &width, &height, &channels, 1), stbi_image_free);
  if (!data) {
    const std::string reason = fs::exists(path) ? stbi_failure_reason() : "no such file";
    throw std::runtime_error("cannot read image " + path.string() + ": " + reason);
  }
  const Eigen::Map<
      const Eigen::Matrix<unsigned char, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
      bytes(data.get(), height, width);
  return bytes.cast<double>() / 255.0;
}

/// Runs the notebook's edge kernel and its transpose over picture X (read from `image_path`) and
/// writes both edge maps into `out_dir`.
void picture(const RowMatrixXd& X, const fs::path& image_path, const fs::path& out_dir) {
  Eigen::Matrix<double, 1, 2> vertical;  // the notebook's K: responds to vertical edges
  vertical << 1, -1;
  const RowMatrixXd vertical_edges = convtape::corr2d(X, vertical);
  const RowMatrixXd horizontal_edges = convtape::corr2d(X, vertical.transpose());

  fs::create_directories(out_dir);
  const std::string stem = image_path.stem().string();
  const fs::path vertical_path = out_dir / (stem + "_vertical_edges.png");
  const fs::path horizontal_path = out_dir / (stem + "_horizontal_edges.png");
  write_png(vertical_path, vertical_edges);
  write_png(horizontal_path, horizontal_edges);

  std::cout << "The same kernels on a picture, " << display(image_path) << " (" << X.rows() << "x"
            << X.cols() << "):\n"
            << "  vertical edges,   corr2d(X, [[1, -1]]):   " << display(vertical_path) << " ("
            << vertical_edges.rows() << "x" << vertical_edges.cols() << ")\n"
            << "  horizontal edges, corr2d(X, [[1], [-1]]): " << display(horizontal_path) << " ("
            << horizontal_edges.rows() << "x" << horizontal_edges.cols() << ")\n"
            << "  gray = no edge, white = brightness falls (1), black = it rises (-1)\n";
}

int usage(std::ostream& os, int status) {
  os << "usage: edge_detection [IMAGE] [--out DIR]\n"
        "  Prints the d2l notebook's corr2d results, then writes the vertical and horizontal\n"
        "  edge maps of IMAGE (PNG, JPEG or binary PGM; default: the shipped test scene) as\n"
        "  PNG files into DIR (default: the current directory).\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path image_path = fs::path(CONVTAPE_EXAMPLE_DATA_DIR) / "scene.png";
  fs::path out_dir = ".";
  bool have_image = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") return usage(std::cout, 0);
    if (arg == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (arg.rfind("--out=", 0) == 0) {
      out_dir = arg.substr(6);
    } else if (arg.empty() || arg[0] == '-' || have_image) {
      std::cerr << "edge_detection: unexpected argument '" << arg << "'\n";
      return usage(std::cerr, 2);
    } else {
      image_path = arg;
      have_image = true;
    }
  }
  try {
    const RowMatrixXd X = load_gray(image_path);  // fail on a bad file before printing anything
    notebook();
    picture(X, image_path, out_dir);
  } catch (const std::exception& e) {  // unreadable file, unwritable directory, or a picture too
    std::cerr << "edge_detection: " << e.what() << '\n';  // small for the kernel (shape_error)
    return 1;
  }
  return 0;
}
