#include "rtseg/framework/recipe_loader.h"

#include <algorithm>

#include "rtseg/framework/paths.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/suggest.h"

namespace rtseg::framework {
namespace {

using sdk::ConfigError;

bool is_bare_key(std::string_view part) {
  return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool is_variant(const std::filesystem::path& file) {
  return file.parent_path().filename() == "variants";
}

std::vector<std::string> variant_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".toml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::filesystem::path variant_file(const std::filesystem::path& dir, const std::string& size,
                                   const std::string& wanted_by) {
  std::filesystem::path file = dir / (size + ".toml");
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    const auto names = variant_names(dir);
    throw ConfigError(wanted_by + ": there is no size variant '" + size + "' in " +
                      display_path(dir) + "." + sdk::did_you_mean(size, names) +
                      " Sizes: " + sdk::join_names(names) + ".");
  }
  return file;
}

class ChainLoader {
 public:
  explicit ChainLoader(const RecipeRequest& request) : request_(request) {}

  RecipeDocument load(const std::filesystem::path& file, const std::string& referenced_from) {
    const std::string name = display_path(file);
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error)) {
      throw ConfigError((referenced_from.empty() ? name : referenced_from) +
                        ": recipe file '" + name + "' does not exist.");
    }
    const std::filesystem::path key = std::filesystem::weakly_canonical(file, error);
    if (std::find(stack_.begin(), stack_.end(), key) != stack_.end()) {
      std::string cycle;
      for (const auto& step : stack_) cycle += display_path(step) + " -> ";
      throw ConfigError(referenced_from + ": `extends` makes a cycle: " + cycle + name + ".");
    }
    stack_.push_back(key);

    RecipeDocument own = RecipeDocument::parse_file(file, name);
    RecipeDocument merged;
    for (const auto& [base, where] : extends_of(own, file)) {
      std::filesystem::path target = base;
      if (!request_.size.empty() && is_variant(base)) {
        target = variant_file(base.parent_path(), request_.size, where);
        found_variant_ = true;
      }
      merged.merge(load(target, where));
    }
    own.erase("extends");
    merged.merge(own);

    stack_.pop_back();
    return merged;
  }

  bool found_variant() const { return found_variant_; }

 private:
  // The files named by `extends`, with where each was named.
  std::vector<std::pair<std::filesystem::path, std::string>> extends_of(
      const RecipeDocument& document, const std::filesystem::path& file) {
    std::vector<std::pair<std::filesystem::path, std::string>> bases;
    const toml::node* node = document.root().get("extends");
    if (!node) return bases;
    const std::string where = document.origin("extends").to_string();
    auto add = [&](const toml::node& item) {
      const auto* text = item.as_string();
      if (!text || text->get().empty()) {
        throw ConfigError(where + ": extends: expected a path or a list of paths (strings).");
      }
      bases.emplace_back((file.parent_path() / text->get()).lexically_normal(), where);
    };
    if (const toml::array* list = node->as_array()) {
      for (const toml::node& item : *list) add(item);
    } else {
      add(*node);
    }
    return bases;
  }

  const RecipeRequest& request_;
  std::vector<std::filesystem::path> stack_;
  bool found_variant_ = false;
};

}  // namespace

Override parse_override(const std::string& assignment) {
  const std::size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw ConfigError("--set '" + assignment +
                      "': expected KEY=VALUE with a dotted key, e.g. --set train.batch=2.");
  }
  Override result{assignment.substr(0, equals), assignment.substr(equals + 1), ""};
  std::string_view key = result.key;
  std::size_t start = 0;
  while (start <= key.size()) {
    const std::size_t dot = std::min(key.find('.', start), key.size());
    if (!is_bare_key(key.substr(start, dot - start))) {
      throw ConfigError("--set '" + assignment + "': '" + result.key +
                        "' is not a dotted key of letters, digits, '_' and '-'.");
    }
    start = dot + 1;
  }
  return result;
}

void apply_overrides(RecipeDocument& document, const std::vector<Override>& overrides) {
  for (const Override& item : overrides) {
    const std::string shown = item.flag.empty() ? "--set " + item.key + "=" + item.text : item.flag;
    const sdk::Origin origin{"", 0, 0, "command line (" + shown + ")"};
    // A TOML value when it parses as one (4, 1e-4, true, [1, 2], "x"), else the text itself, so
    // that paths and names need no quotes.
    toml::table parsed;
    try {
      parsed = toml::parse("value = " + item.text);
    } catch (const toml::parse_error&) {
      parsed.insert_or_assign("value", item.text);
    }
    document.set(item.key, *parsed.get("value"), origin);
  }
}

LoadedRecipe load_recipe(const RecipeRequest& request) {
  ChainLoader loader(request);
  RecipeDocument document = loader.load(request.file, "");
  if (!request.size.empty() && !loader.found_variant()) {
    if (!request.variants_dir) {
      throw ConfigError("--size " + request.size + ": " + display_path(request.file) +
                        " extends no size variant and the shipped recipes/variants folder was not "
                        "found.");
    }
    const std::filesystem::path file =
        variant_file(*request.variants_dir, request.size, "--size " + request.size);
    RecipeDocument based = ChainLoader(RecipeRequest{}).load(file, "--size " + request.size);
    based.merge(document);
    document = std::move(based);
  }
  apply_overrides(document, request.overrides);
  return LoadedRecipe{std::move(document), request.overrides, request.file};
}

}  // namespace rtseg::framework
