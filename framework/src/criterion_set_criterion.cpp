#include "rtseg/framework/criterion/set_criterion.h"

#include <algorithm>
#include <stdexcept>

namespace rtseg::framework::criterion {
namespace {

// The name without an output suffix ("loss_bbox_enc" -> "loss_bbox").
std::string base_name(const std::string& name) {
  for (const char* known : {"loss_mask_dice", "loss_mask_ce", "loss_giou", "loss_bbox", "loss_ce"}) {
    if (name.rfind(known, 0) == 0) return known;
  }
  return name;
}

}  // namespace

const torch::Tensor& CriterionResult::loss(const std::string& name) const {
  for (const auto& [key, value] : losses) {
    if (key == name) return value;
  }
  throw std::out_of_range("no loss named '" + name + "'");
}

double local_num_boxes(double objects, std::int64_t num_groups) {
  return objects * static_cast<double>(num_groups);
}

SetCriterion::SetCriterion(LossOptions loss, MatcherOptions matcher)
    : loss_(std::move(loss)),
      class_loss_(class_loss_from_name(loss_.class_loss)),
      matcher_(matcher, loss_.mask_point_sample_ratio) {}

double SetCriterion::weight(const std::string& name) const {
  const std::string base = base_name(name);
  if (base == "loss_ce") return loss_.class_weight;
  if (base == "loss_bbox") return loss_.bbox_weight;
  if (base == "loss_giou") return loss_.giou_weight;
  if (base == "loss_mask_ce") return loss_.mask_ce_weight;
  if (base == "loss_mask_dice") return loss_.mask_dice_weight;
  return 0.0;
}

CriterionResult SetCriterion::operator()(const std::vector<SupervisedOutput>& outputs,
                                         const TargetBatch& targets, std::int64_t num_groups,
                                         at::Generator& generator, std::optional<double> objects) const {
  TORCH_CHECK(!outputs.empty(), "SetCriterion: no outputs to supervise");
  CriterionResult result;
  result.matches = matcher_.match(outputs, targets, num_groups, generator);
  const double num_boxes = local_num_boxes(objects.value_or(static_cast<double>(targets.total)), num_groups);
  result.num_boxes = std::max(num_boxes, 1.0);

  const torch::Device device = outputs.front().logits.device();
  const std::vector<MatchedPairs> pairs = matched_pairs(result.matches, targets, device);
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const SupervisedOutput& output = outputs[o];
    const std::string& suffix = output.suffix;
    result.losses.emplace_back(
        "loss_ce" + suffix, classification_loss(class_loss_, output.logits, output.boxes, pairs[o],
                                                targets, loss_.focal_alpha, result.num_boxes));
    BoxLosses boxes = box_losses(output.boxes, pairs[o], targets, result.num_boxes);
    result.losses.emplace_back("loss_bbox" + suffix, std::move(boxes.l1));
    result.losses.emplace_back("loss_giou" + suffix, std::move(boxes.giou));
    if (output.has_masks()) {
      MaskLosses masks = mask_losses(output.masks, pairs[o], targets,
                                     loss_.mask_point_sample_ratio, result.num_boxes, generator);
      result.losses.emplace_back("loss_mask_ce" + suffix, std::move(masks.ce));
      result.losses.emplace_back("loss_mask_dice" + suffix, std::move(masks.dice));
    }
  }
  // Summed in loss-dict order, as RF-DETR's training step does.
  for (const auto& [name, value] : result.losses) {
    const torch::Tensor weighted = value * weight(name);
    result.total = result.total.defined() ? result.total + weighted : weighted;
  }
  return result;
}

CriterionResult SetCriterion::operator()(const sdk::DecoderOutputs& decoded,
                                         const sdk::MaskOutputs* masks,
                                         const std::vector<Targets>& targets,
                                         at::Generator& generator, std::optional<double> objects) const {
  const std::vector<SupervisedOutput> outputs = supervised_outputs(decoded, masks, loss_.aux_loss);
  const torch::Tensor& boxes = outputs.front().boxes;
  const TargetBatch batch = make_target_batch(targets, boxes.device(), boxes.scalar_type());
  return (*this)(outputs, batch, decoded.num_groups, generator, objects);
}

}  // namespace rtseg::framework::criterion
