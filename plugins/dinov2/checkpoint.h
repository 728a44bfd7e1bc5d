#pragma once

#include <memory>

#include <torch/types.h>

#include "vit_layer.h"

namespace rtseg::plugins::dinov2 {

/// Runs `layer` without recording its graph and keeps only its input; backward recomputes the
/// layer with grad enabled (same drop-path masks, same autocast state) and back-propagates to the
/// input and to the layer's parameters that require grad. Gradients equal the plain forward's.
///
/// LibTorch has no torch.utils.checkpoint; this is the reentrant variant as a custom autograd
/// Function whose inputs are the tokens and every parameter of the layer, so that the parameters'
/// gradients flow through the normal graph (backward(), autograd::grad() and hooks all work).
/// When nothing needs a gradient it is a plain no-grad forward.
torch::Tensor checkpointed_layer_forward(const std::shared_ptr<VitLayer>& layer,
                                         const torch::Tensor& x, bool full_attention,
                                         const DropPathMasks& masks);

}  // namespace rtseg::plugins::dinov2
