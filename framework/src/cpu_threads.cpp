#include "rtseg/framework/cpu_threads.h"

#include <dlfcn.h>

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>

namespace rtseg::framework {
namespace {

// OpenBLAS's own control functions, looked up at run time: the project links the generic BLAS
// interface (libblas.so.3), which may be OpenBLAS, the reference BLAS or another library.
using GetParallelFn = int (*)();
using SetThreadsFn = void (*)(int);

template <typename Fn>
Fn find_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

// openblas_get_parallel(): 0 sequential build, 1 pthreads, 2 OpenMP.
constexpr int kOpenBlasPthreads = 1;
constexpr int kOpenBlasOpenMp = 2;

}  // namespace

CpuThreads configure_cpu_threads(std::int64_t threads) {
  const auto cores = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  CpuThreads result;
  result.intra_op = static_cast<int>(threads > 0 ? threads : cores);
  at::set_num_threads(result.intra_op);

  const auto get_parallel = find_symbol<GetParallelFn>("openblas_get_parallel");
  if (!get_parallel) {
    result.blas = "not OpenBLAS";
    return result;
  }
  switch (get_parallel()) {
    case kOpenBlasOpenMp:
      result.blas = "OpenBLAS (OpenMP)";
      break;
    case kOpenBlasPthreads:
      if (const auto set_threads = find_symbol<SetThreadsFn>("openblas_set_num_threads")) set_threads(1);
      result.blas = "OpenBLAS (pthreads, 1 thread per call)";
      result.advice =
          "OpenBLAS's pthreads build competes with LibTorch's threads for the cores; with its OpenMP build "
          "CPU training runs up to 2x faster (scripts/install-deps.sh installs and selects libopenblas0-openmp)";
      break;
    default:
      result.blas = "OpenBLAS (sequential)";
      break;
  }
  return result;
}

void keep_this_thread_serial() {
  // ATen gives a thread its OpenMP thread count from the process-wide setting the first time the
  // thread asks; let that happen now, then lower this thread's own count (OpenMP keeps one per
  // thread). at::set_num_threads(1) would change the process-wide setting too.
  (void)at::get_num_threads();
  static const auto set_openmp_threads = find_symbol<SetThreadsFn>("omp_set_num_threads");
  if (set_openmp_threads) set_openmp_threads(1);
}

}  // namespace rtseg::framework
