#pragma once

// A parameter-free model with known outputs, for predictor and overlay tests.
//
// Query 0 always finds class 1 (logit 3, score 0.953) in the central half of the image: box
// (0.5, 0.5, 0.5, 0.5), mask positive on the central half of the feature map. Query 1 finds
// class 0 over the whole image with logit 3 x the mean of the normalised image: bright images
// (white: ~ +6.7) have it, dark ones (black: ~ -5.4) do not. Its mask covers everything.

#include <memory>

#include <torch/torch.h>

#include "rtseg/framework/model.h"

namespace rtseg::testing {

inline constexpr std::int64_t kScriptedStride = 4;

class ScriptedBackbone final : public sdk::Backbone {
 public:
  // A buffer, so that Model::to(device) has something to move and the predictor finds the device.
  ScriptedBackbone() { register_buffer("anchor", torch::zeros({1})); }
  sdk::FeatureSpecs output_spec() const override { return {{"p1", 3, kScriptedStride}}; }
  std::vector<torch::Tensor> forward(const torch::Tensor& images) override {
    return {torch::avg_pool2d(images, kScriptedStride)};
  }
  std::int64_t size_divisibility() const override { return kScriptedStride; }
};

class ScriptedDecoder final : public sdk::Decoder {
 public:
  sdk::DecoderOutputs forward(const std::vector<torch::Tensor>& features,
                              const std::vector<torch::Tensor>&) override {
    const torch::Tensor& map = features.front();
    const std::int64_t batch = map.size(0);
    const torch::Device device = map.device();
    const torch::Tensor brightness = map.mean({1, 2, 3}) * 3;  // [B]
    sdk::QueryPredictions out;
    out.logits = torch::stack({torch::tensor({-4.0f, 3.0f}).to(device).expand({batch, 2}),
                               torch::stack({brightness, torch::full({batch}, -9.0f, map.options())}, 1)},
                              1);  // [B, 2 queries, 2 classes]
    out.boxes = torch::tensor({0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1.0f, 1.0f}).to(device).view({1, 2, 4}).expand({batch, 2, 4});
    out.features = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).to(device).view({1, 2, 2}).expand({batch, 2, 2});
    sdk::DecoderOutputs decoded;
    decoded.layers.push_back(out);
    return decoded;
  }
  sdk::DecoderSpec spec() const override { return {2, 1}; }
};

class ScriptedMaskHead final : public sdk::SegHead {
 public:
  sdk::MaskOutputs forward(const torch::Tensor&, const std::vector<torch::Tensor>& features,
                           const sdk::DecoderOutputs& decoded) override {
    const torch::Tensor& map = features.front();
    const std::int64_t batch = map.size(0), h = map.size(2), w = map.size(3);
    torch::Tensor centre = torch::full({h, w}, -1.0f, map.options());
    centre.slice(0, h / 4, h - h / 4).slice(1, w / 4, w - w / 4).fill_(1.0f);
    sdk::MaskEmbedding embedding;
    embedding.pixels = torch::stack({centre, torch::ones({h, w}, map.options())}).unsqueeze(0).expand({batch, 2, h, w});
    embedding.queries = decoded.layers.back().features;
    sdk::MaskOutputs out;
    out.layers.push_back(embedding);
    return out;
  }
};

inline std::shared_ptr<framework::Model> scripted_model() {
  return std::make_shared<framework::Model>(std::make_shared<ScriptedBackbone>(),
                                            std::make_shared<ScriptedDecoder>(),
                                            std::make_shared<ScriptedMaskHead>());
}

}  // namespace rtseg::testing
