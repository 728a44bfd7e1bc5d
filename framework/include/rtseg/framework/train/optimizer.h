#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/optim/adamw.h>

#include "rtseg/framework/model.h"
#include "rtseg/framework/train_options.h"

namespace rtseg::framework::train {

/// Parameters that share a learning rate and a weight decay: one optimizer group.
struct ParameterGroup {
  double lr = 0;            ///< base learning rate (the scheduler's factor multiplies it)
  double weight_decay = 0;
  std::vector<std::string> names;  ///< full parameter names, for logs and tests
  std::vector<torch::Tensor> parameters;
};

/// RF-DETR's learning rates and weight decays, grouped by distinct (lr, weight decay) -- 28
/// groups for Nano where RF-DETR builds one per tensor. For a parameter with hint h:
///   lr = (h.layer_id >= 0 ? lr_encoder * lr_vit_layer_decay^(num_layers + 1 - layer_id) : lr)
///        * lr_component_decay^h.component_depth,
///   weight decay = h.no_weight_decay ? 0 : weight_decay.
/// Parameters that do not require gradients (frozen) are left out. Groups are ordered by their
/// first parameter's position in the model, so the order is stable across runs.
std::vector<ParameterGroup> parameter_groups(Model& model, const TrainOptions& options);

/// AdamW over the groups (betas 0.9/0.999, eps 1e-8, as torch's defaults), stepped with
/// multi-tensor kernels (MultiTensorAdamW).
std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<ParameterGroup>& groups);

/// Sets every group's learning rate to its base rate times `factor`.
void set_learning_rates(torch::optim::Optimizer& optimizer, const std::vector<ParameterGroup>& groups,
                        double factor);

}  // namespace rtseg::framework::train
