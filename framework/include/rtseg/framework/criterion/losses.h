#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "rtseg/framework/criterion/supervised_output.h"
#include "rtseg/framework/criterion/targets.h"
#include "rtseg/sdk/components/seg_head.h"

namespace rtseg::framework::criterion {

/// LossOptions::class_loss.
enum class ClassLoss { kIaBce, kFocal, kVarifocal };

/// "ia_bce" | "focal" | "varifocal"; throws std::invalid_argument otherwise.
ClassLoss class_loss_from_name(const std::string& name);

/// The matched (query, object) pairs of one output as device index tensors, image by image.
struct MatchedPairs {
  torch::Tensor image;   ///< [K] int64
  torch::Tensor query;   ///< [K] int64, index into the Q queries
  torch::Tensor target;  ///< [K] int64, index into TargetBatch's concatenated objects
  std::vector<std::int64_t> per_image;  ///< pairs of each image (host)

  std::int64_t size() const { return image.defined() ? image.size(0) : 0; }
};

/// Index tensors for every output's matches, moved to `device` in one copy (pinned and
/// non-blocking for a GPU, so that it does not wait for the device).
std::vector<MatchedPairs> matched_pairs(const std::vector<OutputMatches>& matches,
                                        const TargetBatch& targets, const torch::Device& device);

/// RF-DETR's loss_ce over all B x Q x C logits, sum / num_boxes:
///  * ia_bce: positives (matched query, its object's class) weigh -log p by t and -log(1-p) by
///    1 - t, with t = max(p^alpha IoU^(1-alpha), 0.01) detached (IoU of the detached predicted
///    box); every other entry is -p^2 log(1-p), p^2 NOT detached;
///  * focal: sigmoid focal loss (alpha, gamma 2) against one-hot targets;
///  * varifocal: varifocal loss with the IoU as the positives' target.
torch::Tensor classification_loss(ClassLoss kind, const torch::Tensor& logits,
                                  const torch::Tensor& boxes, const MatchedPairs& pairs,
                                  const TargetBatch& targets, double focal_alpha,
                                  double num_boxes);

/// L1 of matched (cx, cy, w, h) and 1 - GIoU, each summed / num_boxes.
struct BoxLosses {
  torch::Tensor l1;
  torch::Tensor giou;
};
BoxLosses box_losses(const torch::Tensor& boxes, const MatchedPairs& pairs,
                     const TargetBatch& targets, double num_boxes);

/// The matched queries' full mask logits [K, h, w]: one matmul per image of the matched query
/// embeddings with that image's pixel embedding (never the [B, Q, h, w] of all queries).
torch::Tensor matched_mask_logits(const sdk::MaskEmbedding& masks, const MatchedPairs& pairs);

/// Mask BCE (mean over points) and dice at PointRend points (max(h, h*w / ratio) per mask,
/// oversampled 3x, 75% most uncertain), each summed over masks / num_boxes. Predictions are
/// sampled bilinearly (border), targets nearest. Randomness from `generator`.
struct MaskLosses {
  torch::Tensor ce;
  torch::Tensor dice;
};
MaskLosses mask_losses(const sdk::MaskEmbedding& masks, const MatchedPairs& pairs,
                       const TargetBatch& targets, std::int64_t mask_point_sample_ratio,
                       double num_boxes, at::Generator& generator);

}  // namespace rtseg::framework::criterion
