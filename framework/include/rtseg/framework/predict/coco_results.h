#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtseg/framework/detections.h"

namespace rtseg::framework {

/// Appends one COCO results entry per detection to `entries` (a JSON array): image_id,
/// file_name (when not empty), category_id (category_ids[label], or the label when category_ids
/// is empty), category_name (class_names[label], when there is one), bbox [x, y, w, h], score,
/// and segmentation {size: [h, w], counts: compressed RLE} when the detection has a mask.
/// Throws sdk::Error for a label without a category id.
void append_coco_results(nlohmann::json& entries, const ImageDetections& detections,
                         const std::string& file_name, const std::vector<std::int64_t>& category_ids,
                         const std::vector<std::string>& class_names = {});

}  // namespace rtseg::framework
