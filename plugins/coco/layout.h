#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "options.h"

namespace rtseg::plugins::coco {

/// Where one split's annotation file and images are.
struct SplitSource {
  std::string name;  ///< "train", "valid" or "test"
  std::filesystem::path json;
  std::filesystem::path images;  ///< file_name entries resolve against this folder
  std::string display;           ///< the JSON's path relative to the dataset folder, for messages
};

/// Finds the splits of the dataset at `root` (options.path resolved against the recipe folder).
///
/// In order: the custom layout when any `*_json` option is set (only those splits); Roboflow's
/// `<root>/{train,valid,test}/_annotations.coco.json` (a `val` folder is taken for `valid` when
/// there is no `valid`), images beside each file; COCO's `<root>/annotations/instances_<name>.json`
/// with images in `<root>/<name>/`, where a name starting with train, val or test gives that split
/// (instances_val2017.json -> "valid"). Throws sdk::ConfigError naming what was looked for when
/// none fits, or when a split has two candidate files (instances_train2014 and _train2017).
std::vector<SplitSource> find_splits(const CocoOptions& options, const std::filesystem::path& root);

}  // namespace rtseg::plugins::coco
