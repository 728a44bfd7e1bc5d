#pragma once

#include <cstdint>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

namespace rtseg::framework {

/// A random generator of its own (not the global one) on `device`, seeded: a CUDA generator for
/// a CUDA device in a CUDA build, so that random draws of the training step (point sampling in
/// the mask losses) stay on the GPU; the CPU's otherwise.
at::Generator make_generator(std::uint64_t seed, const c10::Device& device);

}  // namespace rtseg::framework
