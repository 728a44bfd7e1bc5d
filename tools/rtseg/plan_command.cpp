// rtseg plan: measure real training steps, fit how memory grows with batch and resolution, print
// the seed's batch x resolution table and the command line that fits a memory budget.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include "cli_context.h"
#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/memory_size.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/train/memory_plan.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/framework/train/step_probe.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::cli {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", bytes / kGiB);
  return text;
}

struct PlanCommand {
  std::string recipe, stage, device, budget;
  std::int64_t resolution = 0;
  bool json = false;
  RecipeOptions recipe_options;
};

void run_plan(CliContext& context, const PlanCommand& command) {
  RecipeOptions recipe_options = command.recipe_options;
  if (command.resolution > 0) recipe_options.overrides.push_back("model.resolution=" + std::to_string(command.resolution));
  const framework::LoadedRecipe loaded = load_recipe_with_plugins(context, recipe_options, command.recipe);
  const auto stages = framework::expand_stages(loaded);
  const framework::Stage* stage = &stages.back();
  for (const auto& candidate : stages) {
    if (candidate.name == command.stage) stage = &candidate;
  }
  if (!command.stage.empty() && stage->name != command.stage) {
    throw sdk::ConfigError(command.recipe + ": there is no stage named '" + command.stage + "'.");
  }
  const framework::Registry& registry = context.runtime().registry();
  const framework::CheckedRecipe recipe = framework::check_recipe(stage->document, registry);
  const torch::Device device = framework::train::resolve_device(command.device.empty() ? recipe.train.device : command.device);

  std::int64_t budget = 0;
  if (!command.budget.empty()) {
    try {
      budget = framework::parse_memory_size(command.budget);
    } catch (const sdk::ConfigError& error) {
      throw sdk::ConfigError(std::string("--budget ") + error.what());
    }
  }
  std::cerr << "measuring training steps of stage '" << stage->name << "' on " << device.str() << " ...\n";
  const framework::train::Plan plan =
      framework::train::plan_stage(registry, *stage, recipe, device, budget, [](const framework::train::MemorySample& s) {
        std::cerr << "  batch " << s.batch << " at " << s.resolution << ": "
                  << (s.peak_bytes > 0 ? gib(static_cast<double>(s.peak_bytes)) + " GiB" : "out of memory") << "\n";
      });
  framework::train::PlanOptions options;
  options.budget_bytes = budget > 0 ? budget : framework::total_memory(device);
  options.effective_batch = recipe.train.batch * recipe.train.accum;
  const std::int64_t side = plan.resolution;
  const std::int64_t divisibility = plan.size_divisibility;

  // The table: batch x resolution, the recipe's side in the middle.
  std::vector<std::int64_t> sides;
  for (const double factor : {2.0 / 3, 5.0 / 6, 1.0, 7.0 / 6, 4.0 / 3}) {
    const auto s = static_cast<std::int64_t>(std::lround(side * factor / divisibility)) * divisibility;
    if (s > 0 && (sides.empty() || s != sides.back())) sides.push_back(s);
  }
  const std::vector<std::int64_t> batches = {1, 2, 4, 8, 16, 32};
  const double usable = static_cast<double>(options.budget_bytes) * (1.0 - options.headroom);
  const bool fitted = plan.measured.size() >= 2;

  nlohmann::json out = {{"stage", stage->name}, {"device", device.str()}, {"amp", recipe.train.amp},
                        {"resolution", side}, {"budget_gib", options.budget_bytes / kGiB},
                        {"effective_batch", options.effective_batch}};
  for (const auto& m : plan.measured) {
    out["measured"].push_back({{"batch", m.batch}, {"resolution", m.resolution}, {"peak_gib", m.peak_bytes / kGiB},
                               {"step_ms", m.step_ms}});
  }
  if (fitted) {
    out["fit"] = {{"fixed_gib", plan.fit.fixed_bytes / kGiB}, {"per_image_gib", plan.fit.per_image_bytes / kGiB},
                  {"exponent", plan.fit.exponent}, {"resolution", plan.fit.resolution}};
    for (const std::int64_t s : sides) {
      for (const std::int64_t b : batches) {
        const double bytes = plan.fit.predict(b, s);
        out["table"].push_back({{"batch", b}, {"resolution", s}, {"peak_gib", bytes / kGiB},
                                {"fits", options.budget_bytes <= 0 || bytes <= usable}});
      }
    }
  }
  out["recommended"] = {{"batch", plan.batch}, {"accum", plan.accum}};
  std::ostringstream line;
  if (plan.batch > 0) {
    line << "rtseg train --recipe " << command.recipe << " --batch " << plan.batch << " --accum " << plan.accum;
    if (command.resolution > 0) line << " --resolution " << command.resolution;
  }
  out["command"] = line.str();
  if (command.json) {
    std::cout << out.dump(2) << "\n";
    return;
  }

  std::cout << "\nstage '" << stage->name << "' on " << device.str() << ", amp " << recipe.train.amp
            << ", largest training size " << side << (recipe.train.multi_scale ? " (multi-scale)" : "") << "\n";
  std::cout << "measured:";
  for (const auto& m : plan.measured) std::cout << " batch " << m.batch << " @ " << m.resolution << " = " << gib(m.peak_bytes) << " GiB;";
  std::cout << "\n";
  if (!fitted) {
    std::cout << "too few measurements to extrapolate (batch 2 did not fit).\n";
  } else {
    std::printf("extrapolated: peak = %s GiB + %s GiB x batch x (resolution / %lld)^%.2f\n\n", gib(plan.fit.fixed_bytes).c_str(),
                gib(plan.fit.per_image_bytes).c_str(), static_cast<long long>(plan.fit.resolution), plan.fit.exponent);
    std::printf("%-12s", "res \\ batch");
    for (const auto b : batches) std::printf("%9lld", static_cast<long long>(b));
    std::printf("   (GiB%s)\n", options.budget_bytes > 0 ? "; x: over the budget less 10 % headroom" : "");
    for (const std::int64_t s : sides) {
      std::printf("%-12lld", static_cast<long long>(s));
      for (const auto b : batches) {
        const double bytes = plan.fit.predict(b, s);
        std::printf("%8s%s", gib(bytes).c_str(), options.budget_bytes > 0 && bytes > usable ? "x" : " ");
      }
      std::printf("\n");
    }
  }
  if (options.budget_bytes > 0) {
    std::cout << "\nbudget " << gib(static_cast<double>(options.budget_bytes)) << " GiB"
              << (budget > 0 ? "" : " (the device's total memory)") << ": ";
    if (plan.batch > 0) {
      std::cout << "batch " << plan.batch << " x accum " << plan.accum << " keeps the effective batch of "
                << options.effective_batch << "\n  " << line.str() << "\n";
    } else {
      std::cout << "even batch 1 does not fit at " << side
                << ": add --gradient_checkpointing, use --amp bf16/fp16 on a GPU, or lower --resolution";
      if (fitted) {
        for (auto it = sides.rbegin(); it != sides.rend(); ++it) {
          if (plan.fit.predict(1, *it) <= usable) {
            std::cout << " (" << *it << " fits)";
            break;
          }
        }
      }
      std::cout << "\n";
    }
  }
}

}  // namespace

void add_plan_command(CLI::App& app, CliContext& context) {
  auto command = std::make_shared<PlanCommand>();
  CLI::App* plan = app.add_subcommand(
      "plan", "Measure training steps and plan batch, accum and resolution for a memory budget");
  plan->add_option("--recipe", command->recipe, "Recipe file")->required()->type_name("FILE");
  plan->add_option("--stage", command->stage, "Stage of a pipeline (default: the last)")->type_name("NAME");
  plan->add_option("--resolution", command->resolution, "Square training size (model.resolution)");
  plan->add_option("--device", command->device, "auto, cpu, cuda or cuda:N (default: the recipe's)");
  plan->add_option("--budget", command->budget, "Memory to fit, e.g. 4GiB (CPU: peak resident set)");
  plan->add_flag("--json", command->json, "Print JSON");
  command->recipe_options.add_to(*plan);
  plan->callback([&context, command] { run_plan(context, *command); });
}

}  // namespace rtseg::cli
