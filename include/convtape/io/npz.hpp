// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// numpy's `.npz` files: several named arrays in one file, e.g. a model's parameters in
/// PyTorch's `state_dict` naming and layout, so that numpy and PyTorch open them directly:
///
///     // C++: a LeNet's first convolution and last linear layer
///     convtape::save_npz<float>("lenet.npz", {{"0.weight", conv1.weight.value},   // (6, 1, 5, 5)
///                                             {"0.bias", conv1.bias.value, {6}},  // 1-D
///                                             {"11.weight", fc3.weight.value, {10, 84}}});
///
///     # Python
///     sd = {k: torch.from_numpy(v) for k, v in np.load("lenet.npz").items()}
///     net.load_state_dict(sd)
///
/// A `.npz` file is a zip archive with one `.npy` file per array, the entry `name.npy` holding
/// array `name` (`np.load(f)[name]`). convtape writes and reads *uncompressed* archives, what
/// `np.savez` writes (no zlib needed); `np.savez_compressed` files are refused with a message
/// saying so. Zip64 is not supported: archives stay below 4 GiB and 65,535 arrays (larger ones
/// are refused on both sides with a clear error). The arrays follow the rules of `io/npy.hpp`
/// (float32 or float64 by `S`, C order, little-endian).
///
/// Writing is atomic (a temporary file renamed over the target, see `io/npy.hpp`) and
/// reproducible: the same arrays give the same bytes (entries dated 1980-01-01). Reading takes
/// the whole file into memory, then checks the zip structure (end record, central directory,
/// local headers, sizes, CRC-32 of every entry) and every `.npy` header before it returns
/// anything, never reading past the end; a malformed, truncated, compressed or Zip64 file
/// throws `io_error` naming the file and, where one is at fault, the entry.

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/atomic_file.hpp"
#include "convtape/detail/zip.hpp"
#include "convtape/io/error.hpp"
#include "convtape/io/npy.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// One array of an `.npz` file: its name (the key `np.load(f)[name]` takes), its values as a
/// tensor, and its shape in the file, numpy's shape of 0 to 4 dimensions (e.g. a linear layer's
/// (out, in) weight, a 1-D bias) whose element count is the tensor's. The tensor holds the
/// values in C order whatever its own shape; as loaded, its shape is `shape` with leading 1s
/// ((6,) -> (1, 1, 1, 6), () -> (1, 1, 1, 1)).
template <class S>
struct NamedArray {
  std::string name;          ///< the array's key in the file (the zip entry is `name + ".npy"`)
  Tensor<S> value;           ///< the values, in C order of `shape`
  std::vector<Index> shape;  ///< the numpy shape in the file; its product is `value.size()`

  /// An empty array with an empty name.
  NamedArray() = default;

  /// `value` under `name`, saved with the tensor's own 4-D shape (N, C, H, W).
  NamedArray(std::string name, Tensor<S> value)
      : name(std::move(name)),
        value(std::move(value)),
        shape(this->value.shape().begin(), this->value.shape().end()) {}

  /// `value` under `name`, saved with numpy shape `shape` (0 to 4 extents), e.g. `{6}` for a
  /// convolution's bias (held as (1, 6, 1, 1)) or `{out, in}` for a linear layer's weight.
  /// @throws shape_error if `shape` has more than 4 extents, a negative one, or an element
  ///   count other than `value.size()`.
  NamedArray(std::string name, Tensor<S> value, std::vector<Index> shape)
      : name(std::move(name)), value(std::move(value)), shape(std::move(shape)) {
    check("NamedArray");
  }

