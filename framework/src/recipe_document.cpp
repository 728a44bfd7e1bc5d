#include "rtseg/framework/recipe_document.h"

#include <sstream>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework {

std::string join_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

namespace {

bool starts_path(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '.' || path[prefix.size()] == '[';
}

std::string parent_path(std::string_view path) {
  const std::size_t cut = path.find_last_of(".[");
  return cut == std::string_view::npos ? std::string() : std::string(path.substr(0, cut));
}

}  // namespace

RecipeDocument RecipeDocument::from_table(toml::table&& table, const std::string& display_name) {
  RecipeDocument document;
  document.root_ = std::move(table);
  document.files.push_back(display_name);
  document.record_origins(document.root_, "", display_name);
  return document;
}

RecipeDocument RecipeDocument::parse_file(const std::filesystem::path& file,
                                          const std::string& display_name) {
  try {
    return from_table(toml::parse_file(file.string()), display_name);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    throw sdk::ConfigError(display_name + ":" + std::to_string(begin.line) + ":" +
                           std::to_string(begin.column) + ": TOML syntax error: " +
                           std::string(error.description()));
  }
}

RecipeDocument RecipeDocument::parse_text(std::string_view text, const std::string& display_name) {
  try {
    return from_table(toml::parse(text, display_name), display_name);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    throw sdk::ConfigError(display_name + ":" + std::to_string(begin.line) + ":" +
                           std::to_string(begin.column) + ": TOML syntax error: " +
                           std::string(error.description()));
  }
}

void RecipeDocument::record_origins(const toml::node& node, const std::string& path,
                                    const std::string& file) {
  const auto& begin = node.source().begin;
  if (!path.empty()) {
    origins_[path] = sdk::Origin{file, static_cast<std::int64_t>(begin.line),
                                 static_cast<std::int64_t>(begin.column), ""};
  }
  if (const toml::table* table = node.as_table()) {
    for (const auto& [key, child] : *table) record_origins(child, join_path(path, key.str()), file);
  } else if (const toml::array* array = node.as_array()) {
    for (std::size_t i = 0; i < array->size(); ++i) {
      if ((*array)[i].is_table()) record_origins((*array)[i], index_path(path, i), file);
    }
  }
}

void RecipeDocument::erase_origins(std::string_view path) {
  for (auto it = origins_.lower_bound(path); it != origins_.end() && starts_path(it->first, path);) {
    it = origins_.erase(it);
  }
  if (path.empty()) origins_.clear();
}

void RecipeDocument::copy_origins(const RecipeDocument& from, std::string_view from_path,
                                  std::string_view to_path) {
  for (auto it = from.origins_.lower_bound(from_path);
       it != from.origins_.end() && starts_path(it->first, from_path); ++it) {
    std::string suffix = it->first.substr(from_path.size());
    if (to_path.empty() && !suffix.empty() && suffix[0] == '.') suffix.erase(0, 1);
    origins_[std::string(to_path) + suffix] = it->second;
  }
}

void RecipeDocument::merge_table(toml::table& base, const toml::table& overlay,
                                 const std::string& path, const RecipeDocument& from,
                                 const std::string& from_path) {
  for (const auto& [key, value] : overlay) {
    const std::string to = join_path(path, key.str());
    const std::string source = join_path(from_path, key.str());
    toml::node* existing = base.get(key.str());
    const toml::table* overlay_table = value.as_table();
    toml::table* base_table = existing ? existing->as_table() : nullptr;
    bool same_component = true;
    if (overlay_table && base_table) {
      const auto* base_type = base_table->get_as<std::string>("type");
      const auto* overlay_type = overlay_table->get_as<std::string>("type");
      same_component = !base_type || !overlay_type || base_type->get() == overlay_type->get();
    }
    if (overlay_table && base_table && same_component) {
      copy_origins(from, source, to);  // the table header itself
      merge_table(*base_table, *overlay_table, to, from, source);
      continue;
    }
    erase_origins(to);
    base.insert_or_assign(key.str(), value);
    copy_origins(from, source, to);
  }
}

void RecipeDocument::merge(const RecipeDocument& overlay) {
  merge_table(root_, overlay.root_, "", overlay, "");
  for (const auto& file : overlay.files) files.push_back(file);
}

void RecipeDocument::merge_at(std::string_view at, const toml::table& overlay,
                              const RecipeDocument& origins_from, std::string_view origins_prefix) {
  if (overlay.empty()) return;
  toml::table* target = &root_;
  std::string path;
  if (!at.empty()) {
    std::stringstream parts{std::string(at)};
    std::string part;
    while (std::getline(parts, part, '.')) {
      path = join_path(path, part);
      toml::node* child = target->get(part);
      if (!child) child = &target->insert_or_assign(part, toml::table{}).first->second;
      target = child->as_table();
      if (!target) throw sdk::ConfigError("recipe path '" + path + "' is not a table");
    }
  }
  merge_table(*target, overlay, path, origins_from, std::string(origins_prefix));
}

void RecipeDocument::set(std::string_view dotted_path, const toml::node& value,
                         const sdk::Origin& origin) {
  toml::table* target = &root_;
  std::string path;
  std::stringstream parts{std::string(dotted_path)};
  std::string part;
  std::vector<std::string> keys;
  while (std::getline(parts, part, '.')) keys.push_back(part);
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    path = join_path(path, keys[i]);
    toml::node* child = target->get(keys[i]);
    if (!child) {
      child = &target->insert_or_assign(keys[i], toml::table{}).first->second;
      origins_[path] = origin;
    }
    target = child->as_table();
    if (!target) {
      throw sdk::ConfigError(origin.to_string() + ": '" + path +
                             "' is a value, not a table, so '" + std::string(dotted_path) +
                             "' cannot be set.");
    }
  }
  erase_origins(dotted_path);
  target->insert_or_assign(keys.back(), value);
  origins_[std::string(dotted_path)] = origin;
}

void RecipeDocument::erase(std::string_view key) {
  root_.erase(key);
  erase_origins(key);
}

sdk::Origin RecipeDocument::origin(std::string_view dotted_path) const {
  if (auto it = origins_.find(dotted_path); it != origins_.end()) return it->second;
  return sdk::Origin{};
}

sdk::OriginLookup RecipeDocument::origin_lookup() const {
  // Copies the map: the lookup may outlive a temporary document (e.g. in a ConfigReader).
  auto origins = std::make_shared<std::map<std::string, sdk::Origin, std::less<>>>(origins_);
  std::string fallback = files.empty() ? std::string() : files.back();
  // An absent key is reported where its nearest recorded parent is, else at the file.
  return [origins, fallback](std::string_view path) {
    std::string current(path);
    while (!current.empty()) {
      if (auto it = origins->find(current); it != origins->end()) return it->second;
      current = parent_path(current);
    }
    return sdk::Origin{fallback, 0, 0, ""};
  };
}

}  // namespace rtseg::framework
