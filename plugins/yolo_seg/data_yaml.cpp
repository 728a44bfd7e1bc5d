#include "data_yaml.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <optional>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::yolo_seg {
namespace {

[[noreturn]] void fail(const YamlDocument& document, int line, const std::string& problem) {
  throw sdk::DataError(document.file + (line > 0 ? ":" + std::to_string(line) : "") + ": " +
                       problem);
}

const YamlValue* find(const YamlDocument& document, const std::string& key) {
  const auto found = document.values.find(key);
  if (found == document.values.end()) return nullptr;
  if (found->second.kind == YamlValue::Kind::kUnsupported) {
    fail(document, found->second.line,
         key + ": not in the YAML subset rtseg reads (" + found->second.unsupported +
             "); use scalars, and lists or mappings of scalars");
  }
  return &found->second;
}

std::optional<std::int64_t> to_integer(const std::string& text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

std::vector<std::string> strings_of(const YamlDocument& document, const std::string& key,
                                    const YamlValue& value) {
  switch (value.kind) {
    case YamlValue::Kind::kScalar:
      return value.scalar.empty() ? std::vector<std::string>{}
                                  : std::vector<std::string>{value.scalar};
    case YamlValue::Kind::kList:
      return value.items;
    default:
      fail(document, value.line, key + ": expected a path or a list of paths");
  }
}

std::vector<std::string> names_from_map(const YamlDocument& document, const YamlValue& value) {
  std::vector<std::string> names(value.entries.size());
  std::vector<bool> given(value.entries.size(), false);
  for (const auto& [key, name] : value.entries) {
    const auto index = to_integer(key);
    if (!index || *index < 0 || *index >= static_cast<std::int64_t>(names.size())) {
      fail(document, value.line,
           "names: keys must be the class ids 0.." + std::to_string(names.size() - 1) + ", got \"" +
               key + "\"");
    }
    if (given[static_cast<std::size_t>(*index)])
      fail(document, value.line, "names: class " + key + " given twice");
    given[static_cast<std::size_t>(*index)] = true;
    names[static_cast<std::size_t>(*index)] = name;
  }
  return names;
}

}  // namespace

DataYaml interpret_data_yaml(const YamlDocument& document, const std::filesystem::path& file) {
  DataYaml data;
  data.file = file;
  data.base = file.parent_path();
  if (const YamlValue* path = find(document, "path")) {
    if (path->kind != YamlValue::Kind::kScalar)
      fail(document, path->line, "path: expected a folder");
    if (!path->scalar.empty()) data.base = data.base / path->scalar;  // an absolute path replaces
  }

  const YamlValue* val = find(document, "val");
  const YamlValue* valid = find(document, "valid");
  if (val && valid) fail(document, valid->line, "give either val or valid, not both");
  const std::pair<const char*, const YamlValue*> splits[] = {{"train", find(document, "train")},
                                                             {"valid", val ? val : valid},
                                                             {"test", find(document, "test")}};
  for (const auto& [name, value] : splits) {
    if (!value) continue;
    const std::string key = value == val ? "val" : name;
    std::vector<std::string> entries = strings_of(document, key, *value);
    if (!entries.empty()) data.splits.push_back({name, key, std::move(entries)});
  }
  if (data.splits.empty()) fail(document, 0, "no split: expected train, val (or valid) or test");

  const YamlValue* names = find(document, "names");
  const YamlValue* nc = find(document, "nc");
  std::optional<std::int64_t> count;
  if (nc) {
    count = nc->kind == YamlValue::Kind::kScalar ? to_integer(nc->scalar) : std::nullopt;
    if (!count || *count <= 0) fail(document, nc->line, "nc: expected a positive integer");
  }
  if (names) {
    if (names->kind == YamlValue::Kind::kList) {
      data.names = names->items;
    } else if (names->kind == YamlValue::Kind::kMap) {
      data.names = names_from_map(document, *names);
    } else {
      fail(document, names->line, "names: expected a list [a, b] or a mapping {0: a, 1: b}");
    }
    if (data.names.empty()) fail(document, names->line, "names: is empty");
    if (count && *count != static_cast<std::int64_t>(data.names.size())) {
      fail(document, nc->line,
           "nc is " + std::to_string(*count) + " but names lists " +
               std::to_string(data.names.size()) + " classes");
    }
  } else if (count) {
    for (std::int64_t i = 0; i < *count; ++i) data.names.push_back("class_" + std::to_string(i));
  } else {
    fail(document, 0, "needs names (or nc)");
  }
  return data;
}

DataYaml read_data_yaml(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw sdk::DataError(file.string() + ": cannot be read");
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  return interpret_data_yaml(parse_yaml_subset(text, file.string()), file);
}

}  // namespace rtseg::plugins::yolo_seg
