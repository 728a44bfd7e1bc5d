#pragma once

// Shared by the COCO evaluator tests: the hand-made cases in tests/eval/cases and a check of all
// twelve numbers.

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <string>

#include "rtseg/framework/eval/coco_evaluator.h"

namespace rtseg::eval_testing {

inline std::filesystem::path case_file(const std::string& name) {
  return std::filesystem::path(RTSEG_SOURCE_DIR) / "tests/eval/cases" / name;
}

inline framework::eval::CocoMetrics evaluate_case(const std::string& name, framework::eval::IouType type,
                                                  int threads = 1, bool id0_quirk = false) {
  const auto truth = framework::eval::load_ground_truth(case_file(name + "_gt.json"));
  const auto results = framework::eval::load_results(case_file(name + "_results.json"), truth);
  framework::eval::EvalOptions options;
  options.iou_type = type;
  options.threads = threads;
  options.pycocotools_id0_quirk = id0_quirk;
  return framework::eval::evaluate_coco(truth, results, options);
}

inline void expect_stats(const framework::eval::CocoMetrics& metrics, const std::array<double, 12>& expected) {
  for (int i = 0; i < 12; ++i) {
    EXPECT_NEAR(metrics.stats[i], expected[i], 1e-6) << framework::eval::stat_names()[i];
  }
}

}  // namespace rtseg::eval_testing
