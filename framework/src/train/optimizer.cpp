#include "rtseg/framework/train/optimizer.h"

#include <cmath>
#include <map>
#include <utility>

#include "rtseg/framework/train/multi_tensor_adamw.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework::train {
namespace {

std::string joined(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// The components and the prefixes their parameters carry in the model.
struct Component {
  torch::nn::Module* module;
  std::string prefix;
  std::map<std::string, sdk::ParameterHint> hints;
};

}  // namespace

std::vector<ParameterGroup> parameter_groups(Model& model, const TrainOptions& options) {
  std::vector<Component> components;
  components.push_back({&model.backbone(), model.backbone().state_prefix(), model.backbone().parameter_hints()});
  components.push_back({&model.decoder(), model.decoder().state_prefix(), model.decoder().parameter_hints()});
  if (model.seg_head()) components.push_back({model.seg_head(), model.seg_head()->state_prefix(), {}});

  std::vector<ParameterGroup> groups;
  std::map<std::pair<double, double>, std::size_t> group_of;
  for (const Component& component : components) {
    for (const auto& item : component.module->named_parameters()) {
      const torch::Tensor& parameter = item.value();
      if (!parameter.requires_grad()) continue;
      const auto found = component.hints.find(item.key());
      const sdk::ParameterHint hint = found == component.hints.end() ? sdk::ParameterHint{} : found->second;
      double lr = options.lr;
      if (hint.layer_id >= 0) {
        lr = options.lr_encoder * std::pow(options.lr_vit_layer_decay, hint.num_layers + 1 - hint.layer_id);
      }
      lr *= std::pow(options.lr_component_decay, hint.component_depth);
      const double decay = hint.no_weight_decay ? 0.0 : options.weight_decay;
      const auto key = std::make_pair(lr, decay);
      auto [position, added] = group_of.emplace(key, groups.size());
      if (added) groups.push_back(ParameterGroup{lr, decay, {}, {}});
      ParameterGroup& group = groups[position->second];
      group.names.push_back(joined(component.prefix, item.key()));
      group.parameters.push_back(parameter);
    }
  }
  if (groups.empty()) {
    throw sdk::ConfigError("nothing to train: every parameter is frozen (check the stage's `freeze` list).");
  }
  return groups;
}

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<ParameterGroup>& groups) {
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (const ParameterGroup& group : groups) {
    auto options = std::make_unique<torch::optim::AdamWOptions>(group.lr);
    options->weight_decay(group.weight_decay);
    param_groups.emplace_back(group.parameters, std::move(options));
  }
  return std::make_unique<MultiTensorAdamW>(std::move(param_groups), torch::optim::AdamWOptions(groups.front().lr));
}

void set_learning_rates(torch::optim::Optimizer& optimizer, const std::vector<ParameterGroup>& groups,
                        double factor) {
  auto& param_groups = optimizer.param_groups();
  for (std::size_t i = 0; i < groups.size(); ++i) {
    static_cast<torch::optim::AdamWOptions&>(param_groups[i].options()).lr(groups[i].lr * factor);
  }
}

}  // namespace rtseg::framework::train
