#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "rtseg/sdk/feature_spec.h"

namespace spdlog {
class logger;
}

namespace rtseg::sdk {

/// Model-wide settings from the recipe's [model] table, shared by all model components.
struct ModelSettings {
  std::int64_t resolution = 0;   ///< square training/eval input size in pixels
  std::int64_t num_classes = 0;  ///< classes of the dataset (the head adds what it needs)
  std::int64_t num_queries = 0;  ///< object queries per group
  std::int64_t num_select = 0;   ///< detections kept at inference (top-k over queries x classes)
  std::int64_t hidden_dim = 0;   ///< width of the projector output and the decoder
};

/// What the decoder publishes to the segmentation head.
struct DecoderSpec {
  std::int64_t hidden_dim = 0;
  std::int64_t num_layers = 0;
};

/// Everything a factory may use besides its own options. Owned by the host; valid during the
/// factory call only (copy what you keep; the logger is shared and may be kept).
struct BuildContext {
  c10::Device device{c10::kCPU};
  c10::ScalarType dtype = c10::kFloat;
  std::shared_ptr<spdlog::logger> logger;  ///< the host's logger; plugins never use spdlog globals
  std::filesystem::path recipe_dir;        ///< relative paths in a recipe resolve against this
  ModelSettings model;
  FeatureSpecs inputs;                     ///< what the upstream component publishes (decoder, head)
  DecoderSpec decoder;                     ///< set for segmentation heads
};

}  // namespace rtseg::sdk
