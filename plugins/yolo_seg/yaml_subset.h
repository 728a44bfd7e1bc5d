#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtseg::plugins::yolo_seg {

/// One top-level value of a data.yaml file.
struct YamlValue {
  enum class Kind { kScalar, kList, kMap, kUnsupported };
  Kind kind = Kind::kScalar;
  std::string scalar;                                        ///< kScalar ("" for an empty value)
  std::vector<std::string> items;                            ///< kList
  std::vector<std::pair<std::string, std::string>> entries;  ///< kMap, in file order
  std::string unsupported;                                   ///< kUnsupported: why
  int line = 0;                                              ///< 1-based line of the key
};

/// The top-level mapping of a data.yaml file.
struct YamlDocument {
  std::string file;  ///< name used in messages
  std::map<std::string, YamlValue> values;
};

/// Reads the subset of YAML that Ultralytics and Roboflow data.yaml files use:
///
/// * a top-level mapping `key: value`, one key per line, starting in column 1;
/// * values that are scalars (plain, 'single' or "double" quoted), flow lists `[a, 'b c']` and
///   flow mappings `{0: a, 1: b}` (either may continue over several lines), block lists
///   (`- a` lines below the key) and block mappings (`0: a` lines indented below the key), each
///   holding scalars only;
/// * `#` comments, blank lines, a leading `---`.
///
/// A value outside the subset (nested collections, block scalars `|` `>`, anchors, aliases, tags)
/// does not stop reading: it becomes a kUnsupported value, and only a caller that needs that key
/// reports it, so extra keys such as Ultralytics' `download:` scripts are harmless. Structural
/// errors (a line that is not `key: value`, a tab in the indentation, an unclosed quote or
/// bracket, a key given twice) throw sdk::DataError "<file>:<line>: <problem>".
YamlDocument parse_yaml_subset(std::string_view text, const std::string& file);

}  // namespace rtseg::plugins::yolo_seg
