#pragma once

// pycocotools' accumulate() for one category: precision at the 101 recall points and the final
// recall, per IoU threshold, area range and maxDets.

#include <vector>

#include "coco_params.h"
#include "image_evaluation.h"

namespace rtseg::framework::eval::detail {

struct CategoryAccumulation {
  /// [threshold][recall point][area][maxDets], -1 where the category had nothing to evaluate.
  std::vector<double> precision;
  /// [threshold][area][maxDets], -1 likewise.
  std::vector<double> recall;

  static std::size_t precision_index(int t, int r, int a, int m) {
    return ((static_cast<std::size_t>(t) * kRecallThresholdCount + r) * kAreaRangeCount + a) * kMaxDetsCount + m;
  }
  static std::size_t recall_index(int t, int a, int m) {
    return (static_cast<std::size_t>(t) * kAreaRangeCount + a) * kMaxDetsCount + m;
  }
};

/// `units`: the category's evaluated (image, category) units in image-id order.
CategoryAccumulation accumulate_category(const std::vector<const UnitEvaluation*>& units);

}  // namespace rtseg::framework::eval::detail
