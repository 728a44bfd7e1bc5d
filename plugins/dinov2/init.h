#pragma once

#include <torch/types.h>

namespace rtseg::plugins::dinov2 {

/// In place, without autograd: N(mean 0, std) truncated to [-2, 2] (absolute bounds), by
/// inverse-CDF sampling like torch.nn.init.trunc_normal_ with its default bounds.
void trunc_normal_(torch::Tensor tensor, double std);

}  // namespace rtseg::plugins::dinov2
