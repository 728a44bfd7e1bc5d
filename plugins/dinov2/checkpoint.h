#pragma once

#include <memory>

#include <torch/types.h>

#include "vit_layer.h"

namespace rtseg::plugins::dinov2 {

/// Runs `layer` without recording its graph and keeps only its input; backward recomputes the
/// layer with grad enabled (same drop-path masks, same autocast state) and back-propagates to the
/// input and to the layer's parameters that require grad. Gradients equal the plain forward's.
/// (sdk::recompute_in_backward, whose node takes the tokens and every parameter of the layer as
/// inputs, so backward(), autograd::grad() and gradient hooks all work.)
torch::Tensor checkpointed_layer_forward(const std::shared_ptr<VitLayer>& layer,
                                         const torch::Tensor& x, bool full_attention,
                                         const DropPathMasks& masks);

}  // namespace rtseg::plugins::dinov2
