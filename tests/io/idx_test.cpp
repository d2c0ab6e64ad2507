// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/io/idx.hpp"

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"

namespace {

using convtape::Index;
using convtape::io_error;
using convtape::LabeledImages;
using convtape::read_idx;
using convtape::read_idx_images;
using convtape::read_idx_labels;
using convtape::Shape4;
using convtape::shape_error;
using convtape::Tensor;
using support::error_message;

/// An IDX file written byte by byte: magic 00 00 `type` `extents.size()`, each extent as four
/// big-endian bytes, then `data`.
std::string idx_file(unsigned char type, const std::vector<std::uint32_t>& extents,
                     const std::string& data) {
  std::string bytes = {'\0', '\0', static_cast<char>(type), static_cast<char>(extents.size())};
  for (std::uint32_t e : extents) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((e >> shift) & 0xff);
  }
  return bytes + data;
}

std::string bytes_of(const std::vector<int>& values) {
  std::string s;
  for (int v : values) s += static_cast<char>(v);
  return s;
}

// Two 2x3 images and their labels, by hand: pixel bytes 0..255 with both ends.
const std::vector<int> kPixels = {0,  255, 1,   128, 51, 254,  // image 0
                                  17, 0,   255, 200, 3,  99};  // image 1
const std::string kImages = idx_file(0x08, {2, 2, 3}, bytes_of(kPixels));
const std::string kLabels = idx_file(0x08, {2}, bytes_of({7, 0}));

template <class S>
void check_pixels(const Tensor<S>& t, Index count) {
  REQUIRE(t.shape() == Shape4{count, 1, 2, 3});
  for (Index i = 0; i < t.size(); ++i) {
    CHECK_THAT(double(t.data()[i]), WithinRel(kPixels[i] / 255.0, 1e-7));
  }
}

TEST_CASE("read_idx_images gives (N, 1, rows, cols) with each byte v as v / 255", "[io][idx]") {
  SECTION("float") {
    const Tensor<float> t = read_idx_images<float>(kImages);
    check_pixels(t, 2);
    CHECK(t(0, 0, 0, 0) == 0.0f);  // the ends are exact
    CHECK(t(0, 0, 0, 1) == 1.0f);
    CHECK(t(1, 0, 0, 2) == 1.0f);
    CHECK(t(0, 0, 1, 1) == 0.2f);  // 51 / 255, correctly rounded
  }
  SECTION("double") {
    const Tensor<double> t = read_idx_images<double>(kImages);
    check_pixels(t, 2);
    CHECK(t(1, 0, 1, 0) == 200.0 / 255.0);
  }
  SECTION("from a stream, the same") {
    std::istringstream in(kImages);
    check_pixels(read_idx_images<float>(in), 2);
  }
}

TEST_CASE("read_idx_labels gives the label bytes as class indices", "[io][idx]") {
  const std::string labels = idx_file(0x08, {5}, bytes_of({9, 0, 255, 3, 3}));
  const std::vector<Index> want = {9, 0, 255, 3, 3};
  CHECK(read_idx_labels(labels) == want);
  std::istringstream in(labels);
  CHECK(read_idx_labels(in) == want);
  CHECK(read_idx_labels(idx_file(0x08, {0}, "")).empty());
}

TEST_CASE("max_items keeps the first items and still checks the whole file", "[io][idx]") {
  const std::string labels = idx_file(0x08, {4}, bytes_of({1, 2, 3, 4}));
  SECTION("from bytes") {
    check_pixels(read_idx_images<double>(kImages, 1), 1);
    check_pixels(read_idx_images<double>(kImages, 0), 0);
    check_pixels(read_idx_images<double>(kImages, 5), 2);
    CHECK(read_idx_labels(labels, 3) == std::vector<Index>{1, 2, 3});
    CHECK(read_idx_labels(labels, 0).empty());
    // A truncated file is refused even when the items asked for are all there.
    CHECK_THAT(error_message<io_error>(
                   [&] { read_idx_images<double>(kImages.substr(0, kImages.size() - 1), 1); }),
               Contains("truncated"));
  }
  SECTION("from a stream") {
    std::istringstream images_in(kImages);
    check_pixels(read_idx_images<double>(images_in, 1), 1);
    std::istringstream labels_in(labels);
    CHECK(read_idx_labels(labels_in, 2) == std::vector<Index>{1, 2});
    std::istringstream truncated(kImages.substr(0, kImages.size() - 1));
    CHECK_THAT(error_message<io_error>([&] { read_idx_images<double>(truncated, 1); }),
               Contains("truncated"));
  }
  SECTION("negative max_items is the caller's error") {
    CHECK_THAT(support::shape_error_message([&] { read_idx_images<float>(kImages, -1); }),
               Contains("read_idx_images") && Contains("max_items") && Contains("-1"));
    CHECK_THROWS_AS(read_idx_labels(labels, -2), shape_error);
    CHECK_THROWS_AS(read_idx<float>(kImages, kLabels, -1), shape_error);
  }
}

