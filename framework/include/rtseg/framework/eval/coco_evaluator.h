#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rtseg/framework/eval/ground_truth.h"
#include "rtseg/framework/eval/iou_type.h"
#include "rtseg/framework/eval/results.h"

/// COCO detection / instance-segmentation evaluation with pycocotools' exact semantics
/// (COCOeval.evaluate + accumulate + summarize, default parameters): IoU thresholds
/// linspace(.5, .95, 10), 101 recall points, maxDets 1/10/100, areas all/small/medium/large with
/// inclusive bounds, crowd regions, stable score sorts. See docs/evaluation.md.
namespace rtseg::framework::eval {

struct EvalOptions {
  IouType iou_type = IouType::kBox;
  /// Threads for the per-image work (IoU and matching) and the per-category accumulation.
  int threads = 1;
  /// pycocotools stores the matched GT's id and reads 0 as "unmatched", so a GT annotation with
  /// id 0 can never be a true positive (cocoapi#664). false (default): id 0 is an id like any
  /// other. true: reproduce pycocotools' numbers for such files exactly.
  bool pycocotools_id0_quirk = false;
};

/// The twelve numbers of COCOeval.summarize(), in its order. -1 where nothing was evaluated
/// (no GT in that area range), as pycocotools.
enum Stat {
  kAp = 0, kAp50, kAp75, kApSmall, kApMedium, kApLarge,
  kAr1, kAr10, kAr100, kArSmall, kArMedium, kArLarge, kStatCount
};

struct CategoryMetrics {
  std::int64_t category_id = 0;
  std::string name;
  std::int64_t gt_count = 0;  ///< non-crowd GT annotations on evaluated images
  /// Detectron2's per-category AP: mean precision over IoUs and recall points (area all,
  /// maxDets 100); NaN for a category without (non-crowd) GT.
  double ap = 0;
  double ap50 = 0;  ///< the same at IoU 0.5 only
};

struct CocoMetrics {
  IouType iou_type = IouType::kBox;
  std::array<double, kStatCount> stats{};
  std::vector<CategoryMetrics> categories;  ///< sorted by category id (pycocotools' catIds)
  std::int64_t images = 0;      ///< evaluated images (all GT images)
  std::int64_t detections = 0;  ///< detections on those images, in GT categories
};

/// Evaluates `results` against `ground_truth`. Every GT image and GT category is evaluated, as
/// pycocotools does by default. Throws sdk::DataError for a segm evaluation whose GT or result
/// has no usable segmentation, or a bbox evaluation whose GT has no bbox.
CocoMetrics evaluate_coco(const GroundTruth& ground_truth, const EvalResults& results,
                          const EvalOptions& options);

/// Names of the twelve stats as printed ("AP", "AP50", ..., "ARl").
const std::array<const char*, kStatCount>& stat_names();

}  // namespace rtseg::framework::eval
