#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/backbone.h"  // ParameterHint
#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// Predictions for one set of queries.
struct QueryPredictions {
  torch::Tensor logits;    ///< [B, Q, num_logits]
  torch::Tensor boxes;     ///< [B, Q, 4] normalised (cx, cy, w, h)
  torch::Tensor features;  ///< [B, Q, D] query embeddings (input of a segmentation head)
};

struct DecoderOutputs {
  /// One entry per decoder layer; back() is the final prediction, the others are auxiliary.
  std::vector<QueryPredictions> layers;
  /// Two-stage proposals (undefined tensors when the decoder has none).
  QueryPredictions encoder;
  /// Query groups in `layers` and `encoder`: Q = num_groups x queries per group, group g being
  /// queries [g * Q / num_groups, (g + 1) * Q / num_groups). 1 in eval mode.
  std::int64_t num_groups = 1;
};

/// Turns backbone features into object queries, class logits and boxes.
///
/// In training mode a decoder may run extra query groups (group DETR): Q is then
/// groups x num_queries and groups never attend to each other. In eval mode Q = num_queries and
/// no training-only work is done.
class RTSEG_SDK_API Decoder : public torch::nn::Module {
 public:
  ~Decoder() override;

  /// features: the backbone's maps (BuildContext::inputs describes them).
  /// masks: one [B, h_i, w_i] bool tensor per map, true = padding.
  virtual DecoderOutputs forward(const std::vector<torch::Tensor>& features,
                                 const std::vector<torch::Tensor>& masks) = 0;

  virtual DecoderSpec spec() const = 0;

  /// (optional) How many of its parameter elements only training uses (extra query groups and
  /// their heads); `rtseg inspect` reports the rest as the inference model. Default: 0.
  virtual std::int64_t training_only_parameter_count() const;

  /// (optional) Optimizer hints by parameter name (relative to this module); parameters not
  /// listed get the defaults (full learning rate, weight decay). Default: none.
  virtual std::map<std::string, ParameterHint> parameter_hints() const;

  /// (optional) Where this module's parameters live in the model's weights; "" puts its
  /// sub-modules at the root (RF-DETR's `transformer.*`, `class_embed.*`). Default: "decoder".
  virtual std::string state_prefix() const;
};

}  // namespace rtseg::sdk
