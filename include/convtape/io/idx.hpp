// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// IDX files, the format of MNIST and Fashion-MNIST: images as a `Tensor` scaled to [0, 1],
/// labels as class indices.
///
/// An IDX file is a big-endian header and raw data: the magic number `00 00 TT RR` (two zero
/// bytes, a data type `TT`, the rank `RR`), then `RR` 32-bit big-endian extents, then the
/// elements in C order. Images are `00 00 08 03` (unsigned bytes; N, rows, cols), labels
/// `00 00 08 01` (unsigned bytes; N). Other data types or ranks are refused.
///
/// The readers take the file's bytes (a `std::string_view`, e.g. a `std::string` holding a
/// decompressed file) or a `std::istream`. The data sets ship gzipped; decompressing is left to
/// the caller (zlib's `gzopen`/`gzread`, or `gunzip` beforehand) so that convtape itself still
/// depends on Eigen alone. Debian's package `dataset-fashion-mnist` (installed by
/// `tools/bootstrap.sh`) puts the four files in the default data directory
/// `/usr/share/datasets/fashion-mnist/`: `train-images-idx3-ubyte.gz`,
/// `train-labels-idx1-ubyte.gz` (60,000 examples), `t10k-images-idx3-ubyte.gz`,
/// `t10k-labels-idx1-ubyte.gz` (10,000), 28 x 28 grayscale, 10 classes. The original MNIST
/// files have the same names and format.
///
/// Every reader checks the magic number, the extents and the size, and throws `io_error` naming
/// the function, the data's name and the problem for anything else: a truncated file, bytes
/// after the data, a gzip file not decompressed, another data type or rank, images of 0 rows or
/// columns. Nothing is read
/// past the end of the bytes given, and nothing is allocated from the header's extents before
/// the size of the data confirms them (2^31 images claimed by 100 bytes throw at once). With
/// `max_items`, only the first items are decoded, but the whole file must still be well-formed.

#include <algorithm>
#include <array>
#include <cstdint>
#include <istream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/io/dataset.hpp"
#include "convtape/io/error.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// The `max_items` that reads every item of an IDX file (the default).
inline constexpr Index kAllItems = std::numeric_limits<Index>::max();

