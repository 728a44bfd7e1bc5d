#pragma once

#include <cstdint>
#include <memory>

#include "rtseg/sdk/recompute.h"
#include "mask_blocks.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/seg_head.h"
#include "rtseg/sdk/config_reader.h"

namespace rtseg::plugins::rfdetr_mask {

struct RfdetrMaskOptions {
  std::int64_t downsample_ratio = 4;  ///< masks at input size / this (RF-DETR: 4)
  /// Recompute the blocks and query MLPs in backward (DotProductParts::recompute): same
  /// gradients, less memory held per image.
  sdk::RecomputePolicy recompute = sdk::RecomputePolicy::kOnGpu;
};

RfdetrMaskOptions rfdetr_mask_options_from(sdk::ConfigReader& reader);

/// RF-DETR's segmentation head: the first projector map, resized to 1/downsample_ratio of the
/// input, refined by one depthwise block per decoder layer (cumulatively), projected by a 1x1
/// conv; each layer's queries go through an MLP block and a linear projection; mask logits are
/// their dot product plus a learned scalar bias. Proposal (two-stage) queries use the resized
/// map without blocks or projection, as RF-DETR does.
///
/// Returns the factored form (sdk::MaskEmbedding); the [B, Q, h, w] logits are only formed by
/// whoever needs them (evaluation), never for all training queries.
class RfdetrMaskHead final : public sdk::SegHead {
 public:
  RfdetrMaskHead(RfdetrMaskOptions options, const sdk::BuildContext& context);

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
  RfdetrMaskOptions options_;
  DotProductParts parts_;
};

std::unique_ptr<RfdetrMaskHead> make_rfdetr_mask(RfdetrMaskOptions options,
                                                 const sdk::BuildContext& context);

}  // namespace rtseg::plugins::rfdetr_mask
