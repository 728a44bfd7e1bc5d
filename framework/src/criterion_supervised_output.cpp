#include "rtseg/framework/criterion/supervised_output.h"

namespace rtseg::framework::criterion {
namespace {

SupervisedOutput make_output(std::string suffix, const sdk::QueryPredictions& predictions,
                             const sdk::MaskEmbedding* masks) {
  SupervisedOutput output;
  output.suffix = std::move(suffix);
  output.logits = predictions.logits;
  output.boxes = predictions.boxes;
  if (masks != nullptr) output.masks = *masks;
  return output;
}

}  // namespace

std::vector<SupervisedOutput> supervised_outputs(const sdk::DecoderOutputs& decoded,
                                                 const sdk::MaskOutputs* masks, bool aux_loss) {
  TORCH_CHECK(!decoded.layers.empty(), "supervised_outputs: the decoder returned no layers");
  const std::size_t num_layers = decoded.layers.size();
  if (masks != nullptr) {
    TORCH_CHECK(masks->layers.size() == num_layers, "supervised_outputs: ", num_layers,
                " decoder layers but ", masks->layers.size(), " mask layers");
  }
  auto layer_masks = [&](std::size_t i) { return masks ? &masks->layers[i] : nullptr; };

  std::vector<SupervisedOutput> outputs;
  outputs.push_back(make_output("", decoded.layers.back(), layer_masks(num_layers - 1)));
  if (!aux_loss) return outputs;
  for (std::size_t i = 0; i + 1 < num_layers; ++i) {
    outputs.push_back(make_output("_" + std::to_string(i), decoded.layers[i], layer_masks(i)));
  }
  if (decoded.encoder.logits.defined()) {
    const bool encoder_masks = masks != nullptr && masks->encoder.pixels.defined();
    outputs.push_back(make_output("_enc", decoded.encoder, encoder_masks ? &masks->encoder : nullptr));
  }
  return outputs;
}

}  // namespace rtseg::framework::criterion
