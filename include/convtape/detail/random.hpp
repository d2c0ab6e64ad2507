// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Seeded random numbers that are the same on every platform. The bits of std::mt19937_64 are
// fixed by the standard, but std::uniform_real_distribution and std::normal_distribution are
// implementation-defined, so the transforms from bits to reals are written out here. Not for
// direct inclusion.

#include <cmath>
#include <cstdint>
#include <random>

namespace convtape::detail {

/// Uniform double in [0, 1): the top 53 bits of one engine output, scaled by 2^-53 (exact).
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// Two independent standard normal samples from two uniforms (Box-Muller). Bit-for-bit
/// reproducible wherever the C library's log, sqrt, cos and sin agree (sqrt always does).
inline void standard_normal_pair(std::mt19937_64& rng, double& z0, double& z1) {
  const double u1 = 1.0 - uniform01(rng);  // in (0, 1], so the log is finite
  const double u2 = uniform01(rng);
  constexpr double two_pi = 6.283185307179586476925286766559;
  const double r = std::sqrt(-2.0 * std::log(u1));
  z0 = r * std::cos(two_pi * u2);
  z1 = r * std::sin(two_pi * u2);
}

/// Uniform integer in [0, bound) for bound >= 1, without bias: engine outputs below 2^64 mod
/// bound are rejected, so the rest splits evenly into `bound` classes
/// (std::uniform_int_distribution is implementation-defined, this is the same on every platform).
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

/// Fills data[0 .. size) with low + (high - low) * u, one `uniform01` per element, in order.
template <class S, class Size>
void fill_uniform(S* data, Size size, double low, double high, std::mt19937_64& rng) {
  for (Size i = 0; i < size; ++i) data[i] = static_cast<S>(low + (high - low) * uniform01(rng));
}

/// Fills data[0 .. size) with mean + stddev * z, z from `standard_normal_pair` (one pair per two
/// elements, in order; the second of the last pair is dropped for an odd size).
template <class S, class Size>
void fill_normal(S* data, Size size, double mean, double stddev, std::mt19937_64& rng) {
  for (Size i = 0; i < size; i += 2) {
    double z0 = 0;
    double z1 = 0;
    standard_normal_pair(rng, z0, z1);
    data[i] = static_cast<S>(mean + stddev * z0);
    if (i + 1 < size) data[i + 1] = static_cast<S>(mean + stddev * z1);
  }
}

}  // namespace convtape::detail
