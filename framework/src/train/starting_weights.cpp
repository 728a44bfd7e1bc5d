#include "rtseg/framework/train/starting_weights.h"

#include <cctype>
#include <set>

#include <spdlog/spdlog.h>

#include "rtseg/framework/paths.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/rfdetr/checkpoint.h"
#include "rtseg/framework/train/run_folder.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSizeKey = "size";
constexpr std::size_t kMismatchesShown = 5;

bool has_extension(const fs::path& file, const char* extension) {
  std::string text = file.extension().string();
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text == extension;
}

// The advice for a .safetensors file: the recipe of the run it belongs to, of the RF-DETR
// conversion it came from, or of the size its metadata names.
std::string safetensors_recipe(const fs::path& file, const sdk::SafetensorsFile& weights) {
  const fs::path folder = file.parent_path();
  if (folder.filename() == "weights" && fs::is_regular_file(folder.parent_path() / "recipe.toml")) {
    return "the recipe of the run they come from: --recipe " + display_path(folder.parent_path() / "recipe.toml");
  }
  if (fs::is_regular_file(folder / "config.json")) {
    return "`rtseg recipe from-rfdetr " + display_path(folder / "config.json") + " -o recipe.toml`, then --recipe "
           "recipe.toml";
  }
  const auto size = weights.metadata().find(kSizeKey);
  if (size != weights.metadata().end() && !size->second.empty()) {
    return "a model of size '" + size->second + "', which saved them: --size " + size->second;
  }
  return "the recipe of the model that saved them (--size for the shipped sizes)";
}

StartingWeights from_safetensors(const fs::path& file, const std::string& label) {
  StartingWeights weights;
  weights.file = file;
  weights.label = label;
  weights.safetensors = sdk::SafetensorsFile::open(file);
  weights.fitting_recipe = safetensors_recipe(file, *weights.safetensors);
  return weights;
}

// A run's EMA: its last weights, when the run kept an EMA (its resolved recipe says).
StartingWeights run_folder_ema(const RunFolder& run) {
  const RecipeDocument recipe = RecipeDocument::parse_file(run.recipe(), display_path(run.recipe()));
  if (!recipe.root().at_path("train.ema").value_or(true)) {
    throw sdk::ConfigError("--weights_ema: the run " + display_path(run.root()) +
                           " trained without an EMA (train.ema = false); drop --weights_ema to start from its "
                           "best weights.");
  }
  const fs::path last = run.weights_for("last");
  return from_safetensors(last, display_path(last) + " (the run's EMA)");
}

StartingWeights from_run_folder(const fs::path& folder, bool ema) {
  const RunFolder run = RunFolder::open(folder);
  StartingWeights weights = ema ? run_folder_ema(run) : from_safetensors(run.weights_for("best"),
                                                                        display_path(run.weights("best")));
  weights.fitting_recipe = "the run's own recipe: --recipe " + display_path(run.recipe());
  return weights;
}

// An RF-DETR checkpoint: its model, or its EMA (training checkpoints keep one beside the model).
StartingWeights from_checkpoint(const fs::path& file, bool ema) {
  rfdetr::Checkpoint checkpoint = rfdetr::read_checkpoint(file);
  StartingWeights weights;
  weights.file = file;
  weights.label = display_path(file);
  if (ema) {
    if (checkpoint.ema_model.empty()) {
      throw sdk::ConfigError("--weights_ema: " + display_path(file) +
                             " has no ema_model (published weights hold only the model; RF-DETR's training "
                             "checkpoints hold both); drop --weights_ema.");
    }
    weights.tensors = std::move(checkpoint.ema_model);
    weights.label += " (ema_model)";
  } else {
    weights.tensors = std::move(checkpoint.model);
  }
  weights.fitting_recipe = "`rtseg recipe from-rfdetr " + display_path(file) + " -o recipe.toml`, then --recipe "
                           "recipe.toml";
  return weights;
}

std::string shape_list(const std::vector<std::string>& mismatches) {
  std::string text;
  for (std::size_t i = 0; i < mismatches.size() && i < kMismatchesShown; ++i) text += "\n  " + mismatches[i];
  if (mismatches.size() > kMismatchesShown) {
    text += "\n  ... and " + std::to_string(mismatches.size() - kMismatchesShown) + " more";
  }
  return text;
}

