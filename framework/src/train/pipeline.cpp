#include "rtseg/framework/train/pipeline.h"

#include <algorithm>
#include <optional>
#include <sstream>
#include <thread>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#if RTSEG_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "rtseg/sdk/atomic_file.h"
#include "rtseg/framework/cpu_threads.h"
#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/memory_size.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/train/memory_plan.h"
#include "rtseg/framework/train/oom_advice.h"
#include "rtseg/framework/train/starting_weights.h"
#include "rtseg/framework/train/training_state.h"
#include "rtseg/framework/recipe_printer.h"
#include "rtseg/framework/weights.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/safetensors.h"

namespace rtseg::framework::train {
namespace {

namespace fs = std::filesystem;

// The run log gets everything the console gets while the stage runs.
class LogFileScope {
 public:
  LogFileScope(const std::shared_ptr<spdlog::logger>& logger, const fs::path& file) : logger_(logger) {
    sink_ = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string(), /*truncate=*/false);
    sink_->set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");
    logger_->sinks().push_back(sink_);
  }
  ~LogFileScope() {
    auto& sinks = logger_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<spdlog::sinks::sink> sink_;
};

// Classes come from the dataset (as Ultralytics and RF-DETR do); the recipe's value is a default.
// Their names go into the run's recipe.toml, so that the run names them when the data is gone.
void take_classes_from(const sdk::Dataset& dataset, CheckedRecipe& recipe, RecipeDocument& document,
                       spdlog::logger& log) {
  std::vector<std::string> names;
  toml::array list;
  for (const sdk::Category& category : dataset.categories()) {
    names.push_back(category.name);
    list.push_back(category.name);
  }
  if (names != recipe.model.class_names) {
    recipe.model.class_names = names;
    document.set("model.class_names", list, sdk::Origin{"", 0, 0, "the dataset's categories"});
  }
  const auto classes = static_cast<std::int64_t>(names.size());
  if (classes == recipe.model.num_classes) return;
  log.info("model.num_classes = {} from the dataset (the recipe says {})", classes, recipe.model.num_classes);
  recipe.model.num_classes = classes;
  apply_overrides(document, {Override{"model.num_classes", std::to_string(classes), ""}});
}

// train.auto_batch: measure this stage on its device and train with the largest batch that fits
// the budget, accum keeping batch x accum. The decision is written into the stage's recipe, so
// the run folder's recipe.toml (and a resume) uses it. Several ranks: each measures on its own
// device at once, and all take the smallest batch (the same step everywhere).
void choose_batch(const Registry& registry, const Stage& stage, CheckedRecipe& recipe, RecipeDocument& document,
                  const torch::Device& device, distributed::ProcessGroup* group, spdlog::logger& log) {
  std::int64_t budget = recipe.train.memory_budget.empty() ? 0 : parse_memory_size(recipe.train.memory_budget);
  std::string budget_text =
      recipe.train.memory_budget.empty() ? device.str() + "'s total memory" : recipe.train.memory_budget;
  if (group && budget == 0 && !device.is_cuda()) {
    // The ranks on one machine share its memory.
    const int sharing = group->world().local_world_size;
    budget = total_memory(device) / sharing;
    if (sharing > 1) budget_text = "1/" + std::to_string(sharing) + " of the machine's memory (one rank's share)";
  }
  Stage measured = stage;
  measured.document = document;  // with the dataset's class count
  const Plan plan = plan_stage(registry, measured, recipe, device, budget);
  const std::int64_t effective = recipe.train.batch * recipe.train.accum;
  std::string measurements;
  for (const MemorySample& s : plan.measured) {
    measurements += (measurements.empty() ? "" : ", ") + std::to_string(s.batch) + " @ " + std::to_string(s.resolution) +
                    ": " + std::to_string(static_cast<double>(s.peak_bytes) / (1 << 30)).substr(0, 5) + " GiB";
  }
  // Every plan's batch divides the effective batch, so the smallest does too.
  const std::int64_t batch = group ? group->minimum(plan.batch) : plan.batch;
  if (plan.batch < 1) {
    throw sdk::Error("--batch auto: even batch 1 does not fit in " + budget_text + " (measured " + measurements +
                     "); add --gradient_checkpointing, lower --resolution, or see `rtseg plan`.");
  }
  if (batch < 1) {
    throw sdk::Error("--batch auto: another rank's device does not fit even batch 1 (see its message); add "
                     "--gradient_checkpointing, lower --resolution, or see `rtseg plan`.");
  }
  const std::int64_t accum = std::max<std::int64_t>(1, effective / batch);
  log.info("--batch auto: measured {}; batch {} x accum {} (effective {}) fits {}{}", measurements, plan.batch,
           plan.accum, effective, budget_text,
           group ? fmt::format("; all {} ranks train with batch {} x accum {} (the smallest fit)", group->world_size(),
                               batch, accum)
                 : std::string());
  recipe.train.batch = batch;
  recipe.train.accum = accum;
  recipe.train.auto_batch = false;
  apply_overrides(document, {Override{"train.batch", std::to_string(batch), "--batch auto"},
                             Override{"train.accum", std::to_string(accum), "--batch auto"},
                             Override{"train.auto_batch", "false", "--batch auto"}});
}

void load_initial_weights(Model& model, const fs::path& file, spdlog::logger& log) {
  const sdk::SafetensorsFile weights = sdk::SafetensorsFile::open(file);
  LoadOptions options;
  options.strict = false;
  const LoadReport report = load_state(model, weights, options);
  if (!report.shape_mismatches.empty()) {
    std::string list;
    for (std::size_t i = 0; i < report.shape_mismatches.size() && i < 5; ++i) list += "\n  " + report.shape_mismatches[i];
    throw sdk::ConfigError(file.string() + " does not fit this stage's model (" +
                           std::to_string(report.shape_mismatches.size()) +
                           " tensors differ; a different class count or size between the stages?):" + list +
                           "\nTo start from weights trained on other classes, give them as model.weights "
                           "(--weights FILE): their class heads are adapted as RF-DETR does.");
  }
  log.info("initialised {} tensors from {}{}", report.loaded.size(), file.string(),
           report.missing.empty() ? std::string()
                                  : " (" + std::to_string(report.missing.size()) + " new tensors start fresh)");
}

// A ViT trained from random weights learns little from a dataset of the usual size: say what to pass.
void warn_random_backbone(const Stage& stage, const CheckedRecipe& recipe, const RecipeDocument& document,
                          spdlog::logger& log) {
  if (recipe.backbone.type != "dinov2") return;
  if (!document.root().at_path("model.backbone.pretrained").value_or(std::string()).empty()) return;
  log.warn("stage '{}': the dinov2 backbone starts from random weights, and a ViT trained from scratch learns "
           "slowly (docs/performance.md: box AP50 0.015 after 10 epochs). Start from RF-DETR's weights with "
           "--weights rf-detr-nano.pth (model.weights; docs/training.md, \"Fine-tune on your data\"), or DINOv2's "
           "with --set model.backbone.pretrained=FILE.safetensors.",
           stage.name);
}

// A stage starts from an earlier stage's (or run's) weights; else from model.weights, with
// RF-DETR's fine-tuning rules; else from the components' own initialisation.
void initialise_weights(Model& model, const Stage& stage, const fs::path& init_weights, const CheckedRecipe& recipe,
                        const RecipeDocument& document, spdlog::logger& log) {
  if (!init_weights.empty()) {
    if (!recipe.model.weights.empty()) {
      log.info("stage '{}' starts from {}, not model.weights ({})", stage.name, init_weights.string(),
               recipe.model.weights);
    }
    load_initial_weights(model, init_weights, log);
  } else if (!recipe.model.weights.empty()) {
    load_starting_weights(model, open_starting_weights(recipe.model.weights, recipe.model.weights_ema), log);
  } else {
    warn_random_backbone(stage, recipe, document, log);
  }
}

fs::path recipe_dir(const RecipeDocument& document) {
  return document.files.empty() ? fs::path(".") : fs::path(document.files.back()).parent_path();
}

// The run folder keeps a copy of the recipe; relative paths in it are made absolute so that the
// copy still finds the data (eval, predict, --resume). A path typed on the command line is
// relative to the working directory, one in a file to the recipe's folder.
void absolutize_paths(RecipeDocument& document, const fs::path& base) {
  for (const char* key : {"data.path", "model.backbone.pretrained", "model.weights"}) {
    const toml::node* node = document.root().at_path(key).node();
    if (!node || !node->is_string()) continue;
    const fs::path value = node->as_string()->get();
    if (value.empty() || value.is_absolute()) continue;
    const sdk::Origin origin = document.origin(key);
    const bool typed = origin.file.empty() && origin.note.rfind("command line", 0) == 0;
    const fs::path from = typed ? fs::current_path() : base;
    document.set(key, toml::value<std::string>(fs::absolute(from / value).lexically_normal().string()), origin);
  }
}

std::string recipe_text(const RecipeDocument& document) {
  std::ostringstream out;
  print_recipe(out, document);
  return out.str();
}

// train(setup); memory that could not be had (a step out of memory, a batch beyond the device,
// LibTorch's CPU allocator or std::bad_alloc wherever they came from) ends in a report of what the
// batch needs, measured by the planner once the failed attempt's memory is released, and the
// settings to change -- no bare "can't allocate memory".
TrainOutcome train_reporting_memory(Runtime& runtime, const Stage& stage, TrainerSetup& setup,
                                    std::shared_ptr<Model>& model) {
  const CheckedRecipe& recipe = setup.recipe;
  std::optional<MemoryShortage> shortage;
  try {
    return train(setup);
  } catch (const MemoryShortage& error) {
    shortage.emplace(error);
  } catch (const std::exception& error) {
    if (!is_out_of_memory(error.what())) throw;
    shortage.emplace(MemorySettings{recipe.train.batch, recipe.train.accum, recipe.model.resolution,
                                    model->backbone().size_divisibility(), recipe.train.multi_scale,
                                    recipe.train.workers, recipe.model.num_queries,
                                    recipe.train.gradient_checkpointing, recipe.train.amp},
                     std::string("out of memory: ") + error.what());
  }
  // Several ranks: measuring here would leave the others waiting in a collective.
  if (setup.process_group) throw sdk::Error(shortage->what());
  setup.model.reset();
  model.reset();
  release_cached_memory(setup.device);
  const MemoryNeed need = memory_need(runtime.registry(), stage, recipe, setup.device, shortage->settings().batch);
  std::string fits;
  if (need.fits_batch > 0) {
    fits = fmt::format("The largest batch that fits: --batch {} --accum {} (the same effective batch), or let "
                       "--batch auto choose.\n", need.fits_batch, need.fits_accum);
  }
  throw sdk::Error(need.text + " (" + shortage->detail() + ").\n" + fits + memory_ladder(shortage->settings()));
}

StageOutcome run_stage(Runtime& runtime, const Stage& stage, const fs::path& init_weights,
                       const std::optional<fs::path>& resume, const PipelineOptions& options) {
  auto logger = runtime.logger();
  RecipeDocument document = stage.document;
  absolutize_paths(document, recipe_dir(document));
  CheckedRecipe recipe = check_recipe(document, runtime.registry());
  if (!recipe.dataset) throw sdk::ConfigError("the recipe has no [data] section: training needs a dataset.");
  distributed::ProcessGroup* group = options.process_group;
  torch::Device device = resolve_device(recipe.train.device);
  // One GPU per process: rank r of a node takes cuda:local_rank.
  if (group && device.is_cuda()) {
    const int index = distributed::cuda_device_for_rank(group->local_rank(), static_cast<int>(torch::cuda::device_count()));
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
#if RTSEG_WITH_CUDA
    // As its current device too, so that nothing made without a device (streams, NCCL's
    // communicators, CUDA contexts) lands on GPU 0 from every rank.
    c10::cuda::set_device(device.index());
#endif
  }
  const bool main_rank = !group || group->rank() == 0;
  // Ranks on one machine share its cores: each takes its share unless train.threads says.
  std::int64_t threads = recipe.train.threads;
  if (threads <= 0 && group) {
    threads = std::max<std::int64_t>(1, std::thread::hardware_concurrency() / group->world().local_world_size);
  }
  const CpuThreads cpu_threads = configure_cpu_threads(threads);
  torch::manual_seed(static_cast<std::uint64_t>(recipe.train.seed));

  sdk::BuildContext context;
  context.device = device;
  context.logger = logger;
  context.recipe_dir = recipe_dir(document);
  auto dataset = build_component<sdk::Dataset>(runtime.registry(), document, *recipe.dataset, context);
  take_classes_from(*dataset, recipe, document, *logger);
  if (recipe.train.auto_batch && !resume) {
    choose_batch(runtime.registry(), stage, recipe, document, device, group, *logger);
  }
  std::shared_ptr<const sdk::Scheduler> scheduler;
  if (recipe.scheduler) scheduler = build_component<sdk::Scheduler>(runtime.registry(), document, *recipe.scheduler, context);
  auto model = build_model(runtime.registry(), document, recipe, context);
  if (!resume) initialise_weights(*model, stage, init_weights, recipe, document, *logger);
  apply_freeze(*model, stage.freeze, *logger);
  model->train();

  // Rank 0 makes the run folder and writes into it; the other ranks learn where it is.
  std::optional<RunFolder> created;
  if (main_rank) {
    created = resume ? RunFolder::open(*resume)
                     : RunFolder::create(recipe.train.output_dir, stage.name, recipe.model.size, recipe.model.resolution);
    if (!resume) sdk::write_file_atomically(created->recipe(), recipe_text(document));
  }
  const std::string root = created ? created->root().string() : std::string();
  RunFolder run = created ? *created : RunFolder::open_from_rank0(group->share("run/" + stage.name, root), group->rank());
  if (group && main_rank) group->share("run/" + stage.name, root);
  std::optional<LogFileScope> log_file;
  if (main_rank) log_file.emplace(logger, run.log());
  if (main_rank && device.is_cpu()) {
    logger->info("cpu: {} LibTorch threads, BLAS: {}", cpu_threads.intra_op, cpu_threads.blas);
    if (!cpu_threads.advice.empty()) logger->warn("{}", cpu_threads.advice);
  }
  logger->info("stage '{}': {}", stage.name, run.root().string());

  TrainerSetup setup{recipe, model, dataset, scheduler, run, device, logger, resume.has_value(),
                     recipe.train.threads > 0 ? recipe.train.threads : 2, options.progress_tty, group, stage.freeze};
  Stage measured = stage;
  measured.document = document;  // with the dataset's class count
  StageOutcome outcome{stage.name, run.root(), train_reporting_memory(runtime, measured, setup, model)};
  if (group) group->barrier();  // rank 0's last files are written before anyone moves on
  return outcome;
}

}  // namespace

void apply_freeze(Model& model, const std::vector<std::string>& freeze, spdlog::logger& log) {
  if (freeze.empty()) return;
  bool backbone = false, decoder = false;
  std::int64_t frozen = 0;
  for (const std::string& entry : freeze) {
    torch::nn::Module* component = nullptr;
    if (entry == "backbone") component = &model.backbone(), backbone = true;
    if (entry == "decoder") component = &model.decoder(), decoder = true;
    if (entry == "seg_head") component = model.seg_head();
    if (component) {
      for (auto& parameter : component->parameters()) parameter.set_requires_grad(false), ++frozen;
      continue;
    }
    std::int64_t matched = 0;
    for (auto& item : model.named_parameters()) {
      if (item.key().rfind(entry, 0) == 0) item.value().set_requires_grad(false), ++matched;
    }
    if (matched == 0) {
      throw sdk::ConfigError("stage freeze entry '" + entry +
                             "' names no component (backbone, decoder, seg_head) and no parameter prefix.");
    }
    frozen += matched;
  }
  if (backbone && decoder && model.seg_head()) model.set_detector_frozen(true);
  log.info("frozen: {} ({} tensors){}", [&] {
    std::string text;
    for (const auto& entry : freeze) text += (text.empty() ? "" : ", ") + entry;
    return text;
  }(), frozen, model.detector_frozen() ? "; the detector runs without autograd" : "");
}


torch::Device resolve_device(const std::string& setting) {
  if (setting == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  try {
    torch::Device device(setting);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      throw sdk::ConfigError("train.device = \"" + setting + "\" but this build or machine has no CUDA device; use \"cpu\".");
    }
    return device;
  } catch (const c10::Error&) {
    throw sdk::ConfigError("train.device = \"" + setting + "\": expected auto, cpu, cuda or cuda:N.");
  }
}

namespace {

// The process group the environment describes (torchrun, SLURM), or none for one process. It
// serves every stage; its backend follows the first stage's train.device and train.dist_backend.
std::unique_ptr<distributed::ProcessGroup> join_process_group(Runtime& runtime, const RecipeDocument& document) {
  const distributed::WorldInfo world = distributed::world_from_environment();
  if (!world.distributed()) return nullptr;
  const CheckedRecipe recipe = check_recipe(document, runtime.registry());
  const distributed::Backend backend =
      distributed::choose_backend(recipe.train.dist_backend, resolve_device(recipe.train.device));
  // Rank 0 waits here until every rank has come (up to the timeout): say for whom.
  if (world.rank == 0) {
    runtime.logger()->info("waiting for {} ranks at {}:{}", world.world_size, world.master_addr, world.master_port);
  }
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(recipe.train.dist_timeout * 60000.0));
  auto group = std::make_unique<distributed::ProcessGroup>(world, timeout, backend);
  if (world.rank != 0) runtime.logger()->set_level(spdlog::level::warn);  // rank 0 speaks for the run
  runtime.logger()->info("rank {} of {} (c10d {}, rendezvous at {}:{}{}, timeout {:g} min)", world.rank,
                         world.world_size, distributed::to_string(backend), world.master_addr, world.master_port,
                         world.agent_store ? ", torchrun's store" : "", recipe.train.dist_timeout);
  return group;
}

// --resume of a run that has no training state yet: say how far it got and what to do.
sdk::ConfigError no_checkpoint_yet(const RunFolder& run) {
  const CheckedRecipe recipe = check_host_keys(RecipeDocument::parse_file(run.recipe(), run.recipe().string()));
  std::string when = "at the end of epoch 1";
  if (recipe.train.checkpoint_every != "off") {
    when += " or after train.checkpoint_every = \"" + recipe.train.checkpoint_every + "\"";
  }
  return sdk::ConfigError(run.root().string() + " has no " + run.state().filename().string() +
                          ": the run was stopped before its first checkpoint (" + when +
                          "; log.txt shows how far it got). There is nothing to resume: start the run again.");
}

}  // namespace

