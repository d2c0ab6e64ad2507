// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// convtape's version, as macros usable in `#if`. The three numbers must equal
/// `project(convtape VERSION ...)` in CMakeLists.txt: configuring checks it and stops if they
/// differ, so a release bumps both.

/// Major version: a change breaks code written against the previous one.
#define CONVTAPE_VERSION_MAJOR 0
/// Minor version: additions that keep code written against the previous one working.
#define CONVTAPE_VERSION_MINOR 1
/// Patch version: fixes only.
#define CONVTAPE_VERSION_PATCH 0

/// The version as one number, MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 is 100), for
/// `#if CONVTAPE_VERSION >= 200`.
#define CONVTAPE_VERSION \
  (CONVTAPE_VERSION_MAJOR * 10000 + CONVTAPE_VERSION_MINOR * 100 + CONVTAPE_VERSION_PATCH)

#define CONVTAPE_DETAIL_STRINGIZE_IMPL(x) #x
#define CONVTAPE_DETAIL_STRINGIZE(x) CONVTAPE_DETAIL_STRINGIZE_IMPL(x)
/// The version as a string literal, "MAJOR.MINOR.PATCH" (built from the three numbers, so it
/// cannot disagree with them).
#define CONVTAPE_VERSION_STRING                                                        \
  CONVTAPE_DETAIL_STRINGIZE(CONVTAPE_VERSION_MAJOR)                                    \
  "." CONVTAPE_DETAIL_STRINGIZE(CONVTAPE_VERSION_MINOR) "." CONVTAPE_DETAIL_STRINGIZE( \
      CONVTAPE_VERSION_PATCH)
