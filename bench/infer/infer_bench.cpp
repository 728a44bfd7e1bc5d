// Times the inference path (Model::predict in eval mode: one query group, final layer only)
// through InferenceSession: latency at batch 1 and throughput at batch 8 for each size,
// precision and with or without CUDA-graph replay. Random weights and inputs: speed does not
// depend on them.
//
//   rtseg_bench_infer --device cuda --size nano,small --precision fp32,bf16,fp16 --graph 0,1 --json infer.json
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "bench_support.h"
#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/logging.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/paths.h"
#include "rtseg/framework/predict/inference_session.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/sdk/errors.h"

namespace {

using namespace rtseg;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Median milliseconds of one session.run over `runs`, after `warmup` untimed runs.
double time_runs(framework::InferenceSession& session, const torch::Tensor& images, int warmup, int runs) {
  const torch::Device device = session.device();
  for (int i = 0; i < warmup; ++i) session.run(images);
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    framework::synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    const framework::Prediction prediction = session.run(images);
    framework::synchronize(device);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return median(ms);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Inference latency and throughput");
  std::string recipe_file, sizes = "", precisions = "fp32", graphs = "0", device_name = "cpu", json_file;
  std::int64_t throughput_batch = 8, threads = 0, resolution = 0;
  int runs = 20, warmup = 5;
  app.add_option("--recipe", recipe_file, "Recipe (default: the shipped single-stage segmentation pipeline)");
  app.add_option("--size", sizes, "Size variants, comma-separated (default: the recipe's)");
  app.add_option("--precision", precisions, "fp32, bf16, fp16, comma-separated");
  app.add_option("--graph", graphs, "CUDA-graph replay: 0, 1 or 0,1");
  app.add_option("--device", device_name, "cpu, cuda or cuda:N");
  app.add_option("--resolution", resolution, "Input side (default: the recipe's)");
  app.add_option("--batch", throughput_batch, "Batch of the throughput measurement");
  app.add_option("--runs", runs, "Timed runs per case");
  app.add_option("--warmup", warmup, "Untimed runs before them");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_option("--json", json_file, "Write the results here");
  CLI11_PARSE(app, argc, argv);

  try {
    bench::set_threads(threads);
    const torch::Device device = framework::train::resolve_device(device_name);
    const auto runtime_owner = bench::quiet_runtime();
    framework::Runtime& runtime = *runtime_owner;
    nlohmann::json cases = nlohmann::json::array();
    std::printf("%-8s %5s %-5s %-5s %14s %16s %12s\n", "size", "res", "prec", "graph", "batch 1 ms", "batch N img/s",
                "peak GiB");
    for (const std::string& size : bench::split_list(sizes)) {
      const auto stages = bench::load_stages(recipe_file, size);
      const framework::Stage& stage = stages.back();
      const framework::CheckedRecipe checked = framework::check_recipe(stage.document, runtime.registry());
      sdk::BuildContext context;
      context.device = device;
      context.logger = runtime.logger();
      auto model = framework::build_model(runtime.registry(), stage.document, checked, context);
      const std::int64_t side = resolution > 0 ? resolution : checked.model.resolution;
      torch::manual_seed(0);
      const torch::Tensor one = torch::randn({1, 3, side, side}).to(device);
      const torch::Tensor many = torch::randn({throughput_batch, 3, side, side}).to(device);
      for (const std::string& precision : bench::split_list(precisions)) {
        for (const std::string& graph : bench::split_list(graphs)) {
          nlohmann::json entry = {{"size", checked.model.size}, {"resolution", side}, {"precision", precision},
                                  {"cuda_graph", graph == "1"}, {"device", device.str()},
                                  {"segmentation", checked.seg_head.has_value()}};
          try {
            framework::InferenceOptions options;
            options.precision = precision;
            options.cuda_graph = graph == "1";
            framework::reset_peak_memory(device);
            double latency = 0, throughput = 0;
            {
              framework::InferenceSession session(*model, options);
              latency = time_runs(session, one, warmup, runs);
            }
            {
              framework::InferenceSession session(*model, options);
              throughput = 1000.0 * static_cast<double>(throughput_batch) / time_runs(session, many, warmup, runs);
            }
            const framework::MemoryPeak peak = framework::peak_memory(device);
            entry.update({{"batch1_ms", latency}, {"throughput_batch", throughput_batch},
                          {"images_per_second", throughput}, {"peak_allocated_gib", peak.allocated / 1073741824.0}});
            std::printf("%-8s %5lld %-5s %-5s %14.2f %16.1f %12.3f\n", checked.model.size.c_str(),
                        static_cast<long long>(side), precision.c_str(), graph.c_str(), latency, throughput,
                        peak.allocated / 1073741824.0);
          } catch (const std::exception& error) {
            const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
            const std::string what = torch_error ? torch_error->what_without_backtrace() : error.what();
            entry["error"] = what.substr(0, 300);
            std::printf("%-8s %5lld %-5s %-5s failed: %s\n", checked.model.size.c_str(), static_cast<long long>(side),
                        precision.c_str(), graph.c_str(), what.substr(0, 200).c_str());
          }
          std::fflush(stdout);
          cases.push_back(entry);
        }
      }
    }
    if (!json_file.empty()) std::ofstream(json_file) << nlohmann::json{{"bench", "infer"}, {"cases", cases}}.dump(1) << "\n";
  } catch (const std::exception& error) {
    std::cerr << "rtseg_bench_infer: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
