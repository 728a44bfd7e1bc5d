// rtseg train (one recipe, with the seed's flags) and rtseg run (a pipeline recipe).
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_context.h"
#include "local_launch.h"
#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/eval/coco_evaluator.h"
#include "rtseg/framework/reporting/progress.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::cli {
namespace {

// The seed's command-line knobs, each a recipe value.
struct TrainFlags {
  std::optional<std::string> batch, budget, oom;
  std::optional<std::int64_t> accum, resolution, workers, multi_scale, num_queries, epochs, max_steps,
      threads, seed;
  std::optional<std::string> data, device, amp, output_dir, dist_backend, weights;
  bool weights_ema = false;
  bool tensorboard = false;
  bool no_tensorboard = false;
  bool gradient_checkpointing = false;

  void add_to(CLI::App& command) {
    command.add_option("--batch", batch,
                       "Images per forward/backward pass (train.batch), or auto: the largest that fits the "
                       "memory budget, accum keeping batch x accum (train.auto_batch)")
        ->check([](const std::string& text) -> std::string {
          if (text == "auto") return {};
          const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
          return digits && std::stoll(text) >= 1 ? std::string() : "expected a positive number or auto";
        });
    command.add_option("--budget", budget, "Memory --batch auto fits, e.g. 4GiB (default: the device's total)")
        ->type_name("SIZE");
    command.add_option("--oom", oom, "Out of memory in a step: stop (with advice) or retry (half the batch, twice "
                                     "the accum, from the last completed step) (train.on_oom)")
        ->check(CLI::IsMember({"stop", "retry"}));
    command.add_option("--accum", accum, "Gradient accumulation steps; effective batch = batch x accum (train.accum)");
    command.add_option("--resolution", resolution, "Square training size in pixels (model.resolution)");
    command.add_option("--workers", workers, "Data-loading threads (train.workers)");
    command.add_option("--multi_scale", multi_scale, "Multi-scale training per step: 0 or 1 (train.multi_scale)")
        ->check(CLI::Range(0, 1));
    command.add_option("--num_queries", num_queries, "Object queries (model.num_queries)");
    command.add_option("--epochs", epochs, "Epochs (train.epochs)");
    command.add_option("--max_steps", max_steps, "Stop after this many optimizer steps, e.g. for a smoke run");
    command.add_option("--threads", threads, "CPU threads for LibTorch (default: all cores)");
    command.add_option("--seed", seed, "Random seed (train.seed)");
    command.add_option("--weights", weights,
                       "Start from these weights, class heads adapted to the dataset as RF-DETR does: an RF-DETR "
                       "checkpoint (.pth), a .safetensors file or a run folder (its best weights) (model.weights)")
        ->type_name("FILE");
    command.add_flag("--weights_ema", weights_ema,
                     "Take the EMA copy of --weights: a .pth's ema_model, a run folder's last weights "
                     "(model.weights_ema)");
    command.add_option("--data", data, "Dataset folder (data.path)");
    command.add_option("--device", device, "auto, cpu, cuda or cuda:N (train.device)");
    command.add_option("--dist_backend", dist_backend,
                       "Several processes: what carries the collectives: auto (NCCL on CUDA, else Gloo), gloo "
                       "or nccl (train.dist_backend)")
        ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
    command.add_option("--amp", amp, "Mixed precision: auto, bf16, fp16 or off (train.amp)")
        ->expected(0, 1)
        ->default_str("auto");
    command.add_option("--output_dir", output_dir, "Folder for run folders (train.output_dir)");
    command.add_flag("--tensorboard", tensorboard, "Write TensorBoard event files (the default)");
    command.add_flag("--no_tensorboard", no_tensorboard, "Do not write TensorBoard event files");
    command.add_flag("--gradient_checkpointing", gradient_checkpointing,
                     "Recompute backbone activations in backward: less memory, ~20 % slower");
  }

