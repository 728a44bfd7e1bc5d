#include "checkpoint.h"

#include "rtseg/sdk/recompute.h"

namespace rtseg::plugins::dinov2 {

torch::Tensor checkpointed_layer_forward(const std::shared_ptr<VitLayer>& layer,
                                         const torch::Tensor& x, bool full_attention,
                                         const DropPathMasks& masks) {
  // The drop-path masks are drawn once, before the layer, so the recompute uses the same ones.
  const auto function = [layer, full_attention, masks](const std::vector<torch::Tensor>& inputs) {
    return std::vector<torch::Tensor>{layer->forward(inputs[0], full_attention, masks)};
  };
  return sdk::recompute_in_backward(function, {x}, layer->parameters()).front();
}

}  // namespace rtseg::plugins::dinov2
