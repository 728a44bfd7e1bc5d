#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "rtseg/sdk/export.h"
#include "rtseg/sdk/feature_spec.h"

namespace rtseg::sdk {

/// What the optimizer needs to know about a parameter without knowing the component.
struct ParameterHint {
  /// Depth for layer-wise learning-rate decay: 0 = embeddings, 1..num_layers = transformer layers,
  /// num_layers + 1 = after the last layer. -1 = no layer decay (e.g. a projector).
  int layer_id = -1;
  int num_layers = 0;
  bool no_weight_decay = false;  ///< norms, biases, position embeddings
  /// Component depth: the learning rate is multiplied by train.lr_component_decay^depth
  /// (RF-DETR: 2 for the ViT encoder, 1 for the transformer decoder layers, 0 for heads).
  int component_depth = 0;
};

/// Turns images into feature maps. Registered as a torch module so that the host can put it in
/// the model tree (parameter names come from the module tree).
class RTSEG_SDK_API Backbone : public torch::nn::Module {
 public:
  ~Backbone() override;

  /// The feature maps forward() returns, in order.
  virtual FeatureSpecs output_spec() const = 0;

  /// images: [B, 3, H, W] normalised, H and W multiples of size_divisibility().
  /// Returns one [B, C_i, H / s_i, W / s_i] tensor per output_spec() entry.
  virtual std::vector<torch::Tensor> forward(const torch::Tensor& images) = 0;

  /// Input sides must be multiples of this (patch size x windows for a windowed ViT).
  virtual std::int64_t size_divisibility() const;

  /// (optional) Recompute activations in backward instead of keeping them. Returns false when the
  /// backbone does not support it.
  virtual bool set_gradient_checkpointing(bool enabled);

  /// (optional) Per-parameter hints keyed by the parameter's name in this module.
  virtual std::map<std::string, ParameterHint> parameter_hints() const;

  /// (optional) Where this module's parameters live in the model's weights, e.g. "backbone.0"
  /// for RF-DETR's names. Default: "backbone".
  virtual std::string state_prefix() const;
};

}  // namespace rtseg::sdk