namespace detail {
namespace idx {

/// What an IDX header says, checked to be consistent: `items` entries of `item_bytes` bytes
/// after a header of `header_size` bytes.
struct Header {
  std::array<std::uint32_t, 3> dims{};  ///< the extents (`rank` of them)
  std::size_t header_size = 0;          ///< 4 + 4 * rank
  std::uint64_t items = 0;              ///< the first extent: images or labels
  std::uint64_t item_bytes = 0;         ///< product of the other extents (1 for labels)
  std::uint64_t data_bytes = 0;         ///< items * item_bytes
};

inline std::uint32_t load_be32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

inline const char* type_name(unsigned char type) {
  switch (type) {
    case 0x09:
      return "signed bytes (0x09)";
    case 0x0B:
      return "16-bit integers (0x0B)";
    case 0x0C:
      return "32-bit integers (0x0C)";
    case 0x0D:
      return "32-bit floats (0x0D)";
    case 0x0E:
      return "64-bit floats (0x0E)";
    default:
      return nullptr;
  }
}

inline std::string hex_magic(const unsigned char* p) {
  static const char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 0; i < 4; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

/// Parses the header of an IDX array of unsigned bytes and rank `rank` (3 for images, 1 for
/// labels) from its first `available` bytes. Needs 4 bytes to check the magic number and
/// 4 + 4 * rank for the extents; fewer throw "truncated". `what` is "images" or "labels".
inline Header parse_header(const unsigned char* p, std::size_t available, unsigned rank,
                           const char* what, const char* fn, const std::string& where) {
  if (available < 4) {
    fail_at(fn, where,
            "truncated: an IDX file starts with a 4-byte magic number, there are " +
                std::to_string(available) + " bytes");
  }
  if (p[0] == 0x1f && p[1] == 0x8b) {
    fail_at(fn, where,
            "is gzip-compressed (it starts with 1f 8b); decompress it first (gunzip, or zlib's "
            "gzread)");
  }
  if (p[0] != 0 || p[1] != 0) {
    fail_at(fn, where,
            "not an IDX file (magic number " + hex_magic(p) + "; IDX starts with two zero bytes)");
  }
  const std::string expected = rank == 3 ? "0x00000803 (unsigned-byte images: N, rows, cols)"
                                         : "0x00000801 (unsigned-byte labels: N)";
  if (p[2] != 0x08) {
    const char* name = type_name(p[2]);
    fail_at(fn, where,
            "holds " + (name != nullptr ? std::string(name) : "an unknown data type") +
                " (magic number " + hex_magic(p) + "); " + what + " need " + expected);
  }
  if (p[3] != rank) {
    fail_at(fn, where,
            "holds a " + std::to_string(p[3]) + "-dimensional array (magic number " + hex_magic(p) +
                "); " + what + " need " + expected);
  }
  Header h;
  h.header_size = 4 + 4 * std::size_t{rank};
  if (available < h.header_size) {
    fail_at(fn, where,
            "truncated: the header of " + std::string(what) + " has " +
                std::to_string(h.header_size) + " bytes, there are " + std::to_string(available));
  }
  for (unsigned d = 0; d < rank; ++d) h.dims[d] = load_be32(p + 4 + std::size_t{4} * d);
  if (rank == 3 && (h.dims[1] == 0 || h.dims[2] == 0)) {
    // Images without pixels have no data for the size check to bound N by; with a huge N not
    // even an empty Tensor could hold them (found by idx_fuzz).
    fail_at(fn, where,
            "holds images of " + std::to_string(h.dims[1]) + "x" + std::to_string(h.dims[2]) +
                " pixels; images need at least one row and one column");
  }
  h.items = h.dims[0];
  h.item_bytes = 1;
  for (unsigned d = 1; d < rank; ++d) h.item_bytes *= h.dims[d];  // < 2^64: two 32-bit extents
  if (h.item_bytes != 0 && h.items > std::numeric_limits<std::uint64_t>::max() / h.item_bytes) {
    fail_at(fn, where, "the extents' product overflows");
  }
  h.data_bytes = h.items * h.item_bytes;
  return h;
}

/// "60000 images of 28x28" / "60000 labels", for messages.
inline std::string describe(const Header& h, unsigned rank) {
  std::string s = std::to_string(h.items) + (rank == 3 ? " images" : " labels");
  if (rank == 3) s += " of " + std::to_string(h.dims[1]) + "x" + std::to_string(h.dims[2]);
  return s;
}

/// Checks that `data_available` bytes after the header are exactly what it says.
inline void check_data_size(const Header& h, unsigned rank, std::uint64_t data_available,
                            const char* fn, const std::string& where) {
  if (data_available != h.data_bytes) {
    fail_at(fn, where,
            std::string(data_available < h.data_bytes ? "truncated"
                                                      : "unexpected bytes after the data") +
                ": " + describe(h, rank) + " need " + std::to_string(h.data_bytes) +
                " data bytes, there are " + std::to_string(data_available));
  }
}

inline void check_max_items(Index max_items, const char* fn) {
  if (max_items < 0) {
    detail::fail(fn, "max_items must be non-negative, got " + std::to_string(max_items));
  }
}

/// The number of items to decode: all, or the first `max_items` (checked non-negative).
inline std::uint64_t items_to_read(const Header& h, Index max_items) {
  return std::min<std::uint64_t>(h.items, static_cast<std::uint64_t>(max_items));
}

/// Parses a whole IDX file held in `bytes`, checking its size; returns the header and the
/// number of items to decode.
inline Header parse_buffer(std::string_view bytes, unsigned rank, const char* what, const char* fn,
                           const std::string& where) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const Header h = parse_header(p, bytes.size(), rank, what, fn, where);
  check_data_size(h, rank, bytes.size() - h.header_size, fn, where);
  return h;
}

/// An IDX file read from a stream: its header, and the data of the items to decode.
struct StreamData {
  Header header;
  std::uint64_t count = 0;  ///< items to decode
  std::string data;         ///< their bytes: count * header.item_bytes
};

/// Reads an IDX file from `in`: the header, then the data of the first `max_items` items into
/// memory (appended as bytes arrive, so a header claiming more than the stream holds allocates
/// no more than the stream delivered), then skips the rest of the data and checks that nothing
/// follows it (reading to the end of the stream).
inline StreamData read_stream(std::istream& in, unsigned rank, const char* what, Index max_items,
                              const char* fn, const std::string& where) {
  unsigned char header[16] = {};
  in.read(reinterpret_cast<char*>(header), 4);
  auto got = static_cast<std::size_t>(in.gcount());
  if (got == 4 && header[3] == rank) {
    in.read(reinterpret_cast<char*>(header) + 4, static_cast<std::streamsize>(4) * rank);
    got += static_cast<std::size_t>(in.gcount());
  }
  StreamData result;
  const Header& h = result.header = parse_header(header, got, rank, what, fn, where);
  result.count = items_to_read(h, max_items);
  const std::uint64_t wanted = result.count * h.item_bytes;
  constexpr std::size_t kChunk = 1 << 16;
  std::vector<char> chunk(kChunk);
  std::uint64_t have = 0;
  while (have < h.data_bytes) {
    const auto n =
        static_cast<std::streamsize>(std::min<std::uint64_t>(kChunk, h.data_bytes - have));
    in.read(chunk.data(), n);
    const auto arrived = static_cast<std::uint64_t>(in.gcount());
    if (have < wanted) {
      result.data.append(chunk.data(), static_cast<std::size_t>(std::min(arrived, wanted - have)));
    }
    have += arrived;
    if (arrived < static_cast<std::uint64_t>(n)) break;
  }
  if (have < h.data_bytes) check_data_size(h, rank, have, fn, where);
  std::uint64_t extra = 0;  // counted, so that the message is the one for bytes
  while (in.peek() != std::istream::traits_type::eof()) {
    in.read(chunk.data(), static_cast<std::streamsize>(kChunk));
    extra += static_cast<std::uint64_t>(in.gcount());
  }
  if (extra != 0) check_data_size(h, rank, h.data_bytes + extra, fn, where);
  return result;
}

/// `count` images of rows x cols unsigned bytes at `p`, as (count, 1, rows, cols) in [0, 1].
template <class S>
Tensor<S> decode_images(const unsigned char* p, const Header& h, std::uint64_t count) {
  std::array<S, 256> scale{};
  for (int v = 0; v < 256; ++v) scale[v] = static_cast<S>(v) / static_cast<S>(255);
  Tensor<S> images = uninitialized_tensor<S>(  // every element is written below
      Shape4{static_cast<Index>(count), 1, static_cast<Index>(h.dims[1]),
             static_cast<Index>(h.dims[2])});
  S* out = images.data();
  const auto n = static_cast<std::size_t>(images.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = scale[p[i]];
  return images;
}

inline std::vector<Index> decode_labels(const unsigned char* p, std::uint64_t count) {
  return std::vector<Index>(p, p + count);
}

inline std::string quoted(const std::string& name) { return "'" + name + "'"; }

}  // namespace idx
}  // namespace detail

/// Reads IDX images (magic `0x00000803`: N images of rows x cols unsigned bytes, as MNIST's
/// `*-images-idx3-ubyte`) from the file's bytes into a tensor (k, 1, rows, cols), each byte v
/// becoming v / 255 in [0, 1] (as torchvision's `ToTensor`), for k = min(N, max_items): the first
/// k images. `name` names the data in messages (e.g. its path).
/// @throws io_error if `bytes` is not exactly such a file (see `io/idx.hpp`);
///   shape_error if `max_items` is negative.
template <class S>
Tensor<S> read_idx_images(std::string_view bytes, Index max_items = kAllItems,
                          const std::string& name = "IDX images") {
  constexpr const char* fn = "read_idx_images";
  detail::idx::check_max_items(max_items, fn);
  const detail::idx::Header h =
      detail::idx::parse_buffer(bytes, 3, "images", fn, detail::idx::quoted(name));
  return detail::idx::decode_images<S>(
      reinterpret_cast<const unsigned char*>(bytes.data()) + h.header_size, h,
      detail::idx::items_to_read(h, max_items));
}

/// Reads IDX images from a stream (e.g. an `std::ifstream` opened in binary mode), as
/// `read_idx_images(bytes, ...)` does: the stream must hold exactly one such file from its
/// current position to its end. It is read to the end; the bytes of the first k images are held
/// once in memory while they are converted.
/// @throws io_error if the stream is not exactly such a file; shape_error if `max_items` is
///   negative.
template <class S>
Tensor<S> read_idx_images(std::istream& in, Index max_items = kAllItems,
                          const std::string& name = "IDX images") {
  constexpr const char* fn = "read_idx_images";
  detail::idx::check_max_items(max_items, fn);
  const detail::idx::StreamData read =
      detail::idx::read_stream(in, 3, "images", max_items, fn, detail::idx::quoted(name));
  return detail::idx::decode_images<S>(reinterpret_cast<const unsigned char*>(read.data.data()),
                                       read.header, read.count);
}

/// Reads IDX labels (magic `0x00000801`: N unsigned bytes, as MNIST's `*-labels-idx1-ubyte`)
/// from the file's bytes: the first k = min(N, max_items) labels as class indices 0..255.
/// `name` names the data in messages.
/// @throws io_error if `bytes` is not exactly such a file; shape_error if `max_items` is
///   negative.
inline std::vector<Index> read_idx_labels(std::string_view bytes, Index max_items = kAllItems,
                                          const std::string& name = "IDX labels") {
  constexpr const char* fn = "read_idx_labels";
  detail::idx::check_max_items(max_items, fn);
  const detail::idx::Header h =
      detail::idx::parse_buffer(bytes, 1, "labels", fn, detail::idx::quoted(name));
  return detail::idx::decode_labels(
      reinterpret_cast<const unsigned char*>(bytes.data()) + h.header_size,
      detail::idx::items_to_read(h, max_items));
}

/// Reads IDX labels from a stream holding exactly one such file from its current position to
/// its end, as `read_idx_labels(bytes, ...)` does.
/// @throws io_error if the stream is not exactly such a file; shape_error if `max_items` is
///   negative.
inline std::vector<Index> read_idx_labels(std::istream& in, Index max_items = kAllItems,
                                          const std::string& name = "IDX labels") {
  constexpr const char* fn = "read_idx_labels";
  detail::idx::check_max_items(max_items, fn);
  const detail::idx::StreamData read =
      detail::idx::read_stream(in, 1, "labels", max_items, fn, detail::idx::quoted(name));
  return detail::idx::decode_labels(reinterpret_cast<const unsigned char*>(read.data.data()),
                                    read.count);
}

/// Reads a labeled data set from the bytes of an IDX images file and an IDX labels file (as
/// `read_idx_images` and `read_idx_labels`), checking that both hold the same number of
/// examples N before decoding either; keeps the first min(N, max_items) examples.
/// @throws io_error if either is not exactly such a file or their N differ (the message names
///   both and their counts); shape_error if `max_items` is negative.
template <class S>
LabeledImages<S> read_idx(std::string_view images, std::string_view labels,
                          Index max_items = kAllItems,
                          const std::string& images_name = "IDX images",
                          const std::string& labels_name = "IDX labels") {
  constexpr const char* fn = "read_idx";
  detail::idx::check_max_items(max_items, fn);
  const std::string images_where = detail::idx::quoted(images_name);
  const std::string labels_where = detail::idx::quoted(labels_name);
  const detail::idx::Header hi = detail::idx::parse_buffer(images, 3, "images", fn, images_where);
  const detail::idx::Header hl = detail::idx::parse_buffer(labels, 1, "labels", fn, labels_where);
  if (hi.items != hl.items) {
    detail::fail_at(
        fn, images_where + " and " + labels_where,
        "do not match: " + detail::idx::describe(hi, 3) + " but " + detail::idx::describe(hl, 1));
  }
  const std::uint64_t count = detail::idx::items_to_read(hi, max_items);
  LabeledImages<S> data;
  data.images = detail::idx::decode_images<S>(
      reinterpret_cast<const unsigned char*>(images.data()) + hi.header_size, hi, count);
  data.labels = detail::idx::decode_labels(
      reinterpret_cast<const unsigned char*>(labels.data()) + hl.header_size, count);
  return data;
}

}  // namespace convtape