[[noreturn]] void throw_mismatch(const StartingWeights& weights, const LoadReport& report) {
  // Only the query tables differ: the model asks for more queries than the weights have.
  bool queries = true;
  for (const auto& line : report.shape_mismatches) {
    queries = queries && (line.find("refpoint_embed.weight:") != std::string::npos ||
                          line.find("query_feat.weight:") != std::string::npos);
  }
  throw sdk::ConfigError(
      "model.weights = " + weights.label + ": " + std::to_string(report.shape_mismatches.size()) +
      (report.shape_mismatches.size() == 1 ? " tensor has" : " tensors have") +
      " another shape than in this recipe's model (another backbone, hidden size or resolution?):" +
      shape_list(report.shape_mismatches) + "\nThe recipe these weights fit: " + weights.fitting_recipe + "." +
      (queries ? "\nThe weights have fewer query rows than num_queries x group_detr: lower --num_queries to at "
                 "most the weights' own."
               : ""));
}

// "segmentation_head.*, transformer.*": the top-level modules `names` fall in.
std::string modules_of(const std::vector<std::string>& names) {
  std::set<std::string> modules;
  for (const auto& name : names) modules.insert(name.substr(0, name.find('.')) + ".*");
  std::string text;
  for (const auto& module : modules) text += (text.empty() ? "" : ", ") + module;
  return text;
}

// "class heads tiled, file [91, 64] -> model [4, 64]": the first resized tensor of one kind.
std::string first_resized(const LoadReport& report, const std::string& how, const std::string& kind) {
  const std::string suffix = " (" + how + ")";
  for (const auto& line : report.resized) {
    if (line.size() <= suffix.size() || line.compare(line.size() - suffix.size(), suffix.size(), suffix)) continue;
    const std::size_t start = line.find(": ") + 2;
    return kind + ", " + line.substr(start, line.size() - suffix.size() - start);
  }
  return "";
}

std::string load_summary(const StartingWeights& weights, const LoadReport& report) {
  std::string text = "initialised from " + weights.label + ": " + std::to_string(report.loaded.size()) +
                     " tensors loaded";
  if (!report.resized.empty()) {
    std::string how;
    for (const auto& part : {first_resized(report, "tiled", "class heads tiled"),
                             first_resized(report, "first rows", "query tables cut to their first rows")}) {
      if (!part.empty()) how += (how.empty() ? "" : "; ") + part;
    }
    text += ", " + std::to_string(report.resized.size()) + " of them resized (" + how + ")";
  }
  text += "; " + std::to_string(report.missing.size()) + " left fresh" +
          (report.missing.empty() ? "" : " (" + modules_of(report.missing) + ")");
  text += "; " + std::to_string(report.unexpected.size()) + " ignored" +
          (report.unexpected.empty() ? "" : " (" + modules_of(report.unexpected) + ")");
  return text;
}

}  // namespace

StartingWeights open_starting_weights(const fs::path& given, bool ema) {
  std::error_code error;
  if (fs::is_directory(given, error)) return from_run_folder(given, ema);
  if (!fs::is_regular_file(given, error)) {
    throw sdk::ConfigError("model.weights = \"" + given.string() +
                           "\" does not exist: give an RF-DETR checkpoint (.pth), a .safetensors file or an rtseg "
                           "run folder.");
  }
  if (has_extension(given, ".safetensors")) {
    if (ema) {
      throw sdk::ConfigError("--weights_ema: " + display_path(given) +
                             " is a .safetensors file, which holds one set of weights; drop --weights_ema (a run "
                             "folder's EMA copy is its weights/last.safetensors).");
    }
    return from_safetensors(given, display_path(given));
  }
  if (has_extension(given, ".pth") || has_extension(given, ".pt")) return from_checkpoint(given, ema);
  throw sdk::ConfigError("model.weights = \"" + given.string() +
                         "\": expected an RF-DETR checkpoint (.pth), a .safetensors file or an rtseg run folder.");
}

LoadReport load_starting_weights(Model& model, const StartingWeights& weights, spdlog::logger& log) {
  LoadOptions options;
  options.strict = false;
  options.resize_class_heads = true;
  // On a mismatch the model is half loaded, but the run stops and nothing uses it.
  const LoadReport report = weights.safetensors ? load_state(model, *weights.safetensors, options)
                                                : load_state(model, weights.tensors, weights.file, options);
  if (!report.shape_mismatches.empty()) throw_mismatch(weights, report);
  log.info("{}", load_summary(weights, report));
  return report;
}

}  // namespace rtseg::framework::train
