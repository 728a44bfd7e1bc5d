#pragma once

#include <string>

#include "rtseg/sdk/config_reader.h"

namespace rtseg::plugins::coco {

struct CocoOptions {
  std::string path;                // dataset folder (required); relative to the recipe folder
  std::string train_json;          // custom layout: a split's annotation file (relative to path)
  std::string valid_json;          //   ...
  std::string test_json;           //   ...
  std::string train_images;        // custom layout: a split's image folder (default: JSON's folder)
  std::string valid_images;        //   ...
  std::string test_images;         //   ...
  bool drop_root_category = true;  // leave out Roboflow's unused root category ("none" parent)
  std::string image_check = "lazy";  // "lazy": sizes checked by load(); "header": at build time
  bool allow_outside_files = false;  // file_name entries may lead outside the dataset folder
};

/// Reads the [data] section of a recipe whose type is "coco".
CocoOptions coco_options_from(sdk::ConfigReader& reader);

}  // namespace rtseg::plugins::coco
