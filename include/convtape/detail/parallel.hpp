// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Optional OpenMP parallelism for the batched kernels. Compiled with OpenMP (-fopenmp), the loops
// handed to `parallel_for` are split over a team of threads; without it, or when called from
// inside a parallel region the caller already opened, they run on the calling thread. Exactly one
// level of parallelism is ever active: nothing inside a `parallel_for` body may open another team
// (the kernels below never call Eigen's own multi-threaded GEMM), so threads are never
// oversubscribed. Not for direct inclusion.

#include <algorithm>

#include "convtape/core.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace convtape::detail {

/// Threads a `parallel_for` started here would use: the OpenMP team size (`OMP_NUM_THREADS`,
/// `omp_set_num_threads`), or 1 without OpenMP or inside an enclosing parallel region.
inline int available_threads() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

/// Calls `f(i, thread)` for every i in [0, n), spread over `threads` threads (thread ids are in
/// [0, threads), so per-thread workspaces can be indexed by them). Items are split into `threads`
/// contiguous blocks (OpenMP's static schedule), so which thread handles which items, and so the
/// order of every per-thread partial sum, is the same on every run: results are reproducible to
/// the bit for a given thread count (they may differ in the last bits between thread counts).
/// With `threads <= 1` it is a plain loop.
template <class F>
void parallel_for(Index n, int threads, F&& f) {
#ifdef _OPENMP
  if (threads > 1 && n > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Index i = 0; i < n; ++i) f(i, omp_get_thread_num());
    return;
  }
#endif
  (void)threads;
  for (Index i = 0; i < n; ++i) f(i, 0);
}

/// Calls `f(begin, end, thread)` once on each of `threads` threads, thread t taking the items
/// [t * n / threads, (t + 1) * n / threads): OpenMP's static schedule by hand, so that a thread
/// can set up its workspace once before its items and the assignment of items to threads (and so
/// the order of every per-thread partial sum) is the same on every run. Threads beyond `n` are
/// not started. With `threads <= 1`, or inside a parallel region (one level of parallelism only),
/// it is one call on the calling thread.
template <class F>
void parallel_blocks(Index n, int threads, F&& f) {
  const int team = static_cast<int>(std::min<Index>(std::max(threads, 1), std::max<Index>(n, 1)));
#ifdef _OPENMP
  if (team > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(team)
    {
      const Index t = omp_get_thread_num();
      const Index size = omp_get_num_threads();  // the runtime may give fewer than asked
      f(t * n / size, (t + 1) * n / size, static_cast<int>(t));
    }
    return;
  }
#endif
  (void)team;
  f(Index(0), n, 0);
}

}  // namespace convtape::detail