  /// Throws `shape_error` (naming `fn`) unless `shape` has 0 to 4 non-negative extents whose
  /// product is `value.size()`.
  void check(const char* fn) const {
    bool ok = shape.size() <= 4;
    if (value.size() == 0) {  // some extent must be 0
      ok = ok && std::find(shape.begin(), shape.end(), Index(0)) != shape.end();
    }
    Index count = 1;
    for (Index extent : shape) {
      if (extent < 0) ok = false;
      if (!ok || value.size() == 0) continue;
      if (extent == 0 || count > value.size() / extent) {
        ok = false;  // the product would differ from (be 0 or exceed) value.size()
      } else {
        count *= extent;
      }
    }
    if (!ok || (value.size() != 0 && count != value.size())) {
      detail::fail(fn, "array '" + name + "': numpy shape " + detail::npy::shape_repr(shape) +
                           " does not fit the tensor " + detail::shape_str(value.shape()) +
                           " (0 to 4 extents whose product is " + std::to_string(value.size()) +
                           ")");
    }
  }
};

namespace detail {
namespace npz {

/// Checks the names of arrays to be saved: non-empty, no NUL byte, unique, short enough for a
/// zip entry name.
template <class S>
void check_names(const std::vector<NamedArray<S>>& arrays, const char* fn) {
  std::vector<std::string_view> names;
  for (const NamedArray<S>& a : arrays) {
    if (a.name.empty() || a.name.find('\0') != std::string::npos || a.name.size() > 0xffffu - 4) {
      fail(fn, "array name '" + a.name +
                   "' is empty, holds a NUL byte, or is longer than a zip entry name may be");
    }
    names.emplace_back(a.name);
  }
  std::sort(names.begin(), names.end());
  const auto twice = std::adjacent_find(names.begin(), names.end());
  if (twice != names.end()) fail(fn, "two arrays are named '" + std::string(*twice) + "'");
}

/// The whole file at `path`, after checking that it is not over 4 GiB.
inline std::string read_file(const char* fn, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io(fn, path, "cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) fail_io(fn, path, "cannot determine the file size");
  if (static_cast<std::uint64_t>(end) > zip::kMaxArchive) {
    fail_io(fn, path,
            "is larger than 4 GiB (" + std::to_string(end) +
                " bytes): Zip64 archives are not supported");
  }
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<std::size_t>(end), '\0');
  if (!bytes.empty() && !in.read(&bytes[0], static_cast<std::streamsize>(bytes.size()))) {
    fail_io(fn, path, "read failed");
  }
  return bytes;
}

}  // namespace npz
}  // namespace detail

/// Writes `arrays` to `path` as an uncompressed `.npz` file, in their order: entry
/// `name + ".npy"` holds each array with its numpy shape, float32 or float64 by `S`, so
/// `np.load(path)[name]` returns it. Replaces an existing file atomically.
/// @throws shape_error (before writing anything) for an empty, repeated or over-long name, a
///   name with a NUL byte, or a shape that does not fit its tensor (see `NamedArray`);
///   io_error if the file cannot be written or would exceed 4 GiB. A previous file at `path`
///   is then unchanged.
template <class S>
void save_npz(const std::string& path, const std::vector<NamedArray<S>>& arrays) {
  constexpr const char* fn = "save_npz";
  detail::npy::check_scalar<S>();
  for (const NamedArray<S>& a : arrays) a.check(fn);
  detail::npz::check_names(arrays, fn);
  detail::AtomicFile out(fn, path);
  detail::zip::Writer zip(out, fn, path);
  for (const NamedArray<S>& a : arrays) {
    zip.add(a.name + ".npy", detail::npy::array_bytes(a.shape, a.value.data(),
                                                      static_cast<std::size_t>(a.value.size())));
  }
  zip.finish();
  out.commit();
}

