#include "rtseg/framework/train_options.h"

#include <cmath>
#include <sstream>
#include <tuple>

#include "rtseg/framework/memory_size.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

constexpr std::int64_t kMostPerStep = std::int64_t{1} << 20;  // batch, accum
constexpr std::int64_t kMostEpochs = 1000000;

LossOptions loss_options_from(sdk::ConfigReader& reader) {
  LossOptions o;
  o.class_loss = reader.choice("class_loss", o.class_loss, {"ia_bce", "focal", "varifocal"},
                               "classification loss");
  o.focal_alpha = reader.get("focal_alpha", o.focal_alpha, "alpha of the focal-style terms");
  o.class_weight = reader.get("class_weight", o.class_weight, "weight of the classification loss");
  o.bbox_weight = reader.get("bbox_weight", o.bbox_weight, "weight of the L1 box loss");
  o.giou_weight = reader.get("giou_weight", o.giou_weight, "weight of the GIoU loss");
  o.mask_ce_weight = reader.get("mask_ce_weight", o.mask_ce_weight,
                                "weight of the point-sampled mask BCE loss");
  o.mask_dice_weight = reader.get("mask_dice_weight", o.mask_dice_weight,
                                  "weight of the point-sampled mask dice loss");
  o.mask_point_sample_ratio = reader.get("mask_point_sample_ratio", o.mask_point_sample_ratio,
                                         "mask points per image = mask pixels / this");
  o.aux_loss = reader.get("aux_loss", o.aux_loss,
                          "also supervise every decoder layer and the two-stage proposals");
  const std::pair<const char*, double> weights[] = {
      {"class_weight", o.class_weight}, {"bbox_weight", o.bbox_weight},
      {"giou_weight", o.giou_weight},   {"mask_ce_weight", o.mask_ce_weight},
      {"mask_dice_weight", o.mask_dice_weight}};
  for (const auto& [key, value] : weights) reader.check(value >= 0, key, "must not be negative.");
  reader.check(o.focal_alpha > 0 && o.focal_alpha < 1, "focal_alpha", "must be in (0, 1).");
  reader.check(o.mask_point_sample_ratio >= 1, "mask_point_sample_ratio", "must be at least 1.");
  return o;
}

MatcherOptions matcher_options_from(sdk::ConfigReader& reader) {
  MatcherOptions o;
  o.class_cost = reader.get("class_cost", o.class_cost, "weight of the class cost");
  o.bbox_cost = reader.get("bbox_cost", o.bbox_cost, "weight of the L1 box cost");
  o.giou_cost = reader.get("giou_cost", o.giou_cost, "weight of the GIoU cost");
  o.mask_ce_cost = reader.get("mask_ce_cost", o.mask_ce_cost, "weight of the mask BCE cost");
  o.mask_dice_cost = reader.get("mask_dice_cost", o.mask_dice_cost, "weight of the mask dice cost");
  return o;
}

}  // namespace

