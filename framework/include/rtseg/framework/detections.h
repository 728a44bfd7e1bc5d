#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "rtseg/sdk/masks.h"

namespace rtseg::framework {

/// One detected object in its source image's pixels: what post-processing produces, what the
/// COCO evaluator scores and what results.json stores (with the category's COCO id).
struct Detection {
  std::int64_t image_id = 0;              ///< sdk::ImageRecord::id
  std::int64_t label = 0;                 ///< index into Dataset::categories()
  float score = 0.0f;                     ///< in [0, 1]
  std::array<double, 4> box_xywh{};       ///< top-left x, y, width, height, source pixels
  std::optional<sdk::RunLengths> mask;    ///< at the source image's size (segmentation models)
};

/// The detections of one image.
using ImageDetections = std::vector<Detection>;

}  // namespace rtseg::framework
