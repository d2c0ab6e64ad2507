// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// numpy's `.npy` files for `Tensor`s and Eigen matrices, so data moves to and from numpy and
/// PyTorch (`np.save`/`np.load`, `torch.from_numpy(np.load(...))`).
///
/// Files are written as NPY format 1.0, byte for byte what `np.save` writes for the same array:
/// little-endian float32 (`'<f4'`) or float64 (`'<f8'`) by the scalar type, C (row-major) order,
/// the header padded with spaces to a multiple of 64 bytes. A matrix is saved 2-D (rows, cols)
/// whatever its storage order; a tensor 4-D (N, C, H, W).
///
/// Reading accepts format versions 1.0 to 3.0 and rejects what it cannot represent exactly:
///
/// - `io_error` for a file that cannot be opened or read, is not a `.npy` file, has a malformed
///   header, a dtype other than little-endian float32/float64 (or float64 for a `float` result:
///   narrowing would lose digits; float32 into `double` widens exactly and is accepted),
///   `fortran_order: True`, a shape whose size overflows, or data shorter or longer than the
///   shape says. Nothing is allocated from the header's word before the file size confirms it.
/// - `shape_error` for a well-formed array whose number of dimensions the result cannot hold.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Thrown when a file cannot be read or written, or holds something convtape cannot represent
/// faithfully (see `io/npy.hpp`). A `std::runtime_error`, not a `shape_error`: the fault is in
/// data outside the program, not in the caller's arguments. The message names the function and
/// the path.
class io_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
namespace npy {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kAlign = 64;
/// numpy (>= 1.24) leaves room after the header dict for the first axis to grow to 21 digits;
/// writing the same spaces keeps our files byte-identical to `np.save`'s.
constexpr std::size_t kGrowthAxisDigits = 21;
/// numpy itself refuses headers above 10000 bytes; a bit more is allowed here, never gigabytes.
constexpr std::uint32_t kMaxHeaderSize = 1u << 16;

template <class S>
constexpr void check_scalar() {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>,
                "convtape: .npy files are read and written as float32 or float64; use float or "
                "double (convert with .cast<double>() or .template cast<double>()).");
  static_assert(!std::is_floating_point_v<S> || std::numeric_limits<S>::is_iec559,
                "convtape: .npy I/O needs IEEE-754 float and double.");
}

[[noreturn]] inline void fail_io(const char* fn, const std::string& path,
                                 const std::string& message) {
  throw io_error(std::string(fn) + ": '" + path + "': " + message);
}

inline bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

/// Python's repr of a shape tuple: `(3,)`, `(2, 3)`.
inline std::string shape_repr(const std::vector<Index>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

/// The full header (magic, version 1.0, length, dict, padding, newline) for a C-order array.
inline std::string make_header(const char* descr, const std::vector<Index>& shape) {
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape[0]).size();
    dict.append(kGrowthAxisDigits > digits ? kGrowthAxisDigits - digits : 0, ' ');
  }
  // As numpy: pad with 1..64 spaces so that magic + version + length + dict + '\n' is aligned.
  const std::size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;
  dict.append(kAlign - unpadded % kAlign, ' ');
  dict += '\n';
  const auto length = static_cast<std::uint16_t>(dict.size());  // < 200 bytes for <= 4 dims
  std::string header(kMagic, kMagicSize);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(length & 0xffu);
  header += static_cast<char>(length >> 8);
  return header + dict;
}

/// Copies `count` elements of type `From` stored little-endian at `bytes` into `out`, converting
/// to `To`. Assembling the bits arithmetically makes this right on any host byte order.
template <class From, class To>
void decode_le(const char* bytes, std::size_t count, To* out) {
  using Bits = std::conditional_t<sizeof(From) == 4, std::uint32_t, std::uint64_t>;
  static_assert(sizeof(Bits) == sizeof(From), "float32 and float64 only");
  for (std::size_t i = 0; i < count; ++i) {
    Bits bits = 0;
    for (std::size_t b = 0; b < sizeof(Bits); ++b) {
      bits |= static_cast<Bits>(static_cast<unsigned char>(bytes[i * sizeof(Bits) + b])) << (8 * b);
    }
    From value;
    std::memcpy(&value, &bits, sizeof(value));
    out[i] = static_cast<To>(value);
  }
}

