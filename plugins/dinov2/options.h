#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rtseg/sdk/recompute.h"
#include "rtseg/sdk/config_reader.h"

namespace rtseg::plugins::dinov2 {

/// The recipe section of the "dinov2" backbone, as written (see dinov2_options_from for the keys).
struct Dinov2Options {
  std::string encoder = "small";               // size preset: small | base | large
  std::int64_t hidden_size = 0;                // ViT width; 0 = from the preset
  std::int64_t num_heads = 0;                  // attention heads; 0 = from the preset
  std::int64_t num_layers = 0;                 // transformer layers; 0 = from the preset
  std::int64_t patch_size = 16;                // pixels per patch side
  std::int64_t num_windows = 2;                // windows per image side (1 = no windowing)
  std::int64_t positional_encoding_size = 24;  // side of the learned position grid
  std::int64_t num_register_tokens = 0;        // DINOv2 "register" tokens after the CLS token
  // Tapped stages (stage k = output of layer k), ascending.
  std::vector<std::int64_t> out_feature_indexes = {3, 6, 9, 12};
  // Projector levels, an ascending subset of P3 P4 P5 P6.
  std::vector<std::string> projector_scale = {"P4"};
  std::int64_t projector_blocks = 3;  // bottlenecks per C2f projector stage
  double drop_path = 0.0;             // stochastic depth rate of every layer
  sdk::RecomputePolicy recompute = sdk::RecomputePolicy::kOnGpu;  // MLP activations rebuilt in backward
  bool freeze = false;                // ViT parameters get requires_grad = false
  std::string pretrained;             // Hugging Face DINOv2 model.safetensors, or empty
};

/// The ViT shape after applying the preset and the overrides.
struct VitConfig {
  std::int64_t hidden_size = 384;
  std::int64_t num_heads = 6;
  std::int64_t num_layers = 12;
  std::int64_t mlp_ratio = 4;
  double layer_norm_eps = 1e-6;
  double layer_scale_init = 1.0;
  std::int64_t patch_size = 16;
  std::int64_t num_windows = 2;
  std::int64_t positional_encoding_size = 24;
  std::int64_t num_register_tokens = 0;
  std::vector<std::int64_t> out_feature_indexes = {3, 6, 9, 12};
  double drop_path = 0.0;
  /// Rebuild each layer's MLP activations (norm2, fc1, GELU, fc2) in backward instead of
  /// holding them: the [T, mlp_ratio x C] hidden tensors are most of a layer's activations.
  sdk::RecomputePolicy recompute_mlp = sdk::RecomputePolicy::kNever;

  /// Layers that run: stage out_feature_indexes.back() is the last one anybody reads.
  std::int64_t layers_to_run() const { return out_feature_indexes.back(); }
  /// RF-DETR's rule: layers 0..last tapped index that are not tapped attend within windows,
  /// the others attend across the whole image.
  bool is_full_attention(std::int64_t layer) const;
};

/// Reads and validates the section. Errors name the key (ConfigError through reader.check).
Dinov2Options dinov2_options_from(sdk::ConfigReader& reader);

/// Preset + overrides. Expects validated options.
VitConfig vit_config_from(const Dinov2Options& options);

}  // namespace rtseg::plugins::dinov2
