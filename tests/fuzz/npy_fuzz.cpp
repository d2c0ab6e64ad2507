// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors

// libFuzzer target over the .npy loader: the input bytes are a file, loaded as a float tensor, a
// double tensor and a double matrix. Each load must return or throw `io_error` or `shape_error`;
// anything else (another exception, a crash, a sanitizer report) aborts. A loaded array must
// have as many elements as its shape says.
//
// The loader takes paths, so each input is written to one file reused across runs, in
// $CONVTAPE_FUZZ_TMPDIR (default /dev/shm if it exists, else /tmp), named by the process id.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "convtape/io/npy.hpp"

namespace {

[[noreturn]] void die(const char* what, const char* detail) {
  std::fprintf(stderr, "npy_fuzz: %s: %s\n", what, detail);
  std::abort();
}

const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("CONVTAPE_FUZZ_TMPDIR");
    std::string d = dir != nullptr ? dir : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    return d + "/convtape_npy_fuzz_" + std::to_string(getpid()) + ".npy";
  }();
  return path;
}

template <class F>
void expect_returns_or_throws(const char* what, F&& f) {
  try {
    f();
  } catch (const convtape::io_error&) {
  } catch (const convtape::shape_error&) {
  } catch (const std::exception& e) {
    die(what, e.what());
  } catch (...) {
    die(what, "threw something that is not a std::exception");
  }
}

template <class T>
void check_tensor(const T& t) {
  const auto& s = t.shape();
  if (t.size() != s[0] * s[1] * s[2] * s[3]) die("load_npy", "size differs from the shape");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch_path();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) die("fopen", path.c_str());
  if (size != 0 && std::fwrite(data, 1, size, f) != size) die("fwrite", path.c_str());
  std::fclose(f);
  expect_returns_or_throws("load_npy<float>",
                           [&] { check_tensor(convtape::load_npy<float>(path)); });
  expect_returns_or_throws("load_npy<double>",
                           [&] { check_tensor(convtape::load_npy<double>(path)); });
  expect_returns_or_throws("load_npy_matrix<double>", [&] {
    const auto m = convtape::load_npy_matrix<double>(path);
    if (m.size() != m.rows() * m.cols()) die("load_npy_matrix", "size differs from the shape");
  });
  return 0;
}
