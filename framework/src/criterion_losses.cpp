#include <stdexcept>

#include <torch/csrc/autograd/custom_function.h>

#include "rtseg/framework/criterion/box_ops.h"
#include "rtseg/framework/criterion/losses.h"

namespace rtseg::framework::criterion {
namespace {

// What every (query, class) entry contributes as a negative: p^2 (-log(1 - p)) = p^2 softplus(x),
// scaled by 1 - alpha for focal / varifocal; p^2 keeps its gradient in every variant.
torch::Tensor negative_term(const torch::Tensor& x, double scale) {
  torch::Tensor term = x.sigmoid().pow(2) * at::softplus(x);
  return scale == 1.0 ? term : scale * term;
}

// IoU of each matched (detached) predicted box with its object's box.
torch::Tensor matched_iou(const torch::Tensor& boxes, const MatchedPairs& pairs,
                          const TargetBatch& targets) {
  const std::int64_t queries = boxes.size(1);
  const torch::Tensor predicted =
      boxes.detach().reshape({-1, 4}).index_select(0, pairs.image * queries + pairs.query);
  const torch::Tensor target = targets.boxes.index_select(0, pairs.target).to(boxes.scalar_type());
  return paired_box_iou(cxcywh_to_xyxy(predicted), cxcywh_to_xyxy(target));
}

// The negative term summed over every (query, class) entry of a [B, 13 x Q, C] output, holding
// only the logits for backward: autograd would hold sigma(x), sigma(x)^2 and softplus(x) (in fp32
// under autocast), about six times the logits' bytes for each supervised output. Computed in fp32
// whatever the logits' precision; the gradient is d/dx sigma^2 softplus = sigma^2 (2 (1 - sigma)
// softplus + sigma).
class NegativeTermSum : public torch::autograd::Function<NegativeTermSum> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits,
                               double scale) {
    ctx->save_for_backward({logits});
    ctx->saved_data["scale"] = scale;
    const torch::Tensor x = logits.to(torch::kFloat);
    return x.sigmoid().square_().mul_(at::softplus(x)).sum().mul_(scale);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const torch::Tensor logits = ctx->get_saved_variables()[0];
    // Forward's scale: 1 for IA-BCE, 1 - alpha for focal / varifocal (the dense-reference
    // gradient tests for focal and varifocal fail without it).
    const double scale = ctx->saved_data["scale"].toDouble();
    const torch::Tensor x = logits.to(torch::kFloat);
    const torch::Tensor sigma = x.sigmoid();
    // In place where possible: this runs at the start of backward, when memory is at its peak.
    torch::Tensor grad = at::softplus(x).mul_(1 - sigma).mul_(2).add_(sigma).mul_(sigma.square());
    grad.mul_(grad_outputs[0].to(torch::kFloat) * scale);
    return {grad.to(logits.scalar_type()), torch::Tensor()};
  }
};

}  // namespace

ClassLoss class_loss_from_name(const std::string& name) {
  if (name == "ia_bce") return ClassLoss::kIaBce;
  if (name == "focal") return ClassLoss::kFocal;
  if (name == "varifocal") return ClassLoss::kVarifocal;
  throw std::invalid_argument("unknown class loss '" + name +
                              "' (expected ia_bce, focal or varifocal)");
}

