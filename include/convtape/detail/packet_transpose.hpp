// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Planes to packets and back: P planes (P the packet size) as one plane of packets whose lane l
// is plane l (`interleave_planes`), and the inverse (`deinterleave_planes`), P samples at a time
// through Eigen's in-register `ptranspose`, so each sample costs about a packet copy. The
// `interleaved` path moves its depthwise blocks through them, `pixel_gemm` its pixel-major sums,
// the weight gradient its transposed output gradient. Not for direct inclusion.

#include <type_traits>
#include <utility>

#include "convtape/core.hpp"
#include "convtape/detail/disable_warnings.hpp"
#include "convtape/detail/gemm.hpp"

namespace convtape::detail {

/// Whether Eigen transposes a square block of packets of type Packet (P of them) in registers.
template <class Packet, int P, class = void>
struct CanTransposePackets : std::false_type {};

template <class Packet, int P>
struct CanTransposePackets<Packet, P,
                           std::void_t<decltype(Eigen::internal::ptranspose(
                               std::declval<Eigen::internal::PacketBlock<Packet, P>&>()))>>
    : std::true_type {};

/// The packet that sample i of a rows x cols plane goes to in an interleaved plane of row pitch
/// `pitch` (in packets), i counted along the plane's rows; advanced one sample at a time without
/// dividing.
class InterleavedCursor {
 public:
  InterleavedCursor(Index cols, Index pitch) : cols_(cols), skip_(pitch - cols) {}
  Index packet() const { return packet_; }
  void next() {
    ++packet_;
    if (++col_ == cols_) {
      col_ = 0;
      packet_ += skip_;
    }
  }

 private:
  Index cols_;
  Index skip_;
  Index col_ = 0;
  Index packet_ = 0;
};

/// Lane l of packet ((i / cols) * pitch + i % cols) of `dst` = planes[l][i], for the samples
/// i < rows * cols of P planes (P the packet size of S), each row-major and contiguous.
template <class S>
void interleave_planes(const S* const* planes, Index rows, Index cols, S* dst, Index pitch) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  const Index size = rows * cols;
  InterleavedCursor at(cols, pitch);
  Index i = 0;
  if constexpr (CanTransposePackets<Packet, P>::value) {
    for (; i + P <= size; i += P) {
      PacketBlock<Packet, P> block;
      for (int l = 0; l < P; ++l) block.packet[l] = ploadu<Packet>(planes[l] + i);
      ptranspose(block);
      for (int q = 0; q < P; ++q, at.next()) pstoreu(dst + at.packet() * P, block.packet[q]);
    }
  }
  for (; i < size; ++i, at.next()) {
    for (int l = 0; l < P; ++l) dst[at.packet() * P + l] = planes[l][i];
  }
}

/// The inverse of `interleave_planes` for the first `lanes` lanes: planes[l][i] = lane l of packet
/// ((i / cols) * pitch + i % cols) of `src` (plus bias[l], where `bias` is not null), for
/// l < lanes and i < rows * cols.
template <class S>
void deinterleave_planes(const S* src, Index rows, Index cols, Index pitch, S* const* planes,
                         Index lanes, const S* bias = nullptr) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  const Index size = rows * cols;
  InterleavedCursor at(cols, pitch);
  Index i = 0;
  if constexpr (CanTransposePackets<Packet, P>::value) {
    for (; i + P <= size; i += P) {
      PacketBlock<Packet, P> block;
      for (int q = 0; q < P; ++q, at.next())
        block.packet[q] = ploadu<Packet>(src + at.packet() * P);
      ptranspose(block);
      for (Index l = 0; l < lanes; ++l) {
        pstoreu(planes[l] + i,
                bias != nullptr ? padd(block.packet[l], pset1<Packet>(bias[l])) : block.packet[l]);
      }
    }
  }
  for (; i < size; ++i, at.next()) {
    for (Index l = 0; l < lanes; ++l) {
      planes[l][i] = src[at.packet() * P + l] + (bias != nullptr ? bias[l] : S(0));
    }
  }
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
