#include "mlp.h"

#include <torch/nn/functional/activation.h>

namespace rtseg::plugins::lwdetr {

MlpImpl::MlpImpl(std::int64_t input_dim, std::int64_t hidden_dim, std::int64_t output_dim,
                 std::int64_t num_layers) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < num_layers; ++i) {
    const std::int64_t in = i == 0 ? input_dim : hidden_dim;
    const std::int64_t out = i == num_layers - 1 ? output_dim : hidden_dim;
    layers_->push_back(torch::nn::Linear(in, out));
  }
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  if (!sdk::recomputes(recompute_, x)) return run(x);
  const auto self = std::static_pointer_cast<MlpImpl>(shared_from_this());
  const auto function = [self](const std::vector<torch::Tensor>& in) {
    return std::vector<torch::Tensor>{self->run(in[0])};
  };
  return sdk::recompute_in_backward(function, {x}, parameters()).front();
}

torch::Tensor MlpImpl::run(torch::Tensor x) {
  const std::size_t last = layers_->size() - 1;
  for (std::size_t i = 0; i < layers_->size(); ++i) {
    x = layers_->ptr<torch::nn::LinearImpl>(i)->forward(x);
    if (i < last) x = torch::relu(x);
  }
  return x;
}

torch::nn::Linear MlpImpl::layer(std::int64_t index) const {
  const std::int64_t size = static_cast<std::int64_t>(layers_->size());
  const std::int64_t i = index < 0 ? size + index : index;
  return torch::nn::Linear(layers_->ptr<torch::nn::LinearImpl>(static_cast<std::size_t>(i)));
}

}  // namespace rtseg::plugins::lwdetr
