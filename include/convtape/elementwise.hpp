// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Elementwise arithmetic on tensors with broadcasting, and the activations, on tensors: the
/// inference-side half of what `autograd/ops.hpp` offers on vars (same names, same rules).
///
/// Broadcasting is NumPy's rule on the four NCHW dimensions: two shapes are compatible when, in
/// each dimension, the extents are equal or one of them is 1; the result has the larger extent,
/// and an operand of extent 1 is repeated along it. So a (1, C, 1, 1) bias adds to an (N, C, H,
/// W) feature map, a (1, 1, 1, 1) scalar tensor to anything, and an (N, 1, H, W) mask multiplies
/// every channel. (The gradient of a broadcast operand is the output gradient summed over the
/// dimensions it was stretched along: `detail::sum_to`.)

#include <cmath>
#include <sstream>
#include <string>
#include <utility>

#include "convtape/core.hpp"
#include "convtape/detail/type_traits.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

[[noreturn]] inline void fail_broadcast(const char* fn, const Shape4& a, const Shape4& b, int dim) {
  std::ostringstream os;
  os << "shapes " << a << " and " << b << " do not broadcast (dimension " << dim << " is "
     << a[static_cast<std::size_t>(dim)] << " and " << b[static_cast<std::size_t>(dim)]
     << "; a dimension of size 1 stretches to the other's size, any other must match)";
  fail(fn, os.str());
}

}  // namespace detail

/// The shape of `a op b` under broadcasting (see the file comment); `fn` names the caller in
/// the message. @throws shape_error naming both shapes if they do not broadcast.
inline Shape4 broadcast_shape(const Shape4& a, const Shape4& b,
                              const char* fn = "broadcast_shape") {
  Shape4 out;
  for (std::size_t d = 0; d < 4; ++d) {
    if (a[d] == b[d] || b[d] == 1) {
      out[d] = a[d];
    } else if (a[d] == 1) {
      out[d] = b[d];
    } else {
      detail::fail_broadcast(fn, a, b, static_cast<int>(d));
    }
  }
  return out;
}

