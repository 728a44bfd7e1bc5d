#include "rfdetr_mask_head.h"

#include <torch/nn/functional/upsampling.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::rfdetr_mask {

RfdetrMaskOptions rfdetr_mask_options_from(sdk::ConfigReader& reader) {
  RfdetrMaskOptions options;
  options.downsample_ratio = reader.get("downsample_ratio", options.downsample_ratio,
                                        "mask logits at input size / this");
  options.recompute = sdk::recompute_policy_from(reader, "the blocks' and query MLPs' activations");
  reader.check(options.downsample_ratio >= 1, "downsample_ratio", "must be at least 1.");
  return options;
}

RfdetrMaskHead::RfdetrMaskHead(RfdetrMaskOptions options, const sdk::BuildContext& context)
    : options_(options) {
  const std::int64_t dim = checked_pixel_dim(context, "rfdetr_mask");
  parts_ = DotProductParts::register_on(*this, dim, context.decoder.num_layers);
  parts_.recompute = options_.recompute;
}

torch::Tensor RfdetrMaskHead::pixel_map(const torch::Tensor& images,
                                        const std::vector<torch::Tensor>& features) {
  namespace F = torch::nn::functional;
  const std::vector<std::int64_t> size = {images.size(2) / options_.downsample_ratio,
                                          images.size(3) / options_.downsample_ratio};
  return F::interpolate(features.at(0),
                        F::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(false));
}

sdk::MaskOutputs RfdetrMaskHead::forward(const torch::Tensor& images,
                                         const std::vector<torch::Tensor>& features,
                                         const sdk::DecoderOutputs& decoded) {
  return parts_.embed(pixel_map(images, features), decoded);
}

sdk::MaskEmbedding RfdetrMaskHead::predict(const torch::Tensor& images,
                                           const std::vector<torch::Tensor>& features,
                                           const sdk::DecoderOutputs& decoded) {
  return parts_.embed_final(pixel_map(images, features), decoded);
}

std::unique_ptr<RfdetrMaskHead> make_rfdetr_mask(RfdetrMaskOptions options,
                                                 const sdk::BuildContext& context) {
  return std::make_unique<RfdetrMaskHead>(options, context);
}

}  // namespace rtseg::plugins::rfdetr_mask
