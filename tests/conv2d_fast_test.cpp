// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// The fast paths of conv2d / conv2d_backward against the reference loops: every path forced (with
// support::ForcePath, through the public functions) on every shape, the cost model's choice on
// both sides of each change along families of shapes, the work cut for 1 to 16 threads, and (when
// built with OpenMP) the threads themselves.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "convtape/conv2d.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/internals.hpp"
#include "support/random.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using convtape::Conv2dGrads;
using convtape::Conv2dOptions;
using convtape::Index;
using convtape::PaddingMode;
using convtape::Tensor;
using convtape::VectorX;
using support::Conv2dPath;
using support::kAllPaths;

/// One test problem: shapes and options.
struct Case {
  Index n, c_in, c_out, h, w, kh, kw;
  Conv2dOptions opts;
  bool bias;
  std::string name;
};

/// Every element of `got` within `tol` of the double-precision reference `want`.
template <class S>
void check_close(const Tensor<S>& got, const Tensor<double>& want, double tol, const char* what) {
  REQUIRE(got.shape() == want.shape());
  double worst = 0;
  Index at = 0;
  for (Index i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got.data()[i]) - want.data()[i]);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  INFO(what << ": worst element " << at << " of " << got.size());
  CHECK_THAT(double(got.data()[at]), WithinAbs(want.data()[at], tol));
}

/// The magnitude argument of every tolerance here: values are in [-1, 1], and the factor 2 leaves
/// room for the different summation orders of the paths.
constexpr double kMagnitude = 2.0;

/// Runs `c` along `path` (or the automatic choice if null) and compares the output and all three
/// gradients with the reference loops evaluated in double precision on the same data.
template <class S>
void check_case(const Case& c, const Conv2dPath* path, unsigned seed) {
  INFO("case " << c.name << ", scalar " << (sizeof(S) == 4 ? "float" : "double") << ", path "
               << (path ? support::path_name(*path) : "auto"));
  std::optional<support::ForcePath> force;
  if (path) force.emplace(*path);
  std::mt19937 gen(seed);
  const Index groups = c.opts.groups();
  const Tensor<S> x = support::uniform_tensor<S>(c.n, c.c_in, c.h, c.w, gen);
  const Tensor<S> weight = support::uniform_tensor<S>(c.c_out, c.c_in / groups, c.kh, c.kw, gen);
  VectorX<S> bias;
  if (c.bias) bias = support::uniform_tensor<S>(1, 1, 1, c.c_out, gen).flat();

  const Index in_per_group = c.c_in / groups;
  const Index out_per_group = c.c_out / groups;
  const Tensor<double> xd = x.template cast<double>();
  const Tensor<double> wd = weight.template cast<double>();
  const VectorX<double> bd = bias.template cast<double>();
  const Tensor<double> want = convtape::reference::conv2d(xd, wd, bd, c.opts);
  const Tensor<S> dy =
      support::uniform_tensor<S>(want.dim(0), want.dim(1), want.dim(2), want.dim(3), gen);
  const Conv2dGrads<double> want_grads =
      convtape::reference::conv2d_backward(xd, wd, dy.template cast<double>(), c.opts);

  const Tensor<S> y = convtape::conv2d(x, weight, bias, c.opts);
  const Conv2dGrads<S> grads = convtape::conv2d_backward(x, weight, dy, c.opts);

  const Index taps = c.kh * c.kw;
  check_close(y, want, support::tolerance<S>(in_per_group * taps + 1, kMagnitude), "output");
  check_close(grads.input, want_grads.input,
              support::tolerance<S>(out_per_group * taps, kMagnitude), "grad input");
  check_close(grads.weight, want_grads.weight,
              support::tolerance<S>(c.n * want.dim(2) * want.dim(3), kMagnitude), "grad weight");
  REQUIRE(grads.bias.size() == c.c_out);
  for (Index o = 0; o < c.c_out; ++o) {
    CHECK_THAT(double(grads.bias[o]),
               WithinAbs(want_grads.bias[o],
                         support::tolerance<S>(c.n * want.dim(2) * want.dim(3), kMagnitude)));
  }

  // Without the input gradient (a constant input), the other two are unchanged, to the bit.
  const Conv2dGrads<S> no_input = convtape::conv2d_backward(x, weight, dy, c.opts, false);
  CHECK(no_input.input.empty());
  CHECK(no_input.weight.flat() == grads.weight.flat());
  CHECK(no_input.bias == grads.bias);
}