TEST_CASE("read_idx pairs images with labels and refuses files of different N", "[io][idx]") {
  const LabeledImages<float> data = read_idx<float>(kImages, kLabels);
  CHECK(data.size() == 2);
  check_pixels(data.images, 2);
  CHECK(data.labels == std::vector<Index>{7, 0});

  const LabeledImages<double> first = read_idx<double>(kImages, kLabels, 1);
  check_pixels(first.images, 1);
  CHECK(first.labels == std::vector<Index>{7});

  const std::string three_labels = idx_file(0x08, {3}, bytes_of({1, 2, 3}));
  CHECK_THAT(error_message<io_error>([&] {
               read_idx<float>(kImages, three_labels, convtape::kAllItems, "train-images",
                               "t10k-labels");
             }),
             Contains("read_idx") && Contains("'train-images'") && Contains("'t10k-labels'") &&
                 Contains("2 images of 2x3") && Contains("3 labels"));
  // Each file is checked as read_idx_images / read_idx_labels check it.
  CHECK_THAT(error_message<io_error>([&] { read_idx<float>(kLabels, kImages); }),
             Contains("0x00000803"));
}

TEST_CASE("Every truncation of a valid IDX file throws io_error", "[io][idx][errors]") {
  for (const bool images : {true, false}) {
    const std::string& file = images ? kImages : kLabels;
    for (std::size_t length = 0; length < file.size(); ++length) {
      INFO((images ? "images" : "labels")
           << " file cut to " << length << " of " << file.size() << " bytes");
      const std::string cut = file.substr(0, length);
      const auto read_bytes = [&] {
        images ? (void)read_idx_images<float>(cut, convtape::kAllItems, "cut.idx")
               : (void)read_idx_labels(cut, convtape::kAllItems, "cut.idx");
      };
      CHECK_THAT(error_message<io_error>(read_bytes),
                 Contains("'cut.idx'") && Contains("truncated"));
      std::istringstream in(cut);
      const auto read_stream = [&] {
        images ? (void)read_idx_images<float>(in, convtape::kAllItems, "cut.idx")
               : (void)read_idx_labels(in, convtape::kAllItems, "cut.idx");
      };
      CHECK_THAT(error_message<io_error>(read_stream), Contains("truncated"));
    }
  }
}