namespace detail {

/// How to walk an output of shape `out` together with two operands broadcast to it, as runs of
/// `inner` contiguous output elements. Dimensions of extent 1 are dropped and neighbours in which
/// each operand is either stretched in both or in neither are merged, so at most three outer
/// dimensions remain; in the innermost, each operand is contiguous (`a_full`) or one repeated
/// element. Same shapes give a single run over everything.
struct BroadcastLoop {
  Index outer[3] = {1, 1, 1};   ///< extents of the outer dimensions
  Index a_step[3] = {0, 0, 0};  ///< a's offset step along each (0 where a is stretched)
  Index b_step[3] = {0, 0, 0};  ///< b's offset step along each
  Index inner = 1;              ///< elements per run
  bool a_full = true;           ///< a is contiguous along the run (else one element)
  bool b_full = true;           ///< b is contiguous along the run (else one element)
};

inline BroadcastLoop broadcast_loop(const Shape4& out, const Shape4& a, const Shape4& b) {
  // Groups of merged dimensions, outermost first: extent, step of a and b, stretch status.
  Index extent[4];
  Index a_step[4];
  Index b_step[4];
  bool a_full[4];
  bool b_full[4];
  int groups = 0;
  Index a_stride = 1;  // element stride of dimension d in a (and b), walked from the innermost
  Index b_stride = 1;
  Index a_strides[4];
  Index b_strides[4];
  for (int d = 3; d >= 0; --d) {
    const auto u = static_cast<std::size_t>(d);
    a_strides[d] = a_stride;
    b_strides[d] = b_stride;
    a_stride *= a[u];
    b_stride *= b[u];
  }
  for (int d = 0; d < 4; ++d) {
    const auto u = static_cast<std::size_t>(d);
    if (out[u] == 1) continue;
    const bool af = a[u] == out[u];
    const bool bf = b[u] == out[u];
    if (groups > 0 && a_full[groups - 1] == af && b_full[groups - 1] == bf) {
      extent[groups - 1] *= out[u];  // merged: the steps become this inner dimension's
    } else {
      extent[groups] = out[u];
      a_full[groups] = af;
      b_full[groups] = bf;
      ++groups;
    }
    a_step[groups - 1] = af ? a_strides[d] : 0;
    b_step[groups - 1] = bf ? b_strides[d] : 0;
  }
  BroadcastLoop loop;
  if (groups == 0) return loop;  // a single element
  loop.inner = extent[groups - 1];
  loop.a_full = a_full[groups - 1];
  loop.b_full = b_full[groups - 1];
  for (int g = groups - 2, k = 2; g >= 0; --g, --k) {
    loop.outer[k] = extent[g];
    loop.a_step[k] = a_step[g];
    loop.b_step[k] = b_step[g];
  }
  return loop;
}

/// Calls `run(out_offset, a_offset, b_offset)` for every run of `loop`, in output order (each run
/// starts `loop.inner` elements after the previous one).
template <class Run>
void for_each_run(const BroadcastLoop& loop, Run&& run) {
  Index o = 0;
  for (Index i0 = 0; i0 < loop.outer[0]; ++i0) {
    for (Index i1 = 0; i1 < loop.outer[1]; ++i1) {
      for (Index i2 = 0; i2 < loop.outer[2]; ++i2) {
        run(o, i0 * loop.a_step[0] + i1 * loop.a_step[1] + i2 * loop.a_step[2],
            i0 * loop.b_step[0] + i1 * loop.b_step[1] + i2 * loop.b_step[2]);
        o += loop.inner;
      }
    }
  }
}

template <class S>
using ArrayMap = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;
template <class S>
using ConstArrayMap = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>;

/// `op(a, b)` elementwise under broadcasting, where `op` takes any two of an Eigen array
/// expression and a scalar (`[](const auto& x, const auto& y) { return x + y; }`).
/// @throws shape_error naming `fn` and both shapes if they do not broadcast.
template <class S, class Op>
Tensor<S> broadcast_binary(const Tensor<S>& a, const Tensor<S>& b, const char* fn, Op op) {
  if (a.shape() == b.shape()) {  // the common case: one pass over flat arrays
    Tensor<S> y = uninitialized_tensor<S>(a.shape());
    ArrayMap<S>(y.data(), y.size()) = op(a.flat().array(), b.flat().array());
    return y;
  }
  const Shape4 out = broadcast_shape(a.shape(), b.shape(), fn);
  Tensor<S> y = uninitialized_tensor<S>(out);
  if (y.empty()) return y;
  const BroadcastLoop loop = broadcast_loop(out, a.shape(), b.shape());
  const Index n = loop.inner;
  for_each_run(loop, [&](Index o, Index ia, Index ib) {
    ArrayMap<S> run(y.data() + o, n);
    if (loop.a_full && loop.b_full) {
      run = op(ConstArrayMap<S>(a.data() + ia, n), ConstArrayMap<S>(b.data() + ib, n));
    } else if (loop.a_full) {
      run = op(ConstArrayMap<S>(a.data() + ia, n), b.data()[ib]);
    } else {
      run = op(a.data()[ia], ConstArrayMap<S>(b.data() + ib, n));
    }
  });
  return y;
}

/// `g` summed over the dimensions along which `shape` was broadcast to g's shape: the gradient of
/// an operand of shape `shape` whose result had g's shape. `shape` must broadcast to g's shape.
template <class S>
Tensor<S> sum_to(const Tensor<S>& g, const Shape4& shape) {
  Tensor<S> out(shape);
  if (g.empty()) return out;
  const BroadcastLoop loop = broadcast_loop(g.shape(), shape, g.shape());
  const Index n = loop.inner;
  for_each_run(loop, [&](Index o, Index ia, Index) {
    if (loop.a_full) {
      ArrayMap<S>(out.data() + ia, n) += ConstArrayMap<S>(g.data() + o, n);
    } else {
      out.data()[ia] += ConstArrayMap<S>(g.data() + o, n).sum();
    }
  });
  return out;
}

/// `f` applied to every element of `t` (an Eigen array expression of `t.flat().array()`).
template <class S, class F>
Tensor<S> map_elements(const Tensor<S>& t, F f) {
  Tensor<S> y = uninitialized_tensor<S>(t.shape());
  ArrayMap<S>(y.data(), y.size()) = f(t.flat().array());
  return y;
}

}  // namespace detail

/// Elementwise sum under broadcasting (see the file comment).
/// @throws shape_error if the shapes do not broadcast: `operator+: shapes (1, 3, 6, 7) and
///   (1, 2, 1, 1) do not broadcast ...`.
template <class S>
Tensor<S> operator+(const Tensor<S>& a, const Tensor<S>& b) {
  return detail::broadcast_binary(a, b, "operator+",
                                  [](const auto& x, const auto& y) { return x + y; });
}

