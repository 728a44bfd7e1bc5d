#include "image_evaluation.h"

#include <algorithm>
#include <numeric>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"
#include "segmentation_rle.h"

namespace rtseg::framework::eval::detail {
namespace {

// [D x G] IoUs, detections in `order`; empty when either side is (pycocotools returns []).
std::vector<double> compute_ious(const UnitInput& unit, const std::vector<std::size_t>& order,
                                 IouType iou_type) {
  const auto& gts = unit.ground_truths;
  if (order.empty() || gts.empty()) return {};
  std::vector<bool> is_crowd(gts.size());
  for (std::size_t g = 0; g < gts.size(); ++g) is_crowd[g] = gts[g]->is_crowd;
  if (iou_type == IouType::kBox) {
    std::vector<std::array<double, 4>> dt_boxes, gt_boxes;
    for (std::size_t d : order) dt_boxes.push_back(unit.detections[d]->box_xywh);
    for (const GtAnnotation* gt : gts) {
      if (!gt->has_box) {
        throw sdk::DataError("GT annotation " + std::to_string(gt->id) + " (image " +
                             std::to_string(gt->image_id) + ") has no bbox; bbox evaluation needs one");
      }
      gt_boxes.push_back(gt->box_xywh);
    }
    return sdk::masks::box_iou(dt_boxes, gt_boxes, is_crowd);
  }
  std::vector<sdk::RunLengths> dt_masks, gt_masks;
  for (std::size_t d : order) dt_masks.push_back(detection_rle(*unit.detections[d], *unit.image));
  for (const GtAnnotation* gt : gts) gt_masks.push_back(ground_truth_rle(*gt, *unit.image));
  return sdk::masks::iou(dt_masks, gt_masks, is_crowd);
}

}  // namespace

UnitEvaluation evaluate_unit(const UnitInput& unit, IouType iou_type, bool id0_quirk) {
  // Detections by score, highest first; stable (numpy mergesort), then the top 100.
  std::vector<std::size_t> order(unit.detections.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return unit.detections[a]->score > unit.detections[b]->score;
  });
  if (order.size() > static_cast<std::size_t>(kMaxDetections)) order.resize(kMaxDetections);

  const std::vector<double> ious = compute_ious(unit, order, iou_type);
  const std::size_t dt_count = order.size();
  const std::size_t gt_count = unit.ground_truths.size();

  UnitEvaluation result;
  result.scores.reserve(dt_count);
  for (std::size_t d : order) result.scores.push_back(unit.detections[d]->score);
  result.states.assign(static_cast<std::size_t>(kAreaRangeCount) * kIouThresholdCount * dt_count, 0);

  std::vector<std::size_t> gt_order(gt_count);
  std::vector<char> gt_ignored(gt_count), gt_taken(gt_count);
  std::vector<int> match(dt_count);
  for (int a = 0; a < kAreaRangeCount; ++a) {
    const double low = kAreaRanges[a][0];
    const double high = kAreaRanges[a][1];
    auto outside = [&](double area) { return area < low || area > high; };
    for (std::size_t g = 0; g < gt_count; ++g) {
      const GtAnnotation& gt = *unit.ground_truths[g];
      gt_ignored[g] = gt.is_crowd || outside(gt.area);
      if (!gt_ignored[g]) ++result.non_ignored_gt[a];
    }
    // Non-ignored GTs first, otherwise in source order (stable).
    std::iota(gt_order.begin(), gt_order.end(), 0);
    std::stable_partition(gt_order.begin(), gt_order.end(), [&](std::size_t g) { return !gt_ignored[g]; });

    for (int t = 0; t < kIouThresholdCount; ++t) {
      std::fill(gt_taken.begin(), gt_taken.end(), 0);
      std::uint8_t* states = &result.states[(static_cast<std::size_t>(a) * kIouThresholdCount + t) * dt_count];
      for (std::size_t d = 0; d < dt_count; ++d) {
        int best_gt = -1;
        if (!ious.empty()) {
          double best = std::min(kIouThresholds[t], 1 - 1e-10);
          for (std::size_t g : gt_order) {
            const bool crowd = unit.ground_truths[g]->is_crowd;
            if (gt_taken[g] && !crowd) continue;
            // Matched a regular GT already, and only ignored ones follow: stop.
            if (best_gt > -1 && !gt_ignored[best_gt] && gt_ignored[g]) break;
            const double iou = ious[d * gt_count + g];
            if (iou < best) continue;  // ">=" wins, so on ties the later GT wins
            best = iou;
            best_gt = static_cast<int>(g);
          }
        }
        bool matched = best_gt > -1;
        if (matched) {
          gt_taken[best_gt] = 1;
          // pycocotools records the GT's id, and id 0 reads as "unmatched" from then on.
          if (id0_quirk && unit.ground_truths[best_gt]->id == 0) matched = false;
        }
        const double area = unit.detections[order[d]]->area;
        if (best_gt > -1 && gt_ignored[best_gt]) {
          states[d] = kIgnoredDetection;
        } else if (matched) {
          states[d] = kTruePositive;
        } else {
          states[d] = outside(area) ? kIgnoredDetection : kFalsePositive;
        }
      }
    }
  }
  return result;
}

}  // namespace rtseg::framework::eval::detail
