#include "rtseg/framework/train/ema.h"

#include <cmath>
#include <map>

#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_mul.h>
#include <torch/torch.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::train {

ModelEma::ModelEma(torch::nn::Module& model, double decay, double tau) : decay_(decay), tau_(tau) {
  torch::NoGradGuard no_grad;
  auto add = [&](const std::string& name, const torch::Tensor& tensor) {
    if (tensor.is_floating_point()) {
      names_.push_back(name);
      model_tensors_.push_back(tensor);
      averages_.push_back(tensor.detach().clone());
    } else {
      copied_names_.push_back(name);
      copied_model_.push_back(tensor);
      copied_.push_back(tensor.detach().clone());
    }
  };
  for (const auto& item : model.named_parameters()) {
    if (item.value().requires_grad()) {
      add(item.key(), item.value());
    } else {
      frozen_.emplace_back(item.key(), item.value());
    }
  }
  for (const auto& item : model.named_buffers()) add(item.key(), item.value());
}

double ModelEma::current_decay() const {
  if (tau_ <= 0) return decay_;
  return decay_ * (1.0 - std::exp(-static_cast<double>(updates_) / tau_));
}

void ModelEma::update() {
  torch::NoGradGuard no_grad;
  ++updates_;
  const double d = current_decay();
  std::vector<torch::Tensor> current;
  current.reserve(model_tensors_.size());
  for (const auto& tensor : model_tensors_) current.push_back(tensor.detach());
  at::_foreach_mul_(averages_, d);
  at::_foreach_add_(averages_, current, 1.0 - d);
  for (std::size_t i = 0; i < copied_.size(); ++i) copied_[i].copy_(copied_model_[i]);
}

void ModelEma::swap_into_model() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < averages_.size(); ++i) {
    torch::Tensor held = model_tensors_[i].detach().clone();
    model_tensors_[i].detach().copy_(averages_[i]);
    averages_[i] = std::move(held);
  }
  for (std::size_t i = 0; i < copied_.size(); ++i) {
    torch::Tensor held = copied_model_[i].detach().clone();
    copied_model_[i].detach().copy_(copied_[i]);
    copied_[i] = std::move(held);
  }
}

std::vector<std::pair<std::string, torch::Tensor>> ModelEma::named_tensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (std::size_t i = 0; i < averages_.size(); ++i) out.emplace_back(names_[i], averages_[i]);
  for (std::size_t i = 0; i < copied_.size(); ++i) out.emplace_back(copied_names_[i], copied_[i]);
  for (const auto& [name, tensor] : frozen_) out.emplace_back(name, tensor.detach());
  return out;
}

void ModelEma::load(const std::vector<std::pair<std::string, torch::Tensor>>& tensors, std::int64_t updates) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  auto restore = [&](const std::string& name, torch::Tensor& into) {
    const auto found = by_name.find(name);
    if (found == by_name.end()) throw sdk::DataError("EMA state: '" + name + "' is missing");
    into.copy_(found->second);
  };
  for (std::size_t i = 0; i < averages_.size(); ++i) restore(names_[i], averages_[i]);
  for (std::size_t i = 0; i < copied_.size(); ++i) restore(copied_names_[i], copied_[i]);
  updates_ = updates;
}

}  // namespace rtseg::framework::train
