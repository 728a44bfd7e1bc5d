#pragma once

// pycocotools' computeIoU + evaluateImg for one (image, category): IoUs of the top-100
// detections with the ground truths, then greedy matching per area range and IoU threshold.

#include <array>
#include <cstdint>
#include <vector>

#include "coco_params.h"
#include "rtseg/framework/eval/ground_truth.h"
#include "rtseg/framework/eval/iou_type.h"
#include "rtseg/framework/eval/results.h"

namespace rtseg::framework::eval::detail {

/// The objects of one (image, category), each list in source order.
struct UnitInput {
  const GtImage* image = nullptr;
  std::vector<const GtAnnotation*> ground_truths;
  std::vector<const EvalDetection*> detections;
};

/// What a detection counts as at one area range and IoU threshold.
enum DetectionState : std::uint8_t { kFalsePositive = 0, kTruePositive = 1, kIgnoredDetection = 2 };

struct UnitEvaluation {
  std::vector<double> scores;  ///< the top detections (at most 100), highest score first (stable)
  /// [area range][IoU threshold][detection], DetectionState values.
  std::vector<std::uint8_t> states;
  std::array<std::int64_t, kAreaRangeCount> non_ignored_gt{};  ///< per area range

  std::uint8_t state(int area, int threshold, std::size_t detection) const {
    return states[(static_cast<std::size_t>(area) * kIouThresholdCount + threshold) * scores.size() + detection];
  }
};

/// `id0_quirk`: treat a match with GT id 0 as no match (pycocotools' sentinel).
UnitEvaluation evaluate_unit(const UnitInput& unit, IouType iou_type, bool id0_quirk);

}  // namespace rtseg::framework::eval::detail
