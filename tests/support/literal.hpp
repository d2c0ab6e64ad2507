// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Hand-written expected values: a matrix of any scalar type from its values listed row by row,
// as they appear in the notebook and in numpy's output.

#include <initializer_list>
#include <stdexcept>

#include "convtape/core.hpp"

namespace support {

template <class S>
convtape::MatrixX<S> literal(convtape::Index rows, convtape::Index cols,
                             std::initializer_list<double> row_by_row) {
  if (static_cast<convtape::Index>(row_by_row.size()) != rows * cols) {
    throw std::logic_error("support::literal: wrong number of values");  // a typo in a test
  }
  convtape::MatrixX<S> m(rows, cols);
  auto it = row_by_row.begin();
  for (convtape::Index i = 0; i < rows; ++i) {
    for (convtape::Index j = 0; j < cols; ++j) m(i, j) = static_cast<S>(*it++);
  }
  return m;
}

}  // namespace support
