// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// The layer table of the conv2d shape sweep (benchmarks/conv2d_sweep.cpp), its batch rule, the
// seeded generator of unseen layers, and the per-case features, written once: the benchmark
// registers its cases from here, and `conv2d_sweep --sweep_list` prints the same cases as CSV for
// the PyTorch side (benchmarks/peers/sweep_torch.py) and for cost-model fitting, so the two sides
// can never disagree. Only convtape's public names are used (Index, Conv2dOptions).
#ifndef CONVTAPE_BENCHMARKS_SWEEP_LAYERS_HPP
#define CONVTAPE_BENCHMARKS_SWEEP_LAYERS_HPP

#include <cmath>
#include <cstdint>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "convtape/core.hpp"

namespace sweep {

using convtape::Index;

/// One conv2d layer of a real (or generated) network: zero padding, the same stride and dilation
/// along both dimensions (every listed layer has them), any kernel, padding and groups.
struct Layer {
  std::string id;       ///< unique, [a-z0-9_] only: it goes into benchmark names and regexes
  std::string network;  ///< where the layer comes from
  Index c_in = 1, c_out = 1, rows = 1, cols = 1;
  Index kernel_rows = 1, kernel_cols = 1;
  Index stride = 1, pad_rows = 0, pad_cols = 0, dilation = 1, groups = 1;
  /// The network's first layer: its input is the data, so a training step computes no input
  /// gradient for it (`conv2d_backward(..., false)`, PyTorch's input without requires_grad).
  bool first = false;

  Layer(std::string id_, std::string network_, Index in, Index out, Index size, Index k)
      : id(std::move(id_)),
        network(std::move(network_)),
        c_in(in),
        c_out(out),
        rows(size),
        cols(size),
        kernel_rows(k),
        kernel_cols(k) {}
  Layer& with_stride(Index s) { return stride = s, *this; }
  Layer& with_pad(Index p) { return with_pad(p, p); }
  Layer& with_pad(Index r, Index c) { return pad_rows = r, pad_cols = c, *this; }
  /// Pads so that a stride-1 output keeps the input's size (odd kernels).
  Layer& same() { return with_pad(dilation * (kernel_rows / 2), dilation * (kernel_cols / 2)); }
  Layer& with_dilation(Index d) { return dilation = d, *this; }
  Layer& with_groups(Index g) { return groups = g, *this; }
  Layer& depthwise() { return with_groups(c_in); }
  Layer& with_kernel(Index r, Index c) { return kernel_rows = r, kernel_cols = c, *this; }
  Layer& input_layer() { return first = true, *this; }

  Index out_rows() const {
    return (rows + 2 * pad_rows - dilation * (kernel_rows - 1) - 1) / stride + 1;
  }
  Index out_cols() const {
    return (cols + 2 * pad_cols - dilation * (kernel_cols - 1) - 1) / stride + 1;
  }
  Index in_per_group() const { return c_in / groups; }
  /// The length of one output sample's dot product: C_in/groups · kh · kw.
  Index reduction() const { return in_per_group() * kernel_rows * kernel_cols; }
  /// Forward flops of one image: 2 · C_out · H_out · W_out · C_in/groups · kh · kw (conv2d_bench's
  /// convention; the bias add is not counted).
  double image_flops() const { return 2.0 * double(c_out * out_rows() * out_cols() * reduction()); }

