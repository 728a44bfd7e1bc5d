#pragma once

#include <cstdint>
#include <string>

namespace rtseg::framework {

/// How the process computes on the CPU after configure_cpu_threads().
struct CpuThreads {
  int intra_op = 1;        // LibTorch's intra-op threads (its OpenMP pool)
  std::string blas;        // the BLAS library and its threading, e.g. "OpenBLAS (OpenMP)"
  std::string advice;      // non-empty when a better set-up would make training faster
};

/// Sets LibTorch's intra-op threads to `threads` (every core when 0) and keeps the BLAS library
/// from fighting them for the cores.
///
/// Why: Debian's LibTorch calls the system BLAS. OpenBLAS built for OpenMP runs its threads in
/// LibTorch's own OpenMP pool; OpenBLAS built with pthreads keeps a second pool, whose threads
/// compete with LibTorch's (which spin while they wait) -- on 2 cores a training step then takes
/// ~2x as long. With the pthreads build, BLAS is limited to one thread per call (measured: the
/// quickstart's step 463 -> 245 ms; the OpenMP build: 165-217 ms) and `advice` says what to install.
CpuThreads configure_cpu_threads(std::int64_t threads);

/// For a helper thread (data loading) whose small ATen ops run beside the training thread's:
/// makes this thread's ATen ops single-threaded, leaving the other threads' setting alone.
/// Without it every such thread that reaches a parallel ATen kernel starts an OpenMP team of its
/// own, and the teams fight for the cores (on 2 cores the quickstart's epochs took 12-13 s with
/// 2 loading threads instead of 7-8 s).
void keep_this_thread_serial();

}  // namespace rtseg::framework
