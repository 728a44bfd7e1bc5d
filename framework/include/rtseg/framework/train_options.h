#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "rtseg/sdk/config_reader.h"

namespace rtseg::framework {

/// [train.loss]: loss weights and the classification loss (RF-DETR's detection defaults).
struct LossOptions {
  std::string class_loss = "ia_bce";  ///< ia_bce | focal | varifocal
  double focal_alpha = 0.25;
  double class_weight = 1.0;
  double bbox_weight = 5.0;
  double giou_weight = 2.0;
  double mask_ce_weight = 5.0;
  double mask_dice_weight = 5.0;
  std::int64_t mask_point_sample_ratio = 16;  ///< mask points per image = h*w / ratio
  bool aux_loss = true;                       ///< supervise every decoder layer and the proposals
};

/// [train.matcher]: Hungarian matching costs.
struct MatcherOptions {
  double class_cost = 2.0;
  double bbox_cost = 5.0;
  double giou_cost = 2.0;
  double mask_ce_cost = 5.0;
  double mask_dice_cost = 5.0;
};

/// The [train] table's own keys (the scheduler is a component: [train.scheduler]).
/// Defaults are RF-DETR's TrainConfig; the seed's knobs are the first block.
struct TrainOptions {
  std::int64_t batch = 4;
  std::int64_t accum = 4;
  /// Choose batch (and accum, keeping batch x accum) at start-up with the memory planner.
  bool auto_batch = false;
  /// Out of memory in a step: "stop" (with advice) or "retry" (halve batch, double accum, go on).
  std::string on_oom = "stop";
  /// The memory auto_batch fits, e.g. "4GiB" (empty: the device's total memory).
  std::string memory_budget;
  bool multi_scale = true;
  bool expanded_scales = true;
  std::int64_t workers = 2;
  std::string amp = "auto";  ///< auto | bf16 | fp16 | off
  bool gradient_checkpointing = false;

  std::int64_t epochs = 100;
  std::int64_t max_steps = 0;  ///< 0: no limit
  double lr = 1e-4;
  double lr_encoder = 1.5e-4;
  double lr_vit_layer_decay = 0.8;
  double lr_component_decay = 0.7;
  double weight_decay = 1e-4;
  double clip_max_norm = 0.1;
  bool ema = true;
  double ema_decay = 0.993;
  double ema_tau = 100;  ///< 0: no warm-up
  bool early_stopping = false;
  std::int64_t early_stopping_patience = 10;
  double early_stopping_min_delta = 0.001;

  std::int64_t seed = 42;
  std::string device = "auto";
  /// Several processes: what carries the collectives, auto (NCCL on CUDA, Gloo on the CPU) | gloo | nccl.
  std::string dist_backend = "auto";
  /// Several processes: minutes a rank waits for the others in one collective before it fails.
  double dist_timeout = 30;
  std::int64_t threads = 0;  ///< 0: all cores
  std::string output_dir = "runs";
  /// Also keep weights/epoch<N>.safetensors every this many epochs.
  std::int64_t checkpoint_interval = 10;
  /// The training state is saved at each epoch's end, and within an epoch every
  /// `checkpoint_every_steps` optimizer steps and/or `checkpoint_every_minutes` (0: never),
  /// as train.checkpoint_every says ("500 steps", "15 min", "500 steps, 15 min", "off").
  std::string checkpoint_every = "15 min";
  std::int64_t checkpoint_every_steps = 0;
  double checkpoint_every_minutes = 15;
  bool tensorboard = true;

  LossOptions loss;
  MatcherOptions matcher;
};

/// Reads [train] (with [train.loss] and [train.matcher]); leaves [train.scheduler] to its plugin.
TrainOptions train_options_from(sdk::ConfigReader& reader);

/// Parses train.checkpoint_every into (steps, minutes), 0 meaning never: "off", or intervals
/// separated by commas, each a positive number and a unit -- steps, s, min or h ("500 steps",
/// "15 min", "1000 steps, 30 min": whichever comes first). Throws ConfigError.
std::pair<std::int64_t, double> parse_checkpoint_every(const std::string& text);

}  // namespace rtseg::framework
