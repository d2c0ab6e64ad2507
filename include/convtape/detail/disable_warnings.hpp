// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// No include guard: included once at the top and reenable_warnings.hpp once at the end of each
// kernel header that needs it (Eigen's DisableStupidWarnings.h / ReenableStupidWarnings.h).

// Silences, until reenable_warnings.hpp, the compiler warnings that Eigen's packet types cause in
// the register-blocked kernels: their alignment attributes, which GCC reports as ignored when a
// packet type is a template argument. Nothing relies on that alignment (packets are loaded and
// stored with ploadu / pstoreu, or from arrays aligned explicitly); Eigen silences the same
// warning in its own headers. Not for direct inclusion.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
