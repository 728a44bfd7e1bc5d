#include "rtseg/framework/recipe.h"

#include <set>

#include "rtseg/framework/registry.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/suggest.h"

namespace rtseg::framework {
namespace {

constexpr const char* kStageKey = "stage";
// Sections a stage may override; everything else in a stage entry is a stage field.
const std::vector<std::string> kStageSections = {"model", "train", "data"};

sdk::ConfigReader reader_for(const RecipeDocument& document) {
  return sdk::ConfigReader(&document.root(), "", "", document.origin_lookup());
}

// How one pass reads component sections.
struct ComponentPolicy {
  const RecipeDocument& document;
  const Registry* registry;          // null: host keys only, plugin keys accepted unread
  bool allow_missing_plugins = false;
  std::vector<std::string>* unchecked = nullptr;  // collects what allow_missing_plugins let by
};

void skip_all_keys(sdk::ConfigReader& section, const RecipeDocument& document) {
  if (const toml::table* table = document.root().at_path(section.path()).as_table()) {
    for (const auto& [key, value] : *table) section.skip(key.str());
  }
}

// Reads a component section through the plugin its `type` names.
ComponentRef read_component(sdk::ConfigReader& section, sdk::ComponentKind kind,
                            const ComponentPolicy& policy) {
  ComponentRef ref;
  ref.kind = kind;
  ref.path = section.path();
  ref.type = section.require<std::string>(
      "type", "the " + std::string(sdk::kind_name(kind)) + " plugin component to use");
  if (!policy.registry) {
    skip_all_keys(section, policy.document);
    return ref;
  }
  if (!policy.registry->contains(kind, ref.type)) {
    if (!policy.allow_missing_plugins) {
      section.fail("type", policy.registry->unknown_name_message(kind, ref.type));
    }
    if (policy.unchecked) {
      policy.unchecked->push_back(section.origin("type").to_string() + ": " + ref.path + ": " +
                                  std::string(sdk::kind_name(kind)) + " '" + ref.type +
                                  "' is not loaded; its options were not checked.");
    }
    skip_all_keys(section, policy.document);
    return ref;
  }
  policy.registry->read_options(kind, ref.type, section);
  return ref;
}

std::optional<ComponentRef> read_optional_component(sdk::ConfigReader& parent,
                                                    std::string_view key, sdk::ComponentKind kind,
                                                    std::string_view doc,
                                                    const ComponentPolicy& policy) {
  if (!parent.has(key)) {
    parent.section(key, doc);  // documents it, and rejects a non-table value
    return std::nullopt;
  }
  return read_component(parent.section(key, doc), kind, policy);
}

// The fields of one [[stage]] entry (its model/train/data sections are overrides, read later).
void read_stage_fields(sdk::ConfigReader& reader, Stage& stage) {
  stage.name = reader.require<std::string>("name", "stage name; names its run folders");
  stage.description = reader.get("description", std::string(), "what the stage does");
  stage.init_from = reader.get("init_from", std::string(),
                               "start from an earlier stage's best weights, or a run folder");
  stage.freeze = reader.get("freeze", std::vector<std::string>{},
                            "components (backbone, decoder, seg_head) or parameter prefixes to freeze");
  for (const auto& section : kStageSections) {
    reader.section(section, "overrides of [" + section + "] for this stage only");
  }
}

CheckedRecipe check_pass(const ComponentPolicy& policy) {
  const RecipeDocument& document = policy.document;
  sdk::ConfigReader root = reader_for(document);
  CheckedRecipe recipe;
  recipe.description = root.get("description", std::string(), "what the recipe is for");
  sdk::ConfigReader& plugins = root.section("plugins", "plugin folders");
  plugins.get("paths", std::vector<std::string>{},
              "more plugin folders or files, relative to this recipe file");

  sdk::ConfigReader& model = root.section("model", "the model");
  recipe.model = model_options_from(model);
  recipe.backbone = read_component(model.section("backbone", "backbone plugin and options"),
                                   sdk::ComponentKind::kBackbone, policy);
  recipe.decoder = read_component(model.section("decoder", "decoder plugin and options"),
                                  sdk::ComponentKind::kDecoder, policy);
  recipe.seg_head = read_optional_component(model, "seg_head", sdk::ComponentKind::kSegHead,
                                            "segmentation head (absent: detector only)", policy);

  sdk::ConfigReader& train = root.section("train", "training settings");
  recipe.train = train_options_from(train);
  recipe.scheduler = read_optional_component(train, "scheduler", sdk::ComponentKind::kScheduler,
                                             "learning-rate schedule (absent: constant)", policy);
  recipe.dataset = read_optional_component(root, "data", sdk::ComponentKind::kDataset,
                                           "dataset plugin and options", policy);
  root.finish();
  return recipe;
}

}  // namespace

CheckedRecipe check_host_keys(const RecipeDocument& document) {
  return check_pass(ComponentPolicy{document, nullptr});
}

CheckedRecipe check_recipe(const RecipeDocument& document, const Registry& registry,
                           const CheckOptions& options) {
  // The host's own keys first, so that a typo in [train] is reported even when a plugin the
  // recipe names is not installed; then every component through its plugin.
  check_pass(ComponentPolicy{document, nullptr});
  std::vector<std::string> unchecked;
  CheckedRecipe recipe =
      check_pass(ComponentPolicy{document, &registry, options.allow_missing_plugins, &unchecked});
  recipe.unchecked = std::move(unchecked);
  return recipe;
}

std::vector<Stage> expand_stages(const LoadedRecipe& recipe) {
  const RecipeDocument& document = recipe.document;
  RecipeDocument base = document;
  base.erase(kStageKey);

  const toml::node* node = document.root().get(kStageKey);
  if (!node) {
    Stage only;
    only.name = "train";
    only.document = std::move(base);
    return {std::move(only)};
  }
  const toml::array* entries = node->as_array();
  if (!entries || entries->empty() || !entries->is_array_of_tables()) {
    throw sdk::ConfigError(document.origin(kStageKey).to_string() +
                           ": stage: expected one or more [[stage]] tables.");
  }

  std::vector<Stage> stages;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const toml::table& entry = *(*entries)[i].as_table();
    const std::string path = index_path(kStageKey, i);
    sdk::ConfigReader reader(&entry, path, "", document.origin_lookup());
    Stage stage;
    read_stage_fields(reader, stage);
    // The override sections are checked as part of the stage's whole recipe; here only the stage
    // fields are.
    for (const auto& section : kStageSections) {
      if (const toml::table* overrides = entry.get_as<toml::table>(section)) {
        sdk::ConfigReader& overrides_reader = reader.section(section, "");
        for (const auto& [key, value] : *overrides) overrides_reader.skip(key.str());
      }
    }
    reader.finish();

    reader.check(!stage.name.empty(), "name", "must not be empty.");
    for (const Stage& earlier : stages) {
      reader.check(earlier.name != stage.name, "name",
                   "stage '" + stage.name + "' is defined twice; stage names must be unique.");
    }
    for (const auto& item : stage.freeze) {
      reader.check(!item.empty(), "freeze", "entries must not be empty.");
    }
    if (!stage.init_from.empty()) {
      std::vector<std::string> earlier_names;
      for (const Stage& earlier : stages) earlier_names.push_back(earlier.name);
      stage.init_from_stage = std::find(earlier_names.begin(), earlier_names.end(),
                                        stage.init_from) != earlier_names.end();
      const bool looks_like_path = stage.init_from.find('/') != std::string::npos;
      reader.check(stage.init_from != stage.name, "init_from",
                   "a stage cannot start from itself; name an earlier stage or a run folder.");
      reader.check(stage.init_from_stage || looks_like_path, "init_from",
                   "'" + stage.init_from + "' is not an earlier stage (earlier stages: " +
                       sdk::join_names(earlier_names) + ")." +
                       sdk::did_you_mean(stage.init_from, earlier_names) +
                       " To start from a run folder, give its path, e.g. runs/detector_nano_384_1.");
    }

    stage.document = base;
    for (const auto& section : kStageSections) {
      if (const toml::table* overrides = entry.get_as<toml::table>(section)) {
        stage.document.merge_at(section, *overrides, document, join_path(path, section));
      }
    }
    apply_overrides(stage.document, recipe.overrides);
    stages.push_back(std::move(stage));
  }
  return stages;
}

