#pragma once

#include <torch/types.h>

namespace rtseg::plugins::lwdetr {

/// Applies a predicted delta to reference boxes (cx, cy, w, h), as RF-DETR does everywhere a
/// box is predicted relative to another one. With `bbox_reparam`:
///   cxcy = delta_xy * ref_wh + ref_xy,  wh = exp(delta_wh) * ref_wh
/// otherwise both are logits and simply add: ref + delta.
inline torch::Tensor apply_box_delta(const torch::Tensor& reference, const torch::Tensor& delta,
                                     bool bbox_reparam) {
  if (!bbox_reparam) return reference + delta;
  const torch::Tensor wh = reference.narrow(-1, 2, 2);
  return torch::cat({delta.narrow(-1, 0, 2) * wh + reference.narrow(-1, 0, 2),
                     delta.narrow(-1, 2, 2).exp() * wh},
                    -1);
}

}  // namespace rtseg::plugins::lwdetr