std::vector<StageOutcome> run_pipeline(Runtime& runtime, const LoadedRecipe& recipe, const PipelineOptions& given) {
  PipelineOptions options = given;
  std::vector<Stage> stages;
  if (options.resume) {
    // The run's own resolved recipe, one stage, continued from its state.
    RunFolder run = RunFolder::open(*options.resume);
    if (!fs::is_regular_file(run.state())) throw no_checkpoint_yet(run);
    LoadedRecipe loaded = load_recipe(RecipeRequest{run.recipe(), "", std::nullopt, recipe.overrides});
    Stage stage;
    stage.name = run.root().filename().string();
    stage.document = loaded.document;
    stage.freeze = read_progress(run.state()).freeze;  // the stage's freezes, before its optimizer is built
    stages.push_back(std::move(stage));
  } else {
    stages = expand_stages(recipe);
    if (!options.first_stage_init.empty()) {
      stages.front().init_from = options.first_stage_init;
      stages.front().init_from_stage = false;
    }
  }
  std::unique_ptr<distributed::ProcessGroup> owned_group;
  if (!options.process_group) {
    owned_group = join_process_group(runtime, stages.front().document);
    options.process_group = owned_group.get();
  }
  if (options.resume) return {run_stage(runtime, stages.front(), {}, options.resume, options)};

  std::vector<StageOutcome> done;
  for (const Stage& stage : stages) {
    fs::path init;
    if (stage.init_from_stage) {
      for (const auto& previous : done) {
        if (previous.name == stage.init_from) init = previous.outcome.best_weights;
      }
    } else if (!stage.init_from.empty()) {
      fs::path from = stage.init_from;
      if (from.is_relative() && !fs::exists(from)) from = recipe_dir(stage.document) / from;
      init = fs::is_directory(from) ? RunFolder::open(from).weights_for("best") : from;
      if (!fs::is_regular_file(init)) {
        throw sdk::ConfigError("stage '" + stage.name + "': init_from = \"" + stage.init_from +
                               "\" is neither a run folder nor a weights file.");
      }
    }
    done.push_back(run_stage(runtime, stage, init, std::nullopt, options));
    if (done.back().outcome.interrupted) break;
  }
  return done;
}

