#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "rtseg/sdk/origin.h"

namespace rtseg::framework {

/// Joins a dotted recipe path: join_path("model", "backbone") == "model.backbone".
std::string join_path(std::string_view parent, std::string_view key);
/// The path of element `index` of the array at `parent`: "stage[1]".
std::string index_path(std::string_view parent, std::size_t index);

/// A recipe as one TOML table plus where every value in it came from.
///
/// Copying a toml::node drops its source position, so origins are kept beside the table, keyed
/// by dotted path ("train.batch", "stage[0].name"); merging moves them with the values.
class RecipeDocument {
 public:
  RecipeDocument() = default;

  /// Parses `file`; `display_name` is how messages name it. Throws ConfigError on syntax errors.
  static RecipeDocument parse_file(const std::filesystem::path& file, const std::string& display_name);
  /// Parses TOML text (tests, inline recipes).
  static RecipeDocument parse_text(std::string_view text, const std::string& display_name);

  toml::table& root() { return root_; }
  const toml::table& root() const { return root_; }

  /// Deep merge: tables merge key by key, anything else is replaced by the overlay's value. A
  /// component table whose `type` differs from the base's replaces the base table whole (a
  /// different plugin has different options).
  void merge(const RecipeDocument& overlay);
  /// Merges `overlay` into the table at `at` (dotted path, created when absent).
  void merge_at(std::string_view at, const toml::table& overlay, const RecipeDocument& origins_from,
                std::string_view origins_prefix);

  /// Sets one value, creating tables along the way. Throws ConfigError when the path crosses a
  /// value that is not a table.
  void set(std::string_view dotted_path, const toml::node& value, const sdk::Origin& origin);
  /// Removes a top-level key and the origins under it.
  void erase(std::string_view key);

  sdk::Origin origin(std::string_view dotted_path) const;
  sdk::OriginLookup origin_lookup() const;

  /// Files merged into this document, base first (the last is the file the user named).
  std::vector<std::string> files;

 private:
  static RecipeDocument from_table(toml::table&& table, const std::string& display_name);
  void record_origins(const toml::node& node, const std::string& path, const std::string& file);
  void erase_origins(std::string_view path);
  void copy_origins(const RecipeDocument& from, std::string_view from_path, std::string_view to_path);
  void merge_table(toml::table& base, const toml::table& overlay, const std::string& path,
                   const RecipeDocument& from, const std::string& from_path);

  toml::table root_;
  std::map<std::string, sdk::Origin, std::less<>> origins_;
};

}  // namespace rtseg::framework
