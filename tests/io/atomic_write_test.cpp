// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// save_npy, save_npz and save_parameters replace a file atomically: a write that fails leaves the
// previous file byte for byte, and no temporary file behind.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "convtape/io/npy.hpp"
#include "convtape/io/npz.hpp"
#include "convtape/io/parameters.hpp"
#include "convtape/nn/conv2d.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#include <sys/resource.h>
#define CONVTAPE_TEST_RLIMIT 1
#endif

namespace {

using convtape::Conv2D;
using convtape::io_error;
using convtape::Tensor;
using support::error_message;
using support::read_bytes;
using support::TempDir;
using support::write_bytes;

/// The names of the files in the directory `dir`.
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// One saving function under test, writing something large (a few MB) to `path`.
struct Saver {
  const char* name;
  std::function<void(const std::string&)> save;
  const char* target;  ///< the file it writes, relative to the path it is given
};

std::vector<Saver> savers() {
  const Tensor<double> big(1, 4, 256, 256);  // 2 MiB of float64
  return {
      {"save_npy", [big](const std::string& p) { convtape::save_npy(p, big); }, ""},
      {"save_npz",
       [big](const std::string& p) {
         convtape::save_npz<double>(p, {{"a", big}, {"b", big}});
       },
       ""},
      {"save_parameters",
       [](const std::string& p) { convtape::save_parameters(p, Conv2D<double>(64, 64, 11)); },
       "weight.npy"},
  };
}

#ifdef CONVTAPE_TEST_RLIMIT
/// Limits the size of files this process writes to `bytes` while it lives (writes beyond fail
/// with EFBIG instead of raising SIGXFSZ), as a full disk would.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit limit = old_;
    limit.rlim_cur = bytes;
    ok_ = setrlimit(RLIMIT_FSIZE, &limit) == 0;
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  bool ok() const { return ok_; }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
  bool ok_ = false;
};

TEST_CASE("A save that fails midway leaves the previous file byte for byte", "[io][atomic]") {
  for (const Saver& saver : savers()) {
    INFO(saver.name);
    TempDir dir;
    const std::string prefix = dir.file("model");
    const std::string target = prefix + saver.target;
    const std::string previous = "the previous model, which must survive\n";
    write_bytes(target, previous);
    const std::vector<std::string> before = listing(dir.file(""));
    {
      const FileSizeLimit limit(64 * 1024);  // the new file fails at 64 KiB
      REQUIRE(limit.ok());
      CHECK_THAT(error_message<io_error>([&] { saver.save(prefix); }),
                 Contains(saver.name) && Contains("write failed") && Contains("unchanged"));
    }
    CHECK(read_bytes(target) == previous);
    CHECK(listing(dir.file("")) == before);  // no temporary left behind
  }
}
#endif

TEST_CASE("A directory in the way throws and leaves everything as it was", "[io][atomic]") {
  for (const Saver& saver : savers()) {
    INFO(saver.name);
    TempDir dir;
    const std::string prefix = dir.file("model");
    std::filesystem::create_directory(prefix + saver.target);
    write_bytes(prefix + saver.target + "/inside", "x");
    CHECK_THAT(error_message<io_error>([&] { saver.save(prefix); }),
               Contains(saver.name) && Contains("cannot replace"));
    CHECK(read_bytes(prefix + saver.target + "/inside") == "x");
    CHECK(listing(dir.file("")) == std::vector<std::string>{"model" + std::string(saver.target)});
  }
}

TEST_CASE("A save into a missing directory throws io_error naming the path", "[io][atomic]") {
  TempDir dir;
  for (const Saver& saver : savers()) {
    CHECK_THAT(
        error_message<io_error>([&] { saver.save(dir.file("missing/model")); }),
        Contains(saver.name) && Contains("missing/model") && Contains("cannot open for writing"));
  }
}

TEST_CASE("A successful save replaces the file and leaves no temporary", "[io][atomic]") {
  for (const Saver& saver : savers()) {
    INFO(saver.name);
    TempDir dir;
    const std::string prefix = dir.file("model");
    write_bytes(prefix + saver.target, "old");
    saver.save(prefix);
    CHECK(read_bytes(prefix + saver.target).size() > 1000);
    for (const std::string& name : listing(dir.file(""))) {
      CHECK(name.find(".tmp-") == std::string::npos);
    }
  }
}

}  // namespace
