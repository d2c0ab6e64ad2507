// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/io/npy.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/files.hpp"

// Catch2 v2 matches exception messages only with CHECK_THROWS_WITH; this checks type and message.
#define CONVTAPE_CHECK_THROWS(expr, type, matcher) \
  do {                                             \
    CHECK_THROWS_AS(expr, type);                   \
    CHECK_THROWS_WITH(expr, matcher);              \
  } while (false)

namespace {

using convtape::io_error;
using convtape::load_npy;
using convtape::load_npy_matrix;
using convtape::save_npy;
using convtape::shape_error;
using convtape::Tensor;
using support::read_bytes;
using support::TempDir;
using support::write_bytes;

/// A version 1.0 file with header dict `dict` (padded as numpy does) followed by `data`.
std::string npy_file(const std::string& dict, const std::string& data) {
  std::string text = dict;
  const std::size_t unpadded = 10 + text.size() + 1;
  text.append(64 - unpadded % 64, ' ');
  text += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(text.size() & 0xff);
  bytes += static_cast<char>(text.size() >> 8);
  return bytes + text + data;
}

/// `count` little-endian values k / 4 - 3 (exact in float32 and float64) of `T`.
template <class T>
std::string le_data(std::size_t count) {
  std::string data;
  for (std::size_t k = 0; k < count; ++k) {
    const T value = static_cast<T>(k) / 4 - 3;
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));  // the test machine (x86-64) is little-endian
    data.append(reinterpret_cast<const char*>(raw), sizeof(T));
  }
  return data;
}

std::string f8_dict(const std::string& shape) {
  return "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
}

TEST_CASE("save_npy writes exactly the bytes the NPY 1.0 spec and np.save give", "[npy]") {
  TempDir dir;
  Eigen::MatrixXd m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  save_npy(dir.file("m.npy"), m);
  const std::string bytes = read_bytes(dir.file("m.npy"));

  // Worked by hand: the dict is 59 characters; numpy adds 21 - len("2") = 20 spaces of room for
  // the first axis to grow; magic (6) + version (2) + length (2) + 79 + '\n' = 90 bytes, padded
  // with 38 spaces to 128. HEADER_LEN = 128 - 10 = 118 = 0x76, little-endian.
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  REQUIRE(dict.size() == 59);
  const std::string header =
      std::string("\x93NUMPY\x01\x00\x76\x00", 10) + dict + std::string(20 + 38, ' ') + "\n";
  REQUIRE(header.size() == 128);
  REQUIRE(bytes.size() == 128 + 6 * 8);
  CHECK(bytes.substr(0, 128) == header);
  // Row-major data: 1.0 = 0x3FF0000000000000 and 4.0 = 0x4010000000000000, little-endian.
  CHECK(bytes.substr(128, 8) == std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8));
  CHECK(bytes.substr(128 + 3 * 8, 8) == std::string("\x00\x00\x00\x00\x00\x00\x10\x40", 8));
}

TEST_CASE("save_npy pads every header to a multiple of 64 bytes ending in a newline", "[npy]") {
  TempDir dir;
  for (const Eigen::Index n :
       {Eigen::Index{1}, Eigen::Index{7}, Eigen::Index{12345678}, Eigen::Index{1234567890123}}) {
    // The first axis's digits change numpy's padding; a zero axis keeps the file small.
    const Tensor<float> t = n < 100 ? Tensor<float>(n, 2, 3, 1) : Tensor<float>(n, 0, 3, 1);
    save_npy(dir.file("t.npy"), t);
    const std::string bytes = read_bytes(dir.file("t.npy"));
    const std::size_t header_len =
        static_cast<unsigned char>(bytes[8]) + 256u * static_cast<unsigned char>(bytes[9]);
    CHECK((10 + header_len) % 64 == 0);
    CHECK(bytes[10 + header_len - 1] == '\n');
    CHECK(bytes.size() == 10 + header_len + static_cast<std::size_t>(t.size()) * 4);
    CHECK(bytes.find("'descr': '<f4'") != std::string::npos);
  }
}