TrainOptions train_options_from(sdk::ConfigReader& reader) {
  TrainOptions o;
  o.batch = reader.get("batch", o.batch,
                       "images per forward/backward pass; memory grows linearly with it");
  o.accum = reader.get("accum", o.accum,
                       "micro-batches per optimizer step; effective batch = batch x accum");
  o.auto_batch = reader.get("auto_batch", o.auto_batch,
                            "measure memory at start-up and choose the largest batch that fits (accum keeps "
                            "batch x accum)");
  o.memory_budget = reader.get("memory_budget", o.memory_budget,
                               "memory auto_batch fits, e.g. \"4GiB\" (empty: the device's total)");
  o.on_oom = reader.choice("on_oom", o.on_oom, {"stop", "retry"},
                           "out of memory in a step: stop with advice, or retry with half the batch and twice the "
                           "accum from the last completed step");
  o.multi_scale = reader.get("multi_scale", o.multi_scale,
                             "train each optimizer step at a random square size around resolution");
  o.expanded_scales = reader.get("expanded_scales", o.expanded_scales,
                                 "multi-scale range: 5 steps either side (else -3..+4)");
  o.workers = reader.get("workers", o.workers, "data-loading threads (CPU memory only)");
  o.amp = reader.choice("amp", o.amp, {"auto", "bf16", "fp16", "off"},
                        "mixed precision: auto = bf16 or fp16 on CUDA, off on CPU");
  o.gradient_checkpointing = reader.get("gradient_checkpointing", o.gradient_checkpointing,
                                        "recompute backbone layers in backward: less memory, slower");
  o.epochs = reader.get("epochs", o.epochs, "passes over the training split");
  o.max_steps = reader.get("max_steps", o.max_steps,
                           "stop after this many optimizer steps (0: no limit)");
  o.lr = reader.get("lr", o.lr, "learning rate of the heads, projector and queries");
  o.lr_encoder = reader.get("lr_encoder", o.lr_encoder, "learning rate of the backbone ViT");
  o.lr_vit_layer_decay = reader.get("lr_vit_layer_decay", o.lr_vit_layer_decay,
                                    "backbone learning rate x this per layer below the top");
  o.lr_component_decay = reader.get("lr_component_decay", o.lr_component_decay,
                                    "decoder lr x this, backbone lr x this squared");
  o.weight_decay = reader.get("weight_decay", o.weight_decay,
                              "AdamW weight decay (none for backbone norms, biases, embeddings)");
  o.clip_max_norm = reader.get("clip_max_norm", o.clip_max_norm,
                               "clip the global gradient norm to this (0: no clipping)");
  o.ema = reader.get("ema", o.ema, "keep and evaluate an exponential moving average of the weights");
  o.ema_decay = reader.get("ema_decay", o.ema_decay, "EMA decay after warm-up");
  o.ema_tau = reader.get("ema_tau", o.ema_tau, "EMA warm-up: decay x (1 - exp(-updates / tau)); 0: no warm-up");
  o.early_stopping = reader.get("early_stopping", o.early_stopping,
                                "stop when validation mAP stops improving");
  o.early_stopping_patience = reader.get("early_stopping_patience", o.early_stopping_patience,
                                         "epochs without improvement before stopping");
  o.early_stopping_min_delta = reader.get("early_stopping_min_delta", o.early_stopping_min_delta,
                                          "smallest mAP gain that counts as improvement");
  o.seed = reader.get("seed", o.seed, "random seed (data order, augmentation, initialisation)");
  o.device = reader.get("device", o.device, "auto, cpu, cuda or cuda:N");
  o.dist_backend = reader.choice("dist_backend", o.dist_backend, {"auto", "gloo", "nccl"},
                                 "distributed training (several processes): what carries the collectives; auto = "
                                 "NCCL on CUDA devices when the build has it, else Gloo");
  o.dist_timeout = reader.get("dist_timeout", o.dist_timeout,
                              "distributed training: minutes a rank waits for the others in one collective before "
                              "it fails (the others wait through rank 0's validation and checkpoints)");
  o.threads = reader.get("threads", o.threads, "CPU threads for LibTorch (0: all cores)");
  o.output_dir = reader.get("output_dir", o.output_dir,
                            "folder of run folders <stage>_<size>_<resolution>_<n>");
  o.checkpoint_interval = reader.get("checkpoint_interval", o.checkpoint_interval,
                                     "also keep weights/epoch<N>.safetensors every this many epochs");
  o.checkpoint_every = reader.get("checkpoint_every", o.checkpoint_every,
                                  "also save the training state (for --resume) within epochs: \"500 steps\", "
                                  "\"15 min\", \"500 steps, 15 min\" (whichever comes first) or \"off\"");
  o.tensorboard = reader.get("tensorboard", o.tensorboard, "write TensorBoard event files");
  o.loss = loss_options_from(reader.section("loss", "loss weights"));
  o.matcher = matcher_options_from(reader.section("matcher", "matching costs"));

  reader.check(o.batch >= 1, "batch", "must be at least 1.");
  reader.check(o.accum >= 1, "accum", "must be at least 1.");
  // Limits far beyond any real run, so that step and image counts cannot overflow.
  reader.check(o.batch <= kMostPerStep, "batch", "must be at most " + std::to_string(kMostPerStep) + ".");
  reader.check(o.accum <= kMostPerStep, "accum", "must be at most " + std::to_string(kMostPerStep) + ".");
  if (!o.memory_budget.empty()) {
    try {
      parse_memory_size(o.memory_budget);
    } catch (const sdk::Error& error) {
      reader.fail("memory_budget", error.what());
    }
  }
  reader.check(o.workers >= 0, "workers", "must not be negative.");
  reader.check(o.epochs >= 1, "epochs", "must be at least 1.");
  reader.check(o.epochs <= kMostEpochs, "epochs", "must be at most " + std::to_string(kMostEpochs) + ".");
  reader.check(o.max_steps >= 0, "max_steps", "must not be negative (0: no limit).");
  reader.check(o.lr > 0, "lr", "must be positive.");
  reader.check(o.lr_encoder >= 0, "lr_encoder", "must not be negative.");
  reader.check(o.weight_decay >= 0, "weight_decay", "must not be negative.");
  reader.check(o.clip_max_norm >= 0, "clip_max_norm", "must not be negative (0: no clipping).");
  reader.check(o.ema_decay >= 0 && o.ema_decay < 1, "ema_decay", "must be in [0, 1).");
  reader.check(o.ema_tau >= 0, "ema_tau", "must not be negative (0: no warm-up).");
  reader.check(o.dist_timeout > 0, "dist_timeout", "must be positive (minutes).");
  reader.check(o.threads >= 0, "threads", "must not be negative (0: all cores).");
  reader.check(o.checkpoint_interval >= 1, "checkpoint_interval", "must be at least 1.");
  try {
    std::tie(o.checkpoint_every_steps, o.checkpoint_every_minutes) = parse_checkpoint_every(o.checkpoint_every);
  } catch (const sdk::ConfigError& error) {
    reader.fail("checkpoint_every", error.what());
  }
  return o;
}