  void append_to(std::vector<framework::Override>& overrides) const {
    auto add = [&](const char* key, const std::string& text, const char* flag) {
      overrides.push_back(framework::Override{key, text, flag});
    };
    auto number = [&](const char* key, const std::optional<std::int64_t>& value, const char* flag) {
      if (value) add(key, std::to_string(*value), flag);
    };
    if (batch && *batch == "auto") add("train.auto_batch", "true", "--batch auto");
    if (batch && *batch != "auto") add("train.batch", *batch, "--batch");
    if (budget) add("train.memory_budget", "\"" + *budget + "\"", "--budget");
    if (oom) add("train.on_oom", "\"" + *oom + "\"", "--oom");
    number("train.accum", accum, "--accum");
    number("model.resolution", resolution, "--resolution");
    number("train.workers", workers, "--workers");
    if (multi_scale) add("train.multi_scale", *multi_scale ? "true" : "false", "--multi_scale");
    number("model.num_queries", num_queries, "--num_queries");
    number("train.epochs", epochs, "--epochs");
    number("train.max_steps", max_steps, "--max_steps");
    number("train.threads", threads, "--threads");
    number("train.seed", seed, "--seed");
    if (weights) add("model.weights", "\"" + *weights + "\"", "--weights");
    if (weights_ema) add("model.weights_ema", "true", "--weights_ema");
    if (data) add("data.path", "\"" + *data + "\"", "--data");
    if (device) add("train.device", "\"" + *device + "\"", "--device");
    if (dist_backend) add("train.dist_backend", "\"" + *dist_backend + "\"", "--dist_backend");
    if (amp) add("train.amp", "\"" + (amp->empty() ? std::string("auto") : *amp) + "\"", "--amp");
    if (output_dir) add("train.output_dir", "\"" + *output_dir + "\"", "--output_dir");
    if (tensorboard) add("train.tensorboard", "true", "--tensorboard");
    if (no_tensorboard) add("train.tensorboard", "false", "--no_tensorboard");
    if (gradient_checkpointing) add("train.gradient_checkpointing", "true", "--gradient_checkpointing");
  }
};

// The dataset plugin that reads a folder, from its layout: "" when none fits.
std::string dataset_type_of(const std::filesystem::path& path) {
  std::error_code error;
  if (path.extension() == ".yaml" || path.extension() == ".yml") return "yolo_seg";
  for (const char* split : {"train", "valid", "test"}) {
    if (std::filesystem::is_regular_file(path / split / "_annotations.coco.json", error)) return "coco";
  }
  for (const auto& entry : std::filesystem::directory_iterator(path / "annotations", error)) {
    if (entry.path().filename().string().rfind("instances_", 0) == 0) return "coco";
  }
  for (const char* yaml : {"data.yaml", "data.yml"}) {
    if (std::filesystem::is_regular_file(path / yaml, error)) return "yolo_seg";
  }
  return "";
}

// --data with a recipe that names no dataset type (e.g. one `rtseg recipe from-rfdetr` wrote):
// the folder's layout says which plugin reads it.
void complete_data_type(framework::RecipeDocument& document, const std::string& data) {
  if (document.root().at_path("data.type").node()) return;
  const std::string type = dataset_type_of(data);
  if (type.empty()) return;  // the recipe check then asks for data.type
  document.set("data.type", toml::value<std::string>(type),
               sdk::Origin{"", 0, 0, "command line (--data " + data + ": the folder's layout)"});
}

void print_outcomes(const std::vector<framework::train::StageOutcome>& stages) {
  if (framework::distributed::world_from_environment().rank != 0) return;  // rank 0 holds the metrics
  for (const auto& stage : stages) {
    std::cout << "\nstage '" << stage.name << "': " << stage.run.string() << "\n";
    if (stage.outcome.interrupted) {
      std::cout << "  interrupted; continue with: rtseg train --resume " << stage.run.string() << "\n";
      continue;
    }
    if (const auto& best = stage.outcome.best) {
      std::cout << "  box  mAP50-95 " << best->box.stats[framework::eval::kAp] << "  mAP50 "
                << best->box.stats[framework::eval::kAp50] << "\n";
      if (best->mask) {
        std::cout << "  mask mAP50-95 " << best->mask->stats[framework::eval::kAp] << "  mAP50 "
                  << best->mask->stats[framework::eval::kAp50] << "\n";
      }
    }
    std::cout << "  weights: " << stage.outcome.best_weights.string() << "\n"
              << "  pictures: " << (stage.run / "predictions").string() << "\n";
  }
}

// A run stopped by a signal ends as the shell reports a process ended by it (128 + the signal:
// 130 for SIGINT, 143 for SIGTERM), after saving its state.
void exit_if_interrupted(const std::vector<framework::train::StageOutcome>& stages) {
  if (!stages.empty() && stages.back().outcome.interrupted) throw ExitWith{128 + stages.back().outcome.signal};
}

void add_train(CLI::App& app, CliContext& context) {
  struct State {
    std::string recipe;
    std::string resume;
    std::string stage1_run;
    RecipeOptions recipe_options;
    TrainFlags flags;
    int nproc = 1;
  };
  auto state = std::make_shared<State>();
  CLI::App* command = app.add_subcommand("train", "Train a recipe (every stage of a pipeline recipe, in order)");
  command->add_option("--recipe", state->recipe, "Recipe file, e.g. recipes/pipelines/detector_stage1.toml")
      ->type_name("FILE");
  command->add_option("--resume", state->resume, "Continue a run folder exactly where it stopped")->type_name("RUN");
  command->add_option("--stage1_run", state->stage1_run,
                      "Initialise from this stage-1 run's best weights (the two-stage flow's stage 2)")
      ->type_name("RUN");
  command->add_option("--nproc", state->nproc,
                      "Start this many processes on this machine as the ranks of one data-parallel run "
                      "(like torchrun --nproc-per-node)")
      ->check(CLI::Range(1, 1024));
  state->recipe_options.add_to(*command);
  state->flags.add_to(*command);
  command->callback([&context, state] {
    if (state->recipe.empty() == state->resume.empty()) {
      throw sdk::ConfigError("give --recipe FILE to start a run, or --resume RUN to continue one.");
    }
    if (state->flags.weights && !(state->stage1_run.empty() && state->resume.empty())) {
      throw sdk::ConfigError(std::string("--weights starts a new run from other weights; ") +
                             (state->resume.empty()
                                  ? "--stage1_run starts stage 2 from a stage-1 run: give one of them."
                                  : "--resume continues a run from its own state: drop --weights."));
    }
    if (state->nproc > 1) {
      if (std::getenv("WORLD_SIZE")) {
        throw sdk::ConfigError("--nproc with WORLD_SIZE already set: this process is a rank of a launched run "
                               "(torchrun); drop --nproc.");
      }
      throw ExitWith{launch_local_workers(state->nproc, context.argv)};
    }
    framework::LoadedRecipe loaded;
    framework::train::PipelineOptions options;
    options.first_stage_init = state->stage1_run;
    options.progress_tty = framework::reporting::ProgressBar::stderr_is_tty();
    std::vector<framework::Override> flag_overrides;
    state->flags.append_to(flag_overrides);
    if (!state->resume.empty()) {
      options.resume = state->resume;
      loaded.overrides = flag_overrides;
    } else {
      framework::RecipeRequest request = state->recipe_options.request(state->recipe);
      request.overrides.insert(request.overrides.begin(), flag_overrides.begin(), flag_overrides.end());
      loaded = framework::load_recipe(request);
      if (state->flags.data) complete_data_type(loaded.document, *state->flags.data);
      for (const auto& path : framework::recipe_plugin_paths(loaded.document)) {
        context.runtime().plugins().load_path(path);
      }
    }
    const auto stages = framework::train::run_pipeline(context.runtime(), loaded, options);
    print_outcomes(stages);
    exit_if_interrupted(stages);
  });
}

void add_run(CLI::App& app, CliContext& context) {
  auto recipe = std::make_shared<std::string>();
  auto recipe_options = std::make_shared<RecipeOptions>();
  CLI::App* command = app.add_subcommand("run", "Run a pipeline recipe: every stage in order, each stage's best "
                                                "weights feeding the next");
  command->add_option("pipeline", *recipe, "Pipeline recipe, e.g. recipes/quickstart.toml")->required()->type_name("FILE");
  recipe_options->add_to(*command);
  command->callback([&context, recipe, recipe_options] {
    const framework::LoadedRecipe loaded = load_recipe_with_plugins(context, *recipe_options, *recipe);
    framework::train::PipelineOptions options;
    options.progress_tty = framework::reporting::ProgressBar::stderr_is_tty();
    const auto stages = framework::train::run_pipeline(context.runtime(), loaded, options);
    print_outcomes(stages);
    exit_if_interrupted(stages);
  });
}

}  // namespace

void add_train_command(CLI::App& app, CliContext& context) {
  add_train(app, context);
  add_run(app, context);
}

}  // namespace rtseg::cli
