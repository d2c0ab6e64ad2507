// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// The test suite is compiled with CONVTAPE_EXTERN_TEMPLATES: the float and double kernels are
// compiled here once, not in every test file (convtape/instantiate.hpp). A missing or mismatched
// instantiation is a link error; the suite's comparisons with the reference loops check that
// these kernels compute what the header-only build computes (the OpenMP and fuzz builds,
// edge_detection, lenet and some consumer projects use the header-only mode; the other examples
// and the docs' snippets link convtape::compiled, which is compiled without the suite's
// assertions).
#include "convtape/instantiate.hpp"