  convtape::Conv2dOptions options() const {
    return convtape::Conv2dOptions()
        .stride(stride)
        .padding(pad_rows, pad_cols)
        .dilation(dilation)
        .groups(groups);
  }
  /// Tags a script can filter on ('+'-separated): what kind of layer this is.
  std::string tags() const {
    std::string t;
    auto add = [&t](const char* s) { t += (t.empty() ? "" : "+") + std::string(s); };
    const bool dw = groups > 1 && groups == c_in;
    if (dw) add("depthwise");
    if (groups > 1 && !dw) add("grouped");
    if (kernel_rows == 1 && kernel_cols == 1) add("pointwise");
    if (kernel_rows != kernel_cols) add("factorized");
    if (!dw && in_per_group() <= 8) add("few_channel");
    if (stride > 1) add("strided");
    if (dilation > 1) add("dilated");
    if (out_rows() * out_cols() <= 49) add("tiny_plane");
    if (out_rows() * out_cols() >= 112 * 112) add("large_plane");
    if (first) add("input_layer");
    return t.empty() ? "plain" : t;
  }
  /// The shape as one key: two layers with the same key are the same benchmark.
  std::tuple<Index, Index, Index, Index, Index, Index, Index, Index, Index, Index, Index, bool>
  key() const {
    return {c_in,   c_out,    rows,     cols,     kernel_rows, kernel_cols,
            stride, pad_rows, pad_cols, dilation, groups,      first};
  }
};

/// The typical training batch of a layer: the largest of 64, 32, 16, 8, 4, 2 whose forward is at
/// most kTrainBatchFlops and whose input and output (float32) take at most kTrainBatchBytes, and
/// 2 when none is. 2 GFLOP is 20 ms at 100 GFLOP/s and 0.1 s at 20 GFLOP/s, so one forward call
/// stays below ~0.1 s on one core on every path worth having; the byte cap keeps cheap layers on
/// large planes (a depthwise or a 1×1 at 56² and up) from measuring page faults of 100 MB
/// tensors. Only ImageNet-resolution VGG-16 and U-Net layers fall below a batch of 8 by flops.
constexpr double kTrainBatchFlops = 2e9;
constexpr double kTrainBatchBytes = 32.0 * 1024 * 1024;
inline Index train_batch(const Layer& l) {
  const double image_bytes =
      4.0 * double(l.c_in * l.rows * l.cols + l.c_out * l.out_rows() * l.out_cols());
  for (Index n : {64, 32, 16, 8, 4}) {
    if (double(n) * l.image_flops() <= kTrainBatchFlops &&
        double(n) * image_bytes <= kTrainBatchBytes) {
      return n;
    }
  }
  return 2;
}

/// The sweep: conv2d layers of real networks, each shape once (a shape shared by two networks is
/// listed under the first and the other is named in a comment). Zero padding, float32 NCHW.
inline std::vector<Layer> listed_layers() {
  using L = Layer;
  std::vector<Layer> t = {
      // LeNet-5 (28² MNIST digits padded by 2, as d2l's LeNet; conv2d_bench's layer A at batch 64)
      L("lenet5_c1", "LeNet-5", 1, 6, 28, 5).with_pad(2).input_layer(),
      L("lenet5_c3", "LeNet-5", 6, 16, 14, 5),
      L("lenet5_c5", "LeNet-5", 16, 120, 5, 5),
      // Small MNIST / CIFAR-10 CNNs (the CIFAR-10 tutorial's conv2 is lenet5_c3)
      L("mnist_cnn_c1", "PyTorch MNIST example", 1, 32, 28, 3).input_layer(),
      L("mnist_cnn_c2", "PyTorch MNIST example", 32, 64, 26, 3),
      L("cifar_tut_c1", "PyTorch CIFAR-10 tutorial", 3, 6, 32, 5).input_layer(),
      L("keras_cifar_c2", "Keras CIFAR-10 CNN", 32, 32, 32, 3),
      L("keras_cifar_c3", "Keras CIFAR-10 CNN", 32, 64, 15, 3).same(),
      L("keras_cifar_c4", "Keras CIFAR-10 CNN", 64, 64, 15, 3),
      L("resnet20_stem", "ResNet-20 (CIFAR)", 3, 16, 32, 3).same().input_layer(),
      L("resnet20_s1", "ResNet-20 (CIFAR)", 16, 16, 32, 3).same(),
      L("resnet20_s2_down", "ResNet-20 (CIFAR)", 16, 32, 32, 3).with_stride(2).same(),
      L("resnet20_s2", "ResNet-20 (CIFAR)", 32, 32, 16, 3).same(),
      L("resnet20_s3_down", "ResNet-20 (CIFAR)", 32, 64, 16, 3).with_stride(2).same(),
      L("resnet20_s3", "ResNet-20 (CIFAR)", 64, 64, 8, 3).same(),
      // VGG-16 (224² ImageNet); conv3_3, conv4_3 and conv5_x repeat these shapes
      L("vgg16_conv1_1", "VGG-16", 3, 64, 224, 3).same().input_layer(),
      L("vgg16_conv1_2", "VGG-16", 64, 64, 224, 3).same(),
      L("vgg16_conv2_1", "VGG-16", 64, 128, 112, 3).same(),
      L("vgg16_conv2_2", "VGG-16", 128, 128, 112, 3).same(),
      L("vgg16_conv3_1", "VGG-16", 128, 256, 56, 3).same(),
      L("vgg16_conv3_2", "VGG-16", 256, 256, 56, 3).same(),
      L("vgg16_conv4_1", "VGG-16", 256, 512, 28, 3).same(),
      L("vgg16_conv4_2", "VGG-16", 512, 512, 28, 3).same(),
      L("vgg16_conv5_1", "VGG-16", 512, 512, 14, 3).same(),
      // ResNet-18 (224²); the stem and the stride-1 3×3 layers are also ResNet-50's
      L("resnet_stem", "ResNet-18/50", 3, 64, 224, 7).with_stride(2).with_pad(3).input_layer(),
      L("resnet18_l1", "ResNet-18", 64, 64, 56, 3).same(),
      L("resnet18_l2_down", "ResNet-18", 64, 128, 56, 3).with_stride(2).same(),
      L("resnet18_l2_proj", "ResNet-18", 64, 128, 56, 1).with_stride(2),
      L("resnet18_l2", "ResNet-18", 128, 128, 28, 3).same(),
      L("resnet18_l3_down", "ResNet-18", 128, 256, 28, 3).with_stride(2).same(),
      L("resnet18_l3_proj", "ResNet-18", 128, 256, 28, 1).with_stride(2),
      L("resnet18_l3", "ResNet-18", 256, 256, 14, 3).same(),
      L("resnet18_l4_down", "ResNet-18", 256, 512, 14, 3).with_stride(2).same(),
      L("resnet18_l4_proj", "ResNet-18", 256, 512, 14, 1).with_stride(2),
      L("resnet18_l4", "ResNet-18", 512, 512, 7, 3).same(),
      // ResNet-50 v1.5 bottlenecks (torchvision: the stride sits on the 3×3); *_reduce1 is the
      // first block's 1×1, c2_expand is also that block's projection shortcut
      L("resnet50_c2_reduce1", "ResNet-50", 64, 64, 56, 1),
      L("resnet50_c2_expand", "ResNet-50", 64, 256, 56, 1),
      L("resnet50_c2_reduce", "ResNet-50", 256, 64, 56, 1),
      L("resnet50_c3_reduce1", "ResNet-50", 256, 128, 56, 1),
      L("resnet50_c3_down", "ResNet-50", 128, 128, 56, 3).with_stride(2).same(),
      L("resnet50_c3_proj", "ResNet-50", 256, 512, 56, 1).with_stride(2),
      L("resnet50_c3_expand", "ResNet-50", 128, 512, 28, 1),
      L("resnet50_c3_reduce", "ResNet-50", 512, 128, 28, 1),
      L("resnet50_c4_reduce1", "ResNet-50", 512, 256, 28, 1),
      L("resnet50_c4_down", "ResNet-50", 256, 256, 28, 3).with_stride(2).same(),
      L("resnet50_c4_proj", "ResNet-50", 512, 1024, 28, 1).with_stride(2),
      L("resnet50_c4_expand", "ResNet-50", 256, 1024, 14, 1),
      L("resnet50_c4_reduce", "ResNet-50", 1024, 256, 14, 1),
      L("resnet50_c5_reduce1", "ResNet-50", 1024, 512, 14, 1),
      L("resnet50_c5_down", "ResNet-50", 512, 512, 14, 3).with_stride(2).same(),
      L("resnet50_c5_proj", "ResNet-50", 1024, 2048, 14, 1).with_stride(2),
      L("resnet50_c5_expand", "ResNet-50", 512, 2048, 7, 1),
      L("resnet50_c5_reduce", "ResNet-50", 2048, 512, 7, 1),
      // MobileNetV2 (224²): inverted residuals, pointwise expand, depthwise 3×3, pointwise project
      L("mbv2_stem", "MobileNetV2", 3, 32, 224, 3).with_stride(2).same().input_layer(),
      L("mbv2_b1_dw", "MobileNetV2", 32, 32, 112, 3).same().depthwise(),
      L("mbv2_b1_project", "MobileNetV2", 32, 16, 112, 1),
      L("mbv2_b2_expand", "MobileNetV2", 16, 96, 112, 1),
      L("mbv2_b2_dw_s2", "MobileNetV2", 96, 96, 112, 3).with_stride(2).same().depthwise(),
      L("mbv2_b2_project", "MobileNetV2", 96, 24, 56, 1),
      L("mbv2_b3_expand", "MobileNetV2", 24, 144, 56, 1),
      L("mbv2_b3_dw", "MobileNetV2", 144, 144, 56, 3).same().depthwise(),
      L("mbv2_b3_project", "MobileNetV2", 144, 24, 56, 1),
      L("mbv2_b4_dw_s2", "MobileNetV2", 144, 144, 56, 3).with_stride(2).same().depthwise(),
      L("mbv2_b4_project", "MobileNetV2", 144, 32, 28, 1),
      L("mbv2_b5_expand", "MobileNetV2", 32, 192, 28, 1),
      L("mbv2_b5_dw", "MobileNetV2", 192, 192, 28, 3).same().depthwise(),
      L("mbv2_b5_project", "MobileNetV2", 192, 32, 28, 1),
      L("mbv2_b6_dw_s2", "MobileNetV2", 192, 192, 28, 3).with_stride(2).same().depthwise(),
      L("mbv2_b6_project", "MobileNetV2", 192, 64, 14, 1),
      L("mbv2_b7_expand", "MobileNetV2", 64, 384, 14, 1),
      L("mbv2_b7_dw", "MobileNetV2", 384, 384, 14, 3).same().depthwise(),
      L("mbv2_b7_project", "MobileNetV2", 384, 96, 14, 1),
      L("mbv2_b8_expand", "MobileNetV2", 96, 576, 14, 1),
      L("mbv2_b8_dw", "MobileNetV2", 576, 576, 14, 3).same().depthwise(),
      L("mbv2_b8_dw_s2", "MobileNetV2", 576, 576, 14, 3).with_stride(2).same().depthwise(),
      L("mbv2_b8_project", "MobileNetV2", 576, 160, 7, 1),
      L("mbv2_b9_expand", "MobileNetV2", 160, 960, 7, 1),
      L("mbv2_b9_dw", "MobileNetV2", 960, 960, 7, 3).same().depthwise(),
      L("mbv2_b9_project", "MobileNetV2", 960, 320, 7, 1),
      L("mbv2_head", "MobileNetV2", 320, 1280, 7, 1),
      // EfficientNet-B0 (224²): 5×5 depthwise, and squeeze-excitation 1×1s on a 1×1 plane
      L("effb0_dw5_s2", "EfficientNet-B0", 144, 144, 56, 5).with_stride(2).same().depthwise(),
      L("effb0_dw5", "EfficientNet-B0", 240, 240, 28, 5).same().depthwise(),
      L("effb0_dw5_672", "EfficientNet-B0", 672, 672, 14, 5).same().depthwise(),
      L("effb0_dw5_672_s2", "EfficientNet-B0", 672, 672, 14, 5).with_stride(2).same().depthwise(),
      L("effb0_dw5_1152", "EfficientNet-B0", 1152, 1152, 7, 5).same().depthwise(),
      L("effb0_se_reduce", "EfficientNet-B0", 672, 28, 1, 1),
      L("effb0_se_expand", "EfficientNet-B0", 28, 672, 1, 1),
      // ResNeXt-50 32×4d (224²): grouped 3×3, 32 groups
      L("resnext50_c2", "ResNeXt-50 32x4d", 128, 128, 56, 3).same().with_groups(32),
      L("resnext50_c3_down", "ResNeXt-50 32x4d", 256, 256, 56, 3)
          .with_stride(2)
          .same()
          .with_groups(32),
      L("resnext50_c3", "ResNeXt-50 32x4d", 256, 256, 28, 3).same().with_groups(32),
      L("resnext50_c4_down", "ResNeXt-50 32x4d", 512, 512, 28, 3)
          .with_stride(2)
          .same()
          .with_groups(32),
      L("resnext50_c4", "ResNeXt-50 32x4d", 512, 512, 14, 3).same().with_groups(32),
      L("resnext50_c5_down", "ResNeXt-50 32x4d", 1024, 1024, 14, 3)
          .with_stride(2)
          .same()
          .with_groups(32),
      L("resnext50_c5", "ResNeXt-50 32x4d", 1024, 1024, 7, 3).same().with_groups(32),
      // Inception-v3 (299²): unpadded stem, factorized 1×7 / 7×1 on 17², 1×3 / 3×1 on 8²
      L("incv3_stem", "Inception-v3", 3, 32, 299, 3).with_stride(2).input_layer(),
      L("incv3_conv2b", "Inception-v3", 32, 64, 147, 3).same(),
      L("incv3_conv4", "Inception-v3", 80, 192, 73, 3),
      L("incv3_6b_1x1", "Inception-v3", 768, 128, 17, 1),
      L("incv3_6b_1x7", "Inception-v3", 128, 128, 17, 1).with_kernel(1, 7).same(),
      L("incv3_6b_7x1", "Inception-v3", 128, 192, 17, 1).with_kernel(7, 1).same(),
      L("incv3_6e_1x7", "Inception-v3", 192, 192, 17, 1).with_kernel(1, 7).same(),
      L("incv3_6e_7x1", "Inception-v3", 192, 192, 17, 1).with_kernel(7, 1).same(),
      L("incv3_7b_1x3", "Inception-v3", 384, 384, 8, 1).with_kernel(1, 3).same(),
      L("incv3_7b_3x1", "Inception-v3", 384, 384, 8, 1).with_kernel(3, 1).same(),
      // DeepLab: dilated 3×3 of a ResNet backbone (321² crop; layer3 at output stride 8, layer4
      // at 16), DeepLabv3+ ASPP branches and a dilated depthwise on a MobileNetV2 (513² crop)
      L("deeplab_l3_d2", "DeepLabv3 (ResNet; OS 8)", 256, 256, 41, 3).with_dilation(2).same(),
      L("deeplab_l4_d2", "DeepLabv3 (ResNet; OS 16)", 512, 512, 21, 3).with_dilation(2).same(),
      L("deeplab_aspp_d6", "DeepLabv3+ (MobileNetV2)", 320, 256, 33, 3).with_dilation(6).same(),
      L("deeplab_aspp_d12", "DeepLabv3+ (MobileNetV2)", 320, 256, 33, 3).with_dilation(12).same(),
      L("deeplab_aspp_d18", "DeepLabv3+ (MobileNetV2)", 320, 256, 33, 3).with_dilation(18).same(),
      L("deeplab_mbv2_dw_d2", "DeepLabv3+ (MobileNetV2)", 960, 960, 33, 3)
          .with_dilation(2)
          .same()
          .depthwise(),
      // U-Net: the original's unpadded 572² first layer; a padded 256² U-Net's large planes
      L("unet_orig_c1", "U-Net (original; 572²)", 1, 64, 572, 3).input_layer(),
      L("unet_enc1a", "U-Net (256²)", 3, 64, 256, 3).same().input_layer(),
      L("unet_enc1b", "U-Net (256²)", 64, 64, 256, 3).same(),
      L("unet_enc2", "U-Net (256²)", 64, 128, 128, 3).same(),
      L("unet_out", "U-Net (256²)", 64, 2, 256, 1),
  };
  return t;
}

/// splitmix64: a tiny generator whose output is the same on every platform (the standard
/// distributions are not), so a seed names the same layers everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n).
  Index below(Index n) { return Index(next() % std::uint64_t(n)); }
  /// Uniform in [0, 1).
  double unit() { return double(next() >> 11) * 0x1.0p-53; }
  template <class T, std::size_t N>
  T pick(const T (&v)[N]) {
    return v[below(Index(N))];
  }

