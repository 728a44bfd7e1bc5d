#include "rtseg/framework/cpu_threads.h"

#include <dlfcn.h>

#include <algorithm>
#include <string>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace rtseg::framework {
namespace {

// What the BLAS library in this process says about itself (OpenBLAS only).
int openblas_parallel_mode() {
  const auto get_parallel = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  return get_parallel ? get_parallel() : -1;
}

int openblas_threads() {
  const auto get_threads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get_threads ? get_threads() : -1;
}

TEST(CpuThreads, SetsLibTorchThreadsAndKeepsBlasFromContending) {
  const int before = at::get_num_threads();
  const CpuThreads configured = configure_cpu_threads(2);
  EXPECT_EQ(configured.intra_op, 2);
  EXPECT_EQ(at::get_num_threads(), 2);
  switch (openblas_parallel_mode()) {
    case 1:  // pthreads: its own pool, limited to one thread, and the user told how to do better
      EXPECT_EQ(openblas_threads(), 1);
      EXPECT_EQ(configured.blas, "OpenBLAS (pthreads, 1 thread per call)");
      EXPECT_NE(configured.advice.find("libopenblas0-openmp"), std::string::npos) << configured.advice;
      break;
    case 2:  // OpenMP: shares LibTorch's pool, nothing to change
      EXPECT_EQ(configured.blas, "OpenBLAS (OpenMP)");
      EXPECT_TRUE(configured.advice.empty());
      break;
    case -1:
      EXPECT_EQ(configured.blas, "not OpenBLAS");
      break;
    default:
      EXPECT_EQ(configured.blas, "OpenBLAS (sequential)");
  }
  at::set_num_threads(before);
}

TEST(CpuThreads, ZeroMeansEveryCore) {
  const int before = at::get_num_threads();
  const CpuThreads configured = configure_cpu_threads(0);
  EXPECT_EQ(configured.intra_op, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(at::get_num_threads(), configured.intra_op);
  at::set_num_threads(before);
}

TEST(CpuThreads, AHelperThreadCanComputeSeriallyWithoutChangingTheOthers) {
  const int before = at::get_num_threads();
  configure_cpu_threads(2);
  int in_helper = 0;
  std::thread helper([&] {
    keep_this_thread_serial();
    in_helper = at::get_num_threads();
    // A kernel large enough to go parallel still computes correctly on one thread.
    const at::Tensor x = at::ones({1 << 20});
    EXPECT_EQ(x.sum().item<double>(), static_cast<double>(1 << 20));
  });
  helper.join();
  if (dlsym(RTLD_DEFAULT, "omp_set_num_threads")) {
    EXPECT_EQ(in_helper, 1);
  }
  EXPECT_EQ(at::get_num_threads(), 2) << "the calling thread keeps its threads";
  at::set_num_threads(before);
}

}  // namespace
}  // namespace rtseg::framework
