// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `io_error`, the exception of every reader and writer in `convtape/io/`.

#include <stdexcept>
#include <string>

namespace convtape {

/// Thrown when a file or buffer cannot be read or written, or holds something convtape cannot
/// represent faithfully (see `io/npy.hpp`, `io/npz.hpp`, `io/idx.hpp`). A `std::runtime_error`,
/// not a `shape_error`: the fault is in data outside the program, not in the caller's arguments.
/// The message names the function and the file (or the name given for a buffer).
class io_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// Throws `io_error` with `fn: where: message`; `where` is already quoted
/// (`'model.npz', entry '0.weight.npy'`).
[[noreturn]] inline void fail_at(const char* fn, const std::string& where,
                                 const std::string& message) {
  throw io_error(std::string(fn) + ": " + where + ": " + message);
}

/// Throws `io_error` with `fn: 'path': message`.
[[noreturn]] inline void fail_io(const char* fn, const std::string& path,
                                 const std::string& message) {
  fail_at(fn, "'" + path + "'", message);
}

}  // namespace detail
}  // namespace convtape