 private:
  std::uint64_t state_;
};

/// Forward flops of one generated image are at most this (and at least kRandomMinFlops).
constexpr double kRandomMaxFlops = 1e9;
constexpr double kRandomMinFlops = 1e5;

/// `count` realistic layers that are in no list, from `seed`: channels powers of two or multiples
/// of 8 up to 512 (1, 3 or 4 for an input layer), planes 7..112 (log-uniform, a quarter
/// non-square), kernels 1, 3, 5, 7 and 1×k / k×1; stride 2 a quarter of the time, dilation 2 or 4
/// on some 3×3 and 5×5; depthwise, grouped (2..32 groups) and input layers; 'same' padding mostly,
/// none otherwise; forward flops per image within [kRandomMinFlops, kRandomMaxFlops].
inline std::vector<Layer> random_layers(Index count, std::uint64_t seed) {
  static const Index kChannels[] = {8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512};
  static const Index kSquareKernels[] = {1, 1, 3, 3, 3, 5, 7};
  static const Index kLongKernels[] = {3, 5, 7};
  static const Index kDepthwiseKernels[] = {3, 3, 5, 7};
  static const Index kGroups[] = {2, 4, 8, 16, 32};
  static const Index kPerGroup[] = {2, 4, 8, 16};
  static const Index kInputChannels[] = {1, 3, 4};
  Rng rng(seed);
  std::vector<Layer> out;
  std::set<decltype(std::declval<Layer>().key())> seen;
  const std::string network = "random (seed " + std::to_string(seed) + ")";
  while (Index(out.size()) < count) {
    const std::string id = "rand" + std::to_string(seed) + "_" + std::to_string(out.size());
    const Index size = Index(7.0 * std::pow(16.0, rng.unit()) + 0.5);  // 7..112
    const Index kind = rng.below(20);  // 0-8 dense, 9-12 depthwise, 13-15 grouped,
                                       // 16-17 factorized, 18-19 input layer
    Layer l(id, network, rng.pick(kChannels), rng.pick(kChannels), size, 1);
    if (kind <= 8) {
      const Index k = rng.pick(kSquareKernels);
      l.with_kernel(k, k);
    } else if (kind <= 12) {
      const Index k = rng.pick(kDepthwiseKernels);
      l.with_kernel(k, k);
      l.c_out = l.c_in;
      l.depthwise();
    } else if (kind <= 15) {
      const Index g = rng.pick(kGroups);
      l.c_in = g * rng.pick(kPerGroup);
      l.c_out = g * rng.pick(kPerGroup);
      l.with_groups(g).with_kernel(3, 3);
    } else if (kind <= 17) {
      const Index k = rng.pick(kLongKernels);
      if (rng.below(2) == 0)
        l.with_kernel(1, k);
      else
        l.with_kernel(k, 1);
    } else {
      const Index k = rng.pick(kSquareKernels);
      l.c_in = rng.pick(kInputChannels);
      l.with_kernel(k, k).input_layer();
    }
    if (rng.below(4) == 0) l.cols = Index(7.0 * std::pow(16.0, rng.unit()) + 0.5);
    if (rng.below(4) == 0) l.with_stride(2);
    const bool square_odd = l.kernel_rows == l.kernel_cols && l.kernel_rows > 1;
    if (square_odd && l.stride == 1 && l.kernel_rows <= 5 && rng.below(6) == 0) {
      l.with_dilation(rng.below(2) == 0 ? 2 : 4);
    }
    if (rng.below(7) != 0) l.same();  // else no padding
    const Index span_rows = l.dilation * (l.kernel_rows - 1) + 1;
    const Index span_cols = l.dilation * (l.kernel_cols - 1) + 1;
    if (span_rows > l.rows + 2 * l.pad_rows || span_cols > l.cols + 2 * l.pad_cols) continue;
    const double f = l.image_flops();
    if (f < kRandomMinFlops || f > kRandomMaxFlops) continue;
    if (!seen.insert(l.key()).second) continue;
    out.push_back(l);
  }
  return out;
}

