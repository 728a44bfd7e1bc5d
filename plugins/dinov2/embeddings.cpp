#include "embeddings.h"

#include <cmath>

#include <ATen/ops/_upsample_bicubic2d_aa.h>
#include <ATen/ops/cat.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "init.h"
#include "windowing.h"

namespace rtseg::plugins::dinov2 {

torch::Tensor resize_position_table(const torch::Tensor& table, std::int64_t grid_h,
                                    std::int64_t grid_w) {
  const std::int64_t channels = table.size(2);
  const auto side = static_cast<std::int64_t>(std::sqrt(static_cast<double>(table.size(1) - 1)));
  const torch::Tensor cls_row = table.narrow(1, 0, 1);
  const torch::Tensor grid = table.narrow(1, 1, table.size(1) - 1)
                                 .reshape({1, side, side, channels})
                                 .permute({0, 3, 1, 2});
  const torch::Tensor resized =
      at::_upsample_bicubic2d_aa(grid.to(torch::kFloat), {grid_h, grid_w},
                                 /*align_corners=*/false, /*scales_h=*/{}, /*scales_w=*/{})
          .to(table.scalar_type());
  return at::cat({cls_row, resized.permute({0, 2, 3, 1}).reshape({1, grid_h * grid_w, channels})},
                 1);
}

torch::Tensor position_embeddings_for(const torch::Tensor& table, std::int64_t patch_size,
                                      std::int64_t image_h, std::int64_t image_w) {
  const std::int64_t grid_h = image_h / patch_size;
  const std::int64_t grid_w = image_w / patch_size;
  if (grid_h * grid_w == table.size(1) - 1 && image_h == image_w) return table;
  return resize_position_table(table, grid_h, grid_w);
}

VitEmbeddings::VitEmbeddings(const VitConfig& config) : config_(config) {
  const std::int64_t c = config.hidden_size;
  const std::int64_t s = config.positional_encoding_size;
  cls_token_ = register_parameter("cls_token", torch::zeros({1, 1, c}));
  mask_token_ = register_parameter("mask_token", torch::zeros({1, c}));
  if (config.num_register_tokens > 0) {
    register_tokens_ =
        register_parameter("register_tokens", torch::zeros({1, config.num_register_tokens, c}));
  }
  auto patch_embeddings =
      register_module("patch_embeddings", std::make_shared<torch::nn::Module>());
  projection_ = patch_embeddings->register_module(
      "projection",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(3, c, config.patch_size).stride(config.patch_size)));
  position_embeddings_ = register_parameter("position_embeddings", torch::zeros({1, s * s + 1, c}));
  reset_parameters();
}

void VitEmbeddings::reset_parameters() {
  torch::NoGradGuard no_grad;
  trunc_normal_(projection_->weight, 0.02);
  projection_->bias.zero_();
  trunc_normal_(cls_token_, 0.02);
  trunc_normal_(position_embeddings_, 0.02);
  mask_token_.zero_();
  if (register_tokens_.defined()) register_tokens_.zero_();
}

torch::Tensor VitEmbeddings::forward(const torch::Tensor& images) {
  const std::int64_t batch = images.size(0);
  const std::int64_t image_h = images.size(2);
  const std::int64_t image_w = images.size(3);
  const std::int64_t grid_h = image_h / config_.patch_size;
  const std::int64_t grid_w = image_w / config_.patch_size;
  const std::int64_t channels = config_.hidden_size;
  const std::int64_t windows = config_.num_windows;

  torch::Tensor patches =
      projection_->forward(images.to(projection_->weight.scalar_type())).flatten(2).transpose(1, 2);
  torch::Tensor tokens = at::cat({cls_token_.expand({batch, -1, -1}), patches}, 1);
  tokens =
      tokens + position_embeddings_for(position_embeddings_, config_.patch_size, image_h, image_w);

  // Hidden dropout is 0 in every DINOv2 config: nothing to apply.
  if (windows == 1 && !register_tokens_.defined()) return tokens;

  // Every window gets its own copy of its image's CLS token (with its position embedding).
  const std::int64_t window_count = batch * windows * windows;
  const torch::Tensor cls = tokens.narrow(1, 0, 1)
                                .unsqueeze(1)
                                .expand({batch, windows * windows, 1, channels})
                                .reshape({window_count, 1, channels});
  const torch::Tensor grid = tokens.narrow(1, 1, grid_h * grid_w);
  std::vector<torch::Tensor> parts{cls};
  if (register_tokens_.defined()) parts.push_back(register_tokens_.expand({window_count, -1, -1}));
  parts.push_back(window_tokens(grid, grid_h, grid_w, windows));
  return at::cat(parts, 1);
}

}  // namespace rtseg::plugins::dinov2