/// Shapes chosen to hit every branch: each padding mode with its borders, asymmetric and 'same'
/// padding, strides and dilations (also different per axis), groups, depthwise with and without a
/// channel multiplier, bias or none, batch > 1, widths that do not fill a SIMD packet or a GEMM
/// block (1, 3, 7, 13, 17, 33 columns), channel counts around the 6-row block, 1x1 kernels,
/// kernels as large as the (padded) input, and kernels so wide the in-place grid wastes most.
std::vector<Case> edge_cases() {
  std::vector<Case> v;
  const PaddingMode modes[] = {PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate,
                               PaddingMode::circular};
  for (PaddingMode m : modes) {
    const std::string mode = convtape::to_string(m);
    v.push_back({2, 3, 7, 9, 13, 3, 3, Conv2dOptions().padding(1).padding_mode(m), true,
                 "3x3 pad 1 " + mode});
    v.push_back({1, 4, 5, 11, 7, 3, 5,
                 Conv2dOptions().stride(2, 1).padding(2, 1, 0, 3).padding_mode(m), false,
                 "asymmetric pad, stride 2x1, " + mode});
    v.push_back({2, 2, 6, 10, 9, 3, 3, Conv2dOptions().dilation(2, 3).padding(3).padding_mode(m),
                 true, "dilation 2x3 " + mode});
    v.push_back({3, 4, 4, 8, 17, 3, 3,
                 Conv2dOptions().groups(4).stride(2).padding(1).padding_mode(m), true,
                 "depthwise stride 2 " + mode});
    // Output rows of a packet or more: the strided input gradients add into rows split by
    // column phase (odd left padding: a row starts on the odd phase).
    v.push_back({1, 3, 5, 6, 37, 3, 3,
                 Conv2dOptions().stride(2).padding(1, 1, 0, 2).padding_mode(m), false,
                 "stride 2, 19 output columns, " + mode});
  }
  v.push_back({2, 6, 13, 12, 33, 3, 3, Conv2dOptions().padding_same(), true, "same 3x3"});
  v.push_back({1, 3, 8, 13, 14, 4, 4, Conv2dOptions().padding_same().stride(3), false,
               "same even kernel stride 3"});
  v.push_back({2, 8, 12, 7, 7, 1, 1, Conv2dOptions(), true, "1x1"});
  // The input gradient's flipped 1x1 weights are W^T, a transpose in tiles of 16 x 16: groups,
  // and channel counts past a tile on both sides.
  v.push_back({2, 8, 12, 5, 6, 1, 1, Conv2dOptions().groups(4), false, "grouped 1x1"});
  v.push_back({1, 38, 34, 3, 5, 1, 1, Conv2dOptions().groups(2), true,
               "grouped 1x1, channels past a transpose tile"});
  // A stride far beyond the image where only one output sample results: found by shapes_fuzz,
  // the phase planes of the strided paths once asked for stride.rows * stride.cols elements.
  v.push_back(
      {2, 5, 6, 6, 6, 6, 6,
       Conv2dOptions().stride(Index(1) << 30, 1).padding_same().padding_mode(PaddingMode::circular),
       true, "stride 2^30 x 1, one output row, same, circular"});
  v.push_back({1, 3, 4, 5, 7, 2, 3, Conv2dOptions().stride(Index(1) << 30).padding(1), false,
               "stride 2^30, one output sample"});
  v.push_back({2, 4, 6, 7, 3, 1, 1, Conv2dOptions().stride(2), false, "1x1 stride 2, 3 columns"});
  v.push_back({2, 3, 5, 6, 1, 3, 1, Conv2dOptions().padding(1, 0), true, "one column"});
  v.push_back({1, 2, 7, 5, 6, 5, 6, Conv2dOptions(), true, "kernel equals input"});
  v.push_back({1, 2, 7, 4, 4, 5, 5, Conv2dOptions().padding(1, 0, 2, 0), false,
               "kernel equals padded input"});
  v.push_back({2, 4, 8, 10, 12, 3, 3, Conv2dOptions().groups(2).padding(1), true, "groups 2"});
  v.push_back({2, 4, 8, 11, 9, 3, 3, Conv2dOptions().groups(4).padding(1), false,
               "depthwise multiplier 2"});
  v.push_back({1, 6, 6, 9, 10, 5, 5, Conv2dOptions().groups(6).padding(2).dilation(2), true,
               "depthwise dilated"});
  v.push_back({2, 3, 16, 20, 22, 7, 7, Conv2dOptions().stride(2).padding(3), true,
               "stem-like 7x7 stride 2"});
  v.push_back({3, 1, 6, 14, 14, 5, 5, Conv2dOptions().padding(2), true, "LeNet-like"});
  v.push_back({1, 2, 5, 4, 40, 1, 31, Conv2dOptions(), true, "kernel nearly as wide as input"});
  v.push_back({1, 3, 7, 6, 6, 3, 3, Conv2dOptions().padding(5, 4, 6, 3), false,
               "padding wider than the kernel"});
  v.push_back({1, 3, 7, 6, 6, 3, 3,
               Conv2dOptions().padding(5, 4, 6, 3).padding_mode(PaddingMode::circular), false,
               "padding wider than the input, circular"});
  v.push_back({2, 5, 3, 9, 8, 2, 3, Conv2dOptions().stride(3, 2).dilation(2, 1), true,
               "stride 3x2 dilation 2x1 no padding"});
  v.push_back({2, 4, 3, 5, 36, 3, 3, Conv2dOptions().stride(2).padding(2), true,
               "stride 2, 18 output columns, even left padding"});
  v.push_back({1, 2, 4, 5, 52, 3, 3, Conv2dOptions().stride(1, 3).padding(1), false,
               "stride 1x3, 18 output columns: three column phases"});
  v.push_back({1, 3, 4, 6, 40, 3, 3, Conv2dOptions().stride(2).dilation(2).padding(2), true,
               "stride 2 dilation 2, 20 output columns: one column phase written"});
  v.push_back(
      {2, 4, 6, 5, 40, 1, 1, Conv2dOptions().stride(2), false, "1x1 stride 2, 20 output columns"});
  // Taps that read only some of the stride's phases (the band copies fill only those).
  v.push_back({2, 3, 5, 9, 11, 3, 3,
               Conv2dOptions().stride(2).dilation(2).padding(2).padding_mode(PaddingMode::reflect),
               true, "stride 2 dilation 2: the taps read one phase of four"});
  v.push_back({2, 4, 13, 7, 8, 1, 1,
               Conv2dOptions().stride(2).padding(1).padding_mode(PaddingMode::circular), false,
               "1x1 stride 2 padded circular: one phase of four"});
  // More depthwise channels than a packet has lanes (the interleaved path's blocks, the last one
  // partly filled), with strides, a multiplier, dilation and the padding modes.
  v.push_back({2, 37, 37, 7, 9, 3, 3,
               Conv2dOptions().groups(37).stride(2).padding(1).padding_mode(PaddingMode::reflect),
               true, "depthwise 37 channels stride 2 reflect"});
  v.push_back(
      {1, 20, 40, 6, 5, 5, 5,
       Conv2dOptions().groups(20).padding(2).dilation(1, 2).padding_mode(PaddingMode::circular),
       false, "depthwise 20 channels multiplier 2, 5x5 dilated, circular"});
  v.push_back({3, 33, 33, 14, 14, 3, 3, Conv2dOptions().groups(33).padding(1), true,
               "depthwise 33 channels on 14x14"});
  // A 1x1 kernel on 1x1 planes (the matrix path's shapes): one image (a matrix-vector product),
  // several, groups with any stride and dilation; then the nearest shapes it does not compute.
  v.push_back({1, 37, 5, 1, 1, 1, 1, Conv2dOptions(), true, "1x1 plane, one image"});
  v.push_back({5, 6, 9, 1, 1, 1, 1, Conv2dOptions().groups(3).stride(2).dilation(3), true,
               "1x1 plane, groups 3, stride 2, dilation 3"});
  v.push_back({3, 4, 6, 1, 1, 1, 1, Conv2dOptions().padding(1).padding_mode(PaddingMode::circular),
               true, "1x1 plane padded circular"});
  v.push_back({2, 5, 3, 1, 2, 1, 1, Conv2dOptions(), false, "1x2 plane"});
  v.push_back({2, 18, 18, 9, 8, 3, 2,
               Conv2dOptions()
                   .groups(18)
                   .stride(3, 2)
                   .padding(2, 1, 0, 3)
                   .padding_mode(PaddingMode::replicate),
               true, "depthwise 18 channels stride 3x2, asymmetric replicate"});
  return v;
}

