#pragma once

#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace rtseg::framework::criterion {

/// Values of `input` [N, C, H, W] at points [N, P, 2] given as (x, y) in [0, 1] x [0, 1] of the
/// whole map: bilinear, border padding, align_corners = false (PointRend's point_sample, as
/// RF-DETR uses it). Returns [N, C, P].
torch::Tensor point_sample(const torch::Tensor& input, const torch::Tensor& points);

/// Flat pixel indices (y * W + x) that nearest-neighbour point_sample would read from an H x W
/// map at `points` [..., 2]: int64 [...]. Found by sampling an index image with grid_sample
/// itself, so it agrees with grid_sample's own rounding on every device; gathering bool masks
/// with these indices replaces converting whole masks to float for nearest sampling.
torch::Tensor nearest_pixel_indices(const torch::Tensor& points, std::int64_t height,
                                    std::int64_t width);

/// PointRend's importance sampling: `oversample_ratio` x num_points uniform candidates per mask,
/// the int(importance_sample_ratio x num_points) most uncertain of them (largest -|logit| of
/// the bilinearly sampled `logits` [N, 1, H, W]), then uniform points for the rest.
/// Draws, in this order, rand(N, oversample x num_points, 2) and rand(N, rest, 2) from
/// `generator` (which must live on the logits' device). Returns [N, num_points, 2], no grad.
torch::Tensor uncertain_point_coords(const torch::Tensor& logits, std::int64_t num_points,
                                     std::int64_t oversample_ratio,
                                     double importance_sample_ratio, at::Generator& generator);

}  // namespace rtseg::framework::criterion
