#pragma once

#include <torch/types.h>

#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// `x` in the precision autocast gives an fp32 matmul input on its device, or `x` itself where
/// autocast is off there (or `x` is not fp32). For an activation read by several matmuls: autocast
/// casts it again for each of them, and each holds its own copy for backward; cast once here,
/// they all hold the same tensor.
RTSEG_SDK_API torch::Tensor autocast_input(const torch::Tensor& x);

}  // namespace rtseg::sdk
