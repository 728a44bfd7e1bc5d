#include "options.h"

namespace rtseg::plugins::yolo_seg {

YoloSegOptions yolo_seg_options_from(sdk::ConfigReader& reader) {
  YoloSegOptions options;
  options.path = reader.require<std::string>(
      "path",
      "the dataset's data.yaml (or data.yml), or the folder holding it; relative to the recipe. "
      "Splits come from its train/val/test keys, classes from names");
  options.allow_outside_files = reader.get(
      "allow_outside_files", options.allow_outside_files,
      "let data.yaml and image lists name images outside the folder of data.yaml (absolute paths, ../); "
      "false: a downloaded dataset cannot make rtseg open other files on the machine");
  reader.check(!options.path.empty(), "path", "must not be empty.");
  return options;
}

}  // namespace rtseg::plugins::yolo_seg
