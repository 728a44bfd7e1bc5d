#include "hires_mask_head.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::hires_mask {

HiresMaskOptions hires_mask_options_from(sdk::ConfigReader& reader) {
  HiresMaskOptions options;
  options.stride = reader.get("stride", options.stride,
                              "mask logits at input size / this (4 or 8): the detail path's stride");
  options.detail_channels = reader.get("detail_channels", options.detail_channels,
                                       "channels of the image detail path");
  options.recompute = sdk::recompute_policy_from(reader, "the blocks' and query MLPs' activations");
  reader.check(options.stride == 4 || options.stride == 8, "stride", "must be 4 or 8.");
  reader.check(options.detail_channels >= 2, "detail_channels", "must be at least 2.");
  return options;
}

HiresMaskHead::HiresMaskHead(HiresMaskOptions options, const sdk::BuildContext& context)
    : options_(options) {
  const std::int64_t dim = rfdetr_mask::checked_pixel_dim(context, "hires_mask");
  detail_stem_ = register_module("detail_stem", DetailStem(options.detail_channels, options.stride));
  detail_proj_ = register_module(
      "detail_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.detail_channels, dim, 1)));
  // Starts as RF-DETR's head: the detail path contributes nothing until it has learnt something,
  // so RF-DETR weights loaded into this head (with strict = false) predict as before.
  torch::nn::init::zeros_(detail_proj_->weight);
  torch::nn::init::zeros_(detail_proj_->bias);
  parts_ = rfdetr_mask::DotProductParts::register_on(*this, dim, context.decoder.num_layers);
  parts_.recompute = options.recompute;
}

torch::Tensor HiresMaskHead::pixel_map(const torch::Tensor& images,
                                       const std::vector<torch::Tensor>& features) {
  namespace F = torch::nn::functional;
  const std::vector<std::int64_t> size = {images.size(2) / options_.stride,
                                          images.size(3) / options_.stride};
  const torch::Tensor coarse = F::interpolate(
      features.at(0), F::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(false));
  return coarse + detail_proj_->forward(detail_stem_->forward(images.to(coarse.dtype())));
}

sdk::MaskOutputs HiresMaskHead::forward(const torch::Tensor& images,
                                        const std::vector<torch::Tensor>& features,
                                        const sdk::DecoderOutputs& decoded) {
  return parts_.embed(pixel_map(images, features), decoded);
}

sdk::MaskEmbedding HiresMaskHead::predict(const torch::Tensor& images,
                                          const std::vector<torch::Tensor>& features,
                                          const sdk::DecoderOutputs& decoded) {
  return parts_.embed_final(pixel_map(images, features), decoded);
}

std::unique_ptr<HiresMaskHead> make_hires_mask(HiresMaskOptions options,
                                               const sdk::BuildContext& context) {
  return std::make_unique<HiresMaskHead>(options, context);
}

}  // namespace rtseg::plugins::hires_mask
