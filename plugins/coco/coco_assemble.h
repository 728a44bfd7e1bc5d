#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "annotation_reader.h"
#include "coco_file.h"

namespace rtseg::plugins::coco {

struct RawImage {
  std::int64_t index = 0;  ///< position in "images"
  sdk::ImageRecord record;
};

struct RawCategory {
  std::int64_t index = 0;  ///< position in "categories"
  CocoCategory category;
};

/// Cross-checks what parse_coco_json() read: sorts images and categories by id, links each
/// annotation to its image and category, and applies the skip rules documented there.
/// Annotations come in a deque: it grows without copying, which matters at 100,000 of them.
CocoFile assemble_coco_file(const std::string& file_name, std::vector<RawImage> images,
                            std::vector<RawCategory> categories,
                            std::deque<RawAnnotation> annotations);

}  // namespace rtseg::plugins::coco