/// One benchmark case: a layer at a batch size.
struct Case {
  Layer layer;
  Index batch;
  /// "<layer id>/n<batch>": the join key of convtape's and PyTorch's results.
  std::string name() const { return layer.id + "/n" + std::to_string(batch); }
  double forward_flops() const { return double(batch) * layer.image_flops(); }
  /// A training step of this layer: forward, then the weight and bias gradients, and the input
  /// gradient unless it is the network's first layer (backward flops: 2× forward with the input
  /// gradient, 1× without).
  double train_flops() const { return (layer.first ? 2.0 : 3.0) * forward_flops(); }
};

/// Every layer at batch 1 and at its training batch; throws std::logic_error when two layers
/// share an id or a shape (the table lists each shape once), or when an id is not [a-z0-9_]
/// (it goes into regexes) or a network name holds a comma or a quote (it goes into CSV as is).
inline std::vector<Case> cases_of(const std::vector<Layer>& layers) {
  std::set<std::string> ids;
  std::set<decltype(std::declval<Layer>().key())> shapes;
  std::vector<Case> out;
  for (const Layer& l : layers) {
    const bool plain_id =
        !l.id.empty() &&
        l.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
    if (!plain_id || l.network.find_first_of(",\"") != std::string::npos) {
      throw std::logic_error("sweep: id not [a-z0-9_] or network with a comma or quote: " + l.id);
    }
    if (!ids.insert(l.id).second) throw std::logic_error("sweep: layer id twice: " + l.id);
    if (!shapes.insert(l.key()).second) throw std::logic_error("sweep: shape twice: " + l.id);
    out.push_back({l, 1});
    out.push_back({l, train_batch(l)});
  }
  return out;
}

