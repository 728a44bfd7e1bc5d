#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "rtseg/framework/detections.h"
#include "rtseg/framework/eval/ground_truth.h"
#include "rtseg/framework/eval/iou_type.h"
#include "rtseg/sdk/components/dataset.h"

/// Detections as the COCO evaluator scores them: pycocotools' loadRes output.
namespace rtseg::framework::eval {

struct EvalDetection {
  std::int64_t image_id = 0;
  std::int64_t category_id = 0;  ///< COCO category id
  double score = 0;
  std::array<double, 4> box_xywh{};
  /// Decides the detection's small / medium / large range. loadRes' rule: box w*h when the first
  /// result carries a bbox, else the mask's pixel count.
  double area = 0;
  sdk::Segmentation segmentation;  ///< empty: the box as a polygon (loadRes' fill-in)
};

/// In file order: pycocotools numbers results 1..N in this order and its sorts are stable,
/// so equal scores keep it.
struct EvalResults {
  std::vector<EvalDetection> detections;
};

/// Reads a COCO results file (a JSON list of {image_id, category_id, score, bbox and/or
/// segmentation}) exactly as loadRes does, including the area rule above. Throws sdk::DataError
/// naming the file and entry for malformed JSON or fields, an image_id not in the ground truth
/// ("results.json: entry 12: image_id 7 is not in the GT") and likewise a category_id.
EvalResults load_results(const std::filesystem::path& file, const GroundTruth& ground_truth);
EvalResults parse_results(std::string_view json, const std::string& file_name,
                          const GroundTruth& ground_truth);

/// In-memory detections (labels index `categories`, in label order). Area follows what RF-DETR's
/// evaluation gives pycocotools: box w*h for kBox, the mask's pixel count for kSegm (its segm
/// results carry no bbox). DataError for a label out of range, or for kSegm a detection
/// without a mask.
EvalResults results_from(const std::vector<Detection>& detections,
                         const std::vector<sdk::Category>& categories, IouType iou_type);

}  // namespace rtseg::framework::eval
