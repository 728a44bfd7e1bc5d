#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "rtseg/framework/criterion/supervised_output.h"
#include "rtseg/framework/criterion/targets.h"
#include "rtseg/framework/train_options.h"

namespace rtseg::framework::criterion {

/// RF-DETR's matching cost of every query against every object of the same image, for all
/// images at once: [B, Q, targets.max_size] in the predictions' dtype (columns past an image's
/// objects are padding). Terms: bbox_cost x L1(cxcywh) + class_cost x focal-style class cost
/// (alpha 0.25, gamma 2, fixed as in RF-DETR) + giou_cost x (-GIoU), and with masks
/// mask_ce_cost x mean point BCE + mask_dice_cost x point dice at h*w / mask_point_sample_ratio
/// uniform points shared by the batch (one rand(1, P, 2) draw from `generator`).
/// Computed per image block (never all queries of the batch against all of its objects).
torch::Tensor matching_costs(const SupervisedOutput& output, const TargetBatch& targets,
                             const MatcherOptions& options, std::int64_t mask_point_sample_ratio,
                             at::Generator& generator);

/// The mask terms alone: mask point logits [B, Q, P] and target point labels [B, N, P] (0/1)
/// -> (mean BCE [B, Q, N], dice cost [B, Q, N]).
std::pair<torch::Tensor, torch::Tensor> mask_point_costs(const torch::Tensor& point_logits,
                                                         const torch::Tensor& point_labels);

/// float32 costs with NaN/inf replaced by twice the largest finite cost of valid entries
/// (0 when there is none). RF-DETR 1.4.1 writes `C[isinf|isnan] = 2 * C.max()`, and C.max() is
/// itself NaN/inf whenever such an entry exists, so it passes NaN/inf on to scipy (which fails
/// on NaN and treats +inf as forbidden); taking the maximum over finite entries is what that
/// line means to do, and equals it whenever the reference's result is finite.
torch::Tensor finite_costs(const torch::Tensor& costs, const TargetBatch& targets);

/// Solves the host costs of one output ([B, Q, stride] float32, row-major) per image and per
/// group (queries [g Q/G, (g+1) Q/G)); query indices come back with the group offset.
OutputMatches assign_per_group(const float* costs, std::int64_t queries, std::int64_t stride,
                               const std::vector<std::int64_t>& sizes, std::int64_t num_groups);

/// RF-DETR's HungarianMatcher for every supervised output of a step: all costs are computed on
/// the predictions' device, copied to the host in ONE transfer, then solved per image per group
/// (in parallel on the intra-op thread pool).
class HungarianMatcher {
 public:
  HungarianMatcher(MatcherOptions options, std::int64_t mask_point_sample_ratio);

  /// One OutputMatches per output. Draws the mask points of each output in turn.
  std::vector<OutputMatches> match(const std::vector<SupervisedOutput>& outputs,
                                   const TargetBatch& targets, std::int64_t num_groups,
                                   at::Generator& generator) const;

 private:
  MatcherOptions options_;
  std::int64_t mask_point_sample_ratio_;
};

}  // namespace rtseg::framework::criterion
