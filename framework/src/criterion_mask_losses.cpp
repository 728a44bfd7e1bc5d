#include "rtseg/framework/criterion/losses.h"
#include "rtseg/framework/criterion/point_sampling.h"

namespace rtseg::framework::criterion {
namespace {

// PointRend sampling parameters RF-DETR's loss_masks uses.
constexpr std::int64_t kOversampleRatio = 3;
constexpr double kImportanceSampleRatio = 0.75;

// Target mask values (0/1 in `dtype`) at `points` [K, P, 2] of each pair's object: nearest
// pixel, read from the bool masks without converting them.
torch::Tensor target_point_labels(const TargetBatch& targets, const torch::Tensor& object,
                                  const torch::Tensor& points, torch::ScalarType dtype) {
  const std::int64_t height = targets.masks.size(1), width = targets.masks.size(2);
  const torch::Tensor pixel = nearest_pixel_indices(points, height, width);  // [K, P]
  const torch::Tensor flat = object.unsqueeze(1) * (height * width) + pixel;
  return targets.masks.reshape(-1).index_select(0, flat.reshape(-1)).view(pixel.sizes()).to(dtype);
}

}  // namespace

torch::Tensor matched_mask_logits(const sdk::MaskEmbedding& masks, const MatchedPairs& pairs) {
  TORCH_CHECK(masks.pixels.dim() == 4 && masks.queries.dim() == 3 &&
                  masks.pixels.size(0) == masks.queries.size(0) &&
                  masks.pixels.size(1) == masks.queries.size(2),
              "matched_mask_logits: pixels ", masks.pixels.sizes(), " do not fit queries ",
              masks.queries.sizes());
  const std::int64_t dim = masks.pixels.size(1);
  const std::int64_t height = masks.pixels.size(2), width = masks.pixels.size(3);
  const std::int64_t queries = masks.queries.size(1);
  const torch::Tensor matched =
      masks.queries.reshape({-1, dim}).index_select(0, pairs.image * queries + pairs.query);
  std::vector<torch::Tensor> per_image;
  std::int64_t begin = 0;
  for (std::size_t b = 0; b < pairs.per_image.size(); ++b) {
    const std::int64_t count = pairs.per_image[b];
    if (count == 0) continue;
    const torch::Tensor pixels = masks.pixels[static_cast<std::int64_t>(b)].reshape({dim, height * width});
    per_image.push_back(matched.narrow(0, begin, count).mm(pixels));
    begin += count;
  }
  torch::Tensor logits = per_image.empty()
                             ? torch::zeros({0, height * width}, masks.pixels.options())
                             : torch::cat(per_image);
  if (masks.bias.defined()) logits = logits + masks.bias;
  return logits.view({-1, height, width});
}

MaskLosses mask_losses(const sdk::MaskEmbedding& masks, const MatchedPairs& pairs,
                       const TargetBatch& targets, std::int64_t mask_point_sample_ratio,
                       double num_boxes, at::Generator& generator) {
  TORCH_CHECK(targets.has_masks(), "mask_losses: the targets have no masks");
  MaskLosses losses;
  if (pairs.size() == 0) {
    losses.ce = torch::zeros({}, masks.pixels.options());
    losses.dice = torch::zeros({}, masks.pixels.options());
    return losses;
  }
  const torch::Tensor logits = matched_mask_logits(masks, pairs).unsqueeze(1);  // [K, 1, h, w]
  const std::int64_t height = logits.size(2), width = logits.size(3);
  const std::int64_t num_points = std::max(height, height * width / mask_point_sample_ratio);
  const torch::Tensor points = uncertain_point_coords(logits, num_points, kOversampleRatio,
                                                      kImportanceSampleRatio, generator);
  const torch::Tensor point_logits = point_sample(logits, points).squeeze(1);  // [K, P]
  const torch::Tensor labels =
      target_point_labels(targets, pairs.target, points, point_logits.scalar_type());

  losses.ce = at::binary_cross_entropy_with_logits(point_logits, labels, {}, {}, at::Reduction::None)
                  .mean(1)
                  .sum() /
              num_boxes;
  const torch::Tensor prob = point_logits.sigmoid();
  const torch::Tensor numerator = 2 * (prob * labels).sum(-1);
  const torch::Tensor denominator = prob.sum(-1) + labels.sum(-1);
  losses.dice = (1 - (numerator + 1) / (denominator + 1)).sum() / num_boxes;
  return losses;
}

}  // namespace rtseg::framework::criterion
