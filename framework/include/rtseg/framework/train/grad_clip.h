#pragma once

#include <vector>

#include <torch/types.h>

namespace rtseg::framework::train {

/// torch.nn.utils.clip_grad_norm_ (L2) with multi-tensor kernels: the gradients' total norm
/// from one _foreach_norm, and all gradients scaled by min(1, max_norm / (norm + 1e-6)) in one
/// _foreach_mul_. Parameters without a gradient are skipped. Returns the total norm before
/// clipping; reading it is the one host synchronisation.
double clip_gradient_norm(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace rtseg::framework::train
