#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

namespace rtseg::framework::train {

/// An exponential moving average of a model's parameters and floating-point buffers (RF-DETR's
/// ModelEma): after optimizer update u (1-based) every averaged tensor becomes
///   ema = d * ema + (1 - d) * current,  d = decay * (1 - exp(-u / tau))  (tau = 0: d = decay),
/// so early updates follow the model closely. Other buffers are copied. Frozen parameters
/// (requires_grad false, e.g. stage 2's detector) never change, so their average is the model's
/// own tensor: no copy is held for them.
class ModelEma {
 public:
  ModelEma(torch::nn::Module& model, double decay, double tau);

  /// After each optimizer step. Runs on the model's device with fused list operations.
  void update();
  std::int64_t updates() const { return updates_; }
  double current_decay() const;

  /// Swaps the averaged values into the model (and back on the second call): evaluate the EMA
  /// model without a second copy of the module tree.
  void swap_into_model();

  /// The averaged tensors by model name, for checkpoints.
  std::vector<std::pair<std::string, torch::Tensor>> named_tensors() const;
  /// Restores a checkpoint's tensors (all names must be present, frozen parameters excepted) and
  /// update count.
  void load(const std::vector<std::pair<std::string, torch::Tensor>>& tensors, std::int64_t updates);

 private:
  double decay_;
  double tau_;
  std::int64_t updates_ = 0;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> model_tensors_;  // the model's own (averaged kinds)
  std::vector<torch::Tensor> averages_;
  std::vector<torch::Tensor> copied_model_;    // non-float buffers
  std::vector<torch::Tensor> copied_;
  std::vector<std::string> copied_names_;
  std::vector<std::pair<std::string, torch::Tensor>> frozen_;  // the model's own, never averaged
};

}  // namespace rtseg::framework::train