LoadedRun load_run(Runtime& runtime, const fs::path& run_path, const std::string& weights,
                   const std::string& device, const std::vector<Override>& overrides) {
  RunFolder run = RunFolder::open(run_path);
  LoadedRecipe loaded = load_recipe(RecipeRequest{run.recipe(), "", std::nullopt, overrides});
  for (const auto& path : recipe_plugin_paths(loaded.document)) runtime.plugins().load_path(path);
  LoadedRun out;
  out.document = loaded.document;
  out.recipe = check_recipe(out.document, runtime.registry());
  sdk::BuildContext context;
  context.device = resolve_device(device.empty() ? out.recipe.train.device : device);
  context.logger = runtime.logger();
  context.recipe_dir = run.root();
  out.model = build_model(runtime.registry(), out.document, out.recipe, context);
  out.weights = run.weights_for(weights);
  const sdk::SafetensorsFile file = sdk::SafetensorsFile::open(out.weights);
  load_state(*out.model, file);  // strict: the run made these
  out.classes = classes_from_metadata(file);
  if (out.classes.empty()) {
    const auto& names = out.recipe.model.class_names;
    for (std::size_t i = 0; i < names.size(); ++i) out.classes.push_back({static_cast<std::int64_t>(i), names[i]});
  }
  out.model->eval();
  return out;
}

}  // namespace rtseg::framework::train
