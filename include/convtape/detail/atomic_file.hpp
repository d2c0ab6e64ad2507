// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Atomic replacement of a file: write everything to a fresh temporary file beside the target,
// then rename it over the target. A write that fails (full disk, file size limit, an exception
// between two writes) removes the temporary and leaves the previous file as it was. Not for
// direct inclusion.

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

#include "convtape/io/error.hpp"

namespace convtape::detail {

/// A temporary file `<path>.tmp-<16 hex digits>` in the target's directory (so that the final
/// rename never crosses file systems), created exclusively (C11's "x" mode: an existing file of
/// that name is never opened or truncated). `commit()` flushes, closes and renames it over
/// `path`; destroying an uncommitted one removes the temporary.
///
/// The data reach the operating system before the rename; standard C++ has no `fsync`, so after
/// a power loss (as opposed to a crash of the program) a file system may hold either version.
class AtomicFile {
 public:
  AtomicFile(const char* fn, std::string path) : fn_(fn), path_(std::move(path)) {
    int open_errno = 0;
    for (int attempt = 0; attempt < 16 && file_ == nullptr; ++attempt) {
      temp_path_ = path_ + ".tmp-" + random_suffix();
      errno = 0;
      file_ = std::fopen(temp_path_.c_str(), "wbx");
      open_errno = errno;
      if (file_ == nullptr && open_errno != EEXIST) break;
    }
    if (file_ == nullptr) {
      fail_io(fn_, path_,
              "cannot open for writing (creating the temporary file '" + temp_path_ +
                  "' beside it: " + error_text(open_errno) + ")");
    }
  }
  ~AtomicFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) std::remove(temp_path_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends `size` bytes. @throws io_error (naming the target) if they cannot be written.
  void write(const void* data, std::size_t size) {
    errno = 0;
    if (size != 0 && std::fwrite(data, 1, size, file_) != size) {
      const int write_errno = errno;
      fail_io(fn_, path_, "write failed (" + error_text(write_errno) + "); the file is unchanged");
    }
  }

  /// Flushes and closes the temporary and renames it over the target.
  /// @throws io_error if any of these fails; the temporary is then removed and the target is as
  ///   it was.
  void commit() {
    errno = 0;
    const bool flushed = std::fflush(file_) == 0;
    const int flush_errno = errno;
    const bool closed = std::fclose(file_) == 0;
    const int close_errno = errno;
    file_ = nullptr;
    if (!flushed || !closed) {
      fail_io(fn_, path_,
              "write failed (" + error_text(flushed ? close_errno : flush_errno) +
                  "); the file is unchanged");
    }
    std::error_code ec;
    std::filesystem::rename(temp_path_, path_, ec);
    if (ec) {
      fail_io(fn_, path_, "cannot replace it (" + ec.message() + "); it is unchanged");
    }
    committed_ = true;
  }

 private:
  static std::string error_text(int code) {
    return code != 0 ? std::strerror(code) : "unknown error";
  }

  /// 16 hex digits from a counter, the clock and, where it works, std::random_device: distinct
  /// across calls, threads and processes (a clash only costs another attempt).
  static std::string random_suffix() {
    static std::atomic<std::uint64_t> counter{0};
    std::uint64_t x = counter.fetch_add(1) * 0x9e3779b97f4a7c15ULL;
    x ^= static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    try {
      std::random_device device;
      x ^= static_cast<std::uint64_t>(device()) << 32 ^ device();
    } catch (const std::exception&) {  // no entropy source: the clock and counter remain
    }
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;  // splitmix64's finalizer
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(x));
    return digits;
  }

  const char* fn_;
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace convtape::detail
