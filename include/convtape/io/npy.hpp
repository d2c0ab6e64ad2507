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
/// whatever its storage order; a tensor 4-D (N, C, H, W). Writes are atomic: the file is written
/// to a temporary beside it (`<path>.tmp-<16 hex digits>`) and renamed over `path` only when
/// complete, so a write that fails (full disk, an unwritable directory, a directory at `path`)
/// throws and leaves a previous file at `path` untouched.
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
#include <string>
#include <type_traits>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/atomic_file.hpp"
#include "convtape/io/error.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

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

/// Hands `count` elements to `write(const char* bytes, std::size_t size)` as little-endian bytes:
/// in one call on a little-endian host, in chunks converted on a big-endian one.
template <class S, class Write>
void write_le(const S* data, std::size_t count, Write&& write) {
  if (host_is_little_endian()) {
    write(reinterpret_cast<const char*>(data), count * sizeof(S));
    return;
  }
  using Bits = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
  constexpr std::size_t kChunk = 1 << 12;  // elements converted per call
  char bytes[kChunk * sizeof(S)];
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = std::min(count - done, kChunk);
    for (std::size_t i = 0; i < n; ++i) {
      Bits bits = 0;
      std::memcpy(&bits, data + done + i, sizeof(S));
      for (std::size_t b = 0; b < sizeof(S); ++b) {
        bytes[i * sizeof(S) + b] = static_cast<char>(bits >> (8 * b));
      }
    }
    write(bytes, n * sizeof(S));
    done += n;
  }
}

/// The header of a C-order array of `S` (float32 or float64 by `S`).
template <class S>
std::string header_for(const std::vector<Index>& shape) {
  check_scalar<S>();
  return make_header(std::is_same_v<S, float> ? "<f4" : "<f8", shape);
}

/// The whole `.npy` file of an array, in memory (for `.npz` entries).
template <class S>
std::string array_bytes(const std::vector<Index>& shape, const S* data, std::size_t count) {
  std::string bytes = header_for<S>(shape);
  bytes.reserve(bytes.size() + count * sizeof(S));
  write_le(data, count, [&](const char* p, std::size_t n) { bytes.append(p, n); });
  return bytes;
}

/// Writes a whole `.npy` file into `out`, which the caller then commits.
template <class S>
void write_array(AtomicFile& out, const std::vector<Index>& shape, const S* data,
                 std::size_t count) {
  const std::string header = header_for<S>(shape);
  out.write(header.data(), header.size());
  write_le(data, count, [&](const char* p, std::size_t n) { out.write(p, n); });
}

/// Writes a `.npy` file atomically (see `detail::AtomicFile`): the previous file at `path`, if
/// any, stays intact unless the whole new file has been written.
template <class S>
void save_array(const char* fn, const std::string& path, const std::vector<Index>& shape,
                const S* data, std::size_t count) {
  check_scalar<S>();
  AtomicFile out(fn, path);
  write_array(out, shape, data, count);
  out.commit();
}

/// What a `.npy` header says, checked for consistency with the file size.
struct ArrayInfo {
  std::vector<Index> shape;
  std::size_t item_size = 0;    ///< 4 (float32) or 8 (float64)
  std::size_t count = 0;        ///< product of the shape
  std::size_t data_offset = 0;  ///< bytes before the data: magic, version, length and header
};

