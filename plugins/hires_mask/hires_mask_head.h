#pragma once

#include <cstdint>
#include <memory>

#include "detail_stem.h"
#include "mask_blocks.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/seg_head.h"
#include "rtseg/sdk/config_reader.h"

namespace rtseg::plugins::hires_mask {

struct HiresMaskOptions {
  std::int64_t stride = 4;            ///< mask logits at input size / this: 4 or 8
  std::int64_t detail_channels = 64;  ///< width of the image path
  /// Blocks and query MLPs rebuilt in backward (rfdetr_mask::DotProductParts::recompute).
  sdk::RecomputePolicy recompute = sdk::RecomputePolicy::kOnGpu;
};

HiresMaskOptions hires_mask_options_from(sdk::ConfigReader& reader);

/// RF-DETR's dot-product head with a high-resolution detail path.
///
/// Masks from the stride-16 projector map look coarse once upsampled (a 12-patch model at 432 px
/// sees a 36x36 grid). This head adds a small conv path on the image at stride 4 or 8, projects it
/// to the query width and adds it to the upsampled projector map before the per-layer blocks, so
/// mask edges follow image edges. Queries, blocks and the dot product are RF-DETR's.
class HiresMaskHead final : public sdk::SegHead {
 public:
  HiresMaskHead(HiresMaskOptions options, const sdk::BuildContext& context);

  sdk::MaskOutputs forward(const torch::Tensor& images, const std::vector<torch::Tensor>& features,
                           const sdk::DecoderOutputs& decoded) override;
  sdk::MaskEmbedding predict(const torch::Tensor& images, const std::vector<torch::Tensor>& features,
                             const sdk::DecoderOutputs& decoded) override;
  std::string state_prefix() const override { return "segmentation_head"; }

 private:
  /// The first projector map at mask resolution (plus, for hires_mask, the image detail path).
  torch::Tensor pixel_map(const torch::Tensor& images, const std::vector<torch::Tensor>& features);

 public:

 private:
  HiresMaskOptions options_;
  DetailStem detail_stem_{nullptr};
  torch::nn::Conv2d detail_proj_{nullptr};
  rfdetr_mask::DotProductParts parts_;
};

std::unique_ptr<HiresMaskHead> make_hires_mask(HiresMaskOptions options,
                                               const sdk::BuildContext& context);

}  // namespace rtseg::plugins::hires_mask