/// Elementwise difference under broadcasting. @throws shape_error as `a + b`.
template <class S>
Tensor<S> operator-(const Tensor<S>& a, const Tensor<S>& b) {
  return detail::broadcast_binary(a, b, "operator-",
                                  [](const auto& x, const auto& y) { return x - y; });
}

/// Elementwise product under broadcasting. @throws shape_error as `a + b`.
template <class S>
Tensor<S> operator*(const Tensor<S>& a, const Tensor<S>& b) {
  return detail::broadcast_binary(a, b, "operator*",
                                  [](const auto& x, const auto& y) { return x * y; });
}

/// Elementwise quotient under broadcasting, IEEE division (x / 0 is ±Inf or NaN).
/// @throws shape_error as `a + b`.
template <class S>
Tensor<S> operator/(const Tensor<S>& a, const Tensor<S>& b) {
  return detail::broadcast_binary(a, b, "operator/",
                                  [](const auto& x, const auto& y) { return x / y; });
}

/// `t` plus `s` in every element.
template <class S>
Tensor<S> operator+(const Tensor<S>& t, detail::non_deduced<S> s) {
  return detail::map_elements(t, [s](const auto& x) { return x + s; });
}
/// `s` plus every element of `t`.
template <class S>
Tensor<S> operator+(detail::non_deduced<S> s, const Tensor<S>& t) {
  return t + s;
}
/// `t` minus `s` in every element.
template <class S>
Tensor<S> operator-(const Tensor<S>& t, detail::non_deduced<S> s) {
  return detail::map_elements(t, [s](const auto& x) { return x - s; });
}
/// `s` minus every element of `t`.
template <class S>
Tensor<S> operator-(detail::non_deduced<S> s, const Tensor<S>& t) {
  return detail::map_elements(t, [s](const auto& x) { return s - x; });
}
/// `t` times `s`.
template <class S>
Tensor<S> operator*(const Tensor<S>& t, detail::non_deduced<S> s) {
  return detail::map_elements(t, [s](const auto& x) { return x * s; });
}
/// `s` times `t`.
template <class S>
Tensor<S> operator*(detail::non_deduced<S> s, const Tensor<S>& t) {
  return t * s;
}
/// `t` divided by `s` in every element (IEEE division).
template <class S>
Tensor<S> operator/(const Tensor<S>& t, detail::non_deduced<S> s) {
  return detail::map_elements(t, [s](const auto& x) { return x / s; });
}
/// `s` divided by every element of `t` (IEEE division).
template <class S>
Tensor<S> operator/(detail::non_deduced<S> s, const Tensor<S>& t) {
  return detail::map_elements(t, [s](const auto& x) { return s / x; });
}
/// Elementwise negation.
template <class S>
Tensor<S> operator-(const Tensor<S>& t) {
  return detail::map_elements(t, [](const auto& x) { return -x; });
}

/// Elementwise max(x, 0).
template <class S>
Tensor<S> relu(const Tensor<S>& t) {
  return detail::map_elements(t, [](const auto& x) { return x.max(S(0)); });
}

/// Elementwise logistic sigmoid 1 / (1 + exp(-x)): in (0, 1), 0 and 1 only where it rounds
/// there (|x| beyond about 37 in double, 17 in float); never NaN for finite x.
template <class S>
Tensor<S> sigmoid(const Tensor<S>& t) {
  return detail::map_elements(t, [](const auto& x) { return S(1) / (S(1) + (-x).exp()); });
}

/// Elementwise hyperbolic tangent.
template <class S>
Tensor<S> tanh(const Tensor<S>& t) {
  return detail::map_elements(t, [](const auto& x) { return x.tanh(); });
}

/// Elementwise e^x (IEEE: +Inf where it overflows, 0 where it underflows).
template <class S>
Tensor<S> exp(const Tensor<S>& t) {
  return detail::map_elements(t, [](const auto& x) { return x.exp(); });
}

/// Elementwise natural logarithm with IEEE results, as PyTorch's `log`: log(0) = -Inf, log(x) =
/// NaN for x < 0, log(+Inf) = +Inf. It does not throw: non-finite values propagate (see
/// docs/reliability.md).
template <class S>
Tensor<S> log(const Tensor<S>& t) {
  return detail::map_elements(t, [](const auto& x) { return x.log(); });
}

}  // namespace convtape
