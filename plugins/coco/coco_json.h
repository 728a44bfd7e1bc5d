#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "coco_file.h"

namespace rtseg::plugins::coco {

/// Parses one COCO instances file held in memory (the fuzz target's entry point). `file_name`
/// names the file in errors and problems.
///
/// Throws sdk::DataError for input that cannot be used: invalid or truncated JSON, a value of the
/// wrong type, a missing required field (images, annotations, categories; image id, file_name,
/// width, height; annotation id, image_id, category_id, bbox; category id, name), duplicate image
/// or category ids, and an annotation whose category_id is not a category (as Detectron2 does:
/// such a file disagrees with itself about its classes). Messages name the file and the element,
/// e.g. "train/_annotations.coco.json: annotations[12]: category_id 7 is not in categories
/// (ids: 1, 2, 3)".
///
/// Skips, and lists in CocoFile::problems, annotations that are wrong on their own: unknown
/// image_id, duplicate id, non-finite or non-positive bbox size, non-positive area, an RLE whose
/// size differs from the image's or whose counts do not add up, and a "segmentation" that is a
/// flat list of numbers. Polygons with an odd coordinate count or fewer than 3 points are dropped
/// one by one (Detectron2's rule); the annotation is skipped when none is left. A 4-number polygon
/// is such a degenerate polygon (pycocotools' frPyObjects would take it for a box).
CocoFile parse_coco_json(std::string_view text, const std::string& file_name);

/// Reads `path` and parses it as parse_coco_json() does.
CocoFile load_coco_file(const std::filesystem::path& path, const std::string& file_name);

}  // namespace rtseg::plugins::coco
