// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Compile convtape's kernels once instead of in every source file (opt-in).
///
/// By default convtape is header-only: every source file that calls `corr2d`, `conv2d`,
/// `conv2d_backward` or a `Conv2D` layer compiles their register-blocked kernels and algorithms
/// for its scalar type, which costs seconds per file. The simplest way to pay that once is to
/// link CMake's `convtape::compiled` instead of `convtape::convtape` (pkg-config:
/// `convtape-compiled`), a static library that does both steps below. By hand:
///
/// 1. define `CONVTAPE_EXTERN_TEMPLATES` for every source file that includes convtape (in CMake:
///    `target_compile_definitions(app PRIVATE CONVTAPE_EXTERN_TEMPLATES)`); convtape's headers
///    then declare their heavy templates for `float` and `double` as `extern template` (the
///    plane and batched kernels, `conv2d`'s shape checks, the tape's reverse walk, `conv2d` on
///    vars, `sum`, `squared_loss`, `Optimizer`, `SGD` and `Adam`), so no source file compiles them;
/// 2. include this header in exactly one source file of the program (or of a library it links),
///    which compiles them, for `float` and `double`.
///
/// Forgetting step 2 is a link error naming `convtape::detail::conv2d_forward<float>` or a
/// similar kernel; including this header in two files of one program is a multiple-definition
/// link error. Both modes compute the same results. Other scalar types (`int`, `long double`)
/// are always compiled where they are used. Build options that change the kernels (OpenMP,
/// `-march`) are those of the file that includes this header.

#include "convtape/detail/instantiations.hpp"

CONVTAPE_DETAIL_INSTANTIATE_ALL(template, float)
CONVTAPE_DETAIL_INSTANTIATE_ALL(template, double)