/// Reads every array of the `.npz` file at `path`, in the file's order, as `NamedArray`s: the
/// name without `.npy`, the numpy shape, and the values in a tensor of that shape with leading
/// 1s. Reads what `np.savez` and `save_npz` write. `S` is float or double; float32 data is
/// widened exactly into `double`, float64 data into `float` is refused (see `io/npy.hpp`).
/// @throws io_error if the file cannot be read, is not an uncompressed zip archive of `.npy`
///   files (a compressed `np.savez_compressed` file, Zip64, a truncated or corrupt archive, an
///   entry whose CRC-32 does not match, an entry not named `*.npy`), or an entry is a `.npy`
///   array `load_npy` would refuse; the message names the file and the entry. shape_error for
///   an array of more than 4 dimensions.
template <class S>
std::vector<NamedArray<S>> load_npz(const std::string& path) {
  constexpr const char* fn = "load_npz";
  detail::npy::check_scalar<S>();
  const std::string bytes = detail::npz::read_file(fn, path);
  const std::string where = "'" + path + "'";
  const std::vector<detail::zip::Entry> entries = detail::zip::read_directory(bytes, fn, where);
  std::vector<NamedArray<S>> arrays;
  arrays.reserve(entries.size());
  for (const detail::zip::Entry& entry : entries) {
    const std::string at = where + ", entry '" + entry.name + "'";
    constexpr std::string_view suffix = ".npy";
    if (entry.name.size() <= suffix.size() ||
        std::string_view(entry.name).substr(entry.name.size() - suffix.size()) != suffix) {
      detail::fail_at(fn, at,
                      "is not named like a .npy array (an .npz file holds one 'name.npy' entry "
                      "per array)");
    }
    const char* data = bytes.data() + entry.offset;
    const detail::npy::ArrayInfo info = detail::npy::parse_array<S>(data, entry.size, fn, at);
    if (info.shape.size() > 4) {
      detail::fail(fn, at + ": " + detail::npy::rank_message(info.shape) +
                           "; a Tensor takes 0 to 4 dimensions");
    }
    Shape4 shape4{1, 1, 1, 1};
    std::copy(info.shape.begin(), info.shape.end(),
              shape4.end() - static_cast<std::ptrdiff_t>(info.shape.size()));
    NamedArray<S> array;
    array.name = entry.name.substr(0, entry.name.size() - suffix.size());
    array.value = Tensor<S>(shape4);
    array.shape = info.shape;
    detail::npy::decode_data(data + info.data_offset, info, array.value.data());
    arrays.push_back(std::move(array));
  }
  return arrays;
}

/// The array named `name` in `arrays`.
/// @throws shape_error if there is none (the message lists the names there are).
template <class S>
const NamedArray<S>& find_array(const std::vector<NamedArray<S>>& arrays, const std::string& name) {
  for (const NamedArray<S>& a : arrays) {
    if (a.name == name) return a;
  }
  std::string names;
  for (const NamedArray<S>& a : arrays) names += (names.empty() ? "'" : ", '") + a.name + "'";
  detail::fail("find_array", "no array named '" + name + "' (there are " +
                                 (names.empty() ? std::string("none") : names) + ")");
}

/// Checks that `arrays` (e.g. from `load_npz`) are exactly the `expected` (name, numpy shape)
/// pairs, in any order, as PyTorch's `load_state_dict(strict=True)`: every expected name is
/// there with its shape and there is no other name.
/// @throws shape_error naming the first expected name that is missing or has another shape
///   (with both shapes), or else the first name in `arrays` not expected (with its shape).
template <class S>
void check_state_dict(const std::vector<NamedArray<S>>& arrays,
                      const std::vector<std::pair<std::string, std::vector<Index>>>& expected) {
  constexpr const char* fn = "check_state_dict";
  using detail::npy::shape_repr;
  for (const auto& pair : expected) {
    const std::string& name = pair.first;
    const std::vector<Index>& shape = pair.second;
    const auto found = std::find_if(arrays.begin(), arrays.end(),
                                    [&](const NamedArray<S>& a) { return a.name == name; });
    if (found == arrays.end()) {
      detail::fail(fn, "missing array '" + name + "' of shape " + shape_repr(shape));
    }
    if (found->shape != shape) {
      detail::fail(fn, "array '" + name + "' has shape " + shape_repr(found->shape) +
                           " but the model expects " + shape_repr(shape));
    }
  }
  for (const NamedArray<S>& a : arrays) {
    const bool known = std::any_of(expected.begin(), expected.end(),
                                   [&](const auto& pair) { return pair.first == a.name; });
    if (!known) {
      detail::fail(fn, "unexpected array '" + a.name + "' of shape " + shape_repr(a.shape) +
                           " (the model has no parameter of that name)");
    }
  }
}

}  // namespace convtape
