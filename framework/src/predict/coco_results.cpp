#include "rtseg/framework/predict/coco_results.h"

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::framework {

void append_coco_results(nlohmann::json& entries, const ImageDetections& detections,
                         const std::string& file_name, const std::vector<std::int64_t>& category_ids,
                         const std::vector<std::string>& class_names) {
  for (const Detection& detection : detections) {
    std::int64_t category = detection.label;
    if (!category_ids.empty()) {
      if (detection.label < 0 || detection.label >= static_cast<std::int64_t>(category_ids.size())) {
        throw sdk::Error("predicted class " + std::to_string(detection.label) + " has no category id (" +
                         std::to_string(category_ids.size()) + " categories)");
      }
      category = category_ids[static_cast<std::size_t>(detection.label)];
    }
    nlohmann::json entry = {{"image_id", detection.image_id}};
    if (!file_name.empty()) entry["file_name"] = file_name;
    entry["category_id"] = category;
    if (detection.label >= 0 && detection.label < static_cast<std::int64_t>(class_names.size())) {
      entry["category_name"] = class_names[static_cast<std::size_t>(detection.label)];
    }
    entry["bbox"] = {detection.box_xywh[0], detection.box_xywh[1], detection.box_xywh[2], detection.box_xywh[3]};
    entry["score"] = static_cast<double>(detection.score);
    if (detection.mask) {
      entry["segmentation"] = {{"size", {detection.mask->height, detection.mask->width}},
                               {"counts", sdk::masks::to_string(*detection.mask)}};
    }
    entries.push_back(std::move(entry));
  }
}

}  // namespace rtseg::framework
