#include <limits>

#include <ATen/core/grad_mode.h>

#include "rtseg/framework/criterion/box_ops.h"
#include "rtseg/framework/criterion/matcher.h"
#include "rtseg/framework/criterion/point_sampling.h"

namespace rtseg::framework::criterion {
namespace {

// RF-DETR's matcher uses fixed focal parameters (its focal_alpha argument is not used there).
constexpr double kCostAlpha = 0.25;

// Focal-style cost of predicting each image's object classes: logits [B, Q, C] -> [B, Q, N].
torch::Tensor class_cost(const torch::Tensor& logits, const TargetBatch& targets) {
  const std::int64_t batch = logits.size(0), queries = logits.size(1);
  const torch::Tensor labels = targets.padded_labels.clamp_min(0).unsqueeze(1).expand(
      {batch, queries, targets.max_size});
  const torch::Tensor x = logits.gather(2, labels);
  const torch::Tensor prob = x.sigmoid();
  // Log-sigmoid form of alpha (1-p)^2 (-log p) - (1-alpha) p^2 (-log(1-p)).
  const torch::Tensor negative = (1 - kCostAlpha) * prob.pow(2) * (-at::log_sigmoid(-x));
  const torch::Tensor positive = kCostAlpha * (1 - prob).pow(2) * (-at::log_sigmoid(x));
  return positive - negative;
}

// Pairwise L1 distance of (cx, cy, w, h): [B, Q, 4] x [B, N, 4] -> [B, Q, N], summed over the
// coordinates in order (as torch.cdist(p=1) does), without the batch-wide cdist.
torch::Tensor l1_cost(const torch::Tensor& boxes, const torch::Tensor& target_boxes) {
  const torch::Tensor rows = boxes.unsqueeze(2);
  const torch::Tensor cols = target_boxes.unsqueeze(1);
  torch::Tensor cost = (rows.select(-1, 0) - cols.select(-1, 0)).abs();
  for (std::int64_t k = 1; k < 4; ++k) cost = cost + (rows.select(-1, k) - cols.select(-1, k)).abs();
  return cost;
}

// Mask point logits [B, Q, P] and target labels [B, N, P] at `points` [P, 2] shared by the batch.
std::pair<torch::Tensor, torch::Tensor> mask_points(const sdk::MaskEmbedding& masks,
                                                    const TargetBatch& targets,
                                                    const torch::Tensor& points) {
  const std::int64_t batch = masks.pixels.size(0);
  const std::int64_t num_points = points.size(0);
  // Sample the pixel embedding, then dot with every query: [B, D, P] -> [B, Q, P].
  const torch::Tensor sampled = point_sample(masks.pixels, points.unsqueeze(0).expand({batch, num_points, 2}));
  torch::Tensor logits = torch::bmm(masks.queries, sampled);
  if (masks.bias.defined()) logits = logits + masks.bias;

  const std::int64_t height = targets.masks.size(1), width = targets.masks.size(2);
  const torch::Tensor pixel = nearest_pixel_indices(points, height, width);  // [P]
  const torch::Tensor labels = targets.masks.view({targets.total, height * width})
                                   .index_select(1, pixel)
                                   .to(logits.scalar_type());
  const torch::Tensor padded = pad_per_image(labels.split_with_sizes(targets.sizes), targets.max_size, 0);
  return {logits, padded};
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> mask_point_costs(const torch::Tensor& point_logits,
                                                         const torch::Tensor& point_labels) {
  const double num_points = static_cast<double>(point_logits.size(-1));
  const torch::Tensor labels_t = point_labels.transpose(1, 2);  // [B, P, N]
  // Mean BCE of every (query, object) pair: sum_p [t softplus(-x) + (1-t) softplus(x)] / P
  // = [sum_p softplus(x) - sum_p t x] / P, since softplus(-x) - softplus(x) = -x.
  const torch::Tensor ce = (at::softplus(point_logits).sum(-1, /*keepdim=*/true) -
                            torch::bmm(point_logits, labels_t)) / num_points;
  const torch::Tensor prob = point_logits.sigmoid();
  const torch::Tensor numerator = 2 * torch::bmm(prob, labels_t);
  const torch::Tensor denominator = prob.sum(-1).unsqueeze(2) + point_labels.sum(-1).unsqueeze(1);
  const torch::Tensor dice = 1 - (numerator + 1) / (denominator + 1);
  return {ce, dice};
}

torch::Tensor matching_costs(const SupervisedOutput& output, const TargetBatch& targets,
                             const MatcherOptions& options, std::int64_t mask_point_sample_ratio,
                             at::Generator& generator) {
  TORCH_CHECK(output.logits.dim() == 3 && output.boxes.dim() == 3 && output.boxes.size(2) == 4 &&
                  output.logits.size(0) == targets.batch_size() &&
                  output.boxes.size(0) == targets.batch_size() &&
                  output.boxes.size(1) == output.logits.size(1),
              "matching_costs: output", output.suffix, " has logits ", output.logits.sizes(),
              " and boxes ", output.boxes.sizes(), " for ", targets.batch_size(), " images");
  at::NoGradGuard no_grad;
  const torch::Tensor logits = output.logits.detach();
  const torch::Tensor boxes = output.boxes.detach();
  const torch::Tensor target_boxes = targets.padded_boxes.to(boxes.scalar_type());

  const torch::Tensor giou =
      pairwise_generalized_box_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(target_boxes));
  torch::Tensor cost = options.bbox_cost * l1_cost(boxes, target_boxes) +
                       options.class_cost * class_cost(logits, targets) +
                       options.giou_cost * (-giou);

  if (output.has_masks()) {
    TORCH_CHECK(targets.has_masks(), "matching_costs: output", output.suffix,
                " predicts masks but the targets have none");
    const sdk::MaskEmbedding& masks = output.masks;
    TORCH_CHECK(masks.pixels.dim() == 4 && masks.queries.dim() == 3 &&
                    masks.queries.size(1) == logits.size(1),
                "matching_costs: mask embedding of output", output.suffix, " has pixels ",
                masks.pixels.sizes(), " and queries ", masks.queries.sizes());
    const std::int64_t num_points =
        masks.pixels.size(2) * masks.pixels.size(3) / mask_point_sample_ratio;
    const torch::Tensor points =
        at::rand({num_points, 2}, generator, masks.pixels.options().requires_grad(false));
    const sdk::MaskEmbedding detached{masks.pixels.detach(), masks.queries.detach(),
                                      masks.bias.defined() ? masks.bias.detach() : masks.bias};
    const auto [point_logits, point_labels] = mask_points(detached, targets, points);
    const auto [ce, dice] = mask_point_costs(point_logits, point_labels);
    cost = cost + options.mask_ce_cost * ce + options.mask_dice_cost * dice;
  }
  return cost;
}

torch::Tensor finite_costs(const torch::Tensor& costs, const TargetBatch& targets) {
  const torch::Tensor c = costs.to(torch::kFloat);
  if (c.numel() == 0) return c;
  const torch::Tensor finite = c.isfinite();
  const torch::Tensor valid = finite & targets.padded_labels.ge(0).unsqueeze(1);
  const float lowest = -std::numeric_limits<float>::infinity();
  torch::Tensor largest = torch::where(valid, c, torch::full({}, lowest, c.options())).amax();
  largest = torch::where(largest.isfinite(), largest, torch::zeros_like(largest));
  return torch::where(finite, c, 2 * largest);
}

}  // namespace rtseg::framework::criterion
