#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rtseg/sdk/components/dataset.h"

namespace rtseg::plugins::yolo_seg {

/// Coordinates may lie this far outside [0, 1] (rounding in exporters); they are clamped.
inline constexpr double kCoordinateTolerance = 0.01;

struct LabelRows {
  std::vector<sdk::Annotation> annotations;  ///< ids not set; label = class index
  std::vector<std::string> problems;         ///< "line 3: ...; skipped"
};

/// Reads an Ultralytics label file: one object per line, `class x1 y1 x2 y2 ...` (a polygon of at
/// least 3 points) or `class cx cy w h` (a box), all normalised to the image.
///
/// Coordinates become pixels of a `width` x `height` image. A polygon's box is its extent and its
/// area the shoelace area; a box row has no outline (an empty segmentation), is clipped to the
/// image (a centre near an edge puts part of it outside) and has the clipped box's area. Rows
/// with an unknown class, an odd number of coordinates, fewer than 3 points, a value that is not a
/// finite number or lies outside [0, 1] by more than kCoordinateTolerance, zero area, or that
/// repeat an earlier row are skipped and described in `problems`.
LabelRows parse_label_rows(std::string_view text, std::int64_t class_count, std::int64_t width,
                           std::int64_t height);

}  // namespace rtseg::plugins::yolo_seg