std::vector<KeySection> describe_host_keys() {
  std::vector<KeySection> sections;
  // Splits a reader's docs into one table per sub-section ("loss.bbox_weight" -> [train.loss]).
  auto add = [&sections](const std::string& table, const sdk::ConfigReader& reader) {
    KeySection own{table, {}};
    std::vector<KeySection> nested;
    for (sdk::OptionDoc doc : reader.docs()) {
      if (doc.type == "table") continue;
      const std::size_t dot = doc.key.find('.');
      if (dot == std::string::npos) {
        own.keys.push_back(doc);
        continue;
      }
      const std::string sub = "[" + reader.path() + "." + doc.key.substr(0, dot) + "]";
      doc.key = doc.key.substr(dot + 1);
      if (nested.empty() || nested.back().table != sub) nested.push_back(KeySection{sub, {}});
      nested.back().keys.push_back(doc);
    }
    sections.push_back(std::move(own));
    for (auto& section : nested) sections.push_back(std::move(section));
  };
  sdk::ConfigReader model = sdk::ConfigReader::describing("model", "");
  model_options_from(model);
  add("[model]", model);
  sdk::ConfigReader train = sdk::ConfigReader::describing("train", "");
  train_options_from(train);
  add("[train]", train);
  sdk::ConfigReader stage_reader = sdk::ConfigReader::describing("stage", "");
  Stage stage;
  read_stage_fields(stage_reader, stage);
  add("[[stage]]", stage_reader);
  return sections;
}

std::vector<std::filesystem::path> recipe_plugin_paths(const RecipeDocument& document) {
  std::vector<std::filesystem::path> paths;
  const toml::array* list = document.root().at_path("plugins.paths").as_array();
  if (!list) return paths;
  const sdk::Origin origin = document.origin("plugins.paths");
  const std::filesystem::path base =
      origin.file.empty() ? std::filesystem::path(".") : std::filesystem::path(origin.file).parent_path();
  for (const toml::node& item : *list) {
    if (const auto* text = item.as_string()) paths.push_back((base / text->get()).lexically_normal());
  }
  return paths;
}

}  // namespace rtseg::framework
