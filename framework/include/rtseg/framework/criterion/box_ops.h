#pragma once

#include <torch/types.h>

namespace rtseg::framework::criterion {

/// (cx, cy, w, h) -> (x0, y0, x1, y1) over the last dimension; negative sizes count as 0.
torch::Tensor cxcywh_to_xyxy(const torch::Tensor& boxes);

/// (x0, y0, x1, y1) -> (cx, cy, w, h) over the last dimension.
torch::Tensor xyxy_to_cxcywh(const torch::Tensor& boxes);

/// Areas of (x0, y0, x1, y1) boxes: [..., 4] -> [...].
torch::Tensor box_area(const torch::Tensor& boxes);

/// IoU and union area of every box in `a` [..., N, 4] with every box in `b` [..., M, 4]
/// (xyxy; leading dimensions broadcast): [..., N, M] each.
struct PairwiseIou {
  torch::Tensor iou;
  torch::Tensor union_area;
};
PairwiseIou pairwise_box_iou(const torch::Tensor& a, const torch::Tensor& b);

/// Generalised IoU of every box in `a` [..., N, 4] with every box in `b` [..., M, 4] (xyxy):
/// [..., N, M]. Degenerate boxes give NaN/inf, as in the reference.
torch::Tensor pairwise_generalized_box_iou(const torch::Tensor& a, const torch::Tensor& b);

/// IoU of a[k] with b[k] (xyxy, [K, 4] each): [K]. Equals the diagonal of pairwise_box_iou
/// without computing the K x K matrix.
torch::Tensor paired_box_iou(const torch::Tensor& a, const torch::Tensor& b);

/// Generalised IoU of a[k] with b[k] (xyxy, [K, 4] each): [K].
torch::Tensor paired_generalized_box_iou(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace rtseg::framework::criterion