std::vector<MatchedPairs> matched_pairs(const std::vector<OutputMatches>& matches,
                                        const TargetBatch& targets, const torch::Device& device) {
  std::int64_t total = 0;
  for (const OutputMatches& output : matches) {
    for (const ImageMatch& image : output) total += static_cast<std::int64_t>(image.queries.size());
  }
  // Rows: image, query, target (global object index); columns: all outputs' pairs in turn.
  torch::Tensor host = torch::empty({3, total}, torch::kLong);
  std::int64_t* image_index = host.data_ptr<std::int64_t>();
  std::int64_t* query_index = image_index + total;
  std::int64_t* target_index = query_index + total;
  std::vector<MatchedPairs> pairs(matches.size());
  std::vector<std::int64_t> begin(matches.size());
  std::int64_t k = 0;
  for (std::size_t o = 0; o < matches.size(); ++o) {
    begin[o] = k;
    for (std::size_t b = 0; b < matches[o].size(); ++b) {
      const ImageMatch& image = matches[o][b];
      TORCH_CHECK(image.queries.size() == image.targets.size(), "matched_pairs: image ", b,
                  " has ", image.queries.size(), " queries but ", image.targets.size(), " targets");
      for (std::size_t i = 0; i < image.queries.size(); ++i, ++k) {
        image_index[k] = static_cast<std::int64_t>(b);
        query_index[k] = image.queries[i];
        target_index[k] = targets.first[b] + image.targets[i];
      }
      pairs[o].per_image.push_back(static_cast<std::int64_t>(image.queries.size()));
    }
  }
  torch::Tensor moved = host;
  if (device.is_cuda()) {
    moved = host.pin_memory().to(device, /*non_blocking=*/true);
  } else if (device != host.device()) {
    moved = host.to(device);
  }
  for (std::size_t o = 0; o < matches.size(); ++o) {
    const std::int64_t end = o + 1 < matches.size() ? begin[o + 1] : total;
    const torch::Tensor part = moved.narrow(1, begin[o], end - begin[o]);
    pairs[o].image = part[0];
    pairs[o].query = part[1];
    pairs[o].target = part[2];
  }
  return pairs;
}

torch::Tensor classification_loss(ClassLoss kind, const torch::Tensor& logits,
                                  const torch::Tensor& boxes, const MatchedPairs& pairs,
                                  const TargetBatch& targets, double focal_alpha,
                                  double num_boxes) {
  TORCH_CHECK(logits.dim() == 3, "classification_loss: logits must be [B, Q, C], got ", logits.sizes());
  const double negative_scale = kind == ClassLoss::kIaBce ? 1.0 : 1.0 - focal_alpha;
  // Everything as a negative first; the matched entries are then swapped for their positive
  // terms (cheaper than building [B, Q, C] target and weight tensors).
  torch::Tensor loss = NegativeTermSum::apply(logits, negative_scale);
  if (pairs.size() == 0) return loss / num_boxes;

  const std::int64_t queries = logits.size(1), classes = logits.size(2);
  const torch::Tensor labels = targets.labels.index_select(0, pairs.target);
  const torch::Tensor entry = (pairs.image * queries + pairs.query) * classes + labels;
  const torch::Tensor x = logits.reshape(-1).index_select(0, entry);
  const torch::Tensor negative = negative_term(x, negative_scale);

  torch::Tensor positive;
  switch (kind) {
    case ClassLoss::kIaBce: {
      // IoU-aware target t: weight t on -log p and 1 - t on -log(1 - p).
      const torch::Tensor iou = matched_iou(boxes, pairs, targets);
      const torch::Tensor t =
          (x.detach().sigmoid().pow(focal_alpha) * iou.pow(1 - focal_alpha)).clamp_min(0.01);
      const torch::Tensor negative_weight = 1 - t;
      positive = negative_weight * x - at::log_sigmoid(x) * (t + negative_weight);
      break;
    }
    case ClassLoss::kFocal:
      positive = focal_alpha * (1 - x.sigmoid()).pow(2) * at::softplus(-x);
      break;
    case ClassLoss::kVarifocal: {
      // The IoU is the target; an IoU of 0 leaves the entry a negative.
      const torch::Tensor iou = matched_iou(boxes, pairs, targets);
      const torch::Tensor bce = at::binary_cross_entropy_with_logits(
          x, iou.to(x.scalar_type()), {}, {}, at::Reduction::None);
      positive = torch::where(iou > 0, iou * bce, negative);
      break;
    }
  }
  return (loss - negative.sum() + positive.sum()) / num_boxes;
}

BoxLosses box_losses(const torch::Tensor& boxes, const MatchedPairs& pairs,
                     const TargetBatch& targets, double num_boxes) {
  const std::int64_t queries = boxes.size(1);
  const torch::Tensor predicted =
      boxes.reshape({-1, 4}).index_select(0, pairs.image * queries + pairs.query);
  const torch::Tensor target = targets.boxes.index_select(0, pairs.target).to(boxes.scalar_type());
  BoxLosses losses;
  losses.l1 = (predicted - target).abs().sum() / num_boxes;
  losses.giou =
      (1 - paired_generalized_box_iou(cxcywh_to_xyxy(predicted), cxcywh_to_xyxy(target))).sum() /
      num_boxes;
  return losses;
}

}  // namespace rtseg::framework::criterion
