#include "rtseg/framework/coco_export.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "rtseg/sdk/atomic_file.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::framework {

std::int64_t export_coco(const sdk::Dataset& dataset, const std::filesystem::path& folder,
                         const std::string& image_format) {
  if (image_format != "jpg" && image_format != "png") {
    throw sdk::ConfigError("image format '" + image_format + "' is not one of: jpg, png.");
  }
  const std::vector<sdk::Category> categories = dataset.categories();
  nlohmann::json category_list = nlohmann::json::array();
  for (const auto& category : categories) {
    category_list.push_back({{"id", category.id}, {"name", category.name}, {"supercategory", "object"}});
  }
  std::int64_t written = 0;
  for (const std::string& split : dataset.splits()) {
    const std::int64_t count = dataset.size(split);
    if (count == 0) continue;
    const std::filesystem::path dir = folder / split;
    std::filesystem::create_directories(dir);
    nlohmann::json images = nlohmann::json::array(), annotations = nlohmann::json::array();
    for (std::int64_t i = 0; i < count; ++i) {
      const sdk::Sample sample = dataset.load(split, i);
      const std::string file = "image_" + std::to_string(sample.record.id) + "." + image_format;
      sdk::write_image(dir / file, sample.image);
      images.push_back({{"id", sample.record.id},
                        {"file_name", file},
                        {"width", sample.record.width},
                        {"height", sample.record.height}});
      for (const auto& annotation : sample.annotations) {
        nlohmann::json segmentation;
        if (!annotation.segmentation.polygons.empty()) {
          segmentation = annotation.segmentation.polygons;
        } else if (!annotation.segmentation.rle.counts.empty()) {
          segmentation = {{"size", {annotation.segmentation.rle.height, annotation.segmentation.rle.width}},
                          {"counts", sdk::masks::to_string(annotation.segmentation.rle)}};
        } else {
          segmentation = nlohmann::json::array();
        }
        annotations.push_back({{"id", annotation.id},
                               {"image_id", sample.record.id},
                               {"category_id", categories.at(static_cast<std::size_t>(annotation.label)).id},
                               {"bbox", annotation.box_xywh},
                               {"area", annotation.area},
                               {"iscrowd", annotation.is_crowd ? 1 : 0},
                               {"segmentation", segmentation}});
      }
      ++written;
    }
    const nlohmann::json document = {{"info", {{"description", "written by rtseg"}}},
                                     {"images", images},
                                     {"annotations", annotations},
                                     {"categories", category_list}};
    sdk::write_file_atomically(dir / "_annotations.coco.json", document.dump());
  }
  return written;
}

}  // namespace rtseg::framework
