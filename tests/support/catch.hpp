// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Catch2 v2 (one header) or v3 (split headers): the tests include this and use either alike.
#ifdef CONVTAPE_CATCH2_V3
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_exception.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <string>

#ifdef CONVTAPE_CATCH2_V3
inline auto Contains(const std::string& text) { return Catch::Matchers::ContainsSubstring(text); }
#else
using Catch::Matchers::Contains;
#endif
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