TEST_CASE("Tensors round-trip through .npy bit for bit", "[npy]") {
  TempDir dir;
  SECTION("double, 4-D, with signed zero, infinities, NaN and subnormals") {
    Tensor<double> t(2, 3, 4, 5);
    for (Eigen::Index k = 0; k < t.size(); ++k) t.data()[k] = std::sin(double(k)) / 3;
    t.data()[0] = -0.0;
    t.data()[1] = std::numeric_limits<double>::infinity();
    t.data()[2] = -std::numeric_limits<double>::infinity();
    t.data()[3] = std::numeric_limits<double>::quiet_NaN();
    t.data()[4] = std::numeric_limits<double>::denorm_min();
    save_npy(dir.file("t.npy"), t);
    const Tensor<double> back = load_npy<double>(dir.file("t.npy"));
    REQUIRE(back.shape() == t.shape());
    CHECK(std::memcmp(back.data(), t.data(), sizeof(double) * std::size_t(t.size())) == 0);
  }
  SECTION("float, non-square planes") {
    Tensor<float> t(1, 2, 3, 7);
    for (Eigen::Index k = 0; k < t.size(); ++k) t.data()[k] = std::cos(float(k)) * 1e-3f;
    save_npy(dir.file("t.npy"), t);
    const Tensor<float> back = load_npy<float>(dir.file("t.npy"));
    REQUIRE(back.shape() == t.shape());
    CHECK(std::memcmp(back.data(), t.data(), sizeof(float) * std::size_t(t.size())) == 0);
  }
  SECTION("empty tensors keep their shape") {
    const Tensor<double> t(2, 0, 3, 4);
    save_npy(dir.file("t.npy"), t);
    CHECK(load_npy<double>(dir.file("t.npy")).shape() == t.shape());
  }
}

TEST_CASE("Matrices are saved 2-D in row-major order whatever their storage", "[npy]") {
  TempDir dir;
  Eigen::MatrixXd col(3, 4);
  for (Eigen::Index i = 0; i < 3; ++i) {
    for (Eigen::Index j = 0; j < 4; ++j) col(i, j) = 10.0 * double(i) + double(j);
  }
  const convtape::RowMatrixX<double> row = col;

  SECTION("column-major") { save_npy(dir.file("m.npy"), col); }
  SECTION("row-major") { save_npy(dir.file("m.npy"), row); }
  SECTION("an expression") { save_npy(dir.file("m.npy"), (col.array() * 1.0).matrix()); }

  const std::string bytes = read_bytes(dir.file("m.npy"));
  CHECK(bytes.find("'shape': (3, 4), }") != std::string::npos);
  double second = 0;  // element [0, 1] of a C-order file
  std::memcpy(&second, bytes.data() + bytes.size() - 12 * 8 + 8, 8);
  CHECK(second == 1.0);
  CHECK(load_npy_matrix<double>(dir.file("m.npy")) == col);
  const Tensor<double> t = load_npy<double>(dir.file("m.npy"));
  CHECK(t.shape() == convtape::Shape4{1, 1, 3, 4});
  CHECK(t.matrix() == col);
}

TEST_CASE("A block of a matrix is saved as the block", "[npy]") {
  TempDir dir;
  Eigen::MatrixXf m = Eigen::MatrixXf::Random(5, 6);
  save_npy(dir.file("b.npy"), m.block(1, 2, 3, 2));
  const Eigen::MatrixXf expected = m.block(1, 2, 3, 2);
  CHECK(load_npy_matrix<float>(dir.file("b.npy")) == expected);
}

// Found by tests/fuzz/npy_fuzz: load_npy_matrix spent ~10^17 iterations converting an empty
// (0, 10^17) array to column-major order (a hang; this test then never finishes).
TEST_CASE("Empty arrays with a huge extent load at once as empty results", "[npy][regression]") {
  TempDir dir;
  const std::string huge = "100000000000000000";
  write_bytes(dir.file("a.npy"), npy_file(f8_dict("(0, " + huge + ")"), ""));
  const auto m = load_npy_matrix<double>(dir.file("a.npy"));
  CHECK(m.rows() == 0);
  CHECK(m.cols() == 100000000000000000);
  const Tensor<double> t = load_npy<double>(dir.file("a.npy"));
  CHECK(t.shape() == convtape::Shape4{1, 1, 0, 100000000000000000});
  CHECK(t.size() == 0);
}

