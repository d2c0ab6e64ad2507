// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The convtape::compiled library, float half: convtape/instantiate.hpp's instantiations for float
// (the library's users see them as extern templates, through CONVTAPE_EXTERN_TEMPLATES).
#include "convtape/detail/instantiations.hpp"

CONVTAPE_DETAIL_INSTANTIATE_ALL(template, float)
