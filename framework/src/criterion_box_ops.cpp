#include "rtseg/framework/criterion/box_ops.h"

namespace rtseg::framework::criterion {
namespace {

torch::Tensor coord(const torch::Tensor& boxes, std::int64_t index) {
  return boxes.select(-1, index);
}

// The shared core of the pairwise and paired forms: `a` and `b` already broadcast against each
// other over their leading dimensions. Works coordinate by coordinate: [..., 2] intermediates
// make every elementwise kernel several times slower.
PairwiseIou iou_of_aligned(const torch::Tensor& a, const torch::Tensor& b,
                           const torch::Tensor& area_a, const torch::Tensor& area_b) {
  const torch::Tensor inter_w =
      (torch::min(coord(a, 2), coord(b, 2)) - torch::max(coord(a, 0), coord(b, 0))).clamp_min(0);
  const torch::Tensor inter_h =
      (torch::min(coord(a, 3), coord(b, 3)) - torch::max(coord(a, 1), coord(b, 1))).clamp_min(0);
  const torch::Tensor inter = inter_w * inter_h;
  torch::Tensor union_area = area_a + area_b - inter;
  return {inter / union_area, union_area};
}

torch::Tensor giou_of_aligned(const torch::Tensor& a, const torch::Tensor& b,
                              const PairwiseIou& iou) {
  const torch::Tensor hull_w =
      (torch::max(coord(a, 2), coord(b, 2)) - torch::min(coord(a, 0), coord(b, 0))).clamp_min(0);
  const torch::Tensor hull_h =
      (torch::max(coord(a, 3), coord(b, 3)) - torch::min(coord(a, 1), coord(b, 1))).clamp_min(0);
  const torch::Tensor hull = hull_w * hull_h;
  return iou.iou - (hull - iou.union_area) / hull;
}

}  // namespace

torch::Tensor cxcywh_to_xyxy(const torch::Tensor& boxes) {
  const torch::Tensor cx = coord(boxes, 0);
  const torch::Tensor cy = coord(boxes, 1);
  const torch::Tensor half_w = 0.5 * coord(boxes, 2).clamp_min(0.0);
  const torch::Tensor half_h = 0.5 * coord(boxes, 3).clamp_min(0.0);
  return torch::stack({cx - half_w, cy - half_h, cx + half_w, cy + half_h}, -1);
}

torch::Tensor xyxy_to_cxcywh(const torch::Tensor& boxes) {
  const torch::Tensor x0 = coord(boxes, 0);
  const torch::Tensor y0 = coord(boxes, 1);
  const torch::Tensor x1 = coord(boxes, 2);
  const torch::Tensor y1 = coord(boxes, 3);
  return torch::stack({(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0}, -1);
}

torch::Tensor box_area(const torch::Tensor& boxes) {
  return (coord(boxes, 2) - coord(boxes, 0)) * (coord(boxes, 3) - coord(boxes, 1));
}

PairwiseIou pairwise_box_iou(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor a_rows = a.unsqueeze(-2);  // [..., N, 1, 4]
  const torch::Tensor b_cols = b.unsqueeze(-3);  // [..., 1, M, 4]
  return iou_of_aligned(a_rows, b_cols, box_area(a).unsqueeze(-1), box_area(b).unsqueeze(-2));
}

torch::Tensor pairwise_generalized_box_iou(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor a_rows = a.unsqueeze(-2);
  const torch::Tensor b_cols = b.unsqueeze(-3);
  const PairwiseIou iou =
      iou_of_aligned(a_rows, b_cols, box_area(a).unsqueeze(-1), box_area(b).unsqueeze(-2));
  return giou_of_aligned(a_rows, b_cols, iou);
}

torch::Tensor paired_box_iou(const torch::Tensor& a, const torch::Tensor& b) {
  return iou_of_aligned(a, b, box_area(a), box_area(b)).iou;
}

torch::Tensor paired_generalized_box_iou(const torch::Tensor& a, const torch::Tensor& b) {
  return giou_of_aligned(a, b, iou_of_aligned(a, b, box_area(a), box_area(b)));
}

}  // namespace rtseg::framework::criterion
