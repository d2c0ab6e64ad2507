// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/core.hpp"

#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/internals.hpp"

namespace {

using convtape::conv2d_geometry;
using convtape::conv2d_output_size;
using convtape::Conv2dGeometry;
using convtape::Conv2dOptions;
using convtape::Index;
using convtape::Padding2d;
using convtape::PaddingMode;
using convtape::Size2;
using support::shape_error_message;

TEST_CASE("Size2 is implicit from one number for square sizes", "[core]") {
  const Size2 square = 3;
  CHECK(square.rows == 3);
  CHECK(square.cols == 3);
  const Size2 wide(2, 5);
  CHECK(wide.rows == 2);
  CHECK(wide.cols == 5);
  CHECK(wide == Size2(2, 5));
  CHECK(wide != Size2(5, 2));
  CHECK(Size2() == Size2(0, 0));
  std::ostringstream os;
  os << wide;
  CHECK(os.str() == "2x5");
}

TEST_CASE("Conv2dOptions defaults to a plain valid cross-correlation", "[core][options]") {
  const Conv2dOptions o;
  CHECK(o.stride() == Size2(1, 1));
  CHECK(o.dilation() == Size2(1, 1));
  CHECK(o.padding() == Padding2d{0, 0, 0, 0});
  CHECK_FALSE(o.is_padding_same());
  CHECK(o.padding_mode() == PaddingMode::zeros);
  CHECK(o.groups() == 1);
  CHECK(o.bias());
}

TEST_CASE("Conv2dOptions' chained setters set what their getters read", "[core][options]") {
  const Conv2dOptions o =
      Conv2dOptions().stride(2).dilation(3, 1).padding(1, 2).groups(4).bias(false).padding_mode(
          PaddingMode::circular);
  CHECK(o.stride() == Size2(2, 2));
  CHECK(o.dilation() == Size2(3, 1));
  CHECK(o.padding() == Padding2d{1, 1, 2, 2});
  CHECK(o.groups() == 4);
  CHECK_FALSE(o.bias());
  CHECK(o.padding_mode() == PaddingMode::circular);

  SECTION("padding(n) pads every side by n") {
    CHECK(Conv2dOptions().padding(3).padding() == Padding2d{3, 3, 3, 3});
  }
  SECTION("padding(Size2) pads rows top and bottom, cols left and right") {
    CHECK(Conv2dOptions().padding(Size2(1, 4)).padding() == Padding2d{1, 1, 4, 4});
  }
  SECTION("padding(top, bottom, left, right) sets each side on its own") {
    const Padding2d p = Conv2dOptions().padding(1, 2, 3, 4).padding();
    CHECK(p.top == 1);
    CHECK(p.bottom == 2);
    CHECK(p.left == 3);
    CHECK(p.right == 4);
  }
  SECTION("stride(rows, cols) and stride(Size2)") {
    CHECK(Conv2dOptions().stride(2, 3).stride() == Size2(2, 3));
    CHECK(Conv2dOptions().stride(Size2(4, 1)).stride() == Size2(4, 1));
  }
  SECTION("padding_same replaces explicit padding, and explicit padding replaces same") {
    Conv2dOptions same = Conv2dOptions().padding(1, 2, 3, 4).padding_same();
    CHECK(same.is_padding_same());
    CHECK(same.padding() == Padding2d{});
    same.padding(2);
    CHECK_FALSE(same.is_padding_same());
    CHECK(same.padding() == Padding2d{2, 2, 2, 2});
  }
}

TEST_CASE("to_string names each padding mode", "[core]") {
  CHECK(std::string(convtape::to_string(PaddingMode::zeros)) == "zeros");
  CHECK(std::string(convtape::to_string(PaddingMode::reflect)) == "reflect");
  CHECK(std::string(convtape::to_string(PaddingMode::replicate)) == "replicate");
  CHECK(std::string(convtape::to_string(PaddingMode::circular)) == "circular");
}

TEST_CASE("padded_index maps padded coordinates to the sample each mode reads", "[core][padding]") {
  // Coordinates -5 .. 7 of an axis of 3 samples (0 1 2), written out by hand; -1 is a zero.
  const std::vector<Index> coords = {-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};
  const auto mapped = [&](Index n, PaddingMode mode) {
    std::vector<Index> out;
    for (Index i : coords) out.push_back(support::internals::padded_index(i, n, mode));
    return out;
  };
  SECTION("zeros") {
    CHECK(mapped(3, PaddingMode::zeros) ==
          std::vector<Index>{-1, -1, -1, -1, -1, 0, 1, 2, -1, -1, -1, -1, -1});
  }
  SECTION("reflect: ... 1 2 1 | 0 1 2 | 1 0 1 2 1 ...") {
    CHECK(mapped(3, PaddingMode::reflect) ==
          std::vector<Index>{1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1});
  }
  SECTION("replicate") {
    CHECK(mapped(3, PaddingMode::replicate) ==
          std::vector<Index>{0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2});
  }
  SECTION("circular") {
    CHECK(mapped(3, PaddingMode::circular) ==
          std::vector<Index>{1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1});
  }
  SECTION("a single sample: reflect, replicate and circular all read it") {
    for (PaddingMode mode : {PaddingMode::reflect, PaddingMode::replicate, PaddingMode::circular}) {
      CHECK(mapped(1, mode) == std::vector<Index>(coords.size(), 0));
    }
  }
  SECTION("two samples reflect as 0 1 0 1 ...") {
    CHECK(mapped(2, PaddingMode::reflect) ==
          std::vector<Index>{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1});
  }
}

TEST_CASE("conv2d_geometry computes the output size and keeps the options", "[core][geometry]") {
  // Rows: 7 + 1 + 0 padded = 8, a 3-row kernel with dilation 2 spans 5, stride 2: starts 0 and 2.
  // Cols: 9 + 2 + 1 padded = 12, a 2-col kernel spans 2, stride 3: starts 0, 3, 6 and 9.
  const Conv2dOptions opts = Conv2dOptions()
                                 .stride(2, 3)
                                 .padding(1, 0, 2, 1)
                                 .dilation(2, 1)
                                 .padding_mode(PaddingMode::replicate);
  const Conv2dGeometry g = conv2d_geometry(7, 9, 3, 2, opts);
  CHECK(g.in_rows == 7);
  CHECK(g.in_cols == 9);
  CHECK(g.kernel_rows == 3);
  CHECK(g.kernel_cols == 2);
  CHECK(g.stride == Size2(2, 3));
  CHECK(g.dilation == Size2(2, 1));
  CHECK(g.pad == Padding2d{1, 0, 2, 1});
  CHECK(g.mode == PaddingMode::replicate);
  CHECK(g.padded_rows() == 8);
  CHECK(g.padded_cols() == 12);
  CHECK(g.has_padding());
  CHECK(g.out_rows == 2);
  CHECK(g.out_cols == 4);
  CHECK(conv2d_output_size({7, 9}, {3, 2}, opts) == Size2(2, 4));

  SECTION("the notebook's sizes: 3x3 with 2x2 gives 2x2, 6x8 with 1x2 gives 6x7") {
    CHECK(conv2d_output_size(3, 2) == Size2(2, 2));
    CHECK(conv2d_output_size({6, 8}, {1, 2}) == Size2(6, 7));
    CHECK_FALSE(conv2d_geometry(6, 8, 1, 2, {}).has_padding());
  }
  SECTION("a kernel exactly as large as the padded, dilated input gives one sample") {
    CHECK(conv2d_output_size({4, 5}, {2, 2}, Conv2dOptions().padding(0, 1, 0, 0).dilation(4)) ==
          Size2(1, 1));
  }
  SECTION("transposed() swaps every row quantity with its column counterpart") {
    const Conv2dGeometry t = g.transposed();
    CHECK(t.in_rows == 9);
    CHECK(t.in_cols == 7);
    CHECK(t.kernel_rows == 2);
    CHECK(t.kernel_cols == 3);
    CHECK(t.stride == Size2(3, 2));
    CHECK(t.dilation == Size2(1, 2));
    CHECK(t.pad == Padding2d{2, 1, 1, 0});
    CHECK(t.out_rows == 4);
    CHECK(t.out_cols == 2);
    CHECK(t.mode == PaddingMode::replicate);
  }
}

TEST_CASE("padding_same splits as TensorFlow does and gives ceil(in / stride) outputs",
          "[core][geometry][same]") {
  // Each row worked by hand: out = ceil(in / s), total = max((out - 1) * s + d * (k - 1) + 1 - in,
  // 0), before = total / 2, after = the rest (the odd one at the bottom/right).
  struct Case {
    Index in, kernel, stride, dilation, before, after, out;
  };
  const Case cases[] = {
      {5, 3, 1, 1, 1, 1, 5},  // odd kernel: symmetric
      {5, 4, 1, 1, 1, 2, 5},  // even kernel: the extra row after
      {5, 2, 1, 1, 0, 1, 5},  //
      {6, 3, 2, 1, 0, 1, 3},  // (3 - 1) * 2 + 3 = 7 = 6 + 1
      {5, 3, 2, 1, 1, 1, 3},  // 7 = 5 + 2
      {6, 2, 2, 1, 0, 0, 3},  // stride tiles the input exactly: no padding
      {4, 1, 3, 1, 0, 0, 2},  // 1x1 kernel never pads
      {7, 3, 2, 2, 2, 2, 4},  // dilated span 5: 3 * 2 + 5 = 11 = 7 + 4
      {5, 4, 2, 3, 4, 5, 3},  // dilated span 10: 2 * 2 + 10 = 14 = 5 + 9
      {1, 5, 1, 1, 2, 2, 1},  // kernel larger than the input
      {2, 2, 3, 1, 0, 0, 1},  // stride larger than the input
  };
  for (const Case& c : cases) {
    INFO("in " << c.in << ", kernel " << c.kernel << ", stride " << c.stride << ", dilation "
               << c.dilation);
    const Conv2dOptions opts =
        Conv2dOptions().padding_same().stride(c.stride, 1).dilation(c.dilation, 1);
    // Rows carry the case; columns a fixed 4-wide input with a 3-wide kernel (pad 1 and 1).
    const Conv2dGeometry g = conv2d_geometry(c.in, 4, c.kernel, 3, opts);
    CHECK(g.pad.top == c.before);
    CHECK(g.pad.bottom == c.after);
    CHECK(g.out_rows == c.out);
    CHECK(g.pad.left == 1);
    CHECK(g.pad.right == 1);
    CHECK(g.out_cols == 4);
    // The same case along the columns.
    const Conv2dGeometry t =
        conv2d_geometry(4, c.in, 3, c.kernel,
                        Conv2dOptions().padding_same().stride(1, c.stride).dilation(1, c.dilation));
    CHECK(t.pad.left == c.before);
    CHECK(t.pad.right == c.after);
    CHECK(t.out_cols == c.out);
  }
}

TEST_CASE("conv2d_geometry rejects bad shapes and options with a shape_error naming them",
          "[core][geometry][errors]") {
  const auto message = [](Index in_rows, Index in_cols, Index k_rows, Index k_cols,
                          const Conv2dOptions& opts) {
    return shape_error_message(
        [&] { conv2d_geometry(in_rows, in_cols, k_rows, k_cols, opts, "my_function"); });
  };
  const Conv2dOptions none;
  CHECK_THAT(message(0, 4, 2, 2, none), Contains("my_function: input is empty (0x4)"));
  CHECK_THAT(message(3, -1, 2, 2, none), Contains("my_function: input is empty (3x-1)"));
  CHECK_THAT(message(3, 4, 2, 0, none), Contains("my_function: kernel is empty (2x0)"));
  CHECK_THAT(message(3, 4, 4, 2, none),
             Contains("my_function: kernel 4x2 is larger than the input 3x4"));
  CHECK_THAT(message(3, 4, 2, 5, none), Contains("kernel 2x5 is larger than the input 3x4"));
  CHECK_THAT(message(3, 4, 3, 3, Conv2dOptions().dilation(2, 1)),
             Contains("kernel 3x3 with dilation 2x1 is larger than the input 3x4"));
  CHECK_THAT(message(3, 4, 6, 2, Conv2dOptions().padding(1, 1, 0, 0)),
             Contains("kernel 6x2 is larger than the padded input 5x4 (input 3x4, padding (top 1, "
                      "bottom 1, left 0, right 0))"));
  CHECK_THAT(message(3, 4, 2, 2, Conv2dOptions().stride(0, 1)),
             Contains("my_function: stride must be positive") && Contains("got 0x1"));
  CHECK_THAT(message(3, 4, 2, 2, Conv2dOptions().stride(-3)), Contains("got -3x-3"));
  CHECK_THAT(message(3, 4, 2, 2, Conv2dOptions().dilation(1, 0)),
             Contains("my_function: dilation must be positive") && Contains("got 1x0"));
  CHECK_THAT(message(3, 4, 2, 2, Conv2dOptions().padding(0, 0, -1, 0)),
             Contains("my_function: padding must be non-negative") &&
                 Contains("(top 0, bottom 0, left -1, right 0)"));
  CHECK_THAT(message(3, 4, 2, 2, Conv2dOptions().padding(Index(1) << 40)),
             Contains("padding must be non-negative (at most"));
  CHECK_THAT(message(3, 4, 2, 2, Conv2dOptions().dilation(Index(1) << 40)),
             Contains("dilation must be positive (at most"));
  CHECK_THAT(shape_error_message([] {
               conv2d_output_size({2, 2}, {3, 3});
             }),
             Contains("conv2d_output_size: kernel 3x3 is larger than the input 2x2"));
}

TEST_CASE("conv2d_geometry rejects absurd extents and paddings before any overflow",
          "[core][geometry][errors][overflow]") {
  const Index max_index = std::numeric_limits<Index>::max();
  const auto message = [](Index in_rows, Index in_cols, Index k_rows, Index k_cols,
                          const Conv2dOptions& opts) {
    return shape_error_message(
        [&] { conv2d_geometry(in_rows, in_cols, k_rows, k_cols, opts, "my_function"); });
  };
  SECTION("a padded plane of more than 2^32 elements (used to reach the allocator)") {
    const Index p = Index(1) << 30;
    CHECK_THAT(message(1, 1, 1, 1, Conv2dOptions().padding(p)),
               Contains("my_function: padded input 2147483649x2147483649 (input 1x1, padding "
                        "(top 1073741824, bottom 1073741824, left 1073741824, right 1073741824)) "
                        "has more than 4294967296 elements"));
    // The bound is inclusive: 65536 x 65536 = 2^32 elements is accepted, one more row is not.
    const Conv2dGeometry g =
        conv2d_geometry(1, 1, 1, 1, Conv2dOptions().padding(0, 65535, 0, 65535));
    CHECK(g.out_rows == 65536);
    CHECK(g.out_cols == 65536);
    CHECK_THAT(message(1, 1, 1, 1, Conv2dOptions().padding(0, 65536, 0, 65535)),
               Contains("padded input 65537x65536"));
  }
  SECTION("extents near the top of Index (in + padding used to overflow)") {
    CHECK_THAT(message(max_index, 3, 1, 1, Conv2dOptions().padding(2)),
               Contains("my_function: input 9223372036854775807x3 or kernel 1x1 has an extent "
                        "above 4294967296"));
    CHECK_THAT(message(3, 3, max_index, 1, Conv2dOptions()),
               Contains("kernel 9223372036854775807x1 has an extent above"));
    CHECK_THAT(shape_error_message([&] {
                 conv2d_output_size({max_index, max_index}, {1, 1});
               }),
               Contains("conv2d_output_size: input"));
  }
  SECTION("'same' padding of a huge dilated kernel (dilation * (kernel - 1) used to overflow)") {
    const Conv2dOptions same = Conv2dOptions().padding_same().dilation(Index(1) << 30);
    CHECK_THAT(message(4, 4, Index(1) << 32, 1, same), Contains("has more than 4294967296"));
    CHECK_THAT(message(4, 4, Index(1) << 62, 1, same), Contains("has an extent above"));
  }
}

TEST_CASE("shape_error is a std::invalid_argument", "[core][errors]") {
  CHECK_THROWS_AS(conv2d_geometry(0, 1, 1, 1, {}), std::invalid_argument);
  CHECK_THROWS_AS(conv2d_geometry(0, 1, 1, 1, {}), convtape::shape_error);
}

}  // namespace
