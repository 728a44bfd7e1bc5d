#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "rtseg/sdk/components/dataset.h"

/// Ground truth for the COCO evaluator, as pycocotools' COCO object holds it: images with their
/// size, categories with their COCO ids, and annotations with the `area` and `iscrowd` the source
/// states (never recomputed). Read from a COCO annotation file or taken from a Dataset split.
namespace rtseg::framework::eval {

struct GtImage {
  std::int64_t id = 0;
  std::int64_t height = 0;  ///< 0 when the file does not say (only segm evaluation needs it)
  std::int64_t width = 0;
};

struct GtCategory {
  std::int64_t id = 0;  ///< COCO category_id
  std::string name;
};

struct GtAnnotation {
  std::int64_t id = 0;  ///< COCO annotation id (0 is allowed; see EvalOptions)
  std::int64_t image_id = 0;
  std::int64_t category_id = 0;
  std::array<double, 4> box_xywh{};
  bool has_box = false;    ///< bbox evaluation needs one
  double area = 0;         ///< as stated by the source; decides small / medium / large
  bool is_crowd = false;   ///< crowd regions are ignored and may absorb many detections
  sdk::Segmentation segmentation;  ///< polygons (at the image's size) or an RLE (its own size)
};

struct GroundTruth {
  std::string source;                   ///< file name or "dataset split 'valid'", for messages
  std::vector<GtImage> images;          ///< in source order
  std::vector<GtCategory> categories;   ///< in source order (= label order for a Dataset)
  std::vector<GtAnnotation> annotations;  ///< in source order (pycocotools' tie order)
};

/// Reads a COCO annotation file (images, categories, annotations). Throws sdk::DataError naming
/// the file and the entry ("gt.json: annotations[12]: missing \"area\"") for anything malformed:
/// invalid JSON, missing or mistyped fields, duplicate image / category / annotation ids, an
/// unreadable RLE. Annotations of images or categories not listed are kept but never evaluated
/// (pycocotools leaves them out too). `iscrowd` defaults to 0; any `ignore` field is disregarded.
GroundTruth load_ground_truth(const std::filesystem::path& file);
/// The same from JSON text; `file_name` is used in messages.
GroundTruth parse_ground_truth(std::string_view json, const std::string& file_name);

/// The ground truth of one split of a dataset (what training evaluates each epoch): images from
/// record(), annotations with their category's COCO id, categories in label order.
GroundTruth ground_truth_from(const sdk::Dataset& dataset, std::string_view split);

}  // namespace rtseg::framework::eval
