#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "yaml_subset.h"

namespace rtseg::plugins::yolo_seg {

/// One split as data.yaml names it: image folders, list files (.txt) or image files.
struct SplitEntries {
  std::string name;                  ///< "train", "valid" or "test"
  std::string key;                   ///< the data.yaml key it came from ("val" for "valid")
  std::vector<std::string> entries;  ///< as written
};

/// What rtseg takes from a data.yaml file.
struct DataYaml {
  std::filesystem::path file;  ///< the YAML file
  std::filesystem::path
      base;  ///< split entries resolve against this (`path`, or the file's folder)
  std::vector<SplitEntries>
      splits;  ///< in the order train, valid, test; absent or empty ones left out
  std::vector<std::string> names;  ///< class names, index = class id
};

/// Interprets a parsed data.yaml:
/// * `path` (optional): the dataset root, relative to the YAML's folder;
/// * `train`, `val` (or `valid`), `test`: a string or a list of strings (empty: no such split);
/// * `names`: a list, or a mapping whose keys are exactly 0..N-1 (Ultralytics' form); `nc`
///   (optional) must then equal N. Without names, `nc` gives names class_0 .. class_{nc-1}.
/// Throws sdk::DataError "<file>:<line>: <problem>" otherwise.
DataYaml interpret_data_yaml(const YamlDocument& document, const std::filesystem::path& file);

/// Reads and interprets `file`.
DataYaml read_data_yaml(const std::filesystem::path& file);

}  // namespace rtseg::plugins::yolo_seg