/// A strict parser for the one Python literal a header holds:
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }` (keys in any order, any
/// whitespace, optional trailing commas as in Python).
class HeaderParser {
 public:
  /// `where` names the array in messages, quoted (`'x.npy'`).
  HeaderParser(const std::string& text, const char* fn, const std::string& where)
      : text_(text), fn_(fn), where_(where) {}

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
    fail_at(fn_, where_,
            "malformed .npy header at byte " + std::to_string(pos_) + " (" + why + ")");
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
  const std::string& where_;
  std::size_t pos_ = 0;
};

/// The first bytes of a `.npy` file that locate its data: magic, version and header length
/// (12 bytes for versions 2.0 and 3.0, 10 for 1.0).
constexpr std::size_t kPrefixSize = kMagicSize + 2 + 4;

/// Checks the magic and version in the first `min(total_size, kPrefixSize)` bytes of an array
/// of `total_size` bytes and returns the offset of its first data byte (the header's end), which
/// is checked to lie within `total_size`. `where` names the array in messages, quoted.
inline std::size_t data_offset(const char* prefix, std::uint64_t total_size, const char* fn,
                               const std::string& where) {
  if (total_size < kMagicSize + 2 || std::memcmp(prefix, kMagic, kMagicSize) != 0) {
    fail_at(fn, where, "not a .npy file (it does not start with \\x93NUMPY)");
  }
  const auto major = static_cast<unsigned char>(prefix[kMagicSize]);
  const auto minor = static_cast<unsigned char>(prefix[kMagicSize + 1]);
  if (major < 1 || major > 3 || minor != 0) {
    fail_at(fn, where,
            "unsupported .npy format version " + std::to_string(major) + "." +
                std::to_string(minor) + " (1.0, 2.0 and 3.0 are supported)");
  }
  const std::size_t length_size = major == 1 ? 2 : 4;
  if (total_size < kMagicSize + 2 + length_size) fail_at(fn, where, "truncated .npy header");
  std::uint32_t header_size = 0;
  for (std::size_t b = 0; b < length_size; ++b) {
    header_size |=
        static_cast<std::uint32_t>(static_cast<unsigned char>(prefix[kMagicSize + 2 + b]))
        << (8 * b);
  }
  if (header_size > kMaxHeaderSize) {
    fail_at(fn, where,
            "the header claims " + std::to_string(header_size) + " bytes, more than " +
                std::to_string(kMaxHeaderSize));
  }
  const std::uint64_t offset = kMagicSize + 2 + length_size + header_size;
  if (offset > total_size) {
    fail_at(fn, where,
            "truncated .npy header (it claims " + std::to_string(header_size) + " bytes, the " +
                "array has " + std::to_string(total_size) + " in all)");
  }
  return static_cast<std::size_t>(offset);
}

/// Parses the header (the first `offset` bytes, as `data_offset` returned) of an array of
/// `total_size` bytes for a result of scalar `S`, and checks that the data after it have exactly
/// the size the shape and dtype say.
template <class S>
ArrayInfo parse_header(const char* header, std::size_t offset, std::uint64_t total_size,
                       const char* fn, const std::string& where) {
  const std::size_t dict_begin = header[kMagicSize] == 1 ? kMagicSize + 4 : kPrefixSize;
  const std::string text(header + dict_begin, offset - dict_begin);
  std::string descr;
  bool fortran_order = false;
  ArrayInfo info;
  HeaderParser(text, fn, where).parse(descr, fortran_order, info.shape);

  if (descr.size() == 3 && descr[0] == '>' && descr[1] == 'f') {
    fail_at(fn, where,
            "big-endian data (dtype '" + descr +
                "') is not supported; in numpy, save a.astype(a.dtype.newbyteorder('<'))");
  }
  if (descr == "<f4") {
    info.item_size = 4;
  } else if (descr == "<f8") {
    info.item_size = 8;
  } else {
    fail_at(fn, where,
            "dtype '" + descr + "' is not supported; convtape reads float32 ('<f4') and " +
                "float64 ('<f8')");
  }
  if (info.item_size > sizeof(S)) {
    fail_at(fn, where,
            "holds float64 data, which float would round; load it as double (or save float32)");
  }
  if (fortran_order) {
    fail_at(fn, where,
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
      fail_at(fn, where, "shape " + shape_repr(info.shape) + " is too large to represent");
    }
    nonzero_product *= e;
  }
  info.count = any_zero ? 0 : static_cast<std::size_t>(nonzero_product);
  info.data_offset = offset;
  const std::uint64_t data_bytes = static_cast<std::uint64_t>(info.count) * info.item_size;
  const std::uint64_t available = total_size - offset;
  if (available != data_bytes) {
    fail_at(fn, where,
            std::string(available < data_bytes ? "truncated" : "unexpected bytes after the data") +
                ": shape " + shape_repr(info.shape) + " of " + descr + " needs " +
                std::to_string(data_bytes) + " data bytes, the array has " +
                std::to_string(available));
  }
  return info;
}

/// Parses and checks the header of the `.npy` array held in `bytes[0, size)`.
template <class S>
ArrayInfo parse_array(const char* bytes, std::size_t size, const char* fn,
                      const std::string& where) {
  return parse_header<S>(bytes, data_offset(bytes, size, fn, where), size, fn, where);
}

/// Converts `info.count` little-endian elements at `bytes` into `out` (float32 widened to `S`).
template <class S>
void decode_data(const char* bytes, const ArrayInfo& info, S* out) {
  if (info.count == 0) return;
  if (info.item_size == sizeof(S) && host_is_little_endian()) {
    std::memcpy(out, bytes, info.count * sizeof(S));
  } else if (info.item_size == 4) {
    decode_le<float>(bytes, info.count, out);
  } else {
    decode_le<double>(bytes, info.count, out);
  }
}

/// Reads `info.count` elements from `in` into `out`, converting float32 to `S` if needed.
template <class S>
void read_data(std::ifstream& in, const ArrayInfo& info, S* out, const char* fn,
               const std::string& where) {
  if (info.item_size == sizeof(S) && host_is_little_endian()) {
    if (!in.read(reinterpret_cast<char*>(out),
                 static_cast<std::streamsize>(info.count * sizeof(S)))) {
      fail_at(fn, where, "read failed in the data");
    }
    return;
  }
  constexpr std::size_t kChunk = 1 << 14;  // elements converted per read
  std::vector<char> bytes(std::min(info.count, kChunk) * info.item_size);
  for (std::size_t done = 0; done < info.count;) {
    const std::size_t n = std::min(info.count - done, kChunk);
    if (!in.read(bytes.data(), static_cast<std::streamsize>(n * info.item_size))) {
      fail_at(fn, where, "read failed in the data");
    }
    ArrayInfo chunk = info;
    chunk.count = n;
    decode_data(bytes.data(), chunk, out + done);
    done += n;
  }
}

/// Opens `path`, reads its header, and hands the shape to `make_result(shape)`, which checks it
/// (throwing `shape_error`) and returns a result object whose `.data()` receives the elements.
/// Only the header is read before the file size confirms the shape; the data go straight into
/// the result.
template <class S, class MakeResult>
auto load_array(const char* fn, const std::string& path, MakeResult make_result) {
  check_scalar<S>();
  const std::string where = "'" + path + "'";
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_at(fn, where, "cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) fail_at(fn, where, "cannot determine the file size");
  in.seekg(0, std::ios::beg);
  const auto file_size = static_cast<std::uint64_t>(end);
  std::string header(static_cast<std::size_t>(std::min<std::uint64_t>(file_size, kPrefixSize)),
                     '\0');
  if (!in.read(&header[0], static_cast<std::streamsize>(header.size()))) {
    fail_at(fn, where, "read failed in the header");
  }
  header.resize(kPrefixSize, '\0');  // a short file is rejected by data_offset
  const std::size_t offset = data_offset(header.data(), file_size, fn, where);
  if (offset > kPrefixSize) {
    header.resize(offset);
    if (!in.read(&header[kPrefixSize], static_cast<std::streamsize>(offset - kPrefixSize))) {
      fail_at(fn, where, "read failed in the header");
    }
  }
  in.seekg(static_cast<std::streamoff>(offset), std::ios::beg);
  const ArrayInfo info = parse_header<S>(header.data(), offset, file_size, fn, where);
  auto result = make_result(info.shape);
  read_data(in, info, result.data(), fn, where);
  return result;
}

inline std::string rank_message(const std::vector<Index>& shape) {
  return "the file holds a " + std::to_string(shape.size()) + "-D array of shape " +
         shape_repr(shape);
}

}  // namespace npy
}  // namespace detail

/// Writes `t` to `path` as a 4-D (N, C, H, W) `.npy` array, float32 or float64 as `S`
/// (`np.load(path)` gives back an array equal to `t`). Replaces an existing file atomically.
/// @throws io_error if the file cannot be written; a previous file at `path` is then unchanged.
template <class S>
void save_npy(const std::string& path, const Tensor<S>& t) {
  detail::npy::save_array("save_npy", path, {t.dim(0), t.dim(1), t.dim(2), t.dim(3)}, t.data(),
                          static_cast<std::size_t>(t.size()));
}

/// Writes matrix `m` (any Eigen matrix expression) to `path` as a 2-D (rows, cols) `.npy` array in
/// C order, whatever `m`'s storage order, float32 or float64 by its scalar type. Replaces an
/// existing file atomically.
/// @throws io_error if the file cannot be written; a previous file at `path` is then unchanged.
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
