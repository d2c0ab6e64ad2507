// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors

// libFuzzer target over the IDX readers: the input bytes are a file, read as images and as labels,
// from bytes and from a stream, whole and limited to the first k items, and split in two as an
// (images, labels) pair. Each read must return or throw `io_error`; anything else (another
// exception, a crash, a sanitizer report) aborts. Oracles: the stream form returns what the
// bytes form returns, or throws the same message; a limited read is the prefix of the whole one
// (or throws when it throws); pixels lie in [0, 1] and labels in [0, 255].

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "convtape/io/idx.hpp"

namespace {

using convtape::Index;

[[noreturn]] void die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "idx_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

/// The value `read()` returns, or the message of the io_error it throws.
template <class T>
struct Outcome {
  std::optional<T> value;
  std::string error;
};

template <class T, class F>
Outcome<T> outcome(const char* what, F&& read) {
  try {
    return {read(), ""};
  } catch (const convtape::io_error& e) {
    return {std::nullopt, e.what()};
  } catch (const std::exception& e) {
    die(what, e.what());
  } catch (...) {
    die(what, "threw something that is not a std::exception");
  }
}

bool same(const convtape::Tensor<float>& a, const convtape::Tensor<float>& b) {
  return a.shape() == b.shape() && a.flat() == b.flat();
}
bool same(const std::vector<Index>& a, const std::vector<Index>& b) { return a == b; }

template <class T>
void check_same(const char* what, const Outcome<T>& a, const Outcome<T>& b) {
  if (a.value.has_value() != b.value.has_value() || a.error != b.error ||
      (a.value && !same(*a.value, *b.value))) {
    die(what, "the stream and bytes forms differ: '" + a.error + "' vs '" + b.error + "'");
  }
}

void check_images(const convtape::Tensor<float>& t) {
  const auto& s = t.shape();
  if (s[1] != 1 || t.size() != s[0] * s[2] * s[3]) die("read_idx_images", "bad shape");
  for (Index i = 0; i < t.size(); ++i) {
    if (!(t.data()[i] >= 0.0f && t.data()[i] <= 1.0f))
      die("read_idx_images", "pixel outside [0, 1]");
  }
}

void check_labels(const std::vector<Index>& labels) {
  for (Index l : labels) {
    if (l < 0 || l > 255) die("read_idx_labels", "label outside [0, 255]");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Index limit = size > 0 ? data[size - 1] % 4 : 0;  // also read the first 0..3 items

  for (const Index max_items : {convtape::kAllItems, limit}) {
    const auto images = outcome<convtape::Tensor<float>>(
        "read_idx_images", [&] { return convtape::read_idx_images<float>(bytes, max_items); });
    std::istringstream images_in{std::string(bytes)};
    check_same("read_idx_images", images, outcome<convtape::Tensor<float>>("read_idx_images", [&] {
                 return convtape::read_idx_images<float>(images_in, max_items);
               }));
    if (images.value) check_images(*images.value);

    const auto labels = outcome<std::vector<Index>>(
        "read_idx_labels", [&] { return convtape::read_idx_labels(bytes, max_items); });
    std::istringstream labels_in{std::string(bytes)};
    check_same("read_idx_labels", labels, outcome<std::vector<Index>>("read_idx_labels", [&] {
                 return convtape::read_idx_labels(labels_in, max_items);
               }));
    if (labels.value) check_labels(*labels.value);
  }

  // A limited read is the prefix of the whole read.
  const auto whole = outcome<std::vector<Index>>("read_idx_labels",
                                                 [&] { return convtape::read_idx_labels(bytes); });
  const auto first = outcome<std::vector<Index>>(
      "read_idx_labels", [&] { return convtape::read_idx_labels(bytes, limit); });
  if (whole.value.has_value() != first.value.has_value() ||
      (whole.value &&
       std::vector<Index>(whole.value->begin(),
                          whole.value->begin() + std::min<Index>(limit, whole.value->size())) !=
           *first.value)) {
    die("read_idx_labels", "max_items is not a prefix of the whole read");
  }

  // As an (images, labels) pair: bytes [1, split) and [split, size), the first byte choosing.
  if (size >= 2) {
    const std::size_t split = 1 + data[0] % (size - 1);
    const auto pair = outcome<convtape::LabeledImages<float>>("read_idx", [&] {
      return convtape::read_idx<float>(bytes.substr(1, split - 1), bytes.substr(split), limit);
    });
    if (pair.value) {
      check_images(pair.value->images);
      check_labels(pair.value->labels);
      if (pair.value->size() != static_cast<Index>(pair.value->labels.size())) {
        die("read_idx", "images and labels differ in number");
      }
    }
  }
  return 0;
}
