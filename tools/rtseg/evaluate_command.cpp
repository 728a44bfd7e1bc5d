// rtseg eval (a run's checkpoint on its validation split) and rtseg predict (pictures).
#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli_context.h"
#include "rtseg/sdk/atomic_file.h"
#include "rtseg/framework/eval/coco_report.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/predict/predictor.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/framework/train/run_folder.h"
#include "rtseg/framework/train/validation.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::cli {
namespace {

std::shared_ptr<sdk::Dataset> run_dataset(CliContext& context, const framework::train::LoadedRun& run) {
  if (!run.recipe.dataset) throw sdk::ConfigError("the run's recipe has no [data] section; give --data PATH.");
  sdk::BuildContext build;
  build.logger = context.runtime().logger();
  return framework::build_component<sdk::Dataset>(context.runtime().registry(), run.document, *run.recipe.dataset,
                                                   build);
}

// AP pairs the model's class i with the dataset's category i: say when their names differ.
void warn_other_classes(const framework::train::LoadedRun& run, const sdk::Dataset& dataset, spdlog::logger& log) {
  auto joined = [](const std::vector<sdk::Category>& categories) {
    std::string text;
    for (const auto& category : categories) text += (text.empty() ? "" : ", ") + category.name;
    return text;
  };
  const std::string model = joined(run.classes);
  const std::string data = joined(dataset.categories());
  if (!run.classes.empty() && model != data) {
    log.warn("the model's classes ({}) are not the dataset's ({}): AP compares them by index", model, data);
  }
}

// --precision and --cuda_graph, shared by eval and predict.
void add_inference_options(CLI::App& command, framework::InferenceOptions& options) {
  command.add_option("--precision", options.precision, "fp32, bf16, fp16 or auto (half precision: CUDA only)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16", "auto"}))
      ->capture_default_str();
  command.add_flag("--cuda_graph,--cuda-graph", options.cuda_graph,
                   "Capture the forward pass once and replay it (CUDA, fixed input size)");
}

void add_eval(CLI::App& app, CliContext& context) {
  struct State {
    std::string run, weights = "best", data, split, device;
    std::int64_t batch = 4, threads = 2;
    framework::InferenceOptions inference;
  };
  auto state = std::make_shared<State>();
  CLI::App* command = app.add_subcommand("eval", "Evaluate a run's weights on its validation split (COCO box/mask AP)");
  command->add_option("--run", state->run, "Run folder, e.g. runs/detector_nano_384_1")->required()->type_name("RUN");
  command->add_option("--weights", state->weights, "best, last or a .safetensors file")->capture_default_str();
  command->add_option("--data", state->data, "Another dataset folder of the same type (data.path)");
  command->add_option("--split", state->split, "Split to evaluate (default: valid, val or test)");
  command->add_option("--device", state->device, "auto, cpu, cuda or cuda:N (default: the run's)");
  command->add_option("--batch", state->batch, "Images per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--threads", state->threads, "Threads for the COCO evaluation")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  add_inference_options(*command, state->inference);
  command->callback([&context, state] {
    std::vector<framework::Override> overrides;
    if (!state->data.empty()) overrides.push_back({"data.path", "\"" + state->data + "\"", "--data"});
    auto run = framework::train::load_run(context.runtime(), state->run, state->weights, state->device, overrides);
    const auto dataset = run_dataset(context, run);
    warn_other_classes(run, *dataset, *context.runtime().logger());
    framework::train::ValidationOptions options;
    options.split = state->split.empty() ? framework::train::validation_split(*dataset) : state->split;
    if (options.split.empty()) throw sdk::ConfigError("the dataset has no valid/val/test split; give --split NAME.");
    options.resolution = run.recipe.model.resolution;
    options.batch_size = state->batch;
    options.num_select = run.recipe.model.num_select;
    options.device = run.model->parameters().front().device();
    options.threads = state->threads;
    options.inference = state->inference;
    std::optional<framework::eval::GroundTruth> ground_truth;
    const auto result = framework::train::validate(*run.model, dataset, options, ground_truth);

    std::cout << "weights: " << run.weights.string() << ", split '" << options.split << "'\n\nbox (bbox)\n";
    framework::eval::print_summary(std::cout, result.box);
    if (result.mask) {
      std::cout << "\nmask (segm)\n";
      framework::eval::print_summary(std::cout, *result.mask);
    }
    std::cout << "\n";
    framework::eval::print_category_table(std::cout, result.mask ? *result.mask : result.box);
    const std::filesystem::path root = state->run;
    framework::eval::write_coco_results(root / "results.json", result.detections, dataset->categories());
    nlohmann::json metrics = {{"weights", run.weights.string()}, {"split", options.split},
                              {"bbox", framework::eval::metrics_to_json(result.box)}};
    if (result.mask) metrics["segm"] = framework::eval::metrics_to_json(*result.mask);
    sdk::write_file_atomically(root / "metrics.json", metrics.dump(2) + "\n");
    std::cout << "\nwrote " << (root / "results.json").string() << " and " << (root / "metrics.json").string() << "\n";
  });
}

