#include "ms_deform_attn.h"

#include <cmath>
#include <string>

#include <torch/nn/functional/vision.h>
#include <torch/nn/init.h>

#include "rtseg/sdk/autocast.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::lwdetr {

namespace F = torch::nn::functional;

torch::Tensor ms_deform_attn_core(const torch::Tensor& value, const std::vector<LevelShape>& shapes,
                                  const torch::Tensor& sampling_locations,
                                  const torch::Tensor& attention_weights) {
  const std::int64_t batch = value.size(0);
  const std::int64_t heads = value.size(2);
  const std::int64_t head_dim = value.size(3);
  const std::int64_t queries = sampling_locations.size(1);
  const std::int64_t levels = sampling_locations.size(3);
  const std::int64_t points = sampling_locations.size(4);

  // [B, S, heads, head_dim] -> [B * heads, head_dim, S]: each head samples its own channels.
  const torch::Tensor value_by_head =
      value.permute({0, 2, 3, 1}).reshape({batch * heads, head_dim, value.size(1)});
  // grid_sample wants [-1, 1]; [B, Q, heads, L, P, 2] -> [L, B * heads, Q, P, 2].
  const torch::Tensor grids = (2 * sampling_locations - 1)
                                  .permute({3, 0, 2, 1, 4, 5})
                                  .reshape({levels, batch * heads, queries, points, 2});
  const auto options = F::GridSampleFuncOptions()
                           .mode(torch::kBilinear)
                           .padding_mode(torch::kZeros)
                           .align_corners(false);

  std::vector<torch::Tensor> sampled;  // per level: [B * heads, head_dim, Q, P]
  sampled.reserve(shapes.size());
  std::int64_t start = 0;
  for (std::size_t level = 0; level < shapes.size(); ++level) {
    const std::int64_t height = shapes[level].height;
    const std::int64_t width = shapes[level].width;
    const torch::Tensor level_value = value_by_head.narrow(2, start, height * width)
                                          .reshape({batch * heads, head_dim, height, width});
    const torch::Tensor level_grid = grids[static_cast<std::int64_t>(level)];
    sampled.push_back(F::grid_sample(level_value, level_grid, options));
    start += height * width;
  }
  // [B * heads, head_dim, Q, L * P] weighted by [B * heads, 1, Q, L * P].
  const torch::Tensor stacked =
      sampled.size() == 1 ? sampled[0] : torch::stack(sampled, -2).flatten(-2);
  const torch::Tensor weights =
      attention_weights.transpose(1, 2).reshape({batch * heads, 1, queries, levels * points});
  const torch::Tensor output = (stacked * weights).sum(-1).view({batch, heads * head_dim, queries});
  return output.transpose(1, 2);
}

MsDeformAttnImpl::MsDeformAttnImpl(std::int64_t d_model, std::int64_t n_levels,
                                   std::int64_t n_heads, std::int64_t n_points)
    : d_model_(d_model), n_levels_(n_levels), n_heads_(n_heads), n_points_(n_points) {
  if (d_model % n_heads != 0) {
    throw sdk::ConfigError("MSDeformAttn: d_model " + std::to_string(d_model) +
                           " is not divisible by the " + std::to_string(n_heads) + " heads.");
  }
  sampling_offsets_ = register_module(
      "sampling_offsets", torch::nn::Linear(d_model, n_heads * n_levels * n_points * 2));
  attention_weights_ = register_module("attention_weights",
                                       torch::nn::Linear(d_model, n_heads * n_levels * n_points));
  value_proj_ = register_module("value_proj", torch::nn::Linear(d_model, d_model));
  output_proj_ = register_module("output_proj", torch::nn::Linear(d_model, d_model));
  reset_parameters();
}

void MsDeformAttnImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  torch::nn::init::zeros_(sampling_offsets_->weight);
  const torch::Tensor thetas =
      torch::arange(n_heads_, torch::kFloat) * static_cast<float>(2.0 * M_PI / n_heads_);
  torch::Tensor grid = torch::stack({thetas.cos(), thetas.sin()}, -1);
  grid = (grid / std::get<0>(grid.abs().max(-1, /*keepdim=*/true)))
             .view({n_heads_, 1, 1, 2})
             .repeat({1, n_levels_, n_points_, 1});
  const torch::Tensor point_scale =
      torch::arange(1, n_points_ + 1, torch::kFloat).view({1, 1, n_points_, 1});
  sampling_offsets_->bias.copy_((grid * point_scale).reshape({-1}));
  torch::nn::init::zeros_(attention_weights_->weight);
  torch::nn::init::zeros_(attention_weights_->bias);
  torch::nn::init::xavier_uniform_(value_proj_->weight);
  torch::nn::init::zeros_(value_proj_->bias);
  torch::nn::init::xavier_uniform_(output_proj_->weight);
  torch::nn::init::zeros_(output_proj_->bias);
}

torch::Tensor MsDeformAttnImpl::forward(const torch::Tensor& query,
                                        const torch::Tensor& reference_points,
                                        const torch::Tensor& value_input,
                                        const std::vector<LevelShape>& shapes,
                                        const torch::Tensor& padding) {
  const std::int64_t batch = query.size(0);
  const std::int64_t queries = query.size(1);
  const std::int64_t head_dim = d_model_ / n_heads_;
  if (static_cast<std::int64_t>(shapes.size()) != n_levels_) {
    throw sdk::Error("MSDeformAttn: built for " + std::to_string(n_levels_) +
                     " feature levels but given " + std::to_string(shapes.size()) + ".");
  }

  torch::Tensor value = value_proj_->forward(value_input);
  if (padding.defined()) value = value.masked_fill(padding.unsqueeze(-1), 0.0);
  value = value.view({batch, value_input.size(1), n_heads_, head_dim});

  // Both projections read the query: one autocast cast, held once for backward.
  const torch::Tensor query_cast = sdk::autocast_input(query);
  const torch::Tensor offsets = sampling_offsets_->forward(query_cast).view(
      {batch, queries, n_heads_, n_levels_, n_points_, 2});
  const torch::Tensor weights = torch::softmax(
      attention_weights_->forward(query_cast).view({batch, queries, n_heads_, n_levels_ * n_points_}),
      -1);

  using torch::indexing::None;
  using torch::indexing::Slice;
  // reference [B, Q, L, k] -> [B, Q, 1, L, 1, k], broadcast over heads and points.
  const torch::Tensor reference = reference_points.unsqueeze(2).unsqueeze(4);
  torch::Tensor locations;
  if (reference_points.size(-1) == 2) {
    std::vector<float> normaliser;  // (w, h) per level
    for (const LevelShape& shape : shapes) {
      normaliser.push_back(static_cast<float>(shape.width));
      normaliser.push_back(static_cast<float>(shape.height));
    }
    const torch::Tensor scale =
        torch::tensor(normaliser, query.options().dtype(torch::kFloat))
            .to(query.scalar_type())
            .view({1, 1, 1, n_levels_, 1, 2});
    locations = reference + offsets / scale;
  } else if (reference_points.size(-1) == 4) {
    // Offsets are in units of half the reference box, divided among the points.
    locations = reference.index({"...", Slice(None, 2)}) +
                offsets / static_cast<double>(n_points_) *
                    reference.index({"...", Slice(2, None)}) * 0.5;
  } else {
    throw sdk::Error("MSDeformAttn: reference points must end in 2 or 4 values, got " +
                     std::to_string(reference_points.size(-1)) + ".");
  }
  const torch::Tensor output = ms_deform_attn_core(
      value, shapes, locations, weights.view({batch, queries, n_heads_, n_levels_, n_points_}));
  return output_proj_->forward(output);
}

}  // namespace rtseg::plugins::lwdetr
