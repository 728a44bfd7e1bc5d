#include "rtseg/framework/device_memory.h"

#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>

#include <ATen/ops/empty.h>
#include <torch/cuda.h>

#include <unistd.h>

#if RTSEG_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace rtseg::framework {
namespace {

// A "VmHWM:" / "VmRSS:" line of /proc/self/status, in bytes (0 when unreadable).
std::int64_t proc_status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) != 0) continue;
    long long kib = 0;
    if (std::sscanf(line.c_str() + field.size(), "%lld", &kib) == 1) return kib * 1024;
  }
  return 0;
}

#if RTSEG_WITH_CUDA
// StatType::AGGREGATE, whose namespace moved between LibTorch versions; it is entry 0 in all.
constexpr std::size_t kAggregate = 0;

// The device's index, its caching allocator made ready: the allocator initialises on the first
// CUDA allocation, and its statistics calls refuse a device before that.
c10::DeviceIndex cuda_index(const c10::Device& device) {
  const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
  static std::once_flag allocated;
  std::call_once(allocated, [index] { at::empty({1}, at::TensorOptions().device(c10::kCUDA, index)); });
  return index;
}
#endif

}  // namespace

void reset_peak_memory(const c10::Device& device) {
#if RTSEG_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index(device));
    return;
  }
#endif
  // Writing 5 resets the peak resident set (VmHWM) to the current one (Linux >= 4.0).
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
}

MemoryPeak peak_memory(const c10::Device& device) {
#if RTSEG_WITH_CUDA
  if (device.is_cuda()) {
    using c10::cuda::CUDACachingAllocator::getDeviceStats;
    const auto stats = getDeviceStats(cuda_index(device));
    return {stats.allocated_bytes[kAggregate].peak, stats.reserved_bytes[kAggregate].peak};
  }
#endif
  const std::int64_t peak = proc_status_bytes("VmHWM:");
  return {peak, peak};
}

std::int64_t current_memory(const c10::Device& device) {
#if RTSEG_WITH_CUDA
  if (device.is_cuda()) {
    using c10::cuda::CUDACachingAllocator::getDeviceStats;
    return getDeviceStats(cuda_index(device)).allocated_bytes[kAggregate].current;
  }
#endif
  return proc_status_bytes("VmRSS:");
}

std::int64_t total_memory(const c10::Device& device) {
#if RTSEG_WITH_CUDA
  if (device.is_cuda()) return static_cast<std::int64_t>(at::cuda::getDeviceProperties(cuda_index(device))->totalGlobalMem);
#endif
  return static_cast<std::int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::int64_t>(sysconf(_SC_PAGE_SIZE));
}

void release_cached_memory(const c10::Device& device) {
#if RTSEG_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#else
  (void)device;
#endif
}

void synchronize(const c10::Device& device) {
#if RTSEG_WITH_CUDA
  if (device.is_cuda()) torch::cuda::synchronize(cuda_index(device));
#else
  (void)device;
#endif
}

bool built_with_cuda() { return RTSEG_WITH_CUDA != 0; }

}  // namespace rtseg::framework
