// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Type traits shared by public signatures, in a header of their own so that nothing includes a
// kernel to get one (nlohmann's detail/meta/). Not for direct inclusion.

namespace convtape::detail {

/// `std::type_identity` (C++20).
template <class T>
struct type_identity {
  using type = T;
};

/// Keeps an argument out of template deduction, so that `conv2d(x, w, {}, opts)`, Eigen
/// expressions as biases, and `t * 2` on a float tensor or var deduce `S` from the tensors alone.
template <class T>
using non_deduced = typename type_identity<T>::type;

}  // namespace convtape::detail
