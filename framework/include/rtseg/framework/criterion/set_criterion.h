#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "rtseg/framework/criterion/losses.h"
#include "rtseg/framework/criterion/matcher.h"
#include "rtseg/framework/criterion/supervised_output.h"
#include "rtseg/framework/criterion/targets.h"
#include "rtseg/framework/sample_transform.h"
#include "rtseg/framework/train_options.h"

namespace rtseg::framework::criterion {

/// What one criterion call returns.
struct CriterionResult {
  /// Unweighted losses in RF-DETR's loss-dict order: per output (last layer, _0.., _enc)
  /// loss_ce, loss_bbox, loss_giou[, loss_mask_ce, loss_mask_dice] with the output's suffix.
  std::vector<std::pair<std::string, torch::Tensor>> losses;
  /// sum of weight x loss in that order: what the training step back-propagates.
  torch::Tensor total;
  /// The matching of each supervised output (same order as the outputs).
  std::vector<OutputMatches> matches;
  /// The normaliser the losses were divided by.
  double num_boxes = 1.0;

  /// The loss called `name`; throws std::out_of_range when there is none.
  const torch::Tensor& loss(const std::string& name) const;
};

/// The losses' normaliser: objects in the batch (averaged over the ranks in data-parallel
/// training) x query groups (RF-DETR's sum_group_losses = false), before clamping to >= 1.
double local_num_boxes(double objects, std::int64_t num_groups);

/// RF-DETR's SetCriterion in training mode (HungarianMatcher + labels, boxes and masks losses
/// for every supervised output, group DETR normalisation).
///
/// Host synchronisation: one device-to-host copy of all matching costs per call; the matches
/// return to the device in one non-blocking copy. Nothing else reads device values.
class SetCriterion {
 public:
  /// Throws std::invalid_argument for an unknown loss.class_loss.
  SetCriterion(LossOptions loss, MatcherOptions matcher);

  /// Losses for `outputs` (see supervised_outputs()); num_groups: the decoder's query groups.
  /// `generator` (on the predictions' device) drives the mask point sampling.
  /// `objects`: the object count the normaliser uses instead of this batch's own -- in data-parallel
  /// training the mean over the ranks, which every rank must use alike (TrainStep sums the counts
  /// once per step). num_boxes = objects x num_groups, at least 1.
  CriterionResult operator()(const std::vector<SupervisedOutput>& outputs,
                             const TargetBatch& targets, std::int64_t num_groups,
                             at::Generator& generator, std::optional<double> objects = std::nullopt) const;

  /// Convenience: builds the supervised outputs and the target batch first.
  CriterionResult operator()(const sdk::DecoderOutputs& decoded, const sdk::MaskOutputs* masks,
                             const std::vector<Targets>& targets, at::Generator& generator,
                             std::optional<double> objects = std::nullopt) const;

  /// The weight of a loss name (suffix ignored); 0 for names the total leaves out.
  double weight(const std::string& name) const;

  const LossOptions& loss_options() const { return loss_; }
  const HungarianMatcher& matcher() const { return matcher_; }

 private:
  LossOptions loss_;
  ClassLoss class_loss_;
  HungarianMatcher matcher_;
};

}  // namespace rtseg::framework::criterion