std::pair<std::int64_t, double> parse_checkpoint_every(const std::string& text) {
  std::pair<std::int64_t, double> every{0, 0.0};
  if (text == "off") return every;
  const auto bad = [&text](const std::string& why) {
    return sdk::ConfigError("\"" + text + "\": " + why +
                            "; expected \"500 steps\", \"15 min\", \"1 h\", \"500 steps, 15 min\" or \"off\".");
  };
  std::istringstream parts(text);
  for (std::string part; std::getline(parts, part, ',');) {
    std::istringstream words(part);
    double value = 0;
    std::string unit, rest;
    if (!(words >> value) || !(words >> unit) || (words >> rest) || !(value > 0) || !std::isfinite(value)) {
      throw bad("'" + part + "' is not a positive number and a unit");
    }
    if (unit == "step" || unit == "steps") {
      if (value != std::floor(value) || value > 1e15) throw bad("steps must be a whole number");
      if (every.first > 0) throw bad("steps given twice");
      every.first = static_cast<std::int64_t>(value);
      continue;
    }
    double minutes = 0;
    if (unit == "s" || unit == "sec" || unit == "seconds") minutes = value / 60;
    if (unit == "min" || unit == "minutes") minutes = value;
    if (unit == "h" || unit == "hours") minutes = value * 60;
    if (minutes == 0) throw bad("unknown unit '" + unit + "'");
    if (every.second > 0) throw bad("a time given twice");
    every.second = minutes;
  }
  if (every.first == 0 && every.second == 0) throw bad("no interval");
  return every;
}

}  // namespace rtseg::framework
