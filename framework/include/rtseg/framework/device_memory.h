#pragma once

#include <cstdint>

#include <c10/core/Device.h>

/// Peak memory of a device, read the same way on every build: the CUDA caching allocator's
/// statistics on a GPU (what Python's torch.cuda.max_memory_allocated/reserved report), the
/// process's peak resident set on the CPU.
namespace rtseg::framework {

struct MemoryPeak {
  std::int64_t allocated = 0;  ///< bytes held by tensors (CPU: peak resident set)
  std::int64_t reserved = 0;   ///< bytes the allocator holds from the device (CPU: same as allocated)

  MemoryPeak max(const MemoryPeak& other) const {
    return {allocated > other.allocated ? allocated : other.allocated,
            reserved > other.reserved ? reserved : other.reserved};
  }
};

/// Starts a new peak window. On the CPU the kernel's peak resident set is reset
/// (/proc/self/clear_refs); where that is not allowed the peak stays the process's lifetime peak.
void reset_peak_memory(const c10::Device& device);

/// The peak since the last reset.
MemoryPeak peak_memory(const c10::Device& device);

/// Bytes in use now (CUDA: allocated by tensors; CPU: resident set).
std::int64_t current_memory(const c10::Device& device);

/// The device's memory: a GPU's total memory, the machine's physical memory for the CPU.
std::int64_t total_memory(const c10::Device& device);

/// Returns the CUDA caching allocator's unused cached blocks to the device (a no-op on the
/// CPU), so that one measurement's cache does not count towards the next's reserved peak.
void release_cached_memory(const c10::Device& device);

/// Waits for the device's queued work (a no-op on the CPU): for timings and memory reads.
void synchronize(const c10::Device& device);

/// Whether this build of rtseg can use CUDA (linked against a CUDA LibTorch).
bool built_with_cuda();

}  // namespace rtseg::framework
