#include "rtseg/framework/device_generator.h"

#include <ATen/CPUGeneratorImpl.h>

#if RTSEG_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

namespace rtseg::framework {

at::Generator make_generator(std::uint64_t seed, const c10::Device& device) {
#if RTSEG_WITH_CUDA
  if (device.is_cuda()) {
    at::Generator generator = at::make_generator<at::CUDAGeneratorImpl>(device.has_index() ? device.index() : 0);
    generator.set_current_seed(seed);
    return generator;
  }
#else
  (void)device;
#endif
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

}  // namespace rtseg::framework
