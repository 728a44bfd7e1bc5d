#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/indexed_dataset.h"

namespace rtseg::plugins::coco {

/// A category as the annotation file lists it.
struct CocoCategory {
  std::int64_t id = 0;
  std::string name;
  std::string supercategory;    ///< empty when absent
  std::int64_t references = 0;  ///< annotations that name it (skipped ones included)
};

/// One image and the annotations kept for it, in file order.
/// An image and its annotations; `record.file` is the JSON's file_name, as written.
using CocoImage = sdk::IndexedImage;

/// One annotation file, read and checked.
///
/// Categories are sorted by id; each annotation's `label` is the index of its category in this
/// list (the dataset later maps it to the label of the categories it keeps). Images are sorted by
/// id, as Detectron2 does for reproducible order. Skipped annotations are listed in `problems`.
struct CocoFile {
  std::vector<CocoCategory> categories;
  std::vector<CocoImage> images;
  std::vector<sdk::DataProblem> problems;
  std::int64_t annotation_count = 0;  ///< annotations kept
};

}  // namespace rtseg::plugins::coco