/// Random shapes within small bounds (so the reference loops stay fast).
std::vector<Case> random_cases(unsigned seed, int count) {
  std::mt19937 gen(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  const PaddingMode modes[] = {PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate,
                               PaddingMode::circular};
  std::vector<Case> v;
  while (static_cast<int>(v.size()) < count) {
    const Index groups = pick(0, 3) == 0 ? pick(2, 3) : 1;
    const Index c_in = groups * pick(1, 4);
    const Index c_out = groups * pick(1, 5);
    const Index kh = pick(1, 4);
    const Index kw = pick(1, 4);
    const Index h = pick(kh, 14);
    const Index w = pick(kw, 19);
    // One pick per statement: the order of evaluation of function arguments is unspecified, and
    // the shapes must not depend on the compiler.
    const Index stride_rows = pick(1, 3);
    const Index stride_cols = pick(1, 3);
    const Index dilation_rows = pick(1, 2);
    const Index dilation_cols = pick(1, 2);
    const Index top = pick(0, 3);
    const Index bottom = pick(0, 3);
    const Index left = pick(0, 3);
    const Index right = pick(0, 3);
    const PaddingMode mode = modes[pick(0, 3)];
    const Index n = pick(1, 3);
    const bool bias = pick(0, 1) == 1;
    Conv2dOptions o;
    o.groups(groups).stride(stride_rows, stride_cols).dilation(dilation_rows, dilation_cols);
    o.padding(top, bottom, left, right).padding_mode(mode);
    // Keep only valid shapes (reflect needs nothing special: it keeps reflecting).
    if ((kh - 1) * dilation_rows >= h + top + bottom ||
        (kw - 1) * dilation_cols >= w + left + right) {
      continue;
    }
    v.push_back({n, c_in, c_out, h, w, kh, kw, o, bias, "random " + std::to_string(v.size())});
  }
  return v;
}

TEST_CASE("every conv2d path matches the reference loops on edge-case shapes", "[conv2d][fast]") {
  unsigned seed = 1;
  for (const Case& c : edge_cases()) {
    for (const Conv2dPath& path : kAllPaths) {
      check_case<float>(c, &path, seed);
      check_case<double>(c, &path, seed);
    }
    ++seed;
  }
}

TEST_CASE("conv2d's kept workspaces carry nothing from one call into the next", "[conv2d][fast]") {
  // The whole-layer temporaries (flipped weights, transformed kernels, padded input gradients,
  // partial sums, the matrix path's operands) are kept by the calling thread between calls: a
  // larger call with other values fills them first, then smaller layers on every path and padding
  // mode must still match the reference (a temporary read before it is written, or not zeroed where
  // it is added into, would carry the large call's values).
  const PaddingMode modes[] = {PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate,
                               PaddingMode::circular};
  for (const Conv2dPath& path : kAllPaths) {
    for (PaddingMode m : modes) {
      const Case large{4,    24,     24, 19, 17, 3, 3, Conv2dOptions().padding(1).padding_mode(m),
                       true, "large"};
      const Case small{2,    6,      8, 9, 11, 3, 3, Conv2dOptions().padding(1).padding_mode(m),
                       true, "small"};
      const Case strided{3,     5,        7, 12,
                         9,     3,        3, Conv2dOptions().stride(2).padding(1).padding_mode(m),
                         false, "strided"};
      for (const Case* c : {&large, &small, &strided}) {
        check_case<float>(*c, &path, 23);
        check_case<double>(*c, &path, 23);
      }
    }
    // The matrix path's padded operand and result (1x1 planes), by images and as one product.
    const Case large{40, 50, 30, 1, 1, 1, 1, Conv2dOptions(), true, "1x1 plane, large"};
    const Case small{9, 6, 10, 1, 1, 1, 1, Conv2dOptions().groups(2), true, "1x1 plane, small"};
    const Case one{1, 7, 3, 1, 1, 1, 1, Conv2dOptions(), false, "1x1 plane, one image"};
    for (const Case* c : {&large, &small, &one}) {
      check_case<float>(*c, &path, 29);
      check_case<double>(*c, &path, 29);
    }
  }
}

TEST_CASE("every conv2d path matches the reference loops on random shapes", "[conv2d][fast]") {
  unsigned seed = 100;
  for (const Case& c : random_cases(7, 40)) {
    for (const Conv2dPath& path : kAllPaths) check_case<float>(c, &path, seed);
    check_case<double>(c, nullptr, seed);
    ++seed;
  }
}

/// The path the cost model chooses for `c` (float).
Conv2dPath choice(const Case& c) {
  const Tensor<float> x(c.n, c.c_in, c.h, c.w);
  const Tensor<float> weight(c.c_out, c.c_in / c.opts.groups(), c.kh, c.kw);
  return support::chosen_path(x, weight, c.opts);
}

/// Families of shapes that differ in one dimension: along each, the cost model's choice changes
/// where one algorithm's estimated time overtakes another's.
std::vector<std::vector<Case>> choice_families() {
  std::vector<std::vector<Case>> families(10);
  for (Index c_out = 1; c_out <= 40; c_out += 3) {  // few to many output channels
    families[0].push_back({2, 4, c_out, 12, 12, 3, 3, Conv2dOptions().padding(1), true,
                           "c_out " + std::to_string(c_out)});
  }
  for (Index m = 1; m <= 12; ++m) {  // depthwise, then a growing channel multiplier
    families[1].push_back({2, 8, 8 * m, 20, 20, 3, 3, Conv2dOptions().padding(1).groups(8), true,
                           "multiplier " + std::to_string(m)});
  }
  for (Index n = 1; n <= 32; n *= 2) {  // a 1x1 plane: tiles span images
    families[2].push_back(
        {n, 24, 40, 1, 1, 1, 1, Conv2dOptions(), true, "1x1 plane, batch " + std::to_string(n)});
  }
  for (Index size = 3; size <= 30; size += 3) {  // 3x3 stride 1 on growing planes
    families[3].push_back({1, 16, 24, size, size, 3, 3, Conv2dOptions().padding(1), false,
                           "plane " + std::to_string(size)});
  }
  for (Index kw = 1; kw <= 37; kw += 4) {  // kernels growing as wide as the input
    families[4].push_back(
        {2, 4, 8, 3, 40, 1, kw, Conv2dOptions(), false, "kernel width " + std::to_string(kw)});
  }
  for (Index c = 8; c <= 64; c *= 2) {  // channels on a mid-size plane, up to a Winograd layer
    families[5].push_back(
        {1, c, c, 24, 24, 3, 3, Conv2dOptions().padding(1), true, "channels " + std::to_string(c)});
  }
  for (Index size = 7; size <= 112; size *= 2) {  // depthwise on growing planes
    families[7].push_back({2, 32, 32, size, size, 3, 3, Conv2dOptions().padding(1).groups(32),
                           false, "depthwise plane " + std::to_string(size)});
  }
  for (Index size = 1; size <= 4; ++size) {  // a 1x1 kernel on a 1x1 plane, then larger ones
    families[8].push_back({6, 40, 24, size, size, 1, 1, Conv2dOptions(), true,
                           "1x1 kernel on plane " + std::to_string(size)});
  }
  for (Index c_out = 1; c_out <= 8; ++c_out) {  // tiny problems: no setup is worth it
    families[6].push_back({1, 2, c_out, 5, 5, 3, 3, Conv2dOptions().stride(2), true,
                           "tiny, c_out " + std::to_string(c_out)});
  }
  // Strided, a small plane, a batch: pixel_gemm from a few output channels (one on SSE) up to a
  // few packets' worth (the GEMMs of channels-as-rows again on AVX2 and AVX-512).
  for (Index c_out : {1, 2, 14, 26, 38, 50, 62, 74, 86, 98}) {
    families[9].push_back({6, 12, c_out, 14, 14, 3, 3, Conv2dOptions().stride(2).padding(1), true,
                           "strided, c_out " + std::to_string(c_out)});
  }
  return families;
}

TEST_CASE(
    "the cost model picks most paths somewhere and each side of a change matches the reference",
    "[conv2d][fast][path]") {
  std::vector<bool> chosen(std::size(kAllPaths), false);
  int changes = 0;
  unsigned seed = 300;
  for (const std::vector<Case>& family : choice_families()) {
    for (std::size_t i = 0; i < family.size(); ++i) {
      const Conv2dPath path = choice(family[i]);
      chosen[static_cast<std::size_t>(path)] = true;
      if (i == 0 || path == choice(family[i - 1])) continue;
      // Both sides of the change, through the public functions with the automatic choice.
      ++changes;
      const Tensor<float> x(family[i].n, family[i].c_in, family[i].h, family[i].w);
      const Tensor<float> w(family[i].c_out, family[i].c_in / family[i].opts.groups(), family[i].kh,
                            family[i].kw);
      INFO(family[i].name << ": " << support::choice_inputs(x, w, family[i].opts));
      check_case<float>(family[i - 1], nullptr, seed);
      check_case<float>(family[i], nullptr, seed + 1);
      check_case<double>(family[i], nullptr, seed + 2);
      seed += 3;
    }
  }
  // Which paths win depends on the machine's vector width (the model counts packets); these
  // families reach at least four of the eight on SSE, AVX2 and AVX-512 builds.
  CHECK(changes >= 4);
  CHECK(std::count(chosen.begin(), chosen.end(), true) >= 4);
}

TEST_CASE("conv2d cuts its work for any thread count and stays equal to the reference",
          "[conv2d][fast][threads]") {
  // Shapes whose items split into several bands, output-channel blocks, blocks of images (the
  // packed kernel on tiny planes), chunked products (weights beyond the L2 budget), input
  // gradients of several bands (stride 2) and the matrix path's products cut by rows or columns:
  // forced to 1 .. 16 threads (without OpenMP the same cut runs on the calling thread).
  const Case cases[] = {
      {1, 6, 20, 40, 36, 3, 3, Conv2dOptions().padding(1), true, "one image, many rows"},
      {3, 5, 13, 23, 9, 3, 3, Conv2dOptions().padding(1).padding_mode(PaddingMode::reflect), true,
       "three images, reflect"},
      {1, 8, 16, 30, 17, 3, 3, Conv2dOptions().stride(2).padding(1), false, "stride 2"},
      {2, 6, 6, 33, 20, 5, 5,
       Conv2dOptions().stride(2, 1).padding(2).padding_mode(PaddingMode::circular), true,
       "stride 2x1, circular"},
      {9, 12, 18, 3, 3, 3, 3, Conv2dOptions(), true, "tiny planes"},
      {2, 16, 16, 24, 14, 3, 3, Conv2dOptions().padding(1).groups(16), true, "depthwise"},
      {1, 192, 72, 4, 5, 3, 3, Conv2dOptions().padding(1), false, "weights beyond the L2 budget"},
      {5, 7, 9, 6, 11, 1, 1, Conv2dOptions(), true, "1x1, read in place"},
      {1, 150, 3, 1, 1, 1, 1, Conv2dOptions(), true, "1x1 plane, one image: columns cut"},
      {20, 70, 12, 1, 1, 1, 1, Conv2dOptions(), true, "1x1 plane, 20 images: rows cut"},
  };
  unsigned seed = 500;
  for (int threads : {1, 2, 3, 8, 16}) {
    for (const Case& c : cases) {
      for (const Conv2dPath& path : kAllPaths) {
        INFO("threads " << threads);
        const support::ForcePath force(path, threads);
        check_case<float>(c, nullptr, seed++);
      }
      const support::ForcePath force(Conv2dPath::implicit_gemm, threads);
      check_case<double>(c, nullptr, seed++);
    }
  }
}

/// Runs weight-gradient algorithm `a` on `threads` threads, into a weight gradient filled with
/// NaN first (every algorithm must overwrite all of it).
template <class S>
Tensor<S> grad_weight_by(support::internals::GradWeightAlgorithm a, const Tensor<S>& x,
                         const Tensor<S>& weight, const Tensor<S>& dy, const Conv2dOptions& opts,
                         int threads) {
  using A = support::internals::GradWeightAlgorithm;
  const support::Conv2dShape s = support::shape_of(x, weight, opts);
  Tensor<S> grad(weight.shape());
  std::fill(grad.data(), grad.data() + grad.size(), std::numeric_limits<S>::quiet_NaN());
  switch (a) {
    case A::dots:
      support::internals::grad_weight_dots(x, dy, s, grad, threads);
      break;
    case A::gemm:
      support::internals::grad_weight_gemm(x, dy, s, grad, threads);
      break;
    case A::packed:
      support::internals::grad_weight_packed(x, dy, s, grad, threads);
      break;
    case A::interleaved:
      support::internals::interleaved_grad_weight(
          x.data(), x.size() / x.dim(0), dy.data(), dy.size() / dy.dim(0), s.geometry, s.batch,
          s.out_channels, s.out_per_group, grad.data(), threads);
      break;
  }
  return grad;
}

/// Shapes for the weight-gradient algorithms on top of the edge cases: tiny planes with large
/// weights (the packed GEMM's side), slices of several images and bands, channel blocks with a
/// tail, groups.
std::vector<Case> grad_weight_cases() {
  std::vector<Case> v = edge_cases();
  v.push_back({3, 40, 70, 3, 3, 3, 3, Conv2dOptions().stride(2).padding(1), false,
               "tiny plane, stride 2, many channels"});
  v.push_back({9, 30, 20, 5, 6, 1, 1, Conv2dOptions(), false, "1x1 on small planes, 9 images"});
  v.push_back({2, 12, 9, 1, 1, 1, 1, Conv2dOptions(), false, "1x1 plane"});
  v.push_back({2, 37, 13, 9, 40, 3, 3,
               Conv2dOptions().padding(1).padding_mode(PaddingMode::reflect), false,
               "rows longer than a slice, reflect"});
  v.push_back({1, 130, 8, 4, 4, 5, 5, Conv2dOptions().padding(2), false,
               "channel blocks beyond the L2 budget"});
  v.push_back({2, 12, 18, 6, 5, 3, 3, Conv2dOptions().groups(3).padding(1).dilation(2), false,
               "groups 3, dilated"});
  v.push_back({5, 35, 35, 7, 7, 3, 3, Conv2dOptions().groups(35).padding(1), false,
               "depthwise 35 channels, 7x7 planes, 5 images"});
  // Output channels per group in whole packets (transposed a packet of channels at a time) and
  // past them, as in ResNeXt's grouped layers.
  v.push_back({2, 64, 64, 6, 7, 3, 3, Conv2dOptions().groups(2).padding(1), false,
               "groups 2 of 32 output channels"});
  v.push_back({1, 32, 72, 9, 9, 3, 3, Conv2dOptions().groups(4).stride(2).padding(1), false,
               "groups 4 of 18 output channels, stride 2"});
  v.push_back({2, 17, 34, 10, 9, 5, 5,
               Conv2dOptions().groups(17).stride(2).padding(2).padding_mode(PaddingMode::reflect),
               false, "depthwise multiplier 2 stride 2 reflect"});
  return v;
}

/// The operands of the `shifted_product` tests: A (m x depth) and B (depth rows of `ldb`) of
/// small integers, exact in float, B's rows with `slack` columns the kernel may read past the
/// last one it computes, the row offsets the kernel takes, and C's exact value by a triple loop.
struct SmallProduct {
  Index m;
  Index depth;
  Index ldb;
  std::vector<float> a;
  std::vector<float> b;
  std::vector<Index> offsets;

  SmallProduct(Index m_, Index depth_, Index columns, Index slack, std::mt19937& gen)
      : m(m_), depth(depth_), ldb(columns + slack) {
    std::uniform_int_distribution<int> small(-3, 3);
    a.resize(static_cast<std::size_t>(m * depth));
    b.resize(static_cast<std::size_t>(depth * ldb));
    for (float& v : a) v = float(small(gen));
    for (float& v : b) v = float(small(gen));
    offsets.resize(static_cast<std::size_t>(depth));
    for (Index k = 0; k < depth; ++k) offsets[k] = k * ldb;
  }
  support::internals::StridedRows<float> rows() const { return {a.data(), depth, 1}; }
  /// C(i, j), j a column of B.
  double expected(Index i, Index j) const {
    double sum = 0;
    for (Index k = 0; k < depth; ++k) sum += double(a[i * depth + k]) * double(b[k * ldb + j]);
    return sum;
  }
};

TEST_CASE("the GEMM kernel's narrow last blocks compute what full blocks do", "[conv2d][fast]") {
  // C = A * B on small integers (exact in float) against a triple loop, for every count of rows
  // of a last register block, last column blocks of one packet to a full block, reductions in one
  // chunk and in several (the partial sums), and both kinds of sink.
  using S = float;
  using Block = support::internals::GemmBlock<S>;
  constexpr Index MR = Block::mr;
  constexpr Index NR = Block::nr;
  constexpr Index P = NR / Block::np;
  std::mt19937 gen(17);
  for (Index m = 1; m <= 2 * MR + 1; ++m) {
    for (const Index cols :
         {Index{1}, P - 1 + (P == 1), P + 1, 2 * P + 1, NR - 1, NR, NR + P + 3}) {
      for (const auto& [depth, chunk] : {std::pair<Index, Index>{1, 0}, {7, 0}, {150, 40}}) {
        for (const Index q_begin : {Index{0}, Index{5}}) {
          INFO("m " << m << ", columns " << cols << " from " << q_begin << ", depth " << depth
                    << ", chunk " << chunk);
          const SmallProduct p(m, depth, q_begin + cols, 2 * NR, gen);
          // Through a sink that stores what it is handed, and straight into a dense C.
          std::vector<S> by_sink(static_cast<std::size_t>(m * cols), S(-99));
          support::internals::shifted_product<S, MR, Block::np>(
              m, depth, p.rows(), p.b.data(), p.offsets.data(), q_begin, q_begin + cols, chunk,
              [&](Index row0, Index n_rows, Index col0, Index n_cols, const S* tile, Index ld) {
                for (Index i = 0; i < n_rows; ++i) {
                  for (Index j = 0; j < n_cols; ++j) {
                    by_sink[(row0 + i) * cols + col0 - q_begin + j] = tile[i * ld + j];
                  }
                }
              });
          const Index ldc = q_begin + cols + NR;
          std::vector<S> dense(static_cast<std::size_t>((m + MR) * ldc), S(-99));
          support::internals::shifted_product<S, MR, Block::np>(
              m, depth, p.rows(), p.b.data(), p.offsets.data(), q_begin, q_begin + cols, chunk,
              support::internals::DenseStore<S>{dense.data(), ldc});
          for (Index i = 0; i < m; ++i) {
            for (Index j = 0; j < cols; ++j) {
              const double expected = p.expected(i, q_begin + j);
              REQUIRE(double(by_sink[i * cols + j]) == expected);
              REQUIRE(double(dense[i * ldc + q_begin + j]) == expected);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("the GEMM kernel's short-reduction groups and column panels cover every output once",
          "[conv2d][fast]") {
  // A reduction shorter than kGroupDepth runs one register block per group, one of a few times
  // kGroupDepth a few blocks per group, and a reduction done in one pass runs over panels of
  // columns (kBPanelBytes of B each): C = A * B on small integers (exact in float) against a
  // triple loop, over two full panels and a partial one starting off a panel boundary, with a
  // last block of fewer rows, every tile handed to the sink exactly once.
  using S = float;
  using Block = support::internals::GemmBlock<S>;
  constexpr Index MR = Block::mr;
  constexpr Index NR = Block::nr;
  constexpr Index kGroupDepth = support::internals::kGroupDepth;
  std::mt19937 gen(23);
  const Index m = 4 * MR + 1;
  for (const Index depth : {kGroupDepth - 1, 2 * kGroupDepth + 1}) {
    const Index panel = std::max<Index>(
        NR, support::internals::kBPanelBytes / Index(depth * Index(sizeof(S))) / NR * NR);
    const Index q_begin = 5;
    const Index cols = 2 * panel + NR / 2 + 3;
    INFO("depth " << depth << ", panel " << panel << " columns, " << cols << " columns");
    const SmallProduct p(m, depth, q_begin + cols, 2 * NR, gen);
    std::vector<S> c(static_cast<std::size_t>(m * cols), S(-99));
    std::vector<int> stores(static_cast<std::size_t>(m * cols), 0);
    support::internals::shifted_product<S, MR, Block::np>(
        m, depth, p.rows(), p.b.data(), p.offsets.data(), q_begin, q_begin + cols, 0,
        [&](Index row0, Index n_rows, Index col0, Index n_cols, const S* tile, Index ld) {
          for (Index i = 0; i < n_rows; ++i) {
            for (Index j = 0; j < n_cols; ++j) {
              const std::size_t at = std::size_t((row0 + i) * cols + col0 - q_begin + j);
              c[at] = tile[i * ld + j];
              ++stores[at];
            }
          }
        });
    // Every element against the triple loop; the first wrong one, if any, is reported.
    Index wrong = 0;
    std::string first;
    for (Index i = 0; i < m; ++i) {
      for (Index j = 0; j < cols; ++j) {
        const double expected = p.expected(i, q_begin + j);
        const std::size_t at = std::size_t(i * cols + j);
        if (stores[at] != 1 || double(c[at]) != expected) {
          if (wrong++ == 0) {
            first = "row " + std::to_string(i) + ", column " + std::to_string(j) + ": " +
                    std::to_string(c[at]) + " stored " + std::to_string(stores[at]) +
                    " times, expected " + std::to_string(expected);
          }
        }
      }
    }
    INFO(first);
    REQUIRE(wrong == 0);
  }
}

TEST_CASE("the cost model counts the phases a strided band copy fills", "[conv2d][fast]") {
  // The model's closed form against the fill's list, which marks each tap's residue, and a few
  // counts worked by hand.
  for (Index stride = 1; stride <= 6; ++stride) {
    for (Index dilation = 1; dilation <= 7; ++dilation) {
      for (Index taps = 1; taps <= 9; ++taps) {
        const std::vector<bool> read = support::internals::phases_read(taps, dilation, stride);
        INFO("taps " << taps << ", dilation " << dilation << ", stride " << stride);
        REQUIRE(support::internals::phases_read_count(taps, dilation, stride) ==
                Index(std::count(read.begin(), read.end(), true)));
      }
    }
  }
  REQUIRE(support::internals::phases_read_count(1, 1, 2) == 1);  // a 1x1 projection, stride 2
  REQUIRE(support::internals::phases_read_count(3, 2, 2) == 1);  // dilation 2 on stride 2
  REQUIRE(support::internals::phases_read_count(3, 1, 2) == 2);
  REQUIRE(support::internals::phases_read_count(2, 3, 4) == 2);  // residues 0 and 3
  REQUIRE(support::internals::phases_read_count(7, 2, 4) == 2);  // residues 0 and 2
}

TEST_CASE("every weight-gradient algorithm matches the reference for any thread count",
          "[conv2d][fast][threads]") {
  // The model picks one of the four per shape; each is called directly here on every shape, so
  // both sides of every choice hold. The packed GEMM and the interleaved sums have no partial
  // sums: their results are the same to the bit for every thread count.
  using A = support::internals::GradWeightAlgorithm;
  unsigned seed = 900;
  for (const Case& c : grad_weight_cases()) {
    INFO("case " << c.name);
    std::mt19937 gen(seed++);
    const Index groups = c.opts.groups();
    const Tensor<float> x = support::uniform_tensor<float>(c.n, c.c_in, c.h, c.w, gen);
    const Tensor<float> w =
        support::uniform_tensor<float>(c.c_out, c.c_in / groups, c.kh, c.kw, gen);
    const Tensor<double> want_y =
        convtape::reference::conv2d(x.cast<double>(), w.cast<double>(), VectorX<double>(), c.opts);
    const Tensor<float> dy = support::uniform_tensor<float>(want_y.dim(0), want_y.dim(1),
                                                            want_y.dim(2), want_y.dim(3), gen);
    const Tensor<double> want = convtape::reference::conv2d_backward(
                                    x.cast<double>(), w.cast<double>(), dy.cast<double>(), c.opts)
                                    .weight;
    const double tol = support::tolerance<float>(c.n * want_y.dim(2) * want_y.dim(3), kMagnitude);
    const double tol_d =
        support::tolerance<double>(c.n * want_y.dim(2) * want_y.dim(3), kMagnitude);
    // The interleaved sums only where each output channel reads one input channel.
    std::vector<A> algorithms = {A::dots, A::gemm, A::packed};
    if (c.c_in == groups) algorithms.push_back(A::interleaved);
    std::optional<Tensor<float>> one_thread[4];
    for (int threads : {1, 2, 3, 8}) {
      for (A a : algorithms) {
        INFO("threads " << threads << ", algorithm " << int(a));
        const Tensor<float> got = grad_weight_by(a, x, w, dy, c.opts, threads);
        check_close(got, want, tol, "grad weight");
        // Neither has partial sums: the same bits for every thread count.
        if (a == A::packed || a == A::interleaved) {
          std::optional<Tensor<float>>& first = one_thread[static_cast<std::size_t>(a)];
          if (!first) first = got;
          CHECK(got.flat() == first->flat());
        }
      }
    }
    for (A a : algorithms) {
      INFO("double, algorithm " << int(a));
      check_close(
          grad_weight_by(a, x.cast<double>(), w.cast<double>(), dy.cast<double>(), c.opts, 3), want,
          tol_d, "grad weight");
    }
  }
}

TEST_CASE("the weight-gradient model picks each algorithm somewhere", "[conv2d][fast][path]") {
  // Along one family, from a depthwise layer to a plain one and from a large plane to a tiny one
  // with large weights, every algorithm is the cheapest somewhere (the estimates, not a table).
  using A = support::internals::GradWeightAlgorithm;
  std::vector<bool> chosen(4, false);
  auto pick = [&](Index n, Index c_in, Index c_out, Index size, Index groups) {
    const Tensor<float> x(n, c_in, size, size);
    const Tensor<float> w(c_out, c_in / groups, 3, 3);
    const A a = support::internals::grad_weight_algorithm<float>(
        support::shape_of(x, w, Conv2dOptions().padding(1).groups(groups)));
    chosen[static_cast<std::size_t>(a)] = true;
  };
  for (Index size = 1; size <= 64; size *= 2) {
    pick(1, 64, 64, size, 64);   // depthwise
    pick(1, 64, 32, size, 32);   // two input channels per output channel
    pick(1, 64, 64, size, 1);    // plain
    pick(1, 512, 512, size, 1);  // large weights
  }
  CHECK(chosen[static_cast<std::size_t>(A::dots)]);
  CHECK(chosen[static_cast<std::size_t>(A::gemm)]);
  CHECK(chosen[static_cast<std::size_t>(A::packed)]);
  CHECK(chosen[static_cast<std::size_t>(A::interleaved)]);
}

#ifdef _OPENMP
TEST_CASE("threaded conv2d matches the reference under every schedule", "[conv2d][fast][threads]") {
  for (int threads : {2, 3, 8}) {
    // Batches smaller than, equal to and not divisible by the thread count.
    for (Index n : {Index(1), Index(2), Index(3), Index(6)}) {
      const Case cases[] = {
          {n, 4, 8, 12, 15, 3, 3, Conv2dOptions().padding(1), true, "3x3"},
          {n, 3, 7, 13, 17, 3, 3,
           Conv2dOptions().stride(2).padding(1).padding_mode(PaddingMode::reflect), true,
           "stride 2 reflect"},
          {n, 4, 4, 9, 10, 3, 3, Conv2dOptions().groups(4).padding(1), true, "depthwise"},
          {n, 16, 16, 9, 10, 3, 3, Conv2dOptions().padding(1).padding_mode(PaddingMode::replicate),
           false, "3x3 replicate (Winograd, padded input gradient)"},
      };
      for (const Case& c : cases) {
        INFO("threads " << threads << ", batch " << n);
        for (const Conv2dPath& path : kAllPaths) {
          const support::ForcePath force(path, threads);
          check_case<float>(c, nullptr, 11);
        }
      }
    }
  }
}

TEST_CASE("threaded conv2d and its gradients are the same to the bit from run to run",
          "[conv2d][fast][threads]") {
  // Per-thread partial sums (weight gradient, shared input-gradient workspaces) must cover the
  // same items in the same order on every run, or training is not reproducible.
  for (int threads : {2, 3, 8}) {
    for (Index n : {Index(1), Index(3), Index(8)}) {
      std::mt19937 gen(17);
      const Tensor<float> x = support::uniform_tensor<float>(n, 16, 14, 13, gen);
      const Tensor<float> w = support::uniform_tensor<float>(16, 16, 3, 3, gen);
      const Tensor<float> dy = support::uniform_tensor<float>(n, 16, 14, 13, gen);
      const Conv2dOptions opts = Conv2dOptions().padding(1);
      for (const Conv2dPath& path : kAllPaths) {
        INFO("threads " << threads << ", batch " << n << ", path " << support::path_name(path));
        const support::ForcePath force(path, threads);
        const Conv2dGrads<float> first = convtape::conv2d_backward(x, w, dy, opts);
        for (int run = 0; run < 5; ++run) {
          const Conv2dGrads<float> again = convtape::conv2d_backward(x, w, dy, opts);
          CHECK(again.weight.flat() == first.weight.flat());
          CHECK(again.input.flat() == first.input.flat());
        }
      }
    }
  }
}

TEST_CASE("conv2d called inside a parallel region runs single-threaded and stays correct",
          "[conv2d][fast][threads]") {
  const Case c{3, 4, 8, 12, 15, 3, 3, Conv2dOptions().padding(1), true, "nested"};
  int failures = 0;
#pragma omp parallel num_threads(2) reduction(+ : failures)
  {
    std::mt19937 gen(3);
    const Tensor<float> x = support::uniform_tensor<float>(c.n, c.c_in, c.h, c.w, gen);
    const Tensor<float> w = support::uniform_tensor<float>(c.c_out, c.c_in, c.kh, c.kw, gen);
    const VectorX<float> b = VectorX<float>::Ones(c.c_out);
    const Tensor<float> y = convtape::conv2d(x, w, b, c.opts);
    const Tensor<float> r = convtape::reference::conv2d(x, w, b, c.opts);
    for (Index i = 0; i < y.size(); ++i) {
      if (std::abs(y.data()[i] - r.data()[i]) > support::tolerance<float>(36, kMagnitude))
        ++failures;
    }
  }
  CHECK(failures == 0);
}
#endif

TEST_CASE("every conv2d path is exact on integer tensors", "[conv2d][fast]") {
  // Small integers keep every sum exact, so any difference is a wrong index or a wrong
  // transform (Winograd's halves would round; it must hand integers to implicit_gemm).
  std::mt19937 gen(17);
  std::uniform_int_distribution<int> u(-3, 3);
  Tensor<int> x(2, 16, 9, 10);
  Tensor<int> w(16, 16, 3, 3);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = u(gen);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = u(gen);
  const VectorX<int> b = VectorX<int>::Constant(16, 2);
  const Conv2dOptions opts = Conv2dOptions().padding(1);
  // Winograd's halves would round integers: the model never picks it for them.
  CHECK(support::chosen_path(x, w, opts) != Conv2dPath::winograd);
  const Tensor<int> want = convtape::reference::conv2d(x, w, b, opts);
  Tensor<int> dy(want.shape());
  for (Index i = 0; i < dy.size(); ++i) dy.data()[i] = u(gen);
  const Conv2dGrads<int> want_grads = convtape::reference::conv2d_backward(x, w, dy, opts);
  for (const Conv2dPath& path : kAllPaths) {
    INFO("path " << support::path_name(path));
    const support::ForcePath force(path);
    const Tensor<int> y = convtape::conv2d(x, w, b, opts);
    const Conv2dGrads<int> g = convtape::conv2d_backward(x, w, dy, opts);
    CHECK(y.flat() == want.flat());
    CHECK(g.input.flat() == want_grads.input.flat());
    CHECK(g.weight.flat() == want_grads.weight.flat());
    CHECK(g.bias == want_grads.bias);
  }
}

TEST_CASE("conv2d_backward still rejects a grad_out of the wrong shape", "[conv2d][fast]") {
  const Tensor<float> x(2, 3, 8, 8);
  const Tensor<float> w(4, 3, 3, 3);
  const Tensor<float> bad(2, 4, 8, 8);  // valid output is 6 x 6
  CHECK_THROWS_AS(convtape::conv2d_backward(x, w, bad), convtape::shape_error);
}

}  // namespace