// A score threshold: a number from 0 to 1 (CLI::Range lets NaN through).
std::string score_threshold(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  const bool number = end != text.c_str() && *end == '\0';
  return number && value >= 0 && value <= 1 ? std::string() : "expected a number from 0 to 1, got " + text;
}

void add_predict(CLI::App& app, CliContext& context) {
  struct State {
    std::string run, weights = "best", source, out, device;
    float conf = 0.5f;
    std::int64_t batch = 4;
    framework::InferenceOptions inference;
  };
  auto state = std::make_shared<State>();
  CLI::App* command = app.add_subcommand("predict", "Draw a run's predictions on images and write COCO results");
  command->add_option("--run", state->run, "Run folder")->required()->type_name("RUN");
  command->add_option("--source", state->source, "An image or a folder of images")->required()->type_name("PATH");
  command->add_option("--out", state->out, "Folder for the pictures and predictions.json")->required()->type_name("DIR");
  command->add_option("--weights", state->weights, "best, last or a .safetensors file")->capture_default_str();
  command->add_option("--conf", state->conf, "Keep detections scoring at least this (0 to 1)")
      ->capture_default_str()
      ->check(score_threshold);
  command->add_option("--batch", state->batch, "Images per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--device", state->device, "auto, cpu, cuda or cuda:N (default: the run's)");
  add_inference_options(*command, state->inference);
  command->callback([&context, state] {
    auto run = framework::train::load_run(context.runtime(), state->run, state->weights, state->device);
    // Class names and COCO ids travel with the model; runs that recorded none take them from
    // the dataset they trained on.
    std::vector<sdk::Category> classes = run.classes;
    if (classes.empty()) {
      try {
        classes = run_dataset(context, run)->categories();
      } catch (const sdk::Error& error) {
        context.runtime().logger()->warn("class names unavailable ({}); using class numbers", error.what());
      }
    }
    std::vector<std::string> names;
    framework::PredictOptions options;
    for (const auto& category : classes) {
      names.push_back(category.name);
      options.category_ids.push_back(category.id);
    }
    for (std::int64_t i = 0; classes.empty() && i < run.recipe.model.num_classes; ++i) names.push_back(std::to_string(i));
    options.resolution = run.recipe.model.resolution;
    options.batch_size = state->batch;
    options.confidence = state->conf;
    options.num_select = run.recipe.model.num_select;
    options.inference = state->inference;
    const auto images = framework::list_images(state->source);
    const auto report = framework::predict_images(*run.model, names, images, state->out, options,
                                                  context.runtime().logger());
    std::cout << "wrote " << report.pictures.size() << " pictures and " << report.results.string() << " ("
              << report.detections << " detections)";
    if (!report.problems.empty()) std::cout << "; skipped " << report.problems.size() << " unreadable image(s)";
    std::cout << "\n";
    if (!report.problems.empty()) throw ExitWith{report.pictures.empty() ? 1 : 0};
  });
}

}  // namespace

void add_evaluate_commands(CLI::App& app, CliContext& context) {
  add_eval(app, context);
  add_predict(app, context);
}

}  // namespace rtseg::cli
