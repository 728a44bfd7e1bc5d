#include "options.h"

namespace rtseg::plugins::yolo_seg {

YoloSegOptions yolo_seg_options_from(sdk::ConfigReader& reader) {
  YoloSegOptions options;
  options.path = reader.require<std::string>(
      "path",
      "the dataset's data.yaml (or data.yml), or the folder holding it; relative to the recipe. "
      "Splits come from its train/val/test keys, classes from names");
  reader.check(!options.path.empty(), "path", "must not be empty.");
  return options;
}

}  // namespace rtseg::plugins::yolo_seg
