#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_context.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/model_summary.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/weights.h"
#include "rtseg/sdk/safetensors.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::cli {
namespace {

struct InspectOptions {
  std::string recipe;
  std::string weights;
  std::string stage;
  RecipeOptions recipe_options;
  bool json = false;
};

// 12345678 -> "12,345,678"
std::string grouped(std::int64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

void print_text(const framework::ModelSummary& summary, const std::string& stage) {
  std::cout << "stage " << stage << ", resolution " << summary.resolution << "\n\n"
            << std::left << std::setw(10) << "component" << std::setw(20) << "weights prefix"
            << std::right << std::setw(14) << "parameters" << std::setw(14) << "trainable"
            << std::setw(14) << "inference" << "\n";
  auto row = [](const std::string& kind, const std::string& prefix, std::int64_t total,
                std::int64_t trainable, std::int64_t inference) {
    std::cout << std::left << std::setw(10) << kind << std::setw(20) << prefix << std::right
              << std::setw(14) << grouped(total) << std::setw(14) << grouped(trainable)
              << std::setw(14) << grouped(inference) << "\n";
  };
  for (const auto& c : summary.components) {
    row(c.kind, c.prefix.empty() ? "(root)" : c.prefix, c.total, c.trainable, c.inference);
  }
  row("total", "", summary.total, summary.trainable, summary.inference);
  std::cout << "\noutputs for one " << summary.resolution << "x" << summary.resolution
            << " image (eval):\n";
  for (const auto& line : summary.outputs) std::cout << "  " << line << "\n";
  std::ostringstream flops;
  flops << std::fixed << std::setprecision(2) << summary.forward_flops / 1e9;
  std::cout << "\nforward: " << flops.str() << " GFLOPs per image (eval; matrix products and convolutions)\n";
}

void print_json(const framework::ModelSummary& summary, const std::string& stage) {
  nlohmann::json out;
  out["stage"] = stage;
  out["resolution"] = summary.resolution;
  out["params_total"] = summary.total;
  out["params_trainable"] = summary.trainable;
  out["params_inference"] = summary.inference;
  out["forward_gflops"] = summary.forward_flops / 1e9;
  out["outputs"] = summary.outputs;
  out["components"] = nlohmann::json::array();
  for (const auto& c : summary.components) {
    out["components"].push_back({{"kind", c.kind},
                                 {"prefix", c.prefix},
                                 {"params_total", c.total},
                                 {"params_trainable", c.trainable},
                                 {"params_inference", c.inference}});
  }
  std::cout << out.dump(2) << "\n";
}

}  // namespace

void add_inspect_command(CLI::App& app, CliContext& context) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* command = app.add_subcommand(
      "inspect", "Build a recipe's model on the CPU: parameters per component, output shapes, FLOPs");
  command->add_option("--recipe", options->recipe, "Recipe file")->required()->type_name("FILE");
  command->add_option("--stage", options->stage, "Stage of a pipeline (default: the last)")
      ->type_name("NAME");
  command->add_option("--weights", options->weights,
                      "Also load these weights (.safetensors, e.g. from tools/convert_rfdetr.py) "
                      "strictly: any missing, unexpected or mis-shaped tensor is an error")
      ->type_name("FILE");
  command->add_flag("--json", options->json, "Print JSON (params_total, ...)");
  options->recipe_options.add_to(*command);
  command->callback([&context, options] {
    const framework::LoadedRecipe recipe =
        load_recipe_with_plugins(context, options->recipe_options, options->recipe);
    const auto stages = framework::expand_stages(recipe);
    const framework::Stage* stage = &stages.back();
    if (!options->stage.empty()) {
      auto it = std::find_if(stages.begin(), stages.end(),
                             [&](const framework::Stage& s) { return s.name == options->stage; });
      if (it == stages.end()) {
        throw sdk::ConfigError(options->recipe + ": there is no stage named '" + options->stage + "'.");
      }
      stage = &*it;
    }
    const framework::Registry& registry = context.runtime().registry();
    const framework::CheckedRecipe checked = framework::check_recipe(stage->document, registry);
    sdk::BuildContext build_context;
    build_context.logger = context.runtime().logger();
    build_context.recipe_dir = std::filesystem::path(options->recipe).parent_path();
    const auto model = framework::build_model(registry, stage->document, checked, build_context);
    if (!options->weights.empty()) {
      const framework::LoadReport report =
          framework::load_state(*model, sdk::SafetensorsFile::open(options->weights));
      std::cerr << "loaded " << report.loaded.size() << " tensors from " << options->weights
                << " (no missing, unexpected or mis-shaped names)\n";
    }
    const framework::ModelSummary summary = framework::summarize_model(*model, checked.model.resolution);
    if (options->json) {
      print_json(summary, stage->name);
    } else {
      print_text(summary, stage->name);
    }
  });
}

}  // namespace rtseg::cli