TEST_CASE("load_npy fills missing leading dimensions with 1", "[npy]") {
  TempDir dir;
  const auto load = [&](const std::string& shape, std::size_t count) {
    write_bytes(dir.file("a.npy"), npy_file(f8_dict(shape), le_data<double>(count)));
    return load_npy<double>(dir.file("a.npy"));
  };
  SECTION("1-D (W)") {
    const Tensor<double> t = load("(5,)", 5);
    CHECK(t.shape() == convtape::Shape4{1, 1, 1, 5});
    CHECK(t(0, 0, 0, 4) == 4.0 / 4 - 3);
  }
  SECTION("2-D (H, W)") {
    const Tensor<double> t = load("(2, 3)", 6);
    CHECK(t.shape() == convtape::Shape4{1, 1, 2, 3});
    CHECK(t(0, 0, 1, 0) == 3.0 / 4 - 3);
  }
  SECTION("3-D (C, H, W)") {
    const Tensor<double> t = load("(4, 2, 3)", 24);
    CHECK(t.shape() == convtape::Shape4{1, 4, 2, 3});
    CHECK(t(0, 3, 1, 2) == 23.0 / 4 - 3);
  }
  SECTION("4-D (N, C, H, W)") {
    const Tensor<double> t = load("(2, 1, 2, 3)", 12);
    CHECK(t.shape() == convtape::Shape4{2, 1, 2, 3});
    CHECK(t(1, 0, 0, 1) == 7.0 / 4 - 3);
  }
}

TEST_CASE("Headers written by other tools parse: key order, quotes, spacing, versions 2 and 3",
          "[npy]") {
  TempDir dir;
  SECTION("keys in another order, double quotes, no trailing comma") {
    write_bytes(dir.file("a.npy"),
                npy_file("{\"shape\":(2,2),\"fortran_order\":False,\"descr\":\"<f8\"}",
                         le_data<double>(4)));
  }
  SECTION("format 2.0 (4-byte header length)") {
    std::string text = f8_dict("(2, 2)");
    text.append(64 - (12 + text.size() + 1) % 64, ' ');
    text += '\n';
    std::string bytes("\x93NUMPY\x02\x00", 8);
    bytes += static_cast<char>(text.size());
    bytes += std::string(3, '\0');
    write_bytes(dir.file("a.npy"), bytes + text + le_data<double>(4));
  }
  SECTION("format 3.0 (4-byte header length, UTF-8)") {
    std::string bytes("\x93NUMPY\x03\x00", 8);
    const std::string text = f8_dict("(2, 2)") + "\n";
    bytes += static_cast<char>(text.size());
    bytes += std::string(3, '\0');
    write_bytes(dir.file("a.npy"), bytes + text + le_data<double>(4));
  }
  Eigen::MatrixXd expected(2, 2);
  expected << -3, -2.75, -2.5, -2.25;
  CHECK(load_npy_matrix<double>(dir.file("a.npy")) == expected);
}

TEST_CASE("float32 files load exactly into double; float64 files do not narrow into float",
          "[npy]") {
  TempDir dir;
  Tensor<float> t(1, 1, 2, 3);
  for (Eigen::Index k = 0; k < t.size(); ++k) t.data()[k] = 1.0f / float(k + 3);
  save_npy(dir.file("f.npy"), t);
  const Tensor<double> wide = load_npy<double>(dir.file("f.npy"));
  REQUIRE(wide.shape() == t.shape());
  for (Eigen::Index k = 0; k < t.size(); ++k) CHECK(wide.data()[k] == double(t.data()[k]));

  save_npy(dir.file("d.npy"), wide);
  CONVTAPE_CHECK_THROWS(load_npy<float>(dir.file("d.npy")), io_error, Contains("float64"));
  CHECK_THROWS_AS(load_npy_matrix<float>(dir.file("d.npy")), io_error);
}