TEST_CASE("Malformed IDX files throw io_error naming the problem", "[io][idx][errors]") {
  const auto images_error = [](const std::string& bytes) {
    const std::string from_bytes =
        error_message<io_error>([&] { read_idx_images<float>(bytes, convtape::kAllItems, "x"); });
    std::istringstream in(bytes);
    const std::string from_stream =
        error_message<io_error>([&] { read_idx_images<float>(in, convtape::kAllItems, "x"); });
    CHECK(from_stream == from_bytes);  // the same checks and messages either way
    return from_bytes;
  };
  SECTION("bytes after the data") {
    CHECK_THAT(images_error(kImages + "x"), Contains("unexpected bytes after the data"));
    CHECK_THAT(error_message<io_error>([&] { read_idx_labels(kLabels + "xyz"); }),
               Contains("unexpected bytes after the data"));
  }
  SECTION("not an IDX file") {
    CHECK_THAT(images_error("P5\n2 3\n255\n" + bytes_of(kPixels)),
               Contains("read_idx_images: 'x': not an IDX file") && Contains("0x50350a32"));
  }
  SECTION("still gzip-compressed") {
    CHECK_THAT(images_error(bytes_of({0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3})),
               Contains("gzip-compressed") && Contains("decompress"));
  }
  SECTION("another data type") {
    CHECK_THAT(
        images_error(idx_file(0x0D, {1, 1, 1}, std::string(4, '\0'))),
        Contains("32-bit floats (0x0D)") && Contains("0x00000d03") && Contains("0x00000803"));
    CHECK_THAT(images_error(idx_file(0x42, {1, 1, 1}, "a")), Contains("unknown data type"));
  }
  SECTION("another rank: a labels file read as images, and the reverse") {
    CHECK_THAT(images_error(kLabels), Contains("1-dimensional") && Contains("0x00000801") &&
                                          Contains("images need 0x00000803"));
    CHECK_THAT(error_message<io_error>([&] { read_idx_labels(kImages); }),
               Contains("read_idx_labels") && Contains("3-dimensional") &&
                   Contains("labels need 0x00000801"));
    CHECK_THAT(images_error(idx_file(0x08, {1, 1, 1, 1}, "a")), Contains("4-dimensional"));
  }
  SECTION("extents that do not match the size") {
    CHECK_THAT(images_error(idx_file(0x08, {3, 2, 3}, bytes_of(kPixels))),
               Contains("truncated: 3 images of 2x3 need 18 data bytes, there are 12"));
    CHECK_THAT(images_error(idx_file(0x08, {2, 3, 2}, bytes_of(kPixels) + "abc")),
               Contains("unexpected bytes after the data: 2 images of 3x2"));
  }
}

TEST_CASE("Absurd IDX extents throw before anything is allocated", "[io][idx][errors]") {
  // 2^31 images of 28x28 claimed by a 100-byte buffer: allocating first would ask for 6.7 TB
  // (bad_alloc, not io_error, or worse).
  const std::string huge = idx_file(0x08, {1u << 31, 28, 28}, std::string(84, '\7'));
  REQUIRE(huge.size() == 100);
  CHECK_THAT(error_message<io_error>([&] { read_idx_images<float>(huge); }),
             Contains("truncated: 2147483648 images of 28x28 need 1683627180032 data bytes"));
  std::istringstream in(huge);
  CHECK_THROWS_AS(read_idx_images<float>(in), io_error);
  CHECK_THROWS_AS(read_idx_images<float>(huge, 1), io_error);  // even for the first image
  // Extents whose product overflows 64 bits.
  const std::uint32_t max = std::numeric_limits<std::uint32_t>::max();
  CHECK_THAT(error_message<io_error>([&] {
               read_idx_images<float>(idx_file(0x08, {max, max, max}, ""));
             }),
             Contains("overflows"));
  CHECK_THAT(error_message<io_error>([&] { read_idx_labels(idx_file(0x08, {max}, "abc")); }),
             Contains("truncated"));
}

TEST_CASE("Empty IDX files load as empty tensors and label lists", "[io][idx]") {
  CHECK(read_idx_images<float>(idx_file(0x08, {0, 28, 28}, "")).shape() == Shape4{0, 1, 28, 28});
  std::istringstream in(idx_file(0x08, {0, 28, 28}, ""));
  CHECK(read_idx_images<float>(in).shape() == Shape4{0, 1, 28, 28});
  CHECK(read_idx_labels(idx_file(0x08, {0}, "")).empty());
}

// Found by idx_fuzz: images of 0 columns need no data bytes, so (4278190080, 4127195141, 0) passed
// the size check and the Tensor constructor threw shape_error for its element count.
TEST_CASE("IDX images of 0 rows or columns are refused as data errors", "[io][idx][regression]") {
  const std::string fuzzed = idx_file(0x08, {4278190080u, 4127195141u, 0}, "");
  CHECK_THAT(error_message<io_error>([&] { read_idx_images<float>(fuzzed); }),
             Contains("images of 4127195141x0 pixels"));
  std::istringstream in(fuzzed);
  CHECK_THROWS_AS(read_idx_images<float>(in), io_error);
  CHECK_THROWS_AS(read_idx_images<float>(idx_file(0x08, {5, 0, 3}, "")), io_error);
  CHECK_THROWS_AS(read_idx_images<float>(idx_file(0x08, {0, 3, 0}, "")), io_error);
}

}  // namespace
