// Times real training steps -- forward, criterion, backward, clipping, AdamW, EMA, under the
// recipe's AMP mode -- on synthetic batches (6 objects per image), and reads the device's peak
// memory per step and per phase. Prints a table and, with --json, writes every case as JSON
// next to the Python reference's figures where the reference measured the same case.
//
//   rtseg_bench_train_step --device cuda --size nano --batch 1,2,4,8 --json nano.json
//   rtseg_bench_train_step --recipe recipes/pipelines/detector_stage1.toml --batch 1,8
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include "bench_support.h"
#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/logging.h"
#include "rtseg/framework/paths.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/framework/train/pipeline.h"
#include "rtseg/framework/train/step_probe.h"
#include "rtseg/sdk/errors.h"

namespace {

using namespace rtseg;
using framework::train::ProbeResult;

constexpr double kGiB = 1024.0 * 1024 * 1024;

// The Python reference (RF-DETR 1.4.1, H200, bf16, 6 objects per image) from the GPU machine's
// notes: (flow, size, resolution, batch) -> (step ms, peak allocated GiB).
struct Reference {
  double step_ms, peak_gib;
};
const std::map<std::tuple<std::string, std::string, std::int64_t, std::int64_t>, Reference>& references() {
  static const std::map<std::tuple<std::string, std::string, std::int64_t, std::int64_t>, Reference> table = {
      {{"seg", "nano", 384, 1}, {129, 1.01}},   {{"seg", "nano", 384, 2}, {183, 1.55}},
      {{"seg", "nano", 384, 4}, {201, 2.63}},   {{"seg", "nano", 384, 8}, {216, 4.80}},
      {{"seg", "nano", 384, 16}, {383, 9.18}},  {{"detector", "nano", 384, 1}, {167, 0.83}},
      {{"detector", "nano", 384, 8}, {156, 3.25}}, {{"seg", "small", 512, 1}, {174, 1.42}},
      {{"seg", "small", 512, 4}, {196, 4.20}},  {{"seg", "base", 560, 1}, {170, 2.73}},
      {{"seg", "base", 560, 4}, {236, 6.92}},   {{"seg", "medium", 576, 1}, {185, 1.78}},
      {{"seg", "medium", 576, 4}, {242, 5.58}}, {{"seg", "large", 560, 1}, {199, 4.25}},
      {{"seg", "large", 560, 4}, {230, 11.45}}, {{"seg", "nano", 256, 1}, {142, 0.84}},
      {{"seg", "nano", 320, 1}, {150, 0.92}},   {{"seg", "nano", 512, 1}, {154, 1.24}},
      {{"seg", "nano", 640, 1}, {157, 1.54}},
  };
  return table;
}

nlohmann::json peak_json(const framework::MemoryPeak& peak) {
  return {{"allocated_gib", peak.allocated / kGiB}, {"reserved_gib", peak.reserved / kGiB}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Training-step time and peak memory on synthetic batches");
  std::string recipe_file, stage_name, sizes = "", batches = "1", resolutions = "0", device_name = "cpu";
  std::string amp, json_file, profile_file;
  std::vector<std::string> overrides;
  bool checkpointing = false;
  std::int64_t steps = 5, warmup = 2, threads = 0, objects = 6;
  app.add_option("--recipe", recipe_file, "Recipe (default: the shipped single-stage segmentation pipeline)");
  app.add_option("--stage", stage_name, "Stage of a pipeline (default: the last)");
  app.add_option("--size", sizes, "Size variants, comma-separated (default: the recipe's)");
  app.add_option("--batch", batches, "Batch sizes, comma-separated");
  app.add_option("--resolution", resolutions, "Resolutions, comma-separated (0: the recipe's)");
  app.add_option("--device", device_name, "cpu, cuda or cuda:N");
  app.add_option("--amp", amp, "auto, bf16, fp16 or off (default: the recipe's)");
  app.add_flag("--checkpointing", checkpointing, "Gradient checkpointing in the backbone");
  app.add_option("--steps", steps, "Timed steps per case");
  app.add_option("--warmup", warmup, "Untimed steps before them");
  app.add_option("--objects", objects, "Objects per synthetic image");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_option("--set", overrides, "Recipe override KEY=VALUE (repeatable)");
  app.add_option("--json", json_file, "Write the results here");
  app.add_option("--profile", profile_file,
                 "Write a Chrome trace of the last case's operators (summarise: python3 bench/train_step/op_summary.py FILE)");
  CLI11_PARSE(app, argc, argv);

  try {
    bench::set_threads(threads);
    const torch::Device device = framework::train::resolve_device(device_name);
    const auto runtime_owner = bench::quiet_runtime();
    framework::Runtime& runtime = *runtime_owner;

    nlohmann::json cases = nlohmann::json::array();
    std::printf("%-8s %-9s %5s %5s %-5s %9s %8s %10s %10s %9s %9s  %s\n", "size", "flow", "res", "batch", "amp",
                "step ms", "img/s", "peak GiB", "reserved", "ref ms", "ref GiB", "phases (GiB)");
    for (const std::string& size : bench::split_list(sizes)) {
      std::vector<std::string> all_overrides = overrides;
      if (!amp.empty()) all_overrides.push_back("train.amp=\"" + amp + "\"");
      if (checkpointing) all_overrides.push_back("train.gradient_checkpointing=true");
      const auto stages = bench::load_stages(recipe_file, size, all_overrides);
      const framework::Stage* stage = &stages.back();
      for (const auto& candidate : stages) {
        if (candidate.name == stage_name) stage = &candidate;
      }
      const framework::CheckedRecipe checked = framework::check_recipe(stage->document, runtime.registry());
      const std::string flow = !checked.seg_head ? "detector" : (stage->freeze.empty() ? "seg" : "seg_stage2");
      for (const std::int64_t resolution : bench::int_list(resolutions)) {
        for (const std::int64_t batch : bench::int_list(batches)) {
          framework::train::ProbeSettings settings;
          settings.batch = batch;
          settings.resolution = resolution;
          settings.timed_steps = steps;
          settings.warmup_steps = warmup;
          settings.objects_per_image = objects;
          nlohmann::json entry = {{"size", checked.model.size}, {"flow", flow}, {"stage", stage->name},
                                  {"batch", batch}, {"device", device.str()}};
          try {
            const ProbeResult r = [&] {
              // The legacy profiler: it is the one both LibTorch 1.13 and 2.x offer from C++.
              std::optional<torch::autograd::profiler::RecordProfile> profile;
              if (!profile_file.empty()) profile.emplace(profile_file);
              return framework::train::probe_train_step(runtime.registry(), *stage, checked, device, settings);
            }();
            entry.update({{"resolution", r.resolution}, {"amp", r.amp}, {"gradient_checkpointing", r.gradient_checkpointing},
                          {"step_ms", r.step_ms}, {"images_per_second", r.images_per_second},
                          {"peak", peak_json(r.peak)}, {"held", peak_json(r.held)},
                          {"parameter_groups", r.parameter_groups}, {"trainable_parameters", r.trainable_parameters}});
            std::string phases;
            for (const auto& [phase, ms] : r.phase_ms) entry["phase_ms"][phase] = ms;
            for (const auto& [phase, peak] : r.phases) {
              entry["phases"][phase] = peak_json(peak);
              char text[48];
              std::snprintf(text, sizeof text, "%s%s %.2f", phases.empty() ? "" : ", ", phase.c_str(), peak.allocated / kGiB);
              phases += text;
            }
            phases += "; ms:";
            for (const auto& [phase, ms] : r.phase_ms) phases += " " + phase + " " + std::to_string(static_cast<int>(ms));
            const auto it = references().find({flow, checked.model.size, r.resolution, batch});
            std::string ref_ms = "-", ref_gib = "-";
            if (it != references().end() && !r.gradient_checkpointing) {
              entry["reference"] = {{"step_ms", it->second.step_ms}, {"peak_allocated_gib", it->second.peak_gib},
                                    {"step_ratio", r.step_ms / it->second.step_ms},
                                    {"memory_ratio", r.peak.allocated / kGiB / it->second.peak_gib}};
              ref_ms = std::to_string(static_cast<int>(it->second.step_ms));
              char text[16];
              std::snprintf(text, sizeof text, "%.2f", it->second.peak_gib);
              ref_gib = text;
            }
            std::printf("%-8s %-9s %5lld %5lld %-5s %9.1f %8.1f %10.3f %10.3f %9s %9s  %s\n", checked.model.size.c_str(),
                        flow.c_str(), static_cast<long long>(r.resolution), static_cast<long long>(batch), r.amp.c_str(),
                        r.step_ms, r.images_per_second, r.peak.allocated / kGiB, r.peak.reserved / kGiB, ref_ms.c_str(),
                        ref_gib.c_str(), phases.c_str());
          } catch (const c10::Error& error) {
            const std::string what = error.what_without_backtrace();
            entry["error"] = what.substr(0, 300);
            std::printf("%-8s %-9s %5lld %5lld failed: %s\n", checked.model.size.c_str(), flow.c_str(),
                        static_cast<long long>(resolution), static_cast<long long>(batch), what.substr(0, 200).c_str());
          }
          std::fflush(stdout);
          cases.push_back(entry);
        }
      }
    }
    if (!json_file.empty()) {
      std::ofstream(json_file) << nlohmann::json{{"bench", "train_step"}, {"cases", cases}}.dump(1) << "\n";
    }
  } catch (const std::exception& error) {
    std::cerr << "rtseg_bench_train_step: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
