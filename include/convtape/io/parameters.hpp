// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Saving and loading a `Conv2D` layer's parameters as `.npy` files, in PyTorch's layout, so
/// weights move between convtape, numpy and PyTorch unchanged:
///
///     # PyTorch -> convtape
///     np.save("conv_weight.npy", conv.weight.detach().numpy())  # (C_out, C_in / groups, kh, kw)
///     np.save("conv_bias.npy", conv.bias.detach().numpy())      # (C_out,)
///
///     convtape::load_parameters("conv_", layer);
///
/// The files are `prefix + "weight.npy"` and, for a layer with a bias, `prefix + "bias.npy"`;
/// the prefix is prepended as given, so it may be a directory (`"model/conv1/"`) or a name stem
/// (`"model/conv1_"`). The format rules are those of `io/npy.hpp`.

#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/atomic_file.hpp"
#include "convtape/io/error.hpp"
#include "convtape/io/npy.hpp"
#include "convtape/nn/conv2d.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// Whether `path` can be opened for reading.
inline bool readable(const std::string& path) { return std::ifstream(path).is_open(); }

/// Reads `path` into a tensor of shape `want` if the file's shape is one of `accepted`; otherwise
/// throws `shape_error` naming the file's shape and `want`, before any data is read.
template <class S>
Tensor<S> load_parameter_file(const char* fn, const std::string& path, const char* what,
                              const Shape4& want, const std::vector<std::vector<Index>>& accepted) {
  return npy::load_array<S>(fn, path, [&](const std::vector<Index>& shape) {
    if (std::find(accepted.begin(), accepted.end(), shape) == accepted.end()) {
      std::string message = "'" + path + "' holds a " + what + " of shape " +
                            npy::shape_repr(shape) + " but the layer's " + what + " has shape " +
                            shape_str(want);
      if (accepted.size() > 1) {
        message += " (the file may hold " + npy::shape_repr(accepted[0]);
        for (std::size_t i = 1; i < accepted.size(); ++i) {
          message += " or " + npy::shape_repr(accepted[i]);
        }
        message += ")";
      }
      fail(fn, message);
    }
    return Tensor<S>(want);
  });
}

}  // namespace detail

/// Writes `layer`'s weight to `prefix + "weight.npy"` as a 4-D (C_out, C_in / groups, kh, kw)
/// array and, if the layer has a bias, its bias to `prefix + "bias.npy"` as a 1-D (C_out,)
/// array: what `np.save` writes for PyTorch's `conv.weight.detach().numpy()` and
/// `conv.bias.detach().numpy()`. float32 or float64 by `S`.
///
/// Existing files are replaced atomically: both files are written completely to temporaries
/// before either is renamed into place, so a write that fails leaves the previous files intact.
/// No file is ever deleted: for a layer without a bias, an existing `prefix + "bias.npy"` is a
/// conflict (`load_parameters` would refuse it beside this layer's weight, and it may not be
/// ours), so the call throws before writing anything; remove the file or choose another prefix.
/// @throws io_error if a file cannot be written, or the layer has no bias and
///   `prefix + "bias.npy"` exists.
template <class S>
void save_parameters(const std::string& prefix, const Conv2D<S>& layer) {
  constexpr const char* fn = "save_parameters";
  const std::string bias_path = prefix + "bias.npy";
  if (!layer.has_bias() && detail::readable(bias_path)) {
    detail::fail_io(fn, bias_path,
                    "exists, but the layer has no bias: load_parameters would refuse this bias "
                    "beside the new weight, and convtape never deletes a file; remove it or save "
                    "under another prefix (nothing was written)");
  }
  detail::npy::check_scalar<S>();
  const Tensor<S>& w = layer.weight.value;
  detail::AtomicFile weight_file(fn, prefix + "weight.npy");
  detail::npy::write_array(weight_file, {w.dim(0), w.dim(1), w.dim(2), w.dim(3)}, w.data(),
                           static_cast<std::size_t>(w.size()));
  if (!layer.has_bias()) {
    weight_file.commit();
    return;
  }
  const Tensor<S>& b = layer.bias.value;
  detail::AtomicFile bias_file(fn, bias_path);
  detail::npy::write_array(bias_file, {b.size()}, b.data(), static_cast<std::size_t>(b.size()));
  weight_file.commit();
  bias_file.commit();
}

/// Reads `layer`'s weight from `prefix + "weight.npy"` (exactly the layer's 4-D shape
/// (C_out, C_in / groups, kh, kw)) and, if the layer has a bias, its bias from
/// `prefix + "bias.npy"` ((C_out,) as PyTorch's `conv.bias`, or the layer's own (1, C_out, 1, 1)).
/// Both files are read and checked before anything is assigned, so a call that throws leaves the
/// layer as it was. Gradients are left as they are (their shapes do not change). `S` float reads
/// float32 files, `S` double reads float32 (widened exactly) and float64 files.
/// @throws io_error for a missing or unreadable file (also a missing bias file when the layer
///   has a bias) or one `load_npy` rejects; shape_error if a file's shape differs from the
///   layer's (the message names both), or a bias file exists but the layer has no bias.
template <class S>
void load_parameters(const std::string& prefix, Conv2D<S>& layer) {
  constexpr const char* fn = "load_parameters";
  const std::string weight_path = prefix + "weight.npy";
  const std::string bias_path = prefix + "bias.npy";
  const Shape4& weight_shape = layer.weight.value.shape();
  const std::vector<Index> weight_file_shape(weight_shape.begin(), weight_shape.end());
  Tensor<S> weight =
      detail::load_parameter_file<S>(fn, weight_path, "weight", weight_shape, {weight_file_shape});

  Tensor<S> bias;
  if (layer.has_bias()) {
    if (!detail::readable(bias_path)) {
      detail::fail_io(fn, bias_path,
                      "cannot open for reading, but the layer has a bias (for a layer "
                      "without one, construct it with Conv2dOptions().bias(false))");
    }
    const Shape4& bias_shape = layer.bias.value.shape();
    bias = detail::load_parameter_file<S>(
        fn, bias_path, "bias", bias_shape,
        {{layer.bias.value.size()}, std::vector<Index>(bias_shape.begin(), bias_shape.end())});
  } else if (detail::readable(bias_path)) {
    detail::fail(fn, "'" + bias_path +
                         "' holds a bias but the layer has none (Conv2dOptions().bias(false)); "
                         "loading without it would change the layer's results");
  }

  // Every check has passed: assign (moves, which cannot throw).
  layer.weight.value = std::move(weight);
  if (layer.has_bias()) layer.bias.value = std::move(bias);
}

}  // namespace convtape
