#pragma once

#include <cstdint>
#include <string>

#include "rtseg/sdk/recompute.h"
#include "rtseg/sdk/config_reader.h"

namespace rtseg::plugins::lwdetr {

/// Recipe options of the LW-DETR decoder (RF-DETR 1.4.1's transformer + detection heads).
/// Widths, query count and class count come from the BuildContext, not from here.
struct LwDetrOptions {
  std::int64_t dec_layers = 3;          // decoder layers (one set of predictions each)
  std::int64_t sa_nheads = 8;           // self-attention heads
  std::int64_t ca_nheads = 16;          // deformable cross-attention heads
  std::int64_t dec_n_points = 2;        // sampling points per cross-attention head and level
  std::int64_t dim_feedforward = 2048;  // hidden width of each layer's feed-forward block
  std::int64_t group_detr = 13;         // query groups in training (group DETR); eval uses one
  bool two_stage = true;                // initialise reference boxes from top-k encoder proposals
  bool bbox_reparam = true;             // boxes: (d_xy * wh + xy, exp(d_wh) * wh), no sigmoid
  bool lite_refpoint_refine = true;     // reference boxes and query_pos once, not per layer
  double dropout = 0.0;                 // dropout in the decoder layers (training only)
  sdk::RecomputePolicy recompute = sdk::RecomputePolicy::kOnGpu;  // activations rebuilt in backward
  std::string recompute_scope = "layer";  // what is rebuilt: "ffn" (feed-forward blocks) or "layer"
  std::string decoder_norm = "LN";      // norm applied to every layer's output: "LN" or "Identity"
};

/// Reads and validates the [model.decoder] section of a recipe.
LwDetrOptions lwdetr_options_from(sdk::ConfigReader& reader);

}  // namespace rtseg::plugins::lwdetr
