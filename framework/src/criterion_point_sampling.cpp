#include "rtseg/framework/criterion/point_sampling.h"

#include <ATen/core/grad_mode.h>

namespace rtseg::framework::criterion {
namespace {

// at::grid_sampler's enums (GridSamplerInterpolation / GridSamplerPadding).
constexpr std::int64_t kBilinear = 0;
constexpr std::int64_t kNearest = 1;
constexpr std::int64_t kBorder = 1;

torch::Tensor sample(const torch::Tensor& input, const torch::Tensor& points,
                     std::int64_t interpolation) {
  // [N, P, 2] in [0, 1] -> a [N, P, 1, 2] grid in [-1, 1].
  const torch::Tensor grid = (2.0 * points - 1.0).unsqueeze(2);
  return at::grid_sampler(input, grid, interpolation, kBorder, /*align_corners=*/false).squeeze(3);
}

}  // namespace

torch::Tensor point_sample(const torch::Tensor& input, const torch::Tensor& points) {
  return sample(input, points, kBilinear);
}

torch::Tensor nearest_pixel_indices(const torch::Tensor& points, std::int64_t height,
                                    std::int64_t width) {
  TORCH_CHECK(height * width < (std::int64_t{1} << 24),
              "nearest_pixel_indices: ", height, "x", width,
              " pixels cannot be indexed exactly in float32");
  const auto options = points.options().dtype(torch::kFloat);
  const torch::Tensor index_image = torch::arange(height * width, options).view({1, 1, height, width});
  const torch::Tensor flat_points = points.reshape({1, -1, 2}).to(torch::kFloat);
  const torch::Tensor sampled = sample(index_image, flat_points, kNearest);  // [1, 1, P]
  auto shape = points.sizes().vec();
  shape.pop_back();
  return sampled.view(shape).to(torch::kLong);
}

torch::Tensor uncertain_point_coords(const torch::Tensor& logits, std::int64_t num_points,
                                     std::int64_t oversample_ratio,
                                     double importance_sample_ratio, at::Generator& generator) {
  TORCH_CHECK(logits.dim() == 4 && logits.size(1) == 1,
              "uncertain_point_coords: logits must be [N, 1, H, W], got ", logits.sizes());
  TORCH_CHECK(oversample_ratio >= 1, "uncertain_point_coords: oversample_ratio must be >= 1");
  TORCH_CHECK(importance_sample_ratio >= 0 && importance_sample_ratio <= 1,
              "uncertain_point_coords: importance_sample_ratio must be in [0, 1]");
  at::NoGradGuard no_grad;
  const std::int64_t num_masks = logits.size(0);
  const std::int64_t num_candidates = num_points * oversample_ratio;
  // Drawn on the generator's device (a CPU generator may serve a CUDA run), used on the logits'.
  const auto draw = [&](std::int64_t count) {
    return at::rand({num_masks, count, 2}, generator, logits.options().requires_grad(false).device(generator.device()))
        .to(logits.device(), logits.scalar_type(), /*non_blocking=*/true);
  };
  torch::Tensor candidates = draw(num_candidates);

  // Uncertainty of the interpolated logit at each candidate (not the interpolated uncertainty
  // of the map: a point between logits -1 and 1 is maximally uncertain).
  const torch::Tensor uncertainty = -point_sample(logits.detach(), candidates).squeeze(1).abs();
  const auto num_uncertain = static_cast<std::int64_t>(importance_sample_ratio * num_points);
  const torch::Tensor chosen = std::get<1>(uncertainty.topk(num_uncertain, 1));
  torch::Tensor points = candidates.gather(1, chosen.unsqueeze(-1).expand({num_masks, num_uncertain, 2}));
  const std::int64_t num_random = num_points - num_uncertain;
  if (num_random > 0) {
    points = torch::cat({points, draw(num_random)}, 1);
  }
  return points;
}

}  // namespace rtseg::framework::criterion
