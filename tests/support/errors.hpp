// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Checking bad-input behaviour: a call must throw convtape::shape_error (or, for files,
// convtape::io_error), and its message is what the test then matches against (function name,
// argument, shapes).

#include <string>

#include "convtape/core.hpp"

namespace support {

/// The message of the shape_error that `call()` throws, or a marker that matches nothing a test
/// looks for if it returns normally. Any other exception propagates and fails the test.
template <class F>
std::string shape_error_message(F&& call) {
  try {
    call();
  } catch (const convtape::shape_error& e) {
    return e.what();
  }
  return "<returned without throwing shape_error>";
}

/// The message of the exception of type `E` that `call()` throws (e.g. `convtape::io_error`), or
/// a marker that matches nothing a test looks for. Any other exception propagates and fails the
/// test.
template <class E, class F>
std::string error_message(F&& call) {
  try {
    call();
  } catch (const E& e) {
    return e.what();
  }
  return "<returned without throwing>";
}

}  // namespace support
