#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "data_yaml.h"
#include "rtseg/sdk/components/dataset.h"

namespace rtseg::plugins::yolo_seg {

struct ImageFiles {
  std::filesystem::path image;
  std::filesystem::path label;  ///< may not exist (an image without objects)
};

/// `file` for messages: relative to `root` (the YAML's folder) when inside it, else in full.
std::string display_path(const std::filesystem::path& file, const std::filesystem::path& root);

/// Ultralytics' rule: the last `/images/` of the path becomes `/labels/`, the extension `.txt`
/// (without an `/images/` folder the label file sits beside the image).
std::filesystem::path label_path_for(const std::filesystem::path& image);

/// The images of one split, sorted by path, with their label files. Each entry is an image folder
/// (searched recursively), a .txt file listing image paths (relative to the list's folder), or one
/// image. Entries resolve against DataYaml::base; an entry `../x` that does not exist there is
/// also tried as `x` (Roboflow writes `train: ../train/images` in a data.yaml that sits in the
/// dataset folder). JPEG and PNG files are used; other image formats are listed in `problems`.
/// Throws sdk::DataError when an entry does not exist, and -- unless `allow_outside_files` -- when
/// an entry or a listed image leads outside the folder of data.yaml (absolute, or ../ out of it).
std::vector<ImageFiles> list_split_images(const DataYaml& data, const SplitEntries& split,
                                          std::vector<sdk::DataProblem>& problems,
                                          bool allow_outside_files = false);

}  // namespace rtseg::plugins::yolo_seg
