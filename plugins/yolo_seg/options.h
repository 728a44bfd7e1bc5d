#pragma once

#include <string>

#include "rtseg/sdk/config_reader.h"

namespace rtseg::plugins::yolo_seg {

struct YoloSegOptions {
  std::string
      path;  // data.yaml / data.yml, or the folder holding it; relative to the recipe's folder
  bool allow_outside_files = false;  // data.yaml and list files may name images outside its folder
};

/// Reads the [data] section of a recipe whose type is "yolo_seg".
YoloSegOptions yolo_seg_options_from(sdk::ConfigReader& reader);

}  // namespace rtseg::plugins::yolo_seg
