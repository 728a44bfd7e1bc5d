#pragma once

// What the model benchmarks share: comma-separated lists on the command line ("1,2,4",
// "fp32,bf16"), thread setup, and the recipe of a size variant.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>

#include "rtseg/framework/cpu_threads.h"
#include "rtseg/framework/logging.h"
#include "rtseg/framework/paths.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::bench {

/// "a,b,c" -> {"a", "b", "c"}; "" -> {""} (one empty item: "the recipe's own").
inline std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

/// "1,2,4" -> {1, 2, 4}; empty items are skipped.
inline std::vector<std::int64_t> int_list(const std::string& text) {
  std::vector<std::int64_t> values;
  for (const std::string& item : split_list(text)) {
    if (!item.empty()) values.push_back(std::stoll(item));
  }
  return values;
}

/// LibTorch's CPU threads: `threads`, or every core when 0 (BLAS kept from contending, as in training).
inline void set_threads(std::int64_t threads) { framework::configure_cpu_threads(threads); }

/// The shipped plugins, logging warnings only.
inline std::unique_ptr<framework::Runtime> quiet_runtime() {
  framework::RuntimeOptions options;
  options.logger = framework::make_logger("bench", "warn");
  return std::make_unique<framework::Runtime>(std::move(options));
}

/// `file` (default: the shipped single-stage segmentation pipeline) with size variant `size`
/// ("" = the recipe's own) and `overrides` ("KEY=VALUE"), expanded into its stages.
inline std::vector<framework::Stage> load_stages(std::string file, const std::string& size,
                                                 const std::vector<std::string>& overrides = {}) {
  const auto recipes = framework::shipped_recipes_dir();
  if (file.empty()) {
    if (!recipes) throw sdk::Error("no shipped recipes folder found; pass --recipe");
    file = (*recipes / "pipelines/seg_single_stage.toml").string();
  }
  framework::RecipeRequest request;
  request.file = file;
  request.size = size;
  if (recipes) request.variants_dir = *recipes / "variants";
  for (const auto& item : overrides) request.overrides.push_back(framework::parse_override(item));
  return framework::expand_stages(framework::load_recipe(request));
}

}  // namespace rtseg::bench