/// Writes `count` elements little-endian.
template <class S>
void write_data(std::ofstream& out, const S* data, std::size_t count) {
  if (host_is_little_endian()) {
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(S)));
    return;
  }
  using Bits = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
  char bytes[sizeof(S)];
  for (std::size_t i = 0; i < count; ++i) {
    Bits bits = 0;
    std::memcpy(&bits, data + i, sizeof(S));
    for (std::size_t b = 0; b < sizeof(S); ++b) bytes[b] = static_cast<char>(bits >> (8 * b));
    out.write(bytes, sizeof(S));
  }
}

template <class S>
void save_array(const char* fn, const std::string& path, const std::vector<Index>& shape,
                const S* data, std::size_t count) {
  check_scalar<S>();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail_io(fn, path, "cannot open for writing");
  const std::string header = make_header(std::is_same_v<S, float> ? "<f4" : "<f8", shape);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  write_data(out, data, count);
  out.flush();
  if (!out) fail_io(fn, path, "write failed");
}

/// What a `.npy` header says, checked for consistency with the file size.
struct ArrayInfo {
  std::vector<Index> shape;
  std::size_t item_size = 0;  ///< 4 (float32) or 8 (float64)
  std::size_t count = 0;      ///< product of the shape
};

/// A strict parser for the one Python literal a header holds:
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }` (keys in any order, any
/// whitespace, optional trailing commas as in Python).
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const char* fn, const std::string& path)
      : text_(text), fn_(fn), path_(path) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<Index>& shape) {
    bool have_descr = false;
    bool have_order = false;
    bool have_shape = false;
    expect('{');
    while (!eat('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr" && !have_descr) {
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order" && !have_order) {
        fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape" && !have_shape) {
        shape = parse_shape();
        have_shape = true;
      } else {
        malformed("unexpected or repeated key '" + key + "'");
      }
      if (!eat(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) malformed("unexpected text after the header dictionary");
    if (!have_descr || !have_order || !have_shape) {
      malformed("the header needs the keys 'descr', 'fortran_order' and 'shape'");
    }
  }

 private:
  [[noreturn]] void malformed(const std::string& why) const {
    fail_io(fn_, path_, "malformed .npy header at byte " + std::to_string(pos_) + " (" + why + ")");
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) malformed(std::string("expected '") + c + "'");
  }
  std::string parse_string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      malformed("expected a quoted string");
    }
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) malformed("unterminated string");
    std::string s = text_.substr(pos_, end - pos_);
    if (s.find('\\') != std::string::npos) malformed("escape sequences are not supported");
    pos_ = end + 1;
    return s;
  }
  bool parse_bool() {
    skip_space();
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    malformed("expected True or False");
  }
  /// A tuple of non-negative integers; as in Python, one element needs its trailing comma.
  std::vector<Index> parse_shape() {
    std::vector<Index> shape;
    expect('(');
    bool trailing_comma = false;
    while (!eat(')')) {
      if (shape.size() == 32) malformed("more than 32 dimensions");
      shape.push_back(parse_extent());
      trailing_comma = eat(',');
      if (!trailing_comma) {
        expect(')');
        break;
      }
    }
    if (shape.size() == 1 && !trailing_comma) malformed("(n) is not a tuple; numpy writes (n,)");
    return shape;
  }
  Index parse_extent() {
    skip_space();
    const std::size_t begin = pos_;
    Index value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (pos_ - begin == 18) malformed("an extent with more than 18 digits");
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    if (pos_ == begin) malformed("expected a non-negative integer extent");
    return value;
  }

  const std::string& text_;
  const char* fn_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

/// Reads and checks the header of `in` (opened at its start), whose total size is `file_size`,
/// for a result of scalar `S`; leaves `in` at the first data byte.
template <class S>
ArrayInfo read_header(std::ifstream& in, std::uint64_t file_size, const char* fn,
                      const std::string& path) {
  char prefix[kMagicSize + 2] = {};
  if (file_size < sizeof(prefix) || !in.read(prefix, sizeof(prefix)) ||
      std::memcmp(prefix, kMagic, kMagicSize) != 0) {
    fail_io(fn, path, "not a .npy file (it does not start with \\x93NUMPY)");
  }
  const auto major = static_cast<unsigned char>(prefix[kMagicSize]);
  const auto minor = static_cast<unsigned char>(prefix[kMagicSize + 1]);
  if (major < 1 || major > 3 || minor != 0) {
    fail_io(fn, path,
            "unsupported .npy format version " + std::to_string(major) + "." +
                std::to_string(minor) + " (1.0, 2.0 and 3.0 are supported)");
  }
  const std::size_t length_size = major == 1 ? 2 : 4;
  unsigned char length_bytes[4] = {};
  std::uint32_t header_size = 0;
  if (file_size < sizeof(prefix) + length_size ||
      !in.read(reinterpret_cast<char*>(length_bytes), static_cast<std::streamsize>(length_size))) {
    fail_io(fn, path, "truncated .npy header");
  }
  for (std::size_t b = 0; b < length_size; ++b) {
    header_size |= static_cast<std::uint32_t>(length_bytes[b]) << (8 * b);
  }
  const std::uint64_t data_offset = sizeof(prefix) + length_size + header_size;
  if (header_size > kMaxHeaderSize) {
    fail_io(fn, path,
            "the header claims " + std::to_string(header_size) + " bytes, more than " +
                std::to_string(kMaxHeaderSize));
  }
  if (data_offset > file_size) {
    fail_io(fn, path,
            "truncated .npy header (it claims " + std::to_string(header_size) +
                " bytes, the file has " + std::to_string(file_size) + ")");
  }
  std::string text(header_size, '\0');
  if (!in.read(&text[0], static_cast<std::streamsize>(header_size))) {
    fail_io(fn, path, "read failed in the header");
  }

  std::string descr;
  bool fortran_order = false;
  ArrayInfo info;
  HeaderParser(text, fn, path).parse(descr, fortran_order, info.shape);

  if (descr.size() == 3 && descr[0] == '>' && descr[1] == 'f') {
    fail_io(fn, path,
            "big-endian data (dtype '" + descr +
                "') is not supported; in numpy, save a.astype(a.dtype.newbyteorder('<'))");
  }
  if (descr == "<f4") {
    info.item_size = 4;
  } else if (descr == "<f8") {
    info.item_size = 8;
  } else {
    fail_io(fn, path,
            "dtype '" + descr + "' is not supported; convtape reads float32 ('<f4') and " +
                "float64 ('<f8')");
  }
  if (info.item_size > sizeof(S)) {
    fail_io(fn, path,
            "holds float64 data, which float would round; load it as double (or save float32)");
  }
  if (fortran_order) {
    fail_io(fn, path,
            "fortran_order is True (column-major data) and is not supported; in numpy, save "
            "np.ascontiguousarray(a)");
  }

  // The element count, and the byte count, of the nonzero extents must not overflow.
  const std::uint64_t max_bytes = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
  std::uint64_t nonzero_product = 1;
  bool any_zero = false;
  for (Index extent : info.shape) {
    if (extent == 0) {
      any_zero = true;
      continue;
    }
    const auto e = static_cast<std::uint64_t>(extent);
    if (nonzero_product > max_bytes / info.item_size / e) {
      fail_io(fn, path, "shape " + shape_repr(info.shape) + " is too large to represent");
    }
    nonzero_product *= e;
  }
  info.count = any_zero ? 0 : static_cast<std::size_t>(nonzero_product);
  const std::uint64_t data_bytes = static_cast<std::uint64_t>(info.count) * info.item_size;
  const std::uint64_t available = file_size - data_offset;
  if (available != data_bytes) {
    fail_io(fn, path,
            std::string(available < data_bytes ? "truncated" : "unexpected bytes after the data") +
                ": shape " + shape_repr(info.shape) + " of " + descr + " needs " +
                std::to_string(data_bytes) + " data bytes, the file has " +
                std::to_string(available));
  }
  return info;
}

/// Reads `info.count` elements from `in` into `out`, converting float32 to `S` if needed.
template <class S>
void read_data(std::ifstream& in, const ArrayInfo& info, S* out, const char* fn,
               const std::string& path) {
  if (info.item_size == sizeof(S) && host_is_little_endian()) {
    if (!in.read(reinterpret_cast<char*>(out),
                 static_cast<std::streamsize>(info.count * sizeof(S)))) {
      fail_io(fn, path, "read failed in the data");
    }
    return;
  }
  constexpr std::size_t kChunk = 1 << 14;  // elements converted per read
  std::vector<char> bytes(std::min(info.count, kChunk) * info.item_size);
  for (std::size_t done = 0; done < info.count;) {
    const std::size_t n = std::min(info.count - done, kChunk);
    if (!in.read(bytes.data(), static_cast<std::streamsize>(n * info.item_size))) {
      fail_io(fn, path, "read failed in the data");
    }
    if (info.item_size == 4) {
      decode_le<float>(bytes.data(), n, out + done);
    } else {
      decode_le<double>(bytes.data(), n, out + done);
    }
    done += n;
  }
}

/// Opens `path`, reads its header, and hands the shape to `make_result(shape)`, which checks it
/// (throwing `shape_error`) and returns a result object whose `.data()` receives the elements.
template <class S, class MakeResult>
auto load_array(const char* fn, const std::string& path, MakeResult make_result) {
  check_scalar<S>();
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io(fn, path, "cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) fail_io(fn, path, "cannot determine the file size");
  in.seekg(0, std::ios::beg);
  const ArrayInfo info = read_header<S>(in, static_cast<std::uint64_t>(end), fn, path);
  auto result = make_result(info.shape);
  read_data(in, info, result.data(), fn, path);
  return result;
}

inline std::string rank_message(const std::vector<Index>& shape) {
  return "the file holds a " + std::to_string(shape.size()) + "-D array of shape " +
         shape_repr(shape);
}

}  // namespace npy
}  // namespace detail

/// Writes `t` to `path` as a 4-D (N, C, H, W) `.npy` array, float32 or float64 as `S`
/// (`np.load(path)` gives back an array equal to `t`). Overwrites an existing file.
/// @throws io_error if the file cannot be written.
template <class S>
void save_npy(const std::string& path, const Tensor<S>& t) {
  detail::npy::save_array("save_npy", path, {t.dim(0), t.dim(1), t.dim(2), t.dim(3)}, t.data(),
                          static_cast<std::size_t>(t.size()));
}

/// Writes matrix `m` (any Eigen matrix expression) to `path` as a 2-D (rows, cols) `.npy` array in
/// C order, whatever `m`'s storage order, float32 or float64 by its scalar type. Overwrites an
/// existing file.
/// @throws io_error if the file cannot be written.
template <class Derived>
void save_npy(const std::string& path, const Eigen::MatrixBase<Derived>& m) {
  using S = typename Derived::Scalar;
  detail::npy::check_scalar<S>();
  const RowMatrixX<S> rows = m;  // C order; also evaluates expressions once
  detail::npy::save_array("save_npy", path, {rows.rows(), rows.cols()}, rows.data(),
                          static_cast<std::size_t>(rows.size()));
}

/// Reads a `.npy` array of 1 to 4 dimensions into a tensor; missing leading dimensions become
/// 1, as in broadcasting: (W) -> (1, 1, 1, W), (H, W) -> (1, 1, H, W), (C, H, W) -> (1, C, H, W).
/// `S` is float or double; float32 data is widened exactly into `double`.
/// @throws io_error for a file that cannot be read or represented (see `io/npy.hpp`);
///   shape_error for a 0-D array or one of more than 4 dimensions.
template <class S>
Tensor<S> load_npy(const std::string& path) {
  return detail::npy::load_array<S>("load_npy", path, [&](const std::vector<Index>& shape) {
    if (shape.empty() || shape.size() > 4) {
      detail::fail("load_npy", "'" + path + "': " + detail::npy::rank_message(shape) +
                                   "; a Tensor takes 1 to 4 dimensions");
    }
    Shape4 shape4{1, 1, 1, 1};
    std::copy(shape.begin(), shape.end(), shape4.end() - static_cast<std::ptrdiff_t>(shape.size()));
    return Tensor<S>(shape4);
  });
}

/// Reads a 2-D `.npy` array (rows, cols) into a matrix; 3- and 4-D arrays whose leading
/// dimensions are all 1 are accepted too (e.g. a (1, 1, H, W) tensor saved by `save_npy`).
/// `S` is float or double; float32 data is widened exactly into `double`.
/// @throws io_error for a file that cannot be read or represented (see `io/npy.hpp`);
///   shape_error for any other shape (a 1-D array is neither a row nor a column: reshape it).
template <class S>
MatrixX<S> load_npy_matrix(const std::string& path) {
  const RowMatrixX<S> rows =
      detail::npy::load_array<S>("load_npy_matrix", path, [&](const std::vector<Index>& shape) {
        const bool leading_ones =
            shape.size() >= 2 && shape.size() <= 4 &&
            std::all_of(shape.begin(), shape.end() - 2, [](Index e) { return e == 1; });
        if (!leading_ones) {
          detail::fail("load_npy_matrix",
                       "'" + path + "': " + detail::npy::rank_message(shape) +
                           "; a matrix needs (rows, cols)" +
                           (shape.size() == 1 ? " (reshape to (1, n) or (n, 1) in numpy)" : ""));
        }
        return RowMatrixX<S>(shape[shape.size() - 2], shape[shape.size() - 1]);
      });
  // An empty array may still declare a huge extent, (0, 10^17): Eigen's row- to column-major copy
  // would loop over every empty column (a hang found by npy_fuzz), so it is not copied.
  if (rows.size() == 0) return MatrixX<S>(rows.rows(), rows.cols());
  return rows;
}

}  // namespace convtape
