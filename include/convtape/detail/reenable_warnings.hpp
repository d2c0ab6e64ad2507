// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// No include guard: closes what disable_warnings.hpp opened, once per kernel header.

// Restores the warnings disable_warnings.hpp silenced. Not for direct inclusion.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