TEST_CASE("load_npy rejects files it cannot represent with io_error naming the problem",
          "[npy][errors]") {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  const auto rejects = [&](const std::string& bytes, const std::string& message) {
    write_bytes(path, bytes);
    CONVTAPE_CHECK_THROWS(load_npy<double>(path), io_error, Contains(message));
    CONVTAPE_CHECK_THROWS(load_npy_matrix<double>(path), io_error, Contains(message));
  };
  const std::string data4 = le_data<double>(4);
  SECTION("missing file") {
    CONVTAPE_CHECK_THROWS(load_npy<double>(dir.file("none.npy")), io_error,
                          Contains("cannot open") && Contains("none.npy"));
  }
  SECTION("a directory") {
    CONVTAPE_CHECK_THROWS(load_npy<double>(dir.file("")), io_error, Contains("load_npy"));
  }
  SECTION("not a .npy file") { rejects("P6\n2 2\n255\n", "not a .npy file"); }
  SECTION("empty file") { rejects("", "not a .npy file"); }
  SECTION("unsupported versions") {
    std::string v4 = npy_file(f8_dict("(2, 2)"), data4);
    v4[6] = '\x04';
    rejects(v4, "version 4.0");
    std::string v11 = npy_file(f8_dict("(2, 2)"), data4);
    v11[7] = '\x01';
    rejects(v11, "version 1.1");
  }
  SECTION("dtypes other than little-endian float32/float64") {
    for (const char* descr : {"<i8", "<f2", "<c16", "|b1", "|u1", "=f8", "O", "<f16"}) {
      rejects(npy_file(std::string("{'descr': '") + descr +
                           "', 'fortran_order': False, 'shape': (2, 2), }",
                       data4),
              "dtype '" + std::string(descr) + "' is not supported");
    }
  }
  SECTION("big-endian data") {
    rejects(npy_file("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }", data4),
            "big-endian");
  }
  SECTION("Fortran order") {
    rejects(npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", data4),
            "fortran_order");
  }
  SECTION("data shorter or longer than the shape") {
    rejects(npy_file(f8_dict("(2, 3)"), data4), "truncated");
    rejects(npy_file(f8_dict("(2, 2)"), data4 + "x"), "unexpected bytes after the data");
    rejects(npy_file(f8_dict("(1,)"), data4), "unexpected bytes after the data");
  }
  SECTION("absurd shapes whose size overflows, before anything is allocated") {
    rejects(npy_file(f8_dict("(999999999999999999, 999999999999999999)"), data4), "too large");
    rejects(npy_file(f8_dict("(4294967296, 4294967296)"), data4), "too large");
    // 8e18 bytes: no overflow, but no such allocation may be attempted before the size check.
    rejects(npy_file(f8_dict("(999999999999999999,)"), data4), "truncated");
    rejects(npy_file(f8_dict("(0, 999999999999999999, 999999999999999999)"), data4), "too large");
    rejects(npy_file(f8_dict("(1000000000000, 1000000)"), data4), "truncated");
  }
  SECTION("header length beyond the file or the limit") {
    std::string bytes = npy_file(f8_dict("(2, 2)"), "");
    bytes[8] = '\xff';
    bytes[9] = '\xff';
    rejects(bytes, "truncated .npy header");
    std::string v2("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
    rejects(v2 + f8_dict("(2, 2)"), "more than");
  }
}

TEST_CASE("load_npy rejects malformed headers with io_error", "[npy][errors]") {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  const std::string data4 = le_data<double>(4);
  const char* dicts[] = {
      "",
      "[]",
      "{}",
      "{'descr': '<f8', 'fortran_order': False}",
      "{'descr': '<f8', 'shape': (2, 2)}",
      "{'fortran_order': False, 'shape': (2, 2)}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}",
      "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (4)}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (-2, -2)}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2.0, 2)}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': [2, 2]}",
      "{'descr': '<f8', 'fortran_order': false, 'shape': (2, 2)}",
      "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 2)}",
      "{'descr': <f8, 'fortran_order': False, 'shape': (2, 2)}",
      "{'descr': '<f8, 'fortran_order': False, 'shape': (2, 2)}",
      "{'descr': '<\\x66\\x38', 'fortran_order': False, 'shape': (2, 2)}",
      "{'descr': '<f8' 'fortran_order': False, 'shape': (2, 2)}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)} x",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (1234567890123456789,)}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2,, 2)}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (,)}",
  };
  for (const char* dict : dicts) {
    INFO("header: " << dict);
    write_bytes(path, npy_file(dict, data4));
    CONVTAPE_CHECK_THROWS(load_npy<double>(path), io_error, Contains("malformed .npy header"));
  }
}

