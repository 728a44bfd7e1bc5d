#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include "options.h"

namespace rtseg::plugins::dinov2 {

/// The learned position table [1, 1 + S*S, C] for a grid of grid_h x grid_w patches: the CLS
/// row as is, the S x S patch rows resized with antialiased bicubic interpolation
/// (align_corners = false), computed in fp32 and cast back (RF-DETR's interpolate_pos_encoding).
torch::Tensor resize_position_table(const torch::Tensor& table, std::int64_t grid_h,
                                    std::int64_t grid_w);

/// The table to add for an image of image_h x image_w pixels: resized unless the grid matches
/// the table and the image is square, RF-DETR's exact condition.
torch::Tensor position_embeddings_for(const torch::Tensor& table, std::int64_t patch_size,
                                      std::int64_t image_h, std::int64_t image_w);

/// Patch embedding + CLS token + position embedding, split into windows (the CLS token with its
/// position embedding copied into each window), register tokens after each CLS token.
/// Parameter names follow Hugging Face's Dinov2WithRegistersEmbeddings.
class VitEmbeddings final : public torch::nn::Module {
 public:
  explicit VitEmbeddings(const VitConfig& config);

  /// images [B, 3, H, W] -> tokens [B*w*w, 1 + R + (H/p/w)*(W/p/w), C].
  torch::Tensor forward(const torch::Tensor& images);

  /// Trunc-normal(0.02) for the position table, CLS token and patch projection; zeros for the
  /// projection bias, mask token and register tokens (Hugging Face DINOv2's _init_weights).
  void reset_parameters();

  torch::Tensor position_embeddings() const { return position_embeddings_; }

 private:
  VitConfig config_;
  torch::Tensor cls_token_;        // [1, 1, C]
  torch::Tensor mask_token_;       // [1, C], only for weight compatibility (masked pre-training)
  torch::Tensor register_tokens_;  // [1, R, C], undefined when R = 0
  torch::nn::Conv2d projection_{nullptr};
  torch::Tensor position_embeddings_;  // [1, 1 + S*S, C]
};

}  // namespace rtseg::plugins::dinov2
