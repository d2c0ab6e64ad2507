// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors

// libFuzzer target over the .npz loader: the input bytes are a file, loaded as float and as
// double arrays. Each load must return or throw `io_error` or `shape_error`; anything else
// (another exception, a crash, a sanitizer report) aborts. Oracles: a loaded array's numpy shape
// has at most 4 extents whose product is its tensor's size; a float load succeeds only if the
// double load does, with the same values widened; and what loads saves and loads back unchanged.
//
// The loader takes paths, so each input is written to one file reused across runs, in
// $CONVTAPE_FUZZ_TMPDIR (default /dev/shm if it exists, else /tmp), named by the process id.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "convtape/io/npz.hpp"

namespace {

using convtape::Index;
using convtape::NamedArray;

[[noreturn]] void die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "npz_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

const std::string& scratch(const char* suffix) {
  static const std::string dir = [] {
    const char* d = std::getenv("CONVTAPE_FUZZ_TMPDIR");
    return std::string(d != nullptr ? d : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")) +
           "/convtape_npz_fuzz_" + std::to_string(getpid());
  }();
  static std::string in = dir + "_in.npz", out = dir + "_out.npz";
  return suffix[0] == 'i' ? in : out;
}

template <class S>
std::optional<std::vector<NamedArray<S>>> load(const std::string& path) {
  try {
    return convtape::load_npz<S>(path);
  } catch (const convtape::io_error&) {
  } catch (const convtape::shape_error&) {
  } catch (const std::exception& e) {
    die("load_npz", e.what());
  } catch (...) {
    die("load_npz", "threw something that is not a std::exception");
  }
  return std::nullopt;
}

template <class S>
void check_shapes(const std::vector<NamedArray<S>>& arrays) {
  for (const NamedArray<S>& a : arrays) {
    Index count = 1;
    for (Index e : a.shape) count *= e;
    if (a.shape.size() > 4 || count != a.value.size()) die("load_npz", "shape and tensor differ");
  }
}

template <class S, class T>
bool same(const std::vector<NamedArray<S>>& a, const std::vector<NamedArray<T>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].shape != b[i].shape ||
        a[i].value.shape() != b[i].value.shape()) {
      return false;
    }
    for (Index k = 0; k < a[i].value.size(); ++k) {
      const double x = a[i].value.data()[k], y = b[i].value.data()[k];
      if (!(x == y || (x != x && y != y))) return false;  // NaN loads as NaN
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch("in");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) die("fopen", path);
  if (size != 0 && std::fwrite(data, 1, size, f) != size) die("fwrite", path);
  std::fclose(f);

  const auto wide = load<double>(path);
  const auto narrow = load<float>(path);
  if (narrow && !wide) die("load_npz", "float loads a file double refuses");
  if (narrow && !same(*narrow, *wide)) die("load_npz", "float and double loads differ");
  if (!wide) return 0;
  check_shapes(*wide);

  // What loads saves and loads back unchanged (names, shapes, values).
  try {
    convtape::save_npz(scratch("out"), *wide);
  } catch (const convtape::shape_error&) {
    // Names save_npz refuses but a zip may hold (empty, NUL bytes, repeated).
    return 0;
  } catch (const std::exception& e) {
    die("save_npz", e.what());
  }
  const auto again = load<double>(scratch("out"));
  if (!again || !same(*again, *wide)) die("save_npz", "the round trip changed the arrays");
  return 0;
}