TEST_CASE("Every truncation of a valid file is rejected with io_error", "[npy][errors]") {
  TempDir dir;
  Tensor<double> t(1, 2, 2, 3);
  t.setConstant(0.5);
  save_npy(dir.file("t.npy"), t);
  const std::string bytes = read_bytes(dir.file("t.npy"));
  const std::string path = dir.file("cut.npy");
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    INFO("first " << length << " bytes");
    write_bytes(path, bytes.substr(0, length));
    CHECK_THROWS_AS(load_npy<double>(path), io_error);
  }
}

TEST_CASE("Randomly corrupted headers give a clean exception or a consistent tensor",
          "[npy][errors]") {
  TempDir dir;
  Tensor<double> t(1, 2, 2, 3);
  t.setConstant(0.25);
  save_npy(dir.file("t.npy"), t);
  const std::string good = read_bytes(dir.file("t.npy"));
  const std::string path = dir.file("fuzz.npy");
  std::mt19937 rng(12345);
  std::uniform_int_distribution<std::size_t> position(0, 127);  // the 128-byte header
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> flips(1, 4);
  int rejected = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    std::string bytes = good;
    for (int f = flips(rng); f > 0; --f) bytes[position(rng)] = static_cast<char>(byte(rng));
    write_bytes(path, bytes);
    try {
      const Tensor<double> back = load_npy<double>(path);
      // Whatever loaded must describe exactly the 96 data bytes: 12 doubles or 24 floats.
      CHECK((back.size() == 12 || back.size() == 24));
    } catch (const io_error&) {
      ++rejected;
    } catch (const shape_error&) {
      ++rejected;
    }
  }
  CHECK(rejected > 700);  // most corruptions must be caught, not absorbed
}

TEST_CASE("Shapes a Tensor or a matrix cannot hold throw shape_error", "[npy][errors]") {
  TempDir dir;
  const std::string path = dir.file("a.npy");
  SECTION("0-D and 5-D arrays into a Tensor") {
    write_bytes(path, npy_file(f8_dict("()"), le_data<double>(1)));
    CONVTAPE_CHECK_THROWS(load_npy<double>(path), shape_error,
                          Contains("0-D array") && Contains("1 to 4 dimensions"));
    write_bytes(path, npy_file(f8_dict("(1, 1, 1, 2, 2)"), le_data<double>(4)));
    CONVTAPE_CHECK_THROWS(load_npy<double>(path), shape_error, Contains("(1, 1, 1, 2, 2)"));
  }
  SECTION("a 1-D array into a matrix") {
    write_bytes(path, npy_file(f8_dict("(4,)"), le_data<double>(4)));
    CONVTAPE_CHECK_THROWS(load_npy_matrix<double>(path), shape_error,
                          Contains("load_npy_matrix") && Contains("reshape"));
  }
  SECTION("leading dimensions other than 1 into a matrix") {
    write_bytes(path, npy_file(f8_dict("(2, 1, 1, 2)"), le_data<double>(4)));
    CONVTAPE_CHECK_THROWS(load_npy_matrix<double>(path), shape_error, Contains("(2, 1, 1, 2)"));
  }
  SECTION("leading dimensions of 1 are fine for a matrix") {
    write_bytes(path, npy_file(f8_dict("(1, 1, 2, 2)"), le_data<double>(4)));
    CHECK(load_npy_matrix<double>(path).rows() == 2);
  }
}

TEST_CASE("save_npy reports a path it cannot write with io_error", "[npy][errors]") {
  TempDir dir;
  const Eigen::MatrixXd m = Eigen::MatrixXd::Ones(2, 2);
  CONVTAPE_CHECK_THROWS(save_npy(dir.file("no/such/dir/m.npy"), m), io_error,
                        Contains("save_npy") && Contains("cannot open for writing"));
}

}  // namespace
