#include "windowed_vit.h"

#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/container/modulelist.h>

#include "checkpoint.h"
#include "windowing.h"

namespace rtseg::plugins::dinov2 {

WindowedVit::WindowedVit(const VitConfig& config) : config_(config) {
  embeddings_ = register_module("embeddings", std::make_shared<VitEmbeddings>(config));
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  torch::nn::ModuleList layer_list;
  for (std::int64_t i = 0; i < config.num_layers; ++i) {
    layers_.push_back(std::make_shared<VitLayer>(config));
    layer_list->push_back(layers_.back());
  }
  encoder->register_module("layer", layer_list);
  layernorm_ = register_module(
      "layernorm",
      torch::nn::LayerNorm(
          torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
}

torch::Tensor WindowedVit::run_layer(std::size_t index, const torch::Tensor& hidden) {
  const bool full_attention = config_.is_full_attention(static_cast<std::int64_t>(index));
  const bool training = is_training();
  const DropPathMasks masks = training && config_.drop_path > 0.0
                                  ? DropPathMasks::draw(hidden, config_.drop_path)
                                  : DropPathMasks{};
  if (checkpointing_ && training && torch::GradMode::is_enabled()) {
    return checkpointed_layer_forward(layers_[index], hidden, full_attention, masks);
  }
  return layers_[index]->forward(hidden, full_attention, masks);
}

torch::Tensor WindowedVit::to_feature_map(const torch::Tensor& hidden, std::int64_t grid_h,
                                          std::int64_t grid_w) {
  // The final norm works token by token, so the CLS and register tokens can be dropped first.
  const std::int64_t skip = 1 + config_.num_register_tokens;
  const torch::Tensor patches = hidden.narrow(1, skip, hidden.size(1) - skip);
  return unwindow_to_map(layernorm_->forward(patches), grid_h, grid_w, config_.num_windows);
}

std::vector<torch::Tensor> WindowedVit::forward(const torch::Tensor& images) {
  const std::int64_t grid_h = images.size(2) / config_.patch_size;
  const std::int64_t grid_w = images.size(3) / config_.patch_size;
  const auto& taps = config_.out_feature_indexes;

  std::vector<torch::Tensor> maps;
  maps.reserve(taps.size());
  std::size_t next_tap = 0;
  torch::Tensor hidden = embeddings_->forward(images);
  // Stage k is the hidden state after k layers; stage 0 would be the embeddings.
  for (std::int64_t stage = 0;; ++stage) {
    if (next_tap < taps.size() && taps[next_tap] == stage) {
      maps.push_back(to_feature_map(hidden, grid_h, grid_w));
      ++next_tap;
    }
    if (next_tap == taps.size()) break;
    hidden = run_layer(static_cast<std::size_t>(stage), hidden);
  }
  return maps;
}

}  // namespace rtseg::plugins::dinov2