/// The CSV header of `write_csv`.
inline const char* csv_header() {
  return "case,layer,network,tags,batch,c_in,c_out,rows,cols,kernel_rows,kernel_cols,stride,"
         "pad_rows,pad_cols,dilation,groups,first,out_rows,out_cols,in_per_group,out_per_group,"
         "reduction,out_plane,fwd_flops,train_flops,x_bytes,weight_bytes,y_bytes";
}

/// One line per case: the shape, and the features a cost model reads (reduction length
/// C_in/groups·kh·kw, output plane, channels per group, flops, float32 bytes of x, weight and y).
inline void write_csv(std::ostream& os, const std::vector<Case>& cases) {
  os << csv_header() << '\n';
  for (const Case& c : cases) {
    const Layer& l = c.layer;
    const Index plane = l.out_rows() * l.out_cols();
    os << c.name() << ',' << l.id << ',' << l.network << ',' << l.tags() << ',' << c.batch << ','
       << l.c_in << ',' << l.c_out << ',' << l.rows << ',' << l.cols << ',' << l.kernel_rows << ','
       << l.kernel_cols << ',' << l.stride << ',' << l.pad_rows << ',' << l.pad_cols << ','
       << l.dilation << ',' << l.groups << ',' << int(l.first) << ',' << l.out_rows() << ','
       << l.out_cols() << ',' << l.in_per_group() << ',' << l.c_out / l.groups << ','
       << l.reduction() << ',' << plane << ',' << std::int64_t(c.forward_flops()) << ','
       << std::int64_t(c.train_flops()) << ',' << 4 * c.batch * l.c_in * l.rows * l.cols << ','
       << 4 * l.c_out * l.in_per_group() * l.kernel_rows * l.kernel_cols << ','
       << 4 * c.batch * l.c_out * plane << '\n';
  }
}

}  // namespace sweep

#endif  // CONVTAPE_BENCHMARKS_SWEEP_LAYERS_HPP
