// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Optional OpenMP parallelism for the batched kernels. Compiled with OpenMP (-fopenmp), the loops
// handed to `parallel_for` are split over a team of threads; without it, or when called from
// inside a parallel region the caller already opened, they run on the calling thread. Exactly one
// level of parallelism is ever active: nothing inside a `parallel_for` body may open another team
// (the kernels below never call Eigen's own multi-threaded GEMM), so threads are never
// oversubscribed. The batched kernels schedule their work over the images of a batch through
// `run_batch`. Not for direct inclusion.

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

/// How a batched kernel uses the threads: whole images per thread when there are enough images,
/// else the work of one image at a time cut into `chunks` pieces shared by the threads.
struct BatchSchedule {
  int threads = 1;
  bool per_image = true;
  Index chunks = 1;
  /// Image workspaces needed: one per thread, or one shared.
  int slots() const { return per_image ? threads : 1; }
};

inline BatchSchedule batch_schedule(Index batch) {
  BatchSchedule b;
  b.threads = available_threads();
  b.per_image = b.threads == 1 || batch % b.threads == 0 || batch >= Index{4} * b.threads;
  b.chunks = b.per_image ? 1 : 4 * b.threads;
  return b;
}

/// For every image n: `prepare(n, slot)`, `work(n, item, slot, thread)` for every item in
/// [0, items), then `finish(n, slot)`; `slot` names the image workspace, `thread` the calling
/// thread. Images run in parallel in the per-image schedule, the items of an image otherwise.
template <class Prepare, class Work, class Finish>
void run_batch(const BatchSchedule& b, Index batch, Index items, Prepare&& prepare, Work&& work,
               Finish&& finish) {
  if (b.per_image) {
    parallel_for(batch, b.threads, [&](Index n, int thread) {
      prepare(n, thread);
      for (Index i = 0; i < items; ++i) work(n, i, thread, thread);
      finish(n, thread);
    });
    return;
  }
  for (Index n = 0; n < batch; ++n) {
    prepare(n, 0);
    parallel_for(items, b.threads, [&](Index i, int thread) { work(n, i, 0, thread); });
    finish(n, 0);
  }
}

}  // namespace convtape::detail
