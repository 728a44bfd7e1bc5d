// `rtseg cocoeval GT.json RESULTS.json --iou-type bbox|segm`: pycocotools' evaluation script.
#include <algorithm>
#include <iostream>
#include <map>
#include <thread>

#include "cli_context.h"
#include "rtseg/framework/eval/coco_evaluator.h"
#include "rtseg/framework/eval/coco_report.h"

namespace rtseg::cli {
namespace {

struct CocoEvalArguments {
  std::string ground_truth;
  std::string results;
  framework::eval::IouType iou_type = framework::eval::IouType::kBox;
  bool json = false;
  bool per_category = false;
  bool id0_quirk = false;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

bool has_annotation_id_zero(const framework::eval::GroundTruth& truth) {
  return std::any_of(truth.annotations.begin(), truth.annotations.end(),
                     [](const framework::eval::GtAnnotation& a) { return a.id == 0; });
}

}  // namespace

void add_cocoeval_command(CLI::App& app, CliContext& context) {
  (void)context;  // needs no plugins
  auto args = std::make_shared<CocoEvalArguments>();
  CLI::App* command = app.add_subcommand(
      "cocoeval", "COCO AP of a results file against a COCO annotation file (same numbers as pycocotools)");
  command->add_option("ground_truth", args->ground_truth, "COCO annotation file (GT)")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("GT.json");
  command->add_option("results", args->results, "COCO results file: a list of detections")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("RESULTS.json");
  const std::map<std::string, framework::eval::IouType> types = {{"bbox", framework::eval::IouType::kBox},
                                                                 {"segm", framework::eval::IouType::kSegm}};
  command->add_option("--iou-type", args->iou_type, "bbox or segm")
      ->required()
      ->transform(CLI::CheckedTransformer(types, CLI::ignore_case));
  command->add_flag("--json", args->json, "Print the twelve numbers as a JSON list instead of the summary");
  command->add_flag("--per-category", args->per_category, "Also print AP and AP50 of every category");
  command->add_flag("--pycocotools-id0", args->id0_quirk,
                    "Never count a match with GT annotation id 0, as pycocotools does");
  command->add_option("--threads", args->threads, "Threads (default: all cores)")->check(CLI::PositiveNumber);
  command->callback([args] {
    const auto truth = framework::eval::load_ground_truth(args->ground_truth);
    const auto results = framework::eval::load_results(args->results, truth);
    if (!args->id0_quirk && has_annotation_id_zero(truth)) {
      std::cerr << "note: " << truth.source
                << " has an annotation with id 0; it is evaluated like any other (pycocotools never counts it "
                   "as matched; --pycocotools-id0 reproduces that)\n";
    }
    framework::eval::EvalOptions options;
    options.iou_type = args->iou_type;
    options.threads = args->threads;
    options.pycocotools_id0_quirk = args->id0_quirk;
    const auto metrics = framework::eval::evaluate_coco(truth, results, options);
    if (args->json) {
      std::cout << framework::eval::stats_to_json(metrics).dump() << "\n";
    } else {
      framework::eval::print_summary(std::cout, metrics);
    }
    if (args->per_category) framework::eval::print_category_table(args->json ? std::cerr : std::cout, metrics);
  });
}

}  // namespace rtseg::cli
